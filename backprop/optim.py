"""Optimizers: hand-written update rules that change the model's weights in place.

The model owns its weights; an optimizer holds references to them (``params``) and, per
parameter, its own state slots (velocity, m, v, accumulators) and the step count t.
``step(grads)`` applies one update using ``grads`` aligned with ``params``. Each rule is
written out in full in its class docstring; the arithmetic runs in the active kernel
backend, elementwise over each parameter, in the parameter's dtype.
"""
import numpy as np

from . import kernels
from .model import split_like


class Optimizer:
    """Base class: params, per-parameter state, ``step(grads)``, ``state_arrays``."""

    slots = ()  # names of the per-parameter state arrays

    def __init__(self, params, lr):
        params = list(params)
        if not params:
            raise ValueError("the optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64):
                raise ValueError(f"parameter {i} must be a float32 or float64 array, got "
                                 f"{getattr(p, 'dtype', type(p).__name__)}")
            if not p.flags.c_contiguous:
                raise ValueError(f"parameter {i} must be C-contiguous so it can be updated in place")
        lr = float(lr)
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number, got {lr}")
        self.params = params
        self.lr = lr
        self.t = 0
        # params lying back to back in one buffer (a Sequential's) are updated in one pass
        self._flat = contiguous_span(params)
        self._grads_seen = self._grads_span = None
        self._flat_state = {}
        self.state = {}
        for slot in self.slots:
            if self._flat is not None:
                self._flat_state[slot] = np.zeros_like(self._flat)
                self.state[slot] = split_like(self._flat_state[slot], params)
            else:
                self.state[slot] = [np.zeros_like(p) for p in params]

    def _check(self, grads):
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"step got {len(grads)} gradients for {len(self.params)} parameters")
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"gradient {i} has shape {g.shape} and dtype {g.dtype}; "
                                 f"its parameter has {p.shape} and {p.dtype}")
        return grads

    def step(self, grads):
        """Apply one update to every parameter."""
        grads = self._check(grads)  # before anything changes
        self.t += 1
        k = kernels.backend()
        cast = self.params[0].dtype.type
        flat_grads = self._flat_grads(grads) if self._flat is not None else None
        if flat_grads is not None:  # one pass over all parameters
            self._update(k, self._flat, flat_grads, self._flat_state, cast)
            return
        for i, (p, g) in enumerate(zip(self.params, grads)):
            self._update(k, p.reshape(-1), np.ascontiguousarray(g).reshape(-1),
                         {s: v[i].reshape(-1) for s, v in self.state.items()}, p.dtype.type)

    def _flat_grads(self, grads):
        """``contiguous_span(grads)``, remembered while the same arrays come back (a
        model's grads are the same views every step)."""
        if self._grads_seen is None or len(grads) != len(self._grads_seen) or any(
                a is not b for a, b in zip(grads, self._grads_seen)):
            self._grads_seen, self._grads_span = list(grads), contiguous_span(grads)
        return self._grads_span

    def _update(self, k, w, g, slots, cast):
        """Update the flat parameter view w with gradient g; ``slots`` maps each state
        slot name to its flat view; ``cast`` converts hyperparameters to w's dtype."""
        raise NotImplementedError

    # -------------------------------------------------------------- checkpoint state

    def state_arrays(self):
        """The optimizer's state as a dict of arrays: t and every slot of every parameter."""
        arrays = {"t": np.array(self.t)}
        for slot, values in self.state.items():
            for i, v in enumerate(values):
                arrays[f"{slot}.{i}"] = v
        return arrays

    def load_state_arrays(self, arrays):
        """Restore ``state_arrays`` output, checking every slot's shape and dtype."""
        if "t" not in arrays:
            raise ValueError("optimizer state lacks the step count t")
        for slot, values in self.state.items():
            for i, v in enumerate(values):
                key = f"{slot}.{i}"
                if key not in arrays:
                    raise ValueError(f"optimizer state lacks {key} ({type(self).__name__})")
                a = arrays[key]
                if a.shape != v.shape or a.dtype != v.dtype:
                    raise ValueError(f"optimizer state {key} has shape {a.shape} and dtype "
                                     f"{a.dtype}, expected {v.shape} and {v.dtype}")
                v[...] = a
        self.t = int(arrays["t"])

    def config(self):
        return {"name": self.name, "lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and Nesterov momentum.

    Plain (momentum = 0):  W <- W - eta dE/dW
    Momentum mu:           v <- mu v - eta dE/dW;   W <- W + v
    Nesterov:              v <- mu v - eta dE/dW;   W <- W + mu v - eta dE/dW

    This is Keras's form (Sutskever et al., 2013); PyTorch's v <- mu v + g, W <- W - eta v
    gives the same weights for a constant eta. Defaults: eta = 0.01, mu = 0.
    """

    name = "sgd"

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False):
        momentum = float(momentum)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.slots = ("velocity",) if momentum > 0 else ()
        super().__init__(params, lr)
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def _update(self, k, w, g, slots, cast):
        if self.momentum == 0:
            k._sgd_step(w, g, cast(self.lr))
        else:
            k._momentum_step(w, g, slots["velocity"], cast(self.lr), cast(self.momentum),
                             self.nesterov, cast(np.finfo(cast).tiny))

    def config(self):
        return {"name": self.name, "lr": self.lr, "momentum": self.momentum,
                "nesterov": self.nesterov}


class RMSProp(Optimizer):
    """RMSProp (Hinton, Coursera lecture 6e).

    s <- rho s + (1 - rho) (dE/dW)^2;   W <- W - eta dE/dW / (sqrt(s) + eps)

    Defaults as Keras: eta = 0.001, rho = 0.9, eps = 1e-7 (PyTorch: rho 0.99, eps 1e-8).
    """

    name = "rmsprop"
    slots = ("s",)

    def __init__(self, params, lr=0.001, rho=0.9, eps=1e-7):
        super().__init__(params, lr)
        if not 0 <= rho < 1:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        self.rho, self.eps = float(rho), float(eps)

    def _update(self, k, w, g, slots, cast):
        hyper = (self.lr, self.rho, 1 - self.rho, self.eps, np.finfo(cast).tiny)
        k._rmsprop_step(w, g, slots["s"], tuple(cast(h) for h in hyper))

    def config(self):
        return {"name": self.name, "lr": self.lr, "rho": self.rho, "eps": self.eps}


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer, 2011).

    s <- s + (dE/dW)^2;   W <- W - eta dE/dW / (sqrt(s) + eps)

    Defaults as PyTorch: eta = 0.01, eps = 1e-10, s starts at 0.
    """

    name = "adagrad"
    slots = ("s",)

    def __init__(self, params, lr=0.01, eps=1e-10):
        super().__init__(params, lr)
        self.eps = float(eps)

    def _update(self, k, w, g, slots, cast):
        k._adagrad_step(w, g, slots["s"], cast(self.lr), cast(self.eps))

    def config(self):
        return {"name": self.name, "lr": self.lr, "eps": self.eps}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1), bias corrected.

    At step t, with g = dE/dW:

        m <- beta1 m + (1 - beta1) g              first moment
        v <- beta2 v + (1 - beta2) g^2            second moment
        m_hat = m / (1 - beta1^t);   v_hat = v / (1 - beta2^t)
        W <- W - eta m_hat / (sqrt(v_hat) + eps)

    Defaults from the paper: eta = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 (as
    PyTorch). TensorFlow's Keras uses eps = 1e-7: pass ``eps=1e-7`` to match it.
    """

    name = "adam"
    slots = ("m", "v")

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, lr)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{label} must be in [0, 1), got {beta}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def hyper(self, dtype):
        """The kernel's constants at step t, in ``dtype``:
        (eta, b1, 1 - b1, b2, 1 - b2, eps, c1, c2, tiny) with m_hat = m c1, v_hat = v c2."""
        c1 = 1 / (1 - self.beta1 ** self.t)
        c2 = 1 / (1 - self.beta2 ** self.t)
        cast = np.dtype(dtype).type
        return tuple(cast(h) for h in (self.lr, self.beta1, 1 - self.beta1, self.beta2,
                                       1 - self.beta2, self.eps, c1, c2, np.finfo(cast).tiny))

    def _update(self, k, w, g, slots, cast):
        k._adam_step(w, g, slots["m"], slots["v"], self.hyper(cast))

    def config(self):
        return {"name": self.name, "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps}


def contiguous_span(arrays):
    """One flat view covering ``arrays`` if they lie back to back, in order, inside one
    contiguous buffer (as a Sequential's params and grads do); else None."""
    first = arrays[0]
    root = first
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not root.flags.c_contiguous:
        return None
    address = first.__array_interface__["data"][0]
    for a in arrays:
        if (a.dtype != first.dtype or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != address):
            return None
        base = a
        while isinstance(base.base, np.ndarray):
            base = base.base
        if base is not root:
            return None
        address += a.nbytes
    start = (first.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // first.itemsize
    return root.reshape(-1)[start:start + sum(a.size for a in arrays)]


OPTIMIZERS = {"sgd": SGD, "momentum": SGD, "nesterov": SGD, "rmsprop": RMSProp,
              "adagrad": Adagrad, "adam": Adam}


def get_optimizer(name, params, lr=None, **kwargs):
    """An optimizer by name; "momentum" is SGD(momentum=0.9), "nesterov" adds nesterov."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")
    if name in ("momentum", "nesterov"):
        kwargs.setdefault("momentum", 0.9)
        kwargs.setdefault("nesterov", name == "nesterov")
    if lr is not None:
        kwargs["lr"] = lr
    return OPTIMIZERS[name](params, **kwargs)
