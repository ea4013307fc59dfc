"""Issue 12's audit items: --force loses nothing before the new run starts; no silent
wrong answers (non-finite test loss, strict history.json, evaluate of a model whose outputs
overflow, --lr inf in float32, a changed option on --resume); damaged optimizer state.
Each test is a row of docs/reliability.md; all run on tiny synthetic data."""
import json
import math

import numpy as np
import pytest

from backprop import train
from backprop.cli import main
from backprop.io import load_npz, save_npz
from backprop.model import Sequential
from backprop.optim import OPTIMIZERS, get_optimizer
from tiny_runs import tiny

RUN_FILES = ["checkpoint.npz", "history.json", "model.npz"]


def cli(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code, err, expected):
    lines = err.strip().splitlines()
    assert code == expected and len(lines) == 1 and "Traceback" not in err, (code, err)
    return lines[0]


@pytest.fixture
def old_run(cli_data, tmp_path, capsys):
    out = tmp_path / "R"
    code, _, err = cli(capsys, ["train", "--out", str(out), "--epochs", "1", "--hidden", "4",
                                "--batch-size", "20", "--quiet", "--no-plots"])
    assert code == 0, err
    return out, {name: (out / name).read_bytes() for name in RUN_FILES}


# ------------------------------------------------------------------ 1. --force loses nothing

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
    got, printed, err = cli(capsys, ["train", "--out", str(out), "--force", "--hidden", "4",
                                     "--epochs", "1", "--quiet", "--no-plots", *args])
    line = one_line(got, err, code)
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
    code, _, err = cli(capsys, ["train", "--out", str(out), "--force", "--hidden", "4",
                                "--epochs", "1", "--batch-size", "20", "--quiet", "--no-plots"])
    assert code == 0, err
    assert seen == [[".lock", *RUN_FILES]]  # locked, nothing deleted yet


# ------------------------------------------------------------------ 2. no silent wrong answers

def test_a_non_finite_test_loss_at_an_epochs_end_is_divergence(cli_data, tmp_path, capsys):
    """One step per epoch with eta = 1e38: the step's loss is finite, the update is not."""
    out = tmp_path / "R"
    code, _, err = cli(capsys, ["train", "--out", str(out), "--optimizer", "sgd", "--lr",
                                "1e38", "--batch-size", "60", "--epochs", "2", "--hidden", "8",
                                "--quiet", "--no-plots"])
    line = one_line(code, err, 3)
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
        train.fit(config, tiny(), out_dir=str(tmp_path), quiet=True, on_epoch=blow_up)
    message = str(info.value)
    assert "diverged at epoch 2" in message, message
    assert f"the last good checkpoint is {tmp_path / 'checkpoint.npz'}" in message
    model, _, optimizer = train.build(config, 64, 10)
    assert train.load_checkpoint(tmp_path / "checkpoint.npz", config, model, optimizer).epoch == 1
    assert np.max(np.abs(model.params)) < 1e6
    for record in json.loads((tmp_path / "history.json").read_text())["epochs"]:
        assert all(math.isfinite(v) for v in record.values())


def test_history_json_is_strict_json(tmp_path):
    from backprop.io import write_json
    with pytest.raises(ValueError, match="Out of range float"):
        write_json(tmp_path / "h.json", {"test_loss": float("nan")})
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left


def test_evaluate_refuses_a_model_whose_outputs_are_not_finite(old_run, tmp_path, capsys):
    out, _ = old_run
    model = Sequential.load(out / "model.npz")
    model.layers[0].W[...] = 3e38  # finite weights, outputs inf
    model.save(tmp_path / "model.npz")
    code, printed, err = cli(capsys, ["evaluate", str(tmp_path)])
    line = one_line(code, err, 2)
    assert "outputs on samples 0 to 59 are not finite" in line and printed == "", line


def test_resume_with_a_changed_option_is_exit_2_before_any_header(old_run, capsys):
    out, before = old_run
    code, printed, err = cli(capsys, ["train", "--out", str(out), "--resume", "--lr", "0.01",
                                      "--epochs", "2", "--no-plots"])
    line = one_line(code, err, 2)
    assert "was written by a different run: lr 0.001 (now 0.01)" in line, line
    assert printed == ""


# ------------------------------------------------------------------ 3. damaged optimizer state

DAMAGED_STATE = {
    "v = +inf": (lambda a: a["optim.v.0"].__setitem__(0, np.inf), "optim", "v.0 holds NaN or Inf"),
    "v < 0": (lambda a: a["optim.v.0"].__setitem__(0, -1.0), "optim",
              "v.0 holds negative values"),
    "m = nan": (lambda a: a["optim.m.0"].__setitem__(0, np.nan), "optim",
                "m.0 holds NaN or Inf"),
    "t = -5": (lambda a: a.__setitem__("optim.t", np.array(-5)), "optim",
               "step count t = -5, not a whole number >= 0"),
    "t = 2.5": (lambda a: a.__setitem__("optim.t", np.array(2.5)), "optim",
                "step count t = 2.5"),
    "t = inf": (lambda a: a.__setitem__("optim.t", np.array(np.inf)), "optim",
                "step count t = inf"),
    "t a list": (lambda a: a.__setitem__("optim.t", np.array([1, 2])), "optim",
                 "step count t = [1, 2]"),
    "sgd config beside Adam's state": (
        lambda a: a.__setitem__("config", np.array(json.dumps(
            {**json.loads(str(a["config"])), "optimizer": "sgd"}))), "config",
        "holds m.0, v.0, which sgd does not keep"),
}


@pytest.mark.parametrize("damage", list(DAMAGED_STATE))
def test_damaged_optimizer_state_is_one_line_exit_2_naming_the_file(damage, old_run, capsys):
    out, _ = old_run
    change, _, says = DAMAGED_STATE[damage]
    arrays = load_npz(out / "checkpoint.npz")
    change(arrays)
    save_npz(out / "checkpoint.npz", arrays)
    model_before = (out / "model.npz").read_bytes()
    code, _, err = cli(capsys, ["train", "--out", str(out), "--resume", "--epochs", "2",
                                "--quiet", "--no-plots"])
    line = one_line(code, err, 2)
    assert f"{out / 'checkpoint.npz'} is a damaged checkpoint" in line and says in line, line
    assert (out / "model.npz").read_bytes() == model_before


@pytest.mark.parametrize("name", ["rmsprop", "keras_rmsprop", "adagrad", "adam", "keras_adam"])
def test_every_second_moment_must_be_finite_and_non_negative(name):
    params = np.zeros(4, np.float32)
    optimizer = get_optimizer(name, params)
    optimizer.step(np.ones(4, np.float32))
    arrays = optimizer.state_arrays()
    slot = "v" if "adam" in name else "s"
    for bad in (-1.0, np.inf):
        damaged = {k: v.copy() for k, v in arrays.items()}
        damaged[f"{slot}.0"][1] = bad
        with pytest.raises(ValueError, match=f"{slot}.0 holds"):
            get_optimizer(name, params.copy()).load_state_arrays(damaged)
    fresh = get_optimizer(name, params.copy())
    fresh.load_state_arrays(arrays)  # the good state loads
    assert fresh.t == 1 and name in OPTIMIZERS
