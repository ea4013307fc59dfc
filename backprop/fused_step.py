"""A Dense network's forward and backward pass as one kernel call (``mlp_gradients``).

``train_step`` runs a step as the derivation writes it, layer by layer: each Dense
layer's forward, the loss, each layer's backward, each a Python call with its kernels
and products. For the common case (a Sequential of Dense layers with built-in
activations, trained with SoftmaxCrossEntropy on class labels) the same kernels and
products, in the same order, run inside one compiled function instead, so a step pays
for one call rather than for some 30. At batch 10 that was most of what a step spent
outside its products and Adam (README, Speed). Every other model, loss or target goes
layer by layer.

What a step leaves behind is the layer-by-layer step's, bit for bit at the same number
of BLAS threads: every layer's x, cache, delta, dW and db, and the loss's dE/dO. The same
guardrails run first, with the same messages: the batch's shape and dtype, NaN in it,
the labels, and a last layer that already gives probabilities (softmax twice). A batch of
fewer than ``SMALL_BATCH`` rows runs its products on one BLAS thread, whatever the
thread setting, and the setting is restored after the call.
"""
import math
import weakref

import numpy as np

from . import kernels
from .kernels import blas
from .kernels import reference as codes
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense, warn_if_not_finite
from .losses import SoftmaxCrossEntropy, _check_labels
from .model import FORWARD_BATCH, Sequential

# Batches of fewer rows run their products on one BLAS thread: a second thread gains
# nothing on products this small and, on a 2-core virtual machine, made whole epochs at
# batch 10 up to three times slower at times (README, Speed). Results are then those of
# one thread.
SMALL_BATCH = 32
# the kernels' activation codes
ACTIVATION_CODES = {Identity: codes.IDENTITY, Sigmoid: codes.SIGMOID, Tanh: codes.TANH,
                    ReLU: codes.RELU, LeakyReLU: codes.LEAKY_RELU, Softmax: codes.SOFTMAX}

_plans = weakref.WeakKeyDictionary()  # model -> its _Plan


def gradients(model, loss, x, y):
    """Forward, E and (if E is finite) every gradient of ``model`` for the batch (x, y),
    in one kernel call; returns (E, O) as the layer-by-layer step would, or None when
    the model, loss or batch is not the case this covers (then nothing was done)."""
    if type(model) is not Sequential or type(loss) is not SoftmaxCrossEntropy:
        return None
    if not (isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype == model.dtype
            and x.flags.c_contiguous and x.shape[0] >= 2 and x.shape[1] == model.n_in):
        return None  # the layer-by-layer step gives the error, if it is one (np.matmul
        #              takes gemv, not gemm, for a batch of one)
    if not (isinstance(y, np.ndarray) and y.ndim == 1):
        return None  # one-hot or soft targets
    plan = _plans.get(model)
    if plan is None or not plan.matches(model):
        if not _Plan.covers(model):
            return None
        plan = _plans[model] = _Plan(model)
    return plan.run(loss, x, y)


