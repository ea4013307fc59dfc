"""The hot loops, twice: numba kernels (``jit.py``) and their NumPy twins (``reference.py``).

This package is the boundary between the engine and numba: every kernel has a public name,
the same in both modules (``jit.add_bias_relu`` and ``reference.add_bias_relu``), takes
arrays and scalars only, and writes into outputs the caller supplies. ``_policy.py`` holds
numba's options. One switch picks the backend for the whole package: ``set_backend(name)``,
the ``use_backend`` context manager, or the environment variable ``BACKPROP_BACKEND``
(default ``numba``):

- ``numba``: the kernels of ``jit.py``, compiled by numba the first time each is called and
  kept in numba's cache (``@njit(cache=True)``), so a later process loads them warm;
- ``numpy``: their NumPy twins (``reference.py``).

Layers, losses and optimizers ask ``backend()`` for the kernel module on every call, so a
switch takes effect at once. A backend's module is imported only when first selected.
"""
import contextlib
import importlib
import os


BACKENDS = {"numba": "backprop.core.kernels.jit", "numpy": "backprop.core.kernels.reference"}
MAX_THREADS = 1 << 15  # a thread count above this is taken as this (no BLAS holds more)

_active = None


def _check_name(name):
    """``name`` in lower case if it is a backend's; otherwise a ValueError listing them."""
    name = name.lower() if isinstance(name, str) else name
    if name not in BACKENDS:
        raise ValueError(
            f"unknown backend {name!r}; expected one of: {', '.join(sorted(BACKENDS))}")
    return name


def load(name):
    """The kernel module of backend ``name`` ("numba" or "numpy")."""
    return importlib.import_module(BACKENDS[_check_name(name)])


def set_backend(name):
    """Select the kernels every layer, loss and optimizer uses from now on."""
    global _active
    name = _check_name(name)
    _active = (name, importlib.import_module(BACKENDS[name]))


def backend():
    """The active kernel module (the first call selects $BACKPROP_BACKEND's)."""
    if _active is None:
        backend_from_environment()
    return _active[1]


def backend_from_environment():
    """Select the backend $BACKPROP_BACKEND names (default "numba"); returns its name."""
    value = os.environ.get("BACKPROP_BACKEND", "")
    where = f"BACKPROP_BACKEND={value}: "
    try:
        set_backend(value.strip() or "numba")
    except ValueError as error:
        raise ValueError(f"{where}{error}") from None
    return _active[0]


def backend_name():
    """The name of the active backend: "numba" or "numpy"."""
    backend()
    return _active[0]


def set_threads(n=None):
    """Use ``n`` threads for the engine's arithmetic. None: $BACKPROP_THREADS, else
    $OMP_NUM_THREADS (its first value, if it lists one per nesting level), else every
    core. Returns the number of threads in use: ``n``, or fewer if BLAS was built for
    fewer (OpenBLAS caps it, e.g. at 64).

    The GEMMs are the only multithreaded work: NumPy's BLAS gets ``n`` threads (through
    threadpoolctl, in force for the rest of the process). The numba kernels are serial
    (see ``_policy.py``), so no second pool competes with BLAS's on the same cores;
    NUMBA_NUM_THREADS is set to ``n`` too, so any parallel numba code loaded later
    follows the same setting.
    """
    where = ""  # the environment variable n came from, for the error messages
    if n is None:
        variable = next((v for v in ("BACKPROP_THREADS", "OMP_NUM_THREADS") if os.environ.get(v)),
                        None)
        n = os.environ[variable] if variable else os.cpu_count()
        if variable:
            where = f"{variable}={n}: "
        if variable == "OMP_NUM_THREADS":
            n = n.split(",")[0]  # OpenMP's list of nesting levels: the outermost
    try:
        n = int(n)
    except ValueError:
        raise ValueError(f"{where}the number of threads must be a whole number, got {n!r}") from None
    if n < 1:
        raise ValueError(f"{where}the number of threads must be >= 1, got {n}")
    from threadpoolctl import threadpool_info, threadpool_limits
    n = min(n, MAX_THREADS)  # more than any pool holds; 10**20 would overflow a C int
    threadpool_limits(n)
    os.environ["NUMBA_NUM_THREADS"] = str(n)
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return min(n, max(blas)) if blas else n  # BLAS may hold fewer threads than asked for


@contextlib.contextmanager
def use_backend(name):
    """Run a block with backend ``name``, then restore the previous one."""
    global _active
    previous = _active  # None if no backend was chosen yet: none is loaded to remember it
    set_backend(name)
    try:
        yield _active[1]
    finally:
        _active = previous
