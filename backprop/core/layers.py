"""Layers: the protocol every layer follows, and Dense, the perceptron of the derivation.

The layer protocol (``Layer``; Dense and any user layer follow it, and Sequential takes
any subclass of ``Layer``):

- ``forward(x)`` returns the output O for a batch x of shape (B, n_in) and caches exactly
  what ``backward`` needs (Dense: the input x, for dE/dW, and per activation either O
  (sigmoid, tanh, softmax) or the net input z = x W + b (ReLU family)).
- ``backward(dE_dO, need_input_grad=True)`` writes the gradient of every parameter and
  returns dE/dx (None when ``need_input_grad`` is False, as for the first layer). Dense
  writes ``delta`` = dE/dz = f'(z) * dE/dO, ``dW`` = x^T delta, ``db`` = sum over the
  batch of delta and returns dE/dx = delta W^T. Gradients are overwritten, never
  accumulated, so calling backward twice is safe.
- ``predict(x)`` is the forward pass that caches nothing.
- ``params`` and ``grads``: aligned lists of the parameters and their gradients, read
  from the attributes ``param_names`` names (Dense: W, b) and "d" + each (dW, db).
  A Sequential moves them into its flat vectors theta and dE/dtheta and rebinds those
  attributes to views of them, so a layer writes its gradients in place
  (``self.dW[...] = ...``, ``out=self.dW``), reads its parameters through ``self`` at
  each call, and keeps no other reference to them.
- ``n_in``, ``n_out``, ``dtype``: the widths and the float dtype Sequential checks.
- ``config()``: the architecture as plain data, {"type": class name, arguments...};
  ``from_config`` rebuilds the layer from it (Keras's get_config / from_config).

Index convention: W has shape (n_in, n_out), so W[j, k] is the derivation's W_jk, from
unit j of the layer below to unit k of this layer, and the code reads z = x @ W + b.

Guardrails for the classic mistakes warn once per line of the caller's code
(``InputWarning``, ``warn``); the numbers the engine computes stay as they are.
"""
import re
import sys
import warnings

import numpy as np

from .activations import get_activation
from .registry import constructor_args, origin, register


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _he_normal(rng, n_in, n_out):
    """W_jk ~ N(0, 2 / n_in) (He et al., 2015), for the ReLU family."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))


def _he_uniform(rng, n_in, n_out):
    """W_jk ~ U(-l, l), l = sqrt(6 / n_in)."""
    limit = np.sqrt(6.0 / n_in)
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def _glorot_uniform(rng, n_in, n_out):
    """W_jk ~ U(-l, l), l = sqrt(6 / (n_in + n_out)) (Glorot & Bengio, 2010; Keras's default)."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def _glorot_normal(rng, n_in, n_out):
    """W_jk ~ N(0, 2 / (n_in + n_out))."""
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_in, n_out))


INITIALIZERS = {
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
}


def check_dtype(dtype):
    """np.float32 or np.float64 as a np.dtype; anything else is a ValueError."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


class InputWarning(UserWarning):
    """An input that is most likely a mistake (a forgotten softmax, raw pixels, NaN in a
    batch); the message names the fix."""


def warn(message):
    """warnings.warn(message, InputWarning), attributed to the first caller outside
    backprop, so Python's default filter shows it once per line of the user's code."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "backprop":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, InputWarning, stacklevel=level)


def warn_if_not_finite(a, what, symbol="x"):
    """Warn if the float array ``a`` (``what``, called ``symbol`` in the message's fix)
    holds NaN or Inf: one pass of np.isfinite, small beside a layer's products."""
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and not np.isfinite(a).all():
        warn(f"{what} holds NaN or Inf: every output and gradient it reaches will be NaN; "
             f"find the rows with ~np.isfinite({symbol}).all(axis=1) and drop or repair them")


LAYERS = {}  # type name (any case) -> class: Dense, then every user's subclass of Layer


