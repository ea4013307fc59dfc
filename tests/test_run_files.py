"""A run folder's files (checkpoint.npz, history.json, model.npz) read back checked, before
any training: every stored field of a checkpoint and of history.json, JSON nested 100,000
deep, a bad generator state, a zip member of an unsupported compression, an .npy header
claiming 4 TiB, a FIFO in place of a file, a history with no checkpoint, damaged optimizer
state, a model whose outputs are not finite, a checkpoint of another run's options, and
random damage to each file. Every damaged file ends as one line on stderr naming it, exit
status 2, never a traceback or a hang; history.json is written as strict JSON. Each test
is a row of docs/reliability.md; all run on tiny synthetic data."""
import json
import os
import signal
import struct
import zipfile

import numpy as np
import pytest

from backprop.app import training_run as train
from backprop.app.io import load_npz, save_npz
from backprop.app.model_file import load_model, save_model
from backprop.core.optim import OPTIMIZERS, get_optimizer
from tiny_runs import assert_one_line_error, run_cli, tiny

RUN_FILES = ("checkpoint.npz", "history.json", "model.npz")


def snapshot(out):
    return {name: (out / name).read_bytes() for name in RUN_FILES if (out / name).exists()}


@pytest.fixture
def run(finished_run):
    """A finished 1-epoch run (64-4-10, 3 steps an epoch) in tmp_path/R."""
    return finished_run


def resume(capsys, out, epochs=2):
    return run_cli(capsys, ["train", "--out", out, "--resume", "--epochs", epochs, "--quiet",
                            "--no-plots"])


def refused_before_training(capsys, out, says, name="checkpoint.npz"):
    """``train --resume`` in ``out`` is one line, exit 2, naming ``out/name`` and saying
    ``says``; nothing in the folder changed (no epoch was trained)."""
    before = snapshot(out)
    code, printed, err = resume(capsys, out)
    line = assert_one_line_error(code, err)
    assert str(out / name) in line and says in line, line
    assert snapshot(out) == before and printed == ""
    return line


def rewrite_checkpoint(path, position=None, raw_position=None, **entries):
    """The checkpoint at ``path`` again, with entries of its position replaced
    (``position``), its position's text replaced (``raw_position``) or whole entries
    replaced (``entries``, "." in a name written "__")."""
    arrays = load_npz(path)
    if position is not None:
        stored = json.loads(str(arrays["position"]))
        for key, value in position.items():
            if value is KeyError:
                del stored[key]
            else:
                stored[key] = value
        arrays["position"] = np.array(json.dumps(stored))
    if raw_position is not None:
        arrays["position"] = np.array(raw_position)
    for key, value in entries.items():
        arrays[key.replace("__", ".")] = value
    save_npz(path, arrays)


# ------------------------------------------------------ every stored field, before training

def _config_with(**changes):
    def change(a):
        return np.array(json.dumps({**json.loads(str(a["config"])), **changes}))
    return change


CHECKPOINT_DAMAGES = {
    "loss_sum null": ({"position": {"loss_sum": None}},
                      "its position has loss_sum = None, not a finite number >= 0"),
    "loss_sum text": ({"position": {"loss_sum": "abc"}}, "loss_sum = 'abc'"),
    "loss_sum -1": ({"position": {"loss_sum": -1.0}}, "loss_sum = -1.0"),
    "loss_sum NaN": ({"position": {"loss_sum": float("nan")}}, "NaN"),
    "global_step inf": ({"position": {"global_step": float("inf")}}, "Infinity"),
    "global_step 1e400": ({"raw_position": '{"epoch": 1, "step_in_epoch": 0, "global_step": '
                                           '1e400, "loss_sum": 0.0, "correct": 0, "seen": 0, '
                                           '"rng_state": ""}'}, "1e400"),
    "step_in_epoch a list": ({"position": {"step_in_epoch": [1]}},
                             "its position has step_in_epoch = [1], not a whole number >= 0"),
    "epoch true": ({"position": {"epoch": True}}, "epoch = True"),
    "epoch past the run's": ({"position": {"epoch": 5}},
                             "its position is at epoch 5 of a run of 1"),
    "correct above seen": ({"position": {"step_in_epoch": 1, "global_step": 4, "seen": 20,
                                         "correct": 21}},
                           "its position counts 21 correct of 20 samples"),
    "seen without a step": ({"position": {"seen": 20}}, "20 samples in 0 steps"),
    "no seen": ({"position": {"seen": KeyError}}, "its position lacks 'seen'"),
    "an unknown entry": ({"position": {"speed": 1}}, "its position has the unknown entry 'speed'"),
    "position a list": ({"raw_position": "[1, 2]"}, "its position is [1, 2], not an object"),
    "format version inf": ({"format_version": np.array(np.inf)},
                           "its format version is inf, not a whole number"),
    "format version 2.5": ({"format_version": np.array(2.5)}, "its format version is 2.5"),
    "format version text": ({"format_version": np.array("2")}, "its format version is '2'"),
    "model format version inf": ({"model__format_version": np.array(np.inf)},
                                 "its format version is inf"),
    "library version a number": ({"version": np.array(7)},
                                 "its 'version' entry is not text (an array of int64, shape ())"),
    "config lr text": ({"config": _config_with(lr="x")},
                       "its config: lr must be a number, got 'x'"),
    "config epochs inf": ({"config": _config_with(epochs=1e308 * 10)}, "Infinity"),
    "config hidden a string": ({"config": _config_with(hidden="32")},
                               "its config: hidden sizes must be whole numbers, got '32'"),
    "config optimizer a list": ({"config": _config_with(optimizer=["adam"])},
                                "its config: optimizer must be a name, got ['adam']"),
    "weights NaN": ({"model__W1": lambda a: np.full_like(a["model.W1"], np.nan)},
                    "its weights hold NaN or Inf (in W1)"),
}


