"""The numba kernels of ``jit.py``, compiled ahead of time into one extension module.

``jit.py`` compiles its kernels inside every process that calls them, which loads numba
and LLVM: about 120 MiB of a training run's peak memory, and 0.4 s at start even from
numba's cache. Here the same Python functions are compiled once per machine by numba's
ahead-of-time compiler (``numba.pycc``), with the same policy (``_policy.py``: fastmath
flags, error model, this machine's CPU), into an extension module kept in the user cache,
``$XDG_CACHE_HOME/backprop/kernels/<key>/``. A process that trains then imports that
module and NumPy, and never numba.

- ``<key>`` hashes the kernel source, the compile policy, the signatures
  (``signatures.py``), the build script, the folder's layout (``LAYOUT``), the Python,
  NumPy and numba versions and this CPU: any change compiles afresh (once, about 10 s,
  said on stderr).
- Beside the module, ``module.sha256`` records its size and sha256, written before the
  folder is renamed into place. The module is checked against it before every import
  (about 1 ms), and not imported when it differs or the record is missing: importing a
  truncated shared object can kill the process with SIGBUS, no message, and an altered
  one runs whatever it now holds. Folders of the layout before the record have another
  key, so they are left alone and the kernels are compiled afresh.
- The compiler runs in a child process (``python -m backprop.kernels.build``), so this
  process does not load numba to compile either.
- A compiled function trusts its arguments: given the wrong dtype or layout it reads the
  wrong memory. So every call first checks its arguments against the kernel's signature;
  when they do not fit (a transposed view, mixed dtypes, a read-only output) the call goes to
  the same kernel in ``jit.py``, which compiles for what it is given. Both give the same
  bits: the tests require it, kernel by kernel.
- If compiling fails (no C compiler, say), every kernel comes from ``jit.py``, with one
  warning that names the log.
"""
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .._paths import user_cache
from .signatures import FLOATS, MODULE, SIGNATURES, export_name, parse

# ------------------------------------------------------------------ argument checks


def _conditions(spec, float_type, names):
    """Python expressions, one per argument, that are true when it fits the signature.

    Arrays: the dtype, ndim, C-contiguous, aligned, and writeable if the kernel writes
    them. Scalars: the exact type (numba types a Python float as float64 and a Python bool
    as boolean, so those fit too)."""
    F = np.dtype(float_type).name
    scalars = {"float32": "(float32,)", "float64": "(float64, float)"}[F]
    parsed, _ = parse(spec)
    out = []
    for a, (kind, n, written) in zip(names, parsed):
        if kind == "F*":
            out.append(f"type({a}) is tuple and len({a}) == {n} and "
                       f"all(type(x) in {scalars} for x in {a})")
        elif kind == "b":
            out.append(f"type({a}) in (bool, bool_)")
        elif n == 0:
            out.append(f"type({a}) in {scalars}")
        else:
            dtype = {"F": F, "I": "intp", "U": "uint8"}[kind]
            out.append(f"type({a}) is ndarray and {a}.dtype is {dtype}_ and {a}.ndim == {n} "
                       f"and (flags := {a}.flags).c_contiguous and flags.aligned"
                       + (" and flags.writeable" if written else ""))
    return out


def _dispatcher(name, compiled, jit_kernel):
    """The kernel ``name``: the compiled function when every argument fits, else jit's.

    The checks are written out as one ``if`` per float type (the source is kept in
    ``kernel.source``): a loop calling one check per argument cost three times as much
    as the compiled call itself. ``kernel.route(*args)`` runs the same checks and returns
    the compiled function the call would take, or None for jit's.
    """
    spec = SIGNATURES[name]
    names = [f"a{i}" for i in range(len(parse(spec)[0]))]
    args = ", ".join(names)
    lines = [f"def {name}({args}):"]
    route = [f"def route({args}):"]
    namespace = {"ndarray": np.ndarray, "bool_": np.bool_, "float32": np.float32,
                 "float64": np.float64, "jit_kernel": jit_kernel}
    for F in FLOATS:
        dtype = np.dtype(F).name
        namespace[dtype + "_"] = np.dtype(F)
        namespace[export_name(name, F)] = getattr(compiled, export_name(name, F))
        condition = " and\n            ".join(f"({c})" for c in _conditions(spec, F, names))
        lines += [f"    if ({condition}):", f"        return {export_name(name, F)}({args})"]
        route += [f"    if ({condition}):", f"        return {export_name(name, F)}"]
    namespace["intp_"], namespace["uint8_"] = np.dtype(np.intp), np.dtype(np.uint8)
    lines.append(f"    return jit_kernel()({args})")
    route.append("    return None")
    source = "\n".join(lines) + "\n\n" + "\n".join(route) + "\n"
    exec(compile(source, f"<compiled kernel {name}>", "exec"), namespace)
    kernel = namespace[name]
    kernel.__doc__ = f"{name} of jit.py, compiled ahead of time; signature {spec!r}."
    kernel.source = source
    kernel.route = namespace["route"]  # route(*args): the compiled function it calls, or None
    return kernel


# ------------------------------------------------------------------ the compiled module


def cpu_identity():
    """What the compiled code depends on in this CPU: its model and instruction sets."""
    text = platform.machine() + " " + platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read().split("\n\n")[0]
        text += "".join(line for line in info.splitlines()
                        if line.startswith(("vendor_id", "model name", "flags", "Features")))
    except OSError:
        pass
    return text


LAYOUT = "module + module.sha256"  # in the key: a change of layout compiles into a new folder
RECORD = "module.sha256"  # "<sha256>  <size>  <module's file name>\n", beside the module


