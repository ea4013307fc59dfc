"""The delta rule against central differences (float64, relative error < 1e-6):
one layer against a random upstream gradient, and whole 3- and 4-layer networks over
their flattened parameters, for every activation x loss pair. Also: the checker can fail;
any function f(x) against its df or the tape's gradient; the elementwise verdict; the
words for a trivial pass and for a failure at a ReLU kink; bp.three_way_check.

ReLU kinks: the central difference is wrong within h of z = 0, so every check asserts
that the closest ReLU net input is over 1000 h away (the report's kink_margin).
"""
import numpy as np
import pytest

import backprop as bp
from backprop.tf import autodiff as ad
from backprop.core.gradient_check import (OUTPUT_ACTIVATIONS, check_layer, check_model,
                                     check_problem, compare, keep_away_from_kinks,
                                     three_way_check)
from tiny_runs import assert_one_line_error, run_cli

BOUND = 1e-6
H = 1e-6
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]

# (output activation, loss, targets): every loss with each output it is meant for
PAIRS = [
    (out, loss_name)
    for out in ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
    for loss_name in ["mse_half_sum", "mse_mean"]
] + [("identity", "softmax_ce"), ("softmax", "categorical_ce"), ("sigmoid", "binary_ce"),
     ("identity", "binary_ce_logits")]


def make_loss(name):
    return {"mse_half_sum": lambda: bp.MSE("half_sum"), "mse_mean": lambda: bp.MSE("mean"),
            "softmax_ce": bp.SoftmaxCrossEntropy, "categorical_ce": bp.CategoricalCrossEntropy,
            "binary_ce": bp.BinaryCrossEntropy,
            "binary_ce_logits": lambda: bp.BinaryCrossEntropy(from_logits=True)}[name]()


def targets(loss_name, B, K, rng):
    if loss_name in ("softmax_ce", "categorical_ce"):
        return rng.integers(0, K, B)
    if loss_name.startswith("binary"):
        return rng.integers(0, 2, (B, K)).astype(float)
    return rng.normal(size=(B, K))


@pytest.mark.parametrize("activation", HIDDEN + ["softmax"])
def test_one_layer_against_a_random_upstream_gradient(activation, backend):
    rng = np.random.default_rng(1)
    layer = bp.Dense(4, 3, activation=activation, rng=2, dtype=np.float64)
    layer.b[...] = rng.uniform(-0.5, 0.5, 3)
    x = rng.normal(size=(5, 4))
    keep_away_from_kinks(bp.Sequential([layer]), x)
    report = check_layer(layer, x, seed=3)
    assert report.kink_margin > 1000 * H
    assert report.max_error < BOUND, str(report)
    assert [c.name for c in report.checks] == ["dE/dW", "dE/db", "dE/dx"]


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output,loss_name", PAIRS)
def test_whole_network_over_its_flattened_parameters(hidden, output, loss_name, backend):
    rng = np.random.default_rng(4)
    model = bp.Sequential.mlp([5, 4, 4, 3], activation=hidden, output_activation=output,
                              rng=5, dtype=np.float64)
    x = rng.normal(size=(6, 5))
    keep_away_from_kinks(model, x)
    report = check_model(model, make_loss(loss_name), x, targets(loss_name, 6, 3, rng))
    assert report.kink_margin > 1000 * H
    assert len(report.checks) == 6
    assert report.max_error < BOUND, str(report)


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_four_layer_network_with_softmax_cross_entropy(hidden, backend):
    rng = np.random.default_rng(6)
    model = bp.Sequential.mlp([6, 5, 5, 4, 3], activation=hidden, rng=7, dtype=np.float64)
    x = rng.normal(size=(8, 6))
    keep_away_from_kinks(model, x)
    report = bp.gradcheck(model, bp.SoftmaxCrossEntropy(), x, rng.integers(0, 3, 8))
    assert report.max_error < BOUND and len(report.checks) == 8, str(report)


