"""Reductions built on ``reduce_sum`` (which lives in ``shapes.py``, beside its adjoint
``broadcast_to``): mean, max, min and norms; and argmax / argmin, which return integer
positions and so are not differentiated.
"""
import numpy as np

from .elementwise import absolute, divide, multiply, negative, sqrt
from .shapes import _axes, _keepdims_shape, broadcast_to, reduce_sum, reshape
from .tensor import _as_tensor, _op, _wrap


def reduce_mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (None: all): sum / n, n the number of entries averaged.

    VJP (through ``reduce_sum`` and ``divide``): g / n broadcast back over those axes.
    """
    x = _as_tensor(x)
    axes = _axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes]))
    if x.dtype.kind in "iu":                  # TensorFlow: an integer mean is an integer,
        total = reduce_sum(x, axes, keepdims)._value      # the quotient truncated
        return _wrap((np.sign(total) * (np.abs(total) // n)).astype(x.dtype))
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


def reduce_min(x, axis=None, keepdims=False):
    """Min over ``axis``: -max(-x). VJP: g shared equally among the entries equal to the
    min (through ``reduce_max``)."""
    return negative(reduce_max(negative(x), axis, keepdims))


def _arg(np_function, x, axis, output_type):
    x = _as_tensor(x)
    if axis is None:
        axis = 0                              # TensorFlow's default, not NumPy's "flatten"
    return _wrap(np_function(x._value, axis=int(_axes(axis, x.ndim)[0])).astype(output_type))


def argmax(x, axis=None, output_type=np.int64):
    """The index of the largest entry along ``axis`` (default 0, as in TensorFlow), int64;
    the first one on a tie. Integer-valued: a tape records nothing (no gradient)."""
    return _arg(np.argmax, x, axis, output_type)


def argmin(x, axis=None, output_type=np.int64):
    """The index of the smallest entry along ``axis`` (default 0), int64. Not recorded."""
    return _arg(np.argmin, x, axis, output_type)


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