class Layer:
    """Base class of every layer: the protocol (see the module docstring), with defaults.

    A user's layer sets ``param_names``, and in ``__init__`` the attributes n_in, n_out,
    dtype, each parameter and its gradient "d" + name (zeros), and keeps each
    constructor argument as an attribute of the same name (``config`` reads them); it
    writes ``forward`` and ``backward``. Defining the class registers it in ``LAYERS``
    under its class name, so ``bp.load_model`` rebuilds it (``from_config`` calls
    the constructor with the config's arguments and ``dtype``).
    """

    param_names = ()     # attribute names of the parameters; their gradients are "d" + name
    n_in = n_out = None
    dtype = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.param_names:
            if not re.fullmatch(r"[A-Za-z_]+", name):
                raise ValueError(f"{cls.__name__}.param_names: {name!r} must be letters and "
                                 f"underscores (a model file stores it as {name}1, {name}2, ...)")
        register(LAYERS, cls.__name__, cls, "layer")

    @property
    def params(self):
        return [getattr(self, name) for name in self.param_names]

    @property
    def grads(self):
        return [getattr(self, "d" + name) for name in self.param_names]

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, x)")

    def backward(self, dE_dO, need_input_grad=True):
        raise NotImplementedError(f"{type(self).__name__} must define "
                                  f"backward(self, dE_dO, need_input_grad=True)")

    def predict(self, x):
        """The output without caching; this default runs ``forward`` (which caches)."""
        return self.forward(x)

    def config(self):
        """{"type": class name, "class": where a user's class is defined, arguments...}."""
        return {"type": type(self).__name__, **origin(type(self)), **constructor_args(self)}

    @classmethod
    def from_config(cls, config, dtype=np.float32, **kwargs):
        """A new layer with the architecture ``config()`` gave (Keras's from_config); fresh
        parameters. ``kwargs`` go to the constructor too (Dense: ``rng``)."""
        config = dict(config)
        if config.pop("type", cls.__name__).lower() != cls.__name__.lower():
            raise ValueError(f"not a {cls.__name__} layer's config: {config!r}")
        config.pop("class", None)
        return cls(**config, dtype=dtype, **kwargs)

    def astype(self, dtype):
        """A copy of this layer in ``dtype`` (float32 or float64), same parameters."""
        copy = type(self).from_config(self.config(), dtype=check_dtype(dtype))
        for mine, theirs in zip(copy.params, self.params):
            mine[...] = theirs
        return copy


