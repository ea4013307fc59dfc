"""The delta rule against central differences (float64, relative error < 1e-6):
one layer against a random upstream gradient, and whole 3- and 4-layer networks over
their flattened parameters, for every activation x loss pair. Also: the checker can fail.

ReLU kinks: the central difference is wrong within h of z = 0, so every check asserts
that the closest ReLU net input is over 1000 h away (the report's kink_margin).
"""
import numpy as np
import pytest

import backprop as bp
from backprop.gradcheck import (OUTPUT_ACTIVATIONS, check_layer, check_model, check_problem,
                                keep_away_from_kinks, three_way)

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
    report = three_way(model, bp.MSE(), x, rng.normal(size=(6, 3)))
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
    report = three_way(model, loss, x, t)
    assert len(report.rows) == 6
    assert report.max_error < BOUND, str(report)
    # the delta rule and the tape differ only by rounding, far below the numeric error
    assert max(row[2].error for row in report.rows) < 1e-12, str(report)


def test_cli_gradcheck_prints_the_table_and_fails_above_the_bound(capsys, monkeypatch):
    from backprop.cli import main
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
    from backprop.cli import main
    with pytest.raises(ValueError, match=f"loss {loss_name} takes probabilities in \\(0, 1\\)"):
        check_problem(loss=loss_name, output=output)
    assert main(["gradcheck", "--loss", loss_name, "--output", output]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"must be sigmoid or softmax, not {output}" in err
    check_problem(loss=loss_name, output="softmax")  # a probability output is fine


def test_cli_gradcheck_seed_must_be_a_whole_number_at_least_0(capsys):
    from backprop.cli import main
    with pytest.raises(SystemExit) as stop:
        main(["gradcheck", "--seed", "-1"])
    assert stop.value.code == 2
    assert "argument --seed: expected a number >= 0, got -1" in capsys.readouterr().err
