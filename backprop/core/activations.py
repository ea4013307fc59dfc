"""Activation functions f and their delta step delta = f'(z) * dE/dO.

This module owns the activations a Dense layer can apply to its net input
z_k = sum_j O_j W_jk + b_k, and the contract a user's activation follows.
Each class has:

- ``forward(z, b, O)``: the fused layer step z += b; O = f(z), in place (O may be z);
- ``delta(cache, g, delta, db)``: delta = f'(z) * g and db = sum over the batch of delta,
  where ``cache`` is what the layer kept from forward: ``O`` for sigmoid, tanh and softmax
  (their derivatives are cheapest in terms of the output, as the derivation writes
  them: O(1-O), 1-O^2), and the net input ``z`` for the ReLU family (whose derivative
  needs the sign of z: O = 0 cannot tell z = 0, where relu' = 1, from z < 0);
- ``__call__(z)``: f(z) as a new array, and ``derivative(z)``: f'(z) elementwise, for
  plots, tests and teaching.

The built-in activations run these steps in the active kernel backend (numba or NumPy,
see ``backprop.kernels``). A user's activation writes only f and f' in NumPy (``f`` and
``df``, see ``Activation``); the base class builds ``forward`` and ``delta`` from them.
Names are looked up, in any case, in ``ACTIVATIONS``, where every subclass registers
itself when it is defined (``backprop.core.registry``).
"""
import numpy as np

from . import kernels
from .registry import constructor_args, missing, origin, register


ACTIVATIONS = {}  # name -> class: the built-ins below, then every user's subclass


