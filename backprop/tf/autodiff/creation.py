"""Tensors made from a shape or a seed: zeros, ones, one_hot, linspace, arange and
``bp.random``.

Nothing here is recorded: these tensors depend on no other tensor.
"""
import numpy as np

from .tensor import Tensor, _value_of, _wrap, float32


def zeros(shape, dtype=float32):
    """A tensor of zeros (float32 by default)."""
    return _wrap(np.zeros(shape, dtype))


def ones(shape, dtype=float32):
    """A tensor of ones (float32 by default)."""
    return _wrap(np.ones(shape, dtype))


def zeros_like(x):
    """Zeros with x's shape and dtype."""
    return _wrap(np.zeros(np.shape(_value_of(x)), np.asarray(_value_of(x)).dtype))


def ones_like(x):
    """Ones with x's shape and dtype."""
    return _wrap(np.ones(np.shape(_value_of(x)), np.asarray(_value_of(x)).dtype))


def one_hot(indices, depth, on_value=1, off_value=0, dtype=float32):
    """Shape indices.shape + (depth,): ``on_value`` at each index, ``off_value`` elsewhere.

    An index outside [0, depth) gives a row of ``off_value`` (as in TensorFlow).
    """
    indices = np.asarray(_value_of(indices))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot indices must be integers, got {indices.dtype}")
    hit = indices[..., None] == np.arange(depth)          # t_k = 1 for k = index
    return _wrap(np.where(hit, on_value, off_value).astype(dtype))


def linspace(start, stop, num):
    """``num`` evenly spaced values from start to stop inclusive.

    float32 (TensorFlow's default for Python floats) unless start or stop is a float64
    array or tensor; float64 when both are integers (TensorFlow's rule:
    ``tf.linspace(0, 10, 5)`` is float64).
    """
    def is_float64(v):
        return isinstance(v, (Tensor, np.ndarray, np.generic)) and \
            np.asarray(_value_of(v)).dtype == np.float64

    def is_integer(v):
        return np.asarray(_value_of(v)).dtype.kind in "iu"

    dtype = np.float64 if is_float64(start) or is_float64(stop) or \
        (is_integer(start) and is_integer(stop)) else np.float32
    return _wrap(np.linspace(float(_value_of(start)), float(_value_of(stop)), int(num),
                             dtype=dtype))


def arange(start, limit=None, delta=1, dtype=None):
    """``tf.range`` (named as in NumPy here, where ``range`` is Python's): [start,
    start + delta, ...) below ``limit`` (one argument: [0, start)), as
    ``tf.range``: int32 for Python ints, float32 for Python floats."""
    if limit is None:
        start, limit = 0, start
    values = [_value_of(v) for v in (start, limit, delta)]
    if dtype is None:
        floats = any(np.asarray(v).dtype.kind == "f" for v in values)
        dtype = np.float32 if floats else np.int32
        if any(isinstance(v, (Tensor, np.ndarray, np.generic)) for v in (start, limit, delta)):
            dtype = np.result_type(*[np.asarray(v).dtype for v in values])
    return _wrap(np.arange(*values).astype(dtype))


class _RandomNamespace:
    """``bp.random``: ``normal``, ``uniform`` and ``set_seed``, as in ``tf.random``.

    Without ``seed`` the values come from one module-wide generator (reset with
    ``set_seed``); with ``seed`` from a fresh generator, so the call is repeatable.
    """

    def __init__(self):
        self._rng = np.random.default_rng()

    def set_seed(self, seed):
        """Reseed the module-wide generator."""
        self._rng = np.random.default_rng(seed)

    def _generator(self, seed):
        return self._rng if seed is None else np.random.default_rng(seed)

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=float32, seed=None):
        """Samples of N(mean, stddev^2) with the given shape (float32 by default)."""
        return _wrap(self._generator(seed).normal(mean, stddev, shape).astype(dtype))

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=float32, seed=None):
        """Samples of U[minval, maxval) with the given shape (float32 by default)."""
        return _wrap(self._generator(seed).uniform(minval, maxval, shape).astype(dtype))


random = _RandomNamespace()
