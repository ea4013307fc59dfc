"""``backprop train``: its options and the run it starts (see cli.py for the command).

Everything a run needs is checked before the run folder is touched: the options (the
configuration, and on ``--resume`` that they match the checkpoint's), the checkpoint, the
data; and before any training, history.json. A damaged file is exit status 2, naming
it; a diverging run exit status 3. ``--force`` deletes the old run's files only inside
``train.run_training``, once the folder is locked and the network is built, just before the new
run starts.
"""
import os
import sys

from ..core.activations import HIDDEN_ACTIVATIONS
from ..core.kernels import BACKENDS
from ..core.layers import INITIALIZERS
from ..core.optim import OPTIMIZERS
from .cli_common import (UsageError, count, layer_sizes, load_data, non_negative_int,
                         positive_float, positive_int)
from .run_config import TRAIN_LOSSES


RUN_OPTIONS = ("epochs", "batch_size", "lr", "optimizer", "hidden", "activation", "loss",
               "seed", "eval_every", "init")  # the TrainConfig fields `backprop train` sets


def add_train(sub):
    p = sub.add_parser(
        "train", help="train the tutorial's MLP on Fashion-MNIST (or --data DIR)",
        description="Train an MLP on Fashion-MNIST (or another data set in its four-file idx "
                    "layout, --data DIR). With no options: the tutorial's reference "
                    "run, 784-256-128-64-32-10 ReLU, softmax cross-entropy, Adam 1e-3, batch "
                    "100, 30 epochs, seed 0. Writes history.json, checkpoint.npz, model.npz "
                    "and figures to the run folder. Ctrl-C saves a checkpoint; --resume "
                    "continues it.")
    # The run's options default to None: a new run fills them from TrainConfig's defaults
    # (the ones the help names), a resumed run from its checkpoint.
    p.add_argument("--epochs", type=positive_int, help="epochs (default 30)")
    p.add_argument("--batch-size", type=positive_int, help="batch size (default 100)")
    p.add_argument("--lr", type=positive_float, help="learning rate (default 0.001)")
    p.add_argument("--optimizer", type=str.lower, choices=list(OPTIMIZERS),
                   help="optimizer (default adam; keras_adam: Keras's form, eps 1e-7)")
    p.add_argument("--init", type=str.lower, choices=list(INITIALIZERS),
                   help="weight initialiser (default he_normal for ReLU, glorot_uniform "
                        "otherwise; Keras: glorot_uniform)")
    p.add_argument("--hidden", type=layer_sizes, metavar="N,N,...",
                   help="hidden layer sizes (default 256,128,64,32)")
    p.add_argument("--activation", type=str.lower, choices=HIDDEN_ACTIVATIONS,
                   help="hidden activation (default relu)")
    p.add_argument("--loss", type=str.lower, choices=list(TRAIN_LOSSES),
                   help="ce: softmax cross-entropy on logits; mse: softmax outputs with "
                        "1/2 sum (O - t)^2 (default ce)")
    p.add_argument("--seed", type=non_negative_int,
                   help="seed of weights and shuffling (default 0)")
    p.add_argument("--data", metavar="DIR", help="folder with the four idx files, the only "
                   "one looked in: Fashion-MNIST (verified by SHA-256) or another data set "
                   "in the same layout, e.g. digit MNIST or KMNIST (checked for structure "
                   "only; class names from DIR/classes.txt, one a line, else numbers) "
                   "(default: Fashion-MNIST from $BACKPROP_DATA if set, else the user "
                   "cache, then /usr/share/datasets/fashion-mnist)")
    p.add_argument("--out", metavar="RUN_DIR", default=os.path.join("runs", "default"),
                   help="run folder (default runs/default)")
    p.add_argument("--eval-every", type=non_negative_int, metavar="STEPS",
                   help="also evaluate the test set every STEPS steps (default 0: only after "
                        "each epoch; the tutorial: 500)")
    p.add_argument("--backend", type=str.lower, choices=list(BACKENDS),
                   help="kernel backend: numba (numba's JIT, cached after the first run) "
                        "or numpy (default: $BACKPROP_BACKEND or numba)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="threads for BLAS and numba together (default: $BACKPROP_THREADS, "
                        "$OMP_NUM_THREADS, or every core)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out with the options it was started with; "
                        "options given again must match them, except --epochs, which may "
                        "change how far it goes")
    p.add_argument("--force", action="store_true",
                   help="start over even if --out already holds a run")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or epoch lines: only the final result line")
    p.set_defaults(run=_run_train)


def _run_train(args):
    from ..core import kernels
    if args.resume and args.force:
        raise UsageError("--resume continues the run in --out and --force deletes it: give "
                         "one of them")
    if args.backend:
        kernels.set_backend(args.backend)
    threads = kernels.set_threads(args.threads)
    from . import figures as plots
    from . import training_run as train
    if os.path.lexists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file, not a folder")
    checkpoint = os.path.join(args.out, train.CHECKPOINT)
    run_files = (train.CHECKPOINT, train.HISTORY, train.MODEL, *plots.FIGURES)
    earlier = [name for name in run_files if os.path.lexists(os.path.join(args.out, name))]
    if earlier and train.CHECKPOINT not in earlier and not args.force:
        # e.g. killed while writing its first checkpoint: --resume has nothing to go on
        raise UsageError(f"{args.out} holds {', '.join(earlier)} but no {train.CHECKPOINT}, "
                         f"so there is no run to resume; start it again with --force, which "
                         f"deletes {'it' if len(earlier) == 1 else 'them'}, or choose another "
                         f"folder with --out")
    if earlier and not args.resume and not args.force:
        raise UsageError(f"{args.out} already holds a run ({', '.join(earlier)}); pass "
                         f"--resume to continue it, --force to start over, or --out to "
                         f"choose another folder")
    if args.resume and not earlier:  # before the folder is made
        raise UsageError(f"no checkpoint to resume from in {args.out}; start the run "
                         f"without --resume")
    # a damaged checkpoint is a DamagedCheckpoint, a ValueError: exit 2, naming it
    base = train.checkpoint_config(checkpoint) if args.resume else train.TrainConfig()
    given = {name: getattr(args, name) for name in RUN_OPTIONS if getattr(args, name) is not None}
    config = train.TrainConfig(**{**base.to_dict(), **given})  # ValueError: exit 2
    differs = train.run_differences(base, config) if args.resume else []
    if differs:
        raise UsageError(f"{checkpoint} was written by a different run: {', '.join(differs)}; "
                         f"--resume goes on with the run's own options: drop those options "
                         f"or give the run's values (only --epochs may change)")
    data, class_names, about_data = load_data(args.data)  # before run_training makes --out:
    #                                                         a failed load leaves no folder
    sizes = "-".join(map(str, config.sizes(data[0][0][0].size, len(class_names))))
    say = (lambda *a: None) if args.quiet else print
    say(f"training {sizes} {config.activation}, loss {config.loss}, {config.optimizer} lr "
        f"{config.lr:g}, batch {config.batch_size}, {count(config.epochs, 'epoch')}, "
        f"seed {config.seed}, backend {kernels.backend_name()}, {threads} threads")
    try:
        model, history = train.run_training(config, data, out_dir=args.out,
                                            resume=args.resume, quiet=args.quiet,
                                            n_classes=len(class_names), about_data=about_data,
                                            discard=run_files if args.force else ())
    except train.Interrupted as stop:
        print(f"backprop: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except train.DamagedRunFile as error:  # checkpoint or history.json: before training
        raise UsageError(str(error)) from None
    except train.TrainingError as error:  # diverged
        print(f"backprop: error: {error}", file=sys.stderr)
        return 3
    except MemoryError as error:
        raise UsageError(f"not enough memory for a {sizes} network ({error}); choose "
                         f"smaller --hidden sizes") from None
    figures = []
    if not args.no_plots and history["epochs"]:
        test = data[1]  # the figures need only the test set: free the 47 MB of training
        del data        # images before matplotlib loads (peak memory)
        figures = train.draw_figures({name: os.path.join(args.out, name) for name in
                                      plots.FIGURES}, history, model, test, class_names)
    epochs = history["epochs"]
    if epochs:  # the result line, also with --quiet
        print(f"done: best test accuracy {history['best_test_accuracy']:.4f} (epoch "
              f"{history['best_epoch']}), final {history['final_test_accuracy']:.4f}, "
              f"{count(len(epochs), 'epoch')} in {history['train_seconds']:.1f} s of training")
    written = ["history.json", "checkpoint.npz", "model.npz"] + [os.path.basename(f) for f in figures]
    say(f"run folder {args.out}: {', '.join(written)}")
    return 0
