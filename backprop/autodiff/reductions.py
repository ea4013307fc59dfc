"""Reductions built on ``reduce_sum`` (which lives in ``shapes.py``, beside its adjoint
``broadcast_to``): mean, max and norms.
"""
import numpy as np

from .elementwise import absolute, divide, multiply, sqrt
from .shapes import _axes, _keepdims_shape, broadcast_to, reduce_sum, reshape
from .tensor import _as_tensor, _op


def reduce_mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (None: all): sum / n, n the number of entries averaged.

    VJP (through ``reduce_sum`` and ``divide``): g / n broadcast back over those axes.
    """
    x = _as_tensor(x)
    axes = _axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes]))
    return divide(reduce_sum(x, axes, keepdims), n)


def reduce_max(x, axis=None, keepdims=False):
    """Max over ``axis``. VJP: g shared equally among the entries equal to the max (TF)."""
    x = _as_tensor(x)
    axes = _axes(axis, x.ndim)
    kept = _keepdims_shape(x.shape, axes)
    top = np.max(x._value, axis=axes, keepdims=True)
    is_max = x._value == top
    share = (is_max / np.sum(is_max, axis=axes, keepdims=True)).astype(x.dtype)
    return _op(top if keepdims else top.reshape([n for i, n in enumerate(x.shape)
                                                 if i not in axes]),
               (x,), (lambda g: multiply(broadcast_to(reshape(g, kept), x.shape), share),))


def norm(x, ord="euclidean", axis=None, keepdims=False):
    """Vector norm over ``axis`` (None: all entries, i.e. Euclidean / Frobenius).

    ord "euclidean", "fro" or 2: sqrt(sum x^2); 1: sum |x|; np.inf: max |x|.
    VJP (through the ops it is built from): g x / ||x||, g sign(x), or g at the max |x|.
    The Euclidean gradient x / ||x|| is undefined (nan) at x = 0, as in TensorFlow.
    """
    x = _as_tensor(x)
    if isinstance(axis, (tuple, list)) and len(axis) == 2 and ord not in ("euclidean", "fro"):
        raise ValueError(f"only the Frobenius norm is supported over two axes, got ord={ord!r}")
    if ord in ("euclidean", "fro", 2):
        return sqrt(reduce_sum(multiply(x, x), axis, keepdims))     # sqrt(sum_i x_i^2)
    if ord == 1:
        return reduce_sum(absolute(x), axis, keepdims)              # sum_i |x_i|
    if ord == np.inf:
        return reduce_max(absolute(x), axis, keepdims)              # max_i |x_i|
    raise ValueError(f"ord must be 'euclidean', 'fro', 1, 2 or np.inf, got {ord!r}")
