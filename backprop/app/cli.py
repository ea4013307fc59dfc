"""The ``backprop`` command (also ``python -m backprop``).

Each subcommand has an ``_add_<name>`` function that declares its arguments and sets
``run`` (``backprop train``'s is in cli_train.py; the argument types and the data loading
the subcommands share are in cli_common.py); modules are imported inside ``run`` so
``backprop --help`` and a warm ``backprop train`` start fast; ``backprop`` alone prints
the list of commands. Errors a user can fix (bad arguments, missing data, unwritable
folders) print one line on stderr and exit with status 2; set BACKPROP_DEBUG=1 to see the
traceback instead. An exception raised inside NumPy, numba or the standard library is an
engine bug, and keeps its traceback.
"""
import argparse
import os
import sys

from ..core.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from ..core.gradient_check import OUTPUT_ACTIVATIONS
from ..core.kernels import BACKENDS
from .cli_common import (UsageError, layer_sizes, load_data, non_negative_int, positive_float,
                         positive_int)
from .cli_train import add_train


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
    from ..tf.functions import HIMMELBLAU_MINIMA, nearest_minimum

    index, distance = nearest_minimum(point)
    mx, my = HIMMELBLAU_MINIMA[index]
    if distance < 1e-4:
        return index, f"at minimum {index + 1} of 4 ({mx:.6f}, {my:.6f})"
    return None, (f"not at a minimum after {steps} steps (nearest: ({mx:.6f}, {my:.6f}), "
                  f"distance {distance:.3g})")


def _run_himmelblau(args):
    import math

    from ..tf import functions

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
        from . import figures as plots

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
    from . import figures as plots

    _check_output_file(args.file)
    print(f"wrote {plots.plot_activations(args.file)}")
    return 0


def _run_plot_run(args):
    from . import training_run as train

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

def _run_data_set(args):
    """The data set of ``evaluate`` or ``plot``: --data, else the folder the run's
    history.json records, else Fashion-MNIST from the usual places."""
    from . import training_run as train
    if args.data is not None:
        return load_data(args.data)
    return load_data(train.recorded_data_folder(args.run_dir),
                      f"the data folder of {args.run_dir}'s {train.HISTORY}")


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
        from ..core import kernels
        kernels.set_backend(args.backend)
    from . import training_run as train
    model = train.load_run_model(args.run_dir)
    (_, (x_test, y_test)), names, _ = _run_data_set(args)
    if model.n_in != x_test[0].size or model.n_out != len(names):
        data = "Fashion-MNIST" if args.data is None else args.data
        raise UsageError(f"the model maps {model.n_in} inputs to {model.n_out} outputs; "
                         f"{data} needs {x_test[0].size} to {len(names)}")
    loss = train.run_loss(model)  # the one the run trained with, by its output layer
    try:
        result = train.evaluate(model, x_test, y_test, loss, predictions=True)
    except train.NonFiniteOutputs as error:
        raise UsageError(f"{args.run_dir}: {error}: the model is damaged or diverged, its "
                         f"outputs mean nothing") from None
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
    p.add_argument("--hidden", type=layer_sizes, default=(5, 4), metavar="N,N,...",
                   help="hidden layer sizes (default 5,4)")
    p.add_argument("--activation", default="relu", type=str.lower, choices=HIDDEN_ACTIVATIONS,
                   help="hidden activation (default relu)")
    p.add_argument("--loss", default="ce", type=str.lower, choices=list(OUTPUT_ACTIVATIONS),
                   help="loss; each comes with its output activation: ce and bce_logits "
                        "identity (logits), mse, mse_mean and bce sigmoid, categorical_ce "
                        "softmax (default ce)")
    p.add_argument("--output", type=str.lower, choices=list(ACTIVATIONS),
                   help="override the output activation")
    p.add_argument("--batch", type=positive_int, default=4, metavar="N", help="batch size (default 4)")
    p.add_argument("--inputs", type=positive_int, default=6, help="input units (default 6)")
    p.add_argument("--outputs", type=positive_int, default=3, help="output units (default 3)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed (default 0)")
    p.add_argument("--bound", type=positive_float, default=1e-6,
                   help="largest relative error accepted (default 1e-6)")
    p.add_argument("--all", action="store_true",
                   help="check every hidden activation x loss pair, one line each")
    p.set_defaults(run=_run_gradcheck)


def _run_gradcheck(args):
    from ..core.gradient_check import OUTPUT_ACTIVATIONS, check_problem, three_way_check
    pairs = ([(a, loss) for a in HIDDEN_ACTIVATIONS
              for loss in OUTPUT_ACTIVATIONS] if args.all else [(args.activation, args.loss)])
    failed = 0
    for activation, loss_name in pairs:
        model, loss, x, t = check_problem(args.hidden, activation, loss_name, args.output,
                                          args.batch, args.inputs, args.outputs, args.seed)
        report = three_way_check(model, loss, x, t, bound=args.bound)
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

_SUBCOMMANDS = [add_train, _add_evaluate, _add_data, _add_gradcheck, _add_himmelblau,
                _add_plot]  # the _add_* functions above, in help order


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: what is wrong and where to read more."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="backprop",
        description="A hand-written backpropagation engine for multilayer perceptrons.")
    from .version import __version__
    parser.add_argument("--version", action="version", version=f"backprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(run=lambda args: parser.print_help())  # `backprop` alone
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None):
    """Warnings on the command line: "backprop: warning: ...", without a source line."""
    return f"backprop: warning: {message}\n"


def _raised_by_backprop(error):
    """Whether ``error`` is one of the project's own messages about the user's input or
    environment: an OSError (a file, a folder, a disk), or an error raised by a line of
    the backprop package itself (not inside NumPy, numba or the standard library)."""
    if isinstance(error, (OSError, UsageError)):
        return True
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__", "").split(".")[0] == "backprop"


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
        if os.environ.get("BACKPROP_DEBUG") or not _raised_by_backprop(error):
            raise  # not one of the project's own messages: an engine bug, shown as one
        print(f"backprop: error: {error}", file=sys.stderr)
        return 2
    except MemoryError as error:  # e.g. --hidden 99999999999
        if os.environ.get("BACKPROP_DEBUG"):
            raise
        print(f"backprop: error: not enough memory: {error}", file=sys.stderr)
        return 2
