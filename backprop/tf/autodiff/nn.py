"""``bp.tf.autodiff.nn``: activations and losses as tape ops, named and defined as in TensorFlow.

This module owns the tape's versions of the tutorial's ``tf.nn`` / ``tf.losses`` calls
(``tf.sigmoid``, ``tf.nn.softmax``, ``tf.losses.MSE``, ``tf.losses.categorical_crossentropy``).
They are what the hand-written engine (``activations.py``, ``losses.py``) is checked
against, so they follow TensorFlow's conventions, not the derivation's:

- ``relu``'s gradient at exactly 0 is 0 (TensorFlow and PyTorch); the hand-written engine
  uses the derivation's relu'(0) = 1. Away from 0 they agree.
- ``mse`` is TensorFlow's mean over the last axis, not the derivation's 1/2 sum, and
  like Keras it first brings y_true and y_pred to one rank: y_true of shape (B,) beside
  y_pred of shape (B, 1) is read as (B, 1), not broadcast to (B, B).
- ``categorical_crossentropy`` is Keras's: per sample over the last axis; probabilities
  are rescaled to sum to 1 and clipped to [1e-7, 1 - 1e-7] unless ``from_logits``. It
  and ``binary_crossentropy`` refuse y_true and y_pred of different shapes (ValueError,
  as Keras) instead of broadcasting them.
- The activations but relu and leaky_relu refuse integer tensors (TypeError), as
  TensorFlow does.

Each activation is one recorded op whose VJP is written in terms of its output O
(g = dE/dO upstream), so nested tapes differentiate it again.
"""
import numpy as np

from . import (_as_tensor, _op, add, cast, clip_by_value, divide, exp, expand_dims, log, log1p,
               multiply, negative, one_hot, reduce_mean, reduce_sum, square, squeeze, subtract,
               where)


__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "log_softmax", "mse", "MSE",
    "mean_squared_error", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "binary_crossentropy", "softmax_cross_entropy_with_logits", "EPSILON",
]

EPSILON = 1e-7
"""Keras's fuzz factor: probabilities are clipped to [EPSILON, 1 - EPSILON] before log."""


# ---------------------------------------------------------------------------- activations

def _floating(x, name):
    """x as a Tensor; TypeError unless it is floating (TensorFlow's kernels take no ints)."""
    x = _as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name} takes a floating-point tensor, got {x.dtype}; cast it first")
    return x


def sigmoid(x):
    """O = 1 / (1 + e^-x). VJP: g O (1 - O).

    Computed without overflow for large |x|: e^-|x| is at most 1.
    """
    x = _floating(x, "sigmoid")
    e = np.exp(-np.abs(x._value))
    value = np.where(x._value >= 0, 1 / (1 + e), e / (1 + e))   # 1/(1+e^-x) = e^x/(1+e^x)
    out = _op(value.astype(x.dtype), (x,),
              (lambda g: multiply(g, multiply(out, subtract(1, out))),))   # g O (1 - O)
    return out


def tanh(x):
    """O = tanh(x). VJP: g (1 - O^2)."""
    x = _floating(x, "tanh")
    out = _op(np.tanh(x._value), (x,),
              (lambda g: multiply(g, subtract(1, multiply(out, out))),))   # g (1 - O^2)
    return out


def relu(x):
    """O = max(x, 0). VJP: g where x > 0, else 0.

    At x = 0 exactly the gradient is 0, as in TensorFlow and PyTorch. The hand-written
    engine uses the derivation's convention relu'(0) = 1 instead.
    """
    x = _as_tensor(x)
    slope = (x._value > 0).astype(x.dtype)                 # relu'(x) = 1 if x > 0 else 0
    return _op(np.maximum(x._value, 0), (x,), (lambda g: multiply(g, slope),))


def leaky_relu(x, alpha=0.2):
    """O = x if x > 0 else alpha x. VJP: g times 1 or alpha (alpha at x = 0, as in TF).

    alpha is used as given (``backprop.tf.nn.leaky_relu`` rounds it to float32, as
    TensorFlow does).
    """
    x = _as_tensor(x)
    slope = np.where(x._value > 0, 1, alpha).astype(x.dtype)
    return _op(x._value * slope, (x,), (lambda g: multiply(g, slope),))


def softmax(logits, axis=-1):
    """p_i = e^(a_i) / sum_j e^(a_j) along ``axis``.

    Jacobian dp_i/da_j = p_i (delta_ij - p_j), so the VJP is p * (g - sum_j g_j p_j).
    The max is subtracted first so exp cannot overflow (softmax is shift-invariant).
    """
    a = _floating(logits, "softmax")
    e = np.exp(a._value - np.max(a._value, axis=axis, keepdims=True))
    out = _op(e / np.sum(e, axis=axis, keepdims=True), (a,),
              (lambda g: multiply(out, subtract(g, reduce_sum(multiply(g, out), axis,
                                                              keepdims=True))),))
    return out


