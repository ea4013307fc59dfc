"""The audit's remaining items: a run folder's files read back checked, before any
training (a damaged position, history.json or generator state, JSON nested 100,000 deep,
a zip member of an unsupported compression, an .npy header claiming 4 TiB, a FIFO in
place of a file); a full disk names the file being written; ``--out`` naming a file;
SIGINT and SIGTERM after the last step; a gzip bomb in ``--data``; a folder with a history
and no checkpoint; an HTTPS download address. Every damaged file ends as one line on
stderr naming it, exit status 2, never a traceback or a hang. Each test is a row of
docs/reliability.md; all run on tiny synthetic data."""
import errno
import json
import os
import signal
import struct
import tracemalloc
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import backprop.data
from backprop import loop
from backprop import train
from backprop.data import fashion_mnist as fm
from backprop.data import write_idx
from backprop.io import load_npz, save_npz
from tiny_runs import FullDiskFile, assert_one_line_error, run_cli, tiny

RUN_FILES = ("checkpoint.npz", "history.json", "model.npz")
ROOT = Path(__file__).resolve().parent.parent


def one_line(code, err, expected=2):
    return assert_one_line_error(code, err, codes=(expected,))


def snapshot(out):
    return {name: (out / name).read_bytes() for name in RUN_FILES if (out / name).exists()}


@pytest.fixture
def run(cli_data, tmp_path, capsys):
    """A finished 1-epoch run (64-4-10, 3 steps an epoch) in tmp_path/R."""
    out = tmp_path / "R"
    code, _, err = run_cli(capsys, ["train", "--out", out, "--epochs", "1", "--hidden", "4",
                                    "--batch-size", "20", "--quiet", "--no-plots"])
    assert code == 0, err
    return out


def resume(capsys, out, epochs=2):
    return run_cli(capsys, ["train", "--out", out, "--resume", "--epochs", epochs, "--quiet",
                            "--no-plots"])


def refused_before_training(capsys, out, says, name="checkpoint.npz"):
    """``train --resume`` in ``out`` is one line, exit 2, naming ``out/name`` and saying
    ``says``; nothing in the folder changed (no epoch was trained)."""
    before = snapshot(out)
    code, printed, err = resume(capsys, out)
    line = one_line(code, err)
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


# ------------------------------------------------- 2. every stored field, before training

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
        line = one_line(code, err)
        assert f"{path} is damaged" in line and says in line, (argv, line)


# --------------------------------------------- 6. a history record without a required key

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


# ------------------------------------------------------------ 3. JSON nested 100,000 deep

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
        line = one_line(code, err)
        assert str(run / name) in line and "nested 100000 levels deep" in line, (argv, line)


# -------------------------------------------------------------- 4. a bad generator state

@pytest.mark.parametrize("state", ["xyz", "", '{"bit_generator": "PCG64", "state": 5}',
                                   '{"bit_generator": "MT19937", "state": {}}', "[]"],
                         ids=["not JSON", "empty", "state 5", "another generator", "a list"])
def test_a_bad_generator_state_names_the_checkpoint_and_the_generator_state(state, run,
                                                                           capsys):
    rewrite_checkpoint(run / "checkpoint.npz", position={"rng_state": state})
    line = refused_before_training(capsys, run, "is a damaged checkpoint: its generator "
                                                "state (rng_state in its position) is damaged")
    assert "Traceback" not in line


# ----------------------------------------------- 5. a zip member's compression method

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
        line = one_line(code, err)
        assert str(path) in line and "is not a readable .npz file" in line, line
    else:
        refused_before_training(capsys, run, "is not a readable .npz file")


# -------------------------------------------- 8. an .npy header that claims 4 TiB

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


# ---------------------------------------------------------- 9. a FIFO in place of a file

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
        line = one_line(code, err)
        assert f"{run / name} is a FIFO (named pipe), not a regular file" in line, line


# ------------------------------------------------------------- 7. a full disk names the file

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
    line = one_line(code, err)
    assert line == f"backprop: error: cannot write {out / ending[1:]}: No space left on " \
                   f"device", line
    assert not [p for p in os.listdir(out) if p.startswith(".tmp-")]


def test_a_full_disk_while_a_write_is_under_way_names_the_file(tmp_path, monkeypatch):
    """A write() that fails (the other place a full disk shows), with no file name."""
    from backprop import io as bio

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
    line = one_line(code, err)
    assert line == f"backprop: error: cannot write {out / 'curves.png'}: No space left on " \
                   f"device", line


# ------------------------------------------------------------- 10. --out naming a file

