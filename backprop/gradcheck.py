"""Numeric gradient checks: the hand-written gradients against central differences.

For a scalar E(theta), the central difference

    dE/dtheta_i ~ (E(theta + h e_i) - E(theta - h e_i)) / (2 h)

has error O(h^2) from truncation plus ~eps E / h from rounding, so it runs in float64
with h = 1e-6. The agreement of an analytic gradient a with the numeric n is measured as

    relative error = max_i |a_i - n_i| / max(1e-8, max_i |a_i| + max_i |n_i|)

and the report names the worst entry i. Three levels: a loss (dE/dO), one layer against a
random upstream gradient G (E = sum G * O, checking dW, db and dE/dx), and a whole model
over its flattened parameter vector theta = [W1, b1, W2, b2, ...]. ``three_way`` adds a
third opinion for a model: the same network written as operations of the reverse-mode
tape (``backprop.autodiff``), differentiated automatically, with no delta rule involved.

ReLU kinks: the central difference is wrong where a net input z is within h of 0 (the
derivative jumps there). The reports give ``kink_margin``, the smallest |z| of any
ReLU-family layer, so a check can confirm its samples stay well away from the kinks.
"""
from dataclasses import dataclass, field

import numpy as np

from .model import split_like

DEFAULT_H = 1e-6
DEFAULT_BOUND = 1e-6


def relative_error(analytic, numeric):
    """max|a - n| / max(1e-8, max|a| + max|n|)."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = max(1e-8, float(np.max(np.abs(a), initial=0) + np.max(np.abs(n), initial=0)))
    return float(np.max(np.abs(a - n), initial=0)) / scale


def numeric_gradient(f, x, h=DEFAULT_H):
    """dE/dx by central differences; ``f()`` evaluates E with ``x`` perturbed in place.

    x must be a float64 array; it is restored entry by entry.
    """
    if x.dtype != np.float64:
        raise ValueError(f"numeric gradients need float64 arrays, got {x.dtype}")
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        e_plus = f()
        flat[i] = old - h
        e_minus = f()
        flat[i] = old
        gflat[i] = (e_plus - e_minus) / (2 * h)
    return grad


@dataclass
class Check:
    """One gradient compared: name, relative error, and the worst entry."""

    name: str
    shape: tuple
    error: float
    worst_index: tuple
    analytic: float
    numeric: float


@dataclass
class GradcheckReport:
    """The checks of one object, each with its relative error against ``bound``."""

    checks: list
    bound: float = DEFAULT_BOUND
    h: float = DEFAULT_H
    kink_margin: float = float("inf")
    notes: list = field(default_factory=list)

    @property
    def max_error(self):
        return max(c.error for c in self.checks)

    @property
    def ok(self):
        return self.max_error <= self.bound

    def __str__(self):
        head = f"{'gradient':<12}{'shape':<14}{'rel. error':>12}  {'worst at':<12}{'analytic':>14}{'numeric':>14}"
        lines = [head, "-" * len(head)]
        for c in self.checks:
            flag = "" if c.error <= self.bound else "  FAIL"
            lines.append(f"{c.name:<12}{str(c.shape):<14}{c.error:>12.2e}  {str(c.worst_index):<12}"
                         f"{c.analytic:>14.6e}{c.numeric:>14.6e}{flag}")
        verdict = "ok" if self.ok else "FAILED"
        lines.append(f"max relative error {self.max_error:.2e} (bound {self.bound:.0e}, "
                     f"h = {self.h:.0e}): {verdict}")
        if np.isfinite(self.kink_margin):
            lines.append(f"closest ReLU net input to the kink: |z| = {self.kink_margin:.2e}")
        lines += self.notes
        return "\n".join(lines)


def compare(name, analytic, numeric):
    """A Check of ``analytic`` against ``numeric``, naming the worst entry."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    worst = np.unravel_index(int(np.argmax(np.abs(a - n))), a.shape) if a.size else ()
    return Check(name, a.shape, relative_error(a, n), tuple(int(i) for i in worst),
                 float(a[worst]) if a.size else 0.0, float(n[worst]) if a.size else 0.0)


def _require_float64(what, dtype):
    if dtype != np.float64:
        raise ValueError(f"gradient checks run in float64; {what} is {dtype}")


def _kink_margin(layers):
    margin = float("inf")
    for layer in layers:
        if layer.activation.caches == "z" and layer.cache is not None:
            margin = min(margin, float(np.min(np.abs(layer.cache))))
    return margin


def check_loss(loss, O, t, h=DEFAULT_H, bound=DEFAULT_BOUND):
    """dE/dO of ``loss`` at outputs O (float64) and targets t, against central differences."""
    O = np.array(O, dtype=np.float64)
    loss.forward(O, t)
    analytic = loss.backward().copy()
    numeric = numeric_gradient(lambda: loss.forward(O, t), O, h)
    return GradcheckReport([compare("dE/dO", analytic, numeric)], bound, h)


