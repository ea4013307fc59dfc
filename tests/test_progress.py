"""Progress: quiet in logs, rate-limited redraws on a terminal, a final line on close."""
import io

import pytest

from backprop import progress
from backprop.progress import Progress


class Terminal(io.StringIO):
    """A text stream that says it is a TTY."""

    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    """A fake clock: set ``clock.t`` to move time."""
    class Clock:
        t = 0.0

        def __call__(self):
            return self.t
    fake = Clock()
    monkeypatch.setattr(progress, "_now", fake)
    return fake


def test_not_a_tty_prints_only_the_final_line(clock):
    out = io.StringIO()
    with Progress(600, desc="epoch 1", unit="batch", file=out) as bar:
        for step in range(600):
            clock.t = step * 0.01
            bar.update(loss=1.0 / (step + 1))
        assert out.getvalue() == ""
    text = out.getvalue()
    assert text.count("\n") == 1 and "\r" not in text
    assert text.startswith("epoch 1: 100%|")
    assert "600/600 batch" in text
    assert "loss=0.001667" in text  # 4 significant digits


def test_tty_redraws_at_most_ten_times_a_second(clock):
    out = Terminal()
    bar = Progress(1000, desc="d", file=out)
    for step in range(1000):
        clock.t = step * 0.001  # 1000 updates in one second
        bar.update()
    redraws = out.getvalue().count("\r")
    assert 9 <= redraws <= 11
    bar.close()
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    assert "1000/1000 it" in text.rsplit("\r", 1)[-1]


def test_format_counts_postfix_and_eta(clock):
    bar = Progress(200, desc="train", unit="batch", file=io.StringIO())
    clock.t = 2.0
    bar.update(50, loss=0.43121234, acc=0.5, epoch=3)
    line = bar.format()
    assert line.startswith("train:  25%|#####               | 50/200 batch")
    assert "[0:02<0:06, 25.0 batch/s]" in line
    assert line.endswith(" loss=0.4312 acc=0.5 epoch=3")


def test_bytes_and_unknown_total(clock):
    bar = Progress(26_421_856, unit="B", file=io.StringIO())
    clock.t = 1.0
    bar.update(13_210_928)
    assert "13.2 MB/26.4 MB" in bar.format() and "13.2 MB/s" in bar.format()
    bar = Progress(None, desc="n", file=io.StringIO())
    bar.update(7)
    assert bar.format().startswith("n: 7 it [")


def test_shorter_line_blanks_the_longer_one(clock):
    out = Terminal()
    bar = Progress(10, file=out)
    bar.update(1, note="a long postfix value")
    bar.postfix.clear()
    clock.t = 1.0
    bar.update(1)
    first, second = out.getvalue().split("\r")[1:]
    assert len(second) == len(first) and second.rstrip() == bar.format(1.0)


def test_disable_and_close_twice(clock):
    out = Terminal()
    with Progress(5, file=out, disable=True) as bar:
        bar.update(5)
    assert out.getvalue() == ""
    out = io.StringIO()
    bar = Progress(5, file=out)
    bar.close()
    bar.close()
    assert out.getvalue().count("\n") == 1


def test_default_file_is_stderr(clock, capsys):
    with Progress(3, desc="x") as bar:
        bar.update(3)
    captured = capsys.readouterr()
    assert captured.out == "" and "3/3 it" in captured.err
