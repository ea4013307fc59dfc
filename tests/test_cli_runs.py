"""The command line around a run: `backprop` alone, `train --data DIR` on another data set
in Fashion-MNIST's layout (checked, unverified, class names from classes.txt), messages
that name the option given, --quiet's result line, `evaluate`'s test loss, and `plot
curves|confusion|samples RUN_DIR` after --no-plots. Everything on small synthetic idx files."""
import hashlib
import json

import numpy as np
import pytest

from backprop.app import training_run as train
from backprop.app.cli import main
from backprop.app.data import fashion_mnist as fm
from backprop.app.data import write_idx
from tiny_runs import assert_one_line_error, run_cli

COMMANDS = ("train", "evaluate", "data", "gradcheck", "himmelblau", "plot")


def write_set(folder, classes=("circle", "square", "star"), shape=(4, 4), n=(60, 30),
              names_file=True, seed=0):
    """Four idx files of a small data set (the class is readable from the pixels), and
    classes.txt; returns the arrays by key."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in zip(("train", "t10k"), n):
        labels = rng.integers(0, len(classes), count).astype(np.uint8)
        images = rng.integers(0, 60, (count, *shape)).astype(np.uint8)
        images[:, 0, :] += (80 * labels[:, None]).astype(np.uint8)  # row 0 tells the class
        arrays[f"{split}-images"], arrays[f"{split}-labels"] = images, labels
    for key, array in arrays.items():
        write_idx(folder / fm.FILES[key], array)
    if names_file:
        (folder / "classes.txt").write_text("\n".join(classes) + "\n")
    return arrays


def test_backprop_alone_lists_the_commands(capsys):
    code, out, err = run_cli(capsys, [])
    assert code == 0 and err == ""
    assert out.startswith("usage: backprop")
    listed = [line.split()[0] for line in out.splitlines()
              if line.startswith("    ") and line[4] != " "]    # not a help text's second line
    assert listed == list(COMMANDS)


@pytest.mark.slow
def test_train_on_another_data_set_with_class_names_then_evaluate_and_plot(tmp_path, capsys,
                                                                          monkeypatch):
    arrays = write_set(tmp_path / "shapes")
    out = tmp_path / "run"
    code, printed, err = run_cli(capsys, ["train", "--data", str(tmp_path / "shapes"), "--epochs",
                                          "1", "--hidden", "8", "--batch-size", "10", "--out",
                                          str(out), "--no-plots"])
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("backprop: note:")]
    assert notes == [f"backprop: note: {tmp_path / 'shapes'} is not the official Fashion-MNIST: "
                     f"unverified data, checked for shapes and labels only (3 classes, names "
                     f"from classes.txt)"]
    assert "training 16-8-3 relu" in printed and ", 1 epoch, seed 0" in printed
    history = json.loads((out / "history.json").read_text())
    assert history["data"] == {"folder": str(tmp_path / "shapes"), "verified": False,
                               "class_names": ["circle", "square", "star"]}
    assert history["sizes"] == [16, 8, 3]
    assert not (out / "confusion.png").exists()  # --no-plots

    # evaluate finds the data set in history.json: test loss and accuracy as recorded
    code, report, err = run_cli(capsys, ["evaluate", str(out)])
    assert code == 0, err
    record = history["epochs"][-1]
    first = report.splitlines()[0]
    assert first == (f"test loss {record['test_loss']:.4f} (softmax cross entropy), test "
                     f"accuracy {record['test_accuracy']:.4f} "
                     f"({round(record['test_accuracy'] * 30)} of 30)")
    assert "  2  star " in report and "Ankle boot" not in report
    # the counts of the confusion matrix's rows are the test set's classes
    rows = report.split("predicted):\n")[1].splitlines()[1:]
    counts = [sum(int(v) for v in row.split()[1:]) for row in rows]
    assert counts == np.bincount(arrays["t10k-labels"], minlength=3).tolist()

    # the figures, drawn again: each command writes its file into the run folder
    import matplotlib.image

    from backprop.app import figures as plots
    drawn, save = [], plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig) or save(fig, path))
    for figure in ("curves", "confusion", "samples"):
        code, said, err = run_cli(capsys, ["plot", figure, str(out)])
        assert code == 0, err
        assert said == f"wrote {out / (figure + '.png')}\n"
        pixels = matplotlib.image.imread(out / f"{figure}.png")
        assert pixels[..., :3].std() > 0.05, f"{figure}.png is blank"
    assert drawn[0]._suptitle.get_text().startswith("16-8-3 relu")   # the run's sizes
    labels = [t.get_text() for t in drawn[1].axes[0].get_xticklabels()]
    assert labels == ["circle", "square", "star"]                   # the run's class names
    code, said, err = run_cli(capsys, ["plot", "confusion", str(out), str(tmp_path / "c.png")])
    assert code == 0 and (tmp_path / "c.png").is_file(), err

    # the recorded folder is gone: the message says where the folder came from
    for path in (tmp_path / "shapes").iterdir():
        path.unlink()
    code, _, err = run_cli(capsys, ["evaluate", str(out)])
    line = assert_one_line_error(code, err)
    assert f"{tmp_path / 'shapes'} (the data folder of {out}'s history.json) lacks" in line


def test_another_data_set_without_class_names_is_numbered(tmp_path, capsys):
    write_set(tmp_path / "digits", classes=("a", "b"), names_file=False)
    code, _, err = run_cli(capsys, ["train", "--data", str(tmp_path / "digits"), "--epochs", "1",
                                    "--hidden", "4", "--out", str(tmp_path / "run"), "--quiet",
                                    "--no-plots"])
    assert code == 0, err
    assert "(2 classes, numbered)" in err
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["data"]["class_names"] == ["0", "1"] and history["sizes"] == [16, 4, 2]


@pytest.mark.parametrize("damage, says", [
    (lambda d: (d / "classes.txt").write_text("circle\nsquare\n"),
     "the labels in {d} range over 0..2, but {d}/classes.txt names 2 classes"),
    (lambda d: write_idx(d / fm.FILES["t10k-images"], np.zeros((30, 5, 5), np.uint8)),
     "test images have shape (5, 5) but training images (4, 4)"),
    (lambda d: write_idx(d / fm.FILES["train-labels"], np.zeros(59, np.uint8)),
     "expected 60 integer labels (one per image), got uint8 (59,)"),
    (lambda d: write_idx(d / fm.FILES["train-images"], np.zeros((60, 4, 4), np.float32)),
     "expected uint8 images of shape (N, ...) with N >= 1, got float32"),
])
def test_another_data_set_is_checked_for_structure(damage, says, tmp_path, capsys):
    folder = tmp_path / "shapes"
    write_set(folder)
    damage(folder)
    code, _, err = run_cli(capsys, ["train", "--data", str(folder), "--epochs", "1", "--quiet",
                                    "--no-plots", "--out", str(tmp_path / "run")])
    line = assert_one_line_error(code, err)
    assert says.format(d=folder) in line, line


def test_fashion_mnist_files_are_still_verified(tmp_path, capsys, monkeypatch):
    """All four checksums official: Fashion-MNIST, no note; some official and some not: a
    damaged Fashion-MNIST, refused with the repair hint."""
    folder = tmp_path / "fashion"
    arrays = write_set(folder, classes=[str(k) for k in range(10)], shape=(28, 28),
                       names_file=False)
    monkeypatch.setattr(fm, "SHA256", {key: hashlib.sha256((folder / name).read_bytes())
                                       .hexdigest() for key, name in fm.FILES.items()})
    code, _, err = run_cli(capsys, ["train", "--data", str(folder), "--epochs", "1", "--hidden",
                                    "4", "--quiet", "--no-plots", "--out", str(tmp_path / "run")])
    assert code == 0 and "note" not in err, err
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["data"]["verified"] and history["data"]["class_names"][-1] == "Ankle boot"

    labels = arrays["t10k-labels"].copy()
    labels[0] = (labels[0] + 1) % 10                      # one changed label
    write_idx(folder / fm.FILES["t10k-labels"], labels)
    code, _, err = run_cli(capsys, ["train", "--data", str(folder), "--epochs", "1", "--quiet",
                                    "--no-plots", "--out", str(tmp_path / "run2")])
    line = assert_one_line_error(code, err)
    assert "t10k-labels-idx1-ubyte: not the official Fashion-MNIST" in line
    assert "to repair" in line


def test_messages_name_the_option_given(tmp_path, capsys, monkeypatch):
    """Never "(root argument)", the library's name, which the user did not type."""
    missing = tmp_path / "nowhere"
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    tiny = ((images, np.arange(20) % 10),) * 2
    train.run_training(train.TrainConfig(epochs=1, hidden=(3,)), tiny,
                       out_dir=str(tmp_path / "run"))
    capsys.readouterr()
    for argv, option in [(["train", "--data", str(missing), "--out", str(tmp_path / "r")],
                          "--data"),
                         (["evaluate", str(tmp_path / "run"), "--data", str(missing)], "--data"),
                         (["plot", "samples", str(tmp_path / "run"), "--data", str(missing)],
                          "--data"),
                         (["data", "--root", str(missing)], "--root")]:
        code, _, err = run_cli(capsys, argv)
        line = assert_one_line_error(code, err)
        assert f"{missing} ({option}): no such folder" in line, line
    monkeypatch.setenv("BACKPROP_DATA", str(missing))
    code, _, err = run_cli(capsys, ["data"])
    assert f"{missing} ($BACKPROP_DATA): no such folder" in assert_one_line_error(code, err)


