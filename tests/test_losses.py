"""Losses: values against the formulas, dE/dO against central differences, fused output
deltas against the generic chain, and bad targets."""
import numpy as np
import pytest

import backprop as bp
from backprop.core.gradient_check import check_loss, relative_error

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(4, 3))
LABELS = np.array([0, 2, 1, 2])
T = np.eye(3)[LABELS]
P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
S = 1 / (1 + np.exp(-Z))


def test_values_match_the_formulas(backend):
    B, K = Z.shape
    assert bp.MSE("half_sum").forward(S, T) == pytest.approx(np.sum(0.5 * (S - T) ** 2) / B, rel=1e-14)
    assert bp.MSE("mean").forward(S, T) == pytest.approx(np.mean((S - T) ** 2), rel=1e-14)
    ce = -np.mean(np.log(P[np.arange(B), LABELS]))
    assert bp.SoftmaxCrossEntropy().forward(Z, LABELS) == pytest.approx(ce, rel=1e-14)
    assert bp.SoftmaxCrossEntropy().forward(Z, T) == pytest.approx(ce, rel=1e-14)
    assert bp.CategoricalCrossEntropy().forward(P, T) == pytest.approx(ce, rel=1e-14)
    bce = -np.mean(T * np.log(S) + (1 - T) * np.log(1 - S))
    assert bp.BinaryCrossEntropy().forward(S, T) == pytest.approx(bce, rel=1e-12)
    assert bp.BinaryCrossEntropy(from_logits=True).forward(Z, T) == pytest.approx(bce, rel=1e-12)


LOSS_CASES = [
    ("mse_half_sum", bp.MSE("half_sum"), S, T),
    ("mse_mean", bp.MSE("mean"), S, T),
    ("mse_labels", bp.MSE(), S, LABELS),
    ("softmax_ce_labels", bp.SoftmaxCrossEntropy(), Z, LABELS),
    ("softmax_ce_onehot", bp.SoftmaxCrossEntropy(), Z, T),
    ("softmax_ce_soft", bp.SoftmaxCrossEntropy(), Z, np.full((4, 3), 0.5)),
    ("categorical_ce", bp.CategoricalCrossEntropy(), P, T),
    ("binary_ce", bp.BinaryCrossEntropy(), S, T),
    ("binary_ce_logits", bp.BinaryCrossEntropy(from_logits=True), Z, T),
]