class Dense(Layer):
    """A fully connected layer O = f(x W + b).

    Parameters
    ----------
    n_in, n_out : int
        Units below (inputs) and in this layer (outputs).
    activation : str, Activation or None
        f, by name (see ``backprop.core.activations.ACTIVATIONS``) or instance; None is identity.
    init : str, optional
        A name in ``INITIALIZERS``. Default: "he_normal" for relu/leaky_relu,
        "glorot_uniform" otherwise. Biases start at 0.
    rng : int or numpy.random.Generator, optional
        Seed or generator for the initial weights.
    dtype : float32 or float64
        The dtype of W, b and everything the layer computes.

    Attributes
    ----------
    W : ndarray (n_in, n_out);  b : ndarray (n_out,)
    dW, db : their gradients dE/dW = x^T delta and dE/db = sum_n delta, after backward.
    delta : ndarray (B, n_out), dE/dz of the last backward.
    x : ndarray (B, n_in), the input of the last forward;  cache : O or z of that forward,
        whichever the activation's derivative needs (``activation.caches``).
    """

    param_names = ("W", "b")

    def __init__(self, n_in, n_out, activation=None, init=None, rng=None,
                 dtype=np.float32):
        for label, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Dense {label} must be a positive integer, got {n!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.activation = get_activation(activation)
        self.dtype = check_dtype(dtype)
        if init is None:
            init = self.activation.default_init   # he_normal for the ReLU family
        if init not in INITIALIZERS:
            raise ValueError(f"unknown init {init!r}; expected one of: {', '.join(INITIALIZERS)}")
        self.init = init
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.W = np.ascontiguousarray(INITIALIZERS[init](rng, self.n_in, self.n_out),
                                      dtype=self.dtype)
        self.b = np.zeros(self.n_out, self.dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.delta = None
        self.x = None        # input of the last forward, for dE/dW = x^T delta
        self.cache = None    # O or z, whichever the activation's delta needs
        self._buffers = {}   # per batch size: z, delta and dE/dx, reused every step

    def _buffer(self, name, B, n):
        buffers = self._buffers.setdefault(B, {})
        if name not in buffers:
            buffers[name] = np.empty((B, n), self.dtype)
        return buffers[name]

    def _check_batch(self, a, n, what):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{what} must be a NumPy array of shape (B, {n}), got {type(a).__name__}")
        if a.ndim != 2 or a.shape[1] != n or a.shape[0] < 1:
            raise ValueError(f"{what} must have shape (B, {n}) with B >= 1, got {a.shape}")
        if a.dtype == np.uint8:
            raise ValueError(f"{what} must be {self.dtype} like the layer's weights, got uint8 "
                             f"(raw pixels 0..255?): scale them with bp.data.scale_images(x), "
                             f"which gives x / 255 in [0, 1]; .astype alone would feed 0..255")
        if a.dtype != self.dtype:
            raise ValueError(f"{what} must be {self.dtype} like the layer's weights, got "
                             f"{a.dtype}; convert with .astype(np.{self.dtype})")

    def forward(self, x):
        """O = f(z), z = x W + b  (z_k = sum_j x_j W_jk + b_k), caching what backward needs.

        Parameters
        ----------
        x : ndarray (B, n_in), the layer's dtype

        Returns
        -------
        O : ndarray (B, n_out), a new array
        """
        self._check_batch(x, self.n_in, "Dense.forward input")
        z = self._buffer("z", x.shape[0], self.n_out)
        O = np.empty_like(z)
        np.matmul(x, self.W, out=z)                 # z = x W
        self.activation.forward(z, self.b, O)       # z += b;  O = f(z)        (one fused pass)
        self.x = x                                  # for dE/dW = x^T delta
        self.cache = z if self.activation.caches == "z" else O   # what f' needs
        return O

    def backward(self, dE_dO, need_input_grad=True, fused_delta=None):
        """Backpropagate dE/dO through this layer: the delta rule.

        delta = f'(z) * dE/dO;  dE/db = sum_n delta;  dE/dW = x^T delta
        (dE/dW_jk = sum_n x_j delta_k);  dE/dx = delta W^T (dE/dx_j = sum_k delta_k W_jk).

        Parameters
        ----------
        dE_dO : ndarray (B, n_out)
        need_input_grad : bool
            False skips dE/dx (the first layer's: nobody needs it) and returns None.
        fused_delta : callable, optional
            ``fused_delta(delta, db)`` writes delta and dE/db in one pass where the loss
            and f collapse (``Loss.fused_delta``): for sigmoid + half-sum MSE,
            delta_k = O_k (1 - O_k)(O_k - t_k) / B. Then dE_dO is not read.

        Returns
        -------
        dE_dx : ndarray (B, n_in) or None
            Owned by the layer and overwritten by the next backward.
        """
        B = self._check_upstream(dE_dO)
        delta = self.delta = self._buffer("delta", B, self.n_out)
        if fused_delta is not None:
            fused_delta(delta, self.db)             # delta = dE/dz, dE/db = sum_n delta: fused
        else:
            self.activation.delta(self.cache, dE_dO, delta, self.db)  # delta = f'(z) * dE/dO;
            #                                                           dE/db = sum_n delta
        np.matmul(self.x.T, delta, out=self.dW)     # dE/dW = x^T delta
        if not need_input_grad:
            return None
        dE_dx = self._buffer("dE_dx", B, self.n_in)
        np.matmul(delta, self.W.T, out=dE_dx)       # dE/dx = delta W^T
        return dE_dx

    def _check_upstream(self, dE_dO):
        """The batch size B of the last forward, after checking dE/dO against it."""
        if self.x is None:
            raise RuntimeError("Dense.backward called before forward")
        B = self.x.shape[0]
        self._check_batch(dE_dO, self.n_out, "Dense.backward dE/dO")
        if dE_dO.shape[0] != B:
            raise ValueError(f"Dense.backward dE/dO has {dE_dO.shape[0]} rows but the last "
                             f"forward had a batch of {B}")
        return B

    def predict(self, x):
        """O = f(x W + b) without caching anything (inference)."""
        self._check_batch(x, self.n_in, "Dense.predict input")
        z = x @ self.W
        self.activation.forward(z, self.b, z)  # in place: z becomes O
        return z

    def config(self):
        """The architecture as plain data: {"type": "Dense", "n_in", "n_out",
        "activation": {"name", arguments...}, "init"}; ``Layer.from_config`` rebuilds it
        (the constructor takes the activation's config as it is)."""
        return {"type": type(self).__name__, **origin(type(self)), "n_in": self.n_in,
                "n_out": self.n_out, "activation": self.activation.config(), "init": self.init}

    def __repr__(self):
        return (f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r}, "
                f"dtype={self.dtype.name})")
