"""The layer protocol (backprop/core/layers.py's module docstring) as a contract, on bp.Dense.

forward(x) returns a new (B, n_out) array of the layer's dtype and leaves x alone;
backward(dE_dO, need_input_grad=True) overwrites (never accumulates) dW, db and delta,
in the layer's own arrays, and returns dE/dx (B, n_in) or None; predict(x) is forward
without caching; params/grads are the aligned lists [W, b] and [dW, db]; config()
describes the architecture; a Sequential's backward is its layers' backward chained.
Values are checked against the independent oracle (tests/oracle.py) where it matters;
tolerances as in test_oracle.py (float64 1e-12, float32 2e-5, relative to the array).
"""
import re

import numpy as np
import pytest

import backprop as bp
import oracle

BACKENDS = ["numba", "numpy"]
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]
ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
N_IN, N_OUT, B = 5, 4, 3
ALPHA = 0.2         # LeakyReLU's default slope, which the oracle is given (checked below)


def tol(dtype):
    return 1e-12 if np.dtype(dtype) == np.float64 else 2e-5


def assert_close(got, want, dtype, what=""):
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol(dtype),
                               atol=tol(dtype) * scale, err_msg=what)


def layer_and_data(activation, dtype, seed=0, n_in=N_IN, n_out=N_OUT, batch=B):
    """A layer with nonzero biases, an input x and an upstream gradient g; the inputs are
    drawn so that |z| >= 0.05 for the ReLU family (away from the kink, see test_oracle)."""
    layer = bp.Dense(n_in, n_out, activation=activation, rng=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    layer.b[...] = rng.normal(0.0, 0.5, n_out)
    x = rng.normal(size=(50 * batch, n_in))
    z = x.astype(dtype).astype(np.float64) @ layer.W.astype(np.float64) + layer.b
    x = x[(np.abs(z) >= 0.05).all(axis=1)][:batch].astype(dtype)
    assert len(x) == batch
    g = rng.normal(size=(batch, n_out)).astype(dtype)
    return layer, x, g


def reference(layer, x, g, activation):
    """The oracle's O, delta, dW, db and dE/dx for one layer and upstream gradient g."""
    ref = oracle.backward([(layer.W, layer.b, activation)], x, g, ALPHA)
    return {"O": ref["O"][0], "delta": ref["delta"][0], "dW": ref["dW"][0],
            "db": ref["db"][0], "dE_dx": ref["dE_dx"]}


def snapshot(layer, dE_dx=None):
    out = {"delta": layer.delta.copy(), "dW": layer.dW.copy(), "db": layer.db.copy()}
    if dE_dx is not None:
        out["dE_dx"] = dE_dx.copy()
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def assert_matches(layer, dE_dx, ref, dtype):
    for key, got in (("delta", layer.delta), ("dW", layer.dW), ("db", layer.db),
                     ("dE_dx", dE_dx)):
        if got is not None:
            assert_close(got, ref[key], dtype, key)


all_layers = pytest.mark.parametrize("activation", ACTIVATIONS)
all_dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
all_backends = pytest.mark.parametrize("backend", BACKENDS)


@all_backends
@all_dtypes
@all_layers
def test_forward_returns_a_new_array_and_leaves_its_input(backend, dtype, activation):
    with bp.use_backend(backend):
        layer, x, _ = layer_and_data(activation, dtype)
        x_before = x.copy()
        W_before, b_before = layer.W.copy(), layer.b.copy()
        O = layer.forward(x)
        assert isinstance(O, np.ndarray)
        assert O.shape == (B, N_OUT) and O.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(x, x_before)
        np.testing.assert_array_equal(layer.W, W_before)
        np.testing.assert_array_equal(layer.b, b_before)
        for other in (x, layer.W, layer.b):
            assert not np.shares_memory(O, other)
        assert_close(O, reference(layer, x, np.zeros((B, N_OUT)), activation)["O"], dtype)
        # a second forward (same batch size, so any per-size buffer is reused) gives a
        # new array and leaves the first output as it was
        O_kept = O.copy()
        O2 = layer.forward(-x)
        assert not np.shares_memory(O, O2)
        np.testing.assert_array_equal(O, O_kept)


@all_backends
@all_dtypes
@all_layers
def test_backward_overwrites_and_never_accumulates(backend, dtype, activation):
    with bp.use_backend(backend):
        layer, x, g = layer_and_data(activation, dtype)
        layer.forward(x)
        layer.dW[...] = 1e3     # stale values that an accumulating backward would keep
        layer.db[...] = -1e3
        first = snapshot(layer, layer.backward(g))
        assert_matches(layer, first["dE_dx"], reference(layer, x, g, activation), dtype)
        second = snapshot(layer, layer.backward(g))
        assert_same(first, second)
        layer.backward(3 * g + 1)     # something else in between
        third = snapshot(layer, layer.backward(g))
        assert_same(first, third)


@all_backends
@all_dtypes
@all_layers
def test_backward_writes_the_layers_own_gradient_arrays(backend, dtype, activation):
    """grads holds the arrays backward writes into (a Sequential makes them views of one
    flat vector, so a backward that rebinds dW or db would leave that vector stale)."""
    with bp.use_backend(backend):
        layer, x, g = layer_and_data(activation, dtype)
        dW, db = layer.grads
        layer.forward(x)
        layer.backward(g)
        assert np.shares_memory(dW, layer.dW) and np.shares_memory(db, layer.db)
        ref = reference(layer, x, g, activation)
        assert_close(dW, ref["dW"], dtype, "dW")
        assert_close(db, ref["db"], dtype, "db")


@all_backends
@all_dtypes
@all_layers
def test_backward_returns_the_input_gradient_or_none(backend, dtype, activation):
    with bp.use_backend(backend):
        layer, x, g = layer_and_data(activation, dtype)
        ref = reference(layer, x, g, activation)
        layer.forward(x)
        dE_dx = layer.backward(g)
        assert isinstance(dE_dx, np.ndarray)
        assert dE_dx.shape == (B, N_IN) and dE_dx.dtype == np.dtype(dtype)
        with_input = snapshot(layer)
        assert_matches(layer, dE_dx, ref, dtype)

        fresh, _, _ = layer_and_data(activation, dtype)
        fresh.forward(x)
        assert fresh.backward(g, need_input_grad=False) is None
        assert_same(snapshot(fresh), with_input)
        assert_matches(fresh, None, ref, dtype)


@all_backends
def test_backward_before_forward_raises(backend):
    with bp.use_backend(backend):
        layer = bp.Dense(N_IN, N_OUT, activation="relu", rng=0)
        with pytest.raises(RuntimeError):
            layer.backward(np.zeros((B, N_OUT), np.float32))
        layer.predict(np.zeros((B, N_IN), np.float32))   # predict caches nothing
        with pytest.raises(RuntimeError):
            layer.backward(np.zeros((B, N_OUT), np.float32))


@all_backends
@all_dtypes
def test_wrong_shapes_and_dtypes_raise_value_errors_naming_what_is_expected(backend, dtype):
    other = np.float32 if np.dtype(dtype) == np.float64 else np.float64
    want = np.dtype(dtype).name
    with bp.use_backend(backend):
        layer = bp.Dense(N_IN, N_OUT, activation="tanh", rng=0, dtype=dtype)
        x_shape = re.escape(f"(B, {N_IN})")
        for method in (layer.forward, layer.predict):
            for bad in (np.zeros((B, N_IN + 1), dtype), np.zeros(N_IN, dtype),
                        np.zeros((B, N_IN, 1), dtype), np.zeros((0, N_IN), dtype),
                        [[0.0] * N_IN] * B):
                with pytest.raises(ValueError, match=x_shape):
                    method(bad)
            for bad in (np.zeros((B, N_IN), other), np.zeros((B, N_IN), np.int64)):
                with pytest.raises(ValueError, match=want):
                    method(bad)
        layer.forward(np.ones((B, N_IN), dtype))
        g_shape = re.escape(f"(B, {N_OUT})")
        for bad in (np.zeros((B, N_OUT + 1), dtype), np.zeros(N_OUT, dtype)):
            with pytest.raises(ValueError, match=g_shape):
                layer.backward(bad)
        with pytest.raises(ValueError, match=rf"\b{B}\b"):      # the forward's batch size
            layer.backward(np.zeros((B + 1, N_OUT), dtype))
        with pytest.raises(ValueError, match=want):
            layer.backward(np.zeros((B, N_OUT), other))
    with pytest.raises(ValueError, match="float32 or float64"):
        bp.Dense(N_IN, N_OUT, dtype=np.int32)


def assert_ulps(got, want, ulps=4):
    """Equal to a few units in the last place: predict's activation runs in place (O is
    z) and forward's into a new O, and the compiled softmax rounds one of them 1 ulp
    differently (seen with numba, float64); anything else is a real difference."""
    assert got.shape == want.shape and got.dtype == want.dtype
    eps = np.finfo(want.dtype).eps
    np.testing.assert_allclose(got, want, rtol=ulps * eps, atol=ulps * eps * np.abs(want).max())


@all_backends
@all_dtypes
@all_layers
def test_predict_equals_forward_and_leaves_backward_state_alone(backend, dtype, activation):
    with bp.use_backend(backend):
        layer, x_a, g = layer_and_data(activation, dtype, seed=0)
        _, x_b, _ = layer_and_data(activation, dtype, seed=5)        # another batch, same B
        O_a = layer.forward(x_a).copy()
        undisturbed = snapshot(layer, layer.backward(g))

        O_b = layer.forward(x_b).copy()
        assert_ulps(layer.predict(x_b), O_b)
        layer.forward(x_a)
        assert_ulps(layer.predict(x_a), O_a)
        layer.predict(x_b)
        layer.predict(x_b[:1])                                       # another batch size
        after_predict = snapshot(layer, layer.backward(g))
        assert_same(after_predict, undisturbed)                      # A's gradients
        assert_matches(layer, after_predict["dE_dx"], reference(layer, x_a, g, activation),
                       dtype)


@all_dtypes
@all_layers
def test_params_and_grads_are_aligned_lists_of_the_layers_arrays(dtype, activation):
    layer = bp.Dense(N_IN, N_OUT, activation=activation, rng=0, dtype=dtype)
    params, grads = layer.params, layer.grads
    assert isinstance(params, list) and isinstance(grads, list)
    assert len(params) == len(grads) == 2
    for p, own in zip(params, (layer.W, layer.b)):
        assert np.shares_memory(p, own) and p.shape == own.shape
    for g, own in zip(grads, (layer.dW, layer.db)):
        assert np.shares_memory(g, own) and g.shape == own.shape
    assert [p.shape for p in params] == [g.shape for g in grads] == [(N_IN, N_OUT), (N_OUT,)]
    assert all(a.dtype == np.dtype(dtype) for a in params + grads)
    params[1][...] = 0.25                         # an optimizer's in-place update shows
    np.testing.assert_array_equal(layer.b, 0.25)


@pytest.mark.parametrize("init", [None, "he_normal", "he_uniform", "glorot_uniform",
                                  "glorot_normal"])
@all_dtypes
@all_layers
def test_config_rebuilds_the_architecture(dtype, activation, init):
    """config() is {"type": "Dense", n_in, n_out, "activation": {"name": ..., args...},
    "init"}; Dense takes n_in, n_out, activation (a name), init (dtype and rng are not
    architecture). Translated that way, the rebuilt layer has the same config and, given
    the same weights, computes the same function."""
    layer = bp.Dense(N_IN, N_OUT, activation=activation, init=init, rng=0, dtype=dtype)
    cfg = layer.config()
    assert cfg["type"] == "Dense"
    assert (cfg["n_in"], cfg["n_out"]) == (N_IN, N_OUT)
    assert cfg["activation"]["name"] == activation
    assert set(cfg["activation"]) == ({"name", "alpha"} if activation == "leaky_relu"
                                      else {"name"})
    assert cfg["activation"].get("alpha", ALPHA) == ALPHA
    if init is not None:
        assert cfg["init"] == init
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    kwargs["activation"] = cfg["activation"]["name"]        # the default alpha, checked:
    rebuilt = bp.Dense(**kwargs, rng=1, dtype=dtype)
    assert rebuilt.config() == cfg
    rebuilt.W[...] = layer.W
    rebuilt.b[...] = np.linspace(-1, 1, N_OUT)
    layer.b[...] = rebuilt.b
    x = np.random.default_rng(0).normal(size=(B, N_IN)).astype(dtype)
    np.testing.assert_array_equal(rebuilt.forward(x), layer.forward(x))


@all_dtypes
def test_from_config_rebuilds_a_layer_from_its_config(dtype):
    """Dense.from_config(layer.config()) has the same architecture, a non-default
    LeakyReLU alpha included, and computes the same function given the same weights."""
    layer = bp.Dense(N_IN, N_OUT, activation=bp.LeakyReLU(0.05), init="he_uniform", dtype=dtype)
    rebuilt = bp.Dense.from_config(layer.config(), rng=1, dtype=dtype)
    assert rebuilt.config() == layer.config() and rebuilt.activation.alpha == 0.05
    rebuilt.W[...] = layer.W
    x = np.random.default_rng(0).normal(size=(B, N_IN)).astype(dtype)
    np.testing.assert_array_equal(rebuilt.forward(x), layer.forward(x))
    with pytest.raises(ValueError, match="not a Dense layer's config"):
        bp.Dense.from_config({**layer.config(), "type": "Conv2D"})


@all_backends
@all_dtypes
@pytest.mark.parametrize("hidden,output", [("relu", None), ("sigmoid", "sigmoid"),
                                           ("tanh", "softmax"), ("leaky_relu", "identity")])
def test_sequential_equals_its_layers_chained_by_hand(backend, dtype, hidden, output):
    with bp.use_backend(backend):
        def make():
            model = bp.Sequential.mlp([5, 4, 3, 3], activation=hidden,
                                      output_activation=output, rng=0, dtype=dtype)
            for i, layer in enumerate(model.layers):
                layer.b[...] = np.linspace(-0.5, 0.5 + i, layer.n_out)
            return model

        rng = np.random.default_rng(0)
        x = rng.normal(size=(B, 5)).astype(dtype)
        g = rng.normal(size=(B, 3)).astype(dtype)

        model = make()
        O = model.forward(x)
        dE_dx = model.backward(g, need_input_grad=True)
        whole = [snapshot(layer) for layer in model.layers]
        assert dE_dx.shape == (B, 5)
        dE_dx = dE_dx.copy()

        by_hand = make()
        a = x
        for layer in by_hand.layers:
            a = layer.forward(a)
        np.testing.assert_array_equal(O, a)
        h = g
        for layer in reversed(by_hand.layers):
            h = layer.backward(h)
        np.testing.assert_array_equal(dE_dx, h)
        for l, layer in enumerate(by_hand.layers):
            assert_same(whole[l], snapshot(layer))

        assert model.backward(g) is None                # need_input_grad=False
        for l, layer in enumerate(model.layers):
            assert_same(whole[l], snapshot(layer))


def test_a_dense_subclass_with_the_documented_backward_trains_under_sigmoid_and_mse():
    """Sequential.backward calls a layer's backward as the protocol states it,
    backward(dE_dO, need_input_grad), also where the loss could fuse the output delta."""
    class Logged(bp.Dense):
        calls = 0

        def backward(self, dE_dO, need_input_grad=True):
            Logged.calls += 1
            return super().backward(dE_dO, need_input_grad)

    def gradients(last):
        model = bp.Sequential([bp.Dense(2, 3, activation="sigmoid", rng=0, dtype=np.float64),
                               last(3, 1, activation="sigmoid", rng=1, dtype=np.float64)])
        loss = bp.MSE()
        loss.forward(model.forward(np.array([[0.0, 1.0], [1.0, 1.0]])), np.array([[1.0], [0.0]]))
        model.backward(loss)
        return model.grads.copy()

    np.testing.assert_allclose(gradients(Logged), gradients(bp.Dense), rtol=1e-12)
    assert Logged.calls == 1
