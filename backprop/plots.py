"""The matplotlib figures: everything the package draws lives here.

Figures: the activations with their derivatives; Himmelblau's surface with
gradient-descent paths; and for a training run, the loss and accuracy curves, the
confusion matrix and a grid of test images with predicted and true classes.

Conventions for every function in this module:

- the first argument is the output file; the function writes the figure there (PNG unless
  the suffix names another format matplotlib knows) and returns the path as a ``Path``;
- figures are built on ``matplotlib.figure.Figure`` directly, never through pyplot, so no
  backend is selected or changed, nothing opens a window, and nothing is left open (no
  ``matplotlib.use`` call is needed: ``Figure.savefig`` renders with Agg);
- matplotlib is imported inside the functions, so ``import backprop`` stays light.
"""
from pathlib import Path

import numpy as np

__all__ = ["plot_activations", "plot_himmelblau", "plot_curves", "plot_confusion",
           "plot_samples", "training_figures", "save_figure"]

DPI = 100


def _new_figure(width, height, **kwargs):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, **kwargs)


def save_figure(fig, path):
    """Write ``fig`` to ``path`` and return the path written, as a Path (OSError if the
    folder is missing). A name without a suffix gets ".png" (as matplotlib would add it)."""
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    fig.savefig(path, dpi=DPI)
    return path


# ------------------------------------------------------------------------------ activations

def _activation_curves(x):
    """(name, f(x), hand-written f'(x) or None, the tape's df/dx) for each activation.

    f and f' come from the engine's activation classes; df/dx from the tape differentiating
    the ``bp.nn`` op, an independent check drawn on top of the hand-written derivative.
    """
    from . import nn
    from .autodiff import GradientTape, constant

    tape_ops = {"sigmoid": nn.sigmoid, "tanh": nn.tanh, "relu": nn.relu,
                "leaky relu (alpha = 0.2)": lambda t: nn.leaky_relu(t, alpha=0.2)}
    from .activations import LeakyReLU, ReLU, Sigmoid, Tanh

    engine = {"sigmoid": Sigmoid(), "tanh": Tanh(), "relu": ReLU(),
              "leaky relu (alpha = 0.2)": LeakyReLU(alpha=0.2)}
    curves = []
    for name, op in tape_ops.items():
        x_tensor = constant(x)
        with GradientTape() as tape:
            tape.watch(x_tensor)
            y = op(x_tensor)
        tape_derivative = tape.gradient(y, x_tensor).numpy()     # elementwise f: grad of sum
        if name in engine:
            curves.append((name, engine[name](x), engine[name].derivative(x), tape_derivative))
        else:
            curves.append((name, y.numpy(), None, tape_derivative))
    return curves