def _as_batch(a):
    """View a 0-, 1- or n-D array as the 2-D (rows, units) batch the kernels take."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-1]) if a.ndim >= 1 else a.reshape(1, 1)


class Activation:
    """Base class: an elementwise f with its delta step; subclass it for your own.

    A user's activation writes f and its derivative f' in NumPy::

        class Softplus(bp.Activation):          # O = log(1 + e^z)
            def f(self, z):
                return np.logaddexp(0.0, z)       # O = f(z), elementwise
            def df(self, z):
                return 1 / (1 + np.exp(-z))       # f'(z), elementwise

    ``df`` takes what ``caches`` names: the net input z (the default), or the output O
    where f' is cheaper in terms of it, as the derivation writes sigmoid' = O (1 - O)
    (``caches = "O"``; softplus' = 1 - e^-O). From them the base builds the layer's two
    steps in NumPy: ``forward``: z += b, O = f(z); ``delta``: delta = f'(z) * dE/dO,
    dE/db = sum_n delta. So Dense, training, ``bp.gradcheck`` (which compares this delta
    with central differences of f) and save/load work unchanged; the built-in activations
    override both steps with fused kernels. An activation that is not elementwise (like
    softmax) overrides ``delta`` with its vector-Jacobian product instead of writing df.

    Defining the class registers it in ``ACTIVATIONS`` under ``name`` (default: the class
    name in lower case), so ``Dense(..., activation="softplus")`` finds it and a saved
    model that uses it loads once the class is defined again. Constructor arguments are
    kept as attributes of the same name (``self.beta = beta``): ``config`` saves them.

    Attributes
    ----------
    name : str
        The name in ``ACTIVATIONS``.
    caches : {"z", "O"}
        What ``df`` and ``delta`` need from the forward pass: the net input z or the output O.
    kinks : tuple of float
        Net inputs where f' jumps (ReLU: (0.0,)); a gradient check near one says so.
    default_init : str
        The weight initializer a Dense layer uses with this activation by default.
    """

    name = "activation"
    caches = "z"
    kinks = ()
    default_init = "glorot_uniform"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()
        register(ACTIVATIONS, cls.name, cls, "activation")

    def f(self, z):
        """O = f(z) elementwise, for a NumPy array z: what a user's activation writes."""
        raise NotImplementedError(
            f"{type(self).__name__} must define f(self, z), returning O = f(z), and "
            f"df(self, {self.caches}), returning f'(z) (see bp.Activation)")

    def df(self, cache):
        """f'(z) elementwise, from z or O (whichever ``caches`` names): a user's writes it."""
        raise NotImplementedError(
            f"{type(self).__name__} must define df(self, {self.caches}), returning f'(z) "
            f"elementwise in terms of {self.caches} (caches = {self.caches!r})")

    def forward(self, z, b, O):
        """z += b;  O = f(z): the layer's fused step, in NumPy from ``f``."""
        z += b
        O[...] = self.f(z)

    def delta(self, cache, g, delta, db):
        """delta = f'(z) * dE/dO;  dE/db = sum_n delta, in NumPy from ``df``."""
        np.multiply(self.df(cache), g, out=delta)
        delta.sum(axis=0, out=db)

    def derivative(self, z):
        """f'(z) elementwise, for an array z of any shape (from ``df``)."""
        z = np.asarray(z)
        z = z if z.dtype.kind == "f" else z.astype(np.float64)
        return self.df(z if self.caches == "z" else self(z)) * np.ones_like(z)

    def __call__(self, z):
        """O = f(z) for an array of any shape (units on the last axis); a new array."""
        z = np.asarray(z)
        if z.dtype.kind != "f":
            z = z.astype(np.float64)
        O = _as_batch(z.copy())
        self.forward(O, np.zeros(O.shape[1], O.dtype), O)
        return O.reshape(z.shape)

    def backward(self, z, g):
        """dE/dz = f'(z) * g for a batch: the delta step on its own (new arrays)."""
        z = np.asarray(z)
        g = np.asarray(g, dtype=z.dtype)
        cache = self(z) if self.caches == "O" else z
        cache, g2 = _as_batch(cache), _as_batch(g)
        delta = np.empty_like(g2)
        self.delta(cache, g2, delta, np.empty(g2.shape[1], g2.dtype))
        return delta.reshape(g.shape)

    def config(self):
        """The arguments that rebuild this activation with ``get_activation``: its name,
        its constructor's arguments and, for a user's class, where it is defined."""
        return {"name": self.name, **origin(type(self)), **constructor_args(self)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in constructor_args(self).items())
        return f"{type(self).__name__}({args})"


class Identity(Activation):
    """O = z;  f'(z) = 1, so delta = dE/dO."""

    name = "identity"
    caches = "O"

    def forward(self, z, b, O):
        kernels.backend().add_bias_identity(z, b, O)

    def delta(self, cache, g, delta, db):
        kernels.backend().identity_delta_db(g, delta, db)

    def derivative(self, z):
        return np.ones_like(np.asarray(z, dtype=float))


ACTIVATIONS["linear"] = Identity  # Keras's name for it


class Sigmoid(Activation):
    """O = 1 / (1 + e^{-z});  f'(z) = O (1 - O), so delta_k = O_k (1 - O_k) dE/dO_k.

    Computed as e^z / (1 + e^z) for z < 0, so no exponential overflows for |z| in the
    thousands.
    """

    name = "sigmoid"
    caches = "O"

    def forward(self, z, b, O):
        kernels.backend().add_bias_sigmoid(z, b, O)

    def delta(self, O, g, delta, db):
        kernels.backend().sigmoid_delta_db(O, g, delta, db)  # delta = O (1 - O) g

    def derivative(self, z):
        O = self(z)
        return O * (1 - O)


class Tanh(Activation):
    """O = tanh(z);  f'(z) = 1 - O^2, so delta = (1 - O^2) dE/dO."""

    name = "tanh"
    caches = "O"

    def forward(self, z, b, O):
        kernels.backend().add_bias_tanh(z, b, O)

    def delta(self, O, g, delta, db):
        kernels.backend().tanh_delta_db(O, g, delta, db)  # delta = (1 - O^2) g

    def derivative(self, z):
        O = self(z)
        return 1 - O * O


class ReLU(Activation):
    """O = max(z, 0);  f'(z) = 1 for z >= 0, else 0.

    relu'(0) = 1 is the derivation's convention. TensorFlow and PyTorch use 0 at z = 0;
    the two agree everywhere else, and z is exactly 0 with probability ~0 in training.
    """

    name = "relu"
    caches = "z"
    kinks = (0.0,)
    default_init = "he_normal"

    def forward(self, z, b, O):
        kernels.backend().add_bias_relu(z, b, O)

    def delta(self, z, g, delta, db):
        kernels.backend().relu_delta_db(z, g, delta, db)  # delta = g where z >= 0

    def derivative(self, z):
        z = np.asarray(z)
        return np.where(z >= 0, 1.0, 0.0).astype(z.dtype if z.dtype.kind == "f" else float)


class LeakyReLU(Activation):
    """O = z for z >= 0, alpha z otherwise;  f'(z) = 1 or alpha.

    ``alpha`` defaults to 0.2, TensorFlow's ``tf.nn.leaky_relu`` default.
    """

    name = "leaky_relu"
    caches = "z"
    kinks = (0.0,)
    default_init = "he_normal"

    def __init__(self, alpha=0.2):
        alpha = float(alpha)
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"LeakyReLU alpha must be a finite number >= 0, got {alpha}")
        self.alpha = alpha

    def forward(self, z, b, O):
        kernels.backend().add_bias_leaky_relu(z, b, z.dtype.type(self.alpha), O)

    def delta(self, z, g, delta, db):
        # delta = g where z >= 0, alpha g elsewhere
        kernels.backend().leaky_relu_delta_db(z, g, g.dtype.type(self.alpha), delta, db)

    def derivative(self, z):
        z = np.asarray(z)
        return np.where(z >= 0, 1.0, self.alpha).astype(z.dtype if z.dtype.kind == "f" else float)


