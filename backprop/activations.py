"""Activation functions f and their delta step delta = f'(x) * dE/dO.

This module owns the activations a Dense layer can apply to its net input
x_k = sum_j O_j W_jk + b_k (code: ``z``). Each class has:

- ``forward(z, b, O)``: the fused layer step z += b; O = f(z), in place (O may be z);
- ``delta(cache, g, delta, db)``: delta = f'(z) * g and db = sum over the batch of delta,
  where ``cache`` is what the layer kept from forward: ``O`` for sigmoid, tanh and softmax
  (their derivatives are cheapest in terms of the output, as the derivation writes
  them: O(1-O), 1-O^2), and the net input ``z`` for the ReLU family (whose derivative
  needs the sign of z: O = 0 cannot tell z = 0, where relu' = 1, from z < 0);
- ``__call__(z)``: f(z) as a new array, and ``derivative(z)``: f'(z) elementwise, for
  plots, tests and teaching.

The arithmetic runs in the active kernel backend (numba or NumPy, see
``backprop.kernels``). Names are looked up in ``ACTIVATIONS``.
"""
import numpy as np

from . import kernels


def _as_batch(a):
    """View a 0-, 1- or n-D array as the 2-D (rows, units) batch the kernels take."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-1]) if a.ndim >= 1 else a.reshape(1, 1)


class Activation:
    """Base class: an elementwise (or row-wise) f with its delta step.

    Attributes
    ----------
    name : str
        The name in ``ACTIVATIONS``.
    caches : {"O", "z"}
        What ``delta`` needs from the forward pass: the output O or the net input z.
    """

    name = "activation"
    caches = "O"

    def forward(self, z, b, O):
        raise NotImplementedError

    def delta(self, cache, g, delta, db):
        raise NotImplementedError

    def derivative(self, z):
        raise NotImplementedError

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
        """The arguments that rebuild this activation with ``get_activation``."""
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Identity(Activation):
    """O = x;  f'(x) = 1, so delta = dE/dO."""

    name = "identity"
    caches = "O"

    def forward(self, z, b, O):
        kernels.backend().add_bias_identity(z, b, O)

    def delta(self, cache, g, delta, db):
        kernels.backend().identity_delta_db(g, delta, db)

    def derivative(self, z):
        return np.ones_like(np.asarray(z, dtype=float))


class Sigmoid(Activation):
    """O = 1 / (1 + e^{-x});  f'(x) = O (1 - O), so delta_k = O_k (1 - O_k) dE/dO_k.

    Computed as e^x / (1 + e^x) for x < 0, so no exponential overflows for |x| in the
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
    """O = tanh(x);  f'(x) = 1 - O^2, so delta = (1 - O^2) dE/dO."""

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
    """O = max(x, 0);  f'(x) = 1 for x >= 0, else 0.

    relu'(0) = 1 is the derivation's convention. TensorFlow and PyTorch use 0 at x = 0;
    the two agree everywhere else, and x is exactly 0 with probability ~0 in training.
    """

    name = "relu"
    caches = "z"

    def forward(self, z, b, O):
        kernels.backend().add_bias_relu(z, b, O)

    def delta(self, z, g, delta, db):
        kernels.backend().relu_delta_db(z, g, delta, db)  # delta = g where z >= 0

    def derivative(self, z):
        z = np.asarray(z)
        return np.where(z >= 0, 1.0, 0.0).astype(z.dtype if z.dtype.kind == "f" else float)


class LeakyReLU(Activation):
    """O = x for x >= 0, alpha x otherwise;  f'(x) = 1 or alpha.

    ``alpha`` defaults to 0.2, TensorFlow's ``tf.nn.leaky_relu`` default.
    """

    name = "leaky_relu"
    caches = "z"

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

    def config(self):
        return {"name": self.name, "alpha": self.alpha}

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


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


ACTIVATIONS = {
    "identity": Identity,
    "linear": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
}
HIDDEN_ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]  # elementwise ones


def get_activation(activation=None, **kwargs):
    """An Activation from a name in ``ACTIVATIONS``, an instance, or None (identity)."""
    if activation is None:
        return Identity()
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()](**kwargs)
    raise ValueError(f"unknown activation {activation!r}; expected one of: "
                     f"{', '.join(ACTIVATIONS)} (or None for identity)")
