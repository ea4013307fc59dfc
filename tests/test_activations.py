"""Activations: values, derivatives against central differences, stability, names."""
import numpy as np
import pytest

import backprop as bp
from backprop.core.gradient_check import numeric_gradient, relative_error

ELEMENTWISE = [bp.Identity(), bp.Sigmoid(), bp.Tanh(), bp.ReLU(), bp.LeakyReLU(0.2),
               bp.LeakyReLU(0.05)]


def _name(act):
    """Test id: the name, plus alpha for LeakyReLU (two alphas are tested)."""
    return f"{act.name}{getattr(act, 'alpha', '')}"


def _away_from_kinks(shape, seed):
    """Samples at least 1e-3 from 0, so the ReLU kink lies far beyond h = 1e-6."""
    x = np.random.default_rng(seed).uniform(-4, 4, shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def test_values_match_the_formulas(backend):
    x = np.linspace(-5, 5, 41)
    np.testing.assert_allclose(bp.Sigmoid()(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(bp.Tanh()(x), np.tanh(x), rtol=1e-15)
    np.testing.assert_array_equal(bp.ReLU()(x), np.maximum(x, 0))
    np.testing.assert_array_equal(bp.LeakyReLU(0.2)(x), np.where(x >= 0, x, 0.2 * x))
    np.testing.assert_array_equal(bp.LeakyReLU(0.05)(x), np.where(x >= 0, x, 0.05 * x))
    np.testing.assert_array_equal(bp.Identity()(x), x)
    p = bp.Softmax()(x.reshape(1, -1))
    np.testing.assert_allclose(p[0], np.exp(x) / np.exp(x).sum(), rtol=1e-13)


@pytest.mark.parametrize("act", ELEMENTWISE, ids=_name)
def test_derivative_matches_central_differences(act, backend):
    x = _away_from_kinks((40,), seed=0)
    numeric = np.array([(act(np.array([v + 1e-6]))[0] - act(np.array([v - 1e-6]))[0]) / 2e-6
                        for v in x])
    assert relative_error(act.derivative(x), numeric) < 1e-8


@pytest.mark.parametrize("act", ELEMENTWISE + [bp.Softmax()], ids=_name)
def test_delta_step_is_the_vector_jacobian_product(act, backend):
    """delta = f'(z) * g (softmax: p * (g - sum g p)) against differences of sum(g * f(z))."""
    z = _away_from_kinks((3, 5), seed=1)
    g = np.random.default_rng(2).normal(size=(3, 5))
    numeric = numeric_gradient(lambda: float(np.sum(g * act(z))), z)
    assert relative_error(act.backward(z, g), numeric) < 1e-8


@pytest.mark.parametrize("make", [lambda: bp.LeakyReLU(0.05),
                                  lambda: bp.get_activation("leaky_relu", alpha=0.05)],
                         ids=["class", "by_name"])
def test_leaky_relu_non_default_alpha_in_value_derivative_and_delta(make, backend):
    """alpha = 0.05, not the default 0.2: O = x or 0.05 x, f' = 1 or 0.05,
    delta = f' * g, db = sum over the batch of delta."""
    act = make()
    assert act.alpha == 0.05
    z = _away_from_kinks((4, 5), seed=3)
    g = np.random.default_rng(4).normal(size=(4, 5))
    slope = np.where(z >= 0, 1.0, 0.05)
    np.testing.assert_array_equal(act(z), np.where(z >= 0, z, 0.05 * z))
    np.testing.assert_array_equal(act.derivative(z), slope)
    delta, db = np.empty_like(g), np.empty(5)
    act.delta(z, g, delta, db)  # the layer's step, as Dense.backward calls it
    np.testing.assert_allclose(delta, slope * g, rtol=1e-15)
    np.testing.assert_allclose(db, (slope * g).sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(act.backward(z, g), slope * g, rtol=1e-15)


def test_relu_derivative_at_zero_is_one_by_convention(backend):
    assert bp.ReLU().derivative(np.array([0.0]))[0] == 1.0
    assert bp.LeakyReLU(0.2).derivative(np.array([0.0]))[0] == 1.0
    assert bp.ReLU().backward(np.array([[0.0, -1e-300]]), np.array([[3.0, 3.0]])).tolist() == [[3.0, 0.0]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_softmax_are_stable_for_huge_inputs(dtype, backend):
    x = np.array([[-5000.0, -1000.0, -40.0, 0.0, 40.0, 1000.0, 5000.0]], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = bp.Sigmoid()(x)
        p = bp.Softmax()(x)
    assert s.dtype == dtype and p.dtype == dtype
    assert np.all(np.isfinite(s)) and s[0, 0] == 0.0 and s[0, -1] == 1.0 and s[0, 3] == 0.5
    assert np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-6 and p[0, -1] == 1.0


def test_softmax_jacobian_is_diag_p_minus_p_pT():
    z = np.array([1.0, 2.0, 0.5])
    p = np.exp(z) / np.exp(z).sum()
    J = bp.Softmax().jacobian(z)
    numeric = np.stack([(bp.Softmax()(z + h) - bp.Softmax()(z - h)) / 2e-6
                        for h in np.eye(3) * 1e-6], axis=1)
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), rtol=1e-14)
    assert relative_error(J, numeric) < 1e-8
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-15)  # sum_i p_i = 1 for every z


def test_unknown_activation_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*sigmoid.*relu"):
        bp.get_activation("swish")
    with pytest.raises(ValueError, match="alpha"):
        bp.LeakyReLU(-1)
    with pytest.raises(ValueError, match="Jacobian"):
        bp.Softmax().derivative(np.zeros(3))
