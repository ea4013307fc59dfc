"""One vocabulary: every name the command line accepts for an activation, a loss, an
optimizer or a backend is a name the library takes, in any case; losses and optimizers
show their settings in their repr."""
import ast
import contextlib
import io
import re

import numpy as np
import pytest

import backprop as bp
from backprop.core import kernels
from backprop.app.cli import build_parser

OPTIONS = [("train", "--optimizer"), ("train", "--activation"), ("train", "--loss"),
           ("train", "--backend"), ("evaluate", "--backend"), ("gradcheck", "--activation"),
           ("gradcheck", "--loss"), ("gradcheck", "--output")]


def _choices():
    """{(subcommand, option): the choices the command line lists for it}, read from the
    message a user sees for a name that is no choice."""
    found = {}
    for command, option in OPTIONS:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit):
            build_parser().parse_args([command, option, "?"])
        listed = re.search(r"invalid choice: '\?' \(choose from (.*?)\)", stderr.getvalue())
        found[(command, option)] = list(ast.literal_eval(f"[{listed.group(1)}]"))
    return found


CHOICES = _choices()


def test_the_cli_offers_choices_for_each_named_thing():
    assert all(len(names) >= 2 for names in CHOICES.values())
    assert "bce" in CHOICES[("gradcheck", "--loss")]


@pytest.mark.parametrize("key", sorted(CHOICES), ids=lambda k: f"{k[0]} {k[1]}")
def test_every_cli_choice_works_in_the_library_in_any_case(key):
    option = key[1]
    for name in CHOICES[key]:
        for spelling in (name, name.upper()):
            if option in ("--activation", "--output"):
                assert isinstance(bp.get_activation(spelling), bp.core.activations.Activation)
            elif option == "--optimizer":
                assert isinstance(bp.get_optimizer(spelling, np.zeros(3)), bp.core.optim.Optimizer)
            elif option == "--backend":
                with bp.use_backend(spelling) as module:
                    assert module is kernels.load(name)
            elif option == "--loss" and key[0] == "train":
                from backprop.app.training_run import TRAIN_LOSSES
                assert isinstance(bp.get_loss(TRAIN_LOSSES[name][0].upper()), bp.core.losses.Loss)
            elif option == "--loss":
                assert isinstance(bp.get_loss(spelling), bp.core.losses.Loss)
            else:
                pytest.fail(f"no library lookup for {key}")


def test_the_cli_takes_names_in_any_case():
    args = build_parser().parse_args(["train", "--optimizer", "ADAM", "--loss", "CE",
                                      "--activation", "Tanh", "--backend", "NumPy"])
    assert (args.optimizer, args.loss, args.activation, args.backend) == \
        ("adam", "ce", "tanh", "numpy")
    config = bp.app.training_run.TrainConfig(optimizer="RMSProp", activation="ReLU")
    assert config.optimizer == "rmsprop"


def test_names_mean_what_the_cli_help_says():
    assert bp.get_loss("bce") .config() == {"name": "binary_cross_entropy", "from_logits": False}
    assert bp.get_loss("bce_logits").from_logits is True
    assert bp.get_loss("mse_mean").reduction == "mean"
    assert bp.get_loss("mse").reduction == "half_sum"
    assert isinstance(bp.get_loss("CE"), bp.SoftmaxCrossEntropy)
    nesterov = bp.get_optimizer("nesterov", np.zeros(2))
    assert (nesterov.momentum, nesterov.nesterov) == (0.9, True)
    assert bp.get_optimizer("momentum", np.zeros(2), momentum=0.5).momentum == 0.5
    with pytest.raises(ValueError, match="unknown loss 'hinge'; expected one of: mse, "):
        bp.get_loss("hinge")
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; expected one of: sgd, "):
        bp.get_optimizer("lbfgs", np.zeros(2))


def test_losses_and_optimizers_show_their_settings():
    assert repr(bp.MSE("mean")) == "MSE(reduction='mean')"
    assert repr(bp.SoftmaxCrossEntropy()) == "SoftmaxCrossEntropy()"
    assert repr(bp.BinaryCrossEntropy(from_logits=True)) == "BinaryCrossEntropy(from_logits=True)"
    assert repr(bp.Adam(np.zeros(2), lr=0.01)) == \
        "Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-08)"
    assert repr(bp.get_optimizer("nesterov", np.zeros(2))) == \
        "SGD(lr=0.01, momentum=0.9, nesterov=True)"
