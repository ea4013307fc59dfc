"""TensorFlow's names over the tape: ``import backprop.tf as tf`` and the tutorial runs.

This module owns the spelling, not the arithmetic: every name maps to an op of
``backprop.tf.autodiff`` (tensors, the tape, the ops and their VJPs) or ``backprop.tf.autodiff.nn``
(activations and losses as tape ops), which follow TensorFlow 2.21's semantics::

    import backprop.tf as tf
    x = tf.random.normal([3, 4])
    w, b = tf.Variable(tf.ones([4, 1])), tf.Variable(tf.zeros([1]))
    y = tf.constant([1.0, 0.0, 1.0])                       # shape (3,)
    with tf.GradientTape() as tape:
        prob = tf.sigmoid(x @ w + b)                        # shape (3, 1)
        loss = tf.reduce_mean(tf.losses.MSE(y, prob))       # y read as (3, 1), as Keras
    dw, db = tape.gradient(loss, [w, b])

What follows TensorFlow, where NumPy would differ:

- dtypes: Python floats become float32, Python ints int32; NumPy arrays keep theirs;
  a Python number or array beside a tensor takes the tensor's dtype; two tensors of
  different dtypes raise (``cast`` one). ``argmax`` gives int64, the comparisons bool
  tensors; an integer ``reduce_mean`` is an integer; ``linspace(0, 10, 5)`` is float64.
- ``Variable(initial_value, trainable=True)``: the second positional argument is
  ``trainable``, as in TensorFlow (``bp.Variable``'s is ``dtype``).
- ``matmul`` needs tensors of rank >= 2, as ``tf.matmul`` does (the ``@`` operator of
  the tape's tensors follows NumPy's rules for vectors).
- ``tf.losses.MSE`` brings y_true to y_pred's rank first (Keras): y of shape (B,)
  beside a prediction of shape (B, 1) gives B per-sample errors, not a (B, B) broadcast.
- ``tf.nn.relu``'s gradient at 0 is 0; ``tf.nn.leaky_relu``'s alpha is 0.2 by default,
  rounded to float32 as TensorFlow keeps it.
- Gradients of sources a target does not depend on are None (``unconnected_gradients=
  tf.UnconnectedGradients.ZERO`` gives zeros); integer and bool results are never
  recorded, so a path through ``argmax``, ``equal`` or an integer ``cast`` has no gradient.

Errors are Python's: TensorFlow's InvalidArgumentError for mismatched dtypes or shapes is
TypeError or ValueError here. Random numbers come from NumPy's generator: the same seed
gives other values than TensorFlow's. Left out: ``tf.keras``, ``tf.data``, graphs and
``tf.function``, devices, strings, sparse and ragged tensors.
"""
import builtins
import enum
import types

import numpy as np

from . import autodiff
from .autodiff import (GradientTape, Tensor, add, argmax, argmin, broadcast_to, cast, clip_by_value,
                       concat, constant, convert_to_tensor, divide, equal, exp, expand_dims,
                       greater, greater_equal, less, less_equal, linspace, maximum, minimum,
                       multiply, negative)
from .autodiff import nn as _nn
from .autodiff import (norm, not_equal, ones, ones_like, random, reduce_max, reduce_mean,
                       reduce_min, reduce_sum, reshape, sqrt, square, squeeze, stack, stop_gradient,
                       subtract, transpose, where, zeros, zeros_like)
from .autodiff.nn import sigmoid, tanh


__all__ = [
    "Tensor", "Variable", "GradientTape", "UnconnectedGradients", "constant",
    "convert_to_tensor", "cast", "identity", "stop_gradient",
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
    "add", "subtract", "multiply", "divide", "pow", "negative", "abs", "exp", "sqrt",
    "square", "maximum", "minimum", "sigmoid", "tanh", "matmul", "clip_by_value",
    "where", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "argmax", "argmin", "norm",
    "reshape", "transpose", "expand_dims", "squeeze", "stack", "concat", "broadcast_to",
    "shape", "size", "rank", "zeros", "ones", "zeros_like", "ones_like", "fill", "one_hot",
    "linspace", "range", "random", "nn", "losses", "math", "linalg", "dtypes",
]

# ------------------------------------------------------------------------------ dtypes

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
bool = np.bool_  # noqa: A001 (TensorFlow's name)
dtypes = types.SimpleNamespace(float16=float16, float32=float32, float64=float64, int8=int8,
                               int16=int16, int32=int32, int64=int64, uint8=uint8, bool=bool)


class UnconnectedGradients(str, enum.Enum):
    """What ``tape.gradient`` gives a source the target does not depend on: NONE (None,
    the default) or ZERO (zeros of the source's shape)."""

    NONE = "none"
    ZERO = "zero"


# ------------------------------------------------------------------------ tensors, ops

class Variable(autodiff.Variable):
    """``tf.Variable(initial_value, trainable=True, name=None, dtype=None)``: the tape's
    Variable with TensorFlow's argument order (the second positional one is trainable)."""

    __slots__ = ()

    def __init__(self, initial_value, trainable=True, *, name=None, dtype=None):
        super().__init__(initial_value, dtype=dtype, trainable=trainable, name=name)


