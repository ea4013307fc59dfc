"""What defines a run of ``backprop train``: ``TrainConfig``, the losses it trains with,
and which of its settings a resumed run must keep.

A TrainConfig checks every value when it is made, for its type as well as its range, so
the same checks guard the command line, the library and a configuration read back from a
checkpoint or a history.json (a ValueError in words, never a TypeError).
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

from ..core.activations import HIDDEN_ACTIVATIONS
from ..core.layers import INITIALIZERS
from ..core.optim import OPTIMIZERS
from .io import short_repr


# --loss: the loss (a name in losses.LOSSES) and the output activation it comes with
TRAIN_LOSSES = {"ce": ("ce", None),              # logits, softmax cross-entropy
                "mse": ("mse", "softmax")}       # softmax outputs, 1/2 sum (O - t)^2

# the options a resumed run must share with its checkpoint (--epochs may change)
RESUME_MUST_MATCH = ("hidden", "activation", "loss", "optimizer", "batch_size", "lr", "seed",
                     "dtype")


def _is_whole(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


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
        for name in ("optimizer", "activation", "loss", "dtype", "init"):
            value = getattr(self, name)
            if not isinstance(value, str) and not (name == "init" and value is None):
                raise ValueError(f"{name} must be a name, got {short_repr(value)}")
        for name in ("optimizer", "activation", "loss"):  # names are case-insensitive
            setattr(self, name, getattr(self, name).lower())
        for name in ("epochs", "batch_size", "seed", "eval_every"):
            value = getattr(self, name)
            if not _is_whole(value):
                raise ValueError(f"{name} must be a whole number, got {short_repr(value)}")
        if (isinstance(self.hidden, (str, bytes, dict)) or not hasattr(self.hidden, "__iter__")
                or not all(_is_whole(h) for h in self.hidden)):
            raise ValueError(f"hidden sizes must be whole numbers, got {short_repr(self.hidden)}")
        self.hidden = tuple(int(h) for h in self.hidden)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float, np.number)):
            raise ValueError(f"lr must be a number, got {short_repr(self.lr)}")
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
        """The TrainConfig of a dict as ``to_dict`` gives it (entries it lacks take the
        defaults; others are ignored). ValueError if ``d`` is no dict or a value is bad."""
        if not isinstance(d, dict):
            raise ValueError(f"a run's configuration is an object of settings, got {short_repr(d)}")
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def run_differences(saved, config):
    """What ``config`` changes of the run ``saved`` that a resume must keep
    (``RESUME_MUST_MATCH``), as "name old (now new)" strings; empty if nothing."""
    return [f"{k} {getattr(saved, k)!r} (now {getattr(config, k)!r})"
            for k in RESUME_MUST_MATCH if getattr(saved, k) != getattr(config, k)]
