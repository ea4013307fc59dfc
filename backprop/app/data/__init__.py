"""Data: the idx format, Fashion-MNIST (locate, verify, download, load), other data sets in
its four-file layout (``load_idx_folder``), and batches.

    from backprop.app import data
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()   # uint8
    for x, y in data.Batches(x_train, y_train, batch_size=100, seed=0):
        ...                                          # x: (100, 784) float32 = pixels / 255

Images stay uint8 in memory; ``Batches`` converts one batch at a time (and takes float
features and real-valued targets as well).
"""
from ...core.batches import Batches, is_class_labels, one_hot, scale_images
from .fashion_mnist import CLASS_NAMES, IdxData, fetch, load_fashion_mnist, load_idx_folder, locate
from .idx import read_idx, write_idx


__all__ = ["read_idx", "write_idx", "load_fashion_mnist", "load_idx_folder", "IdxData",
           "locate", "fetch", "CLASS_NAMES", "Batches", "is_class_labels", "one_hot",
           "scale_images"]
