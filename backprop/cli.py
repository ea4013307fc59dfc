"""The ``backprop`` command (also ``python -m backprop``).

Each subcommand has an ``_add_<name>`` function that declares its arguments and sets
``run``; modules are imported inside ``run`` so ``backprop --help`` and a warm
``backprop train`` start fast; ``backprop`` alone prints the list of commands. Errors a
user can fix (bad arguments, missing data, unwritable folders) print one line on stderr
and exit with status 2; set BACKPROP_DEBUG=1 to see the traceback instead.
"""
import argparse
import os
import sys

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .gradcheck import OUTPUT_ACTIVATIONS
from .kernels import BACKENDS
from .layers import INITIALIZERS
from .optim import OPTIMIZERS
from .train import TRAIN_LOSSES


class UsageError(Exception):
    """An error the user can fix; printed as one line, no traceback."""


# ------------------------------------------------------------- backprop data, data fetch

def _add_data(sub):
    p = sub.add_parser(
        "data", help="show where Fashion-MNIST is and whether it verifies; fetch it",
        description="Without a subcommand: print where each Fashion-MNIST file was "
                    "found and whether its SHA-256 matches (exit status 1 if one does "
                    "not, 2 if the data is not found).")
    p.add_argument("--root", metavar="DIR", help="look only in this folder (default: "
                   "$BACKPROP_DATA if set, else the user cache, then "
                   "/usr/share/datasets/fashion-mnist)")
    p.set_defaults(run=_run_data)
    data_sub = p.add_subparsers(dest="data_command", metavar="{fetch}")
    f = data_sub.add_parser(
        "fetch", help="download the four files into the user cache folder",
        description="Download the four .gz files, verify each, and store them "
                    "(atomically) in the user cache folder or --dest.")
    f.add_argument("--url", metavar="BASE", default=None,
                   help="base URL holding the .gz files (default: the official one)")
    f.add_argument("--dest", metavar="DIR", default=None,
                   help="target folder (default: $XDG_CACHE_HOME/backprop/fashion-mnist "
                        "or ~/.cache/backprop/fashion-mnist)")
    f.add_argument("--quiet", action="store_true", help="no progress bars")
    f.set_defaults(run=_run_data_fetch)


def _run_data(args):
    from .data import fashion_mnist as fm

    paths = fm.locate(args.root, "--root")  # FileNotFoundError (exit 2): where it looked
    print(f"Fashion-MNIST in {paths['train-images'].parent}")
    failed = 0
    for key, path in paths.items():
        try:
            array = fm.read_verified(path, key)
            status = f"{'x'.join(map(str, array.shape))} {array.dtype}, SHA-256 ok"
        except ValueError as error:
            failed += 1
            status = f"FAILED: {error}"
        print(f"  {key:<13} {path.name:<27} {status}")
    print(f"{failed} of {len(paths)} files failed verification" if failed
          else f"all {len(paths)} files verified")
    return 1 if failed else 0


def _run_data_fetch(args):
    from .data import fashion_mnist as fm

    dest = fm.fetch(args.dest, base_url=args.url or fm.DEFAULT_URL,
                    progress=not args.quiet)
    print(f"Fashion-MNIST verified and stored in {dest}")
    return 0


# ------------------------------------------------- backprop himmelblau, plot activations

def _check_output_file(path):
    """Fail before any work if the output file is a folder or its folder does not exist."""
    from pathlib import Path

    if Path(path).is_dir():
        raise UsageError(f"cannot write {path}: it is a folder; give a file name such as "
                         f"{Path(path) / 'figure.png'}")
    folder = Path(path).parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")


def _add_himmelblau(sub):
    p = sub.add_parser(
        "himmelblau", help="gradient descent on Himmelblau's function, gradients from the tape",
        description="Gradient descent x <- x - lr * df/dx on Himmelblau's function "
                    "f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2, the gradient taken by "
                    "the tape as in the tutorial. Prints 'step N: x = [...], f(x) = ...' "
                    "every --log-every steps and which of the four minima it reached.")
    p.add_argument("--start", nargs=2, type=float, metavar=("X", "Y"), default=None,
                   help="the starting point (default: -4 0)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default: 0.01)")
    p.add_argument("--steps", type=int, default=200, help="number of updates (default: 200)")
    p.add_argument("--log-every", type=int, default=20, metavar="N",
                   help="print a log line every N steps (default: 20)")
    p.add_argument("--plot", metavar="FILE",
                   help="draw the 3-D surface with the path and a contour view with the four "
                        "minima to FILE (PNG)")
    p.add_argument("--all", action="store_true",
                   help="run from four starts, one per minimum, and say which minimum each "
                        "reaches")
    p.set_defaults(run=_run_himmelblau)


