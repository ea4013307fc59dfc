"""The teaching figures of backprop.app.figures and the fixes to the tutorial's figures: each
test checks the numbers a figure draws (captured from the Figure before it is saved) and
that a real PNG is written."""
import numpy as np
import pytest
from matplotlib.image import imread

from backprop.app import figures as plots
from backprop.tf.functions import (HIMMELBLAU_MINIMA, gradient_descent, himmelblau,
                                himmelblau_gradient)
from backprop.app.figures import (himmelblau_stationary_points, network_values,
                            vanishing_gradients)


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions save, in order."""
    figures, save = [], plots.save_figure

    def keep(fig, path):
        figures.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figures


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [fig._suptitle.get_text() if fig._suptitle else ""]


def written(path):
    image = imread(path)
    assert image.shape[0] >= 400 and image.shape[1] >= 600 and image[..., :3].std() > 0.05
    return image


def test_network_values_are_the_hand_worked_example():
    v = network_values()
    np.testing.assert_allclose(v["z"][1], [-0.7, 0.1], atol=1e-12)
    np.testing.assert_allclose(v["O"][1], [0.331812, 0.524979], atol=5e-7)
    np.testing.assert_allclose(v["O"][2], [0.473889], atol=5e-7)
    np.testing.assert_allclose(v["delta"][1], [0.008725, 0.006542], atol=5e-7)
    np.testing.assert_allclose(v["delta"][2], [-0.131169], atol=5e-7)
    # the hidden delta is the derivation's O_j (1 - O_j) sum_k delta_k W_jk
    O4 = v["O"][1]
    np.testing.assert_allclose(v["delta"][1], O4 * (1 - O4) * (v["W"][1] @ v["delta"][2]))
    assert v["E"] == pytest.approx(0.138396, abs=5e-7)


def test_plot_network_draws_every_weight_O_and_delta(tmp_path, drawn):
    path = plots.plot_network(tmp_path / "n.png")
    written(path)
    shown = "\n".join(texts(drawn[0]))
    v = network_values()
    for name, value in [("W14", 0.2), ("W15", -0.3), ("W24", 0.4), ("W25", 0.1),
                        ("W34", -0.5), ("W35", 0.2), ("W46", -0.3), ("W56", -0.2)]:
        assert f"{name} = {value:g}" in shown
    for l in (1, 2):
        for k in range(len(v["O"][l])):
            assert f"O = {v['O'][l][k]:.6f}" in shown
            assert f"delta = {v['delta'][l][k]:.6f}" in shown
            assert f"z = {v['z'][l][k]:.6f}" in shown
    assert "delta = -0.131169" in shown and "E = 0.138396" in shown


def test_vanishing_gradients_sigmoid_shrinks_relu_keeps_its_size(tmp_path, drawn):
    norms = vanishing_gradients()
    assert list(norms) == ["sigmoid", "tanh", "relu"]
    sigmoid, tanh, relu = norms.values()
    assert len(sigmoid) == 10
    assert sigmoid[0] < 1e-5 and 0.5 < sigmoid[-1] < 1.0          # measured 6.1e-6, 0.78
    assert np.all(np.diff(sigmoid) > 0)                            # smaller every layer down
    assert np.all((relu[1:] > 0.3) & (relu[1:] < 1.0))             # measured 0.41 .. 0.69
    assert np.all((tanh[1:] > 0.1) & (tanh[1:] < 1.0))
    written(plots.plot_vanishing_gradients(tmp_path / "v.png"))
    lines = [line for line in drawn[0].axes[0].lines if line.get_label() in norms]
    for line in lines:
        np.testing.assert_allclose(line.get_ydata(), norms[line.get_label()])
    assert len(lines) == 3


def test_the_norms_are_the_gradients_of_an_independent_computation():
    """One sigmoid network recomputed with plain NumPy: forward, the delta rule, norms."""
    norms = vanishing_gradients(activations=("sigmoid",), depth=3, width=5, n_in=4,
                                n_out=3, batch=6)["sigmoid"]
    import backprop as bp
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (6, 4)), rng.integers(0, 3, 6)
    model = bp.Sequential.mlp([4, 5, 5, 3], activation="sigmoid", rng=0, dtype=np.float64)
    Os = [x]
    for layer in model.layers:
        z = Os[-1] @ layer.W + layer.b
        Os.append(1 / (1 + np.exp(-z)) if layer is not model.layers[-1] else z)
    p = np.exp(Os[-1] - Os[-1].max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(3)[y]) / 6
    expected = []
    for i in range(2, -1, -1):
        expected.insert(0, np.linalg.norm(Os[i].T @ delta))
        delta = (delta @ model.layers[i].W.T) * Os[i] * (1 - Os[i])
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def numeric_hessian(p, h=1e-5):
    return np.stack([(himmelblau_gradient(p + h * e) - himmelblau_gradient(p - h * e)) / (2 * h)
                     for e in np.eye(2)])


def test_himmelblau_has_nine_stationary_points_classified(tmp_path, drawn):
    points = himmelblau_stationary_points()
    kinds = [kind for _, _, kind in points]
    assert sorted(kinds) == ["maximum"] + ["minimum"] * 4 + ["saddle"] * 4
    for p, value, kind in points:
        assert np.linalg.norm(himmelblau_gradient(p)) < 1e-9
        assert value == pytest.approx(float(himmelblau(p)))
        eig = np.linalg.eigvalsh(numeric_hessian(p))               # not the module's Hessian
        assert kind == {2: "minimum", 0: "maximum", 1: "saddle"}[int(np.sum(eig > 0))]
    minima = np.array([p for p, _, k in points if k == "minimum"])
    for m in HIMMELBLAU_MINIMA:
        assert np.min(np.linalg.norm(minima - m, axis=1)) < 1e-9
    [(top, f_top, _)] = [q for q in points if q[2] == "maximum"]
    np.testing.assert_allclose(top, [-0.2708, -0.9230], atol=5e-5)
    assert f_top == pytest.approx(181.617, abs=5e-4)
    written(plots.plot_himmelblau_stationary(tmp_path / "h.png"))
    marked = {line.get_label().split()[0]: np.column_stack(line.get_data())
              for line in drawn[0].axes[0].lines}
    for kind in ("minimum", "maximum", "saddle"):
        np.testing.assert_allclose(marked[kind], [p for p, _, k in points if k == kind])
    assert sum("f = 181.617" in t for t in texts(drawn[0])) == 1


def test_relu_panel_draws_both_conventions_at_zero(tmp_path, drawn):
    plots.plot_activations(tmp_path / "a.png")
    relu = [ax for ax in drawn[0].axes if ax.get_title() == "relu"][0]
    at_zero = {line.get_label(): tuple(np.ravel(line.get_data()))
               for line in relu.lines if "(0)" in line.get_label()}
    assert at_zero == {"f'(0) = 1, hand-written": (0, 1),
                       "df/dx(0) = 0, tape (as TF, PyTorch)": (0, 0)}


def test_himmelblau_end_marker_above_the_minima_and_a_flatter_view(tmp_path, drawn):
    plots.plot_himmelblau(tmp_path / "h.png", gradient_descent((-4.0, 0.0)).path)
    contour = drawn[0].axes[-2]                    # the contour panel (then its colorbar)
    end = [line for line in contour.lines if line.get_marker() == "X"][0]
    stars = [line for line in contour.lines if line.get_marker() == "*"][0]
    assert end.get_zorder() > stars.get_zorder() and stars.get_markerfacecolor() == "none"
    assert drawn[0].axes[0].elev < 60


HISTORY_CONFIG = {"loss": "ce", "hidden": [256, 128, 64, 32], "activation": "relu",
                  "optimizer": "adam", "lr": 1e-3, "batch_size": 100}


def epoch(n, accuracy):
    return {"epoch": n, "train_loss": 1 / n, "test_loss": 1.1 / n, "train_accuracy": accuracy,
            "test_accuracy": accuracy, "steps": 600 * n}


def test_curves_after_one_epoch_have_a_whole_epoch_axis(tmp_path, drawn):
    plots.plot_curves(tmp_path / "c.png", {"config": HISTORY_CONFIG, "epochs": [epoch(1, 0.8)],
                                           "evaluations": []})
    for ax in drawn[0].axes:
        assert list(ax.get_xticks()) == [1] and ax.get_xlim() == (0.5, 1.5)


def test_curves_draw_the_eval_every_points_and_name_the_best_in_the_legend(tmp_path, drawn):
    evaluations = [{"step": s, "epoch": 1 + s // 600, "test_loss": 1.0, "test_accuracy": 0.7}
                   for s in (300, 600, 900, 1200)]
    history = {"config": HISTORY_CONFIG, "epochs": [epoch(1, 0.84), epoch(2, 0.886)],
               "evaluations": evaluations}
    written(plots.plot_curves(tmp_path / "c.png", history))
    for ax in drawn[0].axes:
        dots = [line for line in ax.lines if "eval-every" in line.get_label()]
        assert [list(d.get_xdata()) for d in dots] == [[0.5, 1.0, 1.5, 2.0]]
        assert not ax.texts                                 # no note over the axis label
    legend = [t.get_text() for t in drawn[0].axes[1].get_legend().get_texts()]
    assert "best test 0.8860 (epoch 2)" in legend


def test_samples_grid_says_what_it_shows(tmp_path, drawn):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 1000)
    predictions = np.where(rng.random(1000) < 0.114, (labels + 1) % 10, labels)
    images = rng.integers(0, 256, (1000, 28, 28)).astype(np.uint8)
    names = [f"class {i}" for i in range(10)]
    written(plots.plot_samples(tmp_path / "s.png", images, labels, predictions, names))
    axes = drawn[0].axes
    colors = [ax.title.get_color() for ax in axes]
    assert colors == ["black"] * 20 + ["red"] * 20          # the right ones, then the wrong
    assert min(ax.title.get_fontsize() for ax in axes) >= 9
    wrong = int(np.sum(predictions != labels))
    assert f"overall {wrong} of 1000 are wrong (accuracy {1 - wrong / 1000:.4f})" in \
        drawn[0]._suptitle.get_text()


@pytest.mark.slow
def test_docs_figures_are_full_colour_and_high_resolution(tmp_path):
    paths = plots.docs_figures(tmp_path, dpi=120)
    assert [p.name for p in paths] == ["activations.png", "himmelblau.png", "network_321.png",
                                       "vanishing_gradients.png", "himmelblau_stationary.png"]
    for p in paths:
        written(p)
    docs_img = plots.Path(__file__).resolve().parent.parent / "docs" / "img"
    for p in paths:                                 # the copies docs/ shows, regenerated
        header = (docs_img / p.name).read_bytes()[:26]
        width = int.from_bytes(header[16:20], "big")
        assert header[25] in (2, 6) and width >= 1500, p.name   # RGB(A), not a palette
    assert plots.DPI == 100                          # restored for everything else
