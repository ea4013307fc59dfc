"""The application: what the ``backprop`` command adds around the core.

    cli.py, cli_train.py, cli_common.py   the command and its subcommands
    training_run.py    a run of the training loop with its run folder: checkpoints,
                       history.json, resume, SIGINT and SIGTERM
    run_config.py      TrainConfig: what defines a run, every value checked
    run_folder.py      a run folder's files written and read back, every field checked
    model_file.py      save_model and load_model: the model file and its damage checks
    io.py              atomic writes, safe reads, folder locks, signals
    paths.py           where the package keeps what it makes for the user
    data/              idx files, Fashion-MNIST (locate, verify, download); ``bp.data``
    figures.py         every figure the command draws

It imports the core and the tape; neither imports it.
"""