def test_leaky_relu_with_non_default_alpha_delta_rule_tape_and_numeric_agree(backend):
    """LeakyReLU(0.05) in every layer: the delta rule and the tape (nn.leaky_relu with
    alpha=0.05) against central differences, with net inputs on both sides of 0."""
    rng = np.random.default_rng(8)
    model = bp.Sequential.mlp([5, 4, 4, 3], activation=bp.LeakyReLU(0.05),
                              output_activation=bp.LeakyReLU(0.05), rng=9, dtype=np.float64)
    x = rng.normal(size=(6, 5))
    keep_away_from_kinks(model, x)
    assert [layer.activation.alpha for layer in model.layers] == [0.05] * 3
    report = three_way_check(model, bp.MSE(), x, rng.normal(size=(6, 3)))
    assert report.kink_margin > 1000 * H
    assert all(np.any(layer.cache < 0) for layer in model.layers)  # the alpha slope is used
    assert report.max_error < BOUND, str(report)
    assert max(row[2].error for row in report.rows) < 1e-12, str(report)


def test_the_check_fails_on_a_wrong_gradient(monkeypatch):
    """Break tanh's delta (f' = 1 - O instead of 1 - O^2): the report must fail and name it."""
    model = bp.Sequential.mlp([3, 4, 2], activation="tanh", rng=0, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(4, 3))
    t = np.random.default_rng(1).normal(size=(4, 2))

    def wrong_delta(self, O, g, delta, db):
        delta[...] = (1 - O) * g
        delta.sum(axis=0, out=db)

    monkeypatch.setattr(bp.Tanh, "delta", wrong_delta)
    report = bp.gradcheck(model, bp.MSE(), x, t)
    assert not report.ok
    failed = [c.name for c in report.checks if c.error > BOUND]
    assert failed == ["dE/dW1", "dE/db1"]  # the output layer is linear, so it is still right
    assert "FAIL" in str(report)


def test_gradcheck_refuses_float32():
    model = bp.Sequential.mlp([3, 2], rng=0)
    with pytest.raises(ValueError, match="float64"):
        bp.gradcheck(model, bp.MSE(), np.zeros((2, 3)), np.zeros((2, 2)))


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("loss_name", list(OUTPUT_ACTIVATIONS))
def test_three_way_delta_rule_tape_and_numeric_agree(hidden, loss_name, backend):
    """The same function ``backprop gradcheck`` runs, for every activation x loss pair."""
    model, loss, x, t = check_problem(hidden=(5, 4), activation=hidden, loss=loss_name, seed=3)
    report = three_way_check(model, loss, x, t)
    assert len(report.rows) == 6
    assert report.max_error < BOUND, str(report)
    # the delta rule and the tape differ only by rounding, far below the numeric error
    assert max(row[2].error for row in report.rows) < 1e-12, str(report)