def _short_floats(values):
    """Floats rounded to 7 significant digits, so a log line shows e.g. -3.77931."""
    return [float(f"{v:.7g}") for v in values]


def _minimum_report(point, steps):
    from .functions import HIMMELBLAU_MINIMA, nearest_minimum

    index, distance = nearest_minimum(point)
    mx, my = HIMMELBLAU_MINIMA[index]
    if distance < 1e-4:
        return index, f"at minimum {index + 1} of 4 ({mx:.6f}, {my:.6f})"
    return None, (f"not at a minimum after {steps} steps (nearest: ({mx:.6f}, {my:.6f}), "
                  f"distance {distance:.3g})")


def _run_himmelblau(args):
    import math

    from . import functions

    if args.start is not None and not all(math.isfinite(v) for v in args.start):
        raise UsageError(f"--start must be two finite numbers, got {args.start[0]} "
                         f"{args.start[1]}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a finite number > 0, got {args.lr}")
    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    if args.log_every < 1:
        raise UsageError(f"--log-every must be at least 1, got {args.log_every}")
    if args.all and args.start is not None:
        raise UsageError("--all runs from four fixed starts; drop --start")
    if args.plot:
        _check_output_file(args.plot)

    trajectories = []
    if args.all:
        found = set()
        for start in functions.HIMMELBLAU_STARTS:
            try:
                path, values = functions.gradient_descent(start, args.lr, args.steps)
            except functions.DivergenceError as error:
                raise UsageError(f"from start {list(start)}: {error}") from error
            index, report = _minimum_report(path[-1], args.steps)
            found.add(index)
            trajectories.append(path)
            print(f"start {list(start)}: x = {_short_floats(path[-1])}, "
                  f"f(x) = {float(f'{values[-1]:.7g}')} -> {report}")
        print(f"found {len(found - {None})} of 4 minima")
    else:
        start = args.start or (-4.0, 0.0)

        def log(step, x, fx):
            if step % args.log_every == 0 or step == args.steps:
                print("step {}: x = {}, f(x) = {}".format(step, _short_floats(x),
                                                         float(f"{fx:.7g}")))

        path, values = functions.gradient_descent(start, args.lr, args.steps, callback=log)
        trajectories.append(path)
        print(f"end: x = {_short_floats(path[-1])}, "
              f"{_minimum_report(path[-1], args.steps)[1]}")
    if args.plot:
        from . import plots

        print(f"wrote {plots.plot_himmelblau(args.plot, trajectories)}")
    return 0


def _add_plot(sub):
    p = sub.add_parser("plot", help="draw a figure to a PNG file: the activations, or a "
                       "run's curves, confusion matrix or samples",
                       description="Draw one of the tutorial's figures to a PNG file.")
    figures = p.add_subparsers(dest="figure", metavar="FIGURE")
    figures.required = True
    a = figures.add_parser(
        "activations", help="sigmoid, tanh, relu, leaky relu (0.2) and their derivatives",
        description="Each activation with its hand-written derivative and the tape's "
                    "df/dx drawn over it.")
    a.add_argument("file", nargs="?", default="activations.png", metavar="FILE",
                   help="output PNG (default: activations.png)")
    a.set_defaults(run=_run_plot_activations)
    for name, what in [("curves", "a run's loss and accuracy per epoch, train and test"),
                       ("confusion", "a run's confusion matrix on the test set"),
                       ("samples", "test images with the run's predicted and true classes")]:
        r = figures.add_parser(name, help=what, description=f"Draw {what} again, as "
                               f"backprop train draws it (e.g. after --no-plots).")
        r.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by backprop train")
        r.add_argument("file", nargs="?", metavar="FILE",
                       help=f"output PNG (default: RUN_DIR/{name}.png)")
        if name != "curves":
            _add_data_option(r)
        r.set_defaults(run=_run_plot_run)


def _run_plot_activations(args):
    from . import plots

    _check_output_file(args.file)
    print(f"wrote {plots.plot_activations(args.file)}")
    return 0


def _run_plot_run(args):
    from . import train

    history = train.read_history(args.run_dir)
    if not history.get("epochs"):
        raise UsageError(f"{args.run_dir} has no finished epoch to draw yet")
    name = f"{args.figure}.png"
    file = args.file or os.path.join(args.run_dir, name)
    _check_output_file(file)
    model = test = names = None
    if args.figure != "curves":
        model = train.load_run_model(args.run_dir)
        (_, test), names, _ = _run_data_set(args)
    for path in train.draw_figures({name: file}, history, model, test, names):
        print(f"wrote {path}")
    return 0


