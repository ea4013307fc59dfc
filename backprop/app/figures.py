"""The matplotlib figures: everything the package draws lives here.

Figures: the activations with their derivatives; Himmelblau's surface with
gradient-descent paths, and its stationary points classified by the Hessian; the teaching
figures of docs/derivation.md (the 3-2-1 network with each unit's O and delta, gradient
norms per layer of a deep network); and for a training run, the loss and accuracy curves, the
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
           "plot_samples", "save_figure", "network_values",
           "plot_network", "vanishing_gradients", "plot_vanishing_gradients",
           "himmelblau_stationary_points", "plot_himmelblau_stationary", "docs_figures"]

DPI = 100


def _new_figure(width, height, **kwargs):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, **kwargs)


def save_figure(fig, path):
    """Write ``fig`` to ``path`` and return the path written, as a Path (OSError if the
    folder is missing; an OSError of the write, e.g. a full disk, names the file). A name
    without a suffix gets ".png" (as matplotlib would add it)."""
    from .io import write_error

    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    try:
        fig.savefig(path, dpi=DPI)
    except OSError as error:
        raise write_error(error, path) from error
    return path


# ------------------------------------------------------------------------------ activations

def _activation_curves(x):
    """(name, f(x), hand-written f'(x) or None, the tape's df/dx) for each activation.

    f and f' come from the engine's activation classes; df/dx from the tape differentiating
    the ``bp.tf.autodiff.nn`` op, an independent check drawn on top of the hand-written derivative.
    """
    from ..tf.autodiff import GradientTape, constant, nn

    tape_ops = {"sigmoid": nn.sigmoid, "tanh": nn.tanh, "relu": nn.relu,
                "leaky relu (alpha = 0.2)": lambda t: nn.leaky_relu(t, alpha=0.2)}
    from ..core.activations import LeakyReLU, ReLU, Sigmoid, Tanh

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
        if name == "relu":                             # the two conventions at x = 0
            _, _, hand0, tape0 = _activation_curves(np.zeros(1))[2]
            ax.plot(0, hand0[0], "o", ms=10, mfc="none", mec="tab:orange", mew=2.5,
                    label=f"f'(0) = {hand0[0]:g}, hand-written")
            ax.plot(0, tape0[0], "o", ms=8, color="tab:green", mec="k",
                    label=f"df/dx(0) = {tape0[0]:g}, tape (as TF, PyTorch)")
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x), f'(x)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=9)
    fig.suptitle("Activation functions and their derivatives")
    return save_figure(fig, path)


# -------------------------------------------------------------------------------- himmelblau

def _square_xy_axes(ax, lim):
    """The x-y plane from -lim to lim on both axes, at the same scale."""
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def plot_himmelblau(path="himmelblau.png", trajectories=(), labels=None, lim=6.0,
                    elev=35, azim=-60):
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
        The 3-D view angles (the tutorial's ``view_init(60, -30)`` looks down so steeply
        that the path is hard to follow; the default is flatter).

    Returns
    -------
    Path
    """
    import mpl_toolkits.mplot3d  # noqa: F401  (registers the "3d" projection)
    from matplotlib.colors import LogNorm

    from ..tf.functions import HIMMELBLAU_MINIMA, himmelblau

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

    fig = _new_figure(13, 6)
    # ---- left: the surface with the paths drawn over it
    ax3 = fig.add_subplot(1, 2, 1, projection="3d", computed_zorder=False)
    ax3.plot_surface(X, Y, Z, cmap="viridis", alpha=0.75, linewidth=0, rstride=2, cstride=2,
                     zorder=1)
    for t, label, color in zip(trajectories, labels, colors * len(trajectories)):
        z = himmelblau(t.T)
        ax3.plot(t[:, 0], t[:, 1], z, color=color, lw=2.5, zorder=10, label=label)
        ax3.scatter(*t[0], z[0], color=color, s=40, marker="o", edgecolor="k", zorder=11)
        ax3.scatter(*t[-1], z[-1], color=color, s=120, marker="X", edgecolor="k", zorder=12)
    ax3.scatter(HIMMELBLAU_MINIMA[:, 0], HIMMELBLAU_MINIMA[:, 1], 0, marker="*", s=260,
                facecolor="none", edgecolor="white", linewidth=1.5, zorder=11,
                label="minima (f = 0)")          # hollow and under the end markers
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
        ax.plot(*t[-1], "X", color=color, mec="k", ms=10, zorder=4)
    ax.plot(HIMMELBLAU_MINIMA[:, 0], HIMMELBLAU_MINIMA[:, 1], "*", mfc="none", mec="white",
            mew=1.5, ms=22, zorder=3, label="minima (f = 0)")  # hollow: an end X shows
    for mx, my in HIMMELBLAU_MINIMA:
        ax.annotate(f"({mx:.3f}, {my:.3f})", (mx, my), textcoords="offset points",
                    xytext=(0, 11), ha="center", fontsize=8, color="white",
                    bbox=dict(boxstyle="round,pad=0.2", fc="black", alpha=0.6, lw=0))
    _square_xy_axes(ax, lim)
    ax.set_title("Contours, the four minima, and the paths (o start, X end)")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.subplots_adjust(left=0.0, right=0.96, bottom=0.09, top=0.93, wspace=0.02)
    return save_figure(fig, path)


