"""Data: the idx format, Fashion-MNIST (locate, verify, download, load), and batches.

    from backprop import data
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()   # uint8
    for x, y in data.Batches(x_train, y_train, batch_size=100, seed=0):
        ...                                          # x: (100, 784) float32 = pixels / 255

Images stay uint8 in memory; ``Batches`` converts one batch at a time.
"""
from .batches import Batches, one_hot, scale_images
from .fashion_mnist import CLASS_NAMES, fetch, load_fashion_mnist, locate
from .idx import read_idx, write_idx

__all__ = ["read_idx", "write_idx", "load_fashion_mnist", "locate", "fetch",
           "CLASS_NAMES", "Batches", "one_hot", "scale_images"]