def _padded(n):
    """n rounded up to a whole cache line (16 floats), plus 5 more lines: each array of
    the work array starts on a line of its own, and no two start a multiple of 4 KiB
    apart (where a loop reading one and writing another can stall on the addresses'
    equal low bits; on this project's 2-core test machine it made no measurable
    difference either way)."""
    return -(-n // 16) * 16 + 5 * 16


def _offset(flat, a):
    """Where the C-contiguous array ``a`` starts in the 1-D array ``flat``, in elements,
    or None if it is not a slice of it."""
    offset, remainder = divmod(a.ctypes.data - flat.ctypes.data, flat.itemsize)
    inside = 0 <= offset and offset + a.size <= flat.size and not remainder
    return offset if inside and a.flags.c_contiguous and a.dtype == flat.dtype else None


class _Plan:
    """What ``mlp_gradients`` takes for one model: where each layer's W and b lie in the
    flat theta (and dW, db in dE/dtheta), and per batch size one work array holding every
    layer's z, O, delta and dE/dx (``layout``). ``matches`` tells whether the model still
    has the layers, activations and arrays these were made from."""

    @staticmethod
    def covers(model):
        """Dense layers with built-in activations, every width >= 2 (np.matmul takes gemm
        for those), their W, b, dW and db slices of the model's flat vectors, and NumPy's
        BLAS found where the numba kernels need it."""
        if kernels.backend_name() == "numba" and blas.gemm(model.dtype) is None:
            return False
        for layer in model.layers:
            if not (type(layer) is Dense and type(layer.activation) in ACTIVATION_CODES
                    and layer.n_in >= 2 and layer.n_out >= 2):
                return False
            for p, g in ((layer.W, layer.dW), (layer.b, layer.db)):
                offset = _offset(model.params, p)
                if offset is None or offset != _offset(model.grads, g):
                    return False
        return True

    def __init__(self, model):
        self.layers = list(model.layers)
        self.identity = self._identity(model)
        self.codes = np.array([ACTIVATION_CODES[type(layer.activation)] for layer in self.layers])
        self.backend, self.numba = kernels.backend(), kernels.backend_name() == "numba"
        self.gemm = blas.gemm(model.dtype) if self.numba else None
        self.theta, self.dtheta = model.params, model.grads
        self.slices = [(_offset(self.theta, layer.W), _offset(self.theta, layer.b))
                       for layer in self.layers]
        self.per_batch_size = {}

    @staticmethod
    def _identity(model):
        return [model.params, model.grads] + [
            a for layer in model.layers
            for a in (layer, layer.activation, layer.W, layer.b, layer.dW, layer.db)]

    def matches(self, model):
        return (self.backend is kernels.backend() and len(model.layers) == len(self.layers)
                and all(a is b for a, b in zip(self._identity(model), self.identity)))

    def _buffers(self, B):
        """For a batch of B: ``layout``, the work array, and views of every layer's z, O
        and delta in it. The views become the layers' own z, delta and dE/dx buffers, the
        ones the layer-by-layer step uses."""
        if B not in self.per_batch_size:
            layout, size = [], 0

            def place(n):  # the start of an array of n elements, and room for it
                nonlocal size
                start = size
                size = _padded(size + n)
                return start

            for layer, (w, b) in zip(self.layers, self.slices):
                n_in, n_out = layer.n_in, layer.n_out
                z, O, delta = place(B * n_out), place(B * n_out), place(B * n_out)
                dx = place(B * n_in) if layer is not self.layers[0] else 0  # the input's: none
                layout.append([n_in, n_out, w, b, z, O, delta, dx])
            layout = np.array(layout, np.int64)
            work = np.empty(size, self.theta.dtype)
            views = {name: [] for name in ("z", "O", "delta")}
            for layer, (n_in, n_out, _, _, z, O, delta, dx) in zip(self.layers, layout):
                for name, start in (("z", z), ("O", O), ("delta", delta)):
                    views[name].append(work[start:start + B * n_out].reshape(B, n_out))
                buffers = layer._buffers.setdefault(B, {})
                buffers["z"], buffers["delta"] = views["z"][-1], views["delta"][-1]
                if layer is not self.layers[0]:
                    buffers["dE_dx"] = work[dx:dx + B * n_in].reshape(B, n_in)
            self.per_batch_size[B] = layout, work, views["z"], views["O"], views["delta"]
        return self.per_batch_size[B]

    def run(self, loss, x, y):
        warn_if_not_finite(x, FORWARD_BATCH)
        layers, B = self.layers, x.shape[0]
        labels = _check_labels(y, B, layers[-1].n_out)
        alphas = np.array([getattr(layer.activation, "alpha", 0.0) for layer in layers],
                          x.dtype)
        layout, work, zs, Os, deltas = self._buffers(B)
        dE_dO = loss._gradient_buffer(Os[-1])
        one_thread = blas.thread_setter() if B < SMALL_BATCH else None
        threads = one_thread(1) if one_thread else None  # the products on one thread
        try:
            E = self.backend.mlp_gradients(self.gemm, x, labels, self.theta, self.dtheta,
                                           layout, self.codes, alphas, work, dE_dO)
        finally:
            if one_thread:
                one_thread(threads)
        out = Os[-1].copy()  # the output is the caller's, as Dense.forward's is
        loss.warn_if_probabilities(out)
        finite = math.isfinite(E)
        for layer, below, z, O, delta in zip(layers, [x] + Os, zs, Os, deltas):
            layer.x = below  # what each layer's forward and backward keep
            layer.cache = z if layer.activation.caches == "z" else O
            if finite:
                layer.delta = delta
        return E, out
