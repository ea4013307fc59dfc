"""The CLI's training run: ``fit.Loop`` with a run folder, resume and interruption.

``fit`` builds the configured network and runs the library's one training loop
(``Loop`` of fit.py: forward, E, the delta rule, the optimizer step, per batch) with
one callback, ``_RunFolder``, that evaluates the test set after each epoch (and every
``eval_every`` steps), prints one line per epoch, and keeps a run folder:

    history.json      one record per epoch, the configuration, the layer sizes, the data
                      (its --data folder, class names) and the library version
    checkpoint.npz    weights, optimizer state, epoch, step and RNG state (after every
                      epoch, and on Ctrl-C or SIGTERM), written atomically
    model.npz         the final weights (``Sequential.load``)

``read_history``, ``load_run_model``, ``recorded_data_folder`` and ``draw_figures`` read a
run back for ``backprop evaluate`` and ``backprop plot``.

A checkpoint taken mid-epoch stores the generator state from the start of that epoch and
the number of batches done, so ``resume`` replays the same order and skips what was done:
the resumed run ends with the same weights as one that was never interrupted.
"""
import json
import math
import os
import signal
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from . import __version__, kernels
from .activations import HIDDEN_ACTIVATIONS
from .data import Batches
from .fit import (EVAL_BATCH, Callback, Loop, NonFiniteOutputs, Position, TrainingError,
                  evaluate_batches)
from .fit import train_step  # noqa: F401  the step the run calls, looked up here each step
from .io import SignalFlag, load_npz, lock_run_folder, remove_temporaries, save_npz, write_json
from .layers import INITIALIZERS
from .losses import get_loss
from .model import Sequential, check_format
from .optim import OPTIMIZERS, get_optimizer

CHECKPOINT = "checkpoint.npz"
HISTORY = "history.json"
MODEL = "model.npz"
CHECKPOINT_FORMAT = "backprop.checkpoint"
CHECKPOINT_VERSION = 2  # 2: the optimizer's state is one flat slot per rule, like theta
# --loss: the loss (a name in losses.LOSSES) and the output activation it comes with
TRAIN_LOSSES = {"ce": ("ce", None),              # logits, softmax cross-entropy
                "mse": ("mse", "softmax")}       # softmax outputs, 1/2 sum (O - t)^2


# the options a resumed run must share with its checkpoint (--epochs may change)
RESUME_MUST_MATCH = ("hidden", "activation", "loss", "optimizer", "batch_size", "lr", "seed",
                     "dtype")


class DamagedCheckpoint(TrainingError):
    """A checkpoint whose optimizer state cannot be used (the CLI: exit 2, naming it)."""


