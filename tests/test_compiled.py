"""The ahead-of-time kernels (``backprop.kernels.compiled``): their signatures, the checks
that send unfit arguments to the JIT kernels, a training run bit for bit equal to the
JIT's without loading numba, and what happens when compiling fails."""
import inspect
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from numba.core.errors import TypingError

import backprop as bp
from backprop import train
from backprop import kernels
from backprop.kernels import compiled, jit, reference, signatures


def test_every_kernel_has_a_signature_with_its_number_of_arguments():
    names = sorted(n for n, f in vars(reference).items()
                   if n.startswith("_") and inspect.isfunction(f))
    assert sorted(signatures.SIGNATURES) == names
    for name in names:
        parsed, _ = signatures.parse(signatures.SIGNATURES[name])
        assert len(parsed) == len(inspect.signature(getattr(reference, name)).parameters), name


def test_parse_reads_the_signature_language():
    assert signatures.parse("F2! F1 F*9 I1 U2 b F -> f8") == (
        [("F", 2, True), ("F", 1, False), ("F*", 9, False), ("I", 1, False),
         ("U", 2, False), ("b", 0, False), ("F", 0, False)], "f8")
    assert signatures.parse("F1! F1 F")[1] is None


def _relu_args(dtype=np.float32):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 5)).astype(dtype)
    return z, rng.normal(size=5).astype(dtype), np.empty_like(z)


@pytest.mark.parametrize("case", ["transposed", "read-only output", "float64 bias", "python float",
                                  "int32 labels"])
def test_arguments_that_miss_the_signature_go_to_the_jit_kernel(case):
    """Each of these would make the compiled function read or write the wrong memory; the
    checks must see it and the JIT kernel must give the answer."""
    if case == "int32 labels":
        z = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
        name, args = "_softmax_xent_labels", [z, np.array([0, 2, 1, 2], np.int32), np.empty_like(z)]
    elif case == "python float":
        w, g = np.ones(5, np.float32), np.full(5, 0.5, np.float32)
        name, args = "_sgd_step", [w, g, 0.1]  # numba types 0.1 as float64, not float32
    else:
        z, b, O = _relu_args()
        if case == "float64 bias":
            b = b.astype(np.float64)
        if case == "transposed":
            z = np.asfortranarray(z)
        if case == "read-only output":
            O.flags.writeable = False
        name, args = "_relu_forward", [z, b, O]
    assert getattr(compiled, name).route(*args) is None
    copies = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    if case == "read-only output":  # numba refuses to write a read-only array
        with pytest.raises(TypingError, match="readonly|read-only|Cannot modify"):
            getattr(compiled, name)(*args)
        return
    mine, theirs = copies(), copies()
    r1, r2 = getattr(compiled, name)(*mine), getattr(jit, name)(*theirs)
    assert r1 == r2
    for a, b in zip(mine, theirs):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)


def _train(backend, steps=25):
    (x, y) = _tiny_data()
    with kernels.use_backend(backend):
        config = train.TrainConfig(epochs=1, batch_size=20, hidden=(16, 8), seed=3)
        model, loss, opt = train.build(config, x.shape[1], 10)
        for i in range(steps):
            s = slice(20 * i % 180, 20 * i % 180 + 20)
            train.train_step(model, loss, opt, (x[s] / np.float32(255)), y[s])
        return model.theta.copy()


def _tiny_data():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (200, 30)).astype(np.uint8), rng.integers(0, 10, 200)


def test_training_with_compiled_kernels_equals_the_jit_bit_for_bit():
    np.testing.assert_array_equal(_train("numba"), _train("numba-jit"))
    assert not np.array_equal(_train("numba"), _train("numba", steps=24))


