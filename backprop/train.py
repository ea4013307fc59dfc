"""Training: the fit loop, evaluation, history, checkpoints and interruption.

One training step is the whole derivation, in order:

    O = model.forward(x)                  forward pass, each layer caching what it needs
    E = loss.forward(O, y)                E and dE/dO (for softmax CE: (p - t) / B)
    model.backward(loss)                  delta rule down the stack: delta, dW, db
                                          (the output delta fused where it collapses)
    optimizer.step(model.grads)           W <- update(W, dE/dW)

``fit`` runs epochs of shuffled minibatches, evaluates the test set after each epoch (and
every ``eval_every`` steps), prints one line per epoch, and keeps a run folder:

    history.json      one record per epoch, the configuration and the library version
    checkpoint.npz    weights, optimizer state, epoch, step and RNG state (after every
                      epoch, and on Ctrl-C or SIGTERM), written atomically
    model.npz         the final weights (``Sequential.load``)

A checkpoint taken mid-epoch stores the generator state from the start of that epoch and
the number of batches done, so ``resume`` replays the same order and skips what was done:
the resumed run ends with the same weights as one that was never interrupted.
"""
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from . import __version__, kernels
from .activations import HIDDEN_ACTIVATIONS
from .data import Batches
from .io import SignalFlag, load_npz, lock_run_folder, remove_temporaries, save_npz, write_json
from .losses import get_loss
from .model import Sequential, check_format
from .optim import OPTIMIZERS, get_optimizer

CHECKPOINT = "checkpoint.npz"
HISTORY = "history.json"
MODEL = "model.npz"
CHECKPOINT_FORMAT = "backprop.checkpoint"
CHECKPOINT_VERSION = 2  # 2: the optimizer's state is one flat slot per rule, like theta
EVAL_BATCH = 1000
# --loss: the loss (a name in losses.LOSSES) and the output activation it comes with
TRAIN_LOSSES = {"ce": ("ce", None),              # logits, softmax cross-entropy
                "mse": ("mse", "softmax")}       # softmax outputs, 1/2 sum (O - t)^2


class TrainingError(RuntimeError):
    """Training stopped: it diverged (NaN or Inf) or a checkpoint does not fit the run."""


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
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if np.dtype(self.dtype).type(self.lr) == 0:
            raise ValueError(f"learning rate {self.lr} is 0 in {self.dtype}: nothing would "
                             f"be learned")

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
                           output_activation=output, rng=config.seed, dtype=config.dtype)
    loss = get_loss(loss_name)
    optimizer = get_optimizer(config.optimizer, model.params, lr=config.lr)
    return model, loss, optimizer


def train_step(model, loss, optimizer, x, y):
    """One step of gradient descent on the batch (x, y); returns E before the update.

    O = forward(x);  E = loss(O, y);  backward(dE/dO);  W <- optimizer(W, dE/dW).
    Returns (E, O) without updating anything when E is not finite, so the caller can
    stop with the weights of the last good step.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite E is returned
        out = model.forward(x)
        E = loss.forward(out, y)
    if math.isfinite(E):
        model.backward(loss)  # the delta rule; a fused output delta where one exists
        optimizer.step(model.grads)
    return E, out


def evaluate(model, loss, images, labels, batch_size=EVAL_BATCH):
    """Mean loss, accuracy and predicted classes of ``model`` on uint8 images.

    Uses the caching-free forward pass in batches, so it never disturbs training state.
    A model whose weights hold NaN or Inf is refused: its outputs mean nothing.
    """
    bad = [name for name, p in model.named_params().items() if not np.all(np.isfinite(p))]
    if bad:
        raise ValueError(f"the model's weights hold NaN or Inf (in {', '.join(bad)}): its "
                         f"outputs mean nothing")
    batches = Batches(images, labels, batch_size, shuffle=False, dtype=model.dtype)
    total, predictions, start = 0.0, np.empty(len(labels), np.int64), 0
    for x, y in batches:
        out = model.predict(x)
        total += loss.forward(out, y) * len(y)
        predictions[start:start + len(y)] = np.argmax(out, axis=1)
        start += len(y)
    accuracy = float(np.mean(predictions == np.asarray(labels)))
    return {"loss": total / len(labels), "accuracy": accuracy, "predictions": predictions}


def confusion_matrix(y_true, y_pred, n_classes=10):
    """C[i, j] = number of samples of true class i predicted as class j."""
    C = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(C, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return C


@dataclass
class _Position:
    """Where a run is: completed epochs, batches done in the current one, global step,
    and the running sums of the current epoch (so its train loss survives a resume)."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    rng_state: str = ""  # generator state at the start of the current epoch
    history: dict = field(default_factory=dict)


def _where_nonfinite(model, x):
    """Name the first place a NaN or an Inf appears: a parameter or gradient, else the
    first layer whose output overflows for the batch x."""
    bad = [f"{name}{i}" for i, layer in enumerate(model.layers, start=1)
           for name, a in (("W", layer.W), ("b", layer.b), ("dW", layer.dW), ("db", layer.db))
           if not np.all(np.isfinite(a))]
    if bad:
        return f"non-finite values in {', '.join(bad)}"
    if not np.all(np.isfinite(x)):
        return "the input batch holds NaN or Inf"
    with np.errstate(over="ignore", invalid="ignore"):
        for i, layer in enumerate(model.layers, start=1):
            x = layer.predict(x)
            if not np.all(np.isfinite(x)):
                return (f"the output of layer {i} overflowed (largest |W{i}| = "
                        f"{float(np.max(np.abs(layer.W))):.3g})")
    return "the loss overflowed"


