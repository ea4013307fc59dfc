"""Himmelblau: value, hand-derived gradient and Hessian against the tape and central
differences, the four minima, and gradient descent reaching them."""
import numpy as np
import pytest

import backprop as bp
from backprop.tf import autodiff as ad
from backprop.tf.functions import (
    HIMMELBLAU_MINIMA, HIMMELBLAU_STARTS, DivergenceError, gradient_descent, himmelblau,
    himmelblau_gradient, himmelblau_hessian, nearest_minimum,
)

POINTS = np.random.default_rng(0).uniform(-5, 5, size=(6, 2))


def central_gradient(f, x, h=1e-6):
    x = np.asarray(x, dtype=np.float64)
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def relative_error(a, n):
    """max|a - n| / max(1e-8, max|a| + max|n|)."""
    a, n = np.asarray(a, float), np.asarray(n, float)
    return np.max(np.abs(a - n)) / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(n)))


def test_values():
    assert himmelblau([0.0, 0.0]) == 170.0                 # 121 + 49
    assert himmelblau(np.array([4.0, 0.0])) == 34.0        # the tutorial's start: 25 + 9
    assert himmelblau([3, 2]) == 0.0
    for minimum in HIMMELBLAU_MINIMA:
        assert himmelblau(minimum) < 1e-24


def test_grid_of_points():
    X, Y = np.meshgrid(np.linspace(-6, 6, 5), np.linspace(-6, 6, 7))
    Z = himmelblau(np.stack([X, Y]))
    assert Z.shape == (7, 5)
    assert Z[3, 2] == 170.0                                  # the centre (0, 0)
    np.testing.assert_array_equal(Z[0], [himmelblau([x, -6.0]) for x in X[0]])
    assert himmelblau_gradient(np.stack([X, Y])).shape == (2, 7, 5)
    assert himmelblau_hessian(np.stack([X, Y])).shape == (2, 2, 7, 5)


def test_on_a_tensor_it_is_recorded():
    x = bp.constant(np.array([1.0, -2.0]))
    with bp.GradientTape() as tape:
        tape.watch(x)
        y = himmelblau(x)
    assert isinstance(y, ad.Tensor) and y.dtype == np.float64
    assert float(y) == himmelblau([1.0, -2.0])
    assert tape.gradient(y, x) is not None


@pytest.mark.parametrize("point", POINTS)
def test_hand_gradient_matches_the_tape_and_central_differences(point):
    hand = himmelblau_gradient(point)
    numeric = central_gradient(himmelblau, point)
    x = bp.constant(point)
    with bp.GradientTape() as tape:
        tape.watch(x)
        y = himmelblau(x)
    tape_gradient = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(tape_gradient, hand, rtol=1e-13, atol=1e-12)
    assert relative_error(hand, numeric) < 1e-7


@pytest.mark.parametrize("point", POINTS)
def test_hand_hessian_matches_nested_tapes_and_differences_of_the_gradient(point):
    hand = himmelblau_hessian(point)
    numeric = np.stack([central_gradient(lambda p: himmelblau_gradient(p)[i], point)
                        for i in range(2)])
    assert relative_error(hand, numeric) < 1e-7
    x = bp.constant(point)
    with bp.GradientTape() as outer:
        outer.watch(x)
        with bp.GradientTape() as inner:
            inner.watch(x)
            y = himmelblau(x)
        g = inner.gradient(y, x)
    tape_hessian = outer.jacobian(g, x).numpy()
    np.testing.assert_allclose(tape_hessian, hand, rtol=1e-13, atol=1e-11)
    np.testing.assert_array_equal(hand, hand.T)


