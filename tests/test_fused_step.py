"""The forward and backward pass in one kernel call (``fused_step``) against the
layer-by-layer step it replaces: the same numbers bit for bit, the same state left behind,
the same guardrails, and the layer-by-layer step wherever the fused one does not apply."""
import importlib

import numpy as np
import pytest

import backprop as bp
from backprop import fused_step, kernels
from backprop.kernels import blas, jit, reference
from backprop.layers import InputWarning

fit = importlib.import_module("backprop.fit")
run = importlib.import_module("backprop.train")
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "identity", "softmax"]


def layer_by_layer(monkeypatch):
    """Make train_step take the layer-by-layer path for the rest of the test."""
    monkeypatch.setattr(fused_step, "gradients", lambda *args: None)


def train(sizes, activation, output_activation, dtype, B, steps=4, seed=0, y=None):
    """A fresh MLP after ``steps`` train_steps on seeded random batches; returns the model,
    loss, optimizer and every (E, O)."""
    model = bp.Sequential.mlp(sizes, activation=activation, output_activation=output_activation,
                              rng=seed, dtype=dtype)
    loss, optimizer = bp.losses.SoftmaxCrossEntropy(), bp.optim.Adam(model.params, lr=0.01)
    rng = np.random.default_rng(seed + 1)
    results = []
    for _ in range(steps):
        x = rng.normal(0, 2, (B, sizes[0])).astype(dtype)
        labels = rng.integers(0, sizes[-1], B) if y is None else y
        E, O = fit.train_step(model, loss, optimizer, x, labels)
        results.append((E, O.copy()))
    return model, loss, optimizer, results


def assert_same_state(fused, layered):
    """Weights, gradients, Adam's state, every E and O, every layer's x, cache and delta,
    and the loss's dE/dO: equal bit for bit."""
    (model_f, loss_f, opt_f, results_f), (model_l, loss_l, opt_l, results_l) = fused, layered
    assert np.array_equal(model_f.params, model_l.params)
    assert np.array_equal(model_f.grads, model_l.grads)
    for slot in ("m", "v"):
        assert np.array_equal(opt_f.state[slot][0], opt_l.state[slot][0])
    assert opt_f.t == opt_l.t
    for (E_f, O_f), (E_l, O_l) in zip(results_f, results_l):
        assert E_f == E_l
        assert np.array_equal(O_f, O_l)
    for f, l in zip(model_f.layers, model_l.layers):
        for name in ("x", "cache", "delta"):
            assert np.array_equal(getattr(f, name), getattr(l, name)), name
    assert np.array_equal(loss_f.backward(), loss_l.backward())


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output_activation", [None, "sigmoid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B", [2, 7])
def test_the_fused_step_equals_the_layer_by_layer_step_bit_for_bit(
        backend, monkeypatch, activation, output_activation, dtype, B):
    sizes = [12, 9, 7, 5]
    fused = train(sizes, activation, output_activation, dtype, B)
    layer_by_layer(monkeypatch)
    assert_same_state(fused, train(sizes, activation, output_activation, dtype, B))


def test_the_reference_network_takes_the_fused_step_with_the_same_results(
        backend, monkeypatch, small):
    """784-256-128-64-32-10 ReLU on real batches of 100: the CLI's run."""
    (x, y), _ = small
    runs = []
    for fused in (True, False):
        if not fused:
            layer_by_layer(monkeypatch)
        model, loss, optimizer = run.build(run.TrainConfig(seed=0, batch_size=100))
        taken = []
        for xb, yb in bp.data.Batches(x[:1000], y[:1000], 100, seed=0):
            taken.append(fused_step.gradients(model, loss, xb, yb) is not None)
            E = fit.train_step(model, loss, optimizer, xb, yb)[0]
        runs.append((model.params.copy(), E, taken))
    assert runs[0][2] == [True] * 10 and runs[1][2] == [False] * 10
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


class Doubled(bp.Dense):
    """A Dense subclass: it may override anything, so it goes layer by layer."""


class Softplus(bp.Activation):
    def f(self, z):
        return np.logaddexp(0.0, z)

    def df(self, z):
        return 1 / (1 + np.exp(-z))


