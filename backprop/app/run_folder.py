"""A run folder's files, written and read back checked: the checkpoint and history.json.

    history.json      one record per epoch, the configuration, the layer sizes, the data
                      (its --data folder, class names) and the library version
    checkpoint.npz    weights, optimizer state, epoch, step and RNG state (after every
                      epoch, and on Ctrl-C or SIGTERM), written atomically
    model.npz         the final weights (``load_model``)

Everything read back is checked before a run uses it: every stored field for its type,
its range and, for numbers, finiteness, so that a damaged file ends as one error naming
it, ``DamagedRunFile``, before any training (never a traceback from deep in the loop, nor
an epoch trained before a record turns out to lack a key). Only regular files are read
(``io.open_regular``: a FIFO in place of history.json is refused, not waited on), and
JSON no deeper than the program writes it (``io.loads_json``).

``training_run.py`` writes these files during a run; ``read_history``, ``load_run_model`` and
``recorded_data_folder`` read a run back for ``backprop evaluate`` and ``backprop plot``.
"""
import json
import math
import os
from dataclasses import asdict, fields

import numpy as np

from ..core.loop import Position, TrainingError
from .io import load_npz, loads_json, open_regular, save_npz, short_repr, write_json
from .model_file import check_format, load_model, model_from_arrays, state_arrays
from .run_config import TrainConfig, run_differences
from .version import __version__


CHECKPOINT = "checkpoint.npz"
HISTORY = "history.json"
MODEL = "model.npz"
CHECKPOINT_FORMAT = "backprop.checkpoint"
CHECKPOINT_VERSION = 2  # 2: the optimizer's state is one flat slot per rule, like theta
MAX_HISTORY_BYTES = 64 << 20  # a record is ~200 bytes: far above any run's history.json


class DamagedRunFile(TrainingError, ValueError):
    """A file of a run folder that cannot be used: damaged, or no regular file. The
    message names it. A ValueError (bad input: the CLI exits with status 2) and a
    TrainingError (what ``train.run_training(resume=True)`` raises when it cannot resume)."""


class DamagedCheckpoint(DamagedRunFile):
    """A checkpoint.npz that cannot be used."""


# ------------------------------------------------------------------ checkpoint.npz

def save_checkpoint(path, config, model, optimizer, position):
    arrays = {"format": np.array(CHECKPOINT_FORMAT), "format_version": np.array(CHECKPOINT_VERSION),
              "config": np.array(json.dumps(config.to_dict())),
              "version": np.array(__version__),
              "position": np.array(json.dumps(asdict(position)))}
    arrays.update({f"model.{k}": v for k, v in state_arrays(model).items()})
    arrays.update({f"optim.{k}": v for k, v in optimizer.state_arrays().items()})
    save_npz(path, arrays)


def checkpoint_model(arrays, path):
    """The model stored in a checkpoint's arrays (its "model." entries)."""
    prefix = "model."
    return model_from_arrays({k[len(prefix):]: v for k, v in arrays.items()
                              if k.startswith(prefix)}, str(path))


def is_checkpoint_entry(name):
    """Whether ``name`` is an entry ``save_checkpoint`` writes (the only ones read)."""
    return (name in ("format", "format_version", "config", "version", "position")
            or name.startswith(("model.", "optim.")))


def read_checkpoint(path):
    """(arrays, saved TrainConfig, Position) of the checkpoint at ``path``, its format,
    configuration and position checked (the model and optimizer parts are checked as
    ``load_checkpoint`` restores them). DamagedCheckpoint naming the file if anything
    is wrong; OSError if it cannot be opened."""
    try:
        arrays = load_npz(path, is_checkpoint_entry)
        check_format(arrays, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, path, "checkpoint")
    except ValueError as error:  # load_npz and check_format name the file
        raise DamagedCheckpoint(str(error)) from None

    def damaged(what):
        return DamagedCheckpoint(f"{path} is a damaged checkpoint: {what}")

    _text_entry(arrays, "version", damaged)
    try:
        saved = TrainConfig.from_dict(_json_entry(arrays, "config", damaged))
    except DamagedCheckpoint:
        raise
    except ValueError as error:
        raise damaged(f"its config: {error}") from None
    position = _checked_position(_json_entry(arrays, "position", damaged), damaged)
    if position.epoch > saved.epochs:  # a run never trains past its own epochs
        raise damaged(f"its position is at epoch {position.epoch} of a run of "
                      f"{saved.epochs}")
    return arrays, saved, position


