"""Optimizers: each update recomputed independently from its formula, trajectories with a
closed form, convergence on a quadratic, state save/restore, and bad arguments."""
import numpy as np
import pytest

import backprop as bp

RNG = np.random.default_rng(0)


def F32(h):
    """A hyperparameter rounded to float32, as Keras's optimizers round eta (and Adam's
    betas in its bias correction)."""
    return float(np.float32(h))


def _run(opt_factory, w0, grads):
    w = w0.copy()
    opt = opt_factory([w])
    for g in grads:
        opt.step([g])
    return w, opt


GRADS = [RNG.normal(size=(3, 4)) for _ in range(4)]
W0 = RNG.normal(size=(3, 4))


def test_sgd_matches_formula(backend):
    w, _ = _run(lambda p: bp.SGD(p, lr=0.1), W0, GRADS)
    np.testing.assert_allclose(w, W0 - 0.1 * sum(GRADS), rtol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_formula(nesterov, backend):
    w_ref, v = W0.copy(), np.zeros_like(W0)
    for g in GRADS:  # Keras's form: v = mu v - eta g; w += v  (or w += mu v - eta g)
        v = 0.9 * v - 0.1 * g
        w_ref = w_ref + (0.9 * v - 0.1 * g if nesterov else v)
    w, _ = _run(lambda p: bp.SGD(p, lr=0.1, momentum=0.9, nesterov=nesterov), W0, GRADS)
    np.testing.assert_allclose(w, w_ref, rtol=1e-13)


def test_rmsprop_adagrad_adam_match_formulas(backend):
    s, w_ref = np.zeros_like(W0), W0.copy()
    for g in GRADS:
        s = 0.9 * s + 0.1 * g ** 2
        w_ref = w_ref - 0.01 * g / (np.sqrt(s) + 1e-7)
    np.testing.assert_allclose(_run(lambda p: bp.RMSProp(p, lr=0.01), W0, GRADS)[0], w_ref, rtol=1e-13)

    s, w_ref = np.zeros_like(W0), W0.copy()
    for g in GRADS:
        s = s + g ** 2
        w_ref = w_ref - 0.01 * g / (np.sqrt(s) + 1e-10)
    np.testing.assert_allclose(_run(lambda p: bp.Adagrad(p, lr=0.01), W0, GRADS)[0], w_ref, rtol=1e-13)

    m, v, w_ref = np.zeros_like(W0), np.zeros_like(W0), W0.copy()
    for t, g in enumerate(GRADS, start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g ** 2
        m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
        w_ref = w_ref - 0.001 * m_hat / (np.sqrt(v_hat) + 1e-8)
    w, opt = _run(lambda p: bp.Adam(p), W0, GRADS)
    np.testing.assert_allclose(w, w_ref, rtol=1e-13)
    assert opt.t == 4


def _rmsprop_ref(lr, rho, eps):
    s, w = np.zeros_like(W0), W0.copy()
    for g in GRADS:  # s = rho s + (1 - rho) g^2;  w -= eta g / (sqrt(s) + eps)
        s = rho * s + (1 - rho) * g ** 2
        w = w - lr * g / (np.sqrt(s) + eps)
    return w


def _adagrad_ref(lr, eps):
    s, w = np.zeros_like(W0), W0.copy()
    for g in GRADS:  # s += g^2;  w -= eta g / (sqrt(s) + eps)
        s = s + g ** 2
        w = w - lr * g / (np.sqrt(s) + eps)
    return w


def _adam_ref(lr, beta1, beta2, eps):
    m, v, w = np.zeros_like(W0), np.zeros_like(W0), W0.copy()
    for t, g in enumerate(GRADS, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


def _keras_rmsprop_ref(lr, rho, eps):
    s, w = np.zeros_like(W0), W0.copy()
    for g in GRADS:  # s = rho s + (1 - rho) g^2;  w -= eta g / sqrt(s + eps)
        s = rho * s + (1 - rho) * g ** 2
        w = w - F32(lr) * g / np.sqrt(s + eps)    # Keras's float32 eta
    return w


def _keras_adam_ref(lr, beta1, beta2, eps):
    m, v, w = np.zeros_like(W0), np.zeros_like(W0), W0.copy()
    for t, g in enumerate(GRADS, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        # Keras rounds eta, beta1, beta2 to float32 where they enter eta_t
        eta_t = F32(lr) * np.sqrt(1 - F32(beta2) ** t) / (1 - F32(beta1) ** t)
        w = w - eta_t * m / (np.sqrt(v) + eps)
    return w


NON_DEFAULT = [
    ("rmsprop", lambda p: bp.RMSProp(p, lr=0.05, rho=0.5, eps=1e-3),
     lambda: _rmsprop_ref(0.05, 0.5, 1e-3)),
    ("keras_rmsprop", lambda p: bp.KerasRMSProp(p, lr=0.05, rho=0.5, eps=1e-3),
     lambda: _keras_rmsprop_ref(0.05, 0.5, 1e-3)),
    ("keras_adam", lambda p: bp.KerasAdam(p, lr=0.05, beta1=0.5, beta2=0.9, eps=1e-3),
     lambda: _keras_adam_ref(0.05, 0.5, 0.9, 1e-3)),
    ("adagrad", lambda p: bp.Adagrad(p, lr=0.1, eps=1e-3), lambda: _adagrad_ref(0.1, 1e-3)),
    ("adam", lambda p: bp.Adam(p, lr=0.05, beta1=0.5, beta2=0.9, eps=1e-3),
     lambda: _adam_ref(0.05, 0.5, 0.9, 1e-3)),
]


@pytest.mark.parametrize("name,factory,reference", NON_DEFAULT, ids=[c[0] for c in NON_DEFAULT])
def test_non_default_hyperparameters_match_formulas(name, factory, reference, backend):
    """Every hyperparameter away from its default, over the 4 steps of GRADS."""
    w, opt = _run(factory, W0, GRADS)
    np.testing.assert_allclose(w, reference(), rtol=1e-13)
    assert opt.t == 4


def test_keras_forms_with_their_defaults_match_their_formulas(backend):
    """Keras's defaults: eta 1e-3, beta1 0.9, beta2 0.999, eps 1e-7; rho 0.9, eps 1e-7."""
    w, opt = _run(lambda p: bp.KerasAdam(p), W0, GRADS)
    np.testing.assert_allclose(w, _keras_adam_ref(1e-3, 0.9, 0.999, 1e-7), rtol=1e-13)
    assert (opt.lr, opt.beta1, opt.beta2, opt.eps) == (1e-3, 0.9, 0.999, 1e-7)
    w, opt = _run(lambda p: bp.KerasRMSProp(p), W0, GRADS)
    np.testing.assert_allclose(w, _keras_rmsprop_ref(1e-3, 0.9, 1e-7), rtol=1e-13)
    assert (opt.lr, opt.rho, opt.eps) == (1e-3, 0.9, 1e-7)


def test_the_two_forms_differ_from_the_first_step(backend):
    """Same hyperparameters, other weights: Keras's Adam is the paper's with eps /
    sqrt(1 - beta2^t) in place of eps; Keras's RMSProp divides by sqrt(s + eps), the
    paper's by sqrt(s) + eps: for g = 1e-4 the first step is 10 times as large."""
    g = np.array([1e-4, 0.5])
    paper, keras = np.zeros(2), np.zeros(2)
    bp.Adam([paper], eps=1e-7).step([g])
    bp.KerasAdam([keras], eps=1e-7).step([g])
    np.testing.assert_allclose(paper, -1e-3 * g / (np.abs(g) + 1e-7), rtol=1e-13)
    eta, b1, b2 = F32(1e-3), F32(0.9), F32(0.999)     # as Keras rounds them, in eta_t
    m, v = 0.1 * g, 0.001 * g * g
    eta_1 = eta * np.sqrt(1 - b2) / (1 - b1)
    np.testing.assert_allclose(keras, -eta_1 * m / (np.sqrt(v) + 1e-7), rtol=1e-13)
    # up to that rounding, the paper's form with eps / sqrt(1 - beta2) in place of eps
    np.testing.assert_allclose(keras, -1e-3 * g / (np.abs(g) + 1e-7 / np.sqrt(1e-3)), rtol=1e-5)
    assert abs(paper[0] - keras[0]) > 1e-3 * abs(paper[0])
    paper, keras = np.zeros(1), np.zeros(1)
    bp.RMSProp([paper]).step([np.array([1e-4])])
    bp.KerasRMSProp([keras]).step([np.array([1e-4])])
    assert paper[0] / keras[0] == pytest.approx(10.0, rel=0.01)


def test_sgd_and_momentum_on_a_quadratic_follow_the_closed_form(backend):
    """E = a w^2 / 2, dE/dw = a w: SGD gives w_t = (1 - eta a)^t w_0; momentum is the
    linear recurrence [w, v]_{t+1} = M [w, v]_t, so [w, v]_t = M^t [w_0, 0]."""
    a, eta, mu, steps = 3.0, 0.05, 0.8, 60
    for momentum, nesterov, M in [
            (0.0, False, None),
            (mu, False, np.array([[1 - eta * a, mu], [-eta * a, mu]])),
            (mu, True, np.array([[1 - eta * a * (1 + mu), mu * mu], [-eta * a, mu]]))]:
        w = np.array([2.0])
        opt = bp.SGD([w], lr=eta, momentum=momentum, nesterov=nesterov)
        for _ in range(steps):
            opt.step([a * w])
        expected = ((1 - eta * a) ** steps * 2.0 if M is None
                    else (np.linalg.matrix_power(M, steps) @ np.array([2.0, 0.0]))[0])
        assert w[0] == pytest.approx(expected, rel=1e-10, abs=1e-300)


def test_adaptive_methods_under_a_constant_gradient_follow_the_closed_form(backend):
    """E = c w (gradient c every step). Adam's bias correction makes m_hat = c and
    v_hat = c^2 exactly, so each step is eta c / (|c| + eps); Adagrad's s_t = t c^2;
    RMSProp's s_t = (1 - rho^t) c^2."""
    c, eta, steps = -0.3, 0.01, 50
    i = np.arange(1, steps + 1)
    cases = [
        (lambda p: bp.Adam(p, lr=eta), steps * eta * c / (abs(c) + 1e-8)),
        (lambda p: bp.Adagrad(p, lr=eta), np.sum(eta * c / (np.sqrt(i) * abs(c) + 1e-10))),
        (lambda p: bp.RMSProp(p, lr=eta), np.sum(eta * c / (np.sqrt(1 - 0.9 ** i) * abs(c) + 1e-7))),
        # Keras's forms: m_t = (1 - b1^t) c, v_t = (1 - b2^t) c^2, s_t = (1 - rho^t) c^2
        # (eta, beta1 and beta2 rounded to float32 in eta_t, as Keras does)
        (lambda p: bp.KerasAdam(p, lr=eta), np.sum(
            F32(eta) * np.sqrt(1 - F32(0.999) ** i) / (1 - F32(0.9) ** i) * (1 - 0.9 ** i) * c
            / (np.sqrt(1 - 0.999 ** i) * abs(c) + 1e-7))),
        (lambda p: bp.KerasRMSProp(p, lr=eta), np.sum(
            F32(eta) * c / np.sqrt((1 - 0.9 ** i) * c * c + 1e-7))),
    ]
    for factory, total_step in cases:
        w, _ = _run(factory, np.array([1.0]), [np.array([c])] * steps)
        assert w[0] == pytest.approx(1.0 - total_step, rel=1e-12)


@pytest.mark.parametrize("name", list(bp.OPTIMIZERS))
def test_every_optimizer_finds_the_minimum_of_a_quadratic(name, backend):
    """E = 1/2 sum_i a_i (w_i - w*_i)^2 has its minimum at w*."""
    a = np.array([1.0, 4.0, 0.5])
    target = np.array([1.0, -2.0, 0.5])
    w = np.zeros(3)
    lr = {"sgd": 0.2, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 0.01, "adagrad": 0.5,
          "adam": 0.05, "keras_rmsprop": 0.01, "keras_adam": 0.05}[name]
    opt = bp.get_optimizer(name, [w], lr=lr)
    for _ in range(2000):
        opt.step([a * (w - target)])
    np.testing.assert_allclose(w, target, atol=2e-2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_stays_float32(dtype, backend):
    w = np.ones((2, 3), dtype)
    opt = bp.Adam([w])
    opt.step([np.full((2, 3), 0.5, dtype)])
    assert w.dtype == dtype and opt.state["m"][0].dtype == dtype
    np.testing.assert_allclose(w, 1 - 0.001, rtol=1e-6)


def test_state_round_trip_continues_identically(backend):
    w1 = W0.copy()
    opt1 = bp.Adam([w1])
    for g in GRADS[:2]:
        opt1.step([g])
    w2 = w1.copy()
    opt2 = bp.Adam([w2])
    opt2.load_state_arrays(opt1.state_arrays())
    for g in GRADS[2:]:
        opt1.step([g])
        opt2.step([g])
    np.testing.assert_array_equal(w1, w2)
    with pytest.raises(ValueError, match="m.0 has shape"):
        bp.Adam([np.zeros(5)]).load_state_arrays(opt1.state_arrays())


# (optimizer, keyword, bad value, error, message): the command line's wording
# (``backprop train --lr x``: "expected a number, got 'x'"), prefixed with the name
BAD_HYPERPARAMETERS = [
    (bp.SGD, "lr", "0.1", TypeError, "lr: expected a number, got '0.1'"),
    (bp.SGD, "lr", True, TypeError, "lr: expected a number, got True"),
    (bp.SGD, "lr", None, TypeError, "lr: expected a number, got None"),
    (bp.SGD, "lr", -1, ValueError, "lr: expected a positive number, got -1"),
    (bp.SGD, "lr", 0.0, ValueError, "lr: expected a positive number, got 0.0"),
    (bp.SGD, "lr", float("nan"), ValueError, "lr: expected a finite number, got nan"),
    (bp.SGD, "lr", float("inf"), ValueError, "lr: expected a finite number, got inf"),
    (bp.SGD, "momentum", 1.5, ValueError, r"momentum: expected a number in \[0, 1\), got 1.5"),
    (bp.SGD, "momentum", "0.9", TypeError, "momentum: expected a number, got '0.9'"),
    (bp.SGD, "momentum", False, TypeError, "momentum: expected a number, got False"),
    (bp.SGD, "nesterov", 1, TypeError, "nesterov: expected True or False, got 1"),
    (bp.SGD, "nesterov", "yes", TypeError, "nesterov: expected True or False, got 'yes'"),
    (bp.SGD, "nesterov", True, ValueError, "nesterov: Nesterov momentum needs momentum > 0"),
    (bp.RMSProp, "rho", 1.0, ValueError, r"rho: expected a number in \[0, 1\), got 1.0"),
    (bp.RMSProp, "rho", -0.1, ValueError, r"rho: expected a number in \[0, 1\), got -0.1"),
    (bp.RMSProp, "eps", 0, ValueError, "eps: expected a positive number, got 0"),
    (bp.KerasRMSProp, "eps", "1e-7", TypeError, "eps: expected a number, got '1e-7'"),
    (bp.Adagrad, "eps", -1e-10, ValueError, "eps: expected a positive number, got -1e-10"),
    (bp.Adagrad, "lr", [0.1], TypeError, r"lr: expected a number, got \[0.1\]"),
    (bp.Adam, "beta1", 1.0, ValueError, r"beta1: expected a number in \[0, 1\), got 1.0"),
    (bp.Adam, "beta2", "0.999", TypeError, "beta2: expected a number, got '0.999'"),
    (bp.Adam, "eps", float("nan"), ValueError, "eps: expected a finite number, got nan"),
    (bp.KerasAdam, "beta2", 2, ValueError, r"beta2: expected a number in \[0, 1\), got 2"),
    (bp.KerasAdam, "lr", np.bool_(True), TypeError, "lr: expected a number, got "),
]


@pytest.mark.parametrize("make, keyword, value, error, message", BAD_HYPERPARAMETERS,
                         ids=[f"{c[0].__name__}-{c[1]}-{c[2]!r}" for c in BAD_HYPERPARAMETERS])
def test_every_hyperparameter_is_checked_for_type_and_range(make, keyword, value, error,
                                                            message):
    with pytest.raises(error, match=f"^{message}"):
        make([np.zeros(2)], **{keyword: value})


def test_good_hyperparameters_of_any_number_type_are_kept_as_floats():
    opt = bp.SGD([np.zeros(2)], lr=np.float32(0.5), momentum=0, nesterov=np.bool_(False))
    assert (opt.lr, opt.momentum, opt.nesterov) == (0.5, 0.0, False)
    assert type(opt.lr) is float and type(opt.nesterov) is bool
    assert bp.Adam([np.zeros(2)], lr=1, beta1=0).config()["lr"] == 1.0


def test_the_messages_are_the_command_lines():
    """The optimizer's message for a learning rate that is no positive number is the one
    ``backprop train --lr`` prints for the same value."""
    import argparse
    from backprop.app import cli_common
    for text in ("-1", "0"):
        with pytest.raises(argparse.ArgumentTypeError) as from_cli:
            cli_common.positive_float(text)
        with pytest.raises(ValueError) as from_library:
            bp.SGD([np.zeros(2)], lr=int(text))
        assert str(from_library.value) == f"lr: {from_cli.value}"


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'.*adam"):
        bp.get_optimizer("lbfgs", [np.zeros(2)])
    with pytest.raises(ValueError, match="float32 or float64"):
        bp.Adam([np.zeros(2, int)])
    opt = bp.Adam([np.zeros(2)])
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3,\) and dtype float64"):
        opt.step([np.zeros(3)])
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(2,\) and dtype float32"):
        opt.step([np.zeros(2, np.float32)])
    with pytest.raises(ValueError, match="2 gradients for 1 parameters"):
        opt.step([np.zeros(2), np.zeros(2)])


@pytest.mark.parametrize("name", list(bp.OPTIMIZERS))
def test_one_pass_over_a_models_flat_theta_equals_one_pass_per_parameter(name, backend):
    """A Sequential's weights are one flat vector, model.params, which the optimizer
    updates in one kernel call; separate arrays take one call each. Same numbers."""
    model = bp.Sequential.mlp([5, 4, 3], rng=0)
    separate = [p.copy() for p in model.named_params().values()]
    fused_opt = bp.get_optimizer(name, model.params, lr=0.01)
    separate_opt = bp.get_optimizer(name, separate, lr=0.01)
    assert len(fused_opt.params) == 1 and fused_opt.params[0] is model.params
    assert len(separate_opt.params) == 4
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.normal(size=(6, 5)).astype(np.float32)
        loss = bp.SoftmaxCrossEntropy()
        loss.forward(model.forward(x), rng.integers(0, 3, 6))
        model.backward(loss.backward())
        grads = [g.copy() for g in model.named_grads().values()]
        fused_opt.step(model.grads)
        separate_opt.step(grads)
    for a, b in zip(model.named_params().values(), separate):
        np.testing.assert_array_equal(a, b)
    for slot in fused_opt.state:
        flat = np.concatenate([a.reshape(-1) for a in separate_opt.state[slot]])
        np.testing.assert_array_equal(fused_opt.state[slot][0], flat)
