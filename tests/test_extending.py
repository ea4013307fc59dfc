"""A user's own activation (bp.Activation: f and df in NumPy) and a user's own layer
(bp.Layer, the layer protocol): each trains, passes gradcheck in float64 against central
differences and round-trips through save/load; a wrong derivative or a wrong backward is
caught; a model whose class is not defined names the class to import; model.astype gives
the float64 copy a gradient check needs."""
import re

import numpy as np
import pytest

import backprop as bp
from backprop.core.gradient_check import check_layer, check_model


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class Softplus(bp.Activation):
    """O = log(1 + e^x);  f'(x) = sigmoid(x). Registered as "softplus"."""

    def f(self, z):
        return np.logaddexp(0.0, z)

    def df(self, z):
        return sigmoid(z)


class SoftplusFromO(bp.Activation):
    """The same f, its derivative in terms of the output: f'(x) = 1 - e^{-O}."""

    caches = "O"

    def f(self, z):
        return np.logaddexp(0.0, z)

    def df(self, O):
        return -np.expm1(-O)


class Scale(bp.Layer):
    """O = x * s elementwise: one learned factor s_k per unit (the user layer of the docs)."""

    param_names = ("s",)

    def __init__(self, n, dtype=np.float32):
        self.n = self.n_in = self.n_out = n
        self.dtype = np.dtype(dtype)
        self.s = np.ones(n, self.dtype)
        self.ds = np.zeros(n, self.dtype)
        self.x = None

    def forward(self, x):
        self.x = x                                      # dE/ds needs x
        return x * self.s

    def backward(self, dE_dO, need_input_grad=True):
        np.sum(dE_dO * self.x, axis=0, out=self.ds)     # dE/ds_k = sum_n dE/dO_nk x_nk
        return dE_dO * self.s if need_input_grad else None   # dE/dx = dE/dO * s


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """This module's classes under their names (docs/extending.md defines classes of the
    same names in the same process; each test sees its own)."""
    monkeypatch.setitem(bp.ACTIVATIONS, "softplus", Softplus)
    monkeypatch.setitem(bp.ACTIVATIONS, "softplusfromo", SoftplusFromO)
    monkeypatch.setitem(bp.LAYERS, "scale", Scale)


def data(seed=0, B=6, n_in=3, n_out=2, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, n_in)).astype(dtype), rng.normal(size=(B, n_out)).astype(dtype)


# ------------------------------------------------------------------ a user's activation


