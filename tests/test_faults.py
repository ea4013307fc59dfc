"""Faults: killed and interrupted training, damaged checkpoints, bad input, failing disks.

Each test is a row of docs/reliability.md. The rule for every one: the program ends with
the correct result or with one clear error in words (the CLI: one line on stderr, exit
status 2 or 3, no traceback).

The subprocess tests train 784-32-10 on the first 3000 training and 1000 test images of
Fashion-MNIST, handed to the child as .npy files, with one BLAS and numba thread in every
child so that runs can be compared bit for bit.
"""
import errno
import io
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import backprop
import backprop.app.io
from backprop.app import training_run as train
from backprop.app.data import Batches, one_hot, scale_images
from backprop.app.io import load_npz
from backprop.core.model import Sequential
from backprop.app.model_file import load_model, save_model
from tiny_runs import FullDiskFile, assert_one_line_error, run_cli

FASHION = "/usr/share/datasets/fashion-mnist"
needs_data = pytest.mark.skipif(not os.path.isdir(FASHION),
                                reason="apt-get install dataset-fashion-mnist")
ROOT = Path(__file__).resolve().parent.parent
SMALL = train.TrainConfig(epochs=3, hidden=(32,), batch_size=100)
RUN_FILES = {"checkpoint.npz", "history.json", "model.npz"}


@pytest.fixture(scope="module")
def small_dir(small, tmp_path_factory):
    """``small`` as x_train.npy, y_train.npy, x_test.npy, y_test.npy for the children."""
    folder = tmp_path_factory.mktemp("small")
    for split, (x, y) in zip(("train", "test"), small):
        np.save(folder / f"x_{split}.npy", x)
        np.save(folder / f"y_{split}.npy", y)
    return folder


@pytest.fixture
def cli_data(small, monkeypatch):
    """The CLI loads ``small`` instead of the full data set (``_run_train`` and
    ``_run_evaluate`` import ``load_fashion_mnist`` from backprop.data when they run)."""
    monkeypatch.setattr(backprop.data, "load_fashion_mnist",
                        lambda root=None, verify=True: small)
    return small


@pytest.fixture(scope="module")
def good_run(small, tmp_path_factory):
    """A run folder of SMALL after one epoch: checkpoint.npz, history.json, model.npz."""
    out = tmp_path_factory.mktemp("good-run")
    train.run_training(train.TrainConfig(epochs=1, hidden=(32,)), small, out_dir=str(out),
                       quiet=True)
    return out


