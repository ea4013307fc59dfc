"""Dense and Sequential: the hand-worked 3-2-1 example, the layer protocol, dtypes,
save/load and bad input."""
import numpy as np
import pytest

import backprop as bp
from backprop.app import model_file


def test_hand_worked_3_2_1_sigmoid_network(backend):
    """The example of docs/derivation.md, every number written out.

    Inputs x = (1, 0, 1), target t = 1, eta = 0.9, E = 1/2 (O_6 - t)^2, sigmoid units.
    Hidden units 4, 5; output unit 6. W[j, k] is W_jk:
        W_14 = 0.2, W_15 = -0.3, W_24 = 0.4, W_25 = 0.1, W_34 = -0.5, W_35 = 0.2
        b_4 = -0.4, b_5 = 0.2;  W_46 = -0.3, W_56 = -0.2, b_6 = 0.1
    Forward:
        x_4 = 0.2 + 0 - 0.5 - 0.4 = -0.7     O_4 = s(-0.7)  = 0.331812
        x_5 = -0.3 + 0 + 0.2 + 0.2 = 0.1     O_5 = s(0.1)   = 0.524979
        x_6 = -0.3 O_4 - 0.2 O_5 + 0.1 = -0.104540,  O_6 = s(x_6) = 0.473889
        E = 1/2 (0.473889 - 1)^2 = 0.138396
    Backward (delta_k = O_k (1 - O_k)(O_k - t_k); delta_j = O_j (1 - O_j) sum_k delta_k W_jk):
        delta_6 = 0.473889 (0.526111)(-0.526111)      = -0.131169
        delta_4 = 0.331812 (0.668188)(-0.3)(-0.131169) = 0.008725
        delta_5 = 0.524979 (0.475021)(-0.2)(-0.131169) = 0.006542
        dE/dW_46 = O_4 delta_6 = -0.043524,  dE/dW_56 = O_5 delta_6 = -0.068861
        dE/dW_14 = x_1 delta_4 = 0.008725,   dE/dW_24 = 0 (x_2 = 0)
    Update W <- W - eta dE/dW:
        W_46 = -0.260829, W_56 = -0.138025, b_6 = 0.218052
        W_14 = 0.192148, W_15 = -0.305888, W_34 = -0.507852, W_35 = 0.194112
        b_4 = -0.407852, b_5 = 0.194112
    """
    hidden = bp.Dense(3, 2, activation="sigmoid", dtype=np.float64)
    out = bp.Dense(2, 1, activation="sigmoid", dtype=np.float64)
    hidden.W[...] = [[0.2, -0.3], [0.4, 0.1], [-0.5, 0.2]]
    hidden.b[...] = [-0.4, 0.2]
    out.W[...] = [[-0.3], [-0.2]]
    out.b[...] = [0.1]
    model = bp.Sequential([hidden, out])
    x, t = np.array([[1.0, 0.0, 1.0]]), np.array([[1.0]])

    O6 = model.forward(x)
    np.testing.assert_allclose(hidden.cache, [[0.331812, 0.524979]], atol=5e-7)  # O_4, O_5
    assert O6[0, 0] == pytest.approx(0.473889, abs=5e-7)
    loss = bp.MSE("half_sum")
    assert loss.forward(O6, t) == pytest.approx(0.138396, abs=5e-7)
    model.backward(loss.backward())
    assert out.delta[0, 0] == pytest.approx(-0.131169, abs=5e-7)
    np.testing.assert_allclose(hidden.delta, [[0.008725, 0.006542]], atol=5e-7)
    np.testing.assert_allclose(out.dW, [[-0.043524], [-0.068861]], atol=5e-7)
    np.testing.assert_allclose(hidden.dW, [[0.008725, 0.006542], [0, 0], [0.008725, 0.006542]], atol=5e-7)
    assert out.delta[0, 0] == pytest.approx(bp.sigmoid_mse_delta(O6, t)[0, 0], rel=1e-14)

    bp.SGD(model.params, lr=0.9).step(model.grads)
    np.testing.assert_allclose(out.W, [[-0.260829], [-0.138025]], atol=5e-7)
    np.testing.assert_allclose(out.b, [0.218052], atol=5e-7)
    np.testing.assert_allclose(hidden.W, [[0.192148, -0.305888], [0.4, 0.1], [-0.507852, 0.194112]],
                               atol=5e-7)
    np.testing.assert_allclose(hidden.b, [-0.407852, 0.194112], atol=5e-7)


