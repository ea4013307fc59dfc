"""How ``backprop train`` stops when it cannot start, cannot go on or is told to, and what
it leaves in the run folder: ``--force`` deletes the old run only once the new one can
start; a loss that is not finite is divergence (exit 3) naming the last good checkpoint; a
full disk names the file being written; ``--out`` naming a file; SIGINT and SIGTERM after
the last step. Each test is a row of docs/reliability.md; all run on tiny synthetic data."""
import errno
import json
import math
import os
import signal

import numpy as np
import pytest

import backprop
from backprop.core import loop
from backprop.app import training_run as train
from tiny_runs import FullDiskFile, assert_one_line_error, run_cli, tiny

RUN_FILES = ["checkpoint.npz", "history.json", "model.npz"]


@pytest.fixture
def old_run(finished_run):
    """A finished run's folder and the bytes of its files."""
    return finished_run, {name: (finished_run / name).read_bytes() for name in RUN_FILES}


# -------------------------------------------------------------------- --force loses nothing

@pytest.mark.parametrize("args, code, says", [
    (["--data", "/nonexistent"], 2, "no such folder"),
    (["--hidden", "99999999999"], 2, "choose smaller --hidden sizes"),
    (["--lr", "1e-50"], 2, "learning rate 1e-50 is 0 in float32"),
    (["--lr", "1e39"], 2, "learning rate 1e+39 is inf in float32"),
    (["--resume"], 2, "--resume continues the run in --out and --force deletes it"),
], ids=["--data /nonexistent", "--hidden 99999999999", "--lr 1e-50", "--lr 1e39", "--resume"])
def test_force_keeps_the_old_run_when_the_new_one_cannot_start(args, code, says, old_run,
                                                               capsys):
    out, before = old_run
    got, printed, err = run_cli(capsys, ["train", "--out", out, "--force", "--hidden", "4",
                                         "--epochs", "1", "--quiet", "--no-plots", *args])
    line = assert_one_line_error(got, err, codes=(code,))
    assert says in line, line
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == before
    assert printed == ""


def test_force_deletes_only_under_the_lock(old_run, capsys, monkeypatch):
    """The old files go after the folder is locked and the network built."""
    out, before = old_run
    seen = []
    real = train.build

    def build(*args, **kwargs):
        seen.append(sorted(p.name for p in out.iterdir()))
        return real(*args, **kwargs)
    monkeypatch.setattr(train, "build", build)
    code, _, err = run_cli(capsys, ["train", "--out", out, "--force", "--hidden", "4",
                                    "--epochs", "1", "--batch-size", "20", "--quiet",
                                    "--no-plots"])
    assert code == 0, err
    assert seen == [[".lock", *RUN_FILES]]  # locked, nothing deleted yet


# ---------------------------------------------------- a loss that is not finite: divergence

def test_a_non_finite_test_loss_at_an_epochs_end_is_divergence(cli_data, tmp_path, capsys):
    """One step per epoch with eta = 1e38: the step's loss is finite, the update is not."""
    out = tmp_path / "R"
    code, _, err = run_cli(capsys, ["train", "--out", out, "--optimizer", "sgd", "--lr",
                                    "1e38", "--batch-size", "60", "--epochs", "2", "--hidden",
                                    "8", "--quiet", "--no-plots"])
    line = assert_one_line_error(code, err, codes=(3,))
    assert "training diverged at epoch 1" in line and "not finite" in line, line
    assert "last good checkpoint" not in line
    assert not (out / "checkpoint.npz").exists() and not (out / "model.npz").exists()
    assert not (out / "history.json").exists()


def test_a_divergence_after_a_good_epoch_names_that_epochs_checkpoint(tmp_path):
    config = train.TrainConfig(epochs=3, hidden=(8,), batch_size=60, optimizer="sgd", lr=0.01)

    def blow_up(record, model):
        if record["epoch"] == 1:
            model.layers[0].W[...] *= 1e30  # finite weights whose outputs overflow

    with pytest.raises(train.TrainingError) as info:
        train.run_training(config, tiny(), out_dir=str(tmp_path), quiet=True, on_epoch=blow_up)
    message = str(info.value)
    assert "diverged at epoch 2" in message, message
    assert f"the last good checkpoint is {tmp_path / 'checkpoint.npz'}" in message
    model, _, optimizer = train.build(config, 64, 10)
    assert train.load_checkpoint(tmp_path / "checkpoint.npz", config, model, optimizer).epoch == 1
    assert np.max(np.abs(model.params)) < 1e6
    for record in json.loads((tmp_path / "history.json").read_text())["epochs"]:
        assert all(math.isfinite(v) for v in record.values())


# --------------------------------------------------------------- a full disk names the file

def _enospc_at(monkeypatch, ending, nth=1):
    """os.fsync raises ENOSPC, with no file name (as the system's does), at the nth fsync of
    a temporary file whose name ends with ``ending``."""
    real, calls = os.fsync, []

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(ending):
            calls.append(fd)
            if len(calls) == nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("ending, nth", [("-checkpoint.npz", 2), ("-history.json", 2),
                                         ("-model.npz", 1)])
def test_a_full_disk_names_the_file_being_written(ending, nth, cli_data, tmp_path,
                                                  monkeypatch, capsys):
    _enospc_at(monkeypatch, ending, nth)
    out = tmp_path / "R"
    code, _, err = run_cli(capsys, ["train", "--out", out, "--epochs", "2", "--hidden", "4",
                                    "--batch-size", "20", "--quiet", "--no-plots"])
    line = assert_one_line_error(code, err)
    assert line == f"backprop: error: cannot write {out / ending[1:]}: No space left on " \
                   f"device", line
    assert not [p for p in os.listdir(out) if p.startswith(".tmp-")]