def child_env():
    """The children's environment: one thread for BLAS and numba, this checkout first on
    the import path, unbuffered output. The backend is this process's BACKPROP_BACKEND
    (numba by default); NUMBA_DISABLE_JIT, a coverage setting, is dropped because the
    children test processes, not kernels, and would crawl without the JIT."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
                   os.pathsep))
    env.pop("BACKPROP_THREADS", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    return env


class Child:
    """A Python child process whose stdout lines can be awaited with a timeout."""

    def __init__(self, script, *args, cwd):
        self.stderr = open(Path(cwd) / f"stderr-{time.monotonic_ns()}.txt", "w+")
        self.proc = subprocess.Popen([sys.executable, str(script), *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=child_env(), cwd=cwd)
        self._buffer = b""

    def expect(self, word, timeout=60):
        """Wait for a stdout line starting with ``word``; return it (None at EOF)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                if line.decode().startswith(word):
                    return line.decode()
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                pytest.fail(f"no {word!r} from the child within {timeout} s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return None
                self._buffer += chunk

    def finish(self, timeout=60):
        """Wait for the exit; (returncode, stderr text)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"child still running after {timeout} s")
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()
        self.stderr.seek(0)
        err = self.stderr.read()
        self.stderr.close()
        return code, err


# ============================================================ SIGKILL: atomic checkpoints

KILL_CHILD = r'''
"""Train 784-32-10 for 4 epochs on the small data in OUT, resuming if OUT holds a
checkpoint; every step takes 5 ms longer and every rename 30 ms longer, so that kills at
random moments land mid-epoch and between a write and its rename as well.

MODE "none" runs to the end. The other modes stop at the NTH matching moment, print
"frozen" and block until the parent kills the process: "torn" when half of an .npz has
reached its temporary file; "unrenamed" when an .npz temporary file is complete and about
to be renamed; "history" the same for history.json.
"""
import io
import os
import sys
import time

import numpy as np

from backprop.app import training_run as train

data_dir, out_dir, mode, nth = sys.argv[1:5]
data = tuple((np.load(os.path.join(data_dir, f"x_{s}.npy")),
              np.load(os.path.join(data_dir, f"y_{s}.npy"))) for s in ("train", "test"))
real_savez, real_replace, real_step = np.savez, os.replace, train.train_step
seen = 0


def at_the_moment():
    global seen
    seen += 1
    return seen == int(nth)


def freeze(what):
    print("frozen", what, flush=True)
    sys.stdin.read()  # until SIGKILL
    sys.exit(99)


def savez(file, *args, **arrays):
    if mode == "torn" and at_the_moment():
        buffer = io.BytesIO()
        real_savez(buffer, *args, **arrays)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        file.flush()
        freeze("torn")
    real_savez(file, *args, **arrays)


def replace(src, dst):
    name = os.path.basename(dst)
    if ((mode == "unrenamed" and name.endswith(".npz"))
            or (mode == "history" and name == "history.json")) and at_the_moment():
        freeze(name)
    time.sleep(0.03)
    real_replace(src, dst)


def slow_step(*args):
    time.sleep(0.005)
    return real_step(*args)


# load the numba kernels before "ready", so the delays measure training, not loading
warm = tuple((x[:200], y[:200]) for x, y in data)
train.run_training(train.TrainConfig(epochs=1, hidden=(8,)), warm, quiet=True)
np.savez, os.replace, train.train_step = savez, replace, slow_step
config = train.TrainConfig(epochs=4, hidden=(32,), batch_size=100)
resume = os.path.exists(os.path.join(out_dir, train.CHECKPOINT))
print("ready", flush=True)
train.run_training(config, data, out_dir=out_dir, resume=resume, quiet=True)
print("done", flush=True)
'''


def check_run_folder(out):
    """Everything a killed run left must load whole: the checkpoint (every array, through
    load_checkpoint), history.json, model.npz. Returns the checkpoint's epoch or None."""
    epoch = None
    if (out / "checkpoint.npz").exists():
        model, loss, optimizer = train.build(SMALL)
        epoch = train.load_checkpoint(out / "checkpoint.npz", SMALL, model, optimizer).epoch
    if (out / "history.json").exists():
        json.loads((out / "history.json").read_text())
    if (out / "model.npz").exists():
        load_model(out / "model.npz")
    return epoch


def leftovers(out):
    return {p.name for p in out.iterdir()} - RUN_FILES


@pytest.mark.slow  # subprocesses killed
@needs_data
def test_sigkill_at_random_moments_never_tears_the_checkpoint_and_resume_is_exact(
        small_dir, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD)
    reference = Child(script, small_dir, tmp_path / "reference", "none", 0, cwd=tmp_path)
    out = tmp_path / "killed"
    out.mkdir()
    rng = np.random.default_rng(20240607)
    schedule = ["torn", "unrenamed", "history"] * 2 + ["delay"] * 6
    rng.shuffle(schedule)
    outcomes, epochs = Counter(), []
    for mode in schedule:
        before = leftovers(out)
        done = check_run_folder(out) or 0
        # the run has 4 - done epochs left, each writing a checkpoint and then
        # history.json, then model.npz and history.json once more: freeze at the first
        # or second .npz write, or the first history.json, so that the kills spread over
        # the run instead of ending it early
        nth = 1 if mode == "history" else min(rng.integers(1, 3), 4 - done + 1)
        child = Child(script, small_dir, out, "none" if mode == "delay" else mode, nth,
                      cwd=tmp_path)
        assert child.expect("ready"), child.finish()
        if mode == "delay":
            time.sleep(rng.uniform(0.0, 0.45))
        else:
            assert child.expect("frozen"), child.finish()
        child.proc.kill()
        code, err = child.finish()
        assert code in (-signal.SIGKILL, 0), (code, err)
        outcomes[mode, "killed" if code == -signal.SIGKILL else "had finished"] += 1
        epochs.append(check_run_folder(out))  # never torn, whatever the moment
        new = leftovers(out) - before
        if mode == "torn":  # the kill landed mid-write: a torn temporary file, and the
            torn = [name for name in new if name.endswith(".npz")]  # checkpoint is whole
            assert len(torn) == 1, new
            with pytest.raises(ValueError, match="not a readable .npz"):
                load_npz(out / torn[0])
        if mode == "unrenamed":  # a complete temporary file that was never renamed
            assert any(name.endswith(".npz") for name in new), new
    final = Child(script, small_dir, out, "none", 0, cwd=tmp_path)
    assert final.finish() == (0, "")
    assert reference.finish() == (0, "")
    print(f"\nSIGKILL: {dict(outcomes)}; checkpoint epoch after each kill: {epochs}")
    assert not leftovers(out)  # the temporaries of killed writes go when a run starts
    assert sum(n for (mode, what), n in outcomes.items() if what == "killed") >= 6
    # bit for bit: the final weights, and every array of the final checkpoint (optimizer
    # state, position, generator state)
    for name in ("model.npz", "checkpoint.npz"):
        a, b = load_npz(tmp_path / "reference" / name), load_npz(out / name)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")
    # history.json: every record it kept is the reference's
    keep = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "steps")
    reference_records, records = [
        {r["epoch"]: {k: r[k] for k in keep}
         for r in json.loads((folder / "history.json").read_text())["epochs"]}
        for folder in (tmp_path / "reference", out)]
    assert sorted(reference_records) == [1, 2, 3, 4]
    assert all(records[e] == reference_records[e] for e in records)
    print(f"history.json kept the records of epochs {sorted(records)}")


@pytest.mark.slow  # subprocesses killed
@needs_data
def test_sigkill_between_checkpoint_and_history_loses_no_epoch_record(small_dir, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD)
    out = tmp_path / "run"
    child = Child(script, small_dir, out, "history", 2, cwd=tmp_path)  # epoch 2's history
    assert child.expect("frozen"), child.finish()
    child.proc.kill()
    assert child.finish()[0] == -signal.SIGKILL
    assert Child(script, small_dir, out, "none", 0, cwd=tmp_path).finish() == (0, "")
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3, 4]


# ========================================================== SIGINT, SIGTERM: clean stops

SIGNAL_CHILD = r'''
"""``backprop train`` on the small data (the CLI's loader replaced), 1000 epochs."""
import os
import sys

import numpy as np

import backprop
from backprop.app.cli import main

data_dir, out_dir = sys.argv[1:3]
data = tuple((np.load(os.path.join(data_dir, f"x_{s}.npy")),
              np.load(os.path.join(data_dir, f"y_{s}.npy"))) for s in ("train", "test"))
backprop.data.load_fashion_mnist = lambda root=None, verify=True: data
sys.exit(main(["train", "--hidden", "32", "--epochs", "1000", "--out", out_dir, "--quiet",
               "--no-plots", "--threads", "1"]))
'''