def test_out_naming_a_file_says_it_is_a_file_not_a_folder(cli_data, tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    for extra in ([], ["--resume"], ["--force"]):
        code, printed, err = run_cli(capsys, ["train", "--out", path, "--epochs", "1", "--quiet",
                                              "--no-plots", *extra])
        line = one_line(code, err)
        assert line == f"backprop: error: --out {path} is a file, not a folder", (extra, line)
    assert path.read_text() == "mine"
    with pytest.raises(OSError, match=f"cannot make the output folder {path / 'run'}: "
                                      f"{path} is a file, not a folder"):
        train.fit(train.TrainConfig(epochs=1, hidden=(4,)), tiny(), out_dir=str(path / "run"),
                  quiet=True)


# --------------------------------------------- 11. SIGINT and SIGTERM after the last step

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
    line = one_line(code, err, 128 + signum)
    assert line == (f"backprop: {name}: stopped after the last epoch (2 of 2); checkpoint "
                    f"saved to {out / 'checkpoint.npz'}; resume with: backprop train --out "
                    f"{out} --resume"), line
    config = train.TrainConfig(epochs=2, hidden=(4,), batch_size=20)
    model, _, optimizer = train.build(config, 64, 10)
    assert train.load_checkpoint(out / "checkpoint.npz", config, model, optimizer).epoch == 2
    code, _, err = run_cli(capsys, ["train", "--out", out, "--resume", "--quiet", "--no-plots"])
    assert code == 0, err  # nothing left to train: the run's files are written
    np.testing.assert_array_equal(backprop.Sequential.load(out / "model.npz").params,
                                  model.params)
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history["epochs"]] == [1, 2] and history["best_epoch"] >= 1


# --------------------------------------------- 12. --data files bounded by their known sizes

def _gzip_bomb(path, header_dims, data_bytes):
    """A .gz idx of ubyte with the given dims and ``data_bytes`` zero bytes, streamed
    through zlib (about 1 kB per MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(bytes([0, 0, 8, len(header_dims)]) +
                             b"".join(d.to_bytes(4, "big") for d in header_dims))]
    chunk = bytes(1 << 20)
    for _ in range(data_bytes >> 20):
        parts.append(packer.compress(chunk))
    parts.append(packer.compress(bytes(data_bytes & ((1 << 20) - 1))) + packer.flush())
    path.write_bytes(b"".join(parts))


def _small_folder(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (20, 28, 28),
                                                               dtype=np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 28, 28),
                                                              dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(10, dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 10)
    return folder


def test_a_gzip_bomb_in_a_data_folder_is_refused_at_its_header(tmp_path, capsys):
    """A 150 kB train-labels .gz whose header claims 100 MB and that expands to 150 MB:
    only the generic 1 GiB bound held it."""
    folder = _small_folder(tmp_path / "data")
    (folder / "train-labels-idx1-ubyte").unlink()
    bomb = folder / "train-labels-idx1-ubyte.gz"
    _gzip_bomb(bomb, (100_000_000,), 150_000_000)
    assert bomb.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            backprop.data.load_idx_folder(folder, "--data")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # the 100 MB were never allocated nor decompressed
    message = str(info.value)
    assert message.startswith(f"{bomb}: the header says shape (100000000,) of uint8, "
                              f"100000000 data bytes, more than the 60000 of Fashion-MNIST's "
                              f"train-labels-idx1-ubyte"), message
    code, _, err = run_cli(capsys, ["train", "--data", folder, "--out", tmp_path / "R"])
    assert str(bomb) in one_line(code, err)
    assert not (tmp_path / "R").exists()


def test_data_folder_files_are_bounded_by_the_fashion_mnist_sizes(tmp_path):
    folder = _small_folder(tmp_path / "data")
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(60001, np.uint8))
    with pytest.raises(ValueError, match="more than the 60000 of Fashion-MNIST's "
                                         "train-labels-idx1-ubyte"):
        backprop.data.load_idx_folder(folder, "--data")
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 10)
    assert backprop.data.load_idx_folder(folder, "--data").train[1].shape == (20,)
    for key, shape in fm.SHAPES.items():  # the bounds are the official files' data bytes
        assert fm.DATA_BYTES[key] == int(np.prod(shape)) == fm.RAW_SIZES[key] - 4 - 4 * len(shape)


# -------------------------------------------------- 13. a history but no checkpoint

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
        assert one_line(code, err) == expected, extra
    code, _, err = run_cli(capsys, ["train", "--out", run, "--epochs", "1", "--hidden", "4",
                                    "--quiet", "--no-plots", "--force"])
    assert code == 0, err  # the way forward works


# -------------------------------------------------------------- 1. an HTTPS download address

def test_the_default_download_address_is_https_and_fetch_uses_it(tmp_path, monkeypatch,
                                                                capsys):
    assert fm.DEFAULT_URL.startswith("https://"), fm.DEFAULT_URL
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        raise urllib.error.URLError("no network in the tests")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    code, _, err = run_cli(capsys, ["data", "fetch", "--dest", tmp_path / "d", "--quiet"])
    line = one_line(code, err)
    assert asked == [fm.DEFAULT_URL + "train-images-idx3-ubyte.gz"]
    assert f"cannot download {asked[0]}: no network in the tests" in line, line
    for doc in ("README.md", "docs/reliability.md"):  # the docs say which address, and why
        assert fm.DEFAULT_URL in (ROOT / doc).read_text(), doc


# ------------------------------------------- every damage at random: one error naming the file

def test_random_damage_to_a_runs_files_is_one_error_naming_the_file(tmp_path):
    """600 mutants (seed 3) of a good run's checkpoint.npz, model.npz and history.json,
    200 each: bytes overwritten, the file cut short, or bytes inserted. Each is read as a
    resume, evaluate and plot read it; each is read (the change left a valid file, e.g.
    another digit in a loss, or a byte zipfile does not check) or ends as one ValueError
    (DamagedRunFile is one too) of one line that names the file."""
    config = train.TrainConfig(epochs=1, hidden=(4,), batch_size=20)
    good_run = tmp_path / "good"
    train.fit(config, tiny(), out_dir=str(good_run), quiet=True)
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
