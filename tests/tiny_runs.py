"""A tiny image data set for tests that run the command line end to end."""
import numpy as np


def tiny(n=60, seed=0):
    """60 8x8 uint8 images of 10 classes, train and test."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 8, 8)).astype(np.uint8)
    y = (np.arange(n) % 10).astype(np.uint8)
    return (x, y), (x.copy(), y.copy())