@pytest.mark.slow  # a subprocess signalled
@needs_data
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_with_a_checkpoint_and_resume_continues(
        signum, small, small_dir, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(SIGNAL_CHILD)
    out = tmp_path / "run"
    child = Child(script, small_dir, out, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.npz").exists():  # an epoch is done: inside the loop
        assert child.proc.poll() is None and time.monotonic() < deadline, child.finish()
        time.sleep(0.005)
    time.sleep(np.random.default_rng(int(signum)).uniform(0, 0.05))  # mid-epoch
    child.proc.send_signal(signum)
    code, err = child.finish()
    name = signal.Signals(signum).name
    line = assert_one_line_error(code, err, codes=(128 + signum,))  # 130, 143
    assert line.startswith(f"backprop: {name}: stopped at epoch ")
    assert f"resume with: backprop train --out {out} --resume" in line
    epoch, step = (int(s) for s in
                   line.split("stopped at epoch ")[1].split(" of ")[0].split(", step "))
    model, _, optimizer = train.build(SMALL)
    position = train.load_checkpoint(out / "checkpoint.npz", SMALL, model, optimizer)
    assert (position.epoch, position.step_in_epoch) == (epoch - 1, step)
    said = []
    config = train.TrainConfig(epochs=epoch + 1, hidden=(32,))
    _, history = train.run_training(config, small, out_dir=str(out), resume=True, quiet=False,
                                    log=said.append)
    assert said[0].startswith(f"resuming {out} at epoch {epoch}, step {step} of 30")
    assert [r["epoch"] for r in history["epochs"]] == list(range(1, epoch + 2))
    assert history["epochs"][-1]["steps"] == 30 * (epoch + 1)


# ================================================================= damaged checkpoints

def _set(key, value):
    return lambda a: a.__setitem__(key, value(a[key]) if callable(value) else value)


def _all_weights_float64(a):
    for key in [k for k in a if k[:7] in ("model.W", "model.b")]:
        a[key] = a[key].astype(np.float64)


def _config(change):
    """A damage of the model's stored config: ``change`` edits (and may return) the
    decoded list of layer configs, which is stored back as JSON."""
    def damage(a):
        config = json.loads(str(a["model.config"]))
        changed = change(config)
        a["model.config"] = np.array(json.dumps(config if changed is None else changed))
    return damage


# name -> how to damage the arrays of a good checkpoint (or its bytes), and what the
# clear error must say
DAMAGES = {
    "truncated to 0 bytes": (("cut", 0), "not a readable .npz"),
    "truncated to 10 bytes": (("cut", 10), "not a readable .npz"),
    "truncated to half": (("cut", 0.5), "not a readable .npz"),
    "truncated by 1 byte": (("cut", -1), "not a readable .npz"),
    "a .npy file, not .npz": (("npy", None), "not a readable .npz"),
    "format version 3": (_set("format_version", np.array(3)), "format version 3"),
    "model format version 2": (_set("model.format_version", np.array(2)),
                               "format version 2"),
    "another architecture inside": (
        _set("model.config", np.array(json.dumps(Sequential.mlp([784, 64, 10]).config()))),
        "shapes"),
    "W1 of the wrong shape": (_set("model.W1", lambda w: w[:700]), "shapes"),
    "b2 of the wrong shape": (_set("model.b2", lambda b: b[None]), "shapes"),
    "Adam m of the wrong shape": (_set("optim.m.0", lambda m: m[:5]), "shape"),
    "Adam v of the wrong dtype": (_set("optim.v.0", lambda v: v.astype(np.float64)),
                                  "dtype"),
    "W1 int32": (_set("model.W1", lambda w: w.astype(np.int32)), "int32"),
    "W1 float64, the rest float32": (_set("model.W1", lambda w: w.astype(np.float64)),
                                     "float64"),
    "all weights float64 in a float32 run": (_all_weights_float64, "float64"),
    "a text file, not .npz": (("bytes", b"hello\n"), "is not a readable .npz file (File is "
                                                     "not a zip file: it starts with b'hello"),
    "config: an argument relu does not take": (
        _config(lambda c: c[0]["activation"].update(alpha=0.1)),
        "is a damaged model file: layer 1's config gives activation relu the arguments "
        "{'alpha': 0.1}, which it does not take"),
    "config: a dict": (_config(lambda c: {"layers": c}), "is a damaged model file: its "
                       "config must be a non-empty list of layers, got {'layers'"),
    "config: a list of strings": (_config(lambda c: ["relu", "identity"]),
                                  "is a damaged model file: layer 1's config must be an "
                                  "object, got 'relu'"),
    "config: a number": (_config(lambda c: 784), "is a damaged model file: its config must "
                         "be a non-empty list of layers, got 784"),
    "config: an empty list": (_config(lambda c: []), "is a damaged model file: its config "
                              "must be a non-empty list of layers, got []"),
    "config: no activation": (_config(lambda c: c[1].__delitem__("activation")),
                              "is a damaged model file: layer 2's config lacks 'activation'"),
    "config: activation swish": (_config(lambda c: c[0]["activation"].update(name="swish")),
                                 "is a damaged model file: layer 1's config has the unknown "
                                 "activation 'swish'"),
    "config: leaky_relu alpha 'abc'": (
        _config(lambda c: c[0].update(activation={"name": "leaky_relu", "alpha": "abc"})),
        "is a damaged model file: layer 1's config gives activation leaky_relu bad arguments "
        "{'alpha': 'abc'} (could not convert string to float: 'abc')"),
    "config: n_in the string '784'": (_config(lambda c: c[0].update(n_in="784")),
                                      "is a damaged model file: layer 1's config has n_in "
                                      "'784', not a whole number >= 1"),
    "config: init zeros": (_config(lambda c: c[0].update(init="zeros")),
                           "is a damaged model file: layer 1's config has init 'zeros'"),
    "config: one layer, weights of two": (_config(lambda c: c[:1]),
                                          "is a damaged model file: it holds W2 but its "
                                          "config describes 1 layer"),
}
# a checkpoint-level field the evaluate command has no need to read (it reads model.*),
# and a float64 model, which is a valid model to evaluate
NOT_FOR_EVALUATE = {"format version 3", "Adam m of the wrong shape",
                    "Adam v of the wrong dtype", "all weights float64 in a float32 run"}


def damaged_checkpoint(good_run, folder, damage, name="checkpoint.npz"):
    """Copy of the good run's checkpoint.npz in ``folder``, damaged; returns its path.
    With ``name`` "model.npz": the good run's model.npz, damaged the same way (its arrays
    are the checkpoint's "model." entries)."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    change, _ = DAMAGES[damage]
    if isinstance(change, tuple) and change[0] == "cut":
        data = (good_run / name).read_bytes()
        at = change[1]
        at = int(len(data) * at) if isinstance(at, float) else at % len(data) if at < 0 else at
        path.write_bytes(data[:at])
    elif isinstance(change, tuple) and change[0] == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(3))
        path.write_bytes(buffer.getvalue())
    elif isinstance(change, tuple) and change[0] == "bytes":
        path.write_bytes(change[1])
    else:
        arrays = load_npz(good_run / "checkpoint.npz")
        change(arrays)
        if name == "model.npz":
            arrays = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
        np.savez(path, **arrays)
    return path


def cases(path):
    skip = NOT_FOR_EVALUATE if path == "evaluate" else set()
    return [pytest.param(name, id=name) for name in DAMAGES if name not in skip]


@needs_data
@pytest.mark.parametrize("damage", cases("library"))
def test_damaged_checkpoint_is_one_clear_error_from_the_library(damage, good_run, small,
                                                               tmp_path):
    path = damaged_checkpoint(good_run, tmp_path / "run", damage)
    with pytest.raises((train.TrainingError, ValueError)) as info:
        train.run_training(train.TrainConfig(epochs=2, hidden=(32,)), small,
                           out_dir=str(path.parent),
                           resume=True, quiet=True)
    message = str(info.value)
    assert str(path) in message and DAMAGES[damage][1] in message, message
    assert "\n" not in message


@needs_data
@pytest.mark.parametrize("damage", cases("train --resume"))
def test_damaged_checkpoint_is_one_line_from_train_resume(damage, good_run, cli_data,
                                                          tmp_path, capsys):
    path = damaged_checkpoint(good_run, tmp_path / "run", damage)
    code, _, err = run_cli(capsys, ["train", "--resume", "--out", str(path.parent),
                                    "--hidden", "32", "--epochs", "2", "--quiet",
                                    "--no-plots"])
    line = assert_one_line_error(code, err, codes=(2,))  # a damaged file: exit 2
    assert str(path) in line and DAMAGES[damage][1] in line, line


@needs_data
@pytest.mark.parametrize("damage", cases("evaluate"))
def test_damaged_checkpoint_is_one_line_from_evaluate(damage, good_run, cli_data, tmp_path,
                                                      capsys):
    path = damaged_checkpoint(good_run, tmp_path / "run", damage)  # no model.npz: read it
    code, _, err = run_cli(capsys, ["evaluate", str(path.parent)])
    line = assert_one_line_error(code, err)
    assert str(path) in line and DAMAGES[damage][1] in line, line


@needs_data
@pytest.mark.parametrize("damage", cases("evaluate"))  # the damages of the model part
def test_damaged_model_file_is_one_clear_error_from_load_and_evaluate(
        damage, good_run, cli_data, tmp_path, capsys):
    path = damaged_checkpoint(good_run, tmp_path / "run", damage, name="model.npz")
    with pytest.raises(ValueError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and DAMAGES[damage][1] in message, message
    assert "\n" not in message and "allow_pickle" not in message
    code, _, err = run_cli(capsys, ["evaluate", str(path.parent)])
    line = assert_one_line_error(code, err, codes=(2,))
    assert line == f"backprop: error: {message}", line


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=lambda u: f"umask {u:03o}")
def test_model_and_checkpoint_get_the_mode_of_a_file_made_by_open(umask, tmp_path):
    """model.npz and checkpoint.npz are written through a temporary file and a rename;
    the file must still get the mode open() gives a new file (0666 less the umask)."""
    x = np.zeros((10, 4), np.uint8)
    y = np.arange(10) % 2
    old = os.umask(umask)
    try:
        train.run_training(train.TrainConfig(epochs=1, hidden=(3,), batch_size=5), ((x, y), (x, y)),
                           out_dir=str(tmp_path), quiet=True)
        save_model(Sequential.mlp([4, 3, 2]), tmp_path / "saved.npz")
        (tmp_path / "plain").write_bytes(b"")
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    assert (tmp_path / "plain").stat().st_mode & 0o777 == expected
    modes = {name: oct((tmp_path / name).stat().st_mode & 0o777)
             for name in ("model.npz", "checkpoint.npz", "saved.npz")}
    assert modes == dict.fromkeys(modes, oct(expected))


@needs_data
def test_checkpoint_of_another_run_from_the_cli(good_run, cli_data, tmp_path, capsys):
    """The library side is test_train.py's test_resume_refuses_a_checkpoint_of_another_run."""
    shutil.copytree(good_run, tmp_path / "run")
    code, _, err = run_cli(capsys, ["train", "--resume", "--out", str(tmp_path / "run"),
                                    "--hidden", "64,32", "--quiet", "--no-plots"])
    line = assert_one_line_error(code, err, codes=(2,))  # a changed option: exit 2
    assert "was written by a different run: hidden (32,) (now (64, 32))" in line, line
    # a model of another input size cannot be evaluated on Fashion-MNIST
    save_model(Sequential.mlp([100, 32, 10]), tmp_path / "run" / "model.npz")
    code, _, err = run_cli(capsys, ["evaluate", str(tmp_path / "run")])
    line = assert_one_line_error(code, err)
    assert "the model maps 100 inputs to 10 outputs; Fashion-MNIST needs 784" in line, line


@needs_data
def test_cli_resume_takes_the_runs_own_options(cli_data, tmp_path, capsys):
    """``backprop train --out RUN --resume``, the command an interrupted run prints, goes on
    with the options the run was started with; --epochs may extend it."""
    out = str(tmp_path / "run")
    options = ["--hidden", "16", "--lr", "0.002", "--seed", "3", "--batch-size", "50"]
    code, _, err = run_cli(capsys, ["train", "--epochs", "1", *options, "--out", out,
                                    "--quiet", "--no-plots"])
    assert code == 0, err
    code, _, err = run_cli(capsys, ["train", "--out", out, "--resume", "--quiet", "--no-plots"])
    assert code == 0, err  # the run's 1 epoch is done: nothing more to train
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["epoch"] for r in history["epochs"]] == [1]
    assert history["config"]["epochs"] == 1
    code, _, err = run_cli(capsys, ["train", "--out", out, "--resume", "--epochs", "2",
                                    "--quiet", "--no-plots"])
    assert code == 0, err
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["epoch"] for r in history["epochs"]] == [1, 2]
    assert {k: history["config"][k] for k in ("hidden", "lr", "seed", "batch_size", "epochs")} == \
        {"hidden": [16], "lr": 0.002, "seed": 3, "batch_size": 50, "epochs": 2}
    straight, _ = train.run_training(train.TrainConfig(epochs=2, hidden=(16,), lr=0.002, seed=3,
                                     batch_size=50), cli_data, quiet=True)
    resumed = load_model(tmp_path / "run" / "model.npz")
    np.testing.assert_array_equal(resumed.params, straight.params)


