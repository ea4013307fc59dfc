"""backprop: a from-scratch NumPy + numba backpropagation engine for multilayer perceptrons.

    import backprop as bp
    model = bp.Sequential([bp.Dense(784, 256, activation="relu"), ..., bp.Dense(32, 10)])
    loss = bp.SoftmaxCrossEntropy()
    E = loss.forward(model.forward(x), labels)
    model.backward(loss.backward())
    bp.Adam(model.params).step(model.grads)
    history = bp.fit(model, x, y, loss="ce", optimizer="adam", epochs=5)   # the same steps

The package is three rings; imports run one way, app -> core and tf -> core:

- ``backprop.core``: the derivation as code, what a learner reads (activations, layers,
  losses, Sequential, optimizers, the training loop, batches, the gradient check, the
  kernels). It imports nothing from the other two.
- ``backprop.app``: what the ``backprop`` command adds (the training run and its folder,
  the model file, safe file handling, the data sets, the figures).
- ``backprop.tf``: the tutorial's TensorFlow side (``import backprop.tf as tf``): a
  reverse-mode tape (``backprop.tf.autodiff``), its activations and losses
  (``backprop.tf.nn``), and the Himmelblau function.

The names below are the library's; the tape's operations keep their own name
(``backprop.tf``), beside the three that start a tape: GradientTape, Variable, constant.
"""
from .app.version import __version__  # noqa: F401
from .core import kernels  # noqa: F401
from .core.kernels import backend_name, set_backend, set_threads, use_backend  # noqa: F401
from .core.activations import (ACTIVATIONS, Activation, Identity, LeakyReLU,  # noqa: F401
                               ReLU, Sigmoid, Softmax, Tanh, get_activation)
from .core.layers import LAYERS, Dense, InputWarning, Layer  # noqa: F401
from .core.losses import (LOSSES, MSE, BinaryCrossEntropy,  # noqa: F401
                          CategoricalCrossEntropy, SoftmaxCrossEntropy, get_loss,
                          sigmoid_mse_delta, softmax_xent_delta)
from .core.model import Sequential  # noqa: F401
from .core.optim import (OPTIMIZERS, SGD, Adagrad, Adam, KerasAdam,  # noqa: F401
                         KerasRMSProp, RMSProp, get_optimizer)
from .core.gradient_check import (GradcheckReport, ThreeWayReport,  # noqa: F401
                                  gradcheck, three_way_check)
from .core.loop import Callback, History, TrainingError, evaluate, fit  # noqa: F401
from .app import data  # noqa: F401
from .app.model_file import load_model, save_model  # noqa: F401
from .tf.autodiff import GradientTape, Variable, constant  # noqa: F401
from .tf.functions import HIMMELBLAU_MINIMA, himmelblau  # noqa: F401