def test_protocol_backward_twice_overwrites_and_first_layer_skips_input_grad(backend):
    model = bp.Sequential.mlp([4, 3, 2], activation="relu", rng=0, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(5, 4))
    loss = bp.SoftmaxCrossEntropy()
    loss.forward(model.forward(x), np.array([0, 1, 1, 0, 1]))
    assert model.backward(loss.backward()) is None
    first = {name: g.copy() for name, g in model.named_grads().items()}
    model.backward(loss.backward())
    for name, g in model.named_grads().items():
        np.testing.assert_array_equal(g, first[name])  # overwritten, not accumulated
    assert model.backward(loss.backward(), need_input_grad=True).shape == (5, 4)
    for i, layer in enumerate(model.layers, start=1):
        np.testing.assert_array_equal(layer.dW, first[f"W{i}"])
        np.testing.assert_allclose(layer.dW, layer.x.T @ layer.delta, rtol=1e-14)  # x^T delta


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_end_to_end_and_predict_equals_forward(dtype, backend):
    model = bp.Sequential.mlp([6, 5, 4, 3], activation="relu", rng=1, dtype=dtype)
    x = np.random.default_rng(1).normal(size=(7, 6)).astype(dtype)
    out = model.forward(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(model.predict(x), out)
    # BLAS may block a 3-row product differently from a 7-row one: equal to rounding
    np.testing.assert_allclose(model.predict(x, batch_size=3), out, rtol=1e-5 if dtype == np.float32 else 1e-13)
    loss = bp.SoftmaxCrossEntropy()
    loss.forward(out, np.zeros(7, int))
    model.backward(loss.backward())
    assert model.grads.dtype == dtype and model.params.dtype == dtype
    assert all(layer.delta.dtype == dtype for layer in model.layers)


def test_initialisers_are_seeded_and_scaled():
    a = bp.Sequential.mlp([784, 256, 10], rng=3)
    b = bp.Sequential.mlp([784, 256, 10], rng=3)
    np.testing.assert_array_equal(a.layers[0].W, b.layers[0].W)
    assert a.layers[0].init == "he_normal" and a.layers[1].init == "glorot_uniform"
    assert a.layers[0].W.std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    limit = np.sqrt(6 / (256 + 10))
    assert np.abs(a.layers[1].W).max() <= limit and np.abs(a.layers[1].W).max() > 0.9 * limit
    assert not np.any(a.layers[0].b)


# init -> (distribution, scale): the limit l of U(-l, l) or the std of N(0, std^2)
INIT_FORMULAS = {
    "he_normal": ("normal", lambda n_in, n_out: np.sqrt(2 / n_in)),
    "he_uniform": ("uniform", lambda n_in, n_out: np.sqrt(6 / n_in)),
    "glorot_uniform": ("uniform", lambda n_in, n_out: np.sqrt(6 / (n_in + n_out))),
    "glorot_normal": ("normal", lambda n_in, n_out: np.sqrt(2 / (n_in + n_out))),
}


def test_every_initialiser_has_a_formula_here():
    from backprop.core.layers import INITIALIZERS
    assert set(INIT_FORMULAS) == set(INITIALIZERS)


@pytest.mark.parametrize("init", list(INIT_FORMULAS))
def test_each_initialiser_matches_its_formula(init):
    """784 x 256 = 200,704 weights: the sample std is within ~0.2% of the true one (one
    standard error), so rel=0.01 is several standard errors and a wrong scale fails."""
    kind, scale = INIT_FORMULAS[init]
    layer = bp.Dense(784, 256, init=init, rng=0, dtype=np.float64)
    np.testing.assert_array_equal(layer.W, bp.Dense(784, 256, init=init, rng=0, dtype=np.float64).W)
    W, s = layer.W, scale(784, 256)
    assert abs(W.mean()) < 0.01 * s
    if kind == "uniform":
        assert np.abs(W).max() <= s and np.abs(W).max() > 0.999 * s
        assert W.std() == pytest.approx(s / np.sqrt(3), rel=0.01)  # std of U(-l, l)
    else:
        assert W.std() == pytest.approx(s, rel=0.01)
    assert not np.any(layer.b)


def test_reference_network_summary_counts_244522_parameters():
    model = bp.Sequential.mlp([784, 256, 128, 64, 32, 10], rng=0)
    text = model.summary(print_fn=None)
    assert model.n_params() == 244_522
    assert "Total params: 244,522" in text
    assert "200,960" in text and "(None, 10)" in text  # 784 * 256 + 256


def test_save_and_load_round_trip(tmp_path, backend):
    model = bp.Sequential([bp.Dense(4, 3, activation=bp.LeakyReLU(0.1), rng=0),
                           bp.Dense(3, 2, activation="softmax", rng=1)])
    path = tmp_path / "model.npz"
    bp.save_model(model, path)
    loaded = bp.load_model(path)
    assert loaded.config() == model.config()
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left


def test_load_rejects_damaged_and_foreign_files(tmp_path):
    path = tmp_path / "model.npz"
    bp.save_model(bp.Sequential.mlp([4, 3, 2], rng=0), path)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz is not a readable .npz"):
        bp.load_model(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a backprop model file"):
        bp.load_model(tmp_path / "other.npz")
    arrays = model_file.state_arrays(bp.Sequential.mlp([4, 3, 2], rng=0))
    arrays["W2"] = np.zeros((5, 2), np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"layer 2 weights have shapes \(5, 2\)"):
        bp.load_model(tmp_path / "bad.npz")


def test_bad_input_raises_value_errors_that_say_what_was_expected():
    model = bp.Sequential.mlp([4, 3, 2], rng=0)
    with pytest.raises(ValueError, match=r"shape \(B, 4\).*got \(5, 3\)"):
        model.forward(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"must be float32.*got float64.*astype"):
        model.forward(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NumPy array"):
        model.forward([[0.0] * 4])
    with pytest.raises(ValueError, match="layer 0 has 3 outputs but layer 1 expects 4"):
        bp.Sequential([bp.Dense(2, 3), bp.Dense(4, 1)])
    with pytest.raises(ValueError, match="positive integer"):
        bp.Dense(0, 3)
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        bp.Dense(2, 3, init="xavier")
    with pytest.raises(ValueError, match="float32 or float64"):
        bp.Dense(2, 3, dtype=np.int32)
    model.forward(np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="has 2 rows but the last forward had a batch of 5"):
        model.backward(np.zeros((2, 2), np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        bp.Dense(2, 3).backward(np.zeros((1, 3), np.float32))