def test_a_training_process_never_loads_numba():
    script = ("import sys, numpy as np, backprop as bp\n"
              "from backprop import train\n"
              "from backprop import kernels\n"
              "kernels.set_backend('numba')\n"
              "config = train.TrainConfig(epochs=1, hidden=(16,), seed=0)\n"
              "model, loss, opt = train.build(config, 30, 10)\n"
              "x = np.random.default_rng(0).integers(0, 256, (100, 30)).astype(np.uint8)\n"
              "batches = bp.data.Batches(x, np.arange(100) % 10, 50, seed=0)\n"
              "for xb, yb in batches: train.train_step(model, loss, opt, xb, yb)\n"
              "assert kernels.compiled.compiled_module is not None\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_failed_compile_warns_once_keeps_the_reason_and_falls_back(tmp_path, monkeypatch):
    def fail(directory, log=None):
        raise RuntimeError("gcc: command not found")
    monkeypatch.setattr(compiled, "build", fail)
    target = tmp_path / "kernels" / "abc"
    with pytest.warns(RuntimeWarning, match="gcc: command not found"):
        assert compiled.load(target) is None
    log = tmp_path / "kernels" / "abc.failed.log"
    assert "gcc: command not found" in log.read_text()
    with pytest.warns(RuntimeWarning, match="delete it to try again"):
        assert compiled.load(target) is None  # not tried again


def test_a_damaged_module_warns_and_falls_back(tmp_path):
    """A file that matches its record but is no extension module: the import fails."""
    target = tmp_path / "k"
    target.mkdir()
    compiled.module_path(target).write_bytes(b"\x7fELF not really")
    compiled.write_record(target)
    with pytest.warns(RuntimeWarning, match="cannot load the compiled kernels"):
        assert compiled.load(target) is None


_NEVER_IMPORTED = """
import importlib.machinery, json, sys, warnings
import numpy as np
cache = sys.argv[1]
real = importlib.machinery.ExtensionFileLoader.create_module
def create_module(self, spec):  # where an extension module is loaded (dlopen)
    if spec.origin.startswith(cache):
        print("import attempted:", spec.origin, flush=True)
    return real(self, spec)
importlib.machinery.ExtensionFileLoader.create_module = create_module
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from backprop.kernels import compiled, jit, reference
rng = np.random.default_rng(0)
z, b = rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
O, expected = np.empty_like(z), np.empty_like(z)
compiled._relu_forward(z.copy(), b, O)
reference._relu_forward(z.copy(), b, expected)
labels, G = np.array([0, 3, 1, 4, 2, 0]), np.empty_like(z)
E = compiled._softmax_xent_labels(z, labels, G)
print(json.dumps({
    "warnings": [str(w.message) for w in caught if w.category is RuntimeWarning],
    "compiled_module": repr(compiled.compiled_module), "key": compiled.key(),
    "jit": compiled._relu_forward is jit._relu_forward, "relu": bool(np.allclose(O, expected)),
    "E": float(E), "E_expected": float(reference._softmax_xent_labels(z, labels, G.copy())),
}))
"""


def _copy_of_the_compiled_folder(cache):
    """This session's compiled folder, copied where a process with XDG_CACHE_HOME=cache
    looks for it."""
    folder = cache / "backprop" / "kernels" / compiled.key()
    shutil.copytree(compiled.Path(compiled.compiled_module.__file__).parent, folder)
    return compiled.module_path(folder)


@pytest.mark.parametrize("damage", ["truncated", "one byte flipped"])
def test_a_truncated_or_altered_module_is_never_imported(tmp_path, damage):
    """Importing a truncated shared object can kill the process (SIGBUS, no message), so
    the module is checked against the size and sha256 recorded when it was compiled, and
    not imported when it differs: one warning that names it, and the in-process kernels
    serve every call. In a child process, so a crash cannot take the test session along."""
    path = _copy_of_the_compiled_folder(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:300_000]
    else:
        data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "BACKPROP_BACKEND": "numba"}
    done = subprocess.run([sys.executable, "-c", _NEVER_IMPORTED, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert "import attempted" not in done.stdout, done.stdout
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["key"] == compiled.key(), "the kernel source changed during the test"
    [warning] = report["warnings"]
    assert warning.startswith(f"cannot load the compiled kernels {path} (")
    assert warning.endswith("; delete that folder to compile them again; compiling them in "
                            "this process instead")
    assert ("truncated" if damage == "truncated" else "sha256") in warning
    assert report["compiled_module"] == "None" and report["jit"] and report["relu"]
    assert report["E"] == pytest.approx(report["E_expected"], rel=1e-6)


def test_a_folder_without_a_record_is_not_imported(tmp_path, monkeypatch):
    """A module without its record (a folder copied in by hand, the record deleted): the
    module cannot be checked, so it is not imported."""
    path = _copy_of_the_compiled_folder(tmp_path)
    compiled.record_path(path.parent).unlink()
    imported = []
    monkeypatch.setattr(compiled.importlib.util, "spec_from_file_location",
                        lambda *args: imported.append(args))
    with pytest.warns(RuntimeWarning, match=f"cannot load the compiled kernels {path} "
                                            r"\(no record .*delete that folder"):
        assert compiled.load(path.parent) is None
    assert imported == []


def test_the_record_is_written_before_the_folder_is_published(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled.subprocess, "run", _fake_child(write_module=True))
    renamed = []
    real_rename = os.rename
    def rename(source, target):
        renamed.append(sorted(p.name for p in compiled.Path(source).iterdir()))
        real_rename(source, target)
    monkeypatch.setattr(compiled.os, "rename", rename)
    path = compiled.build(tmp_path / "k", log=io.StringIO())
    assert renamed == [sorted([path.name, compiled.record_path(path.parent).name])]
    assert compiled.damage(path.parent) is None
    path.write_bytes(b"modulE")  # same size, other bytes
    assert "sha256" in compiled.damage(path.parent)
    path.write_bytes(b"mod")
    assert "truncated" in compiled.damage(path.parent)


def test_the_key_is_stable_and_names_this_machine():
    assert compiled.key() == compiled.key()
    assert len(compiled.key()) == 16
    assert compiled.compiled_module.__file__.startswith(str(compiled.module_path(
        bp._paths.user_cache("kernels", compiled.key())).parent))


@pytest.mark.parametrize("changed", ["jit.py", "_policy.py", "signatures.py", "build.py"])
def test_the_key_changes_with_each_file_the_module_is_built_from(changed, monkeypatch):
    """An edited kernel, policy, signature table or build script compiles a new module."""
    from pathlib import Path
    before = compiled.key()
    read_bytes = Path.read_bytes

    def edited(path):
        data = read_bytes(path)
        return data + b"\n# edited\n" if path.name == changed else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert compiled.key() != before


def test_the_key_changes_with_the_cpu_and_the_numba_version(monkeypatch):
    before = compiled.key()
    with monkeypatch.context() as m:
        m.setattr(compiled, "cpu_identity", lambda: "another CPU")
        assert compiled.key() != before
    with monkeypatch.context() as m:
        m.setattr(compiled.importlib.metadata, "version", lambda name: "0.0.1")
        assert compiled.key() != before
    assert compiled.key() == before


def test_each_float_type_routes_to_its_own_compiled_function():
    for F in (np.float32, np.float64):
        z, b, O = _relu_args(F)
        route = compiled._relu_forward.route(z, b, O)
        assert route is getattr(compiled.compiled_module, signatures.export_name("_relu_forward", F))
    z, b, O = _relu_args()
    assert compiled._relu_forward.route([[1.0]], b, O) is None  # not an array
    assert compiled._relu_forward.route(z[:, None], b, O) is None  # 3-D


def _fake_child(write_module):
    """A stand-in for the compiling child: writes a module file (or fails) in its folder."""
    def run(command, **kwargs):
        folder = compiled.Path(command[-1])
        if write_module:
            compiled.module_path(folder).write_bytes(b"module")
            return subprocess.CompletedProcess(command, 0, stdout="")
        (folder / "half-written.o").write_bytes(b"\0" * 10)
        return subprocess.CompletedProcess(command, 1, stdout="error: linker failed")
    return run


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled.subprocess, "run", _fake_child(write_module=False))
    with pytest.raises(RuntimeError, match="linker failed"):
        compiled.build(tmp_path / "k", log=io.StringIO())
    assert list(tmp_path.iterdir()) == []  # neither the target nor the child's folder


def test_two_builds_racing_for_one_folder_both_end_with_its_module(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled.subprocess, "run", _fake_child(write_module=True))
    log = io.StringIO()
    first = compiled.build(tmp_path / "k", log=log)
    second = compiled.build(tmp_path / "k", log=log)  # finds the first one's folder
    assert first == second and first.read_bytes() == b"module"
    assert [p.name for p in tmp_path.iterdir()] == ["k"]


def test_the_command_line_says_a_failed_compile_in_one_line(tmp_path):
    folder = tmp_path / "backprop" / "kernels"
    folder.mkdir(parents=True)
    (folder / f"{compiled.key()}.failed.log").write_text("RuntimeError: no C compiler\n")
    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path), "BACKPROP_BACKEND": "numba"}
    env.pop("BACKPROP_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "backprop", "gradcheck"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"backprop: warning: the numba kernels could not be compiled ahead of time (see "
        f"{folder / compiled.key()}.failed.log; delete it to try again); compiling them in "
        f"this process instead"]


def test_the_reason_is_the_compilers_last_exception_line():
    output = ("Traceback (most recent call last):\n  File \"cc.py\", line 76\n"
              "RuntimeError: Attempted to compile AOT function without the compiler. Try:\n\n"
              "#> conda install gcc_linux-64\n")
    assert compiled.reason(output) == ("RuntimeError: Attempted to compile AOT function "
                                       "without the compiler. Try:")
    assert compiled.reason("ld: cannot find -lpython3.11\n") == "ld: cannot find -lpython3.11"
    assert compiled.reason("") == ""
