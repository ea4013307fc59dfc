"""backprop: a from-scratch NumPy + numba backpropagation engine for multilayer perceptrons.

    import backprop as bp
    model = bp.Sequential([bp.Dense(784, 256, activation="relu"), ..., bp.Dense(32, 10)])
    loss = bp.SoftmaxCrossEntropy()
    E = loss.forward(model.forward(x), labels)
    model.backward(loss.backward())
    bp.Adam(model.params).step(model.grads)
    history = bp.fit(model, x, y, loss="ce", optimizer="adam", epochs=5)   # the same steps
"""
__version__ = "0.1.0"

from .kernels import backend_name, set_backend, use_backend  # noqa: E402,F401

from . import kernels  # noqa: E402,F401
from .activations import (ACTIVATIONS, Activation, Identity, LeakyReLU,  # noqa: E402,F401
                          ReLU, Sigmoid, Softmax, Tanh, get_activation)
from .layers import LAYERS, Dense, InputWarning, Layer  # noqa: E402,F401
from .losses import (LOSSES, MSE, BinaryCrossEntropy, CategoricalCrossEntropy,  # noqa: E402,F401
                     SoftmaxCrossEntropy, get_loss, sigmoid_mse_delta, softmax_xent_delta)
from .model import Sequential  # noqa: E402,F401
from .model_file import load_model, save_model  # noqa: E402,F401
from .optim import (OPTIMIZERS, SGD, Adagrad, Adam, KerasAdam, KerasRMSProp,  # noqa: E402,F401
                    RMSProp, get_optimizer)
from .gradient_check import (GradcheckReport, ThreeWayReport, gradcheck,  # noqa: E402,F401
                             three_way_check)
from .loop import Callback, History, TrainingError, evaluate, fit  # noqa: E402,F401
from . import data  # noqa: E402,F401
from . import functions, nn  # noqa: E402,F401
from .autodiff import (GradientTape, Tensor, Variable, cast, concat, constant,  # noqa: E402,F401
                       convert_to_tensor, exp, float32, float64, linspace, log, matmul,
                       maximum, minimum, norm, one_hot, ones, ones_like, random, reduce_max,
                       reduce_mean, reduce_sum, reshape, sqrt, square, stack, stop_gradient,
                       transpose, where, zeros, zeros_like)
from .functions import HIMMELBLAU_MINIMA, himmelblau  # noqa: E402,F401
