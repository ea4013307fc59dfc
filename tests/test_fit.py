"""bp.fit and bp.evaluate: XOR with the derivation's network, a regression, Keras's
History names, verbose levels, callbacks, divergence, and the CLI's train running the
same loop (same weights, same numbers)."""
import re

import numpy as np
import pytest

import backprop as bp
from backprop.core import loop
from backprop.app import training_run as train
from backprop.app.data import Batches

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_T = np.array([[0], [1], [1], [0]], dtype=np.float64)


def xor_model():
    """The derivation's network: sigmoid units everywhere, 2-2-1, float64."""
    return bp.Sequential.mlp([2, 2, 1], activation="sigmoid", output_activation="sigmoid",
                             rng=0, dtype=np.float64)


def blobs(n=120, seed=0, dtype=np.float64):
    """Three Gaussian blobs in 2-D with their labels: a classification in milliseconds."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    return (centres[y] + rng.normal(size=(n, 2))).astype(dtype), y


def test_xor_trains_to_within_0_1_of_the_targets(backend):
    model = xor_model()
    history = bp.fit(model, XOR_X, XOR_T, loss="mse", optimizer=bp.SGD(model.params, lr=8.0),
                     epochs=2000, batch_size=4, verbose=0)
    O = model.predict(XOR_X)
    assert np.max(np.abs(O - XOR_T)) < 0.1, O.ravel()
    assert sorted(history.history) == ["loss"]               # real targets: no accuracy
    assert history.epoch == list(range(2000)) and len(history.history["loss"]) == 2000
    assert history.history["loss"][-1] < history.history["loss"][0] / 100
    # "loss" of an epoch is E before that epoch's (one) update: recompute the last one
    # from the weights of one epoch earlier, by running it again
    again = xor_model()
    bp.fit(again, XOR_X, XOR_T, loss="mse", optimizer=bp.SGD(again.params, lr=8.0),
           epochs=1999, batch_size=4, verbose=0)
    E = bp.MSE().forward(again.predict(XOR_X), XOR_T)
    assert history.history["loss"][-1] == pytest.approx(E, rel=1e-12)


def test_fit_is_the_step_by_step_loop_and_history_has_keras_names():
    """bp.fit's weights and numbers equal a hand-written loop of the same steps."""
    x, y = blobs()
    x_val, y_val = blobs(40, seed=1)
    model = bp.Sequential.mlp([2, 8, 3], activation="tanh", rng=3, dtype=np.float64)
    history = bp.fit(model, x, y, loss="CE", optimizer="Adam", epochs=40, batch_size=16,
                     validation_data=(x_val, y_val), seed=5, verbose=0)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.epoch == list(range(40)) and history.params["steps"] == 8

    hand = bp.Sequential.mlp([2, 8, 3], activation="tanh", rng=3, dtype=np.float64)
    loss, adam = bp.SoftmaxCrossEntropy(), bp.Adam(hand.params)
    batches = Batches(x, y, 16, seed=5, dtype=np.float64)
    for epoch in range(40):
        total = correct = 0
        for xb, yb in batches:
            O = hand.forward(xb)
            E = loss.forward(O, yb)
            hand.backward(loss)
            adam.step(hand.grads)
            total += E * len(yb)
            correct += np.sum(np.argmax(O, axis=1) == yb)
        assert history.history["loss"][epoch] == total / len(y)
        assert history.history["accuracy"][epoch] == correct / len(y)
    np.testing.assert_array_equal(model.params, hand.params)
    O_val = hand.predict(x_val)
    assert history.history["val_loss"][-1] == pytest.approx(loss.forward(O_val, y_val), rel=1e-12)
    assert history.history["val_accuracy"][-1] == np.mean(np.argmax(O_val, axis=1) == y_val)
    result = bp.evaluate(model, x_val, y_val, loss="ce")
    assert result == {"loss": pytest.approx(history.history["val_loss"][-1], rel=1e-12),
                      "accuracy": history.history["val_accuracy"][-1]}
    assert history.history["val_accuracy"][-1] > 0.9


