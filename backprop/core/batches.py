"""From data to training batches: scaling, one-hot targets, shuffled minibatches.

``scale_images`` and ``one_hot`` are the two plain conversions (O = pixel / 255 and
t_k = 1 if k is the label else 0). ``Batches`` takes uint8 images or float features, and
class labels or real-valued targets. Images are scaled one batch at a time: they stay
uint8 in memory, each batch is gathered and divided by 255 in one pass by the kernel
``gather_scaled`` into a buffer that is reused, so a float copy of the whole training set
never exists (60000 x 784 float32 would be 188 MB). Float features are gathered the same
way, into a buffer of the model's dtype (cast there if theirs differs).
"""
import json

import numpy as np

from . import kernels
from .layers import check_dtype


def check_labels(labels, n_classes=None, n=None, what="labels"):
    """``labels`` as a 1-D integer array (of length ``n``) in [0, n_classes - 1], else a
    ValueError saying what was found: the one check of class labels, wherever they enter."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"{what} must be a 1-D integer array, got {labels.dtype} "
                         f"of shape {labels.shape}")
    if n is not None and len(labels) != n:
        raise ValueError(f"expected one label per sample ({n}), got {len(labels)} {what}")
    if labels.size:
        low, high = labels.min(), labels.max()
        if low < 0 or (n_classes is not None and high >= n_classes):
            allowed = (f"in [0, {n_classes - 1}] for {n_classes} classes"
                       if n_classes is not None else ">= 0")
            raise ValueError(f"{what} must be {allowed}, got values in [{low}, {high}]")
    return labels


def is_class_labels(y):
    """Whether targets ``y`` are class labels (a 1-D integer array), not real values."""
    y = np.asarray(y)
    return y.ndim == 1 and y.dtype.kind in "iu"


def _check_features(x):
    """x as (N, D): a view of uint8 images or of float features, else ValueError."""
    if not isinstance(x, np.ndarray) or not (x.dtype == np.uint8 or x.dtype.kind == "f"):
        raise ValueError(f"x must be a numpy array of uint8 images (pixels 0..255, scaled per "
                         f"batch) or of float features, got "
                         f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must have shape (N, ...) with N >= 1, got {x.shape}")
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous so it can be viewed as (N, D) without a "
                         "copy; pass np.ascontiguousarray(x)")
    x = x.reshape(len(x), -1)
    if x.dtype != np.uint8:
        _check_finite(x, "x")
    return x


def _check_finite(a, name, rows=4096):
    """ValueError naming the first row of ``a`` that holds NaN or Inf (checked in chunks
    of ``rows``, so no boolean copy of the whole array is made)."""
    for start in range(0, len(a), rows):
        finite = np.isfinite(a[start:start + rows])
        if not finite.all():
            row = start + int(np.argmin(finite.reshape(len(finite), -1).all(axis=1)))
            verb = "hold" if name.endswith("s") else "holds"
            raise ValueError(f"{name} {verb} NaN or Inf (first in row {row}); remove or "
                             f"replace those values before training")


def _check_targets(y, n, dtype):
    """Real-valued targets (N,) or (N, K) as a C-contiguous array of ``dtype``."""
    y = np.asarray(y)
    if y.dtype.kind not in "fiub":
        raise ValueError(f"targets must be class labels or numeric values, got dtype {y.dtype}")
    if y.ndim not in (1, 2) or len(y) != n:
        raise ValueError(f"targets must have shape ({n},) or ({n}, K), one row per sample, "
                         f"got {y.shape}")
    y = np.ascontiguousarray(y, dtype=dtype)
    _check_finite(y, "the targets")
    return y


def scale_images(x, dtype=np.float32):
    """Pixels to inputs: O = x / 255, in [0, 1].

    Parameters
    ----------
    x : numpy.ndarray of uint8, any shape
        Images, e.g. (N, 28, 28).
    dtype : float32 or float64
        The result's dtype; the division is done in it (as ``Batches`` does).

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``. Flatten with ``.reshape(len(x), -1)`` for a Dense layer.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"scale_images expects uint8 pixels (0..255), got {x.dtype}")
    dtype = check_dtype(dtype)
    out = np.empty(x.shape, dtype=dtype)
    np.divide(x, dtype.type(255), out=out)
    return out


def one_hot(labels, n_classes, dtype=np.float32):
    """Targets t from class labels: t[n, k] = 1 if labels[n] == k else 0.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
        Class indices in 0..n_classes-1.
    n_classes : int
        Number of classes (10 for Fashion-MNIST).
    dtype : dtype
        Of the result.

    Returns
    -------
    numpy.ndarray, shape (N, n_classes)
    """
    if int(n_classes) != n_classes or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    labels = check_labels(labels, int(n_classes))
    t = np.zeros((len(labels), int(n_classes)), dtype=dtype)
    t[np.arange(len(labels)), labels] = 1
    return t


