"""The one place that sets how numba compiles every kernel of the package.

- ``cache=True``: compiled machine code is written next to the source, so a second
  process starts warm.
- ``fastmath`` without ``nnan``/``ninf``: contraction and reassociation are allowed, but a
  NaN or an Inf still propagates (plain ``fastmath=True`` would let LLVM drop those checks,
  and a diverging run must be seen, not hidden). Without ``arcp`` either: x / 255 stays a
  correctly rounded division, so a batch of pixels equals NumPy's images / 255 exactly.
- ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead of raising,
  which also lets LLVM vectorise the divisions (numba's default error model made the
  fused Adam slower than NumPy).
- No eager signatures: kernels compile lazily, for the dtypes actually used, so
  ``import backprop`` stays fast.
"""
from numba import njit

FASTMATH = frozenset({"nsz", "contract", "reassoc"})


def kernel(function):
    """Compile ``function`` with the package's policy (serial, deterministic)."""
    return njit(cache=True, fastmath=set(FASTMATH), error_model="numpy")(function)
