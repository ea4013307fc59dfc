"""The code that trains is the code a reader reads, and the gradient check verifies it.

Training (``bp.fit``, ``backprop train``) runs ``Dense.forward`` and ``Dense.backward``;
``bp.gradcheck`` differentiates through the step training takes, so a wrong line in a
kernel that trains fails the check; one thread setting holds for every way of training,
so ``bp.fit`` and README's loop written by hand give the same weights, and training in
two Python threads gives each model the weights it gets alone.
"""
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import backprop as bp
from backprop.core import loop
from backprop.core import kernels
from backprop.app import training_run as train
from backprop.app.data import Batches

REFERENCE = [784, 256, 128, 64, 32, 10]


def _count_calls(monkeypatch):
    """Count Dense.forward and Dense.backward calls, running the real methods."""
    calls = {"forward": 0, "backward": 0}
    for name in calls:
        method = getattr(bp.Dense, name)

        def counted(self, *args, _method=method, _name=name, **kwargs):
            calls[_name] += 1
            return _method(self, *args, **kwargs)
        monkeypatch.setattr(bp.Dense, name, counted)
    return calls


def test_fit_on_class_labels_runs_dense_forward_and_backward(monkeypatch, small):
    (x, y), _ = small
    model = bp.Sequential.mlp([784, 32, 16, 10], rng=0)
    calls = _count_calls(monkeypatch)
    bp.fit(model, x[:1000], y[:1000], loss="ce", epochs=2, batch_size=100, verbose=0)
    steps = 2 * 10
    assert calls == {"forward": 3 * steps, "backward": 3 * steps}


def test_backprop_train_runs_dense_forward_and_backward(monkeypatch, cli_data):
    calls = _count_calls(monkeypatch)
    config = train.TrainConfig(epochs=1, batch_size=20, hidden=(8,))
    train.run_training(config, cli_data, quiet=True, log=lambda *a: None)
    steps = -(-len(cli_data[0][0]) // 20)
    assert calls["forward"] == 2 * steps and calls["backward"] == 2 * steps


def _wrong_relu_delta(z, g, delta, db):
    """relu's delta step with one wrong line: db takes the first sample only."""
    delta[...] = np.where(z >= 0, g, 0)
    db[...] = delta[0]


def test_gradcheck_catches_a_wrong_line_in_the_kernel_that_trains(monkeypatch, backend):
    model, loss, x, t = bp.core.gradient_check.check_problem(activation="relu", loss="ce", batch=5)
    assert bp.gradcheck(model, loss, x, t).ok
    optimizer = bp.SGD(model.params, lr=0.1)
    theta = model.params.copy()
    loop.train_step(model, loss, optimizer, x, t)
    right_step = model.params - theta
    model.params[...] = theta

    monkeypatch.setattr(kernels.backend(), "relu_delta_db", _wrong_relu_delta)
    loop.train_step(model, loss, optimizer, x, t)
    assert not np.allclose(model.params - theta, right_step)  # training takes the bug
    model.params[...] = theta
    report = bp.gradcheck(model, loss, x, t)
    assert not report.ok                                       # and the check sees it
    assert "FAIL" in str(report) and "dE/db1" in str(report)


def test_the_gradient_check_runs_the_training_step(monkeypatch):
    model, loss, x, t = bp.core.gradient_check.check_problem(activation="tanh", loss="mse")
    seen = []
    gradients = loop.gradients

    def recorded(*args):
        seen.append(args[0])
        return gradients(*args)
    monkeypatch.setattr(loop, "gradients", recorded)
    assert bp.gradcheck(model, loss, x, t).ok
    assert seen == [model]


def _by_hand(model, x, y, batch_size, seed=0):
    """README's loop: forward, E, the delta rule, Adam, over shuffled batches."""
    loss, opt = bp.SoftmaxCrossEntropy(), bp.Adam(model.params, lr=1e-3)
    for xb, yb in Batches(x, y, batch_size=batch_size, seed=seed):
        loss.forward(model.forward(xb), yb)
        model.backward(loss)
        opt.step(model.grads)


def test_fit_and_the_loop_by_hand_agree_bit_for_bit_at_batch_10_on_two_threads(small):
    (x, y), _ = small          # 3000 images: 300 steps of 10
    with threadpool_limits(2, user_api="blas"):
        fitted = bp.Sequential.mlp(REFERENCE, rng=0)
        bp.fit(fitted, x, y, loss="ce", optimizer="adam", epochs=1, batch_size=10, verbose=0)
        by_hand = bp.Sequential.mlp(REFERENCE, rng=0)
        _by_hand(by_hand, x, y, 10)
    assert not np.array_equal(fitted.params, bp.Sequential.mlp(REFERENCE, rng=0).params)
    assert np.array_equal(fitted.params, by_hand.params)


def _blas_threads():
    return [(pool["filepath"], pool["num_threads"]) for pool in threadpool_info()
            if pool["user_api"] == "blas"]


def test_two_models_trained_in_two_python_threads_end_as_when_trained_alone(small):
    (x, y), _ = small
    x, y = x[:2000], y[:2000]
    runs = [(10, [784, 64, 32, 10]), (100, REFERENCE)]   # (batch size, sizes)
    before = _blas_threads()

    def train_one(batch_size, sizes, results, i):
        model = bp.Sequential.mlp(sizes, rng=i)
        bp.fit(model, x, y, loss="ce", epochs=1, batch_size=batch_size, verbose=0)
        results[i] = model.params

    alone = {}
    for i, (batch_size, sizes) in enumerate(runs):
        train_one(batch_size, sizes, alone, i)
    together = {}
    threads = [threading.Thread(target=train_one, args=(*run, together, i))
               for i, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(len(runs)):
        assert np.array_equal(together[i], alone[i])
    assert _blas_threads() == before                   # the user's setting, untouched


@pytest.mark.parametrize("batch_size", [1, 10, 100])
def test_training_leaves_the_blas_thread_setting_as_the_user_left_it(small, batch_size):
    (x, y), _ = small
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        bp.fit(bp.Sequential.mlp([784, 16, 10], rng=0), x[:200], y[:200], loss="ce",
               batch_size=batch_size, verbose=0)
        assert _blas_threads() == before