def _rewrite_checkpoint(path, **position):
    """Write the checkpoint at ``path`` again with some of its position's entries changed."""
    from backprop.app.io import save_npz
    arrays = load_npz(path)
    stored = json.loads(str(arrays["position"]))
    arrays["position"] = np.array(json.dumps({**stored, **position}))
    save_npz(path, arrays)


@needs_data
@pytest.mark.parametrize("position, says", [
    ({"epoch": "1"}, "its position has epoch = '1', not a whole number >= 0"),
    ({"epoch": -1}, "its position has epoch = -1, not a whole number >= 0"),
    ({"step_in_epoch": 1000000, "global_step": 1000030, "seen": 100000000},
     "it is at step 1000000 of an epoch of 30 steps"),
    ({"rng_state": 7}, "its position has no generator state"),
])
def test_a_checkpoint_with_a_damaged_position_is_one_line_from_train_resume(
        position, says, good_run, cli_data, tmp_path, capsys):
    shutil.copytree(good_run, tmp_path / "run")
    _rewrite_checkpoint(tmp_path / "run" / "checkpoint.npz", **position)
    code, _, err = run_cli(capsys, ["train", "--resume", "--epochs", "2", "--out",
                                    str(tmp_path / "run"), "--quiet", "--no-plots"])
    line = assert_one_line_error(code, err, codes=(2,))  # a damaged file: exit 2
    assert str(tmp_path / "run" / "checkpoint.npz") in line and says in line, line