def _cases():
    """(model, loss, x, y) the fused step leaves to the layer-by-layer one."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    labels = np.array([0, 1, 2, 1])
    mlp = lambda: bp.Sequential.mlp([6, 5, 3], rng=0)  # noqa: E731
    ce = bp.losses.SoftmaxCrossEntropy
    return {
        "a Dense subclass": (bp.Sequential([Doubled(6, 5, "relu"), bp.Dense(5, 3)]), ce(),
                             x, labels),
        "a user's activation": (bp.Sequential([bp.Dense(6, 5, Softplus()), bp.Dense(5, 3)]), ce(),
                                x, labels),
        "another loss": (mlp(), bp.losses.CategoricalCrossEntropy(from_logits=True), x, labels),
        "one-hot targets": (mlp(), ce(), x, np.eye(3, dtype=np.float32)[labels]),
        "a batch of one": (mlp(), ce(), x[:1], labels[:1]),
        "a layer one unit wide": (bp.Sequential.mlp([6, 1, 3], rng=0), ce(), x, labels),
        "a batch that is not C-contiguous": (mlp(), ce(), np.asfortranarray(x), labels),
        "a float64 batch for a float32 model": (mlp(), ce(), x.astype(np.float64), labels),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_what_the_fused_step_does_not_cover_goes_layer_by_layer(backend, monkeypatch, case):
    model, loss, x, y = _cases()[case]
    assert fused_step.gradients(model, loss, x, y) is None
    calls = []
    forward = model.layers[0].forward
    monkeypatch.setattr(model.layers[0], "forward", lambda x: calls.append(1) or forward(x))
    try:
        fit.train_step(model, loss, bp.optim.Adam(model.params), x, y)
    except ValueError:
        pass  # the float64 batch: the layer's own error, tested below
    assert calls == [1]


def test_a_bad_batch_or_bad_labels_give_the_layer_by_layer_errors(backend):
    model = bp.Sequential.mlp([6, 5, 3], rng=0)
    loss, optimizer = bp.losses.SoftmaxCrossEntropy(), bp.optim.Adam(model.params)
    x = np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\] for 3 outputs"):
        fit.train_step(model, loss, optimizer, x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="integer class labels expected"):
        fit.train_step(model, loss, optimizer, x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="labels must have shape"):
        fit.train_step(model, loss, optimizer, x, np.array([0, 1]))
    with pytest.raises(ValueError, match="like the layer's weights, got float64"):
        fit.train_step(model, loss, optimizer, x.astype(np.float64), np.array([0, 1, 2, 1]))
    assert optimizer.t == 0 and not model.grads.any()


def test_a_non_finite_loss_updates_nothing_and_nan_in_the_batch_is_named(backend):
    model = bp.Sequential.mlp([6, 5, 3], rng=0)
    loss, optimizer = bp.losses.SoftmaxCrossEntropy(), bp.optim.Adam(model.params)
    x = np.ones((4, 6), np.float32)
    fit.train_step(model, loss, optimizer, x, np.array([0, 1, 2, 1]))
    params, grads = model.params.copy(), model.grads.copy()
    x[1, 2] = np.nan
    with pytest.warns(InputWarning, match="batch given to Sequential.forward holds NaN"):
        E, O = fit.train_step(model, loss, optimizer, x, np.array([0, 1, 2, 1]))
    assert np.isnan(E) and np.isnan(O[1]).all()
    assert np.array_equal(model.params, params) and np.array_equal(model.grads, grads)
    assert optimizer.t == 1


def test_softmax_twice_is_still_named(backend):
    model = bp.Sequential.mlp([6, 5, 3], output_activation="softmax", rng=0)
    loss, x = bp.losses.SoftmaxCrossEntropy(), np.ones((4, 6), np.float32)
    with pytest.warns(InputWarning, match="already a probability vector"):
        assert fused_step.gradients(model, loss, x, np.array([0, 1, 2, 1])) is not None


def test_a_changed_activation_or_rebound_weights_are_seen_at_the_next_step(backend, monkeypatch):
    """The fused step's lists are built once per model; a model changed after a step must
    not train with what they hold."""
    def run(fused):
        model = bp.Sequential.mlp([6, 5, 4, 3], rng=0)
        loss, optimizer = bp.losses.SoftmaxCrossEntropy(), bp.optim.Adam(model.params)
        x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
        y = np.array([0, 1, 2, 1])
        fit.train_step(model, loss, optimizer, x, y)
        model.layers[1].activation = bp.activations.get_activation("tanh")
        fit.train_step(model, loss, optimizer, x, y)
        model.layers[1].activation.alpha = 0.5  # read at each step, though tanh ignores it
        model.layers[0].activation = bp.activations.LeakyReLU(0.3)
        fit.train_step(model, loss, optimizer, x, y)
        model.layers[0].activation.alpha = 0.1
        fit.train_step(model, loss, optimizer, x, y)
        return model.params.copy()
    fused = run(True)
    layer_by_layer(monkeypatch)
    assert np.array_equal(fused, run(False))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", [(2, 2, 2), (2, 5, 3), (10, 784, 256), (100, 32, 10),
                                     (4096, 64, 32)])
def test_matmul_into_is_np_matmul_bit_for_bit_in_each_layout(dtype, m, k, n):
    """x W, x^T delta and delta W^T: C with C, F with C, C with F."""
    gemm = blas.gemm(dtype)
    if gemm is None:
        pytest.skip("NumPy's BLAS is not a wheel's OpenBLAS: the fused step is off")
    rng = np.random.default_rng(0)
    for a, b in [(rng.normal(size=(m, k)), rng.normal(size=(k, n))),
                 (rng.normal(size=(k, m)).T, rng.normal(size=(k, n))),
                 (rng.normal(size=(m, k)), rng.normal(size=(n, k)).T)]:
        a, b = a.astype(dtype), b.astype(dtype)
        c, expected = np.empty((m, n), dtype), np.empty((m, n), dtype)
        jit.matmul_into(gemm, a, b, c)
        reference.matmul_into(gemm, a, b, expected)
        assert np.array_equal(c, np.matmul(a, b)) and np.array_equal(c, expected)


def test_numpys_own_blas_is_found_where_numpy_ships_one():
    """NumPy's wheels ship OpenBLAS in numpy.libs: there the fused step must be on."""
    if not blas._numpy_blas_paths():
        pytest.skip("NumPy uses a BLAS from outside its installation")
    assert blas.gemm(np.float32) is not None and blas.gemm(np.float64) is not None