def checkpoint_config(path):
    """The TrainConfig the checkpoint at ``path`` was written with: ``backprop train
    --resume`` takes the run's options from it."""
    return read_checkpoint(path)[1]


def load_checkpoint(path, config, model, optimizer):
    """Restore model and optimizer from ``path`` and return its Position. The
    checkpoint must match ``config`` in everything but the number of epochs (a resumed
    run may train longer): TrainingError if not. DamagedCheckpoint if it is damaged."""
    arrays, saved, position = read_checkpoint(path)
    differs = run_differences(saved, config)
    if differs:
        raise TrainingError(f"{path} was written by a different run: " + ", ".join(differs))
    try:
        restored = checkpoint_model(arrays, path)
    except ValueError as error:  # from_arrays names the file
        raise DamagedCheckpoint(str(error)) from None
    if restored.config() != model.config():
        raise DamagedCheckpoint(f"{path} holds a different architecture: {restored.config()}")
    if restored.dtype != model.dtype:
        raise DamagedCheckpoint(f"{path} holds {restored.dtype} weights; this run is "
                                f"{model.dtype}")
    bad = [name for name, p in restored.named_params().items() if not np.all(np.isfinite(p))]
    if bad:  # a run never saves such weights
        raise DamagedCheckpoint(f"{path} is a damaged checkpoint: its weights hold NaN or "
                                f"Inf (in {', '.join(bad)})")
    model.params[...] = restored.params
    try:
        optimizer.load_state_arrays({k[len("optim."):]: v for k, v in arrays.items()
                                     if k.startswith("optim.")})
    except ValueError as error:
        raise DamagedCheckpoint(f"{path} is a damaged checkpoint: {error}") from None
    return position


def _text_entry(arrays, name, damaged):
    """The text of the 0-d string entry ``name``."""
    a = arrays.get(name)
    if a is None:
        raise damaged(f"it has no {name!r} entry")
    if a.shape != () or a.dtype.kind != "U":
        raise damaged(f"its {name!r} entry is not text (an array of {a.dtype}, shape {a.shape})")
    return str(a)


def _json_entry(arrays, name, damaged):
    """The decoded JSON of the 0-d string entry ``name``."""
    text = _text_entry(arrays, name, damaged)
    try:
        return loads_json(text)
    except ValueError as error:
        raise damaged(f"its {name!r} entry is not the JSON a run writes ({error})") from None


_COUNTERS = ("epoch", "step_in_epoch", "global_step", "correct", "seen")


