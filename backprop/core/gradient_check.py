"""Numeric gradient checks: the hand-written gradients against central differences.

For a scalar E(theta), the central difference

    dE/dtheta_i ~ (E(theta + h e_i) - E(theta - h e_i)) / (2 h)

has error O(h^2) from truncation plus ~eps E / h from rounding, so it runs in float64
with h = 1e-6. The agreement of an analytic gradient a with the numeric n is judged twice:

    norm-wise    max_i |a_i - n_i| / max(1e-8, max_i |a_i| + max_i |n_i|) <= bound (1e-6)
    elementwise  |a_i - n_i| <= atol + rtol |n_i| for every i   (atol 1e-8, rtol 1e-3)

and a check is ok when both hold. The norm-wise error is dominated by the largest
entries, so alone it passes a = [1, 1e-7] against n = [1, 0] (5e-8) although the second
entry is all error; the elementwise test fails it. It is PyTorch's gradcheck test with
PyTorch's rtol, but atol 1e-8 instead of PyTorch's 1e-5, which would pass that entry too;
the rounding noise of n is about 1e-16 |E| / h = 1e-10 |E|, so for |E| much above 1
raise ``atol``. Each report names the worst entry: the one farthest beyond (or closest
to) its tolerance atol + rtol |n_i|.

What is checked: any function f(x) -> scalar, against its hand-written gradient df or,
without one, the tape's (``check_function``); a loss (dE/dO); one layer against a random
upstream gradient G (E = sum G * O: its parameter gradients and dE/dx); and a whole model
over its flattened parameter vector theta = [W1, b1, W2, b2, ...]. ``three_way_check`` adds a
third opinion for a model: the same network written as operations of the reverse-mode
tape (``backprop.tf.autodiff``), differentiated automatically, with no delta rule involved.

What a report says beside the numbers: a gradient that is zero (below 1e-8) in every
entry, analytic and numeric, passes trivially and proves nothing (a softmax over one
unit is 1 whatever its input); and where an activation has a kink (ReLU's f' jumps at
z = 0), the closest net input to it, with the words that a failure within 1000 h of a
kink comes from the kink (the central difference straddles the jump), not the code.

``bp.gradcheck`` and ``bp.three_way_check`` are this module's two entry points; the
helpers (``check_problem``, ``keep_away_from_kinks``, ``numeric_gradient``, ...) are
reached as ``backprop.core.gradient_check.<name>``.
"""
from dataclasses import dataclass, field

import numpy as np

from . import loop
from .activations import Softmax
from .batches import one_hot
from .layers import Layer
from .losses import (MSE, BinaryCrossEntropy, CategoricalCrossEntropy, Loss, SoftmaxCrossEntropy,
                     get_loss)
from .model import Sequential, split_like


DEFAULT_H = 1e-6
DEFAULT_BOUND = 1e-6
DEFAULT_ATOL = 1e-8
DEFAULT_RTOL = 1e-3
TRIVIAL = 1e-8      # a gradient below this in every entry (analytic and numeric) proves nothing
KINK_NEAR = 1000    # a net input within KINK_NEAR * h of a kink may spoil the central difference


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
    """One gradient compared: the norm-wise relative error, the number of entries outside
    atol + rtol |n|, and the worst entry (the largest |a - n| / (atol + rtol |n|))."""

    name: str
    shape: tuple
    error: float
    worst_index: tuple
    analytic: float
    numeric: float
    failures: int = 0       # entries with |a - n| > atol + rtol |n| (or NaN)
    size: int = 0
    scale: float = 0.0      # max|a| + max|n|

    @property
    def elementwise_ok(self):
        return self.failures == 0

    @property
    def trivial(self):
        return self.scale < TRIVIAL


