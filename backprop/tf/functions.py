"""Test functions for optimizers and gradient checks, with hand-derived derivatives.

This module owns Himmelblau's function (the tutorial's gradient-descent example): its value
on NumPy arrays and on tape tensors, its gradient and Hessian derived by hand, its four
minima, and plain gradient descent on it with the gradient taken by the tape, as the
tutorial does with ``tf.GradientTape``. Other test functions belong here too.

    f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2
"""
from typing import NamedTuple

import numpy as np

from .autodiff import GradientTape, Tensor, constant


__all__ = [
    "himmelblau", "himmelblau_gradient", "himmelblau_hessian", "HIMMELBLAU_MINIMA",
    "HIMMELBLAU_STARTS",
    "nearest_minimum", "gradient_descent", "DescentPath", "DivergenceError",
]

HIMMELBLAU_MINIMA = np.array([
    [3.0, 2.0],
    [-2.805118086952745, 3.131312518250573],
    [-3.779310253377747, -3.283185991286170],
    [3.584428340330492, -1.848126526964404],
])
"""The four minima of Himmelblau's function, f = 0 at each, one per row (x, y).

(3, 2) is exact; the others are roots of the gradient found with Newton's method,
about (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126).
"""
HIMMELBLAU_MINIMA.flags.writeable = False


def _points(x):
    """Tensors as they are; anything else as a float NumPy array."""
    if isinstance(x, Tensor):
        return x
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def himmelblau(x):
    """f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2, with x = x[0], y = x[1].

    Parameters
    ----------
    x : array-like or Tensor, shape (2, ...)
        One point, or a grid of points stacked on the first axis (``np.stack([X, Y])``).
        On a tape tensor the result is recorded, so the tape can differentiate it.

    Returns
    -------
    ndarray or Tensor of shape x.shape[1:]
    """
    x = _points(x)
    # the tutorial's line, unchanged
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def himmelblau_gradient(x):
    """The gradient, derived by hand, shape (2, ...) like ``x``.

    With u = x^2 + y - 11 and v = x + y^2 - 7 (f = u^2 + v^2):

        df/dx = 2u du/dx + 2v dv/dx = 4x u + 2v
        df/dy = 2u du/dy + 2v dv/dy = 2u + 4y v
    """
    x, y = np.asarray(_points(x))
    u = x ** 2 + y - 11
    v = x + y ** 2 - 7
    return np.stack([4 * x * u + 2 * v,      # df/dx = 4x(x^2 + y - 11) + 2(x + y^2 - 7)
                     2 * u + 4 * y * v])     # df/dy = 2(x^2 + y - 11) + 4y(x + y^2 - 7)


def himmelblau_hessian(x):
    """The Hessian, derived by hand, shape (2, 2, ...).

        d2f/dx2  = 4u + 8x^2 + 2 = 12x^2 + 4y - 42
        d2f/dxdy = 4x + 4y
        d2f/dy2  = 2 + 4v + 8y^2 = 4x + 12y^2 - 26
    """
    x, y = np.asarray(_points(x))
    fxx = 12 * x ** 2 + 4 * y - 42
    fxy = 4 * x + 4 * y
    fyy = 4 * x + 12 * y ** 2 - 26
    return np.stack([np.stack([fxx, fxy]), np.stack([fxy, fyy])])


def nearest_minimum(point):
    """(index into HIMMELBLAU_MINIMA, Euclidean distance) of the minimum closest to ``point``."""
    distances = np.linalg.norm(HIMMELBLAU_MINIMA - np.asarray(point, dtype=float), axis=1)
    index = int(np.argmin(distances))
    return index, float(distances[index])


HIMMELBLAU_STARTS = ((1.0, 0.0), (-2.0, 2.0), (-4.0, 0.0), (4.0, 0.0))
"""Four starts from which gradient descent (lr 0.01, 200 steps) reaches each minimum of
HIMMELBLAU_MINIMA, in that order."""


class DivergenceError(ValueError):
    """Gradient descent left the finite numbers (the learning rate is too large)."""


class DescentPath(NamedTuple):
    """The points visited and f at each: ``path`` (steps + 1, 2), ``values`` (steps + 1,)."""

    path: np.ndarray
    values: np.ndarray


def gradient_descent(start, lr=0.01, steps=200, use_tape=True, dtype=np.float64,
                     callback=None):
    """Plain gradient descent on Himmelblau's function: x <- x - eta df/dx.

    With ``use_tape`` the gradient comes from a ``GradientTape`` exactly as in the
    tutorial (``tape.watch`` on a constant, ``x -= lr * grads``); otherwise from
    ``himmelblau_gradient``.

    Parameters
    ----------
    start : (2,) array-like, finite
    lr : float > 0
        The learning rate eta.
    steps : int >= 1
        Number of updates; the path has steps + 1 points (the start included).
    use_tape : bool
    dtype : float dtype, default float64
        The tutorial computes in float32; float64 reaches the minima to ~1e-12.
    callback : callable(step, x, fx), optional
        Called at every point, step = 0..steps, with x a (2,) ndarray and fx = f(x).
        (The tutorial prints x after the update next to f before it; here a step's x
        and f(x) belong together.)

    Returns
    -------
    DescentPath
        ``path`` of shape (steps + 1, 2) and ``values`` of shape (steps + 1,).

    Raises
    ------
    ValueError
        For a bad argument.
    DivergenceError
        When x or f(x) stops being finite (a ValueError, raised before the bad point is
        passed to ``callback``).
    """
    start = np.asarray(start, dtype=dtype)
    if start.shape != (2,) or not np.all(np.isfinite(start)):
        raise ValueError(f"start must be two finite numbers, got {start.tolist()}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)

    path = np.empty((steps + 1, 2), dtype)
    values = np.empty(steps + 1, dtype)
    x = constant(start, dtype) if use_tape else start.copy()
    with np.errstate(over="ignore", invalid="ignore"):        # divergence is checked below
        for step in range(steps + 1):
            if use_tape:
                with GradientTape() as tape:
                    tape.watch([x])
                    y = himmelblau(x)
                grads = tape.gradient(y, [x])[0]
                point, fx = x.numpy(), float(y)
            else:
                point = x.copy()
                fx = float(himmelblau(point))
                grads = himmelblau_gradient(point)
            if step == 0 and not np.isfinite(fx):
                raise ValueError(f"f(x) = {fx} at the start x = {point.tolist()}: Himmelblau's "
                                 f"function overflows there; start nearer the minima")
            if not (np.all(np.isfinite(point)) and np.isfinite(fx)):
                raise DivergenceError(
                    f"gradient descent diverged at step {step} with lr={lr}: "
                    f"x = {point.tolist()}, f(x) = {fx}; try a smaller learning rate")
            path[step], values[step] = point, fx
            if callback is not None:
                callback(step, point, fx)
            if step < steps:
                x -= lr * grads                                # x <- x - eta df/dx
    return DescentPath(path, values)