class Softmax(Activation):
    """p_i = e^{x_i} / sum_j e^{x_j} over the units of a row (shifted by max x, so stable).

    Its derivative is a Jacobian, dp_i/dx_j = p_i (delta_ij - p_j), so the delta step is
    the vector-Jacobian product delta_j = sum_i g_i p_i (delta_ij - p_j)
    = p_j (g_j - sum_i g_i p_i).
    """

    name = "softmax"
    caches = "O"

    def forward(self, z, b, O):
        kernels.backend().add_bias_softmax(z, b, O)

    def delta(self, p, g, delta, db):
        kernels.backend().softmax_delta_db(p, g, delta, db)  # delta = p (g - sum g p)

    def derivative(self, z):
        raise ValueError("softmax has no elementwise derivative; its derivative is the "
                         "Jacobian p_i (delta_ij - p_j): use Softmax().jacobian(z)")

    def jacobian(self, z):
        """dp_i/dx_j = p_i (delta_ij - p_j) = diag(p) - p p^T, for one row z of shape (n,)."""
        z = np.asarray(z)
        if z.ndim != 1:
            raise ValueError(f"jacobian expects one row z of shape (n,), got shape {z.shape}")
        p = self(z)
        return np.diag(p) - np.outer(p, p)


HIDDEN_ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]  # elementwise ones


def get_activation(activation=None, **kwargs):
    """An Activation from a name in ``ACTIVATIONS`` (any case), a config dict as
    ``config()`` gives it, an instance, or None (identity)."""
    if activation is None:
        return Identity()
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, dict):
        kwargs = {k: v for k, v in activation.items() if k not in ("name", "class")}
        return _find(activation.get("name"), activation)(**kwargs)
    return _find(activation, {})(**kwargs)


def _find(name, config):
    """The class registered as ``name``; a ValueError naming the valid names (or the class
    to import, when the config says where it is defined)."""
    cls = ACTIVATIONS.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        error = missing(ACTIVATIONS, name, config, "activation")
        raise ValueError(f"{error} (or None for identity)" if "class" not in config else error)
    return cls
