"""The whole network against the independent NumPy oracle (tests/oracle.py).

For each kernel backend, dtype, hidden activation and output activation/loss pairing, a
small 5-4-3-3 network runs model.forward, loss.forward and
model.backward(loss.backward(), need_input_grad=True); every layer's O, delta, dW and db,
the returned dE/dx and E must match the oracle's float64 recomputation from the same
weights and inputs.

Tolerances. float64: elementwise rtol 1e-12, plus an atol of 1e-12 times the array's
largest entry (entries that are cancellations of larger terms, like a db near 0, carry
the absolute error of those terms). The two computations differ only in rounding and
summation order (BLAS blocking, numba's fastmath reassociation), which at these sizes
costs ~1e-15; any wrong formula is off by O(1). float32: the package computes in float32
(unit roundoff u = 6e-8) and the oracle in float64 from the same float32-valued weights,
so the gap is float32's rounding error, a few tens of u across three layers and a loss;
we allow 2e-5 (~300 u) elementwise plus the same times the array's largest entry
(measured: at most 9 u; float64 at most 14 u of 1.1e-16). The tutorial-size network sums
up to 784 terms per entry, whose worst-case float32 error is 784 u = 5e-5, so its float32
bound is 1e-4 (measured: 7 u).

ReLU kinks: relu' jumps from 0 to 1 at z = 0, so for a z within rounding error of 0 the
float32 package and the float64 oracle may take different branches (and the value at 0
is a convention: 1 here, 0 in TensorFlow/PyTorch). The inputs are therefore drawn so that
every hidden net input satisfies |z| >= 0.05, far more than any rounding error; the value
at exactly 0 is tested on its own (test_relu_derivative_at_zero_is_one).
"""
import warnings

import numpy as np
import pytest

import backprop as bp
import oracle

BACKENDS = ["numba", "numpy"]
DTYPES = [np.float64, np.float32]
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
KINKED = ("relu", "leaky_relu")
MARGIN = 0.05       # |z| of every hidden ReLU-family net input, see the module docstring
ALPHA = 0.2         # LeakyReLU's default slope (tf.nn.leaky_relu's); checked via config()
B = 7               # a batch size equal to no layer width, so a transposed product shows


def _onehot(labels, K):
    return np.eye(K)[labels]


# head -> (output activation, package loss factory, oracle loss name, target kind)
HEADS = {
    "identity+mse_half_sum": ("identity", lambda: bp.MSE("half_sum"), "mse_half_sum", "real"),
    "identity+mse_mean": ("identity", lambda: bp.MSE("mean"), "mse_mean", "real"),
    "sigmoid+mse_half_sum": ("sigmoid", lambda: bp.MSE("half_sum"), "mse_half_sum", "unit"),
    "sigmoid+mse_mean": ("sigmoid", lambda: bp.MSE("mean"), "mse_mean", "unit"),
    "tanh+mse_half_sum": ("tanh", lambda: bp.MSE("half_sum"), "mse_half_sum", "real"),
    "softmax+mse_half_sum": ("softmax", lambda: bp.MSE("half_sum"), "mse_half_sum", "onehot"),
    "identity+softmax_xent_labels": ("identity", bp.SoftmaxCrossEntropy, "softmax_xent", "labels"),
    "identity+softmax_xent_onehot": ("identity", bp.SoftmaxCrossEntropy, "softmax_xent", "onehot"),
    "identity+softmax_xent_soft": ("identity", bp.SoftmaxCrossEntropy, "softmax_xent", "soft"),
    "softmax+categorical_xent": ("softmax", bp.CategoricalCrossEntropy, "categorical_xent",
                                 "onehot"),
    "sigmoid+binary_xent": ("sigmoid", bp.BinaryCrossEntropy, "binary_xent", "bits"),
    "sigmoid+binary_xent_soft": ("sigmoid", bp.BinaryCrossEntropy, "binary_xent", "unit"),
    "identity+binary_xent_logits": ("identity", lambda: bp.BinaryCrossEntropy(from_logits=True),
                                    "binary_xent_logits", "bits"),
}