def plot_activations(path="activations.png", x_min=-6.0, x_max=6.0, num=601):
    """Sigmoid, tanh, ReLU and leaky ReLU (alpha 0.2), each with its derivative.

    Each panel draws f(x), the hand-written f'(x) of the engine's activation class, and
    the tape's df/dx as dots on top: where the dots sit on the dashed line the two
    derivatives agree. At x = 0 ReLU's differ by convention (engine 1, tape 0).

    Returns
    -------
    Path
    """
    if not (np.isfinite(x_min) and np.isfinite(x_max) and x_min < x_max) or num < 2:
        raise ValueError(f"need finite x_min < x_max and num >= 2, got {x_min}, {x_max}, {num}")
    x = np.linspace(x_min, x_max, int(num))
    fig = _new_figure(11, 8, layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    every = max(1, len(x) // 40)                       # the tape's dots, not too dense
    for ax, (name, f, hand, tape) in zip(axes, _activation_curves(x)):
        ax.plot(x, f, color="tab:blue", lw=2, label="f(x)")
        if hand is not None:
            ax.plot(x, hand, color="tab:orange", lw=2, ls="--", label="f'(x), hand-written")
        ax.plot(x[::every], tape[::every], "o", color="tab:green", ms=4,
                label="df/dx, tape")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        if name == "relu":
            ax.text(0.03, 0.5, "at x = 0: f' = 1 hand-written,\n"
                    "df/dx = 0 from the tape (TF)", transform=ax.transAxes,
                    ha="left", va="center", fontsize=8, color="0.3")
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x), f'(x)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=9)
    fig.suptitle("Activation functions and their derivatives")
    return save_figure(fig, path)


# -------------------------------------------------------------------------------- himmelblau

def plot_himmelblau(path="himmelblau.png", trajectories=(), labels=None, lim=6.0,
                    elev=60, azim=-30):
    """Himmelblau's surface in 3-D with the descent paths, and a contour view with the
    four minima and the same paths.

    Parameters
    ----------
    path : str or Path
        The output file.
    trajectories : (n, 2) array or a sequence of them
        Points visited by gradient descent (``gradient_descent(...).path``).
    labels : sequence of str, optional
        One legend entry per trajectory (default: its start point).
    lim : float
        The plotted square is [-lim, lim]^2.
    elev, azim : float
        The 3-D view angles (the tutorial's ``view_init(60, -30)``).

    Returns
    -------
    Path
    """
    import mpl_toolkits.mplot3d  # noqa: F401  (registers the "3d" projection)
    from matplotlib.colors import LogNorm

    from .functions import HIMMELBLAU_MINIMA, himmelblau

    if isinstance(trajectories, np.ndarray):
        trajectories = [trajectories] if trajectories.ndim == 2 else list(trajectories)
    elif len(trajectories) and np.ndim(trajectories[0]) == 1:   # one path as a list of points
        trajectories = [trajectories]
    trajectories = [np.asarray(t, dtype=float) for t in trajectories]
    for t in trajectories:
        if t.ndim != 2 or t.shape[1] != 2 or len(t) == 0:
            raise ValueError(f"a trajectory must have shape (n, 2), got {t.shape}")
    if labels is None:
        labels = [f"path from ({t[0, 0]:g}, {t[0, 1]:g})" for t in trajectories]
    colors = ["tab:red", "tab:orange", "tab:purple", "tab:cyan", "tab:pink", "tab:brown"]

    grid = np.linspace(-lim, lim, 121)
    X, Y = np.meshgrid(grid, grid)
    Z = himmelblau(np.stack([X, Y]))

    fig = _new_figure(15, 6.5)
    # ---- left: the surface with the paths drawn over it
    ax3 = fig.add_subplot(1, 2, 1, projection="3d", computed_zorder=False)
    ax3.plot_surface(X, Y, Z, cmap="viridis", alpha=0.75, linewidth=0, rstride=2, cstride=2,
                     zorder=1)
    for t, label, color in zip(trajectories, labels, colors * len(trajectories)):
        z = himmelblau(t.T)
        ax3.plot(t[:, 0], t[:, 1], z, color=color, lw=2.5, zorder=10, label=label)
        ax3.scatter(*t[0], z[0], color=color, s=40, marker="o", edgecolor="k", zorder=11)
        ax3.scatter(*t[-1], z[-1], color=color, s=120, marker="X", edgecolor="k", zorder=11)
    ax3.scatter(HIMMELBLAU_MINIMA[:, 0], HIMMELBLAU_MINIMA[:, 1], 0, marker="*", s=160,
                color="white", edgecolor="k", zorder=12, label="minima (f = 0)")
    ax3.view_init(elev, azim)
    ax3.set_xlabel("x")
    ax3.set_ylabel("y")
    ax3.set_zlabel("f(x, y)")
    ax3.set_title("Himmelblau's function and gradient descent")
    ax3.legend(loc="upper left", fontsize=8)

    # ---- right: contours (log-spaced, f spans 0 to ~2000) with minima and paths
    ax = fig.add_subplot(1, 2, 2)
    levels = np.logspace(-1, np.log10(Z.max()), 25)
    filled = ax.contourf(X, Y, np.maximum(Z, levels[0]), levels=levels, cmap="viridis",
                         norm=LogNorm(), alpha=0.85)
    fig.colorbar(filled, ax=ax, label="f(x, y), log scale", format="%.3g")
    for t, label, color in zip(trajectories, labels, colors * len(trajectories)):
        ax.plot(t[:, 0], t[:, 1], color=color, lw=2, label=label)
        ax.plot(*t[0], "o", color=color, mec="k", ms=7)
        ax.plot(*t[-1], "X", color=color, mec="k", ms=10)
    ax.plot(HIMMELBLAU_MINIMA[:, 0], HIMMELBLAU_MINIMA[:, 1], "*", color="white", mec="k",
            ms=16, label="minima (f = 0)")
    for mx, my in HIMMELBLAU_MINIMA:
        ax.annotate(f"({mx:.3f}, {my:.3f})", (mx, my), textcoords="offset points",
                    xytext=(0, 11), ha="center", fontsize=8, color="white",
                    bbox=dict(boxstyle="round,pad=0.2", fc="black", alpha=0.6, lw=0))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Contours, the four minima, and the paths (o start, X end)")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.subplots_adjust(left=0.02, right=0.95, wspace=0.12)
    return save_figure(fig, path)


# ------------------------------------------------------------------------------- training

def plot_curves(path, history):
    """Loss and accuracy per epoch, train and test, from a run's history."""
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history["epochs"]]
    fig = _new_figure(11, 4.2)
    for ax, key, title in ((fig.add_subplot(1, 2, 1), "loss", "loss (softmax cross-entropy)"
                            if history["config"]["loss"] == "ce" else "loss (MSE)"),
                           (fig.add_subplot(1, 2, 2), "accuracy", "accuracy")):
        for split, style in (("train", "-o"), ("test", "-s")):
            ax.plot(epochs, [r[f"{split}_{key}"] for r in history["epochs"]], style, ms=3,
                    label=split)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    best = int(np.argmax([r["test_accuracy"] for r in history["epochs"]]))
    ax.annotate(f"best test {history['epochs'][best]['test_accuracy']:.4f}",
                (epochs[best], history["epochs"][best]["test_accuracy"]),
                textcoords="offset points", xytext=(-60, -30),
                arrowprops={"arrowstyle": "->", "color": "0.3"}, fontsize=9)
    c = history["config"]
    fig.suptitle(f"{'-'.join(map(str, [784, *c['hidden'], 10]))} {c['activation']}, "
                 f"{c['optimizer']} lr {c['lr']:g}, batch {c['batch_size']}")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion(path, confusion, class_names):
    """The confusion matrix C[true, predicted] as counts, with per-class accuracy."""
    C = np.asarray(confusion)
    fig = _new_figure(8.5, 7.5, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(C, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="test images")
    n = len(class_names)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    recall = C.diagonal() / np.maximum(C.sum(axis=1), 1)
    ax.set_yticks(range(n), [f"{name} ({r:.0%})" for name, r in zip(class_names, recall)])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (per-class accuracy)")
    for i in range(n):
        for j in range(n):
            if C[i, j]:
                ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if C[i, j] > C.max() / 2 else "black")
    ax.set_title(f"confusion matrix: accuracy {C.trace() / C.sum():.4f} "
                 f"({C.trace()} of {C.sum()})")
    return save_figure(fig, path)


