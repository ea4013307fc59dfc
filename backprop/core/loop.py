"""fit and evaluate: one training loop for every data set.

One training step is the whole derivation, in order:

    O = model.forward(x)                  forward pass, each layer caching what it needs
    E = loss.forward(O, t)                E and dE/dO (for softmax CE: (p - t) / B)
    model.backward(loss)                  delta rule down the stack: delta, dW, db
                                          (the output delta fused where it collapses)
    optimizer.step(model.grads)           W <- update(W, dE/dW)

``fit(model, x, y, loss=..., optimizer=...)`` runs epochs of shuffled minibatches of
these steps and returns a ``History`` (Keras's names: ``history.history["loss"]``,
``"val_loss"``, and ``"accuracy"``, ``"val_accuracy"`` when y holds class labels).
``Loop`` is that loop; ``Callback`` is how code joins it (Keras's hook names). The
command's ``backprop train`` (``backprop.app.training_run``) runs this same loop and adds,
through one callback, its run folder: checkpoints, history.json, resume, Ctrl-C and
SIGTERM. A step whose loss is NaN or Inf stops any run with a ``TrainingError`` that names
the epoch, the step and where the first non-finite value is, before the optimizer touches
the weights.
"""
import math
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .batches import Batches, is_class_labels
from .losses import get_loss
from .optim import Optimizer, get_optimizer


EVAL_BATCH = 1000  # rows per forward pass in evaluate: results do not depend on it


class TrainingError(RuntimeError):
    """Training stopped: it diverged (NaN or Inf) or a checkpoint does not fit the run."""


class NonFiniteOutputs(ValueError):
    """A model's outputs (or its loss) on some data are NaN or Inf: they mean nothing."""


def gradients(model, loss, x, y):
    """The forward pass, E and the delta rule for the batch (x, y); returns (E, O).

    O = model.forward(x);  E = loss(O, y);  model.backward(loss) fills every layer's
    delta, dW and db (the output delta fused where the loss and f collapse). When E is
    not finite the backward pass is skipped. ``train_step`` and the gradient check
    (``bp.gradcheck(model, loss, x, t)``) both call this: the check verifies the
    gradients training uses.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite E is returned
        O = model.forward(x)
        E = loss.forward(O, y)
    if math.isfinite(E):
        model.backward(loss)
    return E, O


def train_step(model, loss, optimizer, x, y):
    """One step of gradient descent on the batch (x, y); returns (E, O), E before the update.

    O = forward(x);  E = loss(O, y);  backward(dE/dO);  W <- optimizer(W, dE/dW).
    When E is not finite nothing is updated, so the caller can stop with the weights of
    the last good step.
    """
    E, O = gradients(model, loss, x, y)
    if math.isfinite(E):
        optimizer.step(model.grads)
    return E, O


@dataclass
class Position:
    """Where a loop is: completed epochs, batches done in the current one, steps in all,
    the running sums of the current epoch (sum of B E over its batches, correct
    predictions, samples), so an epoch's train loss survives a resume, and the batches'
    generator state at the start of the current epoch (``Batches.get_state``), so a
    resumed epoch replays the same order. A checkpoint stores all of it."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    rng_state: str = ""

    def end_epoch(self):
        """Count the current epoch as done and start the next one's sums at 0."""
        self.epoch += 1
        self.step_in_epoch, self.loss_sum, self.correct, self.seen = 0, 0.0, 0, 0


class History:
    """What ``fit`` recorded, as Keras's History.

    Attributes
    ----------
    history : dict of lists
        One entry per epoch under "loss" (the mean E over the epoch's samples, each batch's
        E taken before its update), "val_loss" (with validation data) and, when the
        targets are class labels, "accuracy" and "val_accuracy".
    epoch : list of int
        The epochs recorded, counted from 0 as in Keras.
    params : dict
        The run's settings: epochs, steps (batches per epoch), batch_size, samples.
    model : the model trained.
    """

    def __init__(self, model=None, params=None):
        self.history, self.epoch = {}, []
        self.model, self.params = model, dict(params or {})

    def append(self, epoch, logs):
        """Record epoch ``epoch`` (from 0) with its ``logs`` {name: value}."""
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({len(self.epoch)} epochs{': ' + last if last else ''})"