def check_layer(layer, x, seed=0, h=DEFAULT_H, bound=DEFAULT_BOUND):
    """dW, db and dE/dx of one layer for E = sum(G * O), G a random upstream gradient."""
    _require_float64("the layer", layer.dtype)
    x = np.array(x, dtype=np.float64)
    O = layer.forward(x)
    G = np.random.default_rng(seed).standard_normal(O.shape)
    dE_dx = layer.backward(G).copy()
    margin = _kink_margin([layer])
    analytic = {"W": layer.dW.copy(), "b": layer.db.copy(), "x": dE_dx}

    def E():
        return float(np.sum(G * layer.predict(x)))

    checks = [compare(f"dE/d{name}", analytic[name], numeric_gradient(E, array, h))
              for name, array in (("W", layer.W), ("b", layer.b), ("x", x))]
    return GradcheckReport(checks, bound, h, margin)


def _model_gradients(model, loss, x, t, h):
    """The delta rule's gradients and the numeric ones, both over the flat vector
    theta = [W1, b1, W2, ...] (``model.params``, perturbed in place), and the kink margin."""
    _require_float64("the model", model.dtype)
    x = np.asarray(x, dtype=np.float64)
    loss.forward(model.forward(x), t)
    model.backward(loss)
    analytic = model.grads.copy()
    numeric = numeric_gradient(lambda: loss.forward(model.predict(x), t), model.params, h)
    return analytic, numeric, _kink_margin(model.layers)


def check_model(model, loss, x, t, h=DEFAULT_H, bound=DEFAULT_BOUND):
    """Every parameter gradient of ``model`` under ``loss``, over the flattened theta."""
    analytic, numeric, margin = _model_gradients(model, loss, x, t, h)
    shapes = model.named_params()
    checks = [compare(f"dE/d{name}", a, n) for name, a, n in
              zip(shapes, split_like(analytic, shapes.values()), split_like(numeric, shapes.values()))]
    return GradcheckReport(checks, bound, h, margin)


def tape_gradients(model, loss, x, t):
    """dE/dW and dE/db of every layer by the reverse-mode tape.

    The network is rewritten with tape operations, O = f(O_prev @ W + b) and the loss's
    formula, and ``GradientTape.gradient`` differentiates it; no delta rule is involved.
    """
    from . import autodiff as ad
    from . import nn
    from .losses import (MSE, BinaryCrossEntropy, CategoricalCrossEntropy,
                         SoftmaxCrossEntropy)
    from .data.batches import one_hot

    activations = {"identity": lambda z, act: z, "sigmoid": lambda z, act: nn.sigmoid(z),
                   "tanh": lambda z, act: nn.tanh(z), "relu": lambda z, act: nn.relu(z),
                   "leaky_relu": lambda z, act: nn.leaky_relu(z, alpha=act.alpha),
                   "softmax": lambda z, act: nn.softmax(z, axis=-1)}
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t)
    T = one_hot(t, model.n_out, np.float64) if t.ndim == 1 else t.astype(np.float64)
    variables = [ad.Variable(p.astype(np.float64)) for p in model.named_params().values()]
    with ad.GradientTape() as tape:
        O = ad.constant(x)
        for i, layer in enumerate(model.layers):
            W, b = variables[2 * i], variables[2 * i + 1]
            O = activations[layer.activation.name](ad.matmul(O, W) + b, layer.activation)
        if isinstance(loss, MSE) and loss.reduction == "half_sum":
            per_sample = 0.5 * ad.reduce_sum(ad.square(O - T), axis=-1)
        elif isinstance(loss, MSE):
            per_sample = nn.mse(T, O)
        elif isinstance(loss, SoftmaxCrossEntropy) or (
                isinstance(loss, CategoricalCrossEntropy) and loss.from_logits):
            per_sample = nn.categorical_crossentropy(T, O, from_logits=True)
        elif isinstance(loss, CategoricalCrossEntropy):
            per_sample = -ad.reduce_sum(T * ad.log(O), axis=-1)
        elif isinstance(loss, BinaryCrossEntropy):
            per_sample = nn.binary_crossentropy(T, O, from_logits=loss.from_logits)
        else:
            raise ValueError(f"no tape formula for {type(loss).__name__}")
        E = ad.reduce_mean(per_sample)  # the batch mean, as every engine loss
    return [g.numpy() for g in tape.gradient(E, variables)]


