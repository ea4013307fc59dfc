"""The CLI's training run: ``loop.Loop`` with a run folder, resume and interruption.

``run_training`` builds the configured network (a ``TrainConfig``, run_config.py) and runs the
library's one training loop (``Loop`` of loop.py: forward, E, the delta rule, the
optimizer step, per batch) with one callback, ``_RunFolder``, that evaluates the test set
after each epoch (and every ``eval_every`` steps), prints one line per epoch, and keeps a
run folder: history.json, checkpoint.npz, model.npz (run_folder.py writes them and reads
them back, every field checked; its names are also this module's, for the CLI and
library users).

A checkpoint taken mid-epoch stores the generator state from the start of that epoch and
the number of batches done, so ``resume`` replays the same order and skips what was done:
the resumed run ends with the same weights as one that was never interrupted. SIGINT and
SIGTERM stop the run at the next step boundary, or, arriving after the last step (during
the last evaluation or while the final files are written), once that work is done; either
way the checkpoint is consistent and ``Interrupted`` says how to resume.
"""
import os
import signal
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core import kernels
from ..core.batches import check_labels
from ..core.loop import train_step  # noqa: F401  the step the run calls, looked up here each step
from ..core.loop import (EVAL_BATCH, Callback, Loop, NonFiniteOutputs, Position, TrainingError,
                         evaluate, evaluate_batches)
from ..core.losses import get_loss
from ..core.model import Sequential
from ..core.optim import get_optimizer
from .data import Batches
from .io import SignalFlag, lock_run_folder, remove_temporaries
from .model_file import save_model
from .run_config import RESUME_MUST_MATCH, TRAIN_LOSSES, TrainConfig, run_differences  # noqa: F401
from .run_folder import (CHECKPOINT, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, HISTORY,  # noqa: F401
                         MODEL, DamagedCheckpoint, DamagedRunFile, checkpoint_config,
                         checkpoint_model, earlier_records, load_checkpoint, load_run_model,
                         read_checkpoint, read_history, recorded_data_folder, save_checkpoint,
                         write_history)
from .version import __version__


