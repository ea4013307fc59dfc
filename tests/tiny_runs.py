"""What the tests of the command line and of training end to end share: a tiny image data
set, a file whose writes fail as on a full disk, the command line run in-process, and the
one check of its errors: one line on stderr, exit status 2 (3 for a diverging run, 128 + N
for signal N)."""
import errno
import os

import numpy as np
import pytest

from backprop.app.cli import main


def tiny(n=60, seed=0):
    """60 8x8 uint8 images of 10 classes, train and test."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 8, 8)).astype(np.uint8)
    y = (np.arange(n) % 10).astype(np.uint8)
    return (x, y), (x.copy(), y.copy())


class FullDiskFile:
    """A file open for writing whose every write fails with ENOSPC, naming no file (as
    the system's write() does)."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def run_cli(capsys, argv):
    """(exit status, stdout, stderr) of ``backprop argv`` run in this process (arguments
    as strings); any exception that escapes ``main`` is what a user would see as a
    traceback."""
    argv = [str(a) for a in argv]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"backprop {' '.join(argv)} ended in a traceback: "
                    f"{type(error).__name__}: {error}")
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, codes=(2,)):
    """The one line of stderr (without its newline), after checking that stderr is that
    one line and no traceback, and that the exit status is one of ``codes``: 2 for what a
    user can fix, 3 for a diverging run, 128 + N for signal N. ``code, err`` come from
    ``run_cli`` or from a child process (its returncode and its stderr as text)."""
    assert code in codes, (code, err)
    assert err.endswith("\n") and err.count("\n") == 1 and "\r" not in err, err
    assert "Traceback" not in err, err
    return err[:-1]