def targets(kind, rng, B, K, dtype):
    """(what the package gets, what the oracle gets) for a target kind."""
    if kind == "labels":
        labels = rng.integers(0, K, B)
        return labels, _onehot(labels, K)
    t = {"real": lambda: rng.normal(size=(B, K)),
         "unit": lambda: rng.uniform(0.05, 0.95, (B, K)),
         "onehot": lambda: _onehot(rng.integers(0, K, B), K),
         "soft": lambda: rng.dirichlet(np.ones(K), B) * rng.uniform(0.5, 1.5, (B, 1)),
         "bits": lambda: rng.integers(0, 2, (B, K)).astype(float)}[kind]().astype(dtype)
    return t, t.astype(np.float64)


def oracle_layers(model, names):
    """[(W, b, activation name)]: the names are the test's own, not read from the package,
    so a layer that applied the wrong activation would show."""
    assert len(names) == len(model.layers)
    return [(layer.W, layer.b, name) for layer, name in zip(model.layers, names)]


def activation_names(sizes, hidden, output):
    return [hidden] * (len(sizes) - 2) + [output or "identity"]


def build(sizes, hidden, output, dtype, seed=0):
    """Sequential.mlp with nonzero biases (zero biases would hide a forward that drops b)."""
    model = bp.Sequential.mlp(sizes, activation=hidden, output_activation=output, rng=seed,
                              dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    for layer in model.layers:
        layer.b[...] = rng.normal(0.0, 0.5, layer.b.shape)
        act = layer.config()["activation"]
        if act["name"] == "leaky_relu":
            assert act["alpha"] == ALPHA
    return model


def inputs_away_from_kinks(model, names, B, rng, dtype, margin=MARGIN):
    """B rows of x whose hidden ReLU-family net inputs all have |z| >= margin (see top)."""
    layers = oracle_layers(model, names)
    kinked = [i for i, (_, _, name) in enumerate(layers) if name in KINKED]
    rows = []
    while len(rows) < B:
        x = rng.normal(size=(20 * B, model.layers[0].n_in)).astype(dtype)
        zs, _ = oracle.forward(layers, x, ALPHA)
        ok = np.ones(len(x), bool)
        for i in kinked:
            ok &= (np.abs(zs[i]) >= margin).all(axis=1)
        rows.extend(x[ok])
    return np.array(rows[:B], dtype)


def tolerance(dtype):
    return 1e-12 if np.dtype(dtype) == np.float64 else 2e-5


def assert_close(got, want, tol, what):
    """|got - want| <= tol |want| + tol max|want|, elementwise (see the module docstring)."""
    assert got is not None, f"{what}: got None"
    got = np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, oracle {want.shape}"
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol * scale,
                               err_msg=what)