@needs_data
@pytest.mark.parametrize("history, says", [
    ("[]", "not a JSON object"),
    ('{"epochs": [{"test_accuracy": 0.8}]}', "record 1 of 'epochs' lacks 'epoch'"),
    ("{epochs", "Expecting property name enclosed in double quotes"),
])
def test_a_damaged_history_is_one_line_from_train_resume(history, says, good_run, cli_data,
                                                         tmp_path, capsys):
    shutil.copytree(good_run, tmp_path / "run")
    (tmp_path / "run" / "history.json").write_text(history)
    code, _, err = run_cli(capsys, ["train", "--resume", "--epochs", "2", "--out",
                                    str(tmp_path / "run"), "--quiet", "--no-plots"])
    line = assert_one_line_error(code, err, codes=(2,))  # a damaged file: exit 2
    assert f"{tmp_path / 'run' / 'history.json'} is damaged" in line and says in line, line
    assert "remove it to resume without the records of the earlier epochs" in line


@needs_data
def test_force_removes_the_old_runs_files_before_the_new_run(good_run, cli_data, tmp_path,
                                                             capsys):
    """An old model.npz must not pass for the new run's, nor the old checkpoint for its
    last good one (here the new run diverges in its first epoch)."""
    shutil.copytree(good_run, tmp_path / "run")
    (tmp_path / "run" / "curves.png").write_bytes(b"old figure")
    code, _, err = run_cli(capsys, ["train", "--force", "--optimizer", "sgd", "--lr", "1e30",
                                    "--hidden", "8", "--out", str(tmp_path / "run"),
                                    "--quiet", "--no-plots"])
    line = assert_one_line_error(code, err, codes=(3,))
    assert "diverged" in line and "last good checkpoint" not in line, line
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []


