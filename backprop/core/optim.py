"""Optimizers: hand-written update rules that change the model's weights in place.

The model owns its weights; an optimizer holds a reference to them and, per parameter
array, its own state slots (velocity, m, v, accumulators) and the step count t. A
Sequential keeps all its weights in one flat vector theta (``model.params``) and their
gradients in another (``model.grads``), so ``Adam(model.params).step(model.grads)``
updates every weight in one pass. Any other C-contiguous float arrays, or a list of
them, work the same way, one pass per array. Each rule is written out in full in its
class docstring; the arithmetic runs in the active kernel backend, in the parameters'
dtype.

Two rules come in two forms, which give different weights from the first step on:
``Adam`` and ``RMSProp`` are the papers' (and PyTorch's) form, ``KerasAdam`` and
``KerasRMSProp`` Keras's (the tutorial trains with Keras's Adam). Every hyperparameter is
checked when the optimizer is made, with the messages of the command line's checks.
"""
import numbers
from functools import partial

import numpy as np

from . import kernels
from .layers import FLOAT_DTYPES


def _number(name, value):
    """``value`` as a float; TypeError unless it is a real number (a bool or a string is
    not), ValueError if it is NaN or infinite. Messages show the value as given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    if not np.isfinite(float(value)):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def positive(name, value):
    """A hyperparameter > 0 (a learning rate, an eps), as the CLI's ``--lr`` check."""
    if not _number(name, value) > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def fraction(name, value):
    """A hyperparameter in [0, 1) (a momentum, a decay rate beta or rho)."""
    if not 0 <= _number(name, value) < 1:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return float(value)