def key():
    """A hash of everything the compiled module depends on (see the module docstring)."""
    h = hashlib.sha256(LAYOUT.encode())
    here = Path(__file__).parent
    for name in ("jit.py", "_policy.py", "signatures.py", "build.py"):
        h.update((here / name).read_bytes())
    try:
        numba_version = importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        numba_version = "absent"
    h.update(f"{sys.version}|{np.__version__}|{numba_version}|{cpu_identity()}".encode())
    return h.hexdigest()[:16]


def module_path(directory):
    return Path(directory) / (MODULE + sysconfig.get_config_var("EXT_SUFFIX"))


def record_path(directory):
    return Path(directory) / RECORD


def write_record(directory):
    """Record the size and sha256 of the module in ``directory`` beside it."""
    path = module_path(directory)
    data = path.read_bytes()
    record_path(directory).write_text(
        f"{hashlib.sha256(data).hexdigest()}  {len(data)}  {path.name}\n")


def damage(directory):
    """Why the module in ``directory`` must not be imported, or None if it is the file
    its record describes: the same size (checked first) and the same sha256."""
    path, record = module_path(directory), record_path(directory)
    try:
        text = record.read_bytes().decode("ascii", "replace")
    except FileNotFoundError:
        return f"no record of its size and sha256 ({record.name}) beside it"
    except OSError as e:
        return f"cannot read {record}: {e.strerror or e}"
    match = re.fullmatch(r"([0-9a-f]{64})  ([0-9]+)  (\S+)\n", text)
    if match is None or match[3] != path.name:
        return f"its record {record} is damaged"
    try:
        size = os.stat(path).st_size
        if size != int(match[2]):
            return (f"{size} bytes, but {match[2]} when it was compiled: truncated or "
                    f"overwritten")
        data = path.read_bytes()
    except OSError as e:
        return f"cannot read it: {e.strerror or e}"
    if hashlib.sha256(data).hexdigest() != match[1]:
        return "its sha256 differs from the one recorded when it was compiled"
    return None


def build(directory, log=sys.stderr):
    """Compile the module into ``directory`` in a child process; return its path.

    The child writes into a fresh folder beside ``directory``; the module's record is
    written there too, and then the folder is renamed to ``directory``, so a killed build
    leaves nothing half-written, and of two processes building at once the second finds
    the first one's module.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    print(f"backprop: compiling the numba kernels for this machine, once (about 10 s), "
          f"into {directory}", file=log, flush=True)
    start = time.perf_counter()
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".build-") as tmp:
        done = subprocess.run([sys.executable, "-m", "backprop.kernels.build", tmp], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stdout.strip() or f"exit status {done.returncode}")
        if not module_path(tmp).is_file():
            raise RuntimeError(f"the compiler exited without writing {module_path(tmp).name}"
                               + (f": {done.stdout.strip()}" if done.stdout.strip() else ""))
        write_record(tmp)
        try:
            os.rename(tmp, directory)
        except OSError:
            if not module_path(directory).exists():  # not another process's finished build
                raise
        os.makedirs(tmp, exist_ok=True)  # TemporaryDirectory removes it again
    print(f"backprop: kernels compiled in {time.perf_counter() - start:.0f} s", file=log,
          flush=True)
    return module_path(directory)


def reason(output):
    """The line of a failed compile's output that says why: the last exception line
    ("RuntimeError: ..."), else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b.*:", line)]
    return (errors or lines or [""])[-1]


def load(directory=None):
    """The compiled extension module, compiling it first if it is not there yet.

    Returns None, after one warning, if it cannot be compiled; the reason is kept in
    ``<directory>.failed.log`` so later processes do not try again (delete that file to
    retry).
    """
    directory = Path(directory) if directory is not None else user_cache("kernels", key())
    failed = directory.with_name(directory.name + ".failed.log")
    path = module_path(directory)
    if not path.exists():
        if failed.exists():
            warnings.warn(f"the numba kernels could not be compiled ahead of time (see "
                          f"{failed}; delete it to try again); compiling them in this "
                          f"process instead", RuntimeWarning, stacklevel=2)
            return None
        try:
            build(directory)
        except (OSError, RuntimeError) as e:
            try:
                failed.parent.mkdir(parents=True, exist_ok=True)
                failed.write_text(str(e) + "\n")
                where = f"; the compiler's output is in {failed}"
            except OSError:
                where = ""
            warnings.warn(f"the numba kernels could not be compiled ahead of time "
                          f"({reason(str(e)) or type(e).__name__}{where}); compiling them "
                          f"in this process instead", RuntimeWarning, stacklevel=2)
            return None
    problem = damage(directory)  # before the import: a truncated file can crash it
    if problem is None:
        try:
            spec = importlib.util.spec_from_file_location(MODULE, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        except ImportError as e:  # a damaged file, or one this interpreter cannot load
            problem = str(e)
    warnings.warn(f"cannot load the compiled kernels {path} ({problem}); delete that folder "
                  f"to compile them again; compiling them in this process instead",
                  RuntimeWarning, stacklevel=2)
    return None


def _jit_kernel(name):
    def get():
        from . import jit  # loads numba, only when a call needs it
        return getattr(jit, name)
    return get


def _install(compiled):
    namespace = globals()
    for name in SIGNATURES:
        if compiled is None:
            from . import jit
            namespace[name] = getattr(jit, name)
        else:
            namespace[name] = _dispatcher(name, compiled, _jit_kernel(name))


compiled_module = load()
_install(compiled_module)