@needs_data
def test_a_folder_with_only_a_model_and_history_is_a_run_too(good_run, cli_data, tmp_path,
                                                             capsys):
    """Not one that --resume can continue: see tests/test_run_files.py."""
    shutil.copytree(good_run, tmp_path / "run")
    (tmp_path / "run" / "checkpoint.npz").unlink()
    code, _, err = run_cli(capsys, ["train", "--out", str(tmp_path / "run"), "--quiet"])
    line = assert_one_line_error(code, err, codes=(2,))
    assert "holds history.json, model.npz but no checkpoint.npz" in line, line
    assert "start it again with --force" in line and (tmp_path / "run" / "model.npz").exists()


def test_resume_without_a_checkpoint_makes_no_folder(tmp_path, capsys):
    code, _, err = run_cli(capsys, ["train", "--resume", "--out", str(tmp_path / "none")])
    line = assert_one_line_error(code, err)
    assert f"no checkpoint to resume from in {tmp_path / 'none'}" in line, line
    assert not (tmp_path / "none").exists()


@needs_data
def test_evaluate_takes_a_model_or_checkpoint_file_too(good_run, cli_data, capsys):
    code, by_folder, err = run_cli(capsys, ["evaluate", str(good_run)])
    assert code == 0, err
    for name in ("model.npz", "checkpoint.npz"):
        code, by_file, err = run_cli(capsys, ["evaluate", str(good_run / name)])
        assert code == 0, err
        assert by_file == by_folder  # after one epoch both hold the same weights


@needs_data
def test_evaluate_refuses_a_model_whose_weights_hold_nan(good_run, cli_data, tmp_path, capsys):
    model = load_model(good_run / "model.npz")
    model.layers[1].W[3, 4] = np.nan
    save_model(model, tmp_path / "model.npz")
    code, out, err = run_cli(capsys, ["evaluate", str(tmp_path)])
    line = assert_one_line_error(code, err)
    assert "the model's weights hold NaN or Inf (in W2)" in line and out == "", line


def test_train_config_takes_whole_numbers_and_a_learning_rate_its_dtype_can_hold():
    with pytest.raises(ValueError, match="epochs must be a whole number, got 1.5"):
        train.TrainConfig(epochs=1.5)
    with pytest.raises(ValueError, match="hidden sizes must be whole numbers"):
        train.TrainConfig(hidden=(32.5,))
    with pytest.raises(ValueError, match="learning rate 1e-50 is 0 in float32"):
        train.TrainConfig(lr=1e-50)
    assert train.TrainConfig(lr=1e-50, dtype="float64").lr == 1e-50


@needs_data
def test_fit_checks_the_test_images_before_training(cli_data):
    (x, y), (xt, yt) = cli_data
    with pytest.raises(ValueError, match=r"test images have shape \(784,\) but training "
                                         r"images \(28, 28\)"):
        test = (xt.reshape(len(xt), -1), yt)
        train.run_training(train.TrainConfig(epochs=1, hidden=(8,)), ((x, y), test), quiet=True)


@needs_data
def test_fit_says_when_a_batch_is_larger_than_the_training_set(cli_data):
    said = []
    train.run_training(train.TrainConfig(epochs=1, hidden=(8,), batch_size=5000), cli_data,
                       log=said.append)
    assert said[0] == ("batch size 5000 is more than the 3000 training samples: every step "
                       "uses all of them")


# ========================================================================= determinism

@pytest.mark.slow  # 50 steps on the real data, twice
@needs_data
def test_same_seed_gives_bit_identical_weights_after_50_steps(backend, fashion):
    """The reference net, 50 Adam steps on real batches, twice in one process."""
    (x, y), _ = fashion

    def run(seed):
        config = train.TrainConfig(seed=seed)
        model, loss, optimizer = train.build(config)
        batches = Batches(x[:5000], y[:5000], config.batch_size, seed=seed)
        for step, (xb, yb) in enumerate(batches):
            if step == 50:
                break
            E, _ = train.train_step(model, loss, optimizer, xb, yb)
            assert np.isfinite(E)
        return model.params.copy(), optimizer.state_arrays()

    (theta, state), (again, state_again) = run(0), run(0)
    assert theta.shape == (244_522,)
    np.testing.assert_array_equal(theta, again)
    assert state.keys() == state_again.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], state_again[key], err_msg=key)
    initial = train.build(train.TrainConfig(seed=0))[0].params
    assert not np.array_equal(theta, initial)  # the 50 steps did move the weights
    assert not np.array_equal(theta, run(1)[0])  # and the seed matters


# =================================================================== bad input, the API

def test_float_images_with_nan_are_refused_by_batches_and_scale_images():
    images = np.zeros((10, 28, 28), np.float32)
    images[7, 3, 4] = np.nan
    labels = np.zeros(10, np.uint8)
    with pytest.raises(ValueError, match=r"x holds NaN or Inf \(first in row 7\)"):
        Batches(images, labels, 5)
    images[7, 3, 4] = np.inf
    with pytest.raises(ValueError, match=r"x holds NaN or Inf \(first in row 7\)"):
        Batches(images, labels, 5)
    with pytest.raises(ValueError, match=r"the targets hold NaN or Inf \(first in row 2\)"):
        Batches(np.zeros((4, 2)), np.array([0.0, 1, np.nan, 3]), 2)
    with pytest.raises(ValueError, match="scale_images expects uint8 pixels.*got float32"):
        scale_images(images)


