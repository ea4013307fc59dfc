"""Elementwise ops, binary (broadcasting) and unary, each with its VJP; and the
comparisons (``equal``, ``less``, ...), whose bool results are not differentiated.

g is the upstream gradient dE/d(out). A binary op's operands are broadcast against each
other, so each operand's gradient is summed back to its own shape (``_sum_to_shape``).
"""
import numpy as np

from .shapes import _sum_to_shape
from .tensor import Tensor, _as_tensor, _op, _pair, _register_operators, _value_of, _wrap, constant


def add(a, b):
    """a + b, broadcasting. VJP: dE/da = g, dE/db = g (each summed to its shape)."""
    a, b = _pair(a, b)
    return _op(a._value + b._value, (a, b),
               (lambda g: _sum_to_shape(g, a.shape), lambda g: _sum_to_shape(g, b.shape)))


def subtract(a, b):
    """a - b. VJP: dE/da = g, dE/db = -g."""
    a, b = _pair(a, b)
    return _op(a._value - b._value, (a, b),
               (lambda g: _sum_to_shape(g, a.shape),
                lambda g: _sum_to_shape(negative(g), b.shape)))


def multiply(a, b):
    """a * b. VJP: dE/da = g b, dE/db = g a."""
    a, b = _pair(a, b)
    return _op(a._value * b._value, (a, b),
               (lambda g: _sum_to_shape(multiply(g, b), a.shape),
                lambda g: _sum_to_shape(multiply(g, a), b.shape)))


def divide(a, b):
    """a / b. VJP: dE/da = g / b, dE/db = -g a / b^2."""
    a, b = _pair(a, b)
    return _op(a._value / b._value, (a, b),
               (lambda g: _sum_to_shape(divide(g, b), a.shape),
                lambda g: _sum_to_shape(negative(divide(multiply(g, a), multiply(b, b))),
                                        b.shape)))


def power(x, p):
    """x ** p. VJP: dE/dx = g p x^(p-1); dE/dp = g x^p log x (0 where x <= 0, as in TF)."""
    x, p = _pair(x, p)

    def vjp_p(g):
        safe_x = where(x._value > 0, x, 1)                 # log(1) = 0 where x <= 0
        return _sum_to_shape(multiply(g, multiply(out, log(safe_x))), p.shape)

    out = _op(np.power(x._value, p._value), (x, p),
              (lambda g: _sum_to_shape(multiply(g, multiply(p, power(x, subtract(p, 1)))),
                                       x.shape),
               vjp_p))
    return out


def maximum(a, b):
    """max(a, b) elementwise. VJP: g goes to a where a >= b, else to b (TF's rule)."""
    a, b = _pair(a, b)
    a_wins = a._value >= b._value
    return _op(np.maximum(a._value, b._value), (a, b),
               (lambda g: _sum_to_shape(where(a_wins, g, 0), a.shape),
                lambda g: _sum_to_shape(where(a_wins, 0, g), b.shape)))


def minimum(a, b):
    """min(a, b) elementwise. VJP: g goes to a where a <= b, else to b."""
    a, b = _pair(a, b)
    a_wins = a._value <= b._value
    return _op(np.minimum(a._value, b._value), (a, b),
               (lambda g: _sum_to_shape(where(a_wins, g, 0), a.shape),
                lambda g: _sum_to_shape(where(a_wins, 0, g), b.shape)))


def where(condition, x, y):
    """x where ``condition`` else y (broadcasting). VJP: g masked by condition / its negation.

    ``condition`` is a bool array (or a bool tensor); it is not differentiated.
    """
    condition = np.asarray(_value_of(condition), dtype=bool)
    x, y = _pair(x, y)
    return _op(np.where(condition, x._value, y._value), (x, y),
               (lambda g: _sum_to_shape(where(condition, g, 0), x.shape),
                lambda g: _sum_to_shape(where(condition, 0, g), y.shape)))


def negative(x):
    """-x. VJP: -g."""
    x = _as_tensor(x)
    return _op(-x._value, (x,), (negative,))


def exp(x):
    """e^x. VJP: g e^x (the output)."""
    x = _as_tensor(x)
    out = _op(np.exp(x._value), (x,), (lambda g: multiply(g, out),))
    return out


def log(x):
    """Natural log. VJP: g / x."""
    x = _as_tensor(x)
    return _op(np.log(x._value), (x,), (lambda g: divide(g, x),))


def log1p(x):
    """log(1 + x), accurate for small x. VJP: g / (1 + x)."""
    x = _as_tensor(x)
    return _op(np.log1p(x._value), (x,), (lambda g: divide(g, add(x, 1)),))


def sqrt(x):
    """sqrt(x). VJP: g / (2 sqrt(x)) (infinite at 0, as in TF)."""
    x = _as_tensor(x)
    out = _op(np.sqrt(x._value), (x,), (lambda g: divide(g, multiply(out, 2)),))
    return out


def square(x):
    """x^2. VJP: 2 g x."""
    x = _as_tensor(x)
    return _op(np.square(x._value), (x,), (lambda g: multiply(g, multiply(x, 2)),))


def absolute(x):
    """|x|. VJP: g sign(x) (0 at x = 0, as in TF)."""
    x = _as_tensor(x)
    sign = np.sign(x._value)
    return _op(np.abs(x._value), (x,), (lambda g: multiply(g, sign),))


def clip_by_value(x, clip_value_min, clip_value_max):
    """x clipped to [min, max]. VJP: g where min <= x <= max, else 0 (the bounds are fixed)."""
    x = _as_tensor(x)
    lo, hi = _value_of(clip_value_min), _value_of(clip_value_max)
    inside = (x._value >= lo) & (x._value <= hi)
    return _op(np.clip(x._value, lo, hi).astype(x.dtype), (x,),
               (lambda g: where(inside, g, 0),))


def cast(x, dtype):
    """x converted to ``dtype``. VJP: g cast back (for floating x; None otherwise)."""
    dtype = np.dtype(dtype)
    if not isinstance(x, Tensor):
        return constant(x, dtype)          # straight to dtype: no float32 round trip
    x = _as_tensor(x)
    if dtype == x.dtype:
        return x
    float_input = x.dtype.kind in "fc"
    return _op(x._value.astype(dtype), (x,),
               (lambda g: cast(g, x.dtype) if float_input else None,))


def _comparison(ufunc, doc):
    def compare(a, b):
        a, b = _pair(a, b)                 # one dtype, as TensorFlow requires
        return _wrap(ufunc(a._value, b._value))
    compare.__name__, compare.__doc__ = ufunc.__name__, doc
    return compare


equal = _comparison(np.equal, "a == b elementwise: a bool tensor, not recorded (no gradient).")
not_equal = _comparison(np.not_equal, "a != b elementwise: a bool tensor, not recorded.")
less = _comparison(np.less, "a < b elementwise: a bool tensor, not recorded.")
less_equal = _comparison(np.less_equal, "a <= b elementwise: a bool tensor, not recorded.")
greater = _comparison(np.greater, "a > b elementwise: a bool tensor, not recorded.")
greater_equal = _comparison(np.greater_equal, "a >= b elementwise: a bool tensor, not recorded.")


def stop_gradient(x):
    """The value of x, with no gradient flowing through (a new, untracked tensor)."""
    return _wrap(_value_of(x))


_register_operators(add, subtract, multiply, divide, power, negative, absolute)