def test_cli_gradcheck_prints_the_table_and_fails_above_the_bound(capsys, monkeypatch):
    from backprop.app.cli import main
    assert main(["gradcheck", "--hidden", "5,4", "--activation", "tanh", "--loss", "mse"]) == 0
    out = capsys.readouterr().out
    assert "delta rule vs tape" in out and "W3" in out and ": ok" in out
    assert main(["gradcheck", "--all", "--hidden", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok") == len(HIDDEN) * len(OUTPUT_ACTIVATIONS) + 1

    def wrong_delta(self, O, g, delta, db):
        delta[...] = (1 - O) * g
        delta.sum(axis=0, out=db)

    monkeypatch.setattr(bp.Tanh, "delta", wrong_delta)
    assert main(["gradcheck", "--activation", "tanh"]) == 1
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("loss_name, output", [("bce", "relu"), ("bce", "identity"),
                                               ("categorical_ce", "tanh")])
def test_a_probability_loss_after_an_output_that_is_no_probability_is_refused(
        loss_name, output, capsys):
    """Clipping would make the numeric check disagree with a correct delta rule."""
    with pytest.raises(ValueError, match=f"loss {loss_name} takes probabilities in \\(0, 1\\)"):
        check_problem(loss=loss_name, output=output)
    code, _, err = run_cli(capsys, ["gradcheck", "--loss", loss_name, "--output", output])
    assert f"must be sigmoid or softmax, not {output}" in assert_one_line_error(code, err)
    check_problem(loss=loss_name, output="softmax")  # a probability output is fine


def test_cli_gradcheck_seed_must_be_a_whole_number_at_least_0(capsys):
    code, _, err = run_cli(capsys, ["gradcheck", "--seed", "-1"])
    line = assert_one_line_error(code, err)
    assert "argument --seed: expected a number >= 0, got -1" in line, line


# ------------------------------------------------ any function; the elementwise verdict; words


def test_any_function_against_its_hand_written_gradient():
    """Himmelblau's f with its gradient derived by hand (backprop.tf.functions), and the
    same gradient with one term dropped (df/dy without 4y v), which is caught."""
    from backprop.tf.functions import himmelblau, himmelblau_gradient
    for point in ([1.0, 2.0], [-3.0, 0.5], [3.5, -1.8]):
        report = bp.gradcheck(himmelblau, point, himmelblau_gradient)
        assert report.ok and report.max_error < 1e-9, str(report)
        assert [c.name for c in report.checks] == ["df/dx"]
        np.testing.assert_allclose(report.checks[0].analytic,
                                   himmelblau_gradient(point)[report.checks[0].worst_index],
                                   rtol=0)

    def wrong(p):
        x, y = p
        u, v = x ** 2 + y - 11, x + y ** 2 - 7
        return np.array([4 * x * u + 2 * v, 2 * u])      # df/dy lacks + 4y v

    report = bp.gradcheck(himmelblau, [1.0, 2.0], wrong)
    assert not report.ok and report.checks[0].worst_index == (1,)
    assert report.checks[0].analytic == -16.0            # 2u at (1, 2), u = -8
    assert report.checks[0].numeric == pytest.approx(-32.0, abs=1e-6)   # 2u + 4y v, v = -2
    assert "FAIL" in str(report)


def test_a_function_of_bp_operations_is_checked_against_the_tapes_gradient():
    x = np.linspace(-1.0, 1.0, 5)
    report = bp.gradcheck(lambda v: ad.reduce_sum(ad.exp(v) * v), x)
    assert report.ok and report.max_error < 1e-9, str(report)
    worst = report.checks[0].worst_index
    assert report.checks[0].analytic == pytest.approx(((1 + x) * np.exp(x))[worst], rel=1e-14)
    with pytest.raises(ValueError, match="write f with the tape's operations .* or give its gradient as df"):
        bp.gradcheck(lambda v: float(np.sum(v ** 2)), x)
    with pytest.raises(ValueError, match=r"f must map an array to a scalar, got shape \(5,\)"):
        bp.gradcheck(lambda v: v ** 2, x, lambda v: 2 * v)
    with pytest.raises(ValueError, match=r"df must return an array of x's shape \(5,\)"):
        bp.gradcheck(lambda v: np.sum(v ** 2), x, lambda v: 2 * v[:2])


def test_the_elementwise_verdict_fails_an_entry_that_is_all_error():
    """a = [1, 1e-7] against n = [1, 0]: norm-wise 5e-8, under the bound, but the second
    entry is 100% wrong: |a - n| = 1e-7 > atol + rtol |n| = 1e-8."""
    check = compare("g", [1.0, 1e-7], [1.0, 0.0])
    assert check.error == pytest.approx(5e-8, rel=1e-12)
    assert (check.failures, check.size, check.worst_index) == (1, 2, (1,))
    assert (check.analytic, check.numeric) == (1e-7, 0.0)
    report = bp.gradcheck(lambda x: 0.5 * x[0] ** 2, [1.0, 5.0],
                          lambda x: np.array([x[0], 1e-7]))
    assert report.normwise_ok and not report.elementwise_ok and not report.ok
    text = str(report)
    assert "max relative error 5.00e-08 (bound 1e-06, h = 1e-06): ok" in text
    assert ("elementwise |a - n| <= atol + rtol |n| (atol 1e-08, rtol 1e-03): 1 of 2 entries "
            "fail, worst df/dx (1,): analytic 1.000000e-07, numeric 0.000000e+00: FAILED") in text


def test_the_elementwise_tolerance_is_atol_plus_rtol_times_the_numeric_entry():
    n = np.array([2.0, -3.0, 0.0])
    tol = 1e-8 + 1e-3 * np.abs(n)
    assert compare("g", n + 0.99 * tol, n).failures == 0
    assert compare("g", n + 1.01 * tol, n).failures == 3
    loose = compare("g", n + 1.01 * tol, n, atol=1e-5, rtol=1e-2)
    assert loose.failures == 0
    assert compare("g", [np.nan, 1.0], [0.0, 1.0]).failures == 1     # NaN is no agreement


def test_a_check_that_passes_trivially_says_so(capsys):
    """A softmax over one unit is 1 whatever its input: every gradient is exactly 0."""
    from backprop.app.cli import main
    assert main(["gradcheck", "--outputs", "1", "--loss", "ce"]) == 0
    out = capsys.readouterr().out
    assert "max relative error 0.00e+00" in out
    assert ("every gradient is zero (below 1e-08) in every entry, analytic and numeric: the "
            "check passes trivially and proves nothing about the code") in out
    assert "the softmax of SoftmaxCrossEntropy is over one output unit" in out
    model = bp.Sequential.mlp([3, 1], output_activation="softmax", rng=0, dtype=np.float64)
    report = bp.gradcheck(model, bp.MSE(), np.ones((2, 3)), np.ones((2, 1)))
    assert report.ok and report.trivial
    assert "the output layer's softmax is over one output unit" in str(report)
    assert main(["gradcheck"]) == 0
    assert "trivially" not in capsys.readouterr().out       # a meaningful check says nothing


def test_a_failure_at_a_relu_kink_blames_the_kink_and_only_kinked_layers_get_the_line():
    """A ReLU net fed zeros: z1 = b1 = 0 exactly, where relu'(0) = 1 but the central
    difference sees (relu(h) - relu(-h)) / 2h = 1/2."""
    model = bp.Sequential.mlp([3, 4, 2], activation="relu", rng=0, dtype=np.float64)
    report = bp.gradcheck(model, bp.MSE(), np.zeros((2, 3)), np.ones((2, 2)))
    assert not report.ok and report.kink_margin == 0.0
    failing = [c for c in report.checks if not c.elementwise_ok]
    assert [c.name for c in failing] == ["dE/db1"]
    assert failing[0].analytic == pytest.approx(2 * failing[0].numeric, rel=1e-5)  # 1 vs 1/2
    text = str(report)
    assert "closest net input to a kink: 0.00e+00, in layer 1 (relu, kink at z = 0)" in text
    assert "so the kink, not the code, is the likely cause" in text
    tanh = bp.Sequential.mlp([3, 4, 2], activation="tanh", rng=0, dtype=np.float64)
    assert "kink" not in str(bp.gradcheck(tanh, bp.MSE(), np.zeros((2, 3)), np.ones((2, 2))))
    model, loss, x, t = check_problem(activation="relu", loss="mse")
    text = str(bp.gradcheck(model, loss, x, t))              # away from the kinks: no blame
    assert "closest net input to a kink" in text and "likely cause" not in text


def test_gradcheck_and_the_three_way_check_are_plain_functions_at_the_top():
    """README: `bp.gradcheck(...)` and `bp.three_way_check(...)`; the helpers behind them
    are in the module backprop.core.gradient_check, under another name."""
    import types
    import backprop
    from backprop.core import gradient_check
    assert isinstance(backprop.gradcheck, types.FunctionType)
    assert backprop.gradcheck is gradient_check.gradcheck
    assert backprop.three_way_check is three_way_check is gradient_check.three_way_check
    report = backprop.three_way_check(*check_problem(activation="tanh", loss="mse"))
    assert report.ok and len(report.rows) == 6


@pytest.mark.parametrize("name", ["ce", "mse", "bce"])
def test_gradcheck_takes_the_loss_by_name_as_fit_does(name):
    model, loss, x, t = check_problem(activation="tanh", loss=name)
    by_name = bp.gradcheck(model, name, x, t)
    assert by_name.ok and str(by_name) == str(bp.gradcheck(model, loss, x, t))
    assert bp.three_way_check(model, name, x, t).ok