def flag(name, value):
    """A hyperparameter that is True or False (a NumPy bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _as_list(arrays, what):
    """One array, or a list of arrays, as a list."""
    if isinstance(arrays, np.ndarray):
        return [arrays]
    try:
        return list(arrays)
    except TypeError:
        raise ValueError(f"{what} must be an array or a list of arrays, got "
                         f"{type(arrays).__name__}") from None


class Optimizer:
    """Base class: params, per-parameter state, ``step(grads)``, ``state_arrays``.

    Parameters
    ----------
    params : ndarray or list of ndarray
        The weights to update in place (C-contiguous float32 or float64), e.g. a
        Sequential's flat ``model.params``.
    lr : float
        The learning rate eta.
    """

    slots = ()  # names of the per-parameter state arrays
    non_negative = ()  # the slots that hold sums of squares, never below 0

    def __init__(self, params, lr):
        params = _as_list(params, "params")
        if not params:
            raise ValueError("the optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or p.dtype not in FLOAT_DTYPES:
                raise ValueError(f"parameter {i} must be a float32 or float64 array, got "
                                 f"{getattr(p, 'dtype', type(p).__name__)}")
            if not p.flags.c_contiguous or not p.flags.writeable:
                raise ValueError(f"parameter {i} must be a writeable C-contiguous array so it "
                                 f"can be updated in place")
        self.params = params
        self.lr = positive("lr", lr)
        self.t = 0
        self.state = {slot: [np.zeros_like(p) for p in params] for slot in self.slots}

    def step(self, grads):
        """Apply one update to every parameter, with ``grads`` aligned with ``params``."""
        grads = _as_list(grads, "grads")
        if len(grads) != len(self.params):
            raise ValueError(f"step got {len(grads)} gradients for {len(self.params)} parameters")
        for i, (p, g) in enumerate(zip(self.params, grads)):  # all checked before any change
            if not isinstance(g, np.ndarray) or g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"gradient {i} has shape {getattr(g, 'shape', None)} and dtype "
                                 f"{getattr(g, 'dtype', type(g).__name__)}; its parameter has "
                                 f"{p.shape} and {p.dtype}")
        self.t += 1
        k = kernels.backend()
        for i, (p, g) in enumerate(zip(self.params, grads)):
            slots = {slot: values[i].reshape(-1) for slot, values in self.state.items()}
            self._update(k, p.reshape(-1), np.ascontiguousarray(g).reshape(-1), slots,
                         p.dtype.type)

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
        """Restore ``state_arrays`` output, all checked before any slot changes.

        ValueError unless: t is a whole number >= 0; every slot of this rule is there
        with its parameter's shape and dtype, and finite; the slots that hold squares
        (``non_negative``: Adam's v, RMSProp's and Adagrad's s) are >= 0; and nothing
        else is there (e.g. Adam's m and v beside an "sgd" configuration).
        """
        if "t" not in arrays:
            raise ValueError("optimizer state lacks the step count t")
        t = np.asarray(arrays["t"])
        if (t.shape != () or t.dtype.kind not in "iuf" or not np.isfinite(t)
                or t != np.floor(t) or t < 0):
            raise ValueError(f"optimizer state has step count t = {t.tolist()!r}, not a "
                             f"whole number >= 0")
        expected = {f"{slot}.{i}" for slot, values in self.state.items()
                    for i in range(len(values))}
        extra = sorted(set(arrays) - expected - {"t"})
        if extra:
            raise ValueError(f"optimizer state holds {', '.join(extra)}, which "
                             f"{self.name} does not keep (the state of another optimizer)")
        for slot, values in self.state.items():
            for i, v in enumerate(values):
                key = f"{slot}.{i}"
                if key not in arrays:
                    raise ValueError(f"optimizer state lacks {key} ({type(self).__name__})")
                a = arrays[key]
                if a.shape != v.shape or a.dtype != v.dtype:
                    raise ValueError(f"optimizer state {key} has shape {a.shape} and dtype "
                                     f"{a.dtype}, expected {v.shape} and {v.dtype}")
                if not np.all(np.isfinite(a)):
                    raise ValueError(f"optimizer state {key} holds NaN or Inf")
                if slot in self.non_negative and np.any(a < 0):
                    raise ValueError(f"optimizer state {key} holds negative values "
                                     f"(down to {a.min():g}); {slot} is a sum of squares, >= 0")
        for slot, values in self.state.items():
            for i, v in enumerate(values):
                v[...] = arrays[f"{slot}.{i}"]
        self.t = int(t)

    def config(self):
        return {"name": self.name, "lr": self.lr}

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({settings})"


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
        momentum, nesterov = fraction("momentum", momentum), flag("nesterov", nesterov)
        if nesterov and momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0")
        self.slots = ("velocity",) if momentum > 0 else ()
        super().__init__(params, lr)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, k, w, g, slots, cast):
        if self.momentum == 0:
            k.sgd_step(w, g, cast(self.lr))
        else:
            k.momentum_step(w, g, slots["velocity"], cast(self.lr), cast(self.momentum),
                             self.nesterov, cast(np.finfo(cast).tiny))

    def config(self):
        return {"name": self.name, "lr": self.lr, "momentum": self.momentum,
                "nesterov": self.nesterov}


class RMSProp(Optimizer):
    """RMSProp (Hinton, Coursera lecture 6e) with eps added to the root, as PyTorch.

    s <- rho s + (1 - rho) (dE/dW)^2;   W <- W - eta dE/dW / (sqrt(s) + eps)

    This is ``torch.optim.RMSprop`` (its alpha is rho here). Defaults: eta = 0.001,
    rho = 0.9, eps = 1e-7, which are Keras's numbers (PyTorch's are 0.01, 0.99, 1e-8);
    Keras's update puts eps under the root instead (``KerasRMSProp``), so with these
    defaults the two differ wherever sqrt(s) is not much larger than eps.
    """

    name = "rmsprop"
    slots = ("s",)
    non_negative = ("s",)

    def __init__(self, params, lr=0.001, rho=0.9, eps=1e-7):
        super().__init__(params, lr)
        self.rho, self.eps = fraction("rho", rho), positive("eps", eps)

    def _update(self, k, w, g, slots, cast):
        hyper = (self.lr, self.rho, 1 - self.rho, self.eps, np.finfo(cast).tiny)
        k.rmsprop_step(w, g, slots["s"], tuple(cast(h) for h in hyper))

    def config(self):
        return {"name": self.name, "lr": self.lr, "rho": self.rho, "eps": self.eps}


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer, 2011).

    s <- s + (dE/dW)^2;   W <- W - eta dE/dW / (sqrt(s) + eps)

    Defaults as PyTorch: eta = 0.01, eps = 1e-10, s starts at 0.
    """

    name = "adagrad"
    slots = ("s",)
    non_negative = ("s",)

    def __init__(self, params, lr=0.01, eps=1e-10):
        super().__init__(params, lr)
        self.eps = positive("eps", eps)

    def _update(self, k, w, g, slots, cast):
        k.adagrad_step(w, g, slots["s"], cast(self.lr), cast(self.eps))

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
    PyTorch's ``torch.optim.Adam``). Keras's Adam adds eps to sqrt(v), not to
    sqrt(v_hat) (``KerasAdam``): even with eps = 1e-7 this class moves the weights
    differently from Keras, most where |g| is small.
    """

    name = "adam"
    slots = ("m", "v")
    non_negative = ("v",)

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2 = fraction("beta1", beta1), fraction("beta2", beta2)
        self.eps = positive("eps", eps)

    def hyper(self, dtype):
        """The kernel's constants at step t, in ``dtype``:
        (eta, b1, 1 - b1, b2, 1 - b2, eps, c1, c2, tiny) with m_hat = m c1, v_hat = v c2."""
        c1 = 1 / (1 - self.beta1 ** self.t)
        c2 = 1 / (1 - self.beta2 ** self.t)
        cast = np.dtype(dtype).type
        return tuple(cast(h) for h in (self.lr, self.beta1, 1 - self.beta1, self.beta2,
                                       1 - self.beta2, self.eps, c1, c2, np.finfo(cast).tiny))

    def _update(self, k, w, g, slots, cast):
        k.adam_step(w, g, slots["m"], slots["v"], self.hyper(cast))

    def config(self):
        return {"name": self.name, "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps}


class KerasAdam(Adam):
    """Adam as Keras computes it (``keras.optimizers.Adam``, the tutorial's optimizer).

    At step t, with g = dE/dW:

        m <- beta1 m + (1 - beta1) g              first moment
        v <- beta2 v + (1 - beta2) g^2            second moment
        eta_t = eta sqrt(1 - beta2^t) / (1 - beta1^t)
        W <- W - eta_t m / (sqrt(v) + eps)

    This is the reordering at the end of Kingma & Ba's section 2, with their eps-hat as
    eps: it is ``Adam`` with eps replaced by eps / sqrt(1 - beta2^t), so eps weighs more
    in the first steps (at t = 1, 31.6 times as much with beta2 = 0.999). Defaults as
    Keras 3: eta = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7.

    As in Keras, eta, beta1 and beta2 enter eta_t rounded to float32 (Keras keeps eta in
    a float32 variable, and casts the betas through float32): with float64 weights that
    moves eta_t by about 1e-5 relative, and this class then matches Keras to rounding.
    """

    name = "keras_adam"

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(params, lr, beta1, beta2, eps)

    def hyper(self, dtype):
        """The kernel's constants at step t, in ``dtype``:
        (eta_t, b1, 1 - b1, b2, 1 - b2, eps, tiny), eta_t = eta sqrt(1 - b2^t) / (1 - b1^t)."""
        eta, b1, b2 = (float(np.float32(h)) for h in (self.lr, self.beta1, self.beta2))
        eta_t = eta * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)       # Keras's rounding
        cast = np.dtype(dtype).type
        return tuple(cast(h) for h in (eta_t, self.beta1, 1 - self.beta1, self.beta2,
                                       1 - self.beta2, self.eps, np.finfo(cast).tiny))

    def _update(self, k, w, g, slots, cast):
        k.keras_adam_step(w, g, slots["m"], slots["v"], self.hyper(cast))


class KerasRMSProp(RMSProp):
    """RMSProp as Keras computes it (``keras.optimizers.RMSprop``), eps under the root.

    s <- rho s + (1 - rho) (dE/dW)^2;   W <- W - eta dE/dW / sqrt(s + eps)

    Defaults as Keras 3: eta = 0.001, rho = 0.9, eps = 1e-7 (Keras's momentum and
    centered variants are not offered). Beside ``RMSProp``: for the first step with
    g = 1e-4, sqrt(s) = 3.2e-5, so Keras divides by 3.2e-4 and RMSProp by 3.2e-5,
    a step 10 times as large. As in Keras, eta is rounded to float32 (Keras keeps it in
    a float32 variable), also for float64 weights.
    """

    name = "keras_rmsprop"

    def _update(self, k, w, g, slots, cast):
        hyper = (float(np.float32(self.lr)), self.rho, 1 - self.rho, self.eps, np.finfo(cast).tiny)
        k.keras_rmsprop_step(w, g, slots["s"], tuple(cast(h) for h in hyper))


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": partial(SGD, momentum=0.9),
    "nesterov": partial(SGD, momentum=0.9, nesterov=True),
    "rmsprop": RMSProp,
    "keras_rmsprop": KerasRMSProp,
    "adagrad": Adagrad,
    "adam": Adam,
    "keras_adam": KerasAdam,
}


def get_optimizer(name, params, lr=None, **kwargs):
    """An optimizer by a name in ``OPTIMIZERS`` (any case): "momentum" is
    SGD(momentum=0.9), "nesterov" adds nesterov=True; keyword arguments override."""
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")
    if lr is not None:
        kwargs["lr"] = lr
    return OPTIMIZERS[name.lower()](params, **kwargs)