@pytest.mark.parametrize("kind", [Softplus, SoftplusFromO])
def test_a_users_activation_runs_its_f_and_df_in_a_dense_layer(kind, backend):
    z = np.linspace(-4, 4, 9)
    act = kind()
    np.testing.assert_allclose(act(z), np.log1p(np.exp(z)), rtol=1e-14)
    np.testing.assert_allclose(act.derivative(z), sigmoid(z), rtol=1e-14)
    layer = bp.Dense(3, 2, activation=kind.name, rng=0, dtype=np.float64)
    layer.b[...] = [0.5, -0.25]
    x, g = data()
    O = layer.forward(x)
    zz = x @ layer.W + layer.b
    np.testing.assert_allclose(O, np.logaddexp(0, zz), rtol=1e-14)
    assert layer.backward(g).shape == x.shape
    np.testing.assert_allclose(layer.delta, sigmoid(zz) * g, rtol=1e-13)     # f'(z) * dE/dO
    np.testing.assert_allclose(layer.db, (sigmoid(zz) * g).sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(layer.dW, x.T @ (sigmoid(zz) * g), rtol=1e-13)
    np.testing.assert_allclose(layer.predict(x), O, rtol=1e-15)


def test_a_users_activation_is_known_by_its_name_in_any_case():
    assert Softplus.name == "softplus" and SoftplusFromO.name == "softplusfromo"
    for spelling in ("softplus", "SoftPlus", "SOFTPLUS"):
        assert type(bp.get_activation(spelling)) is Softplus
        assert type(bp.Dense(2, 2, activation=spelling).activation) is Softplus
    assert bp.Softmax().name == "softmax"                  # the built-ins keep theirs

    class Named(bp.Activation):
        name = "My_Act"

        def f(self, z):
            return z

        def df(self, z):
            return np.ones_like(z)

    assert bp.ACTIVATIONS["my_act"] is Named and type(bp.get_activation("MY_ACT")) is Named
    with pytest.raises(ValueError, match="'relu' is backprop's ReLU; give Mine another name"):
        type("Mine", (bp.Activation,), {"name": "relu"})
    del bp.ACTIVATIONS["my_act"]


def test_an_activation_without_f_says_what_to_write():
    class Half(bp.Activation):
        pass

    layer = bp.Dense(2, 2, activation=Half(), dtype=np.float64)
    with pytest.raises(NotImplementedError, match=r"Half must define f\(self, z\).*df\(self, z\)"):
        layer.forward(np.ones((1, 2)))
    del bp.ACTIVATIONS["half"]


def test_softplus_trains_and_one_sgd_step_is_the_hand_derived_one():
    """Hidden softplus layer, linear output, E = 1/(2B) sum (O - t)^2. One step of
    W <- W - eta dE/dW, with delta_1 = f'(z_1) * (delta_2 W_2^T), recomputed by hand; then
    twenty steps lower E."""
    x, t = data(B=8, n_in=3, n_out=2)
    model = bp.Sequential([bp.Dense(3, 4, activation="softplus", rng=0, dtype=np.float64),
                           bp.Dense(4, 2, rng=1, dtype=np.float64)])
    W1, b1, W2, b2 = (p.copy() for p in model.named_params().values())
    z1 = x @ W1 + b1
    O1 = np.logaddexp(0, z1)
    delta2 = (O1 @ W2 + b2 - t) / len(x)
    delta1 = sigmoid(z1) * (delta2 @ W2.T)
    loss, opt = bp.MSE(), bp.SGD(model.params, lr=0.5)
    losses = [loss.forward(model.forward(x), t)]
    model.backward(loss)
    opt.step(model.grads)
    np.testing.assert_allclose(model.layers[0].W, W1 - 0.5 * x.T @ delta1, rtol=1e-12)
    np.testing.assert_allclose(model.layers[0].b, b1 - 0.5 * delta1.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.layers[1].W, W2 - 0.5 * O1.T @ delta2, rtol=1e-12)
    for _ in range(20):
        losses.append(loss.forward(model.forward(x), t))
        model.backward(loss)
        opt.step(model.grads)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("kind", ["softplus", "softplusfromo"])
def test_softplus_passes_gradcheck_in_float64(kind, backend):
    x, t = data()
    model = bp.Sequential.mlp([3, 4, 4, 2], activation=kind, output_activation="tanh", rng=2,
                              dtype=np.float64)
    report = check_model(model, bp.MSE(), x, t)
    assert report.ok and report.max_error < 1e-8, str(report)
    assert not np.isfinite(report.kink_margin)             # softplus has no kink
    layer = bp.Dense(3, 4, activation=kind, rng=3, dtype=np.float64)
    report = check_layer(layer, x)
    assert report.ok and report.max_error < 1e-8, str(report)
    assert [c.name for c in report.checks] == ["dE/dW", "dE/db", "dE/dx"]


def test_a_wrong_softplus_derivative_is_what_gradcheck_catches(monkeypatch):
    """f'(x) written as 1 / (1 + e^x) (the sign of x lost): the softplus layer's
    gradients fail, the linear output layer's stay right."""
    x, t = data()
    model = bp.Sequential([bp.Dense(3, 4, activation="softplus", rng=0, dtype=np.float64),
                           bp.Dense(4, 2, rng=1, dtype=np.float64)])
    assert check_model(model, bp.MSE(), x, t).ok
    monkeypatch.setattr(Softplus, "df", lambda self, z: 1 / (1 + np.exp(z)))
    report = check_model(model, bp.MSE(), x, t)
    assert not report.ok
    assert [c.name for c in report.checks if c.error > 1e-6] == ["dE/dW1", "dE/db1"]
    assert "FAIL" in str(report)
    assert not check_layer(bp.Dense(3, 4, activation="softplus", dtype=np.float64), x).ok


def test_a_model_with_softplus_saves_and_loads(tmp_path, backend):
    model = bp.Sequential([bp.Dense(3, 4, activation="softplus", rng=0),
                           bp.Dense(4, 2, activation="sigmoid", rng=1)])
    model.layers[0].b[...] = [0.1, -0.2, 0.3, -0.4]
    path = tmp_path / "model.npz"
    bp.save_model(model, path)
    assert model.config()[0]["activation"] == {"name": "softplus",
                                               "class": f"{__name__}.Softplus"}
    loaded = bp.load_model(path)
    assert type(loaded.layers[0].activation) is Softplus
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.params, model.params)
    x = data(dtype=np.float32)[0]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_loading_a_model_whose_activation_is_not_defined_names_the_class(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    bp.save_model(bp.Sequential([bp.Dense(3, 2, activation="softplus")]), path)
    monkeypatch.delitem(bp.ACTIVATIONS, "softplus")       # as in a process that never defined it
    with pytest.raises(ValueError) as info:
        bp.load_model(path)
    message = str(info.value)
    assert message == (f"{path}: the activation 'softplus' is class Softplus of module "
                       f"{__name__}, which is not defined here: import it (or run the code "
                       f"that defines Softplus) before loading")


# ------------------------------------------------------------------ a user's layer


def scaled_model(dtype=np.float64):
    model = bp.Sequential([bp.Dense(3, 4, activation="tanh", rng=0, dtype=dtype),
                           Scale(4, dtype=dtype), bp.Dense(4, 2, rng=1, dtype=dtype)])
    model.layers[1].s[...] = [0.5, 1.5, -1.0, 2.0]
    return model


def test_sequential_takes_a_users_layer_and_holds_its_parameters_in_theta():
    model = scaled_model()
    scale = model.layers[1]
    assert list(model.named_params()) == ["W1", "b1", "s2", "W3", "b3"]
    assert model.params.size == 12 + 4 + 4 + 8 + 2
    assert np.shares_memory(scale.s, model.params) and np.shares_memory(scale.ds, model.grads)
    np.testing.assert_array_equal(model.params[16:20], [0.5, 1.5, -1.0, 2.0])
    x, g = data(n_in=3, n_out=2)
    O1 = np.tanh(x @ model.layers[0].W + model.layers[0].b)
    O = model.forward(x)
    np.testing.assert_allclose(O, (O1 * scale.s) @ model.layers[2].W + model.layers[2].b,
                               rtol=1e-13)
    dE_dx = model.backward(g, need_input_grad=True)
    dE_dO2 = g @ model.layers[2].W.T                       # what the Scale layer is given
    np.testing.assert_allclose(scale.ds, (dE_dO2 * O1).sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(model.grads[16:20], scale.ds, rtol=0)
    delta1 = (1 - O1 ** 2) * (dE_dO2 * scale.s)
    np.testing.assert_allclose(model.layers[0].dW, x.T @ delta1, rtol=1e-13)
    np.testing.assert_allclose(dE_dx, delta1 @ model.layers[0].W.T, rtol=1e-13)
    assert "scale_2 (Scale)" in model.summary(print_fn=None)


def test_a_users_layer_trains():
    x, t = data(B=8)
    model = scaled_model()
    loss, opt = bp.MSE(), bp.SGD(model.params, lr=0.2)
    losses = [loss.forward(model.forward(x), t)]
    model.backward(loss)
    ds = model.layers[1].ds.copy()
    opt.step(model.grads)
    np.testing.assert_allclose(model.layers[1].s, np.array([0.5, 1.5, -1.0, 2.0]) - 0.2 * ds,
                               rtol=1e-15)                 # s <- s - eta dE/ds, in theta
    for _ in range(20):
        losses.append(loss.forward(model.forward(x), t))
        model.backward(loss)
        opt.step(model.grads)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def test_a_users_layer_can_be_the_last_one():
    """model.backward(loss) hands the last layer dE/dO (no fused delta: that is Dense's)."""
    x, t = data(n_in=3, n_out=3)
    model = bp.Sequential([bp.Dense(3, 3, activation="sigmoid", rng=0, dtype=np.float64),
                           Scale(3, dtype=np.float64)])
    model.layers[1].s[...] = [1.0, -2.0, 0.5]
    loss = bp.MSE()
    loss.forward(model.forward(x), t)
    model.backward(loss)
    O1 = model.layers[0].predict(x)
    dE_dO = (O1 * model.layers[1].s - t) / len(x)        # half-sum MSE, batch mean
    np.testing.assert_allclose(model.layers[1].ds, (dE_dO * O1).sum(axis=0), rtol=1e-13)
    assert check_model(model, bp.MSE(), x, t).ok


def test_a_users_layer_is_gradient_checked_and_a_wrong_backward_caught(monkeypatch, backend):
    x, t = data()
    report = check_model(scaled_model(), bp.MSE(), x, t)
    assert report.ok and report.max_error < 1e-8, str(report)
    assert [c.name for c in report.checks] == ["dE/dW1", "dE/db1", "dE/ds2", "dE/dW3", "dE/db3"]
    layer_report = check_layer(Scale(3, dtype=np.float64), x)
    assert layer_report.ok and [c.name for c in layer_report.checks] == ["dE/ds", "dE/dx"]

    def forgot_x(self, dE_dO, need_input_grad=True):
        np.sum(dE_dO, axis=0, out=self.ds)                # dE/ds without the factor x
        return dE_dO * self.s if need_input_grad else None

    monkeypatch.setattr(Scale, "backward", forgot_x)
    report = check_model(scaled_model(), bp.MSE(), x, t)
    assert [c.name for c in report.checks if c.error > 1e-6] == ["dE/ds2"], str(report)


def test_a_model_with_a_users_layer_saves_and_loads(tmp_path, monkeypatch):
    model = scaled_model(np.float32)
    path = tmp_path / "model.npz"
    bp.save_model(model, path)
    assert model.config()[1] == {"type": "Scale", "class": f"{__name__}.Scale", "n": 4}
    loaded = bp.load_model(path)
    assert type(loaded.layers[1]) is Scale and loaded.dtype == np.float32
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.layers[1].s, [0.5, 1.5, -1.0, 2.0])
    np.testing.assert_array_equal(loaded.params, model.params)
    x = data(dtype=np.float32)[0]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    monkeypatch.delitem(bp.LAYERS, "scale")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: the layer 'Scale' is class "
                                         rf"Scale of module {__name__}, which is not defined"):
        bp.load_model(path)


