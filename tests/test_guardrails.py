"""Guardrails for the classic mistakes: each warns once per line of the caller's code
(bp.InputWarning), in words that name the fix, and changes no number the engine
computes; raw uint8 pixels get an error that points at bp.data.scale_images."""
import warnings

import numpy as np
import pytest

import backprop as bp


def caught(run):
    """(result of run(), [messages of the InputWarnings it raised]), every warning shown."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = run()
    return result, [str(w.message) for w in records if w.category is bp.InputWarning]


def test_categorical_ce_given_logits_warns_and_computes_what_it_did():
    """A forgotten softmax: logits clipped to [eps, 1] give E = -0.0 and dE/dp = [-1, 0, 0]."""
    z = np.array([[2.0, 1.0, 0.1]])
    loss = bp.CategoricalCrossEntropy()
    E, messages = caught(lambda: loss.forward(z, np.array([0])))
    assert E == 0.0 and np.array_equal(loss.backward(), [[-1.0, 0.0, 0.0]])
    assert messages == ['CategoricalCrossEntropy takes probabilities (rows in [0, 1] summing '
                        'to 1), and a row it was given is none: has the last layer no '
                        'softmax? Add activation="softmax" to it, or give the logits to '
                        'SoftmaxCrossEntropy ("ce", or CategoricalCrossEntropy(from_logits=True))']
    for fine in (np.array([[0.7, 0.2, 0.1]]), np.array([[0.5, 0.5, 0.0]], np.float32)):
        assert caught(lambda: loss.forward(fine, np.array([0])))[1] == []
    assert caught(lambda: bp.CategoricalCrossEntropy(from_logits=True).forward(
        z, np.array([0])))[1] == []


def test_binary_ce_given_values_outside_0_1_warns_and_computes_what_it_did():
    """Logits fed to the probability form: O = 2 clipped to 1 - eps, t = 1: E = -log(1 - 1e-7)
    ~ 1e-7 and dE/dO = (O - t) / (O (1 - O)) at the clip = -1/(1 - 1e-7)."""
    O, t = np.array([[2.0]]), np.array([[1.0]])
    loss = bp.BinaryCrossEntropy()
    E, messages = caught(lambda: loss.forward(O, t))
    eps = 1e-7
    assert E == pytest.approx(-np.log(1 - eps), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), [[-1 / (1 - eps)]], rtol=1e-12)
    assert len(messages) == 1 and "from_logits=True" in messages[0]
    assert 'activation="sigmoid"' in messages[0]
    assert caught(lambda: loss.forward(np.array([[0.0, 1.0, 0.3]]), np.ones((1, 3))))[1] == []
    assert caught(lambda: bp.BinaryCrossEntropy(from_logits=True).forward(O, t))[1] == []


def test_a_softmax_output_under_softmax_cross_entropy_warns_of_softmax_twice(backend):
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1])
    model = bp.Sequential([bp.Dense(4, 3, activation="softmax", rng=0)])
    loss = bp.SoftmaxCrossEntropy()
    p = model.forward(x)
    E, messages = caught(lambda: loss.forward(p, labels))
    shifted = p - p.max(axis=1, keepdims=True)              # the number is what it was
    expected = np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(5), labels])
    assert E == pytest.approx(float(expected), rel=1e-6)
    assert len(messages) == 1 and "is the last layer a softmax?" in messages[0]
    assert "Softmax twice" in messages[0] and "CategoricalCrossEntropy" in messages[0]
    logits = bp.Sequential([bp.Dense(4, 3, rng=0)]).forward(x)
    assert caught(lambda: loss.forward(logits, labels))[1] == []
    assert caught(lambda: bp.CategoricalCrossEntropy().forward(p, labels))[1] == []
    one_unit = np.ones((5, 1), np.float32)                  # a softmax over one unit is no sign
    assert caught(lambda: loss.forward(one_unit, np.zeros(5, int)))[1] == []


def test_nan_or_inf_in_a_batch_warns_in_forward_and_in_the_loss(backend):
    model = bp.Sequential.mlp([4, 3, 2], rng=0)
    x = np.zeros((3, 4), np.float32)
    assert caught(lambda: model.forward(x))[1] == []
    for bad in (np.nan, np.inf):
        x[1, 2] = bad
        out, messages = caught(lambda: model.forward(x))
        assert messages == ["the batch given to Sequential.forward holds NaN or Inf: every "
                            "output and gradient it reaches will be NaN; find the rows with "
                            "~np.isfinite(x).all(axis=1) and drop or repair them"]
        assert np.all(np.isfinite(out[[0, 2]])) and not np.all(np.isfinite(out[1]))
    O, t = np.zeros((2, 2)), np.array([[0.0, np.nan], [1.0, 1.0]])
    E, messages = caught(lambda: bp.MSE().forward(O, t))
    assert np.isnan(E) and len(messages) == 1
    assert messages == ["the target batch given to the loss holds NaN or Inf: every output "
                        "and gradient it reaches will be NaN; find the rows with "
                        "~np.isfinite(t).all(axis=1) and drop or repair them"]
    assert caught(lambda: bp.MSE().forward(O, np.ones((2, 2))))[1] == []


def test_a_warning_is_shown_once_per_line_of_the_callers_code():
    """Python's default filter, with the warning attributed to the line that called the
    engine (not to a line inside backprop), shows it once however often that line runs."""
    loss = bp.CategoricalCrossEntropy()
    z = np.array([[2.0, 1.0, 0.1]])
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("default")
        for _ in range(5):
            loss.forward(z, np.array([0]))
    assert len(records) == 1 and records[0].category is bp.InputWarning
    assert records[0].filename == __file__
    assert issubclass(bp.InputWarning, UserWarning)


def test_raw_uint8_pixels_are_refused_with_scale_images_as_the_fix():
    model = bp.Sequential.mlp([4, 2], rng=0)
    pixels = np.full((2, 4), 255, np.uint8)
    with pytest.raises(ValueError, match=r"got uint8 \(raw pixels 0\.\.255\?\): scale them with "
                                         r"bp\.data\.scale_images\(x\)"):
        model.forward(pixels)
    with pytest.raises(ValueError, match=r"got float64; convert with \.astype\(np\.float32\)"):
        model.forward(pixels.astype(np.float64))
    np.testing.assert_array_equal(bp.data.scale_images(pixels), 1.0)   # what the fix gives
    assert model.forward(bp.data.scale_images(pixels)).shape == (2, 2)


def test_the_training_path_warns_of_nothing():
    model = bp.Sequential.mlp([6, 5, 3], rng=0)
    x = np.random.default_rng(0).uniform(0, 1, (10, 6)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, 10)
    loss, opt = bp.SoftmaxCrossEntropy(), bp.Adam(model.params)

    def steps():
        for _ in range(3):
            loss.forward(model.forward(x), y)
            model.backward(loss)
            opt.step(model.grads)

    assert caught(steps)[1] == []