def test_labels_out_of_range_wrong_length_or_dtype():
    images = np.zeros((4, 2, 2), np.uint8)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\] for 10 classes, got values in \[0, 10\]"):
        Batches(images, np.array([0, 1, 2, 10]), 2, n_classes=10)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\] for 10 classes, got values in \[-1, 2\]"):
        Batches(images, np.array([0, 1, 2, -1]), 2, n_classes=10)
    with pytest.raises(ValueError, match=r"expected one label per sample \(4\), got 3"):
        Batches(images, np.array([0, 1, 2]), 2)
    with pytest.raises(ValueError, match=r"targets must have shape \(4,\) or \(4, K\)"):
        Batches(images, np.array([0.0, 1, 2]), 2)  # float targets: real values, one per row
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
        one_hot([0, 3], 3)
    loss = backprop.SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\] for 10 classes"):
        loss.forward(np.zeros((2, 10), np.float32), np.array([3, 10]))


def _nan_at_third_batch(batches_class):
    class NaNBatches(batches_class):
        """Training batches (shuffled) whose third batch holds a NaN pixel."""

        def _epoch(self, order, first):
            for i, (x, y) in enumerate(super()._epoch(order, first)):
                if self.shuffle and i == 2:
                    x[0, 400] = np.nan
                yield x, y
    return NaNBatches


@needs_data
def test_nan_input_stops_training_naming_the_input(backend, small, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "Batches", _nan_at_third_batch(train.Batches))
    with pytest.raises(train.TrainingError) as info:
        train.run_training(SMALL, small, out_dir=str(tmp_path), quiet=True)
    assert ("training diverged at epoch 1, step 3: loss is nan (the input batch holds NaN "
            "or Inf)") in str(info.value)
    assert not (tmp_path / "checkpoint.npz").exists()


@needs_data
def test_nan_input_message_does_not_blame_the_learning_rate(small, monkeypatch):
    monkeypatch.setattr(train, "Batches", _nan_at_third_batch(train.Batches))
    with pytest.raises(train.TrainingError) as info:
        train.run_training(SMALL, small, quiet=True)
    assert "learning rate" not in str(info.value)


# =================================================================== bad input, the CLI