def compare(name, analytic, numeric, atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL):
    """A Check of ``analytic`` against ``numeric`` (the reference n), naming the worst entry."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if a.shape != n.shape:
        raise ValueError(f"{name}: the analytic gradient has shape {a.shape}, the numeric "
                         f"one {n.shape}")
    diff, tolerance = np.abs(a - n), atol + rtol * np.abs(n)
    if not a.size:
        return Check(name, a.shape, 0.0, (), 0.0, 0.0)
    worst = np.unravel_index(int(np.argmax(diff / tolerance)), a.shape)
    return Check(name, a.shape, relative_error(a, n), tuple(int(i) for i in worst),
                 float(a[worst]), float(n[worst]), int(np.count_nonzero(~(diff <= tolerance))),
                 a.size, float(np.max(np.abs(a)) + np.max(np.abs(n))))


class _Verdicts:
    """What every report says: the two verdicts, the kink line and the findings in words.
    A report has ``bound``, ``h``, ``atol``, ``rtol``, ``kink_margin``, ``kink_where``,
    ``notes`` and ``_checks()``, the Check objects it holds."""

    @property
    def max_error(self):
        return max(c.error for c in self._checks())

    @property
    def normwise_ok(self):
        return self.max_error <= self.bound

    @property
    def elementwise_ok(self):
        return all(c.elementwise_ok for c in self._checks())

    @property
    def ok(self):
        return self.normwise_ok and self.elementwise_ok

    @property
    def trivial(self):
        """Every gradient is zero (below 1e-8) in every entry: the check proves nothing."""
        return all(c.trivial for c in self._checks())

    def _verdict_lines(self, what="h"):
        checks = self._checks()
        lines = [f"max relative error {self.max_error:.2e} (bound {self.bound:.0e}, "
                 f"{what} = {self.h:.0e}): {'ok' if self.normwise_ok else 'FAILED'}"]
        worst = max(checks, key=lambda c: (c.failures > 0, c.failures))
        verdict = "ok" if self.elementwise_ok else (
            f"{sum(c.failures for c in checks)} of {sum(c.size for c in checks)} entries "
            f"fail, worst {worst.name} {worst.worst_index}: analytic {worst.analytic:.6e}, "
            f"numeric {worst.numeric:.6e}: FAILED")
        lines.append(f"elementwise |a - n| <= atol + rtol |n| (atol {self.atol:.0e}, rtol "
                     f"{self.rtol:.0e}): {verdict}")
        if np.isfinite(self.kink_margin):
            lines.append(f"closest net input to a kink: {self.kink_margin:.2e}, in "
                         f"{self.kink_where}")
        return lines + self.findings()

    def findings(self):
        """The report's observations in words: trivial passes, a kink as the cause of a
        failure, and the notes of whoever made the report."""
        found = []
        checks = self._checks()
        if self.trivial:
            found.append(f"every gradient is zero (below {TRIVIAL:.0e}) in every entry, "
                         f"analytic and numeric: the check passes trivially and proves "
                         f"nothing about the code")
        else:
            found += [f"{c.name} is zero (below {TRIVIAL:.0e}) in every entry, analytic and "
                      f"numeric: its check passes trivially" for c in checks if c.trivial]
        if not self.ok and self.kink_margin <= KINK_NEAR * self.h:
            found.append(f"the check failed with a net input {self.kink_margin:.2e} from a "
                         f"kink, in {self.kink_where}: a central difference that straddles "
                         f"the kink averages the slopes on its two sides, so the kink, not "
                         f"the code, is the likely cause. Keep the net inputs over "
                         f"{KINK_NEAR} h from it "
                         f"(backprop.core.gradient_check.keep_away_from_kinks) and check again")
        return found + list(self.notes)


@dataclass
class GradcheckReport(_Verdicts):
    """The checks of one object, each judged norm-wise against ``bound`` and elementwise
    against atol + rtol |n|; ``ok`` when both hold for every check."""

    checks: list
    bound: float = DEFAULT_BOUND
    h: float = DEFAULT_H
    kink_margin: float = float("inf")
    notes: list = field(default_factory=list)
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    kink_where: str = ""

    def _checks(self):
        return self.checks

    def __str__(self):
        head = (f"{'gradient':<12}{'shape':<14}{'rel. error':>12}  {'elementwise':<13}"
                f"{'worst at':<12}{'analytic':>14}{'numeric':>14}")
        lines = [head, "-" * len(head)]
        for c in self.checks:
            flag = "" if c.error <= self.bound and c.elementwise_ok else "  FAIL"
            elementwise = "ok" if c.elementwise_ok else f"{c.failures} of {c.size} fail"
            lines.append(f"{c.name:<12}{str(c.shape):<14}{c.error:>12.2e}  {elementwise:<13}"
                         f"{str(c.worst_index):<12}{c.analytic:>14.6e}{c.numeric:>14.6e}{flag}")
        return "\n".join(lines + self._verdict_lines())


def _require_float64(what, dtype, fix):
    if dtype != np.float64:
        raise ValueError(f"gradient checks run in float64, where central differences are "
                         f"accurate; {what} is {dtype}: check {fix}")


def _kink_margin(layers):
    """(the smallest distance of a net input to a kink of its layer's activation, where
    it is), over the layers whose activation has kinks (ReLU's at 0); (inf, "") if none."""
    margin, where = float("inf"), ""
    for i, layer in enumerate(layers, start=1):
        activation = getattr(layer, "activation", None)
        if not getattr(activation, "kinks", ()) or getattr(layer, "cache", None) is None:
            continue
        z = layer.cache if activation.caches == "z" else layer.x @ layer.W + layer.b
        for kink in activation.kinks:
            distance = float(np.min(np.abs(z - kink)))
            if distance < margin:
                margin, where = distance, f"layer {i} ({activation.name}, kink at z = {kink:g})"
    return margin, where


def check_function(f, x, df=None, h=DEFAULT_H, bound=DEFAULT_BOUND, atol=DEFAULT_ATOL,
                   rtol=DEFAULT_RTOL):
    """The gradient of a scalar function f at x against central differences (float64).

    Parameters
    ----------
    f : callable
        f(x) -> a scalar, for an array x of x's shape.
    x : array_like
        Where to check; copied to float64.
    df : callable, optional
        df(x) -> the hand-written gradient, an array of x's shape. Without it, f must be
        written with the tape's operations (``import backprop.tf as tf``: ``tf.exp``,
        ``tf.reduce_sum``, ...) and the tape (``bp.GradientTape``) gives the gradient.
    """
    x = np.array(x, dtype=np.float64)

    def E():
        value = f(x)
        if np.ndim(value) != 0:
            raise ValueError(f"f must map an array to a scalar, got shape {np.shape(value)}")
        return float(value)

    if df is not None:
        analytic = np.asarray(df(x.copy()), dtype=np.float64)
    else:
        analytic = _tape_gradient(f, x)
    if analytic.shape != x.shape:
        raise ValueError(f"df must return an array of x's shape {x.shape}, got {analytic.shape}")
    numeric = numeric_gradient(E, x, h)
    return GradcheckReport([compare("df/dx", analytic, numeric, atol, rtol)], bound, h,
                           atol=atol, rtol=rtol)


def _tape_gradient(f, x):
    """df/dx by the reverse-mode tape, for an f written with bp operations."""
    from ..tf import autodiff as ad
    with ad.GradientTape() as tape:
        xt = ad.constant(x)
        tape.watch(xt)
        y = f(xt)
    if not isinstance(y, ad.Tensor):
        raise ValueError(f"f returned a {type(y).__name__}, not a tape tensor: write f with "
                         f"the tape's operations (import backprop.tf as tf: tf.exp, "
                         f"tf.reduce_sum, ...) or give its gradient as df")
    if y.shape != ():
        raise ValueError(f"f must map an array to a scalar, got shape {y.shape}")
    g = tape.gradient(y, xt)
    return np.zeros_like(x) if g is None else np.asarray(g.numpy(), dtype=np.float64)


def check_loss(loss, O, t, h=DEFAULT_H, bound=DEFAULT_BOUND, atol=DEFAULT_ATOL,
               rtol=DEFAULT_RTOL):
    """dE/dO of ``loss`` at outputs O (float64) and targets t, against central differences."""
    O = np.array(O, dtype=np.float64)
    loss.forward(O, t)
    analytic = loss.backward().copy()
    numeric = numeric_gradient(lambda: loss.forward(O, t), O, h)
    return GradcheckReport([compare("dE/dO", analytic, numeric, atol, rtol)], bound, h,
                           atol=atol, rtol=rtol)


def check_layer(layer, x, seed=0, h=DEFAULT_H, bound=DEFAULT_BOUND, atol=DEFAULT_ATOL,
                rtol=DEFAULT_RTOL):
    """Every parameter gradient of one layer (Dense: dW, db) and dE/dx, for
    E = sum(G * O), G a random upstream gradient."""
    _require_float64("the layer", layer.dtype, "layer.astype(np.float64), a float64 copy")
    x = np.array(x, dtype=np.float64)
    O = layer.forward(x)
    G = np.random.default_rng(seed).standard_normal(O.shape)
    dE_dx = layer.backward(G)
    margin, where = _kink_margin([layer])
    analytic = [g.copy() for g in layer.grads] + [dE_dx.copy()]

    def E():
        return float(np.sum(G * layer.predict(x)))

    checks = [compare(f"dE/d{name}", a, numeric_gradient(E, array, h), atol, rtol)
              for name, a, array in zip([*layer.param_names, "x"], analytic, [*layer.params, x])]
    return GradcheckReport(checks, bound, h, margin, atol=atol, rtol=rtol, kink_where=where)


def _model_gradients(model, loss, x, t, h):
    """The delta rule's gradients, computed by the step training takes
    (``loop.gradients``: forward, loss, backward), and the numeric ones, both over the
    flat vector theta = [W1, b1, W2, ...] (``model.params``, perturbed in place), and the
    kink margin."""
    _require_float64("the model", model.dtype, "model.astype(np.float64), a float64 copy")
    x = np.asarray(x, dtype=np.float64)
    E, _ = loop.gradients(model, loss, x, t)  # the step training takes, up to the update
    if not np.isfinite(E):
        raise ValueError(f"the loss at the point to check is {E}: there is no gradient to check")
    analytic = model.grads.copy()
    numeric = numeric_gradient(lambda: loss.forward(model.predict(x), t), model.params, h)
    return analytic, numeric, _kink_margin(model.layers)


def _model_notes(model, loss):
    """Words for a model whose check cannot mean anything: a softmax over one unit."""
    if model.n_out != 1:
        return []
    if isinstance(getattr(model.layers[-1], "activation", None), Softmax):
        where = "the output layer's softmax"
    elif isinstance(loss, SoftmaxCrossEntropy) or (
            isinstance(loss, CategoricalCrossEntropy) and loss.from_logits):
        where = f"the softmax of {type(loss).__name__}"
    else:
        return []
    return [f"{where} is over one output unit, so it is 1 whatever its input and E does "
            f"not depend on the weights: use two or more outputs, or one sigmoid output "
            f"with BinaryCrossEntropy"]


def check_model(model, loss, x, t, h=DEFAULT_H, bound=DEFAULT_BOUND, atol=DEFAULT_ATOL,
                rtol=DEFAULT_RTOL):
    """Every parameter gradient of ``model`` under ``loss`` (a Loss or a name in
    ``bp.LOSSES``), over the flattened theta."""
    loss = get_loss(loss)
    analytic, numeric, (margin, where) = _model_gradients(model, loss, x, t, h)
    shapes = model.named_params()
    checks = [compare(f"dE/d{name}", a, n, atol, rtol) for name, a, n in
              zip(shapes, split_like(analytic, shapes.values()), split_like(numeric, shapes.values()))]
    return GradcheckReport(checks, bound, h, margin, _model_notes(model, loss), atol, rtol, where)


def tape_gradients(model, loss, x, t):
    """dE/dW and dE/db of every layer by the reverse-mode tape.

    The network is rewritten with tape operations, O = f(O_prev @ W + b) and the loss's
    formula, and ``GradientTape.gradient`` differentiates it; no delta rule is involved.
    """
    from ..tf import autodiff as ad
    from ..tf.autodiff import nn

    activations = {"identity": lambda z, act: z, "sigmoid": lambda z, act: nn.sigmoid(z),
                   "tanh": lambda z, act: nn.tanh(z), "relu": lambda z, act: nn.relu(z),
                   "leaky_relu": lambda z, act: nn.leaky_relu(z, alpha=act.alpha),
                   "softmax": lambda z, act: nn.softmax(z, axis=-1)}
    for layer in model.layers:
        name = getattr(getattr(layer, "activation", None), "name", None)
        if type(layer).__name__ != "Dense" or name not in activations:
            raise ValueError(f"three_way_check has no tape formula for {layer!r}: check it with "
                             f"bp.gradcheck(model, loss, x, t), against central differences")
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
class ThreeWayReport(_Verdicts):
    """Per parameter: delta rule vs tape, delta rule vs numeric, tape vs numeric, each
    judged norm-wise and elementwise (the second of each pair is the reference n)."""

    rows: list  # (name, shape, Check delta-vs-tape, Check delta-vs-numeric, Check tape-vs-numeric)
    bound: float = DEFAULT_BOUND
    h: float = DEFAULT_H
    kink_margin: float = float("inf")
    notes: list = field(default_factory=list)
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    kink_where: str = ""

    def _checks(self):
        return [c for row in self.rows for c in row[2:]]

    def __str__(self):
        head = (f"{'parameter':<10}{'shape':<12}{'delta rule vs tape':>20}"
                f"{'delta rule vs numeric':>23}{'tape vs numeric':>17}")
        lines = [head, "-" * len(head)]
        for name, shape, *checks in self.rows:
            failed = any(c.error > self.bound or not c.elementwise_ok for c in checks)
            lines.append(f"{name:<10}{str(shape):<12}{checks[0].error:>20.2e}"
                         f"{checks[1].error:>23.2e}{checks[2].error:>17.2e}"
                         f"{'  FAIL' if failed else ''}")
        return "\n".join(lines + self._verdict_lines("central differences with h"))


def three_way_check(model, loss, x, t, h=DEFAULT_H, bound=DEFAULT_BOUND, atol=DEFAULT_ATOL,
              rtol=DEFAULT_RTOL):
    """Compare the delta rule, the tape and central differences for every parameter
    (``loss``: a Loss or a name in ``bp.LOSSES``)."""
    loss = get_loss(loss)
    analytic, numeric, (margin, where) = _model_gradients(model, loss, x, t, h)
    shapes = model.named_params()
    delta_rule = split_like(analytic, shapes.values())
    numeric = split_like(numeric, shapes.values())
    tape = tape_gradients(model, loss, x, t)
    rows = [(name, a.shape, compare(f"{name} (delta rule vs tape)", a, g, atol, rtol),
             compare(f"{name} (delta rule vs numeric)", a, n, atol, rtol),
             compare(f"{name} (tape vs numeric)", g, n, atol, rtol))
            for name, a, g, n in zip(shapes, delta_rule, tape, numeric)]
    return ThreeWayReport(rows, bound, h, margin, _model_notes(model, loss), atol, rtol, where)


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
        margin = _kink_margin(model.layers)[0]
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
    default_output = OUTPUT_ACTIVATIONS[loss]
    if loss in PROBABILITY_LOSSES and (output or default_output) not in ("sigmoid", "softmax"):
        raise ValueError(f"loss {loss} takes probabilities in (0, 1): the output activation "
                         f"must be sigmoid or softmax, not {output}")
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
    """Check a model, a layer, a loss or any function; returns a GradcheckReport
    (``print(report)`` for the table, ``report.ok`` for the verdict).

    gradcheck(model, loss, x, t);  gradcheck(layer, x);  gradcheck(loss, O, t);
    gradcheck(f, x, df=None)  (f(x) -> scalar; df(x) its gradient, else the tape's)

    A model or layer must be float64: ``model.astype(np.float64)`` gives a float64 copy.
    """
    if isinstance(obj, Sequential):
        return check_model(obj, *args, **kwargs)
    if isinstance(obj, Layer):
        return check_layer(obj, *args, **kwargs)
    if isinstance(obj, Loss):
        return check_loss(obj, *args, **kwargs)
    if callable(obj):
        return check_function(obj, *args, **kwargs)
    raise ValueError(f"gradcheck takes a Sequential, a layer, a Loss or a function f(x) -> "
                     f"scalar, got {type(obj).__name__}")
