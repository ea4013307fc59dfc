"""The matrix product (``tf.linalg.matmul``) and its VJP: for z = a b, dE/da = g b^T and
dE/db = a^T g."""
import numpy as np

from .shapes import _sum_to_shape, reshape, transpose
from .tensor import _op, _pair, _register_operators


def _swap_last(x):
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return transpose(x, perm)


def _matmul_2d(a, b):
    """a @ b, both of rank >= 2. VJP: dE/da = g b^T, dE/db = a^T g (batch axes summed)."""
    return _op(np.matmul(a._value, b._value), (a, b),
               (lambda g: _sum_to_shape(matmul(g, _swap_last(b)), a.shape),
                lambda g: _sum_to_shape(matmul(_swap_last(a), g), b.shape)))


def matmul(a, b):
    """Matrix product with NumPy's rules (1-D operands are promoted, batch axes broadcast).

    For a batch of rows O (B, n_in) and weights W (n_in, n_out): ``matmul(O, W)`` is the
    net input x = O W, and the VJPs are dE/dO = g W^T, dE/dW = O^T g.
    """
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs tensors of rank >= 1; use * for scalars")
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    if a_vector:
        a = reshape(a, (1, a.shape[0]))          # row vector
    if b_vector:
        b = reshape(b, (b.shape[0], 1))          # column vector
    out = _matmul_2d(a, b)
    if not (a_vector or b_vector):
        return out
    shape = list(out.shape)
    if b_vector:
        shape.pop(-1)
    if a_vector:
        shape.pop(-1 if b_vector else -2)
    return reshape(out, tuple(shape))


_register_operators(matmul)