@pytest.mark.parametrize("name,loss,O,t", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_gradient_matches_central_differences(name, loss, O, t, backend):
    report = check_loss(loss, O, t)
    assert report.max_error < 1e-7, str(report)


def test_fused_sigmoid_mse_delta_equals_the_chain(backend):
    """delta_k = O_k (1 - O_k) (O_k - t_k) / B  ==  sigmoid'(z) * dE/dO of MSE(half_sum)."""
    mse = bp.MSE("half_sum")
    mse.forward(S, T)
    chain = bp.Sigmoid().backward(Z, mse.backward())
    np.testing.assert_allclose(bp.sigmoid_mse_delta(S, T), chain, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sigmoid_output_with_the_half_sum_mse_trains_on_the_fused_delta(dtype, backend,
                                                                          monkeypatch):
    """model.backward(loss), as train_step calls it, takes the output layer's delta from
    the fused kernel: the same delta, dW, db as the generic chain f'(z) * dE/dO, and
    delta_k = O_k (1 - O_k)(O_k - t_k) / B by the formula. Other pairs are not fused."""
    from backprop.core import kernels
    from backprop.app import training_run as train
    model = bp.Sequential.mlp([4, 5, 3], activation="tanh", output_activation="sigmoid",
                              rng=0, dtype=dtype)
    x = RNG.normal(size=(6, 4)).astype(dtype)
    t = RNG.uniform(size=(6, 3)).astype(dtype)
    loss = bp.MSE("half_sum")
    O = model.forward(x)
    loss.forward(O, t)
    model.backward(loss.backward())
    chain = {name: g.copy() for name, g in model.named_grads().items()}
    chain_delta = model.layers[-1].delta.copy()
    calls = []
    fused_kernel = kernels.backend().sigmoid_mse_delta_db
    monkeypatch.setattr(kernels.backend(), "sigmoid_mse_delta_db",
                        lambda *args: calls.append(1) or fused_kernel(*args))
    model.backward(loss)
    assert len(calls) == 1
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(model.layers[-1].delta, chain_delta, **tol)
    np.testing.assert_allclose(model.layers[-1].delta, O * (1 - O) * (O - t) / 6, **tol)
    for name, g in model.named_grads().items():
        np.testing.assert_allclose(g, chain[name], **tol)
    train.train_step(model, loss, bp.SGD(model.params), x, t)  # the training step fuses too
    assert len(calls) == 2
    for activation in (bp.Tanh(), bp.Softmax(), bp.Identity()):
        assert loss.fused_delta(activation) is None
    assert bp.MSE("mean").fused_delta(bp.Sigmoid()) is None


def test_fused_softmax_ce_delta_equals_the_chain(backend):
    """(p - t) / B  ==  softmax Jacobian^T (dE/dp of cross-entropy on p)  ==  the kernel's."""
    ce = bp.CategoricalCrossEntropy()
    ce.forward(P, T)
    chain = bp.Softmax().backward(Z, ce.backward())
    fused = bp.softmax_xent_delta(Z, T)
    np.testing.assert_allclose(fused, (P - T) / 4, rtol=1e-13)
    np.testing.assert_allclose(chain, fused, rtol=1e-12, atol=1e-16)
    loss = bp.SoftmaxCrossEntropy()
    loss.forward(Z, LABELS)
    np.testing.assert_allclose(loss.backward(), fused, rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype, backend):
    for loss, O, t in [(bp.MSE(), S, T), (bp.SoftmaxCrossEntropy(), Z, LABELS),
                       (bp.BinaryCrossEntropy(), S, T)]:
        E = loss.forward(O.astype(dtype), t)
        assert isinstance(E, float)
        assert loss.backward().dtype == dtype


def test_huge_logits_give_finite_loss_and_gradient(backend):
    z = np.array([[1000.0, -1000.0, 0.0], [-3000.0, 3000.0, 5.0]])
    loss = bp.SoftmaxCrossEntropy()
    E = loss.forward(z, np.array([1, 1]))
    assert E == pytest.approx(2000 / 2)  # first row: -log p_1 = 2000; second: 0
    assert np.all(np.isfinite(loss.backward()))


@pytest.mark.parametrize("eps", [None, 1e-3], ids=["default_eps", "eps_1e-3"])
def test_binary_ce_clips_outputs_of_exactly_0_and_1(eps, backend):
    """O clipped to [eps, 1 - eps] (default eps 1e-7): E and dE/dO = (O - t) / (O (1 - O) B K)
    at the clipped O, finite where log 0 and 0/0 would appear."""
    O = np.array([[0.0, 1.0, 0.0], [1.0, 0.3, 0.0], [1.0, 0.0, 1.0]])
    t = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    loss = bp.BinaryCrossEntropy() if eps is None else bp.BinaryCrossEntropy(eps=eps)
    e = 1e-7 if eps is None else eps
    Oc = np.minimum(np.maximum(O, e), 1 - e)
    E = loss.forward(O, t)
    assert np.isfinite(E) and np.all(np.isfinite(loss.backward()))
    assert E == pytest.approx(-np.mean(t * np.log(Oc) + (1 - t) * np.log(1 - Oc)), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (Oc - t) / (Oc * (1 - Oc) * O.size), rtol=1e-12)


@pytest.mark.parametrize("eps", [None, 1e-3], ids=["default_eps", "eps_1e-3"])
def test_categorical_ce_clips_probabilities_of_exactly_0(eps, backend):
    """p clipped to [eps, 1] (default eps 1e-7): E = -1/B sum t log p and dE/dp = -t / (p B)
    at the clipped p, finite for p = 0 (log 0, 0/0) and p = 1."""
    p = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.0, 0.8]])
    labels = np.array([0, 0, 1])  # picks p = 0, p = 1 and p = 0
    t = np.eye(3)[labels]
    loss = bp.CategoricalCrossEntropy() if eps is None else bp.CategoricalCrossEntropy(eps=eps)
    e = 1e-7 if eps is None else eps
    pc = np.maximum(p, e)
    expected = -np.sum(t * np.log(pc)) / 3
    assert expected == pytest.approx(-2 * np.log(e) / 3)  # two rows at the clip
    for targets in (t, labels):
        E = loss.forward(p, targets)
        assert np.isfinite(E) and np.all(np.isfinite(loss.backward()))
        assert E == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(loss.backward(), -t / (pc * 3), rtol=1e-12)


def test_bad_targets_raise_clear_errors():
    loss = bp.SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\] for 3 classes"):
        loss.forward(Z, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"expected one label per sample \(4\)"):
        loss.forward(Z, np.array([0, 1]))
    with pytest.raises(ValueError, match="labels must be a 1-D integer array, got float64"):
        loss.forward(Z, np.array([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="targets must have the outputs' shape"):
        bp.MSE().forward(S, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="2-D array"):
        bp.MSE().forward(S[0], T[0])
    with pytest.raises(ValueError, match="float32 or float64"):
        bp.MSE().forward(S.astype(np.float16), T)
    with pytest.raises(ValueError, match="unknown MSE reduction"):
        bp.MSE("sum")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        bp.get_loss("hinge")
    with pytest.raises(RuntimeError, match="before forward"):
        bp.MSE().backward()


def test_backward_is_fresh_after_every_forward(backend):
    loss = bp.MSE()
    loss.forward(S, T)
    first = loss.backward().copy()
    loss.forward(S, T)
    np.testing.assert_array_equal(loss.backward(), first)
    assert relative_error(first, (S - T) / 4) < 1e-15