def plot_samples(path, images, labels, predictions, class_names, n=40, seed=0):
    """A grid of test images titled "predicted (true)"; misclassified ones in red with a
    red frame. Half of the shown images are drawn from the misclassified ones, so the
    errors are visible."""
    rng = np.random.default_rng(seed)
    wrong = np.flatnonzero(predictions != labels)
    right = np.flatnonzero(predictions == labels)
    n_wrong = min(len(wrong), n // 2)
    picked = np.concatenate([rng.choice(wrong, n_wrong, replace=False),
                             rng.choice(right, min(len(right), n - n_wrong), replace=False)])
    picked = np.sort(picked)
    cols = 8
    rows = int(np.ceil(len(picked) / cols))
    fig = _new_figure(cols * 1.6, rows * 1.85)
    for k, i in enumerate(picked):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
        ok = predictions[i] == labels[i]
        color = "black" if ok else "red"
        title = class_names[predictions[i]] if ok else \
            f"{class_names[predictions[i]]}\n(true: {class_names[labels[i]]})"
        ax.set_title(title, fontsize=7, color=color)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(color)
            spine.set_linewidth(1 if ok else 2.5)
    fig.suptitle(f"test images: predicted class; misclassified in red with the true class "
                 f"({len(wrong)} of {len(labels)} wrong overall)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


FIGURES = ("curves.png", "confusion.png", "samples.png")  # of a run, in its folder


def training_figures(out_dir, history, model, data):
    """Draw the FIGURES of a run: curves.png, confusion.png and samples.png; return their
    paths."""
    from .data import CLASS_NAMES
    from .losses import SoftmaxCrossEntropy
    from .train import confusion_matrix, evaluate

    _, (x_test, y_test) = data
    predictions = evaluate(model, SoftmaxCrossEntropy(), x_test, y_test)["predictions"]
    out_dir = Path(out_dir)
    curves, confusion, samples = (out_dir / name for name in FIGURES)
    return [plot_curves(curves, history),
            plot_confusion(confusion,
                           confusion_matrix(y_test, predictions, len(CLASS_NAMES)), CLASS_NAMES),
            plot_samples(samples, x_test, y_test, predictions, CLASS_NAMES)]