# ------------------------------------------------------------------------ teaching figures
# Each figure below draws numbers a public function computes (network_values,
# vanishing_gradients, himmelblau_stationary_points), so a test can check the numbers.

def network_values(model=None, x=None, t=None):
    """One forward and backward pass of a small sigmoid network under the half-sum MSE.

    Default: the hand-worked 3-2-1 network of docs/derivation.md section 10 (inputs
    (1, 0, 1), target 1). Returns a dict of lists, one entry per layer of units from the
    input up: "O" (outputs, the input first), "z" and "delta" (None for the input), and per
    weight layer "W", "b", "dW", "db"; plus "E". Every array is one sample's row.
    """
    from ..core.layers import Dense
    from ..core.losses import MSE
    from ..core.model import Sequential

    if model is None:
        hidden = Dense(3, 2, activation="sigmoid", dtype=np.float64)
        out = Dense(2, 1, activation="sigmoid", dtype=np.float64)
        hidden.W[...] = [[0.2, -0.3], [0.4, 0.1], [-0.5, 0.2]]     # W_14 W_15 / W_24 ...
        hidden.b[...] = [-0.4, 0.2]
        out.W[...] = [[-0.3], [-0.2]]                              # W_46 / W_56
        out.b[...] = [0.1]
        model, x, t = Sequential([hidden, out]), [[1.0, 0.0, 1.0]], [[1.0]]
    x, t = np.asarray(x, dtype=model.dtype), np.asarray(t, dtype=model.dtype)
    loss = MSE("half_sum")
    E = loss.forward(model.forward(x), t)
    model.backward(loss)
    values = {"O": [x[0].copy()], "z": [None], "delta": [None], "E": E,
              "W": [], "b": [], "dW": [], "db": []}
    for layer in model.layers:
        values["z"].append((layer.x @ layer.W + layer.b)[0])      # z = x W + b
        values["O"].append(layer.activation(values["z"][-1][None])[0])
        values["delta"].append(layer.delta[0].copy())
        for key in ("W", "b", "dW", "db"):
            values[key].append(getattr(layer, key).copy())
    return values


