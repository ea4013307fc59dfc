"""Losses: each owns its value E and its gradient dE/dO.

Protocol: ``E = loss.forward(O, t)`` returns the batch loss as a Python float and keeps
dE/dO, which ``loss.backward()`` returns (an array owned by the loss, overwritten by the
next forward). The batch reduction is defined once, here: E is the MEAN over the B
samples of a per-sample loss E_n, so dE/dO carries the factor 1/B.

Per-sample losses (K outputs per sample):

- MSE, reduction="half_sum" (the derivation): E_n = 1/2 sum_k (O_k - t_k)^2,
  dE_n/dO_k = O_k - t_k.
- MSE, reduction="mean" (TensorFlow's ``tf.keras.losses.mse``): E_n = 1/K sum_k (O_k - t_k)^2.
- SoftmaxCrossEntropy, from logits z: E_n = -sum_k t_k log p_k with p = softmax(z), whose
  gradient collapses to dE_n/dz = p - t (when sum_k t_k = 1).
- CategoricalCrossEntropy, on probabilities p: E_n = -sum_k t_k log p_k, dE_n/dp = -t / p.
- BinaryCrossEntropy: E_n = -1/K sum_k [t_k log O_k + (1 - t_k) log(1 - O_k)], on
  probabilities or (from_logits=True) on logits.

Targets t are dense (B, K) arrays, or integer class labels (B,) which are one-hot encoded
(SoftmaxCrossEntropy uses labels directly). ``sigmoid_mse_delta`` and ``softmax_xent_delta``
are the fused output deltas of the derivation; tests check each against the generic chain.

Guardrails: each loss warns once per line of the caller's code (``InputWarning``, naming
the fix) for the classic mistakes: probabilities losses given no probabilities (a
forgotten softmax or sigmoid), SoftmaxCrossEntropy given rows that already are
probabilities (softmax twice), targets holding NaN or Inf. Each check is one pass over the
(B, K) outputs or targets (min, max or row sums), small beside a step's products
(docs/performance.md); E and dE/dO are what they would be without it.
"""
from functools import partial

import numpy as np

from . import kernels
from .activations import Sigmoid
from .batches import check_labels, one_hot
from .layers import check_dtype, warn, warn_if_not_finite


ROW_SUM_TOLERANCE = 1e-3  # |sum_k p_k - 1| a probability row may show (float32 softmax: ~1e-6)


def _check_outputs(O, what):
    if not isinstance(O, np.ndarray) or O.ndim != 2 or O.shape[0] < 1:
        shape = getattr(O, "shape", type(O).__name__)
        raise ValueError(f"{what} must be a 2-D array (B, K) with B >= 1, got {shape}")
    check_dtype(O.dtype)
    return np.ascontiguousarray(O)


def _labels_for(t, O):
    """Class labels t for the (B, K) outputs O, checked (``check_labels``), as intp."""
    B, K = O.shape
    return np.ascontiguousarray(check_labels(t, K, B), dtype=np.intp)


def _not_probabilities(p):
    """Whether some row of p is surely no probability vector: an entry outside [0, 1], or
    a row sum off 1 by more than ROW_SUM_TOLERANCE (NaN makes neither true)."""
    return bool(p.min() < 0 or p.max() > 1
                or np.any(np.abs(p.sum(axis=1) - 1) > ROW_SUM_TOLERANCE))


def _dense_targets(O, t):
    """t as a (B, K) array in O's dtype; integer labels (B,) become one-hot rows."""
    B, K = O.shape
    t = np.asarray(t)
    if t.ndim == 1 and t.dtype.kind in "iu":
        return one_hot(_labels_for(t, O), K, O.dtype)
    if t.shape != O.shape:
        raise ValueError(f"targets must have the outputs' shape {O.shape} (or be integer "
                         f"labels of shape ({B},)), got {t.shape}")
    if t.dtype.kind not in "fiub":
        raise ValueError(f"targets must be numeric, got dtype {t.dtype}")
    warn_if_not_finite(t, "the target batch given to the loss", "t")
    return np.ascontiguousarray(t, dtype=O.dtype)