def test_a_full_disk_while_a_write_is_under_way_names_the_file(tmp_path, monkeypatch):
    """A write() that fails (the other place a full disk shows), with no file name."""
    from backprop.app import io as bio

    def full_disk_open(file, mode="r", *args, **kwargs):
        f = open(file, mode, *args, **kwargs)
        return FullDiskFile(f) if "x" in mode else f  # "x": atomic_write's temporary file
    monkeypatch.setattr(bio, "open", full_disk_open, raising=False)
    with pytest.raises(OSError) as info:
        bio.write_json(tmp_path / "h.json", {"epochs": []})
    assert str(info.value) == f"cannot write {tmp_path / 'h.json'}: No space left on device"
    assert info.value.errno == errno.ENOSPC and os.listdir(tmp_path) == []


def test_a_full_disk_while_drawing_a_figure_names_the_figure(cli_data, tmp_path, monkeypatch,
                                                            capsys):
    import matplotlib.figure

    def savefig(self, fname, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    out = tmp_path / "R"
    code, _, err = run_cli(capsys, ["train", "--out", out, "--epochs", "1", "--hidden", "4",
                                    "--batch-size", "20", "--quiet"])
    line = assert_one_line_error(code, err)
    assert line == f"backprop: error: cannot write {out / 'curves.png'}: No space left on " \
                   f"device", line


# ---------------------------------------------------------------------- --out naming a file

def test_out_naming_a_file_says_it_is_a_file_not_a_folder(cli_data, tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    for extra in ([], ["--resume"], ["--force"]):
        code, printed, err = run_cli(capsys, ["train", "--out", path, "--epochs", "1", "--quiet",
                                              "--no-plots", *extra])
        line = assert_one_line_error(code, err)
        assert line == f"backprop: error: --out {path} is a file, not a folder", (extra, line)
    assert path.read_text() == "mine"
    with pytest.raises(OSError, match=f"cannot make the output folder {path / 'run'}: "
                                      f"{path} is a file, not a folder"):
        train.run_training(train.TrainConfig(epochs=1, hidden=(4,)), tiny(),
                           out_dir=str(path / "run"),
                           quiet=True)


# --------------------------------------------------- SIGINT and SIGTERM after the last step

class Unhandled(Exception):
    """What this test's own SIGTERM handler raises: a SIGTERM the program did not catch."""


@pytest.fixture
def sigterm_is_caught():
    """A SIGTERM the program does not handle itself raises Unhandled here, instead of
    ending the test process."""
    def handler(signum, frame):
        raise Unhandled("SIGTERM reached the default handler")
    previous = signal.signal(signal.SIGTERM, handler)
    yield
    signal.signal(signal.SIGTERM, previous)


def _signal_at(moment, signum, monkeypatch):
    """Send ``signum`` to this process at ``moment`` of the second (last) epoch."""
    calls = []

    def send():
        calls.append(moment)
        signal.raise_signal(signum)

    if moment == "the last evaluation":
        real = loop.evaluate_batches

        def evaluate(*args, **kwargs):
            result = real(*args, **kwargs)
            if len(calls) == 0 and evaluate.n == 1:
                send()
            evaluate.n += 1
            return result
        evaluate.n = 0
        monkeypatch.setattr(loop, "evaluate_batches", evaluate)
        return calls
    ending = {"the last checkpoint write": "checkpoint.npz",
              "the final model write": "model.npz"}[moment]
    real_replace, seen = os.replace, []

    def replace(src, dst):
        if str(dst).endswith(ending):
            seen.append(dst)
            if len(seen) == (2 if ending == "checkpoint.npz" else 1):
                send()
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("moment", ["the last evaluation", "the last checkpoint write",
                                    "the final model write"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_the_last_step_is_honoured_with_the_resume_hint(
        moment, signum, cli_data, tmp_path, capsys, sigterm_is_caught):
    out = tmp_path / "R"
    with pytest.MonkeyPatch.context() as patch:
        calls = _signal_at(moment, signum, patch)
        code, _, err = run_cli(capsys, ["train", "--out", out, "--epochs", "2", "--hidden", "4",
                                        "--batch-size", "20", "--quiet", "--no-plots"])
    assert calls == [moment]
    name = signal.Signals(signum).name
    line = assert_one_line_error(code, err, codes=(128 + signum,))
    assert line == (f"backprop: {name}: stopped after the last epoch (2 of 2); checkpoint "
                    f"saved to {out / 'checkpoint.npz'}; resume with: backprop train --out "
                    f"{out} --resume"), line
    config = train.TrainConfig(epochs=2, hidden=(4,), batch_size=20)
    model, _, optimizer = train.build(config, 64, 10)
    assert train.load_checkpoint(out / "checkpoint.npz", config, model, optimizer).epoch == 2
    code, _, err = run_cli(capsys, ["train", "--out", out, "--resume", "--quiet", "--no-plots"])
    assert code == 0, err  # nothing left to train: the run's files are written
    np.testing.assert_array_equal(backprop.load_model(out / "model.npz").params,
                                  model.params)
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history["epochs"]] == [1, 2] and history["best_epoch"] >= 1