def plot_network(path="network_321.png", model=None, x=None, t=None):
    """The network drawn as units and weights: each edge labelled with its W_jk, each unit
    with its net input z, output O and delta (``network_values``: the engine's own
    numbers), and red arrows for the deltas flowing back. Default: the 3-2-1 example.

    Units are numbered 1, 2, ... across the network, as in the derivation (code indexes
    each layer's arrays from 0: W_14 is the first layer's W[0, 0]).
    """
    from matplotlib.patches import Circle, FancyArrowPatch

    v = network_values(model, x, t)
    sizes = [len(o) for o in v["O"]]
    dx, dy, r = 4.0, 2.2, 0.42
    top, bottom = dy * (max(sizes) - 1) / 2 + r + 0.2, -dy * (max(sizes) - 1) / 2 - 1.75
    width, height = dx * (len(sizes) - 1) + 2.4, top - bottom              # data units
    fig = _new_figure(0.85 * width, 0.85 * height / 0.86)
    ax = fig.add_axes([0.0, 0.0, 1.0, 0.86])
    ax.set_axis_off()
    pos = [[(dx * l, dy * ((n - 1) / 2 - j)) for j in range(n)] for l, n in enumerate(sizes)]
    first = np.cumsum([1] + sizes)                   # the number of each layer's first unit
    for l, W in enumerate(v["W"]):
        for j, (x0, y0) in enumerate(pos[l]):
            for k, (x1, y1) in enumerate(pos[l + 1]):
                ax.add_patch(FancyArrowPatch((x0 + r, y0), (x1 - r, y1), arrowstyle="-|>",
                                             mutation_scale=12, color="0.5", lw=1))
                f = 0.25 + 0.12 * (k % 2)            # stagger the labels of crossing edges
                ax.text(x0 + r + (x1 - x0 - 2 * r) * f, y0 + (y1 - y0) * f,
                        f"W{first[l] + j}{first[l + 1] + k} = {W[j, k]:g}", fontsize=8,
                        ha="center", va="center", bbox=dict(fc="white", ec="none", pad=0.3))
        y_low = -dy * (max(sizes) - 1) / 2 - 1.25
        ax.add_patch(FancyArrowPatch((dx * (l + 1) - r, y_low), (dx * l + r, y_low),
                                     arrowstyle="-|>", mutation_scale=16, color="tab:red",
                                     lw=2))
        ax.text(dx * (l + 0.5), y_low - 0.12, "the deltas flow back through W" if l + 2 ==
                len(sizes) else "dE/dW_ij = O_i delta_j", color="tab:red", ha="center",
                va="top", fontsize=9)
    for l, units in enumerate(pos):
        for j, (px, py) in enumerate(units):
            ax.add_patch(Circle((px, py), r, fc="tab:blue" if l else "0.8", ec="k"))
            ax.text(px, py, str(first[l] + j), ha="center", va="center", fontsize=12,
                    color="white" if l else "black", weight="bold")
            lines = ([f"O = {v['O'][l][j]:.6g}"] if l == 0 else
                     [f"z = {v['z'][l][j]:.6f}", f"O = {v['O'][l][j]:.6f}",
                      f"delta = {v['delta'][l][j]:.6f}", f"b = {v['b'][l - 1][j]:g}"])
            for i, line in enumerate(lines):
                ax.text(px, py - r - 0.08 - 0.21 * i, line, ha="center", va="top",
                        fontsize=8, color="tab:red" if line[0] == "d" else "black")
    ax.set_xlim(-1.2, width - 1.2)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    fig.suptitle("forward: z_k = sum_j O_j W_jk + b_k, O_k = s(z_k);   backward: delta_k = "
                 "O_k (1 - O_k)(O_k - t_k),\ndelta_j = O_j (1 - O_j) sum_k delta_k W_jk;   "
                 f"half-sum error E = {v['E']:.6f}", fontsize=10)
    return save_figure(fig, path)


def vanishing_gradients(activations=("sigmoid", "tanh", "relu"), depth=10, width=64,
                        n_in=784, n_out=10, batch=100, seed=0, init=None):
    """The Frobenius norm ||dE/dW|| of every layer of a ``depth``-layer MLP at
    initialisation, one dict entry (an array of ``depth`` norms, first layer first) per
    activation.

    One batch of ``batch`` inputs uniform in [0, 1) with random labels, softmax
    cross-entropy, float64; each network starts from the same seed with the layers'
    default initialisation (Glorot uniform for sigmoid and tanh, He normal for relu),
    or ``init`` for all of them.
    """
    from ..core.losses import SoftmaxCrossEntropy
    from ..core.model import Sequential

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, n_in))
    y = rng.integers(0, n_out, batch)
    norms = {}
    for name in activations:
        model = Sequential.mlp([n_in] + [width] * (depth - 1) + [n_out], activation=name,
                               rng=seed, dtype=np.float64, init=init)
        loss = SoftmaxCrossEntropy()
        loss.forward(model.forward(x), y)
        model.backward(loss)
        norms[name] = np.array([np.linalg.norm(layer.dW) for layer in model.layers])
    return norms