class Callback:
    """Code that joins the loop at fixed points (Keras's hook names and arguments).

    Override the hooks you need. ``self.loop`` is the running ``Loop`` (set before
    ``on_train_begin``): its model, ``position``, ``history``; set
    ``self.loop.stop_training = True`` to stop after the current batch. ``epoch`` and
    ``batch`` count from 0; ``logs`` holds "loss" (the epoch's running mean) in
    ``on_train_batch_end`` and the epoch's numbers (see ``History``) plus "seconds" in
    ``on_epoch_end``.
    """

    loop = None

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class Loop:
    """The training loop: epochs of ``train_step`` over ``batches``, with callbacks.

    Parameters
    ----------
    model, loss, optimizer
        A Sequential, a Loss and an Optimizer over ``model.params``.
    batches : bp.data.Batches
        The training batches; their generator is in the state the first epoch draws from.
    epochs : int
        Train until ``position.epoch == epochs``.
    validation : bp.data.Batches, optional
        Evaluated after every epoch ("val_loss", "val_accuracy").
    callbacks : sequence of Callback
    verbose : 0, 1 or 2
        0 silent; 1 a progress bar per epoch (tqdm, on stderr); 2 one line per epoch.
    position : Position, optional
        Where to start (a resumed run's); a new Position by default. Updated in place.
    step : callable
        One step, ``step(model, loss, optimizer, x, y) -> (E, O)``; ``train_step``.
    """

    def __init__(self, model, loss, optimizer, batches, epochs, validation=None,
                 callbacks=(), verbose=1, position=None, step=train_step):
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.batches, self.epochs, self.validation = batches, int(epochs), validation
        self.callbacks, self.verbose, self.step = list(callbacks), verbose, step
        self.position = position if position is not None else Position()
        self.stop_training = False
        self.history = History(model, {"epochs": self.epochs, "steps": len(batches),
                                       "batch_size": batches.batch_size,
                                       "samples": batches.n_samples})

    def _call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def run(self):
        """Train from ``position`` to ``epochs``, or until a callback sets
        ``stop_training``; returns the History."""
        for callback in self.callbacks:
            callback.loop = self
        self._call("on_train_begin", {})
        while self.position.epoch < self.epochs and not self.stop_training:
            self._call("on_epoch_begin", self.position.epoch, {})
            self._epoch()
        self._call("on_train_end", {})
        return self.history

    def _epoch(self):
        """One epoch from ``position.step_in_epoch`` on: its steps, then its numbers
        (unless a callback stops it mid-way: then the position says where it stopped)."""
        p = self.position
        if p.step_in_epoch == 0:
            p.rng_state = self.batches.get_state()  # before this epoch's order is drawn
        order = self.batches.order()
        started = time.perf_counter()
        with tqdm(total=len(self.batches), initial=p.step_in_epoch, unit="batch",
                  desc=f"epoch {p.epoch + 1}/{self.epochs}", disable=self.verbose != 1) as bar:
            for x, y in self.batches.epoch(order, start=p.step_in_epoch):
                self._train_on(x, y)
                bar.set_postfix(loss=p.loss_sum / p.seen, refresh=False)
                bar.update(1)  # redraws at most every 0.1 s
                self._call("on_train_batch_end", p.step_in_epoch - 1,
                           {"loss": p.loss_sum / p.seen})
                if self.stop_training:
                    return
            seconds = time.perf_counter() - started
            logs = self._epoch_logs()
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
        self.history.append(p.epoch, logs)
        p.end_epoch()
        p.rng_state = self.batches.get_state()  # the next epoch's order is drawn from here
        if self.verbose == 2:
            print(f"epoch {p.epoch}/{self.epochs}: " + ", ".join(
                f"{k} {v:.4f}" for k, v in logs.items()) + f", {seconds:.2f} s")
        self._call("on_epoch_end", p.epoch - 1, {**logs, "seconds": seconds})

    def _train_on(self, x, y):
        """One step on (x, y) and the running sums; TrainingError if E is not finite."""
        p = self.position
        E, out = self.step(self.model, self.loss, self.optimizer, x, y)
        if not math.isfinite(E):
            where = where_nonfinite(self.model, x)
            advice = ("check the data" if where.startswith("the input batch")
                      else "try a smaller learning rate")
            raise TrainingError(f"training diverged at epoch {p.epoch + 1}, step "
                                f"{p.step_in_epoch + 1}: loss is {E} ({where}); {advice}")
        p.step_in_epoch += 1
        p.global_step += 1
        p.loss_sum += E * len(y)
        if self.batches.class_labels:
            p.correct += int(np.count_nonzero(np.argmax(out, axis=1) == y))
        p.seen += len(y)

    def _epoch_logs(self):
        """The finished epoch's numbers: loss (and accuracy), then val_loss (val_accuracy)."""
        p = self.position
        logs = {"loss": p.loss_sum / max(p.seen, 1)}
        if self.batches.class_labels:
            logs["accuracy"] = p.correct / max(p.seen, 1)
        if self.validation is not None:
            try:
                result = evaluate_batches(self.model, self.loss, self.validation)
            except NonFiniteOutputs as error:  # the last step's update blew the model up
                raise TrainingError(f"training diverged at epoch {p.epoch + 1}, at its end: "
                                    f"{error}; try a smaller learning rate") from None
            logs["val_loss"] = result["loss"]
            if "accuracy" in result:
                logs["val_accuracy"] = result["accuracy"]
        return logs


