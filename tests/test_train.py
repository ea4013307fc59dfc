"""Training end to end: one real epoch, run folder contents, resume equality (between and
within epochs), divergence, and the CLI's error handling."""
import json
import os
import signal

import numpy as np
import pytest

import backprop as bp
from backprop.app import training_run as train
from backprop.app.cli import main
from tiny_runs import assert_one_line_error, run_cli

FASHION = "/usr/share/datasets/fashion-mnist"
needs_data = pytest.mark.skipif(not os.path.isdir(FASHION),
                                reason="apt-get install dataset-fashion-mnist")


@pytest.mark.slow  # a whole epoch of the real data
@needs_data
def test_one_epoch_of_the_reference_run_reaches_82_percent(fashion, tmp_path):
    config = train.TrainConfig(epochs=1)
    model, history = train.run_training(config, fashion, out_dir=str(tmp_path), quiet=True)
    record = history["epochs"][0]
    assert record["test_accuracy"] >= 0.82, record
    assert record["train_accuracy"] > 0.75 and record["steps"] == 600
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["epochs"][0]["test_accuracy"] == record["test_accuracy"]
    assert saved["config"]["hidden"] == [256, 128, 64, 32] and saved["version"] == bp.__version__
    assert set(saved["epochs"][0]) >= {"epoch", "train_loss", "train_accuracy", "test_loss",
                                       "test_accuracy", "seconds"}
    loaded = bp.load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.params, model.params)
    # the test accuracy on record is the model's: recompute it independently
    x_test = fashion[1][0].reshape(-1, 784).astype(np.float32) / 255
    accuracy = np.mean(np.argmax(loaded.predict(x_test), axis=1) == fashion[1][1])
    assert accuracy == pytest.approx(record["test_accuracy"], abs=1e-12)


@needs_data
def test_resume_between_epochs_gives_the_uninterrupted_weights(small, tmp_path):
    config = train.TrainConfig(epochs=3, hidden=(32, 16))
    straight, _ = train.run_training(config, small, quiet=True)
    train.run_training(train.TrainConfig(epochs=1, hidden=(32, 16)), small, out_dir=str(tmp_path),
                       quiet=True)
    resumed, history = train.run_training(config, small, out_dir=str(tmp_path), resume=True,
                                          quiet=True)
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3]
    np.testing.assert_array_equal(straight.params, resumed.params)


@needs_data
def test_sigint_mid_epoch_saves_a_checkpoint_and_resume_is_exact(small, tmp_path, monkeypatch):
    config = train.TrainConfig(epochs=2, hidden=(32, 16), batch_size=50)
    straight, straight_history = train.run_training(config, small, quiet=True)

    real_step, steps = train.train_step, []

    def signal_at_step(*args):  # SIGINT during step 17 of epoch 2 (epochs of 60 steps)
        steps.append(1)
        if len(steps) == 60 + 17:
            signal.raise_signal(signal.SIGINT)
        return real_step(*args)

    monkeypatch.setattr(train, "train_step", signal_at_step)
    with pytest.raises(train.Interrupted, match=r"SIGINT: stopped at epoch 2, step 17 of 60.*--resume"):
        train.run_training(config, small, out_dir=str(tmp_path), quiet=True)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    monkeypatch.undo()
    resumed, history = train.run_training(config, small, out_dir=str(tmp_path), resume=True,
                                          quiet=True)
    np.testing.assert_array_equal(straight.params, resumed.params)
    # the interrupted epoch's running train loss was carried over, so the record matches too
    assert history["epochs"][1]["train_loss"] == straight_history["epochs"][1]["train_loss"]


@needs_data
def test_divergence_stops_with_epoch_step_and_layer(small, tmp_path):
    """Momentum SGD with eta = 1e8 really diverges: the weights blow up within a few steps."""
    config = train.TrainConfig(epochs=2, hidden=(32,), optimizer="momentum", lr=1e8)
    with pytest.raises(train.TrainingError,
                       match=r"diverged at epoch 1, step \d+: loss is (nan|inf) \((non-finite values "
                             r"in|the output of layer \d overflowed)"):
        train.run_training(config, small, out_dir=str(tmp_path), quiet=True)
    assert not (tmp_path / "checkpoint.npz").exists()  # nothing good to keep yet


@needs_data
def test_resume_refuses_a_checkpoint_of_another_run(small, tmp_path):
    train.run_training(train.TrainConfig(epochs=1, hidden=(16,)), small, out_dir=str(tmp_path),
                       quiet=True)
    with pytest.raises(train.TrainingError, match=r"different run: hidden \(16,\) \(now \(32,\)\)"):
        train.run_training(train.TrainConfig(epochs=2, hidden=(32,)), small, out_dir=str(tmp_path),
                           resume=True, quiet=True)


def test_confusion_matrix_counts():
    C = train.confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0], 3)
    assert C.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 2]]


def test_bad_configs_are_value_errors():
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train.TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        train.TrainConfig(optimizer="lbfgs")


# ------------------------------------------------------------------------------------ CLI


