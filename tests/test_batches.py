"""Batches, scale_images, one_hot: exact values, seeded orders, resumable state; uint8
images or float features, class labels or real-valued targets."""
import numpy as np
import pytest

from backprop.core import kernels
from backprop.app.data import Batches, one_hot, scale_images


def data(n=103, shape=(4, 5), seed=1):
    """Images whose first pixel encodes the sample index, so order can be read back."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    return images, labels


def run_epoch(batches):
    """One epoch: concatenated copies of x and y (the buffers are reused)."""
    xs, ys = [], []
    for x, y in batches:
        xs.append(x.copy())
        ys.append(y.copy())
    return np.concatenate(xs), np.concatenate(ys)


def order_of(batches, images):
    """The sample order of the next epoch of ``batches``."""
    return indices_of(run_epoch(batches)[0], images)


def indices_of(x, images):
    """Which sample each row of x is (rows are unique in data())."""
    flat = images.reshape(len(images), -1)
    lookup = {row.tobytes(): i for i, row in enumerate(flat)}
    return np.array([lookup[np.rint(row * 255).astype(np.uint8).tobytes()] for row in x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_sample_once_and_exact_values(backend, dtype):
    images, labels = data()
    batches = Batches(images, labels, batch_size=10, seed=3, dtype=dtype)
    assert len(batches) == 11
    sizes = []
    xs, ys = [], []
    for x, y in batches:
        assert x.dtype == dtype and x.shape[1] == 20 and y.dtype == np.int64
        sizes.append(len(x))
        xs.append(x.copy())
        ys.append(y.copy())
    assert sizes == [10] * 10 + [3]
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = indices_of(x, images)
    assert sorted(order) == list(range(len(images)))  # each sample exactly once
    assert not np.array_equal(order, np.arange(len(images)))  # shuffled
    # bit-exact: images[idx] / 255 computed in the batch dtype
    expected = images.reshape(len(images), -1)[order].astype(dtype) / dtype(255)
    assert np.array_equal(x, expected)
    np.testing.assert_array_equal(y, labels[order])


def test_no_shuffle_and_drop_last(backend):
    images, labels = data(n=25)
    batches = Batches(images, labels, batch_size=10, shuffle=False, drop_last=True)
    assert len(batches) == 2
    x, y = run_epoch(batches)
    np.testing.assert_array_equal(indices_of(x, images), np.arange(20))
    np.testing.assert_array_equal(y, labels[:20])


def test_same_seed_same_order_new_epoch_new_order():
    images, labels = data()
    a = Batches(images, labels, batch_size=16, seed=7)
    b = Batches(images, labels, batch_size=16, seed=7)
    c = Batches(images, labels, batch_size=16, seed=8)
    a1, a2 = order_of(a, images), order_of(a, images)
    b1, c1 = order_of(b, images), order_of(c, images)
    np.testing.assert_array_equal(a1, b1)  # same seed, same order
    assert not np.array_equal(a1, a2)  # each epoch draws a new order
    assert sorted(a2) == list(range(len(images)))
    assert not np.array_equal(a1, c1)  # another seed, another order


def test_backends_give_identical_batches():
    images, labels = data(n=257, shape=(28, 28))
    epochs = {}
    for name in ("numba", "numpy"):
        with kernels.use_backend(name):
            for dtype in (np.float32, np.float64):
                batches = Batches(images, labels, batch_size=32, seed=5, dtype=dtype)
                epochs[name, dtype] = [run_epoch(batches) for _ in range(2)]
    for dtype in (np.float32, np.float64):
        for (xa, ya), (xb, yb) in zip(epochs["numba", dtype], epochs["numpy", dtype]):
            assert np.array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_state_save_restore_reproduces_the_next_epoch(tmp_path):
    images, labels = data()
    a = Batches(images, labels, batch_size=10, seed=11)
    run_epoch(a)  # epoch 1
    state = a.get_state()
    assert isinstance(state, str)
    path = tmp_path / "checkpoint.npz"
    np.savez(path, rng=state)
    expected = run_epoch(a)  # epoch 2, uninterrupted

    b = Batches(images, labels, batch_size=10, seed=999)  # a resumed run, other seed
    with np.load(path, allow_pickle=False) as f:
        b.set_state(f["rng"])
    resumed = run_epoch(b)
    assert np.array_equal(resumed[0], expected[0])
    np.testing.assert_array_equal(resumed[1], expected[1])
    with pytest.raises(ValueError, match="generator state"):
        b.set_state('{"bit_generator": "MT19937", "state": {}}')


def test_buffer_is_reused_and_no_float_copy_of_the_data():
    images, labels = data()
    batches = Batches(images, labels, batch_size=10)
    assert np.shares_memory(batches.x, images)  # (N, D) view of the uint8 data
    first = [x for x, _ in batches]
    assert all(np.shares_memory(x, first[0]) for x in first)


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.zeros((4, 3), np.int32)), "uint8 images .* or of float features, got int32"),
    (dict(x=[[1, 2]]), "uint8"),
    (dict(x=np.zeros(4, np.uint8)), r"shape \(N, ...\)"),
    (dict(x=np.zeros(4, np.float32)), r"shape \(N, ...\)"),
    (dict(x=np.zeros((0, 3), np.uint8), y=np.zeros(0, int)), "N >= 1"),
    (dict(x=np.zeros((4, 6), np.uint8)[:, ::2]), "C-contiguous"),
    (dict(x=np.zeros((4, 6))[:, ::2]), "C-contiguous"),
    (dict(x=np.array([[0.0], [1.0], [np.inf], [2.0]])), r"x holds NaN or Inf \(first in row 2\)"),
    (dict(y=np.zeros(3, int)), r"one label per sample \(4\), got 3"),
    (dict(y=np.array([0, 1, -1, 2])), "labels must be >= 0"),
    (dict(y=np.array([0, 1, 10, 2]), n_classes=10), r"labels must be in \[0, 9\] for 10 classes"),
    (dict(y=np.array(["a", "b", "c", "d"])), "numeric values, got dtype <U1"),
    (dict(y=np.zeros((4, 2, 1))), r"shape \(4,\) or \(4, K\)"),
    (dict(y=np.zeros((3, 2))), r"shape \(4,\) or \(4, K\)"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(batch_size=5, drop_last=True), "no batch"),
    (dict(dtype=np.float16), "float32 or float64"),
])
def test_bad_inputs(kwargs, message):
    args = dict(x=np.zeros((4, 3), np.uint8), y=np.zeros(4, int), batch_size=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Batches(**args)


def test_scale_images_and_one_hot():
    x = np.array([[0, 1], [128, 255]], np.uint8)
    s = scale_images(x)
    assert s.dtype == np.float32 and s.shape == (2, 2)
    assert s[0, 0] == 0 and s[1, 1] == 1 and s[1, 0] == np.float32(128) / np.float32(255)
    assert scale_images(x, np.float64)[0, 1] == 1 / 255
    with pytest.raises(ValueError, match="uint8"):
        scale_images(x.astype(np.int32))
    t = one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(t, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert t.dtype == np.float32
    assert one_hot(np.array([], int), 4).shape == (0, 4)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
        one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="n_classes"):
        one_hot(np.array([0]), 0)


# ------------------------------------------------- float features, real-valued targets

def features(n=23, d=3, dtype=np.float64, seed=2):
    """Float rows whose first column is the sample index, so order can be read back."""
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(dtype)
    x[:, 0] = np.arange(n)
    return x


@pytest.mark.parametrize("x_dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_features_are_gathered_and_cast_to_the_dtype(backend, x_dtype, dtype):
    x = features(dtype=x_dtype)
    labels = np.arange(23) % 4
    batches = Batches(x, labels, batch_size=5, seed=1, dtype=dtype)
    assert len(batches) == 5 and batches.class_labels
    got_x, got_y = run_epoch(batches)
    assert got_x.dtype == dtype and got_y.dtype == np.int64
    order = got_x[:, 0].astype(int)
    assert sorted(order) == list(range(23)) and not np.array_equal(order, np.arange(23))
    assert np.array_equal(got_x, x[order].astype(dtype))  # exactly the rows, cast
    np.testing.assert_array_equal(got_y, labels[order])
    if x_dtype == dtype:
        assert np.shares_memory(batches.x, x)  # kept: a view, no copy


@pytest.mark.parametrize("shape", [(23,), (23, 2)])
def test_real_valued_targets_follow_their_rows(shape):
    x = features()
    t = np.random.default_rng(5).normal(size=shape)             # float64 targets
    batches = Batches(x, t, batch_size=4, seed=3, dtype=np.float32)
    assert not batches.class_labels
    got_x, got_t = run_epoch(batches)
    assert got_t.dtype == np.float32 and got_t.shape == shape
    order = got_x[:, 0].astype(int)
    np.testing.assert_array_equal(got_t, t[order].astype(np.float32))
    # integer targets of shape (N, K), e.g. one-hot rows, are real values too
    onehot = np.eye(3, dtype=np.int64)[np.arange(23) % 3]
    _, got = run_epoch(Batches(x, onehot, batch_size=23, shuffle=False, dtype=np.float64))
    assert got.dtype == np.float64 and np.array_equal(got, onehot)
