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
# --- data (issue 3) ---
# --- tape, functions (issue 4) ---