def test_the_four_minima_are_minima():
    assert HIMMELBLAU_MINIMA.shape == (4, 2)
    for minimum, rounded in zip(HIMMELBLAU_MINIMA, [(3, 2), (-2.805118, 3.131312),
                                                    (-3.779310, -3.283186),
                                                    (3.584428, -1.848126)]):
        np.testing.assert_allclose(minimum, rounded, atol=1e-6)
        np.testing.assert_allclose(himmelblau_gradient(minimum), 0, atol=1e-12)
        assert np.all(np.linalg.eigvalsh(himmelblau_hessian(minimum)) > 0)   # positive definite
    with pytest.raises(ValueError, match="read-only"):
        HIMMELBLAU_MINIMA[0, 0] = 1.0                                      # read-only


def test_nearest_minimum():
    assert nearest_minimum([2.9, 2.1])[0] == 0
    index, distance = nearest_minimum(HIMMELBLAU_MINIMA[2])
    assert index == 2 and distance == 0.0


def test_descent_from_minus_4_0_reaches_minus_3_779310_minus_3_283186():
    path, values = gradient_descent([-4.0, 0.0], lr=0.01, steps=200)
    assert path.shape == (201, 2) and values.shape == (201,)
    np.testing.assert_array_equal(path[0], [-4.0, 0.0])
    assert values[0] == 146.0                                # (16 - 11)^2 + (-11)^2
    np.testing.assert_allclose(path[-1], [-3.779310, -3.283186], atol=1e-5)
    assert values[-1] < 1e-20
    # every point of the path is one step x <- x - lr * df/dx from the previous one
    steps = path[:-1] - 0.01 * himmelblau_gradient(path[:-1].T).T
    np.testing.assert_allclose(path[1:], steps, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(values, himmelblau(path.T), rtol=1e-12, atol=1e-25)


def test_tape_and_hand_gradient_give_the_same_path():
    tape_path = gradient_descent([0.5, -1.0], lr=0.005, steps=50).path
    hand_path = gradient_descent([0.5, -1.0], lr=0.005, steps=50, use_tape=False).path
    np.testing.assert_allclose(tape_path, hand_path, rtol=1e-13, atol=1e-13)


def test_float32_like_the_tutorial():
    path, values = gradient_descent([-4.0, 0.0], dtype=np.float32)
    assert path.dtype == np.float32
    np.testing.assert_allclose(path[-1], [-3.779310, -3.283186], atol=1e-5)


def test_four_starts_find_the_four_minima():
    ends = [gradient_descent(start).path[-1] for start in HIMMELBLAU_STARTS]
    for end, minimum in zip(ends, HIMMELBLAU_MINIMA):
        np.testing.assert_allclose(end, minimum, atol=1e-5)
    assert sorted(nearest_minimum(end)[0] for end in ends) == [0, 1, 2, 3]


def test_callback_sees_every_point():
    seen = []
    path, values = gradient_descent([1.0, 1.0], steps=7,
                                    callback=lambda step, x, fx: seen.append((step, x, fx)))
    assert [s for s, _, _ in seen] == list(range(8))
    np.testing.assert_array_equal(np.array([x for _, x, _ in seen]), path)
    np.testing.assert_array_equal([fx for _, _, fx in seen], values)


def test_a_too_large_learning_rate_is_reported_as_divergence():
    seen = []
    with pytest.raises(DivergenceError, match="diverged at step .* try a smaller learning rate"):
        gradient_descent([-4.0, 0.0], lr=1.0, callback=lambda *a: seen.append(a[2]))
    assert seen and all(np.isfinite(seen))           # no nan or inf reached the callback


@pytest.mark.parametrize("kwargs, message", [
    (dict(start=[np.nan, 0.0]), "start must be two finite numbers"),
    (dict(start=[1.0, 2.0, 3.0]), "start must be two finite numbers"),
    (dict(start=[0.0, 0.0], lr=0.0), "lr must be a finite number > 0"),
    (dict(start=[0.0, 0.0], lr=-0.1), "lr must be a finite number > 0"),
    (dict(start=[0.0, 0.0], steps=0), "steps must be an integer >= 1"),
    (dict(start=[0.0, 0.0], steps=2.5), "steps must be an integer >= 1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gradient_descent(**kwargs)