def where_nonfinite(model, x):
    """Name the first place a NaN or an Inf appears: a parameter or gradient (W1, b1,
    dW1, ...), else the input batch x, else the first layer whose output overflows."""
    grads = {f"d{name}": g for name, g in model.named_grads().items()}
    bad = [name for name, a in {**model.named_params(), **grads}.items()
           if not np.all(np.isfinite(a))]
    if bad:
        return f"non-finite values in {', '.join(bad)}"
    if not np.all(np.isfinite(x)):
        return "the input batch holds NaN or Inf"
    with np.errstate(over="ignore", invalid="ignore"):
        for i, layer in enumerate(model.layers, start=1):
            x = layer.predict(x)
            if not np.all(np.isfinite(x)):
                weights = [a for a in layer.params if a.size][:1]  # a Dense layer's W
                largest = "".join(f" (largest |W{i}| = {float(np.max(np.abs(W))):.3g})"
                                  for W in weights)
                return f"the output of layer {i} overflowed{largest}"
    return "the loss overflowed"


def evaluate_batches(model, loss, batches, predictions=False):
    """E over all of ``batches`` (the mean over samples), the accuracy for class labels,
    and with ``predictions`` the predicted classes (argmax of O).

    Uses the caching-free forward pass (``model.predict``), so it never disturbs
    training state. A model whose weights hold NaN or Inf is refused (ValueError), and
    so is one whose outputs or loss are NaN or Inf (``NonFiniteOutputs``, a ValueError):
    its outputs mean nothing.
    """
    bad = [name for name, p in model.named_params().items() if not np.all(np.isfinite(p))]
    if bad:
        raise ValueError(f"the model's weights hold NaN or Inf (in {', '.join(bad)}): its "
                         f"outputs mean nothing")
    n = batches.n_samples
    total, predicted, start = 0.0, np.empty(n, np.int64), 0
    for x, y in batches:
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            out = model.predict(x)
            total += loss.forward(out, y) * len(y) if np.all(np.isfinite(out)) else np.nan
        if not math.isfinite(total):
            what = "outputs" if not np.all(np.isfinite(out)) else "loss"
            raise NonFiniteOutputs(f"the model's {what} on samples {start} to "
                                   f"{start + len(y) - 1} {'are' if what == 'outputs' else 'is'} "
                                   f"not finite (NaN or Inf; largest "
                                   f"|W| {float(np.max(np.abs(model.params))):.3g})")
        if batches.class_labels:
            predicted[start:start + len(y)] = np.argmax(out, axis=1)
        start += len(y)
    result = {"loss": total / n}
    if batches.class_labels:
        result["accuracy"] = float(np.mean(predicted == batches.y))
        if predictions:
            result["predictions"] = predicted
    return result


def _targets_for(model, y):
    """y as the loss takes it: real-valued targets of shape (N,) become (N, 1) for a model
    with one output (as Keras reads them); class labels and (N, K) targets as given."""
    y = np.asarray(y)
    if y.ndim == 1 and not is_class_labels(y) and model.n_out == 1:
        return y.reshape(-1, 1)
    return y