@pytest.mark.parametrize("damage", list(CHECKPOINT_DAMAGES))
def test_a_damaged_checkpoint_field_is_one_line_exit_2_before_training(damage, run, capsys):
    change, says = CHECKPOINT_DAMAGES[damage]
    arrays = load_npz(run / "checkpoint.npz")
    change = {k: v(arrays) if callable(v) else v for k, v in change.items()}
    rewrite_checkpoint(run / "checkpoint.npz", **change)
    refused_before_training(capsys, run, says)


def test_a_checkpoint_beyond_its_epoch_is_exit_2(run, capsys):
    rewrite_checkpoint(run / "checkpoint.npz", position={"step_in_epoch": 1000000,
                                                         "global_step": 1000003,
                                                         "seen": 20000000})
    refused_before_training(capsys, run, "it is at step 1000000 of an epoch of 3 steps")


def _history(change):
    def damage(text):
        history = json.loads(text)
        changed = change(history)
        return json.dumps(history if changed is None else changed)
    return damage


HISTORY_DAMAGES = {
    "a list": (lambda text: "[]", "not a JSON object"),
    "no epochs": (_history(lambda h: h.__delitem__("epochs")), "it lacks 'epochs'"),
    "epochs an object": (_history(lambda h: h.update(epochs={})), "'epochs' is {}, not a list"),
    "a record a list": (_history(lambda h: h["epochs"].__setitem__(0, [1])),
                        "record 1 of 'epochs' is [1], not an object"),
    "test_accuracy text": (_history(lambda h: h["epochs"][0].update(test_accuracy="x")),
                           "record 1 of 'epochs' has test_accuracy = 'x', not a number in "
                           "[0, 1]"),
    "test_accuracy 1.5": (_history(lambda h: h["epochs"][0].update(test_accuracy=1.5)),
                          "test_accuracy = 1.5"),
    "train_loss NaN": (lambda text: text.replace('"train_loss": ', '"train_loss": NaN, "x": '),
                       "NaN"),
    "seconds -1": (_history(lambda h: h["epochs"][0].update(seconds=-1)), "seconds = -1"),
    "epoch 2 first": (_history(lambda h: h["epochs"][0].update(epoch=2)),
                      "record 1 of 'epochs' is of epoch 2, expected 1"),
    "an evaluation's step text": (
        _history(lambda h: h.update(evaluations=[{"step": "a", "epoch": 1, "test_loss": 1.0,
                                                  "test_accuracy": 0.5}])),
        "record 1 of 'evaluations' has step = 'a'"),
    "config lr text": (_history(lambda h: h["config"].update(lr="x")),
                       "its config: lr must be a number, got 'x'"),
    "data a list": (_history(lambda h: h.update(data=[])), "'data' is [], not an object"),
    "data folder a number": (_history(lambda h: h["data"].update(folder=5)),
                             "its data folder is 5, not a path"),
}


