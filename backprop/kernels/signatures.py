"""The signatures the kernels of ``jit.py`` are compiled ahead of time with (``compiled.py``).

Kept apart, without numba, so the compiling child (``build.py``) and the process that
loads the result (``compiled.py``) read one table.
"""
import numpy as np

MODULE = "_backprop_kernels"
FLOATS = (np.float32, np.float64)

# The argument types of every kernel, per float type F (float32 and float64):
#   F2 a C-contiguous (rows, units) array of F    F1 a contiguous vector of F
#   F  a scalar of type F                         F*9 a tuple of nine such scalars
#   I1 a contiguous vector of np.intp             U2 a C-contiguous uint8 array
#   b  a bool                                     !  the kernel writes this array
#   -> f8  the kernel returns a float64 (the loss E)
SIGNATURES = {
    "_identity_forward": "F2! F1 F2!",
    "_sigmoid_forward": "F2! F1 F2!",
    "_tanh_forward": "F2! F1 F2!",
    "_relu_forward": "F2! F1 F2!",
    "_leaky_relu_forward": "F2! F1 F F2!",
    "_softmax_forward": "F2! F1 F2!",
    "_identity_delta": "F2 F2! F1!",
    "_sigmoid_delta": "F2 F2 F2! F1!",
    "_tanh_delta": "F2 F2 F2! F1!",
    "_relu_delta": "F2 F2 F2! F1!",
    "_leaky_relu_delta": "F2 F2 F F2! F1!",
    "_softmax_delta": "F2 F2 F2! F1!",
    "_softmax_xent_labels": "F2 I1 F2! -> f8",
    "_softmax_xent_dense": "F2 F2 F2! -> f8",
    "_squared_error": "F2 F2 F F2! -> f8",
    "_binary_xent": "F2 F2 F F F2! -> f8",
    "_sigmoid_xent_logits": "F2 F2 F F2! -> f8",
    "_sgd_step": "F1! F1 F",
    "_momentum_step": "F1! F1 F1! F F b F",
    "_rmsprop_step": "F1! F1 F1! F*5",
    "_adagrad_step": "F1! F1 F1! F F",
    "_adam_step": "F1! F1 F1! F1! F*9",
    "_gather_scaled": "U2 I1 F F2!",
}


def parse(spec):
    """"F2! F1 F -> f8" -> ([("F", 2, True), ("F", 1, False), ("F", 0, False)], "f8").

    Each argument is (element type, ndim, written): element type "F", "I", "U" or "b";
    ndim 0 for a scalar; for a tuple "F*9", ("F*", 9, False).
    """
    args, _, result = spec.partition("->")
    parsed = []
    for token in args.split():
        written = token.endswith("!")
        token = token.rstrip("!")
        if "*" in token:
            parsed.append(("F*", int(token.split("*")[1]), False))
        else:
            parsed.append((token[0], int(token[1:] or 0), written))
    return parsed, result.strip() or None


def export_name(name, float_type):
    """The exported symbol of kernel ``name`` for one float type: "_relu_forward_float32"."""
    return f"{name}_{np.dtype(float_type).name}"