def test_with_no_blas_found_the_numba_backend_goes_layer_by_layer(monkeypatch):
    monkeypatch.setattr(blas, "gemm", lambda dtype: None)
    model = bp.Sequential.mlp([6, 5, 3], rng=0)
    with kernels.use_backend("numba"):
        assert fused_step.gradients(model, bp.losses.SoftmaxCrossEntropy(),
                                    np.ones((4, 6), np.float32), np.array([0, 1, 2, 1])) is None


def test_a_small_batch_runs_its_products_on_one_thread_and_restores_the_setting(
        backend, monkeypatch, small):
    """Batch 10 on the reference network: the fused step at 2 threads gives the
    layer-by-layer step's numbers at 1 thread, and leaves BLAS at 2 threads."""
    if blas.thread_setter() is None:
        pytest.skip("NumPy's BLAS has no openblas_set_num_threads_local")
    from threadpoolctl import threadpool_info
    (x, y), _ = small
    assert fused_step.SMALL_BATCH > 10
    results = []
    try:
        for threads, fused in ((2, True), (1, False)):
            kernels.set_threads(threads)
            if not fused:
                layer_by_layer(monkeypatch)
            model, loss, optimizer = run.build(run.TrainConfig(seed=0, batch_size=10))
            for xb, yb in bp.data.Batches(x[:200], y[:200], 10, seed=0):
                fit.train_step(model, loss, optimizer, xb, yb)
            if fused:
                blas_threads = {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()
                                if pool["user_api"] == "blas"}
            results.append(model.params.copy())
    finally:
        kernels.set_threads()
    assert all(n == min(2, max(blas_threads.values())) for n in blas_threads.values())
    assert np.array_equal(results[0], results[1])