def _one_line_error(capsys, argv, match):
    """``backprop argv`` is one line on stderr, exit 2, that says ``match``."""
    code, _, err = run_cli(capsys, argv)
    line = assert_one_line_error(code, err)
    assert match in line, line


def test_cli_rejects_bad_arguments_in_one_line(capsys, tmp_path):
    for argv, match in [(["train", "--epochs", "0"], "expected a number >= 1"),
                        (["train", "--lr", "fast"], "expected a number"),
                        (["train", "--hidden", "256,x"], "comma-separated layer sizes"),
                        (["train", "--optimizer", "lbfgs"], "invalid choice"),
                        (["train", "--loss", "hinge"], "invalid choice")]:
        _one_line_error(capsys, argv, match)
    _one_line_error(capsys, ["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")],
                    match="no such folder")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _one_line_error(capsys, ["train", "--out", str(blocker / "run")],
                    match=f"cannot make the output folder {blocker / 'run'}: {blocker} is a "
                          f"file, not a folder")
    _one_line_error(capsys, ["evaluate", str(tmp_path)], match="holds no model.npz")


@pytest.mark.slow  # two epochs of the real data
@needs_data
def test_cli_train_resume_and_evaluate(capsys, tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    argv = ["train", "--epochs", "1", "--hidden", "32", "--out", out, "--no-plots", "--quiet"]
    assert main(argv) == 0
    _one_line_error(capsys, argv, match="already holds a run (checkpoint.npz, history.json, model.npz); pass --resume")
    assert main(["train", "--epochs", "2", "--hidden", "32", "--out", out, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "resuming" in printed and "epoch   2/2" in printed and "best test accuracy" in printed
    import matplotlib.image
    for name, (height, width) in [("curves.png", (420, 1100)), ("confusion.png", (750, 850)),
                                  ("samples.png", (1050, 1400))]:
        pixels = matplotlib.image.imread(tmp_path / "run" / name)
        assert pixels.shape[:2] == (height, width), name
        assert pixels[..., :3].std() > 0.05, f"{name} is blank"
    assert main(["evaluate", out]) == 0
    report = capsys.readouterr().out
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert f"test accuracy {history['final_test_accuracy']:.4f}" in report
    assert "Ankle boot" in report and "confusion matrix" in report


@needs_data
def test_nan_in_the_weights_after_a_good_epoch_keeps_that_epochs_checkpoint(small, tmp_path):
    """An injected NaN in W3 after epoch 1: epoch 2's first step stops the run, naming the
    epoch, the step and the parameter, and the epoch-1 checkpoint stays as it was."""
    config = train.TrainConfig(epochs=3, hidden=(32, 16))

    def poison(record, model):
        if record["epoch"] == 1:
            model.layers[2].W[0, 0] = np.nan

    with pytest.raises(train.TrainingError) as info:
        train.run_training(config, small, out_dir=str(tmp_path), quiet=True, on_epoch=poison)
    message = str(info.value)
    assert "diverged at epoch 2, step 1: loss is nan (non-finite values in W3" in message
    assert f"the last good checkpoint is {tmp_path / 'checkpoint.npz'}" in message
    model, loss, optimizer = train.build(config)
    position = train.load_checkpoint(tmp_path / "checkpoint.npz", config, model, optimizer)
    assert position.epoch == 1 and np.all(np.isfinite(model.params))


@needs_data
def test_cli_diverging_run_exits_3_with_one_line(capsys, tmp_path):
    """Plain SGD with eta = 1e30 really diverges (the loss turns NaN within a few steps)."""
    code, _, err = run_cli(capsys, ["train", "--optimizer", "sgd", "--lr", "1e30", "--hidden",
                                    "32", "--epochs", "1", "--quiet", "--no-plots", "--out",
                                    tmp_path / "run"])
    line = assert_one_line_error(code, err, codes=(3,))
    assert "training diverged at epoch 1, step" in line and "try a smaller learning rate" in line


def test_fit_refuses_labels_beyond_its_classes(small):
    (x, y), test = small
    y = y.copy()
    y[5] = 200
    with pytest.raises(ValueError, match=r"training labels must be in \[0, 9\] for 10 classes"):
        train.run_training(train.TrainConfig(epochs=1, hidden=(8,)), ((x, y), test), quiet=True)


@pytest.mark.parametrize("epochs, said", [
    (2, "already has 2 of 2 epochs; nothing to train"),
    (1, "already has 2 epochs, more than the 1 asked for; nothing to train"),
])
def test_resume_of_a_finished_run_says_how_far_it_went(cli_data, tmp_path, epochs, said):
    config = train.TrainConfig(epochs=2, hidden=(4,), batch_size=20)
    train.run_training(config, cli_data, out_dir=str(tmp_path), quiet=True)
    lines = []
    fewer = train.TrainConfig(epochs=epochs, hidden=(4,), batch_size=20)
    train.run_training(fewer, cli_data, out_dir=str(tmp_path), resume=True, log=lines.append)
    assert len(lines) == 1 and said in lines[0], lines