class Interrupted(Exception):
    """Training stopped by SIGINT or SIGTERM after saving a checkpoint."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.signum = signum


@dataclass
class TrainConfig:
    """Everything that defines a run; the defaults are the tutorial's reference run."""

    epochs: int = 30
    batch_size: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"
    hidden: tuple = (256, 128, 64, 32)
    activation: str = "relu"
    loss: str = "ce"
    seed: int = 0
    eval_every: int = 0
    dtype: str = "float32"
    init: str = None  # a name in layers.INITIALIZERS; None: he_normal for ReLU, else glorot_uniform

    def __post_init__(self):
        for name in ("optimizer", "activation", "loss"):  # names are case-insensitive
            if isinstance(getattr(self, name), str):
                setattr(self, name, getattr(self, name).lower())
        for name in ("epochs", "batch_size", "seed", "eval_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        if not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool)
                   for h in self.hidden):
            raise ValueError(f"hidden sizes must be whole numbers, got {self.hidden!r}")
        self.hidden = tuple(int(h) for h in self.hidden)
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (math.isfinite(self.lr) and self.lr > 0, f"learning rate must be > 0, got {self.lr}"),
            (all(h >= 1 for h in self.hidden), f"hidden sizes must be >= 1, got {self.hidden}"),
            (self.optimizer in OPTIMIZERS,
             f"unknown optimizer {self.optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}"),
            (self.loss in TRAIN_LOSSES,
             f"unknown loss {self.loss!r}; expected one of: {', '.join(TRAIN_LOSSES)}"),
            (self.activation in HIDDEN_ACTIVATIONS, f"unknown hidden activation "
             f"{self.activation!r}; expected one of: {', '.join(HIDDEN_ACTIVATIONS)}"),
            (self.eval_every >= 0, f"eval-every must be >= 0 steps, got {self.eval_every}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.dtype in ("float32", "float64"), f"dtype must be float32 or float64, got {self.dtype}"),
            (self.init is None or self.init in INITIALIZERS,
             f"unknown init {self.init!r}; expected one of: {', '.join(INITIALIZERS)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        with np.errstate(over="ignore"):
            stored = np.dtype(self.dtype).type(self.lr)
        if stored == 0:
            raise ValueError(f"learning rate {self.lr} is 0 in {self.dtype}: nothing would "
                             f"be learned")
        if not np.isfinite(stored):
            raise ValueError(f"learning rate {self.lr} is inf in {self.dtype}: the largest "
                             f"it holds is {np.finfo(self.dtype).max:.4g}")

    def sizes(self, n_in=784, n_out=10):
        return [n_in, *self.hidden, n_out]

    def to_dict(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def build(config, n_in=784, n_out=10):
    """The model, loss and optimizer of ``config`` (see ``TRAIN_LOSSES``).

    ce: linear last layer (logits) with softmax cross-entropy; mse: a softmax last layer
    with the derivation's MSE on one-hot targets.
    """
    loss_name, output = TRAIN_LOSSES[config.loss]
    model = Sequential.mlp(config.sizes(n_in, n_out), activation=config.activation,
                           output_activation=output, rng=config.seed, dtype=config.dtype,
                           init=config.init)
    loss = get_loss(loss_name)
    optimizer = get_optimizer(config.optimizer, model.params, lr=config.lr)
    return model, loss, optimizer


def evaluate(model, loss, images, labels, batch_size=EVAL_BATCH):
    """Mean loss, accuracy and predicted classes of ``model`` on uint8 images (or float
    features) with class labels: {"loss", "accuracy", "predictions"}.

    The caching-free forward pass in batches (``fit.evaluate_batches``); a model whose
    weights hold NaN or Inf is refused.
    """
    batches = Batches(images, labels, batch_size, shuffle=False, dtype=model.dtype)
    return evaluate_batches(model, loss, batches, predictions=True)


def confusion_matrix(y_true, y_pred, n_classes=10):
    """C[i, j] = number of samples of true class i predicted as class j."""
    C = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(C, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return C


@dataclass
class _Position(Position):
    """A run's ``fit.Position`` and the generator state at the start of its current epoch
    (what a checkpoint stores, so a resumed epoch replays the same order)."""

    rng_state: str = ""


def save_checkpoint(path, config, model, optimizer, position):
    arrays = {"format": np.array(CHECKPOINT_FORMAT), "format_version": np.array(CHECKPOINT_VERSION),
              "config": np.array(json.dumps(config.to_dict())),
              "version": np.array(__version__),
              "position": np.array(json.dumps(asdict(position)))}
    arrays.update({f"model.{k}": v for k, v in model.state_arrays().items()})
    arrays.update({f"optim.{k}": v for k, v in optimizer.state_arrays().items()})
    save_npz(path, arrays)


def checkpoint_model(arrays, path):
    """The model stored in a checkpoint's arrays (its "model." entries)."""
    prefix = "model."
    return Sequential.from_arrays({k[len(prefix):]: v for k, v in arrays.items()
                                   if k.startswith(prefix)}, str(path))


def _is_checkpoint_entry(name):
    """Whether ``name`` is an entry ``save_checkpoint`` writes (the only ones read)."""
    return (name in ("format", "format_version", "config", "version", "position")
            or name.startswith(("model.", "optim.")))


def _read_checkpoint(path):
    """(arrays, saved TrainConfig, _Position) of the checkpoint at ``path``."""
    try:
        arrays = load_npz(path, _is_checkpoint_entry)
        check_format(arrays, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, path, "checkpoint")
        saved = TrainConfig.from_dict(json.loads(str(arrays["config"])))
        position = _Position(**json.loads(str(arrays["position"])))
        _check_position(position)
    except ValueError as error:  # load_npz and check_format name the file
        message = str(error)
        raise TrainingError(message if str(path) in message else f"{path}: {message}") from None
    except (KeyError, TypeError) as error:
        raise TrainingError(f"{path} is a damaged checkpoint (missing or bad entry {error})") from None
    return arrays, saved, position


def _check_position(position):
    """ValueError unless the counters of a checkpoint's position are whole numbers >= 0
    and its generator state is a string."""
    for name in ("epoch", "step_in_epoch", "global_step", "correct", "seen"):
        value = getattr(position, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"its position has {name} = {value!r}, not a whole number >= 0")
    if not isinstance(position.rng_state, str):
        raise ValueError("its position has no generator state")


def read_history(out_dir):
    """The history.json of the run in ``out_dir`` (FileNotFoundError if there is none;
    ValueError naming the file if it is not a JSON object)."""
    path = os.path.join(out_dir, HISTORY)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{out_dir} holds no {HISTORY}; train first with: backprop "
                                f"train --out {out_dir}")
    with open(path) as f:
        try:
            history = json.load(f)
        except ValueError as error:
            raise ValueError(f"{path} is damaged ({error})") from None
    if not isinstance(history, dict):
        raise ValueError(f"{path} is damaged (not a JSON object)")
    return history


def _earlier_records(out_dir, position):
    """The epoch and evaluation records of history.json up to ``position`` (history.json
    may be one record ahead of the checkpoint); none if there is no history.json."""
    path = os.path.join(out_dir, HISTORY)
    if not os.path.exists(path):
        return [], []
    try:
        with open(path) as f:
            old = json.load(f)
        epochs = [r for r in old.get("epochs", []) if r["epoch"] <= position.epoch]
        evaluations = [r for r in old.get("evaluations", []) if r["step"] <= position.global_step]
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        reason = f"missing entry {error}" if isinstance(error, KeyError) else str(error)
        raise TrainingError(f"{path} is damaged ({reason}); repair it, or remove it to "
                            f"resume without the records of the earlier epochs") from None
    return epochs, evaluations


def recorded_data_folder(path):
    """The ``--data`` folder the run at ``path`` (its folder, or a file in it) was trained
    on, as its history.json records it; None for Fashion-MNIST's usual places, or when
    there is no readable history.json."""
    folder = path if os.path.isdir(path) else os.path.dirname(path) or "."
    try:
        return read_history(folder).get("data", {}).get("folder")
    except (OSError, ValueError, AttributeError):
        return None


def load_run_model(path):
    """The model of a run: ``path`` is a run folder (its model.npz, else its
    checkpoint.npz) or one of those files. FileNotFoundError if the folder holds neither."""
    if os.path.isfile(path):  # a model.npz or checkpoint.npz named directly
        arrays = load_npz(path)
        if str(arrays.get("format", "")) == CHECKPOINT_FORMAT:
            return checkpoint_model(arrays, path)
        return Sequential.from_arrays(arrays, source=path)
    model_path, checkpoint_path = os.path.join(path, MODEL), os.path.join(path, CHECKPOINT)
    if os.path.exists(model_path):
        return Sequential.load(model_path)
    if os.path.exists(checkpoint_path):
        return checkpoint_model(load_npz(checkpoint_path), checkpoint_path)
    raise FileNotFoundError(f"{path} holds no {MODEL} or {CHECKPOINT}; train first with: "
                            f"backprop train --out {path}")


def run_loss(model):
    """The loss ``backprop train`` pairs with the model's output activation (see
    ``TRAIN_LOSSES``): softmax cross-entropy for logits, the half-sum MSE for softmax
    outputs (on one-hot targets), and the half-sum MSE for any other output."""
    output = getattr(model.layers[-1].activation, "name", None)
    for loss_name, activation in TRAIN_LOSSES.values():
        if (activation or "identity") == output:
            return get_loss(loss_name)
    return get_loss("mse")


def draw_figures(files, history, model=None, test=None, class_names=None):
    """Draw a run's figures, ``files`` = {name in plots.FIGURES: file to write}:
    "curves.png" from the history; "confusion.png" (C[true, predicted]) and
    "samples.png" from the model's predicted classes (argmax O) on test = (x_test,
    y_test), with one name per class. Returns the paths written."""
    from . import plots

    paths = [plots.plot_curves(files["curves.png"], history)] if "curves.png" in files else []
    if files.keys() - {"curves.png"}:
        x_test, y_test = test
        predictions = evaluate(model, run_loss(model), x_test, y_test)["predictions"]
        if "confusion.png" in files:
            C = confusion_matrix(y_test, predictions, len(class_names))
            paths.append(plots.plot_confusion(files["confusion.png"], C, class_names))
        if "samples.png" in files:
            paths.append(plots.plot_samples(files["samples.png"], x_test, y_test, predictions,
                                            class_names))
    return paths


def checkpoint_config(path):
    """The TrainConfig the checkpoint at ``path`` was written with: ``backprop train
    --resume`` takes the run's options from it."""
    return _read_checkpoint(path)[1]


def load_checkpoint(path, config, model, optimizer):
    """Restore model and optimizer from ``path``; the checkpoint must match ``config``
    in everything but the number of epochs (a resumed run may train longer)."""
    arrays, saved, position = _read_checkpoint(path)
    differs = run_differences(saved, config)
    if differs:
        raise TrainingError(f"{path} was written by a different run: " + ", ".join(differs))
    try:
        restored = checkpoint_model(arrays, path)
    except ValueError as error:
        raise TrainingError(str(error)) from None
    if restored.config() != model.config():
        raise TrainingError(f"{path} holds a different architecture: {restored.config()}")
    if restored.dtype != model.dtype:
        raise TrainingError(f"{path} holds {restored.dtype} weights; this run is {model.dtype}")
    model.params[...] = restored.params
    try:
        optimizer.load_state_arrays({k[len("optim."):]: v for k, v in arrays.items()
                                     if k.startswith("optim.")})
    except ValueError as error:
        raise DamagedCheckpoint(f"{path} is a damaged checkpoint: {error}") from None
    return position


def run_differences(saved, config):
    """What ``config`` changes of the run ``saved`` that a resume must keep
    (``RESUME_MUST_MATCH``), as "name old (now new)" strings; empty if nothing."""
    return [f"{k} {getattr(saved, k)!r} (now {getattr(config, k)!r})"
            for k in RESUME_MUST_MATCH if getattr(saved, k) != getattr(config, k)]


def _write_history(out_dir, history):
    """Write history.json atomically (``io.write_json``): the old one or the new one is
    whole, and no temporary file is left if the write fails."""
    write_json(os.path.join(out_dir, HISTORY), history)


def _remove_stale_temporaries(out_dir):
    """Temporary files a killed run left behind (.tmp-*.npz, .tmp-*.json); the caller
    holds the folder's lock, so none of them is another run's."""
    remove_temporaries(out_dir, (".npz", ".json"))


def prepare_out_dir(out_dir):
    """Create ``out_dir`` and check that files can be written there (a clear OSError if not)."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.unlink(probe)
    except OSError as error:
        raise OSError(f"cannot write to the output folder {out_dir}: "
                      f"{error.strerror or error}") from None


def fit(config, data, out_dir=None, resume=False, quiet=False, log=print, on_epoch=None,
        n_classes=10, about_data=None, discard=()):
    """Train ``config`` on ``data`` = ((x_train, y_train), (x_test, y_test)) (uint8 images).

    Parameters
    ----------
    out_dir : str, optional
        Run folder for history.json, checkpoint.npz and model.npz (nothing written if None).
    resume : bool
        Continue from ``out_dir``'s checkpoint.
    quiet : bool
        No progress bars and no per-epoch lines.
    log : callable
        Where lines go (``print``).
    on_epoch : callable, optional
        Called as ``on_epoch(record, model)`` after each epoch.
    n_classes : int
        Output units (10 for Fashion-MNIST); every label must be below it.
    about_data : dict, optional
        What the data is (the CLI's: folder, class names, verified), kept in
        history.json as "data" so ``backprop plot`` finds it again.
    discard : sequence of str
        Files of an old run in ``out_dir`` to delete (``backprop train --force``): only
        once the folder is locked, the data checked and the network built, just before
        the new run starts.

    Returns
    -------
    model : Sequential, the trained network
    history : dict, the contents of history.json

    Raises
    ------
    io.FolderLocked
        Another process is training into ``out_dir`` (an OSError naming the folder).
    """
    if not out_dir:
        return _fit(config, data, out_dir, resume, quiet, log, on_epoch, n_classes, about_data)
    prepare_out_dir(out_dir)
    with lock_run_folder(out_dir):  # held to the last write: no two runs share a folder
        return _fit(config, data, out_dir, resume, quiet, log, on_epoch, n_classes, about_data,
                    discard)


def _fit(config, data, out_dir, resume, quiet, log, on_epoch, n_classes, about_data,
         discard=()):
    """``fit``'s training; the caller holds ``out_dir``'s lock if there is one."""
    (x_train, y_train), (x_test, y_test) = data
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(f"test images have shape {x_test.shape[1:]} but training images "
                         f"{x_train.shape[1:]}")
    n_in = int(np.prod(x_train.shape[1:]))
    n_out = int(n_classes)
    for name, labels in (("training", y_train), ("test", y_test)):
        if len(labels) and (labels.min() < 0 or labels.max() >= n_out):
            raise ValueError(f"{name} labels must be in [0, {n_out - 1}] for {n_out} classes, "
                             f"got values in [{labels.min()}, {labels.max()}]")
    model, loss, optimizer = build(config, n_in, n_out)
    batches = Batches(x_train, y_train, config.batch_size, shuffle=True, seed=config.seed,
                      dtype=config.dtype, n_classes=n_out)
    say = (lambda *a: None) if quiet else log
    if config.batch_size > len(x_train):
        say(f"batch size {config.batch_size} is more than the {len(x_train)} training samples: "
            f"every step uses all of them")
    history = {"version": __version__, "backend": kernels.backend_name(),
               "config": config.to_dict(), "sizes": config.sizes(n_in, n_out),
               "data": about_data or {}, "epochs": [], "evaluations": []}
    position = _Position(rng_state=batches.get_state())
    checkpoint_path = os.path.join(out_dir, CHECKPOINT) if out_dir else None
    if out_dir:
        _remove_stale_temporaries(out_dir)
        for name in discard:  # --force: nothing of the old run may pass for the new one's
            if os.path.exists(os.path.join(out_dir, name)):
                os.unlink(os.path.join(out_dir, name))
    if resume:
        if not out_dir or not os.path.exists(checkpoint_path):
            raise FileNotFoundError(f"no checkpoint to resume from in {out_dir or '(no --out)'}; "
                                    f"start the run without --resume")
        position = load_checkpoint(checkpoint_path, config, model, optimizer)
        if position.step_in_epoch > len(batches):
            raise TrainingError(f"{checkpoint_path} is a damaged checkpoint: it is at step "
                                f"{position.step_in_epoch} of an epoch of {len(batches)} steps")
        history["epochs"], history["evaluations"] = _earlier_records(out_dir, position)
        if position.epoch >= config.epochs:
            say(f"the run in {out_dir} already has {position.epoch} of {config.epochs} epochs; "
                f"nothing to train (give more --epochs to go on)")
        else:
            say(f"resuming {out_dir} at epoch {position.epoch + 1}, step "
                f"{position.step_in_epoch} of {len(batches)}")

    batches.set_state(position.rng_state)  # where the current epoch's order is drawn
    test = Batches(x_test, y_test, EVAL_BATCH, shuffle=False, dtype=model.dtype)
    run = _RunFolder(config, out_dir, history, batches, test, say, on_epoch)
    # the step is train.train_step, looked up at each call: a wrapper put there (tests,
    # benchmarks/startup.py) is the one that runs
    loop = Loop(model, loss, optimizer, batches, config.epochs, validation=test,
                callbacks=[run], verbose=0 if quiet else 1, position=position,
                step=lambda *args: train_step(*args))
    with SignalFlag() as stop:
        run.stop = stop
        try:
            loop.run()
        except TrainingError as error:  # diverged: the weights are the last good step's
            if checkpoint_path and os.path.exists(checkpoint_path):
                raise TrainingError(f"{error}; the last good checkpoint is "
                                    f"{checkpoint_path}") from None
            raise
        if loop.stop_training:  # a signal: save where the run is, say how to go on
            run.save_state()
            name = signal.Signals(stop.signum).name
            where = (f"checkpoint saved to {checkpoint_path}; resume with: backprop "
                     f"train --out {out_dir} --resume" if checkpoint_path
                     else "no --out folder, so nothing was saved")
            raise Interrupted(f"{name}: stopped at epoch {position.epoch + 1}, step "
                              f"{position.step_in_epoch} of {len(batches)}; {where}",
                              stop.signum)

    if history["epochs"]:
        accuracies = [r["test_accuracy"] for r in history["epochs"]]
        best = int(np.argmax(accuracies))
        history["best_test_accuracy"] = accuracies[best]
        history["best_epoch"] = history["epochs"][best]["epoch"]
        history["final_test_accuracy"] = accuracies[-1]
        history["train_seconds"] = sum(r["seconds"] for r in history["epochs"])
    if out_dir:
        model.save(os.path.join(out_dir, MODEL))
        _write_history(out_dir, history)
    return model, history


class _RunFolder(Callback):
    """What ``backprop train`` adds to the loop: the records of history.json, a
    checkpoint after every epoch, test evaluations every ``eval_every`` steps, the epoch
    line, and a stop at the next step boundary when SIGINT or SIGTERM arrives
    (``self.stop``, an ``io.SignalFlag``)."""

    def __init__(self, config, out_dir, history, batches, test, say, on_epoch):
        self.config, self.out_dir, self.history = config, out_dir, history
        self.batches, self.test, self.say, self.on_epoch = batches, test, say, on_epoch
        self.stop = None

    def save_state(self):
        """history.json first, then the checkpoint: a kill between the two leaves a
        history one record ahead of the checkpoint, which resume trims, never behind."""
        if self.out_dir:
            loop = self.loop
            if not np.all(np.isfinite(loop.model.params)):  # never written, never "good"
                raise TrainingError(f"training diverged at epoch {loop.position.epoch + 1}: "
                                    f"the weights hold NaN or Inf; nothing was saved")
            _write_history(self.out_dir, self.history)
            save_checkpoint(os.path.join(self.out_dir, CHECKPOINT), self.config, loop.model,
                            loop.optimizer, loop.position)

    def on_epoch_begin(self, epoch, logs=None):
        self.loop.position.rng_state = self.batches.get_state()  # before the order is drawn

    def on_train_batch_end(self, batch, logs=None):
        position, every = self.loop.position, self.config.eval_every
        if every and position.global_step % every == 0:
            try:
                result = evaluate_batches(self.loop.model, self.loop.loss, self.test)
            except NonFiniteOutputs as error:
                raise TrainingError(f"training diverged at epoch {position.epoch + 1}, step "
                                    f"{position.step_in_epoch}: {error}; try a smaller "
                                    f"learning rate") from None
            self.history["evaluations"].append(
                {"step": position.global_step, "epoch": position.epoch + 1,
                 "test_loss": result["loss"], "test_accuracy": result["accuracy"]})
            with tqdm.external_write_mode():  # clear the bar, say, redraw it
                self.say(f"step {position.global_step}: test loss {result['loss']:.4f}, "
                         f"test accuracy {result['accuracy']:.4f}")
        if self.stop is not None and self.stop.signum is not None:
            self.loop.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        position = self.loop.position
        record = {"epoch": epoch + 1, "train_loss": logs["loss"],
                  "train_accuracy": logs["accuracy"], "test_loss": logs["val_loss"],
                  "test_accuracy": logs["val_accuracy"], "seconds": logs["seconds"],
                  "steps": position.global_step}
        self.history["epochs"].append(record)
        position.rng_state = self.batches.get_state()  # the next epoch draws from here
        self.save_state()
        self.say(f"epoch {epoch + 1:>3}/{self.config.epochs}  train loss "
                 f"{record['train_loss']:.4f}  train acc {record['train_accuracy']:.4f}  "
                 f"test loss {record['test_loss']:.4f}  test acc "
                 f"{record['test_accuracy']:.4f}  {record['seconds']:.2f}s")
        if self.on_epoch is not None:
            self.on_epoch(record, self.loop.model)