def _checked_position(stored, damaged):
    """The Position of a checkpoint's decoded "position" entry, every field checked:
    counters whole numbers >= 0 that agree with one another, the loss sum a finite number
    >= 0, the generator state one numpy's PCG64 takes."""
    if not isinstance(stored, dict):
        raise damaged(f"its position is {short_repr(stored)}, not an object")
    names = [f.name for f in fields(Position)]
    for name in names:
        if name not in stored:
            raise damaged(f"its position lacks {name!r}")
    unknown = sorted(set(stored) - set(names))
    if unknown:
        raise damaged(f"its position has the unknown entry {unknown[0]!r}")
    for name in _COUNTERS:
        value = stored[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise damaged(f"its position has {name} = {short_repr(value)}, not a whole number >= 0")
    loss_sum = stored["loss_sum"]
    if (isinstance(loss_sum, bool) or not isinstance(loss_sum, (int, float))
            or not math.isfinite(loss_sum) or loss_sum < 0):
        raise damaged(f"its position has loss_sum = {short_repr(loss_sum)}, not a finite "
                      f"number >= 0")
    p = Position(**stored)
    if p.correct > p.seen:
        raise damaged(f"its position counts {p.correct} correct of {p.seen} samples")
    if p.step_in_epoch > p.global_step:
        raise damaged(f"its position is at step {p.step_in_epoch} of its epoch but "
                      f"{p.global_step} in all")
    if (p.seen == 0) != (p.step_in_epoch == 0) or p.seen < p.step_in_epoch:
        raise damaged(f"its position counts {p.seen} samples in {p.step_in_epoch} steps")
    if not isinstance(p.rng_state, str):
        raise damaged("its position has no generator state")
    try:
        np.random.PCG64().state = loads_json(p.rng_state)  # Batches' generator
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise damaged(f"its generator state (rng_state in its position) is damaged "
                      f"({short_repr(str(error) or type(error).__name__, 120)})") from None
    return p


# ------------------------------------------------------------------ history.json

def write_history(out_dir, history):
    """Write history.json atomically (``io.write_json``): the old one or the new one is
    whole, and no temporary file is left if the write fails."""
    write_json(os.path.join(out_dir, HISTORY), history)


def read_history(out_dir):
    """The history.json of the run in ``out_dir``, every field checked (see
    ``check_history``). FileNotFoundError if there is none; DamagedRunFile (a
    ValueError) naming the file if it is damaged or no regular file."""
    path = os.path.join(out_dir, HISTORY)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{out_dir} holds no {HISTORY}; train first with: backprop "
                                f"train --out {out_dir}")
    try:
        with open_regular(path) as f:
            data = f.read(MAX_HISTORY_BYTES + 1)
    except ValueError as error:  # not a regular file: the message names it
        raise DamagedRunFile(str(error)) from None
    try:
        if len(data) > MAX_HISTORY_BYTES:
            raise ValueError(f"more than {MAX_HISTORY_BYTES} bytes")
        history = loads_json(data.decode("utf-8"))
        check_history(history)
    except ValueError as error:
        raise DamagedRunFile(f"{path} is damaged ({error})") from None
    return history


def earlier_records(out_dir, position):
    """The epoch and evaluation records of history.json up to ``position`` (history.json
    may be one record ahead of the checkpoint); none if there is no history.json.
    DamagedRunFile if it is damaged: before a resumed run trains anything."""
    if not os.path.lexists(os.path.join(out_dir, HISTORY)):
        return [], []
    try:
        history = read_history(out_dir)
    except DamagedRunFile as error:
        raise DamagedRunFile(f"{error}; repair it, or remove it to resume without the "
                             f"records of the earlier epochs") from None
    epochs = [r for r in history["epochs"] if r["epoch"] <= position.epoch]
    evaluations = [r for r in history.get("evaluations", []) if r["step"] <= position.global_step]
    return epochs, evaluations


# what each entry of a record must be: "index" a whole number >= 1, "count" one >= 0,
# "amount" a finite number >= 0 (a loss, seconds), "fraction" a number in [0, 1]
EPOCH_RECORD = {"epoch": "index", "train_loss": "amount", "train_accuracy": "fraction",
                "test_loss": "amount", "test_accuracy": "fraction", "seconds": "amount",
                "steps": "count"}
EVALUATION_RECORD = {"step": "index", "epoch": "index", "test_loss": "amount",
                     "test_accuracy": "fraction"}
SUMMARY = {"best_test_accuracy": "fraction", "best_epoch": "index",
           "final_test_accuracy": "fraction", "train_seconds": "amount"}
