"""A small reverse-mode tape: ``GradientTape``, ``Variable``, ``constant`` and the ops it records.

This module owns the independent check on the hand-written engine. It knows nothing about
layers: it records elementary tensor ops while a ``GradientTape`` is active and replays
them backwards, one vector-Jacobian product (VJP) per op, the way TensorFlow 2's eager
tape does. ``backprop.tf`` puts TensorFlow's names over it (``import backprop.tf as tf``);
most of the tutorial's ``tf.*`` snippets also run with ``bp.*`` in their place::

    import backprop as bp
    w, b, x = bp.Variable(1.0), bp.Variable(2.0), bp.Variable(3.0)
    with bp.GradientTape() as t1:
        with bp.GradientTape() as t2:
            y = x * w + b
        dy_dw, dy_db = t2.gradient(y, [w, b])      # 3.0, 1.0
    d2y_dw2 = t1.gradient(dy_dw, w)                 # None: dy/dw = x does not depend on w

Semantics follow TensorFlow:

- A tape records an op when one of the op's inputs is *tracked* by it: watched with
  ``tape.watch``, a trainable ``Variable`` read while the tape is active (unless
  ``watch_accessed_variables=False``), or the output of an op it recorded. Only
  floating-point results are recorded.
- ``tape.gradient(target, sources)`` returns the gradient of ``sum(target)`` with the
  structure of ``sources`` (a list in, a list out; one source in, one result out). A
  source the target does not depend on gets ``None``.
- A non-persistent tape answers ``gradient`` (or ``jacobian``) once, then raises
  ``RuntimeError``; ``persistent=True`` keeps the records.
- The backward pass is built from the same tensor ops as the forward pass, so a tape that
  is active while another tape computes a gradient records that gradient computation:
  nested tapes give second derivatives.
- Python floats become float32 (TensorFlow's default); NumPy float64 arrays stay float64.
  A Python number or NumPy array combined with a tensor takes the tensor's dtype; two
  tensors of different dtypes raise ``TypeError`` (cast one with ``cast``).

Each op's docstring gives its VJP: ``g`` is the upstream gradient dE/d(out), and the
formula is written next to the line that computes it.

Modules, each importing only those above it (no cycles):

    recording.py    the stack of tapes recording in this thread
    tensor.py       conversions and dtype rules, Tensor, Variable, the op-output helper _op
    shapes.py       reshape, expand_dims, squeeze, transpose, broadcast_to and reduce_sum,
                    indexing, stack, concat
    elementwise.py  add ... where, negative ... cast, stop_gradient, equal ... greater
    reductions.py   reduce_mean, reduce_max, reduce_min, norm, argmax, argmin
    linalg.py       matmul (tf.linalg.matmul)
    creation.py     zeros, ones, *_like, one_hot, linspace, arange, random
    tape.py         GradientTape: recording, watching, the backward pass, gradient, jacobian

Tensor's operators call ops defined above it through a table the op modules fill when
imported (``tensor._register_operators``); importing this package imports them all.
"""
from .creation import arange, linspace, one_hot, ones, ones_like, random, zeros, zeros_like
from .elementwise import (absolute, add, cast, clip_by_value, divide, equal, exp, greater,
                          greater_equal, less, less_equal, log, log1p, maximum, minimum, multiply,
                          negative, not_equal, power, sqrt, square, stop_gradient, subtract, where)
from .linalg import matmul
from .reductions import argmax, argmin, norm, reduce_max, reduce_mean, reduce_min
from .shapes import (broadcast_to, concat, expand_dims, reduce_sum, reshape, squeeze, stack,
                     transpose)
from .tape import NON_PERSISTENT_MESSAGE, GradientTape
from .tensor import (Tensor, Variable,  # noqa: F401  (for nn.py: ops defined over the tape)
                     _as_tensor, _op, constant, convert_to_tensor, float32, float64)


__all__ = [
    "Tensor", "Variable", "GradientTape", "constant", "convert_to_tensor", "cast",
    "stop_gradient", "add", "subtract", "multiply", "divide", "power", "pow", "negative",
    "matmul", "exp", "log", "log1p", "sqrt", "square", "absolute", "abs", "maximum",
    "minimum", "where", "clip_by_value", "reduce_sum", "reduce_mean", "reduce_max",
    "reduce_min", "argmax", "argmin", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "broadcast_to", "reshape", "expand_dims", "squeeze", "transpose",
    "stack", "concat", "norm", "one_hot", "linspace", "arange", "zeros", "ones",
    "zeros_like", "ones_like", "random", "float32", "float64",
]

# TensorFlow's names; here, where no code runs, so no module body calls them for builtins
pow = power  # noqa: A001
abs = absolute  # noqa: A001
