"""The one place that sets how numba compiles every kernel of the package (``jit.py``).

- ``cache=True``: compiled machine code is kept in numba's cache (``__pycache__`` beside
  the source, or the user's cache folder where that is read-only), so a second process
  loads it instead of compiling. No ahead-of-time build: numba.pycc is pending
  deprecation.
- ``fastmath`` without ``nnan``/``ninf``: contraction and reassociation are allowed, but a
  NaN or an Inf still propagates (plain ``fastmath=True`` would let LLVM drop those checks,
  and a diverging run must be seen, not hidden). Without ``arcp`` either: x / 255 stays a
  correctly rounded division, so a batch of pixels equals NumPy's images / 255 exactly.
- ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead of raising,
  which also lets LLVM vectorise the divisions.
- No eager signatures: kernels compile lazily, for the dtypes actually used, so
  ``import backprop`` stays fast.
- Serial kernels only: BLAS owns the threads (``backprop.kernels.set_threads``, the one
  thread setting), so no second pool competes with BLAS's on the same cores and every
  kernel's result is independent of the thread count. What parallel kernels were
  measured to cost: docs/performance.md.
"""
from numba import njit


FASTMATH = frozenset({"nsz", "contract", "reassoc"})
ERROR_MODEL = "numpy"


def kernel(function):
    """Compile ``function`` with the package's policy (serial, deterministic)."""
    return njit(cache=True, fastmath=set(FASTMATH), error_model=ERROR_MODEL)(function)

