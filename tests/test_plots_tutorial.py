"""The tutorial's commands: ``backprop himmelblau`` (log, minima, --all, --plot) and
``backprop plot activations``, run through ``backprop.app.cli.main`` with their files checked
by decoding the PNG."""
import re

import numpy as np
import pytest
from matplotlib.image import imread

from backprop.app import figures as plots
from backprop.app.cli import main
from backprop.tf.functions import HIMMELBLAU_MINIMA, gradient_descent
from tiny_runs import assert_one_line_error, run_cli

LOG_LINE = re.compile(r"^step (\d+): x = \[(\S+), (\S+)\], f\(x\) = (\S+)$")
TAB_RED = (0.839, 0.153, 0.157)


def read_png(path):
    """The decoded image, after checking it is a real, non-blank figure."""
    image = imread(path)
    height, width = image.shape[:2]
    assert height >= 400 and width >= 600
    rgb = image[..., :3]
    assert rgb.std() > 0.05                                  # not one flat colour
    assert np.mean(np.all(rgb > 0.97, axis=-1)) < 0.97       # not (almost) all white
    assert len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 100
    return rgb


def pixels_near(rgb, color, tolerance=0.06):
    return int(np.sum(np.all(np.abs(rgb - np.array(color)) < tolerance, axis=-1)))


def test_himmelblau_prints_the_log_every_20_steps_and_reaches_the_minimum(capsys):
    assert main(["himmelblau"]) == 0
    out = capsys.readouterr().out.splitlines()
    steps = [LOG_LINE.match(line) for line in out if line.startswith("step ")]
    assert all(steps)
    assert [int(m.group(1)) for m in steps] == list(range(0, 201, 20))
    first, last = steps[0], steps[-1]
    assert (float(first.group(2)), float(first.group(3)), float(first.group(4))) \
        == (-4.0, 0.0, 146.0)
    np.testing.assert_allclose([float(last.group(2)), float(last.group(3))],
                               [-3.779310, -3.283186], atol=1e-5)
    assert float(last.group(4)) < 1e-12
    assert out[-1] == "end: x = [-3.77931, -3.283186], at minimum 3 of 4 (-3.779310, -3.283186)"


def test_himmelblau_options_start_lr_steps_log_every(capsys):
    assert main(["himmelblau", "--start", "4", "0", "--lr", "0.005", "--steps", "30",
                 "--log-every", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out[:-1]] == ["step 0", "step 10", "step 20",
                                                         "step 30"]
    end = gradient_descent([4.0, 0.0], lr=0.005, steps=30).path[-1]
    match = LOG_LINE.match(out[-2])
    np.testing.assert_allclose([float(match.group(2)), float(match.group(3))], end, rtol=1e-6)
    assert out[-1].startswith("end: x = ") and "not at a minimum after 30 steps" in out[-1]


def test_himmelblau_all_finds_the_four_minima(capsys):
    assert main(["himmelblau", "--all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and out[-1] == "found 4 of 4 minima"
    for k, (line, (mx, my)) in enumerate(zip(out, HIMMELBLAU_MINIMA)):
        assert line.startswith("start [")
        assert line.endswith(f"-> at minimum {k + 1} of 4 ({mx:.6f}, {my:.6f})")


@pytest.mark.slow
def test_himmelblau_plot_draws_the_surface_path_and_minima(tmp_path, capsys):
    target = tmp_path / "himmelblau.png"
    assert main(["himmelblau", "--plot", str(target)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {target}"
    rgb = read_png(target)
    # the path is drawn in red; the viridis surface and contours contain no red
    empty = read_png(plots.plot_himmelblau(tmp_path / "empty.png"))
    assert pixels_near(rgb, TAB_RED) > 300
    assert pixels_near(empty, TAB_RED) == 0


@pytest.mark.slow
def test_plot_himmelblau_takes_several_paths(tmp_path):
    paths = [gradient_descent(s, steps=50).path for s in [(1, 0), (-4, 0)]]
    out = plots.plot_himmelblau(tmp_path / "two.png", paths, labels=["a", "b"])
    assert out == tmp_path / "two.png"
    read_png(out)
    with pytest.raises(ValueError, match="shape"):
        plots.plot_himmelblau(tmp_path / "bad.png", [np.zeros((3, 3))])


@pytest.mark.slow
def test_plot_activations_writes_the_default_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "activations"]) == 0
    assert capsys.readouterr().out.strip() == "wrote activations.png"
    rgb = read_png(tmp_path / "activations.png")
    # f in blue, the hand-written f' dashed orange, the tape's df/dx as green dots
    for color in [(0.122, 0.467, 0.706), (1.0, 0.498, 0.055), (0.173, 0.627, 0.173)]:
        assert pixels_near(rgb, color) > 200


@pytest.mark.slow
def test_plot_activations_to_a_named_file(tmp_path, capsys):
    target = tmp_path / "a.png"
    assert main(["plot", "activations", str(target)]) == 0
    assert target.stat().st_size > 20_000
    read_png(target)


@pytest.mark.slow
def test_a_figure_name_without_a_suffix_gets_png_and_says_so(tmp_path, capsys):
    assert main(["plot", "activations", str(tmp_path / "curves")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'curves.png'}\n"
    read_png(tmp_path / "curves.png")
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


@pytest.mark.parametrize("argv, message", [
    (["himmelblau", "--lr", "0"], "--lr must be a finite number > 0, got 0.0"),
    (["himmelblau", "--lr", "-0.5"], "--lr must be a finite number > 0"),
    (["himmelblau", "--lr", "inf"], "--lr must be a finite number > 0"),
    (["himmelblau", "--steps", "0"], "--steps must be at least 1, got 0"),
    (["himmelblau", "--start", "nan", "1"], "--start must be two finite numbers"),
    (["himmelblau", "--log-every", "0"], "--log-every must be at least 1"),
    (["himmelblau", "--all", "--start", "1", "1"], "--all runs from four fixed starts"),
    (["himmelblau", "--lr", "1"], "diverged at step"),
    (["himmelblau", "--all", "--lr", "1"], "from start [1.0, 0.0]: gradient descent diverged"),
    (["himmelblau", "--plot", "no/such/folder/h.png"], "folder no/such/folder does not exist"),
    (["plot", "activations", "no/such/folder/a.png"], "folder no/such/folder does not exist"),
    (["plot", "activations", "."], "cannot write .: it is a folder"),
    (["himmelblau", "--plot", "."], "cannot write .: it is a folder"),
    (["himmelblau", "--start", "1e200", "1e200"], "f(x) = inf at the start x = [1e+200, 1e+200]"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, argv)
    line = assert_one_line_error(code, err)
    assert line.startswith("backprop: error: ") and message in line, line
    assert "nan" not in line.split(message)[0]
    assert not list(tmp_path.iterdir())                      # nothing written


def test_plot_needs_a_figure_name(capsys):
    code, _, err = run_cli(capsys, ["plot"])
    assert "FIGURE" in assert_one_line_error(code, err)


@pytest.mark.slow  # a subprocess
def test_a_reader_that_stops_reading_is_no_error():
    """backprop himmelblau | head -1: when the pipe's reader has gone, the command stops
    quietly with status 0, as other command-line tools do, not with an error line."""
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-m", "backprop", "himmelblau"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # before the child writes: its first write meets a closed pipe
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0 and err == "", err