class Loss:
    """Base class: E = 1/B sum_n E_n; ``forward`` returns E, ``backward`` dE/dO."""

    name = "loss"

    def __init__(self):
        self._dE_dO = None

    def forward(self, O, t):
        raise NotImplementedError

    def __call__(self, O, t):
        return self.forward(O, t)

    def backward(self):
        """dE/dO of the last forward, shape (B, K)."""
        if self._dE_dO is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._dE_dO

    def fused_delta(self, activation):
        """The output layer's delta step fused with this loss, for an output layer with
        ``activation``: a function ``(delta, db)`` that writes delta = dE/dz and dE/db of
        the last forward in one pass, or None where the pair has no fused form (then the
        layer chains f'(z) * dE/dO)."""
        return None

    def _gradient_buffer(self, O):
        if self._dE_dO is None or self._dE_dO.shape != O.shape or self._dE_dO.dtype != O.dtype:
            self._dE_dO = np.empty_like(O)
        return self._dE_dO

    def config(self):
        """The name and settings that rebuild this loss with ``get_loss``."""
        return {"name": self.name}

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({settings})"


class MSE(Loss):
    """Mean squared error, in the derivation's or TensorFlow's form.

    reduction="half_sum":  E = 1/B sum_n 1/2 sum_k (O_k - t_k)^2,  dE/dO = (O - t) / B.
    reduction="mean":      E = 1/B sum_n 1/K sum_k (O_k - t_k)^2,  dE/dO = 2 (O - t) / (B K).
    """

    name = "mse"
    REDUCTIONS = ("half_sum", "mean")

    def __init__(self, reduction="half_sum"):
        super().__init__()
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"unknown MSE reduction {reduction!r}; expected one of: "
                             f"{', '.join(self.REDUCTIONS)}")
        self.reduction = reduction
        self._last = None  # (O, t, c) of the last forward, for the fused delta

    def forward(self, O, t):
        O = _check_outputs(O, "MSE outputs O")
        t = _dense_targets(O, t)
        B, K = O.shape
        c = O.dtype.type(1 / (2 * B) if self.reduction == "half_sum" else 1 / (B * K))
        self._last = (O, t, c)
        # E = c sum (O - t)^2;  dE/dO = 2 c (O - t)
        return kernels.backend().squared_error(O, t, c, self._gradient_buffer(O))

    def fused_delta(self, activation):
        """For sigmoid outputs and the half-sum MSE, the derivation's output delta
        delta_k = O_k (1 - O_k)(O_k - t_k) / B in one pass (``sigmoid_mse_delta_db``)."""
        if self.reduction != "half_sum" or type(activation) is not Sigmoid or self._last is None:
            return None
        O, t, c = self._last
        return lambda delta, db: kernels.backend().sigmoid_mse_delta_db(O, t, c, delta, db)

    def config(self):
        return {"name": self.name, "reduction": self.reduction}


class SoftmaxCrossEntropy(Loss):
    """Softmax cross-entropy from logits z (the network's last layer is linear).

    p = softmax(z);  E = -1/B sum_n sum_k t_k log p_k;  dE/dz = (p - t) / B.

    The softmax Jacobian p_i (delta_ij - p_j) times dE/dp = -t/p collapses to p - t, so
    the last layer's delta is computed in one fused pass, without forming p's Jacobian.
    For soft targets (rows not summing to 1) the kernel uses the general
    dE/dz = (p sum_k t_k - t) / B. Targets: integer labels (B,) or a (B, K) array.
    """

    name = "softmax_cross_entropy"

    def forward(self, z, t):
        z = _check_outputs(z, "SoftmaxCrossEntropy logits")
        self.warn_if_probabilities(z)
        delta = self._gradient_buffer(z)
        t = np.asarray(t)
        if t.ndim == 1:
            labels = _labels_for(t, z)
            return kernels.backend().softmax_cross_entropy_labels(z, labels, delta)
        return kernels.backend().softmax_cross_entropy_dense(z, _dense_targets(z, t), delta)

    @staticmethod
    def warn_if_probabilities(z):
        """Warn if every row of the logits z is already a probability vector."""
        if z.shape[1] > 1 and z.min() >= 0 and not _not_probabilities(z):  # min: one pass
            warn("SoftmaxCrossEntropy takes logits and applies the softmax itself, and every "
                 "row it was given is already a probability vector: is the last layer a "
                 "softmax? (Softmax twice crowds the outputs toward 1/K and stalls "
                 "training.) Drop the last layer's activation, or keep it and use "
                 "CategoricalCrossEntropy (\"categorical_ce\")")