def test_a_regression_with_1d_float_targets_and_float32_features():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(256, 1))                     # float64 in, model float32
    y = np.sin(x[:, 0])                                       # (N,): one output per sample
    model = bp.Sequential.mlp([1, 16, 1], activation="tanh", rng=0)
    history = bp.fit(model, x, y, loss="mse", optimizer=bp.Adam(model.params, lr=0.01),
                     epochs=100, batch_size=32, validation_data=(x[:64], y[:64]), verbose=0)
    assert sorted(history.history) == ["loss", "val_loss"]
    assert history.history["loss"][-1] < 0.01 < history.history["loss"][0]
    result = bp.evaluate(model, x[:64], y[:64], loss="mse")
    assert list(result) == ["loss"]
    O = model.predict(x[:64].astype(np.float32))
    assert result["loss"] == pytest.approx(np.mean(0.5 * (O[:, 0] - y[:64]) ** 2), rel=1e-5)
    assert result["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-6)


def test_verbose_0_1_2(capsys):
    x, y = blobs(30)
    for verbose in (0, 1, 2):
        model = bp.Sequential.mlp([2, 4, 3], rng=0, dtype=np.float64)
        bp.fit(model, x, y, loss="ce", epochs=2, batch_size=10, verbose=verbose,
               validation_data=(x, y))
        out, err = capsys.readouterr()
        if verbose == 0:
            assert (out, err) == ("", "")
        elif verbose == 1:
            assert out == "" and "epoch 1/2: 100%" in err and "epoch 2/2: 100%" in err
            assert "val_accuracy=" in err
        else:
            lines = out.splitlines()
            assert err == "" and len(lines) == 2, out
            assert re.fullmatch(r"epoch 2/2: loss \d\.\d{4}, accuracy \d\.\d{4}, val_loss "
                                r"\d\.\d{4}, val_accuracy \d\.\d{4}, \d+\.\d\d s", lines[1])


def test_callbacks_see_every_hook_in_order_and_can_stop():
    calls = []

    class Spy(bp.Callback):
        def on_train_begin(self, logs=None):
            calls.append("begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            calls.append(f"batch {batch} step {self.loop.position.global_step}")
            if self.loop.position.global_step == 5:
                self.loop.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            calls.append("done")

    x, y = blobs(30)
    model = bp.Sequential.mlp([2, 4, 3], rng=0, dtype=np.float64)
    history = bp.fit(model, x, y, loss="ce", epochs=4, batch_size=10, verbose=0,
                     callbacks=[Spy()])
    assert calls == ["begin", "epoch 0", "batch 0 step 1", "batch 1 step 2", "batch 2 step 3",
                     "end 0 ['accuracy', 'loss', 'seconds']", "epoch 1", "batch 0 step 4",
                     "batch 1 step 5", "done"]
    assert history.epoch == [0]  # the stopped epoch is not recorded


def test_names_instances_and_their_errors():
    x, y = blobs(20)
    model = bp.Sequential.mlp([2, 4, 3], rng=0, dtype=np.float64)
    other = bp.Sequential.mlp([2, 4, 3], rng=1, dtype=np.float64)
    with pytest.raises(ValueError, match="updates other arrays than this model's weights"):
        bp.fit(model, x, y, loss="ce", optimizer=bp.Adam(other.params), verbose=0)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        bp.fit(model, x, y, loss="ce", optimizer="lbfgs", verbose=0)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        bp.fit(model, x, y, loss="hinge", verbose=0)
    with pytest.raises(ValueError, match="x has 3 features per sample but the model takes 2"):
        bp.fit(model, np.zeros((20, 3)), y, loss="ce", verbose=0)
    with pytest.raises(ValueError, match="x has 20 samples but its targets 19"):
        bp.fit(model, x, y[:19], loss="ce", verbose=0)
    with pytest.raises(ValueError, match="validation x has 3 features"):
        bp.fit(model, x, y, loss="ce", validation_data=(np.zeros((5, 3)), y[:5]), verbose=0)
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        bp.fit(model, x, y, loss="ce", verbose=3)
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1, got 2.5"):
        bp.fit(model, x, y, loss="ce", epochs=2.5)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        bp.fit(model, x, y, loss="ce", batch_size=0)
    sgd = bp.SGD(model.params, lr=0.1)
    bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=sgd, epochs=2, batch_size=5,
           verbose=0)
    assert sgd.t == 8  # the instance given is the one that stepped: 2 epochs of 4 steps


def test_a_diverging_fit_names_the_epoch_step_and_place():
    x, y = blobs(40)
    model = bp.Sequential.mlp([2, 16, 3], rng=0, dtype=np.float64)
    with pytest.raises(bp.TrainingError,
                       match=r"training diverged at epoch \d+, step \d+: loss is (nan|inf) "
                             r"\(.*\); try a smaller learning rate"):
        bp.fit(model, x * 1e3, y, loss="ce", optimizer=bp.SGD(model.params, lr=1e30),
               epochs=5, batch_size=10, verbose=0)
    x[7, 1] = np.nan  # NaN in the data is refused before any step
    with pytest.raises(ValueError, match=r"x holds NaN or Inf \(first in row 7\)"):
        bp.fit(model, x, y, loss="ce", verbose=0)


def test_the_cli_training_run_is_bp_fit(monkeypatch):
    """train.run_training runs loop.Loop: its weights and records equal bp.fit's on the same data."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 3, 3), dtype=np.uint8)
    y = (x.reshape(60, -1).mean(axis=1) > 127).astype(np.int64)
    data = ((x[:40], y[:40]), (x[40:], y[40:]))
    config = train.TrainConfig(epochs=2, hidden=(5,), batch_size=8, lr=0.01)
    runs = []
    real_run = loop.Loop.run
    monkeypatch.setattr(loop.Loop, "run", lambda self: runs.append(self) or real_run(self))
    cli_model, record = train.run_training(config, data, quiet=True, n_classes=2)
    assert len(runs) == 1  # one loop, loop.Loop's

    model, loss, optimizer = train.build(config, 9, 2)
    history = bp.fit(model, data[0][0], data[0][1], loss=loss, optimizer=optimizer,
                     epochs=2, batch_size=8, seed=config.seed, validation_data=data[1],
                     verbose=0)
    np.testing.assert_array_equal(cli_model.params, model.params)
    for name, key in [("loss", "train_loss"), ("accuracy", "train_accuracy"),
                      ("val_loss", "test_loss"), ("val_accuracy", "test_accuracy")]:
        assert history.history[name] == [r[key] for r in record["epochs"]]
