"""NumPy's own BLAS gemm, for the numba kernels that multiply matrices (``mlp_gradients``).

A kernel that calls this gemm computes each product with the library, the routine and
the threads ``np.matmul`` uses, so its results are NumPy's bit for bit, and no second
BLAS with a second thread pool is loaded. (numba's ``np.dot`` calls SciPy's BLAS: a
different build, whose products differ in the last bits at one thread, and a pool of
its own.)

The library is the one NumPy's wheels ship (``numpy.libs``, or ``numpy/.dylibs`` on
macOS), found among the loaded libraries threadpoolctl lists; its cblas_sgemm and
cblas_dgemm are bound with ctypes and passed to the kernels as arguments, so numba's
cache still holds the compiled kernels. A NumPy built against another BLAS (a system
or conda build) has none of these, and then ``gemm`` gives None: the engine runs layer
by layer, with ``np.matmul``. Before use, each gemm is checked against ``np.matmul`` on
a small product.
"""
import ctypes
import functools
import os

import numpy as np

# cblas_?gemm's names in NumPy's builds, with the integer width of each
SYMBOLS = (("scipy_cblas_{}gemm64_", ctypes.c_int64), ("cblas_{}gemm64_", ctypes.c_int64),
           ("cblas_{}gemm", ctypes.c_int))


def _numpy_blas_paths():
    """The BLAS libraries loaded from NumPy's own installation."""
    from threadpoolctl import threadpool_info
    numpy_dir = os.path.dirname(os.path.realpath(np.__file__))
    homes = (numpy_dir + os.sep, os.path.dirname(numpy_dir) + os.sep + "numpy.libs" + os.sep)
    return [lib["filepath"] for lib in threadpool_info() if lib["user_api"] == "blas"
            and os.path.realpath(lib["filepath"]).startswith(homes)]


def _bind(library, dtype):
    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    letter = "s" if dtype == np.float32 else "d"
    for pattern, integer in SYMBOLS:
        function = getattr(library, pattern.format(letter), None)
        if function is not None:
            function.restype = None
            function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer,
                                 integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p,
                                 integer, scalar, ctypes.c_void_p, integer]
            return function
    return None


@functools.cache
def _library():
    """NumPy's own BLAS as a ctypes library, or None."""
    for path in _numpy_blas_paths():
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


@functools.cache
def gemm(dtype):
    """NumPy's cblas_sgemm (float32) or cblas_dgemm (float64) as a ctypes function for
    ``jit.matmul_into``, or None if NumPy's BLAS is not one this finds, or if the
    function's product differs from ``np.matmul``'s."""
    from . import jit
    dtype = np.dtype(dtype)
    library = _library()
    function = _bind(library, dtype) if library is not None else None
    if function is None:
        return None
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 5)).astype(dtype), rng.normal(size=(4, 5)).astype(dtype).T
    c = np.empty((3, 4), dtype)
    jit.matmul_into(function, a, b, c)
    return function if np.array_equal(c, a @ b) else None


@functools.cache
def thread_setter():
    """NumPy's OpenBLAS's ``openblas_set_num_threads_local(n)`` (OpenBLAS >= 0.3.27),
    which sets the threads of the products to come and returns the previous count, or
    None where there is no such function."""
    library = _library()
    function = getattr(library, "openblas_set_num_threads_local", None) if library else None
    if function is not None:
        function.restype, function.argtypes = ctypes.c_int, [ctypes.c_int]
    return function