class Interrupted(Exception):
    """Training stopped by SIGINT or SIGTERM after saving a checkpoint."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.signum = signum


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


def confusion_matrix(y_true, y_pred, n_classes=10):
    """C[i, j] = number of samples of true class i predicted as class j."""
    C = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(C, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return C


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
    from . import figures as plots

    paths = [plots.plot_curves(files["curves.png"], history)] if "curves.png" in files else []
    if files.keys() - {"curves.png"}:
        x_test, y_test = test
        predictions = evaluate(model, x_test, y_test, run_loss(model),
                               predictions=True)["predictions"]
        if "confusion.png" in files:
            C = confusion_matrix(y_test, predictions, len(class_names))
            paths.append(plots.plot_confusion(files["confusion.png"], C, class_names))
        if "samples.png" in files:
            paths.append(plots.plot_samples(files["samples.png"], x_test, y_test, predictions,
                                            class_names))
    return paths


def _remove_stale_temporaries(out_dir):
    """Temporary files a killed run left behind (.tmp-*.npz, .tmp-*.json); the caller
    holds the folder's lock, so none of them is another run's."""
    remove_temporaries(out_dir, (".npz", ".json"))


def prepare_out_dir(out_dir):
    """Create ``out_dir`` and check that files can be written there (a clear OSError if
    not, naming the file that stands where a folder must be, if that is why)."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (out_dir, *map(str, Path(out_dir).parents))
                        if os.path.lexists(p) and not os.path.isdir(p)), out_dir)
        raise NotADirectoryError(f"cannot make the output folder {out_dir}: {blocker} is a "
                                 f"file, not a folder") from None
    except OSError as error:
        raise OSError(f"cannot write to the output folder {out_dir}: "
                      f"{error.strerror or error}") from None
    try:
        probe = os.path.join(out_dir, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.unlink(probe)
    except OSError as error:
        raise OSError(f"cannot write to the output folder {out_dir}: "
                      f"{error.strerror or error}") from None


def run_training(config, data, out_dir=None, resume=False, quiet=False, log=print, on_epoch=None,
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
    DamagedRunFile
        On ``resume``, the checkpoint or history.json is damaged (a TrainingError and a
        ValueError naming the file), found before anything is trained.
    TrainingError
        The run diverged, or the checkpoint is another run's.
    Interrupted
        SIGINT or SIGTERM stopped the run, its checkpoint saved.
    """
    args = (config, data, out_dir, resume, quiet, log, on_epoch, n_classes, about_data)
    if not out_dir:
        return _run_training(*args)
    prepare_out_dir(out_dir)
    with lock_run_folder(out_dir):  # held to the last write: no two runs share a folder
        return _run_training(*args, discard)


def _run_training(config, data, out_dir, resume, quiet, log, on_epoch, n_classes, about_data,
         discard=()):
    """``run_training``'s work; the caller holds ``out_dir``'s lock if there is one."""
    (x_train, y_train), (x_test, y_test) = data
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(f"test images have shape {x_test.shape[1:]} but training images "
                         f"{x_train.shape[1:]}")
    n_in = int(np.prod(x_train.shape[1:]))
    n_out = int(n_classes)
    for name, labels in (("training", y_train), ("test", y_test)):
        check_labels(labels, n_out, what=f"{name} labels")
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
    position = Position()
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
        batches.set_state(position.rng_state)  # where the current epoch's order is drawn
        if position.step_in_epoch > len(batches):
            raise DamagedCheckpoint(f"{checkpoint_path} is a damaged checkpoint: it is at step "
                                    f"{position.step_in_epoch} of an epoch of {len(batches)} "
                                    f"steps")
        if position.seen > position.step_in_epoch * config.batch_size:
            raise DamagedCheckpoint(f"{checkpoint_path} is a damaged checkpoint: it counts "
                                    f"{position.seen} samples in {position.step_in_epoch} "
                                    f"steps of {config.batch_size}")
        # history.json is checked too before anything is trained (DamagedRunFile)
        history["epochs"], history["evaluations"] = earlier_records(out_dir, position)
        if position.epoch >= config.epochs:
            done = (f"{position.epoch} of {config.epochs} epochs" if position.epoch == config.epochs
                    else f"{position.epoch} epochs, more than the {config.epochs} asked for")
            say(f"the run in {out_dir} already has {done}; nothing to train (give more "
                f"--epochs to go on)")
        else:
            say(f"resuming {out_dir} at epoch {position.epoch + 1}, step "
                f"{position.step_in_epoch} of {len(batches)}")

    test = Batches(x_test, y_test, EVAL_BATCH, shuffle=False, dtype=model.dtype)
    run = _RunFolder(config, out_dir, history, test, say, on_epoch)
    # the step is train.train_step, looked up at each call: a wrapper put there (tests,
    # benchmarks/startup.py) is the one that runs
    loop = Loop(model, loss, optimizer, batches, config.epochs, validation=test,
                callbacks=[run], verbose=0 if quiet else 1, position=position,
                step=lambda *args: train_step(*args))
    with SignalFlag() as stop:  # to the last write: a signal is honoured, never lost
        run.stop = stop
        try:
            loop.run()
        except TrainingError as error:  # diverged: the weights are the last good step's
            if checkpoint_path and os.path.exists(checkpoint_path):
                raise TrainingError(f"{error}; the last good checkpoint is "
                                    f"{checkpoint_path}") from None
            raise
        if stop.signum is None:  # all epochs done: the run's final files
            _summarise(history)
            if out_dir:
                save_model(model, os.path.join(out_dir, MODEL))
                write_history(out_dir, history)
        if stop.signum is not None:  # mid-run, or after the last step: say how to go on
            if position.step_in_epoch:  # mid-epoch: the checkpoint of this step
                run.save_state()        # (at an epoch's end, on_epoch_end wrote it)
            raise Interrupted(_stopped(stop.signum, position, config.epochs, len(batches),
                                       out_dir), stop.signum)
    return model, history


def _summarise(history):
    """The best and final test accuracy and the training time, from the epoch records."""
    if history["epochs"]:
        accuracies = [r["test_accuracy"] for r in history["epochs"]]
        best = int(np.argmax(accuracies))
        history["best_test_accuracy"] = accuracies[best]
        history["best_epoch"] = history["epochs"][best]["epoch"]
        history["final_test_accuracy"] = accuracies[-1]
        history["train_seconds"] = sum(r["seconds"] for r in history["epochs"])


def _stopped(signum, position, epochs, steps, out_dir):
    """What ``Interrupted`` says: the signal, where the run stopped, how to resume."""
    when = (f"after the last epoch ({position.epoch} of {epochs})" if position.epoch >= epochs
            else f"at epoch {position.epoch + 1}, step {position.step_in_epoch} of {steps}")
    where = (f"checkpoint saved to {os.path.join(out_dir, CHECKPOINT)}; resume with: "
             f"backprop train --out {out_dir} --resume" if out_dir
             else "no --out folder, so nothing was saved")
    return f"{signal.Signals(signum).name}: stopped {when}; {where}"


class _RunFolder(Callback):
    """What ``backprop train`` adds to the loop: the records of history.json, a
    checkpoint after every epoch, test evaluations every ``eval_every`` steps, the epoch
    line, and a stop at the next step boundary, or at the end of an epoch whose last
    step is done, when SIGINT or SIGTERM arrives (``self.stop``, an ``io.SignalFlag``)."""

    def __init__(self, config, out_dir, history, test, say, on_epoch):
        self.config, self.out_dir, self.history = config, out_dir, history
        self.test, self.say, self.on_epoch = test, say, on_epoch
        self.stop = None

    def save_state(self):
        """history.json first, then the checkpoint: a kill between the two leaves a
        history one record ahead of the checkpoint, which resume trims, never behind."""
        if self.out_dir:
            loop = self.loop
            if not np.all(np.isfinite(loop.model.params)):  # never written, never "good"
                raise TrainingError(f"training diverged at epoch {loop.position.epoch + 1}: "
                                    f"the weights hold NaN or Inf; nothing was saved")
            write_history(self.out_dir, self.history)
            save_checkpoint(os.path.join(self.out_dir, CHECKPOINT), self.config, loop.model,
                            loop.optimizer, loop.position)

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
        self.save_state()
        self.say(f"epoch {epoch + 1:>3}/{self.config.epochs}  train loss "
                 f"{record['train_loss']:.4f}  train acc {record['train_accuracy']:.4f}  "
                 f"test loss {record['test_loss']:.4f}  test acc "
                 f"{record['test_accuracy']:.4f}  {record['seconds']:.2f}s")
        if self.on_epoch is not None:
            self.on_epoch(record, self.loop.model)
        if self.stop is not None and self.stop.signum is not None:  # came during the
            self.loop.stop_training = True  # evaluation or the checkpoint: stop here