@pytest.mark.parametrize("args, says", [
    (["--hidden", "0"], "argument --hidden: layer sizes must be >= 1, got '0'"),
    (["--hidden", "32,,16"], "argument --hidden: expected comma-separated layer sizes"),
    (["--batch-size", "-1"], "argument --batch-size: expected a number >= 1, got -1"),
    (["--batch-size", "0x10"], "argument --batch-size: expected a whole number, got '0x10'"),
    (["--epochs", "1.5"], "argument --epochs: expected a whole number, got '1.5'"),
    (["--lr", "nan"], "argument --lr: expected a positive number, got nan"),
    (["--lr", "-0.1"], "argument --lr: expected a positive number, got -0.1"),
    (["--threads", "0"], "argument --threads: expected a number >= 1, got 0"),
    (["--eval-every", "-5"], "argument --eval-every: expected a number >= 0, got -5"),
    (["--seed", "1.5"], "argument --seed: expected a whole number, got '1.5'"),
    (["--activation", "swish"], "argument --activation: invalid choice: 'swish'"),
    (["--backend", "cuda"], "argument --backend: invalid choice: 'cuda'"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_cli_bad_values_are_one_line_exit_2(args, says, tmp_path, capsys):
    code, _, err = run_cli(capsys, ["train", *args, "--out", str(tmp_path / "run")])
    line = assert_one_line_error(code, err, codes=(2,))
    assert says in line, line
    assert not (tmp_path / "run").exists()  # refused before anything was written


@needs_data
@pytest.mark.parametrize("args, says", [
    pytest.param(["--seed", "-1"], "argument --seed: expected a number >= 0, got -1",
                 id="--seed -1"),
    pytest.param(["--hidden", "99999999999"], "choose smaller --hidden sizes",
                 id="--hidden 99999999999"),
])
def test_cli_values_numpy_refuses_are_one_line_exit_2(args, says, cli_data, tmp_path, capsys):
    code, _, err = run_cli(capsys, ["train", *args, "--epochs", "1", "--quiet", "--no-plots",
                                    "--out", str(tmp_path / "run")])
    line = assert_one_line_error(code, err, codes=(2,))
    assert says in line, line


# =========================================================== output folder faults

def _fail_nth(real, n, err, predicate=lambda *a: True):
    """``real`` that raises OSError(err) on its n-th call for which predicate holds."""
    calls = Counter()

    def fake(*args, **kwargs):
        if predicate(*args):
            calls["n"] += 1
            if calls["n"] == n:
                raise OSError(err, os.strerror(err))
        return real(*args, **kwargs)
    return fake


def _checkpoint_fault(kind):
    """Patches making the second checkpoint write fail: ENOSPC when the temporary file is
    flushed to disk (os.fsync), or EROFS when it is renamed (os.replace)."""
    if kind == "ENOSPC at fsync":  # counting only the fsyncs of .npz temporary files
        return "fsync", _fail_nth(os.fsync, 2, errno.ENOSPC, lambda fd: os.readlink(
            f"/proc/self/fd/{fd if isinstance(fd, int) else fd.fileno()}").endswith(".npz"))
    return "replace", _fail_nth(os.replace, 2, errno.EROFS,
                                lambda src, dst: str(dst).endswith("checkpoint.npz"))


@needs_data
@pytest.mark.parametrize("kind", ["ENOSPC at fsync", "EROFS at rename"])
def test_checkpoint_write_failure_stops_keeps_the_last_checkpoint_and_no_temp_file(
        kind, small, tmp_path, monkeypatch):
    name, fake = _checkpoint_fault(kind)
    monkeypatch.setattr(os, name, fake)
    with pytest.raises(OSError) as info:
        train.run_training(SMALL, small, out_dir=str(tmp_path), quiet=True)
    assert info.value.errno in (errno.ENOSPC, errno.EROFS)
    monkeypatch.undo()
    assert {p.name for p in tmp_path.iterdir()} == {"checkpoint.npz", "history.json"}
    assert check_run_folder(tmp_path) == 1  # the epoch-1 checkpoint, whole
    # history.json is written first, so it is one record ahead; resume trims it
    assert [r["epoch"] for r in json.loads((tmp_path / "history.json").read_text())[
        "epochs"]] == [1, 2]
    # and the run resumes to the weights of a run that never failed
    resumed, history = train.run_training(SMALL, small, out_dir=str(tmp_path), resume=True,
                                          quiet=True)
    straight, _ = train.run_training(SMALL, small, quiet=True)
    np.testing.assert_array_equal(resumed.params, straight.params)
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3]


@needs_data
@pytest.mark.parametrize("kind", ["ENOSPC at fsync", "EROFS at rename"])
def test_checkpoint_write_failure_is_one_line_from_the_cli(kind, cli_data, tmp_path,
                                                          monkeypatch, capsys):
    name, fake = _checkpoint_fault(kind)
    monkeypatch.setattr(os, name, fake)
    code, _, err = run_cli(capsys, ["train", "--epochs", "3", "--hidden", "32", "--quiet",
                                    "--no-plots", "--out", str(tmp_path / "run")])
    line = assert_one_line_error(code, err, codes=(2,))
    assert os.strerror(errno.ENOSPC if "ENOSPC" in kind else errno.EROFS) in line, line
    assert not leftovers(tmp_path / "run")


def _history_fault(kind):
    """(module, attribute, fake) making the second write of history.json fail: ENOSPC
    while writing its temporary file, or EROFS when renaming it."""
    if kind == "ENOSPC at write":
        calls = Counter()

        def fake_open(file, mode="r", *args, **kwargs):
            f = open(file, mode, *args, **kwargs)
            if "x" in mode and os.path.basename(file).endswith("-history.json"):
                calls["n"] += 1
                if calls["n"] == 2:
                    return FullDiskFile(f)
            return f
        return backprop.app.io, "open", fake_open  # io.py's own name for the builtin
    return os, "replace", _fail_nth(os.replace, 2, errno.EROFS,
                                    lambda src, dst: str(dst).endswith("history.json"))


HISTORY_FAULTS = ["ENOSPC at write", "EROFS at rename"]


def _fail_history_write(kind, small, out, monkeypatch):
    module, name, fake = _history_fault(kind)
    monkeypatch.setattr(module, name, fake, raising=False)
    with pytest.raises(OSError) as info:
        train.run_training(SMALL, small, out_dir=str(out), quiet=True)
    monkeypatch.undo()
    return info.value


@needs_data
@pytest.mark.parametrize("kind", HISTORY_FAULTS)
def test_history_write_failure_stops_and_keeps_the_previous_history(kind, small, tmp_path,
                                                                   monkeypatch):
    error = _fail_history_write(kind, small, tmp_path, monkeypatch)
    assert error.errno in (errno.ENOSPC, errno.EROFS)
    history = json.loads((tmp_path / "history.json").read_text())  # whole, epoch 1
    assert [r["epoch"] for r in history["epochs"]] == [1]
    assert check_run_folder(tmp_path) == 1  # the checkpoint comes after the history


@needs_data
@pytest.mark.parametrize("kind", HISTORY_FAULTS)
def test_history_write_failure_leaves_no_temporary_file(kind, small, tmp_path, monkeypatch):
    _fail_history_write(kind, small, tmp_path, monkeypatch)
    assert not leftovers(tmp_path)


@needs_data
@pytest.mark.parametrize("kind", HISTORY_FAULTS)
def test_history_write_failure_then_resume_keeps_every_epoch(kind, small, tmp_path,
                                                            monkeypatch):
    _fail_history_write(kind, small, tmp_path, monkeypatch)
    _, history = train.run_training(SMALL, small, out_dir=str(tmp_path), resume=True, quiet=True)
    assert [r["epoch"] for r in history["epochs"]] == [1, 2, 3]


def test_read_only_output_folder_is_one_clear_error(tmp_path, monkeypatch, capsys):
    """Root ignores file modes, so the read-only folder is simulated: open() of the
    folder's write probe fails with EROFS."""
    def read_only_open(file, mode="r", *args, **kwargs):
        if "w" in mode and str(tmp_path) in str(file):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(train, "open", read_only_open, raising=False)
    x = np.zeros((10, 4), np.uint8)
    y = np.arange(10) % 2
    with pytest.raises(OSError, match=f"cannot write to the output folder {tmp_path / 'run'}: "
                                      f"Read-only file system"):
        train.run_training(SMALL, ((x, y), (x, y)), out_dir=str(tmp_path / "run"), quiet=True)
    code, _, err = run_cli(capsys, ["train", "--out", str(tmp_path / "run2")])
    line = assert_one_line_error(code, err, codes=(2,))
    assert "cannot write to the output folder" in line and "Read-only file system" in line