def test_quiet_prints_only_the_result_line(tmp_path, capsys):
    write_set(tmp_path / "shapes")
    code, printed, err = run_cli(capsys, ["train", "--data", str(tmp_path / "shapes"), "--epochs",
                                          "2", "--hidden", "8", "--out", str(tmp_path / "run"),
                                          "--quiet", "--no-plots"])
    assert code == 0, err
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert printed.splitlines() == [
        f"done: best test accuracy {history['best_test_accuracy']:.4f} (epoch "
        f"{history['best_epoch']}), final {history['final_test_accuracy']:.4f}, 2 epochs in "
        f"{history['train_seconds']:.1f} s of training"]
    code, _, err = run_cli(capsys, ["plot", "curves", str(tmp_path)])
    line = assert_one_line_error(code, err)
    assert f"{tmp_path} holds no history.json; train first with" in line, line


def test_an_error_inside_the_engine_is_shown_as_what_it_is(monkeypatch, capsys, cli_data):
    """The project's own messages are one line and exit 2; an exception raised inside
    NumPy (here through a broken step) is an engine bug, and keeps its traceback."""
    def broken_step(model, loss, optimizer, x, y):
        np.linalg.inv(np.zeros((2, 3)))    # a ValueError from inside NumPy
    monkeypatch.setattr(train, "train_step", broken_step)
    with pytest.raises(np.linalg.LinAlgError):
        main(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--no-plots"])
    monkeypatch.undo()
    code, _, err = run_cli(capsys, ["evaluate", "no-such-run"])
    assert_one_line_error(code, err)