@dataclass
class ThreeWayReport:
    """Per parameter: delta rule vs tape, delta rule vs numeric, tape vs numeric."""

    rows: list  # (name, shape, Check delta-vs-tape, Check delta-vs-numeric, Check tape-vs-numeric)
    bound: float = DEFAULT_BOUND
    h: float = DEFAULT_H
    kink_margin: float = float("inf")

    @property
    def max_error(self):
        return max(c.error for row in self.rows for c in row[2:])

    @property
    def ok(self):
        return self.max_error <= self.bound

    def __str__(self):
        head = (f"{'parameter':<10}{'shape':<12}{'delta rule vs tape':>20}"
                f"{'delta rule vs numeric':>23}{'tape vs numeric':>17}")
        lines = [head, "-" * len(head)]
        for name, shape, *checks in self.rows:
            flag = "" if max(c.error for c in checks) <= self.bound else "  FAIL"
            lines.append(f"{name:<10}{str(shape):<12}{checks[0].error:>20.2e}"
                         f"{checks[1].error:>23.2e}{checks[2].error:>17.2e}{flag}")
        lines.append(f"max relative error {self.max_error:.2e} (bound {self.bound:.0e}, "
                     f"central differences with h = {self.h:.0e}): "
                     f"{'ok' if self.ok else 'FAILED'}")
        if np.isfinite(self.kink_margin):
            lines.append(f"closest ReLU net input to the kink: |z| = {self.kink_margin:.2e}")
        return "\n".join(lines)


def three_way(model, loss, x, t, h=DEFAULT_H, bound=DEFAULT_BOUND):
    """Compare the delta rule, the tape and central differences for every parameter."""
    analytic, numeric, margin = _model_gradients(model, loss, x, t, h)
    shapes = model.named_params()
    delta_rule = split_like(analytic, shapes.values())
    numeric = split_like(numeric, shapes.values())
    tape = tape_gradients(model, loss, x, t)
    rows = [(name, a.shape, compare(name, a, g), compare(name, a, n), compare(name, g, n))
            for name, a, g, n in zip(shapes, delta_rule, tape, numeric)]
    return ThreeWayReport(rows, bound, h, margin)


# ------------------------------------------------------------ test problems for the checks

# loss name (in ``losses.LOSSES``) -> the output activation it is meant for
OUTPUT_ACTIVATIONS = {"ce": "identity", "mse": "sigmoid", "mse_mean": "sigmoid",
                      "categorical_ce": "softmax", "bce": "sigmoid", "bce_logits": "identity"}
PROBABILITY_LOSSES = ("bce", "categorical_ce")  # defined on outputs in (0, 1) only


def keep_away_from_kinks(model, x, min_margin=1000 * DEFAULT_H, seed=0, tries=50):
    """Redraw the biases of a model until no ReLU-family net input lies within
    ``min_margin`` of 0, where the derivative jumps and a central difference straddling
    the jump is meaningless. Returns the margin reached."""
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        model.forward(x)
        margin = _kink_margin(model.layers)
        if margin > min_margin:
            return margin
        for layer in model.layers:
            layer.b[...] = rng.uniform(-0.3, 0.3, layer.b.shape)
    raise ValueError(f"could not keep the net inputs {min_margin:g} away from the ReLU kink")


def check_problem(hidden=(5, 4), activation="relu", loss="ce", output=None, batch=4,
                  n_in=6, n_out=3, seed=0):
    """A small float64 MLP with inputs and targets for ``loss`` (a key of
    OUTPUT_ACTIVATIONS), its ReLU net inputs kept away from the kinks. Returns
    (model, loss, x, t)."""
    if loss not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"unknown loss {loss!r}; expected one of: {', '.join(OUTPUT_ACTIVATIONS)}")
    from .losses import get_loss
    default_output = OUTPUT_ACTIVATIONS[loss]
    if loss in PROBABILITY_LOSSES and (output or default_output) not in ("sigmoid", "softmax"):
        raise ValueError(f"loss {loss} takes probabilities in (0, 1): the output activation "
                         f"must be sigmoid or softmax, not {output}")
    from .model import Sequential
    rng = np.random.default_rng(seed)
    model = Sequential.mlp([n_in, *hidden, n_out], activation=activation,
                           output_activation=output or default_output, rng=rng, dtype=np.float64)
    x = rng.normal(size=(batch, n_in))
    if loss in ("ce", "categorical_ce"):
        t = rng.integers(0, n_out, batch)
    elif loss.startswith("bce"):
        t = rng.integers(0, 2, (batch, n_out)).astype(np.float64)
    else:
        t = rng.normal(size=(batch, n_out))
    keep_away_from_kinks(model, x, seed=seed)
    return model, get_loss(loss), x, t


def gradcheck(obj, *args, **kwargs):
    """Check a loss, a layer or a model; returns a GradcheckReport (see ``report.ok``).

    gradcheck(loss, O, t);  gradcheck(layer, x);  gradcheck(model, loss, x, t)
    """
    from .layers import Dense
    from .losses import Loss
    from .model import Sequential
    if isinstance(obj, Sequential):
        return check_model(obj, *args, **kwargs)
    if isinstance(obj, Dense):
        return check_layer(obj, *args, **kwargs)
    if isinstance(obj, Loss):
        return check_loss(obj, *args, **kwargs)
    raise ValueError(f"gradcheck takes a Sequential, a Dense layer or a Loss, got {type(obj).__name__}")