def log_softmax(logits, axis=-1):
    """log p_i = a_i - log sum_j e^(a_j), computed stably. VJP: g - p * sum_j g_j."""
    a = _floating(logits, "log_softmax")
    shifted = a._value - np.max(a._value, axis=axis, keepdims=True)
    value = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    out = _op(value, (a,),
              (lambda g: subtract(g, multiply(exp(out), reduce_sum(g, axis, keepdims=True))),))
    return out


# --------------------------------------------------------------------------------- losses

def _same_rank(y_true, y_pred):
    """Keras's ``squeeze_or_expand_to_same_rank``: when the ranks differ by one and the
    longer one ends in an axis of length 1, a rank-1 partner gains that axis (y_true (B,)
    beside y_pred (B, 1) becomes (B, 1)); otherwise the longer one loses it."""
    for swap in (False, True):
        a, b = (y_pred, y_true) if swap else (y_true, y_pred)
        if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
            if b.ndim == 1:
                b = expand_dims(b, -1)
            else:
                a = squeeze(a, -1)
        y_true, y_pred = (b, a) if swap else (a, b)
    return y_true, y_pred


def _check_same_shape(y_true, y_pred):
    """Keras's check for the cross-entropies: one rank and one shape, no broadcasting."""
    if y_true.ndim != y_pred.ndim:
        raise ValueError(f"Arguments `target` and `output` must have the same rank (ndim). "
                         f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}")


def mse(y_true, y_pred):
    """TensorFlow's mean squared error: mean over the last axis of (y_pred - y_true)^2.

    Shape: y_pred.shape[:-1] (one value per sample). ``y_true`` is cast to y_pred's dtype
    and brought to its rank first, as Keras does: y_true (B,) with y_pred (B, 1) gives
    the B per-sample errors, not a (B, B) broadcast. (The derivation's
    E = 1/2 sum_k (O_k - t_k)^2 lives in the engine's losses.)
    """
    y_pred = _as_tensor(y_pred)
    y_true, y_pred = _same_rank(cast(y_true, y_pred.dtype), y_pred)
    return reduce_mean(square(subtract(y_pred, y_true)), axis=-1)


MSE = mean_squared_error = mse


def categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Keras's cross-entropy per sample: E = -sum_k t_k log p_k over ``axis``.

    Parameters
    ----------
    y_true : one-hot (or soft) targets t
    y_pred : probabilities p, or logits a when ``from_logits``
    from_logits : bool
        True: log p = log_softmax(a), stable for any logits. False: p is rescaled to sum
        to 1 and clipped to [1e-7, 1 - 1e-7] (Keras), so log never sees 0.
    """
    y_pred = _as_tensor(y_pred)
    y_true = cast(y_true, y_pred.dtype)
    _check_same_shape(y_true, y_pred)
    if from_logits:
        return negative(reduce_sum(multiply(y_true, log_softmax(y_pred, axis)), axis))
    p = divide(y_pred, reduce_sum(y_pred, axis, keepdims=True))
    p = clip_by_value(p, EPSILON, 1 - EPSILON)
    return negative(reduce_sum(multiply(y_true, log(p)), axis))     # -sum_k t_k log p_k


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """``categorical_crossentropy`` with integer class labels instead of one-hot rows.

    Labels of shape (B, 1) are read as (B,), as in Keras.
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = squeeze(y_true, -1)
    return categorical_crossentropy(one_hot(y_true, y_pred.shape[axis], dtype=y_pred.dtype),
                                    y_pred, from_logits=from_logits, axis=axis)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """``tf.nn.softmax_cross_entropy_with_logits``: -sum_k t_k log softmax(a)_k."""
    return categorical_crossentropy(labels, logits, from_logits=True, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Keras's binary cross-entropy, mean over the last axis.

    Probabilities: -(t log p + (1 - t) log(1 - p)) with p clipped to [1e-7, 1 - 1e-7].
    Logits z: max(z, 0) - z t + log(1 + e^-|z|), the same value without overflow.
    """
    y_pred = _as_tensor(y_pred)
    t = cast(y_true, y_pred.dtype)
    _check_same_shape(t, y_pred)
    if from_logits:
        z = y_pred
        # max(z, 0) and -|z| through one branch test, as TensorFlow does: at z = 0 their
        # kinks cancel (the loss is smooth), which separate max and abs rules would miss
        positive = z.numpy() >= 0
        relu_z = where(positive, z, 0)
        minus_abs_z = where(positive, negative(z), z)
        per_entry = add(subtract(relu_z, multiply(z, t)), log1p(exp(minus_abs_z)))
    else:
        p = clip_by_value(y_pred, EPSILON, 1 - EPSILON)
        per_entry = negative(add(multiply(t, log(p)),
                                 multiply(subtract(1, t), log(subtract(1, p)))))
    return reduce_mean(per_entry, axis=-1)
