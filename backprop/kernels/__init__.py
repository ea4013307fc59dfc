"""The hot loops, twice: numba kernels (``jit.py``) and their NumPy twins (``reference.py``).

One switch picks the backend for the whole package: ``set_backend("numba" | "numpy")``,
the ``use_backend`` context manager, or the environment variable ``BACKPROP_BACKEND``
read at import (default ``numba``). Layers, losses and optimizers ask ``backend()`` for
the kernel module on every call, so a switch takes effect at once. The numba module is
imported only when first selected, so the NumPy backend never loads numba.
"""
import contextlib
import importlib
import os

BACKENDS = {"numba": "backprop.kernels.jit", "numpy": "backprop.kernels.reference"}

_active = None


def _check_name(name):
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
    _active = (_check_name(name), load(name))


def backend():
    """The active kernel module."""
    if _active is None:
        set_backend(os.environ.get("BACKPROP_BACKEND", "numba").strip().lower() or "numba")
    return _active[1]


def backend_name():
    """The name of the active backend: "numba" or "numpy"."""
    backend()
    return _active[0]


@contextlib.contextmanager
def use_backend(name):
    """Run a block with backend ``name``, then restore the previous one."""
    previous = backend_name()
    set_backend(name)
    try:
        yield load(name)
    finally:
        set_backend(previous)
