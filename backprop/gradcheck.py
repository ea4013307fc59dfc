"""Numeric gradient checks: the hand-written gradients against central differences.

For a scalar E(theta), the central difference

    dE/dtheta_i ~ (E(theta + h e_i) - E(theta - h e_i)) / (2 h)

has error O(h^2) from truncation plus ~eps E / h from rounding, so it runs in float64
with h = 1e-6. The agreement of an analytic gradient a with the numeric n is measured as

    relative error = max_i |a_i - n_i| / max(1e-8, max_i |a_i| + max_i |n_i|)

and the report names the worst entry i. Three levels: a loss (dE/dO), one layer against a
random upstream gradient G (E = sum G * O, checking dW, db and dE/dx), and a whole model
over its flattened parameter vector theta = [W1, b1, W2, b2, ...].

ReLU kinks: the central difference is wrong where a net input z is within h of 0 (the
derivative jumps there). The reports give ``kink_margin``, the smallest |z| of any
ReLU-family layer, so a check can confirm its samples stay well away from the kinks.
"""
from dataclasses import dataclass, field

import numpy as np

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
        if layer.activation.caches == "z" and layer._cache is not None:
            margin = min(margin, float(np.min(np.abs(layer._cache))))
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


def check_model(model, loss, x, t, h=DEFAULT_H, bound=DEFAULT_BOUND):
    """Every parameter gradient of ``model`` under ``loss``, over the flattened theta."""
    _require_float64("the model", model.dtype)
    x = np.asarray(x, dtype=np.float64)
    loss.forward(model.forward(x), t)
    model.backward(loss.backward())
    margin = _kink_margin(model.layers)
    analytic = np.concatenate([g.ravel() for g in model.grads])
    theta = np.concatenate([p.ravel() for p in model.params])

    def E():
        unflatten(theta, model.params)
        return loss.forward(model.predict(x), t)

    numeric = numeric_gradient(E, theta, h)
    unflatten(theta, model.params)
    checks, start = [], 0
    for name, p in zip(model.param_names, model.params):
        stop = start + p.size
        checks.append(compare(f"dE/d{name}", analytic[start:stop].reshape(p.shape),
                              numeric[start:stop].reshape(p.shape)))
        start = stop
    return GradcheckReport(checks, bound, h, margin)


def unflatten(theta, params):
    """Copy the flat vector theta back into the arrays ``params``, in order."""
    start = 0
    for p in params:
        p.reshape(-1)[...] = theta[start:start + p.size]
        start += p.size


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