def check_against_oracle(model, names, loss, x, t_pkg, t_ref, loss_name, tol):
    O = model.forward(x)
    E = loss.forward(O, t_pkg)
    dE_dx = model.backward(loss.backward(), need_input_grad=True)
    ref = oracle.network(oracle_layers(model, names), x, t_ref, loss_name, alpha=ALPHA)
    assert O.dtype == model.layers[0].dtype
    assert E == pytest.approx(ref["E"], rel=tol, abs=tol)
    assert_close(loss.backward(), ref["dE_dO"][-1], tol, "dE/dO of the loss")
    for l, layer in enumerate(model.layers):
        for name, got in (("delta", layer.delta), ("dW", layer.dW), ("db", layer.db)):
            assert got.dtype == layer.dtype, f"layer {l + 1} {name} dtype {got.dtype}"
            assert_close(got, ref[name][l], tol, f"layer {l + 1} {name}")
    assert_close(O, ref["O"][-1], tol, "network output O")
    assert_close(dE_dx, ref["dE_dx"], tol, "dE/dx")
    return ref


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head", list(HEADS))
def test_network_matches_oracle(backend, dtype, hidden, head):
    output, make_loss, loss_name, kind = HEADS[head]
    tol = tolerance(dtype)
    with bp.use_backend(backend):
        sizes = [5, 4, 3, 3]
        model = build(sizes, hidden, output, dtype)
        names = activation_names(sizes, hidden, output)
        rng = np.random.default_rng(2)
        x = inputs_away_from_kinks(model, names, B, rng, dtype)
        t_pkg, t_ref = targets(kind, rng, B, 3, dtype)
        x_before = x.copy()
        O = model.forward(x)
        # every layer's forward output: chain the layers by hand from the same input
        outputs, a = [], x
        for layer in model.layers:
            a = layer.forward(a)
            outputs.append(a.copy())
        ref = check_against_oracle(model, names, make_loss(), x, t_pkg, t_ref, loss_name, tol)
        for l, O_l in enumerate(outputs):
            assert_close(O_l, ref["O"][l], tol, f"layer {l + 1} O")
        np.testing.assert_array_equal(O, outputs[-1])
        np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_tutorial_network_matches_oracle(backend, dtype):
    """784-256-128-64-32-10, ReLU, logits, softmax cross-entropy, batch 100 (the reference
    run's shapes); inputs in [0, 1] like images / 255, labels as integers."""
    tol = 1e-12 if np.dtype(dtype) == np.float64 else 1e-4
    with bp.use_backend(backend):
        sizes = [784, 256, 128, 64, 32, 10]
        model = build(sizes, "relu", None, dtype, seed=3)
        rng = np.random.default_rng(4)
        x = rng.uniform(0.0, 1.0, (100, 784)).astype(dtype)
        labels = rng.integers(0, 10, 100)
        ref = check_against_oracle(model, activation_names(sizes, "relu", None),
                                   bp.SoftmaxCrossEntropy(), x, labels,
                                   _onehot(labels, 10), "softmax_xent", tol)
        # 48000 hidden net inputs cannot all be kept 0.05 from the kink by choosing rows;
        # instead this seed's smallest |z| (5.6e-5) is checked to stay well above float32's
        # rounding error in z (~2e-6 here: 784-term sums at u = 6e-8), so no relu' flips
        smallest = min(float(np.abs(z).min()) for z in ref["z"][:-1])
        assert smallest >= 1e-5, f"a hidden net input {smallest:.1e} from the ReLU kink"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("activation", KINKED)
def test_relu_derivative_at_zero_is_one(backend, dtype, activation):
    """At exactly z = 0, relu'(0) = leaky_relu'(0) = 1 (the derivation's convention)."""
    with bp.use_backend(backend):
        layer = bp.Dense(4, 3, activation=activation, rng=0, dtype=dtype)
        layer.W[...] = 0.0
        layer.b[...] = 0.0
        x = np.random.default_rng(0).normal(size=(5, 4)).astype(dtype)
        O = layer.forward(x)
        g = np.random.default_rng(1).normal(size=(5, 3)).astype(dtype)
        layer.backward(g)
        ref = oracle.network([(layer.W, layer.b, activation)], x, np.zeros((5, 3)),
                             "mse_half_sum", alpha=ALPHA)
        assert (ref["z"][0] == 0).all()
        np.testing.assert_array_equal(O, 0.0)
        np.testing.assert_array_equal(layer.delta, g)       # f'(0) = 1: delta = g
        d_ref = oracle.ACTIVATIONS[activation][1](ref["z"][0], g.astype(np.float64), ALPHA)
        np.testing.assert_array_equal(layer.delta, d_ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_clipping_matches_oracle(backend):
    """Probabilities at and beyond the clip bounds eps and 1 - eps: E and dE/dO as the
    oracle's clipped formulas (binary and categorical cross-entropy, float64). The rows
    sum to 2 and 1.5, no softmax's output: CategoricalCrossEntropy says so (and computes
    the same numbers)."""
    O = np.array([[0.0, 1.0, 1e-9, 1 - 1e-9], [0.3, 0.7, 0.5, 1e-12]])
    t = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
    with bp.use_backend(backend):
        for loss, name in ((bp.BinaryCrossEntropy(), "binary_xent"),
                           (bp.CategoricalCrossEntropy(), "categorical_xent")):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                E = loss.forward(O, t)
            assert [w.category for w in caught] == (
                [bp.InputWarning] if name == "categorical_xent" else [])
            E_ref, g_ref = oracle.loss(name, O, t)
            assert np.isfinite(E) and E == pytest.approx(E_ref, rel=1e-12)
            assert_close(loss.backward(), g_ref, 1e-12, f"{name} dE/dO")