def identity(x):
    """A tensor with x's value; gradients pass through unchanged (VJP: g)."""
    return add(x, zeros_like(x))


def matmul(a, b, transpose_a=False, transpose_b=False):
    """``tf.matmul``: the matrix product of tensors of rank >= 2 (batch axes broadcast),
    of a's or b's transpose (last two axes swapped) if asked.

    For rows O (B, n_in) and weights W (n_in, n_out), x = O W; VJPs g W^T and O^T g.
    """
    a, b = autodiff.convert_to_tensor(a), autodiff.convert_to_tensor(b)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul needs tensors of rank >= 2 (In[0] {a.shape}, In[1] "
                         f"{b.shape}); reshape a vector to a (1, n) or (n, 1) matrix")
    a = _swap_last(a) if transpose_a else a
    b = _swap_last(b) if transpose_b else b
    return autodiff.matmul(a, b)


def _swap_last(x):
    perm = list(builtins.range(x.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return transpose(x, perm)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None):
    """``tf.one_hot`` (axis -1 only): shape indices.shape + (depth,), ``on_value`` (1) at
    each index and ``off_value`` (0) elsewhere; float32 unless ``dtype`` or on_value's
    dtype says otherwise. An index outside [0, depth) gives a row of off_value."""
    if axis not in (None, -1):
        raise ValueError(f"one_hot supports axis=-1 only, got axis={axis}")
    if dtype is None:
        dtype = constant(on_value).dtype if on_value is not None else float32
    return autodiff.one_hot(indices, depth, 1 if on_value is None else on_value,
                            0 if off_value is None else off_value, dtype=dtype)


def shape(x):
    """x's shape as an int32 tensor (``tf.shape``; ``x.shape`` is the tuple)."""
    return constant(np.array(np.shape(autodiff.tensor._value_of(x)), np.int32))


def size(x):
    """The number of entries of x, an int32 tensor."""
    return constant(np.int32(np.size(autodiff.tensor._value_of(x))))


def rank(x):
    """The number of axes of x, an int32 tensor."""
    return constant(np.int32(np.ndim(autodiff.tensor._value_of(x))))


def fill(dims, value):
    """A tensor of shape ``dims`` holding ``value`` everywhere (value's dtype)."""
    value = constant(value)
    return constant(np.full(tuple(dims), value.numpy(), value.dtype))


def leaky_relu(features, alpha=0.2):
    """``tf.nn.leaky_relu``: x if x > 0 else alpha x, with alpha rounded to float32 as
    TensorFlow stores it (a float attribute of its op): in float64, 0.2 acts as
    0.20000000298. ``backprop.tf.autodiff.nn.leaky_relu`` uses alpha as given."""
    return _nn.leaky_relu(features, float(np.float32(alpha)))


pow = autodiff.power  # noqa: A001 (TensorFlow's names)
abs = autodiff.absolute  # noqa: A001
range = autodiff.arange  # noqa: A001

# ------------------------------------------------------------------------- namespaces

nn = types.SimpleNamespace(
    sigmoid=_nn.sigmoid, tanh=_nn.tanh, relu=_nn.relu, leaky_relu=leaky_relu,
    softmax=_nn.softmax, log_softmax=_nn.log_softmax,
    softmax_cross_entropy_with_logits=_nn.softmax_cross_entropy_with_logits)
nn.__doc__ = "``tf.nn``: activations and softmax cross-entropy on logits (``backprop.tf.autodiff.nn``)."

losses = types.SimpleNamespace(
    MSE=_nn.mse, mse=_nn.mse,
    categorical_crossentropy=_nn.categorical_crossentropy,
    sparse_categorical_crossentropy=_nn.sparse_categorical_crossentropy,
    binary_crossentropy=_nn.binary_crossentropy)
losses.__doc__ = ("``tf.losses``: Keras's loss functions, one value per sample "
                  "(``backprop.tf.autodiff.nn``).")

math = types.SimpleNamespace(  # tf.math.log is there; TensorFlow 2 has no tf.log
    add=add, subtract=subtract, multiply=multiply, divide=divide, pow=pow, negative=negative,
    abs=abs, exp=exp, log=autodiff.log, log1p=autodiff.log1p, sqrt=sqrt, square=square,
    maximum=maximum,
    minimum=minimum, sigmoid=sigmoid, tanh=tanh, equal=equal, not_equal=not_equal, less=less,
    less_equal=less_equal, greater=greater, greater_equal=greater_equal,
    reduce_sum=reduce_sum, reduce_mean=reduce_mean, reduce_max=reduce_max,
    reduce_min=reduce_min, argmax=argmax, argmin=argmin)
math.__doc__ = "``tf.math``: the elementwise ops and reductions under their tf.math names."

linalg = types.SimpleNamespace(matmul=matmul, norm=norm)
linalg.__doc__ = "``tf.linalg``: matmul and norm."

del enum, types