def save_checkpoint(path, config, model, optimizer, position):
    arrays = {"format": np.array(CHECKPOINT_FORMAT), "format_version": np.array(CHECKPOINT_VERSION),
              "config": np.array(json.dumps(config.to_dict())),
              "version": np.array(__version__),
              "position": np.array(json.dumps({k: v for k, v in asdict(position).items()
                                               if k != "history"}))}
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


def checkpoint_config(path):
    """The TrainConfig the checkpoint at ``path`` was written with: ``backprop train
    --resume`` takes the run's options from it."""
    return _read_checkpoint(path)[1]


def load_checkpoint(path, config, model, optimizer):
    """Restore model and optimizer from ``path``; the checkpoint must match ``config``
    in everything but the number of epochs (a resumed run may train longer)."""
    arrays, saved, position = _read_checkpoint(path)
    differs = [f"{k} {getattr(saved, k)!r} (now {getattr(config, k)!r})"
               for k in ("hidden", "activation", "loss", "optimizer", "batch_size", "lr",
                         "seed", "dtype")
               if getattr(saved, k) != getattr(config, k)]
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
        raise TrainingError(f"{path}: {error}") from None
    return position


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
        n_classes=10):
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
        return _fit(config, data, out_dir, resume, quiet, log, on_epoch, n_classes)
    prepare_out_dir(out_dir)
    with lock_run_folder(out_dir):  # held to the last write: no two runs share a folder
        return _fit(config, data, out_dir, resume, quiet, log, on_epoch, n_classes)


def _fit(config, data, out_dir, resume, quiet, log, on_epoch, n_classes):
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
               "config": config.to_dict(), "epochs": [], "evaluations": []}
    position = _Position(rng_state=batches.get_state())
    checkpoint_path = os.path.join(out_dir, CHECKPOINT) if out_dir else None
    if out_dir:
        _remove_stale_temporaries(out_dir)
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

    def save_state():
        """history.json first, then the checkpoint: a kill between the two leaves a
        history one record ahead of the checkpoint, which resume trims, never behind."""
        if out_dir:
            _write_history(out_dir, history)
            save_checkpoint(checkpoint_path, config, model, optimizer, position)

    with SignalFlag() as stop:
        while position.epoch < config.epochs:
            epoch = position.epoch + 1
            batches.set_state(position.rng_state)
            order = batches.order()
            next_epoch_state = batches.get_state()
            started = time.perf_counter()
            with tqdm(total=len(batches), initial=position.step_in_epoch, unit="batch",
                      desc=f"epoch {epoch}/{config.epochs}", disable=quiet) as bar:
                for x, y in batches.epoch(order, start=position.step_in_epoch):
                    E, out = train_step(model, loss, optimizer, x, y)
                    if not math.isfinite(E):
                        raise TrainingError(_diverged_message(model, x, E, epoch, position,
                                                              checkpoint_path))
                    position.step_in_epoch += 1
                    position.global_step += 1
                    position.loss_sum += E * len(y)
                    position.correct += int(np.count_nonzero(np.argmax(out, axis=1) == y))
                    position.seen += len(y)
                    bar.set_postfix(loss=position.loss_sum / position.seen, refresh=False)
                    bar.update(1)  # redraws at most every 0.1 s
                    if config.eval_every and position.global_step % config.eval_every == 0:
                        result = evaluate(model, loss, x_test, y_test)
                        history["evaluations"].append(
                            {"step": position.global_step, "epoch": epoch,
                             "test_loss": result["loss"], "test_accuracy": result["accuracy"]})
                        with tqdm.external_write_mode():  # clear the bar, say, redraw it
                            say(f"step {position.global_step}: test loss "
                                f"{result['loss']:.4f}, test accuracy {result['accuracy']:.4f}")
                    if stop.signum is not None:
                        save_state()
                        name = signal.Signals(stop.signum).name
                        where = (f"checkpoint saved to {checkpoint_path}; resume with: backprop "
                                 f"train --out {out_dir} --resume" if checkpoint_path
                                 else "no --out folder, so nothing was saved")
                        raise Interrupted(f"{name}: stopped at epoch {epoch}, step "
                                          f"{position.step_in_epoch} of {len(batches)}; {where}",
                                          stop.signum)
            seconds = time.perf_counter() - started
            result = evaluate(model, loss, x_test, y_test)
            record = {"epoch": epoch, "train_loss": position.loss_sum / max(position.seen, 1),
                      "train_accuracy": position.correct / max(position.seen, 1),
                      "test_loss": result["loss"], "test_accuracy": result["accuracy"],
                      "seconds": seconds, "steps": position.global_step}
            history["epochs"].append(record)
            position = _Position(epoch=epoch, global_step=position.global_step,
                                 rng_state=next_epoch_state)
            save_state()
            say(f"epoch {epoch:>3}/{config.epochs}  train loss {record['train_loss']:.4f}  "
                f"train acc {record['train_accuracy']:.4f}  test loss {record['test_loss']:.4f}  "
                f"test acc {record['test_accuracy']:.4f}  {seconds:.2f}s")
            if on_epoch is not None:
                on_epoch(record, model)

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


def _diverged_message(model, x, E, epoch, position, checkpoint_path):
    where = _where_nonfinite(model, x)
    advice = ("check the data" if where.startswith("the input batch")
              else "try a smaller learning rate")
    kept = (f"; the last good checkpoint is {checkpoint_path}"
            if checkpoint_path and os.path.exists(checkpoint_path) else "")
    return (f"training diverged at epoch {epoch}, step {position.step_in_epoch + 1}: loss is {E} "
            f"({where}); {advice}{kept}")
