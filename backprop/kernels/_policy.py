"""The one place that sets how numba compiles every kernel of the package (``jit.py``).

- ``cache=True``: compiled machine code is kept in numba's cache (``__pycache__`` beside
  the source, or the user's cache folder where that is read-only), so a second process
  loads it instead of compiling (about 0.3 s instead of several seconds). No
  ahead-of-time build: numba.pycc is pending deprecation.
- ``fastmath`` without ``nnan``/``ninf``: contraction and reassociation are allowed, but a
  NaN or an Inf still propagates (plain ``fastmath=True`` would let LLVM drop those checks,
  and a diverging run must be seen, not hidden). Without ``arcp`` either: x / 255 stays a
  correctly rounded division, so a batch of pixels equals NumPy's images / 255 exactly.
- ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead of raising,
  which also lets LLVM vectorise the divisions (numba's default error model made the
  fused Adam slower than NumPy).
- No eager signatures: kernels compile lazily, for the dtypes actually used, so
  ``import backprop`` stays fast.
- Serial kernels only. The elementwise work between two GEMMs is small (a fused Adam over
  all 244,522 weights takes ~70-110 us), and a second thread pool next to BLAS's costs
  more than it saves: measured on 2 cores, numba's OpenMP layer spinning beside
  OpenBLAS's threads made an epoch 7x slower (5.3 s instead of 0.75 s), and the best
  parallel setting (OMP_WAIT_POLICY=passive) gained ~5%, within the machine's noise.
  Measured again on 2026-12-02 with a vectorised parallel Adam (each thread a slice
  ``w[lo:hi]``, 42 us against 70 when no BLAS thread is awake): inside the training step
  still slower (README, Speed). So BLAS owns the threads, and every kernel's result is
  independent of thread counts. ``mlp_gradients``, the forward and backward pass of a
  Dense network in one call, is serial too: its products are calls into NumPy's own BLAS
  (``blas.py``), on BLAS's threads, as ``np.matmul``'s are.
"""
from numba import njit

FASTMATH = frozenset({"nsz", "contract", "reassoc"})
ERROR_MODEL = "numpy"


def kernel(function):
    """Compile ``function`` with the package's policy (serial, deterministic)."""
    return njit(cache=True, fastmath=set(FASTMATH), error_model=ERROR_MODEL)(function)