_KINDS = {"index": (lambda v: isinstance(v, int) and v >= 1, "a whole number >= 1"),
          "count": (lambda v: isinstance(v, int) and v >= 0, "a whole number >= 0"),
          "amount": (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0"),
          "fraction": (lambda v: 0 <= v <= 1, "a number in [0, 1]")}


def check_history(history):
    """ValueError (a reason, not naming the file) unless ``history`` is what a run
    writes: an object with "config" (a run's configuration) and "epochs" (records of
    epochs 1, 2, ... in order, each with every entry of ``EPOCH_RECORD``); where present,
    "evaluations" (``EVALUATION_RECORD``), "sizes", "data", "version", "backend" and the
    summary entries of a finished run, each of its type and range."""
    if not isinstance(history, dict):
        raise ValueError("not a JSON object")
    if "epochs" not in history:
        raise ValueError("it lacks 'epochs'")
    for key, kinds in (("epochs", EPOCH_RECORD), ("evaluations", EVALUATION_RECORD)):
        records = history.get(key, [])
        if not isinstance(records, list):
            raise ValueError(f"{key!r} is {short_repr(records)}, not a list")
        for i, record in enumerate(records, start=1):
            _check_record(record, kinds, f"record {i} of {key!r}")
            if key == "epochs" and record["epoch"] != i:
                raise ValueError(f"record {i} of 'epochs' is of epoch {record['epoch']}, "
                                 f"expected {i}")
    _check_record({k: history[k] for k in SUMMARY if k in history}, SUMMARY, "its summary",
                  required=False)
    if "config" not in history:
        raise ValueError("it lacks 'config'")
    try:
        TrainConfig.from_dict(history["config"])
    except ValueError as error:
        raise ValueError(f"its config: {error}") from None
    sizes = history.get("sizes", [1, 1])
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)):
        raise ValueError(f"its layer sizes are {short_repr(sizes)}, not whole numbers >= 1")
    for key in ("version", "backend"):
        if not isinstance(history.get(key, ""), str):
            raise ValueError(f"its {key} is {short_repr(history[key])}, not text")
    _check_data(history.get("data", {}))


def _check_record(record, kinds, where, required=True):
    if not isinstance(record, dict):
        raise ValueError(f"{where} is {short_repr(record)}, not an object")
    for name, kind in kinds.items():
        if name not in record:
            if required:
                raise ValueError(f"{where} lacks {name!r}")
            continue
        value = record[name]
        test, what = _KINDS[kind]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not test(value):
            raise ValueError(f"{where} has {name} = {short_repr(value)}, not {what}")


def _check_data(data):
    """The "data" entry: {"folder": a path or None, "verified": bool, "class_names":
    [str, ...]}, each entry optional."""
    if not isinstance(data, dict):
        raise ValueError(f"'data' is {short_repr(data)}, not an object")
    folder = data.get("folder")
    if folder is not None and (not isinstance(folder, str) or not folder or "\0" in folder):
        raise ValueError(f"its data folder is {short_repr(folder)}, not a path")
    if not isinstance(data.get("verified", True), bool):
        raise ValueError(f"its data's 'verified' is {short_repr(data['verified'])}, not true "
                         f"or false")
    names = data.get("class_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"its class names are {short_repr(names)}, not a list of names")


# ------------------------------------------------------------------ reading a run back

def recorded_data_folder(path):
    """The ``--data`` folder the run at ``path`` (its folder, or a file in it) was trained
    on, as its history.json records it; None for Fashion-MNIST's usual places, or when
    there is no history.json. DamagedRunFile if there is one that is damaged."""
    folder = path if os.path.isdir(path) else os.path.dirname(path) or "."
    if not os.path.lexists(os.path.join(folder, HISTORY)):
        return None
    return read_history(folder).get("data", {}).get("folder")


def load_run_model(path):
    """The model of a run: ``path`` is a run folder (its model.npz, else its
    checkpoint.npz) or one of those files. FileNotFoundError if the folder holds neither."""
    if os.path.exists(path) and not os.path.isdir(path):  # a file named directly
        arrays = load_npz(path)
        if str(arrays.get("format", "")) == CHECKPOINT_FORMAT:
            return checkpoint_model(arrays, path)
        return model_from_arrays(arrays, source=path)
    model_path, checkpoint_path = os.path.join(path, MODEL), os.path.join(path, CHECKPOINT)
    if os.path.lexists(model_path):
        return load_model(model_path)
    if os.path.lexists(checkpoint_path):
        return checkpoint_model(load_npz(checkpoint_path), checkpoint_path)
    raise FileNotFoundError(f"{path} holds no {MODEL} or {CHECKPOINT}; train first with: "
                            f"backprop train --out {path}")
