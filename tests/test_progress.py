"""Progress bars (tqdm): lines printed during an epoch stand on their own line, quiet
prints nothing, a log file gets tqdm's rate-limited redraws only, downloads count bytes."""
import io
import re
import sys
import time

import numpy as np

from backprop.app import training_run as train
from backprop.app.data import fashion_mnist as fm


def tiny_data(n):
    """n 2 x 2 uint8 images of two classes: an epoch of batch size 1 is n fast steps."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 2, 2), dtype=np.uint8)
    y = (x.reshape(n, -1).sum(axis=1) > 510).astype(np.int64)
    return (x, y), (x[:10], y[:10])


def test_eval_every_lines_are_not_glued_to_the_bar(monkeypatch):
    """On a terminal stdout and stderr are one screen: stand for it with one stream.
    Each "step N" line must start a line of its own (after the bar has been cleared),
    not continue the bar's line."""
    screen = io.StringIO()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(sys, "stderr", screen)
    config = train.TrainConfig(epochs=1, hidden=(3,), batch_size=1, eval_every=7)
    train.run_training(config, tiny_data(30), n_classes=2)
    text = screen.getvalue()
    assert text.count("step ") == 4  # steps 7, 14, 21, 28
    pieces = re.split(r"[\r\n]", text)
    steps = [p for p in pieces if "step " in p]
    assert all(p.startswith("step ") for p in steps), steps
    assert "epoch 1/1: 100%|" in text and "loss=" in text  # the bar, with its postfix
    epoch_line = [p for p in pieces if p.startswith("epoch   1/1  train loss")]
    assert len(epoch_line) == 1


def test_quiet_prints_nothing(capsys):
    config = train.TrainConfig(epochs=2, hidden=(3,), batch_size=1, eval_every=5)
    train.run_training(config, tiny_data(20), quiet=True, n_classes=2)
    assert capsys.readouterr() == ("", "")


def test_a_log_file_gets_only_rate_limited_redraws(monkeypatch):
    """tqdm redraws at most every 0.1 s, also into a file that is not a terminal; the
    training loop must not add a redraw per step (set_postfix refreshes by default)."""
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    config = train.TrainConfig(epochs=1, hidden=(3,), batch_size=1)
    started = time.perf_counter()
    train.run_training(config, tiny_data(400), log=lambda *a: None, n_classes=2)
    seconds = time.perf_counter() - started
    redraws = log.getvalue().count("\r")
    assert redraws <= 3 + seconds / 0.1, (redraws, seconds)  # first, every 0.1 s, last
    assert log.getvalue().rstrip("\n").rsplit("\r", 1)[-1].startswith("epoch 1/1: 100%|")


def test_a_download_counts_bytes_with_si_prefixes(tmp_path, capsys):
    source = tmp_path / "train-images-idx3-ubyte.gz"
    source.write_bytes(bytes(250_000))
    with open(tmp_path / "copy", "wb") as out:
        fm.download(source.as_uri(), out, progress=True, timeout=5)
    assert (tmp_path / "copy").read_bytes() == bytes(250_000)
    final = capsys.readouterr().err.rstrip("\n").rsplit("\r", 1)[-1]
    assert final.startswith("train-images-idx3-ubyte.gz: 100%|"), final
    assert "250k/250k" in final and "B/s" in final, final
    with open(tmp_path / "copy", "wb") as out:
        fm.download(source.as_uri(), out, progress=False, timeout=5)
    assert capsys.readouterr().err == ""