# ------------------------------------------------ backprop train, evaluate, gradcheck

def _int_at_least(minimum):
    """An argparse type: a whole number >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value
    return parse


def _count(n, noun):
    """"1 epoch", "2 epochs"."""
    return f"{n} {noun}{'s' * (n != 1)}"


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _sizes(text):
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes like 256,128,64,32, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def _load_data(folder, option="--data"):
    """(data, class names, what to record in history.json) of the data set in ``folder``
    (Fashion-MNIST, verified, or another in its layout: checked for structure, said to be
    unverified; messages call the folder ``option``), else of Fashion-MNIST from
    $BACKPROP_DATA or the usual places."""
    from . import data
    if folder is None:
        return data.load_fashion_mnist(), data.CLASS_NAMES, {
            "folder": None, "verified": True, "class_names": list(data.CLASS_NAMES)}
    found = data.load_idx_folder(folder, option)
    if not found.verified:
        print(f"backprop: note: {found.folder} is not the official Fashion-MNIST: unverified "
              f"data, checked for shapes and labels only ({len(found.class_names)} classes, "
              f"{'names from ' + found.names_file.name if found.names_file else 'numbered'})",
              file=sys.stderr)
    return ((found.train, found.test), found.class_names,
            {"folder": os.path.abspath(folder), "verified": found.verified,
             "class_names": list(found.class_names)})


def _run_data_set(args):
    """The data set of ``evaluate`` or ``plot``: --data, else the folder the run's
    history.json records, else Fashion-MNIST from the usual places."""
    from . import train
    if args.data is not None:
        return _load_data(args.data)
    return _load_data(train.recorded_data_folder(args.run_dir),
                      f"the data folder of {args.run_dir}'s {train.HISTORY}")


def _add_train(sub):
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
    p.add_argument("--epochs", type=_positive_int, help="epochs (default 30)")
    p.add_argument("--batch-size", type=_positive_int, help="batch size (default 100)")
    p.add_argument("--lr", type=_positive_float, help="learning rate (default 0.001)")
    p.add_argument("--optimizer", type=str.lower, choices=list(OPTIMIZERS),
                   help="optimizer (default adam; keras_adam: Keras's form, eps 1e-7)")
    p.add_argument("--init", type=str.lower, choices=list(INITIALIZERS),
                   help="weight initialiser (default he_normal for ReLU, glorot_uniform "
                        "otherwise; Keras: glorot_uniform)")
    p.add_argument("--hidden", type=_sizes, metavar="N,N,...",
                   help="hidden layer sizes (default 256,128,64,32)")
    p.add_argument("--activation", type=str.lower, choices=HIDDEN_ACTIVATIONS,
                   help="hidden activation (default relu)")
    p.add_argument("--loss", type=str.lower, choices=list(TRAIN_LOSSES),
                   help="ce: softmax cross-entropy on logits; mse: softmax outputs with "
                        "1/2 sum (O - t)^2 (default ce)")
    p.add_argument("--seed", type=_non_negative_int,
                   help="seed of weights and shuffling (default 0)")
    p.add_argument("--data", metavar="DIR", help="folder with the four idx files, the only "
                   "one looked in: Fashion-MNIST (verified by SHA-256) or another data set "
                   "in the same layout, e.g. digit MNIST or KMNIST (checked for structure "
                   "only; class names from DIR/classes.txt, one a line, else numbers) "
                   "(default: Fashion-MNIST from $BACKPROP_DATA if set, else the user "
                   "cache, then /usr/share/datasets/fashion-mnist)")
    p.add_argument("--out", metavar="RUN_DIR", default=os.path.join("runs", "default"),
                   help="run folder (default runs/default)")
    p.add_argument("--eval-every", type=_non_negative_int, metavar="STEPS",
                   help="also evaluate the test set every STEPS steps (default 0: only after "
                        "each epoch; the tutorial: 500)")
    p.add_argument("--backend", type=str.lower, choices=list(BACKENDS),
                   help="kernel backend: numba (numba's JIT, cached after the first run) "
                        "or numpy (default: $BACKPROP_BACKEND or numba)")
    p.add_argument("--threads", type=_positive_int, metavar="N",
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


RUN_OPTIONS = ("epochs", "batch_size", "lr", "optimizer", "hidden", "activation", "loss",
               "seed", "eval_every", "init")  # the TrainConfig fields `backprop train` sets


def _run_train(args):
    from . import kernels
    if args.backend:
        kernels.set_backend(args.backend)
    threads = kernels.set_threads(args.threads)
    from . import plots, train
    checkpoint = os.path.join(args.out, train.CHECKPOINT)
    run_files = (train.CHECKPOINT, train.HISTORY, train.MODEL, *plots.FIGURES)
    earlier = [name for name in run_files if os.path.exists(os.path.join(args.out, name))]
    if earlier and not args.resume and not args.force:
        raise UsageError(f"{args.out} already holds a run ({', '.join(earlier)}); pass "
                         f"--resume to continue it, --force to start over, or --out to "
                         f"choose another folder")
    if args.resume and not os.path.exists(checkpoint):  # before the folder is made
        raise UsageError(f"no checkpoint to resume from in {args.out}; start the run "
                         f"without --resume")
    if args.force:  # start over: nothing of the old run may pass for the new one's
        for name in earlier:
            os.unlink(os.path.join(args.out, name))
    try:
        base = (train.checkpoint_config(checkpoint)
                if args.resume and os.path.exists(checkpoint) else train.TrainConfig())
    except train.TrainingError as error:
        print(f"backprop: error: {error}", file=sys.stderr)
        return 3
    given = {name: getattr(args, name) for name in RUN_OPTIONS if getattr(args, name) is not None}
    config = train.TrainConfig(**{**base.to_dict(), **given})
    train.prepare_out_dir(args.out)
    data, class_names, about_data = _load_data(args.data)
    sizes = "-".join(map(str, config.sizes(data[0][0][0].size, len(class_names))))
    say = (lambda *a: None) if args.quiet else print
    say(f"training {sizes} {config.activation}, loss {config.loss}, {config.optimizer} lr "
        f"{config.lr:g}, batch {config.batch_size}, {_count(config.epochs, 'epoch')}, "
        f"seed {config.seed}, backend {kernels.backend_name()}, {threads} threads")
    try:
        model, history = train.fit(config, data, out_dir=args.out, resume=args.resume,
                                   quiet=args.quiet, n_classes=len(class_names),
                                   about_data=about_data)
    except train.Interrupted as stop:
        print(f"backprop: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except train.TrainingError as error:
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
              f"{_count(len(epochs), 'epoch')} in {history['train_seconds']:.1f} s of training")
    written = ["history.json", "checkpoint.npz", "model.npz"] + [os.path.basename(f) for f in figures]
    say(f"run folder {args.out}: {', '.join(written)}")
    return 0


def _add_evaluate(sub):
    p = sub.add_parser(
        "evaluate", help="test loss, accuracy, per-class accuracy, confusion matrix of a run",
        description="Evaluate a run folder's model.npz (or its checkpoint.npz) on the "
                    "test set of the data it was trained on (Fashion-MNIST, or the --data "
                    "folder history.json records): test loss, accuracy, per-class accuracy "
                    "and the confusion matrix.")
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a folder written by backprop train (its model.npz, else its "
                        "checkpoint.npz), or one of those files")
    _add_data_option(p)
    p.add_argument("--backend", type=str.lower, choices=list(BACKENDS), help="kernel backend")
    p.set_defaults(run=_run_evaluate)


def _add_data_option(p):
    p.add_argument("--data", metavar="DIR", help="folder with the four idx files, the only "
                   "one looked in (default: the run's, as history.json records it, else "
                   "Fashion-MNIST from the places train searches)")


def _run_evaluate(args):
    if args.backend:
        from . import kernels
        kernels.set_backend(args.backend)
    from . import train
    model = train.load_run_model(args.run_dir)
    (_, (x_test, y_test)), names, _ = _run_data_set(args)
    if model.n_in != x_test[0].size or model.n_out != len(names):
        data = "Fashion-MNIST" if args.data is None else args.data
        raise UsageError(f"the model maps {model.n_in} inputs to {model.n_out} outputs; "
                         f"{data} needs {x_test[0].size} to {len(names)}")
    loss = train.run_loss(model)  # the one the run trained with, by its output layer
    result = train.evaluate(model, loss, x_test, y_test)
    C = train.confusion_matrix(y_test, result["predictions"], len(names))
    print(f"test loss {result['loss']:.4f} ({loss.name.replace('_', ' ')}), test accuracy "
          f"{result['accuracy']:.4f} ({int(C.trace())} of {C.sum()})")
    print("\nper-class accuracy:")
    width = max(12, *map(len, names))
    for k, name in enumerate(names):
        print(f"  {k}  {name:<{width}} {C[k, k] / max(C[k].sum(), 1):.4f}")
    print("\nconfusion matrix (rows: true class, columns: predicted):")
    print("      " + "".join(f"{k:>6}" for k in range(len(names))))
    for k in range(len(names)):
        print(f"  {k:>2}  " + "".join(f"{v:>6}" for v in C[k]))
    return 0


def _add_gradcheck(sub):
    p = sub.add_parser(
        "gradcheck", help="compare the delta rule with the tape and central differences",
        description="Build a small float64 MLP and compare, for every parameter, the "
                    "gradients of the hand-written delta rule with the reverse-mode tape's "
                    "and with central differences. Prints relative errors; exits with "
                    "status 1 if any is above the bound.")
    p.add_argument("--hidden", type=_sizes, default=(5, 4), metavar="N,N,...",
                   help="hidden layer sizes (default 5,4)")
    p.add_argument("--activation", default="relu", type=str.lower, choices=HIDDEN_ACTIVATIONS,
                   help="hidden activation (default relu)")
    p.add_argument("--loss", default="ce", type=str.lower, choices=list(OUTPUT_ACTIVATIONS),
                   help="loss; each comes with its output activation: ce and bce_logits "
                        "identity (logits), mse, mse_mean and bce sigmoid, categorical_ce "
                        "softmax (default ce)")
    p.add_argument("--output", type=str.lower, choices=list(ACTIVATIONS),
                   help="override the output activation")
    p.add_argument("--batch", type=_positive_int, default=4, metavar="N", help="batch size (default 4)")
    p.add_argument("--inputs", type=_positive_int, default=6, help="input units (default 6)")
    p.add_argument("--outputs", type=_positive_int, default=3, help="output units (default 3)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed (default 0)")
    p.add_argument("--bound", type=_positive_float, default=1e-6,
                   help="largest relative error accepted (default 1e-6)")
    p.add_argument("--all", action="store_true",
                   help="check every hidden activation x loss pair, one line each")
    p.set_defaults(run=_run_gradcheck)


def _run_gradcheck(args):
    from .gradcheck import OUTPUT_ACTIVATIONS, check_problem, three_way
    pairs = ([(a, loss) for a in HIDDEN_ACTIVATIONS
              for loss in OUTPUT_ACTIVATIONS] if args.all else [(args.activation, args.loss)])
    failed = 0
    for activation, loss_name in pairs:
        model, loss, x, t = check_problem(args.hidden, activation, loss_name, args.output,
                                          args.batch, args.inputs, args.outputs, args.seed)
        report = three_way(model, loss, x, t, bound=args.bound)
        failed += not report.ok
        if args.all:
            print(f"{activation:<11} {loss_name:<15} max relative error {report.max_error:.2e}"
                  f"  {'ok' if report.ok else 'FAILED'}")
        else:
            sizes = "-".join(map(str, [args.inputs, *args.hidden, args.outputs]))
            print(f"{sizes} {activation}, output {model.layers[-1].activation.name}, loss "
                  f"{loss_name}, batch {args.batch}, float64\n")
            print(report)
    if args.all:
        print(f"{len(pairs) - failed} of {len(pairs)} pairs ok" if failed else
              f"all {len(pairs)} pairs ok")
    return 1 if failed else 0


# ---------------------------------------------------------------------------------- driver

_SUBCOMMANDS = [_add_train, _add_evaluate, _add_data, _add_gradcheck, _add_himmelblau,
                _add_plot]  # the _add_* functions above, in help order


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: what is wrong and where to read more."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="backprop",
        description="A hand-written backpropagation engine for multilayer perceptrons.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"backprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(run=lambda args: parser.print_help())  # `backprop` alone
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None):
    """Warnings on the command line: "backprop: warning: ...", without a source line."""
    return f"backprop: warning: {message}\n"


def main(argv=None):
    import warnings
    if not os.environ.get("BACKPROP_DEBUG"):
        warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a reader that has gone shows here, as BrokenPipeError
        return code
    except KeyboardInterrupt:
        print("backprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. backprop evaluate RUN | head -1: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, ValueError, OSError) as error:
        if os.environ.get("BACKPROP_DEBUG"):
            raise
        print(f"backprop: error: {error}", file=sys.stderr)
        return 2
    except MemoryError as error:  # e.g. --hidden 99999999999
        if os.environ.get("BACKPROP_DEBUG"):
            raise
        print(f"backprop: error: not enough memory: {error}", file=sys.stderr)
        return 2
