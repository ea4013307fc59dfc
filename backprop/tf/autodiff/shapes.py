"""Shapes, broadcasting and indexing: ops that move, copy or sum entries.

Each op's VJP is built from the ops of this module only: reshape, expand_dims, squeeze
and transpose undo themselves; ``broadcast_to`` and ``reduce_sum`` are each other's VJP;
indexing scatters g back, and scattering is indexed again. ``_sum_to_shape`` is the VJP of implicit
broadcasting, which every binary op (``elementwise.py``, ``linalg.py``) applies to g.
"""
import numpy as np

from .tensor import Tensor, _as_tensor, _op, _register_operators


def _axes(axis, ndim):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    axes = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of rank {ndim}")
        axes.append(a % max(ndim, 1))
    return tuple(sorted(set(axes)))


def _keepdims_shape(shape, axes):
    """``shape`` with each of ``axes`` set to 1: a sum over ``axes`` with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def reshape(x, shape):
    """x with a new shape (one entry may be -1). VJP: g reshaped back."""
    x = _as_tensor(x)
    return _op(x._value.reshape(shape), (x,), (lambda g: reshape(g, x.shape),))


def expand_dims(x, axis):
    """x with a new axis of length 1 at ``axis`` (-1: last). VJP: g reshaped back."""
    x = _as_tensor(x)
    return reshape(x, np.expand_dims(x._value, axis).shape)


def squeeze(x, axis=None):
    """x without its axes of length 1 (only ``axis`` if given; ValueError if that axis is
    longer). VJP: g reshaped back."""
    x = _as_tensor(x)
    return reshape(x, np.squeeze(x._value, axis).shape)


def transpose(x, perm=None):
    """Axes permuted by ``perm`` (default: reversed). VJP: g permuted by the inverse."""
    x = _as_tensor(x)
    perm = tuple(range(x.ndim))[::-1] if perm is None else tuple(perm)
    inverse = tuple(np.argsort(perm))
    return _op(np.transpose(x._value, perm), (x,), (lambda g: transpose(g, inverse),))


def broadcast_to(x, shape):
    """x broadcast to ``shape``. VJP: g summed over the broadcast axes."""
    x = _as_tensor(x)
    shape = tuple(shape)
    return _op(np.broadcast_to(x._value, shape), (x,), (lambda g: _sum_to_shape(g, x.shape),))


def reduce_sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (None: all). VJP: g broadcast back over the summed axes.

    The sum keeps x's dtype (an int32 sum stays int32, as in TensorFlow).
    """
    x = _as_tensor(x)
    if x.dtype == bool:
        raise TypeError("reduce_sum of a bool tensor: cast it to a number type first")
    axes = _axes(axis, x.ndim)
    kept = _keepdims_shape(x.shape, axes)
    return _op(np.sum(x._value, axis=axes, keepdims=keepdims, dtype=x.dtype), (x,),
               (lambda g: broadcast_to(reshape(g, kept), x.shape),))


def _sum_to_shape(g, shape):
    """Sum ``g`` over the axes broadcasting added or stretched, leaving ``shape``.

    An input of shape ``shape`` broadcast to g.shape was used once per copy, so its
    gradient is the sum of g over the copies.
    """
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return reshape(reduce_sum(g, axis=tuple(range(lead)) + stretched, keepdims=True), shape)


def _normalize_key(key):
    def one(k):
        if isinstance(k, Tensor):
            return k._value
        if isinstance(k, list):
            return np.asarray(k)
        return k
    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


def _has_integer_array(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in parts)


def _getitem(x, key):
    """x[key] (NumPy indexing). VJP: g scattered into zeros of x's shape at ``key``."""
    key = _normalize_key(key)
    return _op(np.asarray(x._value[key]), (x,), (lambda g: _scatter(g, key, x.shape),))


def _scatter(g, key, shape):
    """zeros(shape) with g added at ``key``; the VJP of indexing. Its own VJP: h[key]."""
    out = np.zeros(shape, g.dtype)
    if _has_integer_array(key):
        np.add.at(out, key, g._value)     # repeated indices each add their share
    else:
        out[key] = g._value
    return _op(out, (g,), (lambda h: _getitem(h, key),))


def stack(values, axis=0):
    """Tensors of one shape stacked along a new axis. VJP: slice i of g goes to input i."""
    values = [_as_tensor(v) for v in values]
    for v in values[1:]:
        if v.dtype != values[0].dtype:
            raise TypeError(f"cannot stack {values[0].dtype} and {v.dtype} tensors")
    out_value = np.stack([v._value for v in values], axis=axis)
    axis = axis % out_value.ndim

    def vjp_of(i):
        return lambda g: _getitem(g, (slice(None),) * axis + (i,))

    return _op(out_value, tuple(values), tuple(vjp_of(i) for i in range(len(values))))


def concat(values, axis):
    """Tensors joined along an existing axis. VJP: each input gets its slice of g."""
    values = [_as_tensor(v) for v in values]
    out_value = np.concatenate([v._value for v in values], axis=axis)
    axis = axis % out_value.ndim
    stops = np.cumsum([v.shape[axis] for v in values])

    def vjp_of(start, stop):
        return lambda g: _getitem(g, (slice(None),) * axis + (slice(start, stop),))

    starts = np.concatenate([[0], stops[:-1]])
    return _op(out_value, tuple(values),
               tuple(vjp_of(int(s), int(e)) for s, e in zip(starts, stops)))


_register_operators(transpose, _getitem)
