"""`backprop train --init glorot_uniform --optimizer keras_adam`: the tutorial's Keras run
by options, carried through the run's configuration (and so through --resume)."""
import numpy as np
import pytest

import backprop as bp
from backprop.app import cli, cli_train, training_run as train


def test_the_options_reach_the_configuration_and_the_built_run():
    args = cli.build_parser().parse_args(
        ["train", "--init", "GLOROT_UNIFORM", "--optimizer", "keras_adam"])
    assert (args.init, args.optimizer) == ("glorot_uniform", "keras_adam")
    assert "init" in cli_train.RUN_OPTIONS    # given again on --resume, or read from the run
    config = train.TrainConfig(init=args.init, optimizer=args.optimizer)
    model, _, optimizer = train.build(config)
    assert [layer.init for layer in model.layers] == ["glorot_uniform"] * 5
    assert type(optimizer) is bp.KerasAdam and optimizer.eps == 1e-7
    limit = np.sqrt(6 / (784 + 256))
    assert np.max(np.abs(model.layers[0].W)) <= limit and np.all(model.layers[0].b == 0)


def test_without_the_options_the_engines_defaults_stay():
    model, _, optimizer = train.build(train.TrainConfig())
    assert [layer.init for layer in model.layers] == ["he_normal"] * 4 + ["glorot_uniform"]
    assert type(optimizer) is bp.Adam and optimizer.eps == 1e-8


def test_the_init_is_checked_and_kept_in_the_saved_configuration():
    with pytest.raises(ValueError, match="unknown init 'lecun'; expected one of: he_normal"):
        train.TrainConfig(init="lecun")
    config = train.TrainConfig(init="glorot_uniform", optimizer="keras_adam")
    assert train.TrainConfig.from_dict(config.to_dict()) == config
    older = {k: v for k, v in config.to_dict().items() if k != "init"}   # a run from before
    assert train.TrainConfig.from_dict(older).init is None
