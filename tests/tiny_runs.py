"""What tests that run training end to end share: a tiny image data set, and a file whose
writes fail as on a full disk."""
import errno
import os

import numpy as np


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