class CategoricalCrossEntropy(Loss):
    """Cross-entropy on probabilities p (after a softmax layer), or on logits.

    E = -1/B sum_n sum_k t_k log p_k;  dE/dp = -t / (p B), with p clipped to [eps, 1].
    Chained through the softmax layer's Jacobian this gives the same (p - t)/B as
    ``SoftmaxCrossEntropy`` (a test checks it). ``from_logits=True`` is
    ``SoftmaxCrossEntropy``.
    """

    name = "categorical_cross_entropy"

    def __init__(self, from_logits=False, eps=1e-7):
        super().__init__()
        self.from_logits = bool(from_logits)
        self.eps = float(eps)
        self._fused = SoftmaxCrossEntropy() if self.from_logits else None

    def forward(self, p, t):
        if self._fused is not None:
            E = self._fused.forward(p, t)
            self._dE_dO = self._fused.backward()
            return E
        p = _check_outputs(p, "CategoricalCrossEntropy probabilities")
        if _not_probabilities(p):
            warn("CategoricalCrossEntropy takes probabilities (rows in [0, 1] summing to 1), "
                 "and a row it was given is none: has the last layer no softmax? Add "
                 "activation=\"softmax\" to it, or give the logits to SoftmaxCrossEntropy "
                 "(\"ce\", or CategoricalCrossEntropy(from_logits=True))")
        t = _dense_targets(p, t)
        B = p.shape[0]
        p_clipped = np.clip(p, self.eps, 1)
        self._gradient_buffer(p)[...] = -t / (p_clipped * B)
        return float(-np.sum(t * np.log(p_clipped), dtype=np.float64) / B)

    def config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, averaged over the K outputs and the B samples.

    On probabilities O (after a sigmoid):  E = -1/(B K) sum [t log O + (1 - t) log(1 - O)],
    dE/dO = (O - t) / (O (1 - O) B K), with O clipped to [eps, 1 - eps].
    From logits z (from_logits=True):  E = 1/(B K) sum [max(z, 0) - z t + log(1 + e^{-|z|})],
    dE/dz = (sigmoid(z) - t) / (B K).
    """

    name = "binary_cross_entropy"

    def __init__(self, from_logits=False, eps=1e-7):
        super().__init__()
        self.from_logits = bool(from_logits)
        self.eps = float(eps)

    def forward(self, O, t):
        O = _check_outputs(O, "BinaryCrossEntropy outputs")
        if not self.from_logits and (O.min() < 0 or O.max() > 1):
            warn("BinaryCrossEntropy takes probabilities in [0, 1], and it was given values "
                 "outside: has the last layer no sigmoid? Add activation=\"sigmoid\" to it, "
                 "or give the logits to BinaryCrossEntropy(from_logits=True) (\"bce_logits\")")
        t = _dense_targets(O, t)
        c = O.dtype.type(1 / O.size)
        k = kernels.backend()
        if self.from_logits:
            return k.sigmoid_cross_entropy_logits(O, t, c, self._gradient_buffer(O))
        return k.binary_cross_entropy(O, t, c, O.dtype.type(self.eps), self._gradient_buffer(O))

    def config(self):
        return {"name": self.name, "from_logits": self.from_logits}


LOSSES = {  # every name a loss is known by, in the library and on the command line
    "mse": MSE,                                    # the derivation's 1/2 sum
    "mse_mean": partial(MSE, reduction="mean"),    # TensorFlow's mean
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "ce": SoftmaxCrossEntropy,
    "categorical_cross_entropy": CategoricalCrossEntropy,
    "categorical_ce": CategoricalCrossEntropy,
    "binary_cross_entropy": BinaryCrossEntropy,
    "bce": BinaryCrossEntropy,
    "bce_logits": partial(BinaryCrossEntropy, from_logits=True),
}


def get_loss(loss, **kwargs):
    """A Loss from a name in ``LOSSES`` (any case) or an instance; keyword arguments
    override a name's settings."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in LOSSES:
        return LOSSES[loss.lower()](**kwargs)
    raise ValueError(f"unknown loss {loss!r}; expected one of: {', '.join(LOSSES)}")


# ------------------------------------------------------------------ fused output deltas


def sigmoid_mse_delta(O, t):
    """The derivation's output delta for sigmoid + MSE (1/2 sum), averaged over the batch.

    delta_k = O_k (1 - O_k) (O_k - t_k) / B

    The kernel ``sigmoid_mse_delta_db`` that ``MSE.fused_delta`` gives the output layer
    in training, as a function of sigmoid outputs O (B, K) and targets t; a new array.
    """
    O = _check_outputs(np.asarray(O), "sigmoid outputs O")
    t = _dense_targets(O, t)
    delta, db = np.empty_like(O), np.empty(O.shape[1], O.dtype)
    kernels.backend().sigmoid_mse_delta_db(O, t, O.dtype.type(1 / (2 * O.shape[0])), delta, db)
    return delta


def softmax_xent_delta(z, t):
    """The output delta of softmax + cross-entropy from logits: delta = (p - t) / B."""
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return (p - t) / z.shape[0]