def test_sequential_refuses_what_breaks_the_protocol():
    with pytest.raises(ValueError, match=r"layer 1 must be a bp.Layer .* got object"):
        bp.Sequential([bp.Dense(2, 2), object()])

    class NoWidths(bp.Layer):
        pass

    with pytest.raises(ValueError, match=r"layer 0 \(NoWidths\) must set n_in to a positive"):
        bp.Sequential([NoWidths()])
    with pytest.raises(ValueError, match="layer 0 has 4 outputs but layer 1 expects 3"):
        bp.Sequential([bp.Dense(2, 4), Scale(3)])
    with pytest.raises(ValueError, match="must be letters and underscores"):
        type("Digits", (bp.Layer,), {"param_names": ("W1",)})
    del bp.LAYERS["nowidths"]


# ------------------------------------------------------------------ float64 copies


def test_astype_gives_a_float64_copy_for_gradient_checks():
    model = bp.Sequential([bp.Dense(3, 4, activation="relu", rng=0), Scale(4),
                           bp.Dense(4, 3, activation=bp.LeakyReLU(0.1), rng=1)])
    model.layers[0].b[...] = 0.1
    with pytest.raises(ValueError, match=r"float64.*check model\.astype\(np\.float64\)"):
        bp.gradcheck(model, bp.MSE(), data()[0], data()[1])
    copy = model.astype(np.float64)
    assert copy.dtype == np.float64 and copy.params.dtype == np.float64
    assert copy.config() == model.config()
    np.testing.assert_array_equal(copy.params, model.params.astype(np.float64))
    assert not np.shares_memory(copy.params, model.params)
    copy.params[...] = 0                                   # the original keeps its weights
    assert np.any(model.params)
    copy = model.astype(np.float64)
    x, t = data(n_out=3)
    report = bp.gradcheck(copy, bp.MSE(), x, t)
    assert report.ok, str(report)
    back = copy.astype(np.float32)
    np.testing.assert_array_equal(back.params, model.params)
    with pytest.raises(ValueError, match="float32 or float64"):
        model.astype(np.int32)
    with pytest.raises(ValueError, match=r"check layer\.astype\(np\.float64\)"):
        bp.gradcheck(bp.Dense(3, 2), x)