@pytest.mark.parametrize("damage", list(HISTORY_DAMAGES))
def test_a_damaged_history_is_one_line_exit_2_before_training(damage, run, capsys):
    change, says = HISTORY_DAMAGES[damage]
    path = run / "history.json"
    path.write_text(change(path.read_text()))
    line = refused_before_training(capsys, run, says, name="history.json")
    assert f"{path} is damaged" in line, line


@pytest.mark.parametrize("damage", ["test_accuracy text", "a record a list", "config lr text",
                                    "data a list"])
def test_a_damaged_history_is_one_line_exit_2_from_plot_and_evaluate(damage, run, capsys):
    change, says = HISTORY_DAMAGES[damage]
    path = run / "history.json"
    path.write_text(change(path.read_text()))
    for argv in (["plot", "curves", run], ["evaluate", run]):
        code, printed, err = run_cli(capsys, argv)
        line = assert_one_line_error(code, err)
        assert f"{path} is damaged" in line and says in line, (argv, line)


# -------------------------------------------------- a history record without a required key

@pytest.mark.parametrize("key", ["seconds", "test_accuracy", "train_loss", "train_accuracy",
                                 "test_loss", "steps", "epoch"])
def test_a_history_record_without_a_required_key_is_refused_before_training(key, run,
                                                                           capsys):
    """It used to train an epoch, write its checkpoint, then fail on the missing key,
    leaving model.npz one epoch behind the checkpoint."""
    path = run / "history.json"
    path.write_text(_history(lambda h: h["epochs"][0].__delitem__(key))(path.read_text()))
    refused_before_training(capsys, run, f"record 1 of 'epochs' lacks {key!r}",
                            name="history.json")


# ----------------------------------------------------------------- JSON nested 100,000 deep

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("where", ["checkpoint config", "checkpoint position",
                                   "checkpoint model config", "generator state",
                                   "model.npz config", "history.json"])
def test_json_nested_100000_deep_is_one_line_exit_2(where, run, capsys):
    checkpoint = run / "checkpoint.npz"
    if where == "checkpoint config":
        rewrite_checkpoint(checkpoint, config=np.array(DEEP))
    elif where == "checkpoint position":
        rewrite_checkpoint(checkpoint, raw_position=DEEP)
    elif where == "checkpoint model config":
        rewrite_checkpoint(checkpoint, model__config=np.array(DEEP))
    elif where == "generator state":
        rewrite_checkpoint(checkpoint, position={"rng_state": DEEP})
    elif where == "model.npz config":
        arrays = load_npz(run / "model.npz")
        arrays["config"] = np.array(DEEP)
        save_npz(run / "model.npz", arrays)
    else:
        (run / "history.json").write_text(DEEP)
    name = {"model.npz config": "model.npz", "history.json": "history.json"}.get(
        where, "checkpoint.npz")
    commands = ([["evaluate", run]] if name == "model.npz" else
                [["train", "--out", run, "--resume", "--epochs", 2, "--quiet", "--no-plots"]]
                + ([["plot", "curves", run], ["evaluate", run]] if name == "history.json"
                   else []))
    for argv in commands:
        code, _, err = run_cli(capsys, argv)
        line = assert_one_line_error(code, err)
        assert str(run / name) in line and "nested 100000 levels deep" in line, (argv, line)


# -------------------------------------------------------------------- a bad generator state

@pytest.mark.parametrize("state", ["xyz", "", '{"bit_generator": "PCG64", "state": 5}',
                                   '{"bit_generator": "MT19937", "state": {}}', "[]"],
                         ids=["not JSON", "empty", "state 5", "another generator", "a list"])
def test_a_bad_generator_state_names_the_checkpoint_and_the_generator_state(state, run,
                                                                           capsys):
    rewrite_checkpoint(run / "checkpoint.npz", position={"rng_state": state})
    line = refused_before_training(capsys, run, "is a damaged checkpoint: its generator "
                                                "state (rng_state in its position) is damaged")
    assert "Traceback" not in line


# -------------------------------------------------------- a zip member's compression method

def _set_compression(path, member, method, data=None):
    """Rewrite the .npz at ``path`` with ``member``'s compression method set to
    ``method`` in both its headers (and its stored bytes replaced by ``data``)."""
    with zipfile.ZipFile(path) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members:
            z.writestr(name, data if name == member and data is not None else content)
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = 0
        while (at := raw.find(signature, at)) >= 0:
            name_length = struct.unpack("<H", raw[at + (26 if offset == 8 else 28):][:2])[0]
            start = at + (30 if offset == 8 else 46)
            if raw[start:start + name_length].decode() == member:
                raw[at + offset:at + offset + 2] = struct.pack("<H", method)
            at += 4
    path.write_bytes(bytes(raw))