def _batches(model, x, y, batch_size, shuffle=False, seed=0, what="x"):
    """Batches of (x, y) in the model's dtype, after checking x fits the model."""
    x = np.asarray(x) if not isinstance(x, np.ndarray) else x
    features = int(np.prod(x.shape[1:])) if x.ndim >= 2 else None
    if features is not None and features != model.n_in:
        raise ValueError(f"{what} has {features} features per sample but the model takes "
                         f"{model.n_in} inputs")
    if len(np.asarray(y)) != len(x):
        raise ValueError(f"{what} has {len(x)} samples but its targets {len(np.asarray(y))}")
    return Batches(x, _targets_for(model, y), batch_size, shuffle=shuffle, seed=seed,
                   dtype=model.dtype)


def _optimizer_for(model, optimizer):
    """An Optimizer over ``model.params`` from a name (any case) or an instance."""
    if isinstance(optimizer, Optimizer):
        if not any(np.shares_memory(p, model.params) for p in optimizer.params):
            raise ValueError("the optimizer updates other arrays than this model's weights; "
                             "make it with the model's params, e.g. bp.Adam(model.params)")
        return optimizer
    return get_optimizer(optimizer, model.params)


def fit(model, x, y, loss, optimizer="adam", epochs=1, batch_size=32, validation_data=None,
        shuffle=True, seed=0, verbose=1, callbacks=()):
    """Train ``model`` on (x, y) with minibatch gradient descent; returns a ``History``.

    Each step: O = model.forward(x_batch), E = loss(O, t), model.backward(loss) (the
    delta rule), optimizer.step(model.grads).

    Parameters
    ----------
    model : Sequential
    x : numpy.ndarray, shape (N, n_in)
        Float features (cast per batch to the model's dtype if theirs differs), or uint8
        images (N, ...), scaled by 1/255 a batch at a time.
    y : numpy.ndarray
        Class labels (N,) (an integer array), or real-valued targets (N, K); a 1-D float
        array is (N, 1) for a model with one output.
    loss : str or Loss
        A name in ``bp.LOSSES`` (any case: "mse", "ce", ...) or an instance.
    optimizer : str or Optimizer
        A name in ``bp.OPTIMIZERS`` (any case; its default settings) or an instance made
        with ``model.params``, e.g. ``bp.SGD(model.params, lr=0.5)``.
    epochs, batch_size : int
        Passes over the data, and samples per step (B; the last batch may be smaller).
    validation_data : (x_val, y_val), optional
        Evaluated after each epoch: "val_loss" (and "val_accuracy").
    shuffle : bool
        A new order every epoch, drawn from ``np.random.default_rng(seed)``.
    seed : int or None
        Seed of the shuffling; the weights' seed is the model's (``rng=``).
    verbose : 0, 1 or 2
        As in Keras: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    callbacks : sequence of Callback

    Returns
    -------
    History
        ``history.history["loss"]`` and the rest: one value per epoch.

    Raises
    ------
    TrainingError
        A step's loss was NaN or Inf (the message names where; the weights are those
        of the last good step).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    loss = get_loss(loss)
    optimizer = _optimizer_for(model, optimizer)
    batches = _batches(model, x, y, batch_size, shuffle=shuffle, seed=seed)
    validation = (_batches(model, *validation_data, EVAL_BATCH, what="validation x")
                  if validation_data is not None else None)
    return Loop(model, loss, optimizer, batches, epochs, validation, callbacks,
                verbose).run()


def evaluate(model, x, y, loss, batch_size=EVAL_BATCH, predictions=False):
    """The loss of ``model`` on (x, y) and, for class labels, its accuracy.

    Returns a dict, as Keras's ``evaluate(..., return_dict=True)``: {"loss": E} with E
    the mean over the N samples, plus {"accuracy": fraction with argmax O == label} when
    y holds class labels, and with ``predictions`` {"predictions": argmax O per sample}.
    x and y are as for ``fit``; the forward pass caches nothing.
    """
    return evaluate_batches(model, get_loss(loss), _batches(model, x, y, batch_size),
                            predictions)