def plot_vanishing_gradients(path="vanishing_gradients.png", **kwargs):
    """``vanishing_gradients(**kwargs)`` drawn as one line per activation over the layers,
    on a log scale: the sigmoid's gradients shrink by a factor of about 4 per layer
    downwards, tanh's and relu's keep their size."""
    norms = vanishing_gradients(**kwargs)
    fig = _new_figure(8, 4.8, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for (name, n), marker in zip(norms.items(), "osd^v"):
        layers = np.arange(1, len(n) + 1)
        ax.semilogy(layers, n, "-" + marker, lw=2, label=name)
        ax.annotate(f"{n[0]:.1e}", (1, n[0]), textcoords="offset points", xytext=(8, -3),
                    fontsize=8)
        ax.annotate(f"{n[-1]:.2g}", (layers[-1], n[-1]), textcoords="offset points",
                    xytext=(6, -3), fontsize=8)
    ax.set_xticks(layers)
    ax.set_xlim(0.6, len(layers) + 0.8)
    ax.set_xlabel("layer (1 = first, next to the input)")
    ax.set_ylabel("||dE/dW||  (log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="hidden units")
    ax.set_title(f"Gradient norm per layer at initialisation, {len(layers)} layers")
    return save_figure(fig, path)


def himmelblau_stationary_points(tol=1e-10):
    """Every stationary point of Himmelblau's function (gradient 0), each classified from
    the hand-derived Hessian of ``backprop.tf.functions``: "minimum" (both eigenvalues > 0),
    "maximum" (both < 0) or "saddle". Found with Newton's method,
    p <- p - H(p)^-1 grad f(p), from a grid of starts over [-5, 5]^2.

    Returns
    -------
    list of ((x, y), f, kind), sorted by x: nine points (four minima, one maximum, four
    saddles).
    """
    from ..tf.functions import himmelblau, himmelblau_gradient, himmelblau_hessian

    found = []
    for start in np.stack(np.meshgrid(*[np.linspace(-5, 5, 11)] * 2)).reshape(2, -1).T:
        p = start
        for _ in range(50):
            H = himmelblau_hessian(p)
            if abs(np.linalg.det(H)) < 1e-12 or np.linalg.norm(p) > 10:
                break
            p = p - np.linalg.solve(H, himmelblau_gradient(p))
        if np.linalg.norm(himmelblau_gradient(p)) < tol and \
                all(np.linalg.norm(p - q) > 1e-6 for q, _, _ in found):
            eigenvalues = np.linalg.eigvalsh(himmelblau_hessian(p))
            kind = ("minimum" if eigenvalues.min() > 0 else
                    "maximum" if eigenvalues.max() < 0 else "saddle")
            found.append((p, float(himmelblau(p)), kind))
    return sorted(found, key=lambda point: point[0][0])


STATIONARY_STYLE = {"minimum": ("*", "white", 16), "maximum": ("^", "tab:red", 11),
                    "saddle": ("X", "tab:orange", 10)}


def plot_himmelblau_stationary(path="himmelblau_stationary.png", lim=5.5):
    """Contours of Himmelblau's function with every stationary point of
    ``himmelblau_stationary_points`` marked by kind and labelled with its f."""
    from matplotlib.colors import LogNorm

    from ..tf.functions import himmelblau

    points = himmelblau_stationary_points()
    grid = np.linspace(-lim, lim, 301)
    X, Y = np.meshgrid(grid, grid)
    Z = himmelblau(np.stack([X, Y]))
    fig = _new_figure(8.6, 7.2, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    levels = np.logspace(-1, np.log10(Z.max()), 30)
    filled = ax.contourf(X, Y, np.maximum(Z, levels[0]), levels=levels, cmap="viridis",
                         norm=LogNorm())
    ax.contour(X, Y, Z, levels=[50, 100, 150, 175], colors="white", linewidths=0.5,
               alpha=0.6)
    fig.colorbar(filled, ax=ax, label="f(x, y), log scale", format="%.3g", shrink=0.85)
    for kind, (marker, color, size) in STATIONARY_STYLE.items():
        xy = np.array([p for p, _, k in points if k == kind]).reshape(-1, 2)
        ax.plot(xy[:, 0], xy[:, 1], marker, color=color, mec="k", ms=size, ls="none",
                label=f"{kind} ({len(xy)})")
    for (px, py), value, kind in points:
        ax.annotate(f"({px:.4f}, {py:.4f})\nf = {value:.3f}", (px, py),
                    textcoords="offset points", xytext=(0, 12 if py < 4.5 else -30),
                    ha="center", fontsize=7, color="white",
                    bbox=dict(boxstyle="round,pad=0.2", fc="black", alpha=0.6, lw=0))
    _square_xy_axes(ax, lim)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    ax.set_title("Himmelblau's stationary points, classified by the Hessian's eigenvalues")
    return save_figure(fig, path)


def docs_figures(out_dir="docs/img", dpi=200):
    """Redraw the figures docs/ and README show into ``out_dir`` at ``dpi`` (full-colour
    PNGs, so the paths are not dithered); return their paths. benchmark.png is drawn by
    the benchmark runner, not here."""
    from ..tf.functions import gradient_descent

    global DPI
    out_dir, saved = Path(out_dir), DPI
    DPI = dpi
    try:
        return [plot_activations(out_dir / "activations.png"),
                plot_himmelblau(out_dir / "himmelblau.png",      # `backprop himmelblau`'s
                                gradient_descent((-4.0, 0.0)).path),  # path, from (-4, 0)
                plot_network(out_dir / "network_321.png"),
                plot_vanishing_gradients(out_dir / "vanishing_gradients.png"),
                plot_himmelblau_stationary(out_dir / "himmelblau_stationary.png")]
    finally:
        DPI = saved


# ------------------------------------------------------------------------------- training

def plot_curves(path, history):
    """Loss and accuracy per epoch, train and test, from a run's history; the test
    evaluations of ``--eval-every`` (history["evaluations"]) as small dots between the
    epochs, and the best test accuracy marked and named in the legend."""
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history["epochs"]]
    evaluations = history.get("evaluations") or []
    steps_per_epoch = history["epochs"][0]["steps"] / epochs[0] if evaluations else 1
    fig = _new_figure(11, 4.2)
    for ax, key, title in ((fig.add_subplot(1, 2, 1), "loss", "loss (softmax cross-entropy)"
                            if history["config"]["loss"] == "ce" else "loss (MSE)"),
                           (fig.add_subplot(1, 2, 2), "accuracy", "accuracy")):
        for split, style in (("train", "-o"), ("test", "-s")):
            ax.plot(epochs, [r[f"{split}_{key}"] for r in history["epochs"]], style, ms=3,
                    label=split)
        if evaluations:
            ax.plot([e["step"] / steps_per_epoch for e in evaluations],
                    [e[f"test_{key}"] for e in evaluations], ".", color="tab:orange",
                    ms=4, alpha=0.6, label="test, every eval-every steps")
        ax.set_xlabel("epoch")
        ax.set_xlim(min(epochs[0], 1) - 0.5, epochs[-1] + 0.5)   # one epoch: an axis too
        if len(epochs) <= 12:
            ax.set_xticks(epochs)                     # whole epochs only, even for one
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    best = int(np.argmax([r["test_accuracy"] for r in history["epochs"]]))
    best_accuracy = history["epochs"][best]["test_accuracy"]
    ax.plot(epochs[best], best_accuracy, "*", color="gold", mec="k", ms=12, zorder=5,
            label=f"best test {best_accuracy:.4f} (epoch {epochs[best]})")  # covers nothing
    for ax, where in zip(fig.axes, ("upper right", "lower right")):
        ax.legend(fontsize=9, loc=where)          # loss falls and accuracy rises: no overlap
    c = history["config"]
    sizes = history.get("sizes", [784, *c["hidden"], 10])  # recorded since --data DIR
    fig.suptitle(f"{'-'.join(map(str, sizes))} {c['activation']}, "
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
    """A grid of test images titled with the predicted class; misclassified ones in red,
    with the true class and a red frame. The correctly classified come first, then up to
    half the grid of misclassified ones, chosen on purpose so the errors can be seen; the
    caption says so and gives the overall error rate (the grid's is not the model's)."""
    rng = np.random.default_rng(seed)
    wrong = np.flatnonzero(predictions != labels)
    right = np.flatnonzero(predictions == labels)
    n_wrong = min(len(wrong), n // 2)
    picked = np.concatenate([rng.choice(wrong, n_wrong, replace=False),
                             rng.choice(right, min(len(right), n - n_wrong), replace=False)])
    picked = np.concatenate([np.sort(picked[n_wrong:]), np.sort(picked[:n_wrong])])
    cols = 8
    rows = int(np.ceil(len(picked) / cols))
    fig = _new_figure(cols * 1.75, rows * 2.0 + 0.5)
    for k, i in enumerate(picked):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
        ok = predictions[i] == labels[i]
        color = "black" if ok else "red"
        title = class_names[predictions[i]] if ok else \
            f"{class_names[predictions[i]]}\n(true: {class_names[labels[i]]})"
        ax.set_title(title, fontsize=9, color=color)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(color)
            spine.set_linewidth(1 if ok else 2.5)
    fig.suptitle(f"{len(picked) - n_wrong} test images classified correctly (black), then "
                 f"{n_wrong} misclassified ones (red, with the true class) picked on purpose;"
                 f"\noverall {len(wrong)} of {len(labels)} are wrong "
                 f"(accuracy {1 - len(wrong) / len(labels):.4f})", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


FIGURES = ("curves.png", "confusion.png", "samples.png")  # of a run, in its folder