LZMA_BAD_OPTIONS = b"\x09\x04\x05\x00" + b"\xff" * 5 + bytes(100)  # version, size, props
COMPRESSIONS = {"unknown method 77": (77, None), "deflate64 (9)": (9, None),
                "LZMA with bad options": (14, LZMA_BAD_OPTIONS),
                "LZMA, corrupt data": (14, b"\x09\x04\x05\x00\x5d\x00\x00\x10\x00" + b"\xff" * 100)}


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
@pytest.mark.parametrize("name", ["model.npz", "checkpoint.npz"])
def test_a_member_of_an_unsupported_compression_is_one_line_exit_2(compression, name, run,
                                                                  capsys):
    method, data = COMPRESSIONS[compression]
    path = run / name
    _set_compression(path, "W1.npy" if name == "model.npz" else "model.W1.npy", method, data)
    if name == "model.npz":
        code, _, err = run_cli(capsys, ["evaluate", run])
        line = assert_one_line_error(code, err)
        assert str(path) in line and "is not a readable .npz file" in line, line
    else:
        refused_before_training(capsys, run, "is not a readable .npz file")


# --------------------------------------------------------- an .npy header that claims 4 TiB

def _npy_header(shape, descr):
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    magic = b"\x93NUMPY\x01\x00"
    header += b" " * (-(len(magic) + 2 + len(header) + 1) % 64) + b"\n"
    return magic + len(header).to_bytes(2, "little") + header


@pytest.mark.parametrize("member, descr", [("optim.t", "|S0"), ("optim.t", "|V0"),
                                           ("optim.m.0", "<f8"), ("model.W1", "|u1")])
def test_an_npy_header_claiming_4_tib_is_a_damaged_file_not_a_memory_error(member, descr,
                                                                          run, capsys):
    elements = (4 << 40) // max(np.dtype(descr).itemsize, 1)
    path = run / "checkpoint.npz"
    with zipfile.ZipFile(path) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members:
            z.writestr(name, _npy_header((elements,), descr) + bytes(16)
                       if name == member + ".npy" else content)
    line = refused_before_training(capsys, run, f"its entry {member!r} ")
    assert "damaged" in line and "memory" not in line, line


# ---------------------------------------------------------------- a FIFO in place of a file

@pytest.fixture
def no_hang():
    """Fail instead of hanging: SIGALRM after 20 s raises in the test."""
    def alarm(signum, frame):
        raise TimeoutError("blocked for 20 s: a FIFO was opened as a file")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name, commands", [
    ("history.json", ["resume", "plot curves", "evaluate"]),
    ("checkpoint.npz", ["resume", "evaluate"]),
    ("model.npz", ["evaluate", "evaluate the file"]),
])
def test_a_fifo_in_place_of_a_run_file_is_one_line_exit_2_not_a_hang(name, commands, run,
                                                                     capsys, no_hang):
    if name == "checkpoint.npz":
        (run / "model.npz").unlink()  # evaluate then reads the checkpoint
    (run / name).unlink()
    os.mkfifo(run / name)
    argvs = {"resume": ["train", "--out", run, "--resume", "--epochs", 2, "--quiet",
                        "--no-plots"],
             "plot curves": ["plot", "curves", run], "evaluate": ["evaluate", run],
             "evaluate the file": ["evaluate", run / name]}
    for command in commands:
        code, _, err = run_cli(capsys, argvs[command])
        line = assert_one_line_error(code, err)
        assert f"{run / name} is a FIFO (named pipe), not a regular file" in line, line


# -------------------------------------------------------------- a history but no checkpoint

@pytest.mark.parametrize("left", [("history.json",), ("history.json", "model.npz")],
                         ids=["history.json", "history.json and model.npz"])