class Batches:
    """Shuffled minibatches (x, y), one epoch per iteration.

    ``for x, y in batches:`` runs one epoch: the sample order is drawn from a seeded
    ``numpy.random.Generator`` (a fresh permutation every epoch), and each batch is
    gathered into a preallocated buffer: uint8 images scaled, x = images[index] / 255,
    by the active kernel backend; float features as they are, in ``dtype``.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, ...)
        C-contiguous uint8 images, e.g. (N, 28, 28), or float features of any float
        dtype, e.g. (N, 2); viewed as (N, D), never copied. Float features must be
        finite.
    y : array_like, shape (N,) or (N, K)
        Class labels (a 1-D integer array, >= 0, and < ``n_classes`` if given), or
        real-valued targets (any other numeric array, e.g. float (N,) or (N, K)).
    batch_size : int
        Samples per batch (B). The last batch of an epoch is smaller unless
        ``drop_last``.
    shuffle : bool
        Draw a new order each epoch; if False, batches follow the data order.
    seed : int or None
        Seed of the generator (``np.random.default_rng(seed)``).
    dtype : float32 or float64
        Of the yielded x (the model's dtype), and of real-valued targets.
    drop_last : bool
        Skip the last, incomplete batch.
    n_classes : int, optional
        If given, class labels must be below it.

    Yields
    ------
    x : numpy.ndarray, shape (B, D), ``dtype``
        The batch's inputs. **The same buffer is overwritten by the next batch**: copy
        it if you keep it beyond one step.
    y : numpy.ndarray, shape (B,) int64 labels, or (B,) or (B, K) ``dtype`` targets
        Also a reused buffer.

    Notes
    -----
    ``x`` is the (N, D) view, ``y`` the targets (int64 labels, or real values in
    ``dtype``), ``class_labels`` True when y holds class labels. ``get_state()`` returns the generator state as a JSON string (storable in an .npz
    without pickle); ``set_state`` restores it, so a resumed run sees the same orders as
    an uninterrupted one. Save it between epochs: the order of an epoch is drawn when its
    iteration starts.
    """

    def __init__(self, x, y, batch_size, shuffle=True, seed=0,
                 dtype=np.float32, drop_last=False, n_classes=None):
        self.x = _check_features(x)  # (N, D): a view of the data
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        n = len(self.x)
        self.dtype = check_dtype(dtype)
        self.class_labels = is_class_labels(y)  # True: y holds class labels, else real values
        self.y = (check_labels(y, n_classes, n).astype(np.int64) if self.class_labels
                  else _check_targets(y, n, self.dtype))
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if self.drop_last and self.batch_size > n:
            raise ValueError(f"batch_size {self.batch_size} exceeds the {n} samples: "
                             f"with drop_last=True there would be no batch")
        self.rng = np.random.default_rng(seed)
        B = min(self.batch_size, n)
        self._x = np.empty((B, self.x.shape[1]), dtype=self.dtype)  # reused buffers
        self._y = np.empty((B, *self.y.shape[1:]), dtype=self.y.dtype)

    @property
    def n_samples(self):
        """N, the number of samples."""
        return len(self.x)

    def __len__(self):
        """Batches per epoch."""
        full, rest = divmod(self.n_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self):
        """Draw the sample order of the next epoch (advances the generator if shuffling)."""
        if self.shuffle:
            return self.rng.permutation(self.n_samples)
        return np.arange(self.n_samples)

    def __iter__(self):
        # the order is drawn here, when iteration starts, not at the first next()
        return self.epoch(self.order())

    def epoch(self, order, start=0):
        """The batches of one epoch in the given sample ``order``, from batch ``start`` on
        (a resumed run skips the batches it already trained on, without gathering them)."""
        if not 0 <= start <= len(self):
            raise ValueError(f"start batch must be in [0, {len(self)}], got {start}")
        return self._epoch(order, start)

    def _epoch(self, order, first):
        divisor = self.dtype.type(255)
        images = self.x.dtype == np.uint8
        for start in range(first * self.batch_size, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            x, y = self._x[:len(index)], self._y[:len(index)]
            if images:  # x = images[index] / 255 in one pass; asks for the backend each
                # batch, so a switch of backend takes effect at once
                kernels.backend().gather_scaled(self.x, index, divisor, x)
            elif self.x.dtype == self.dtype:  # x = features[index]
                np.take(self.x, index, axis=0, out=x)
            else:                              # x = features[index], cast to dtype
                x[...] = self.x[index]
            np.take(self.y, index, axis=0, out=y)
            yield x, y

    def get_state(self):
        """The generator state as a JSON string (e.g. ``np.savez(f, rng=state)``)."""
        return json.dumps(self.rng.bit_generator.state)

    def set_state(self, state):
        """Restore a state from ``get_state`` (a str, or the 0-d array an .npz gives)."""
        if isinstance(state, np.ndarray):
            state = state.item()
        if isinstance(state, (str, bytes)):
            state = json.loads(state)
        name = type(self.rng.bit_generator).__name__
        if not isinstance(state, dict) or state.get("bit_generator") != name:
            raise ValueError(f"not a {name} generator state: {str(state)[:80]!r}")
        self.rng.bit_generator.state = state
