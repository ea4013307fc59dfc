"""backprop: a from-scratch NumPy + numba backpropagation engine for multilayer perceptrons.

    import backprop as bp
    model = bp.Sequential([bp.Dense(784, 256, activation="relu"), ..., bp.Dense(32, 10)])
    loss = bp.SoftmaxCrossEntropy()
    E = loss.forward(model.forward(x), labels)
    model.backward(loss.backward())
    bp.Adam(model.params).step(model.grads)
"""
__version__ = "0.1.0"

from .kernels import backend_name, set_backend, use_backend  # noqa: E402,F401

# --- engine (issue 2) ---
from . import kernels  # noqa: E402,F401
from .activations import (ACTIVATIONS, Identity, LeakyReLU, ReLU, Sigmoid,  # noqa: E402,F401
                          Softmax, Tanh, get_activation)
from .layers import Dense  # noqa: E402,F401
from .losses import (LOSSES, MSE, BinaryCrossEntropy, CategoricalCrossEntropy,  # noqa: E402,F401
                     SoftmaxCrossEntropy, get_loss, sigmoid_mse_delta, softmax_xent_delta)
from .model import Sequential  # noqa: E402,F401
from .optim import OPTIMIZERS, SGD, Adagrad, Adam, RMSProp, get_optimizer  # noqa: E402,F401
from .gradcheck import GradcheckReport, gradcheck  # noqa: E402,F401
# --- data (issue 3) ---
# --- tape, functions (issue 4) ---