def test_a_folder_with_a_history_but_no_checkpoint_gives_one_way_forward(left, run, capsys):
    """Killed while writing its first checkpoint: both messages say the same thing."""
    for name in RUN_FILES:
        if name not in left:
            (run / name).unlink()
    expected = (f"backprop: error: {run} holds {', '.join(left)} but no checkpoint.npz, so "
                f"there is no run to resume; start it again with --force, which deletes "
                f"{'it' if len(left) == 1 else 'them'}, or choose another folder with --out")
    for extra in ([], ["--resume"]):
        code, _, err = run_cli(capsys, ["train", "--out", run, "--epochs", "1", "--quiet",
                                        "--no-plots", *extra])
        assert assert_one_line_error(code, err) == expected, extra
    code, _, err = run_cli(capsys, ["train", "--out", run, "--epochs", "1", "--hidden", "4",
                                    "--quiet", "--no-plots", "--force"])
    assert code == 0, err  # the way forward works


# ------------------------------------------------------------------ no silent wrong answers

def test_history_json_is_strict_json(tmp_path):
    from backprop.app.io import write_json
    with pytest.raises(ValueError, match="Out of range float"):
        write_json(tmp_path / "h.json", {"test_loss": float("nan")})
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left


def test_evaluate_refuses_a_model_whose_outputs_are_not_finite(run, tmp_path, capsys):
    model = load_model(run / "model.npz")
    model.layers[0].W[...] = 3e38  # finite weights, outputs inf
    save_model(model, tmp_path / "model.npz")
    code, printed, err = run_cli(capsys, ["evaluate", tmp_path])
    line = assert_one_line_error(code, err)
    assert "outputs on samples 0 to 59 are not finite" in line and printed == "", line


def test_resume_with_a_changed_option_is_exit_2_before_any_header(run, capsys):
    code, printed, err = run_cli(capsys, ["train", "--out", run, "--resume", "--lr", "0.01",
                                          "--epochs", "2", "--no-plots"])
    line = assert_one_line_error(code, err)
    assert "was written by a different run: lr 0.001 (now 0.01)" in line, line
    assert printed == ""


# ------------------------------------------------------------------ damaged optimizer state

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
def test_damaged_optimizer_state_is_one_line_exit_2_naming_the_file(damage, run, capsys):
    change, _, says = DAMAGED_STATE[damage]
    arrays = load_npz(run / "checkpoint.npz")
    change(arrays)
    save_npz(run / "checkpoint.npz", arrays)
    model_before = (run / "model.npz").read_bytes()
    code, _, err = resume(capsys, run)
    line = assert_one_line_error(code, err)
    assert f"{run / 'checkpoint.npz'} is a damaged checkpoint" in line and says in line, line
    assert (run / "model.npz").read_bytes() == model_before


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


# ---------------------------------------- every damage at random: one error naming the file

def test_random_damage_to_a_runs_files_is_one_error_naming_the_file(tmp_path):
    """600 mutants (seed 3) of a good run's checkpoint.npz, model.npz and history.json,
    200 each: bytes overwritten, the file cut short, or bytes inserted. Each is read as a
    resume, evaluate and plot read it; each is read (the change left a valid file, e.g.
    another digit in a loss, or a byte zipfile does not check) or ends as one ValueError
    (DamagedRunFile is one too) of one line that names the file."""
    config = train.TrainConfig(epochs=1, hidden=(4,), batch_size=20)
    good_run = tmp_path / "good"
    train.run_training(config, tiny(), out_dir=str(good_run), quiet=True)
    rng = np.random.default_rng(3)
    outcomes = {}
    for i in range(600):
        name = RUN_FILES[i % 3]
        data = bytearray((good_run / name).read_bytes())
        kind = ("overwritten", "cut", "inserted")[rng.integers(0, 3)]
        if kind == "overwritten":
            for _ in range(rng.integers(1, 6)):
                data[rng.integers(0, len(data))] = rng.integers(0, 256)
        elif kind == "cut":
            data = data[:rng.integers(0, len(data))]
        else:
            at = rng.integers(0, len(data))
            data[at:at] = rng.integers(0, 256, rng.integers(1, 20)).astype(np.uint8).tobytes()
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(bytes(data))
        try:
            if name == "checkpoint.npz":
                model, _, optimizer = train.build(config, 64, 10)
                train.load_checkpoint(path, config, model, optimizer)
            elif name == "model.npz":
                train.load_run_model(str(folder))
            else:
                train.read_history(str(folder))
            outcome = "read"
        except ValueError as error:
            message = str(error)
            assert str(path) in message and "\n" not in message, message
            outcome = "one ValueError naming the file"
        outcomes[name, outcome] = outcomes.get((name, outcome), 0) + 1
    print(f"\nrandom damage: {outcomes}")
    assert sum(outcomes.values()) == 600
