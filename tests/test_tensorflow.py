"""TensorFlow 2.21 as the reference: the same snippet run through ``import tensorflow as
tf`` and ``import backprop.tf as tf`` gives the same values, gradients, None gradients and
errors; the reference network from Keras's initial weights gives Keras's logits, its ten
gradient arrays and 20 steps of Keras's Adam; the optimizers' Keras forms are Keras's.

Skipped when TensorFlow is not installed (``pip install -e ".[compare]"``). Importing it
takes seconds, so everything here shares one import and the module-scoped fixtures, and
the engine runs on the active backend only (CI runs the suite on both).
"""
import atexit
import os
import zlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before the import, or it does nothing
real_tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import backprop as bp  # noqa: E402
import backprop.tf as our_tf  # noqa: E402

from test_autodiff import sample  # noqa: E402  (the op inputs, kept a few h from kinks)

TFS = {"tensorflow": real_tf, "backprop": our_tf}
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

# name -> (snippet taking a tf module and the input tensors, input shapes, domains); the
# very same lambda runs under TensorFlow and under backprop.tf
OPS = {
    "add": (lambda tf, a, b: tf.add(a, b), [(3, 4), (4,)], ["any", "any"]),
    "a + b - c": (lambda tf, a, b, c: a + b - c, [(3, 4), (3, 1), (4,)], ["any"] * 3),
    "subtract": (lambda tf, a, b: tf.subtract(a, b), [(2, 3), (2, 3)], ["any", "any"]),
    "multiply": (lambda tf, a, b: tf.multiply(a, b), [(2, 3), (3,)], ["any", "any"]),
    "a * 2.5 / b": (lambda tf, a, b: a * 2.5 / b, [(2, 3), (2, 1)], ["any", "pos"]),
    "divide": (lambda tf, a, b: tf.divide(a, b), [(3,), (3,)], ["any", "pos"]),
    "pow": (lambda tf, a, b: tf.pow(a, b), [(4,), (4,)], ["pos", "any"]),
    "a ** 3": (lambda tf, a: a ** 3, [(4,)], ["any"]),
    "negative": (lambda tf, a: tf.negative(a), [(3,)], ["any"]),
    "abs": (lambda tf, a: tf.abs(a), [(5,)], ["away"]),
    "exp": (lambda tf, a: tf.exp(a), [(3, 2)], ["any"]),
    "math.log": (lambda tf, a: tf.math.log(a), [(3, 2)], ["pos"]),
    "math.log1p": (lambda tf, a: tf.math.log1p(a), [(4,)], ["pos"]),
    "sqrt": (lambda tf, a: tf.sqrt(a), [(4,)], ["pos"]),
    "square": (lambda tf, a: tf.square(a), [(4,)], ["any"]),
    "maximum": (lambda tf, a, b: tf.maximum(a, b), [(3, 4), (4,)], ["distinct", "distinct"]),
    "minimum": (lambda tf, a, b: tf.minimum(a, b), [(3, 4), (3, 4)], ["distinct", "distinct"]),
    "sigmoid": (lambda tf, a: tf.sigmoid(a), [(3, 4)], ["any"]),
    "tanh": (lambda tf, a: tf.tanh(a), [(3, 4)], ["any"]),
    "nn.sigmoid": (lambda tf, a: tf.nn.sigmoid(a), [(2, 3)], ["any"]),
    "nn.tanh": (lambda tf, a: tf.nn.tanh(a), [(2, 3)], ["any"]),
    "nn.relu": (lambda tf, a: tf.nn.relu(a), [(3, 4)], ["away"]),
    "nn.leaky_relu": (lambda tf, a: tf.nn.leaky_relu(a), [(3, 4)], ["away"]),
    "nn.leaky_relu alpha": (lambda tf, a: tf.nn.leaky_relu(a, alpha=0.05), [(3, 4)], ["away"]),
    "nn.softmax": (lambda tf, a: tf.nn.softmax(a), [(3, 4)], ["any"]),
    "nn.softmax axis 0": (lambda tf, a: tf.nn.softmax(a, axis=0), [(3, 4)], ["any"]),
    "nn.log_softmax": (lambda tf, a: tf.nn.log_softmax(a), [(3, 4)], ["any"]),
    "matmul": (lambda tf, a, b: tf.matmul(a, b), [(3, 4), (4, 2)], ["any", "any"]),
    "matmul transposed": (lambda tf, a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
                          [(4, 3), (2, 4)], ["any", "any"]),
    "matmul batched": (lambda tf, a, b: tf.matmul(a, b), [(2, 3, 4), (2, 4, 2)],
                       ["any", "any"]),
    "a @ b + c": (lambda tf, a, b, c: a @ b + c, [(3, 4), (4, 2), (2,)], ["any"] * 3),
    "linalg.matmul": (lambda tf, a, b: tf.linalg.matmul(a, b), [(2, 3), (3, 2)], ["any"] * 2),
    "reduce_sum": (lambda tf, a: tf.reduce_sum(a), [(2, 3)], ["any"]),
    "reduce_sum axis keepdims": (lambda tf, a: tf.reduce_sum(a, axis=[0, 2], keepdims=True),
                                 [(2, 3, 4)], ["any"]),
    "reduce_mean": (lambda tf, a: tf.reduce_mean(a), [(3, 4)], ["any"]),
    "reduce_mean axis": (lambda tf, a: tf.reduce_mean(a, axis=1), [(3, 4)], ["any"]),
    "reduce_max axis": (lambda tf, a: tf.reduce_max(a, axis=1), [(3, 4)], ["distinct"]),
    "reduce_min": (lambda tf, a: tf.reduce_min(a), [(3, 4)], ["distinct"]),
    "math.reduce_sum": (lambda tf, a: tf.math.reduce_sum(a, axis=0), [(3, 4)], ["any"]),
    "norm": (lambda tf, a: tf.norm(a), [(3, 4)], ["any"]),
    "norm axis": (lambda tf, a: tf.norm(a, axis=1), [(3, 4)], ["any"]),
    "norm ord 1": (lambda tf, a: tf.norm(a, ord=1), [(5,)], ["away"]),
    "linalg.norm": (lambda tf, a: tf.linalg.norm(a), [(4,)], ["any"]),
    "reshape": (lambda tf, a: tf.reshape(a, [3, -1]), [(2, 6)], ["any"]),
    "transpose": (lambda tf, a: tf.transpose(a), [(2, 3)], ["any"]),
    "transpose perm": (lambda tf, a: tf.transpose(a, perm=[2, 0, 1]), [(2, 3, 4)], ["any"]),
    "expand_dims": (lambda tf, a: tf.expand_dims(a, -1) * a[..., None], [(2, 3)], ["any"]),
    "squeeze": (lambda tf, a: tf.squeeze(a), [(2, 1, 3)], ["any"]),
    "squeeze axis": (lambda tf, a: tf.squeeze(a, axis=1), [(2, 1, 1)], ["any"]),
    "stack": (lambda tf, a, b: tf.stack([a, b, a], axis=1), [(2, 3), (2, 3)], ["any"] * 2),
    "concat": (lambda tf, a, b: tf.concat([a, b], axis=-1), [(2, 3), (2, 2)], ["any"] * 2),
    "broadcast_to": (lambda tf, a: tf.broadcast_to(a, [4, 3]), [(3,)], ["any"]),
    "getitem": (lambda tf, a: a[1:, ::2] * a[0, 0], [(3, 5)], ["any"]),
    "clip_by_value": (lambda tf, a: tf.clip_by_value(a, -0.8, 0.8), [(8,)], ["away"]),
    "where": (lambda tf, a, b: tf.where(np.array([[True, False, True]] * 2), a, b),
              [(2, 3), (2, 3)], ["any", "any"]),
    "identity": (lambda tf, a: tf.identity(a) * a, [(3,)], ["any"]),
    "stop_gradient": (lambda tf, a, b: a * tf.stop_gradient(b) + b, [(3,), (3,)], ["any"] * 2),
    "cast to float64 and back": (
        lambda tf, a: tf.cast(tf.cast(a, tf.float64) * 3.0, a.dtype), [(3,)], ["any"]),
    "losses.MSE": (lambda tf, t, p: tf.losses.MSE(t, p), [(3, 4), (3, 4)], ["any", "any"]),
    "losses.MSE y (B,) pred (B, 1)": (lambda tf, t, p: tf.losses.MSE(t, p), [(3,), (3, 1)],
                                      ["any", "any"]),
    "losses.MSE y (B, 1) pred (B,)": (lambda tf, t, p: tf.losses.MSE(t, p), [(3, 1), (3,)],
                                      ["any", "any"]),
    "losses.MSE y (3,) pred (2, 3)": (lambda tf, t, p: tf.losses.MSE(t, p), [(3,), (2, 3)],
                                      ["any", "any"]),
    "losses.categorical_crossentropy": (
        lambda tf, t, p: tf.losses.categorical_crossentropy(tf.nn.softmax(t), p),
        [(3, 4), (3, 4)], ["any", "pos"]),
    "losses.categorical_crossentropy from_logits": (
        lambda tf, t, a: tf.losses.categorical_crossentropy(tf.nn.softmax(t), a,
                                                            from_logits=True),
        [(3, 4), (3, 4)], ["any", "any"]),
    "losses.sparse_categorical_crossentropy": (
        lambda tf, a: tf.losses.sparse_categorical_crossentropy(np.array([2, 0, 3]), a,
                                                                from_logits=True),
        [(3, 4)], ["any"]),
    "losses.binary_crossentropy": (
        lambda tf, t, p: tf.losses.binary_crossentropy(tf.sigmoid(t), tf.sigmoid(p)),
        [(3, 4), (3, 4)], ["any", "any"]),
    "losses.binary_crossentropy from_logits": (
        lambda tf, t, z: tf.losses.binary_crossentropy(tf.sigmoid(t), z, from_logits=True),
        [(3, 4), (3, 4)], ["any", "any"]),
    "nn.softmax_cross_entropy_with_logits": (
        lambda tf, t, a: tf.nn.softmax_cross_entropy_with_logits(labels=tf.nn.softmax(t),
                                                                 logits=a),
        [(2, 3), (2, 3)], ["any", "any"]),
}


def run(tf, fn, arrays, dtype, seed):
    """The snippet's value and the gradient of E = sum(out * W) for every input, W fixed."""
    inputs = [tf.constant(a.astype(dtype)) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = fn(tf, *inputs)
        W = np.random.default_rng(seed).normal(size=out.shape).astype(dtype)
        E = tf.reduce_sum(out * W)
    return out, tape.gradient(E, inputs)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(OPS))
def test_every_op_gives_tensorflows_values_and_gradients(name, dtype):
    fn, shapes, domains = OPS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [sample(rng, s, d) for s, d in zip(shapes, domains)]
    (theirs, their_grads), (ours, our_grads) = [run(TFS[k], fn, arrays, dtype, 1)
                                               for k in ("tensorflow", "backprop")]
    assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.dtype.as_numpy_dtype
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **TOL[dtype])
    assert [g is None for g in our_grads] == [g is None for g in their_grads]
    for mine, reference in zip(our_grads, their_grads):
        if reference is not None:
            assert mine.dtype == dtype
            np.testing.assert_allclose(mine.numpy(), reference.numpy(), **TOL[dtype])


def test_the_comparisons_cover_every_name_the_namespace_offers():
    """Every function of backprop.tf (and of its nn, losses, math and linalg groups) is
    called, as ``tf.name(``, in a snippet this file runs under both modules."""
    import inspect
    sources = " ".join([inspect.getsource(fn) for fn, _, _ in OPS.values()] + [
        inspect.getsource(f) for f in (run, _values, _gradients, *RAISES.values())])
    names = [n for n in our_tf.__all__ if callable(getattr(our_tf, n))
             and not isinstance(getattr(our_tf, n), type) and n != "Tensor"]
    names += ["Variable", "GradientTape"]
    for group in ("nn", "losses", "math", "linalg"):
        names += [f"{group}.{n}" for n in vars(getattr(our_tf, group)) if not n.startswith("_")]
    # a tf.math name is covered by its top-level twin (tf.math.exp is tf.exp)
    missing = [n for n in names if f"tf.{n}(" not in sources
               and not (n.startswith("math.") and f"tf.{n[5:]}(" in sources)]
    assert missing == []


# ---------------------------------------------------------------- values with no gradient

def _values(tf):
    """Results of the ops that make tensors without recording anything."""
    x = tf.constant([[1.0, 3.0, -2.0], [4.0, 2.0, 4.0]])
    labels = tf.constant([1, 0])
    pred = tf.cast(tf.argmax(x, axis=1), tf.int32)
    return {
        "argmax": tf.argmax(x, axis=1), "argmax default axis": tf.argmax(x),
        "argmin": tf.math.argmin(x, axis=1), "math.argmax": tf.math.argmax(x, axis=1),
        "argmin default axis": tf.argmin(x),
        "equal": tf.equal(pred, labels), "not_equal": tf.not_equal(pred, labels),
        "less": tf.less(x, 2.0), "greater_equal": tf.greater_equal(x, 2.0),
        "less_equal": tf.less_equal(x, 3.0), "greater": tf.greater(x, 3.0),
        "math.equal": tf.math.equal(x, 4.0), "math.less": tf.math.less(x, 1.0),
        "accuracy": tf.reduce_sum(tf.cast(tf.equal(pred, labels), tf.int32)),
        "one_hot": tf.one_hot(tf.constant([1, 5, -1]), depth=3),
        "one_hot float64": tf.one_hot([2], 3, dtype=tf.float64),
        "one_hot on off": tf.one_hot([0, 2], 3, on_value=5, off_value=-1),
        "linspace": tf.linspace(-10.0, 10.0, 10), "linspace ints": tf.linspace(0, 10, 5),
        "linspace float64": tf.linspace(np.float64(0), 1.0, 3),
        "range": tf.range(5), "range floats": tf.range(0.0, 1.0, 0.25),
        "range start limit": tf.range(2, 11, 3),
        "zeros": tf.zeros([2, 3]), "zeros int": tf.zeros([2], dtype=tf.int32), "ones": tf.ones(3),
        "zeros_like": tf.zeros_like(x), "ones_like": tf.ones_like(labels),
        "fill": tf.fill([2, 2], 7.0), "shape": tf.shape(x), "size": tf.size(x),
        "rank": tf.rank(x),
        "cast to int": tf.cast(tf.constant([1.7, -1.7]), tf.int32),
        "cast bool": tf.cast(tf.constant([True, False]), tf.float32),
        "cast uint8 / 255": tf.cast(np.array([0, 128, 255], np.uint8), tf.float32) / 255.0,
        "integer mean": tf.reduce_mean(tf.constant([-1, -2, 4])),
        "integer sum": tf.reduce_sum(tf.constant([[1, 2], [3, 4]]), axis=0),
        "int32 / int32": tf.constant(1) / tf.constant(2),
        "float32 * numpy float64": tf.constant(1.5) * np.float64(3),
        "float32 + numpy float64 array": tf.constant([1.5]) + np.array([1.0]),
        "float64 + python float": tf.constant(np.array([1.0])) + 2.5,
        "python floats": tf.constant([0.1, 0.2]), "python ints": tf.constant([1, 2]),
        "convert_to_tensor": tf.convert_to_tensor(np.array([1.0, 2.0])) * 2.0,
        "relu int": tf.nn.relu(tf.constant([-1, 2])), "square int": tf.square(tf.constant([3])),
        "maximum int": tf.maximum(tf.constant([1, 5]), 3),
        "MSE lists": tf.losses.MSE([1.0, 2.0], [1.0, 3.0]),
        "mse": tf.losses.mse([[1.0, 2.0]], [[1.0, 3.0]]),
        "MSE int target": tf.losses.MSE(tf.constant([1]), tf.constant([[0.3]])),
        "categorical_crossentropy rescales": tf.losses.categorical_crossentropy(
            [0.0, 1.0, 0.0, 0.0], [0.1, 0.1, 0.8, 0.1]),
        "categorical_crossentropy clips": tf.losses.categorical_crossentropy(
            [[0.0, 1.0]], [[1.0, 0.0]]),
        "sparse labels (B, 1)": tf.losses.sparse_categorical_crossentropy(
            tf.constant([[1], [0]]), tf.constant([[2.0, 1.0, 0.0], [1.0, 1.0, 1.0]]),
            from_logits=True),
        "binary_crossentropy": tf.losses.binary_crossentropy([1.0], [0.1]),
    }


def test_ops_without_gradients_give_tensorflows_values_and_dtypes():
    theirs, ours = _values(real_tf), _values(our_tf)
    for key in theirs:
        expected = theirs[key]
        assert tuple(ours[key].shape) == tuple(expected.shape), key
        assert ours[key].dtype == expected.dtype.as_numpy_dtype, key
        np.testing.assert_allclose(ours[key].numpy(), expected.numpy(), rtol=1e-6, err_msg=key)


# --------------------------------------------------------------------- None gradients

def _gradients(tf):
    """(case, the gradients a snippet asks for): which are None is TensorFlow's business."""
    cases = {}
    x, unused = tf.constant([1.0, 2.0]), tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, unused])
        through_argmax = tf.cast(tf.argmax(x), tf.float32) * x[0]
        through_equal = tf.cast(tf.equal(x, 2.0), tf.float32)
        through_int = tf.cast(tf.cast(x, tf.int32), tf.float32)
        stopped = tf.stop_gradient(x) * 2.0
        y = tf.reduce_sum(x * x)
    after = y * x                                    # computed after the tape closed
    cases["unconnected"] = tape.gradient(y, [x, unused])
    cases["unconnected zero"] = tape.gradient(
        y, [x, unused], unconnected_gradients=tf.UnconnectedGradients.ZERO)
    cases["through argmax"] = tape.gradient(through_argmax, [x])
    cases["through equal"] = tape.gradient(through_equal, [x])
    cases["through an int cast"] = tape.gradient(through_int, [x])
    cases["stop_gradient"] = tape.gradient(stopped, [x])
    cases["after the tape"] = tape.gradient(after, [x])
    c = tf.constant(2.0)
    with tf.GradientTape() as tape:
        y = c * c
    cases["constant not watched"] = tape.gradient(y, [c])
    v, frozen = tf.Variable(2.0), tf.Variable(3.0, trainable=False)
    with tf.GradientTape() as tape:
        y = v * frozen
    cases["variable, frozen variable"] = tape.gradient(y, [v, frozen])
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    cases["watch_accessed_variables=False"] = tape.gradient(y, [v])
    w, b, xx = tf.Variable(1.0), tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape() as t1:
        with tf.GradientTape() as t2:
            y = xx * w + b
        dy_dw, dy_db = t2.gradient(y, [w, b])
    cases["second derivative of a linear function"] = [t1.gradient(dy_dw, w), dy_dw, dy_db]
    i = tf.constant([1, 2])
    with tf.GradientTape() as tape:
        tape.watch(i)
        y = i * i
    cases["integer source"] = tape.gradient(y, [i])
    return cases


def test_the_same_gradients_are_none_as_in_tensorflow():
    with pytest.warns(UserWarning, match="floating"):     # watching an integer tensor
        ours = _gradients(our_tf)
    theirs = _gradients(real_tf)
    for key in theirs:
        assert [g is None for g in ours[key]] == [g is None for g in theirs[key]], key
        for mine, reference in zip(ours[key], theirs[key]):
            if reference is not None:
                np.testing.assert_allclose(mine.numpy(), reference.numpy(), err_msg=key)
    assert [g is None for g in theirs["unconnected"]] == [False, True]   # the test can fail


# ----------------------------------------------------------------------- calls that raise

RAISES = {
    "float32 + float64 tensors": lambda tf: tf.constant(1.0) + tf.constant(np.float64(1.0)),
    "equal of int64 and int32": lambda tf: tf.equal(tf.argmax(tf.constant([[1.0, 3.0]]), 1),
                                                    tf.constant([1])),
    "sigmoid of ints": lambda tf: tf.sigmoid(tf.constant([1])),
    "softmax of ints": lambda tf: tf.nn.softmax(tf.constant([1, 2])),
    "one_hot of floats": lambda tf: tf.one_hot(tf.constant([1.0]), 3),
    "matmul of mismatched shapes": lambda tf: tf.matmul(tf.zeros([2, 3]), tf.zeros([2, 3])),
    "matmul of a vector": lambda tf: tf.matmul(tf.zeros([3]), tf.zeros([3, 2])),
    "reshape to a wrong size": lambda tf: tf.reshape(tf.zeros([2, 3]), [4, -1]),
    "reduce_sum over a missing axis": lambda tf: tf.reduce_sum(tf.ones([2]), axis=3),
    "reduce_sum of bools": lambda tf: tf.reduce_sum(tf.constant([True, False])),
    "squeeze of a long axis": lambda tf: tf.squeeze(tf.ones([2, 3]), axis=1),
    "MSE of scalars": lambda tf: tf.losses.MSE(1.0, 2.0),
    "MSE of (B, 3) and (B,)": lambda tf: tf.losses.MSE(tf.ones([2, 3]), tf.ones([2])),
    "categorical_crossentropy of two ranks": lambda tf: tf.losses.categorical_crossentropy(
        [[0.0, 1.0, 0.0]], [0.25, 0.25, 0.5]),
    "categorical_crossentropy of two shapes": lambda tf: tf.losses.categorical_crossentropy(
        [[0.0, 1.0, 0.0]], [[0.2, 0.8]]),
    "binary_crossentropy of two ranks": lambda tf: tf.losses.binary_crossentropy(
        [[1.0], [0.0]], [0.1, 0.2]),
    "assign of another shape": lambda tf: tf.Variable([1.0, 2.0]).assign([1.0, 2.0, 3.0]),
    "watch of a Python float": lambda tf: _watch(tf, 3.0),
    "a second gradient of a non-persistent tape": lambda tf: _second_gradient(tf),
}


def _watch(tf, value):
    with tf.GradientTape() as tape:
        tape.watch(value)


def _second_gradient(tf):
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    tape.gradient(y, x)


@pytest.mark.parametrize("name", list(RAISES))
def test_calls_that_tensorflow_refuses_raise(name):
    with pytest.raises(Exception):
        RAISES[name](real_tf)
    with pytest.raises((TypeError, ValueError, RuntimeError)):   # Python's own errors
        RAISES[name](our_tf)


# ------------------------------------------------------------------- the reference network

SIZES = [784, 256, 128, 64, 32, 10]
STEPS = 20


@pytest.fixture(scope="module")
def reference_run():
    """A float64 Keras model of the reference network (glorot_uniform, zero biases), and
    its logits, gradients and 20 Adam steps on 20 batches of 100 synthetic images."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,), dtype="float64")] + [
        keras.layers.Dense(n, activation="relu" if i < len(SIZES) - 2 else None,
                           dtype="float64") for i, n in enumerate(SIZES[1:])])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (STEPS, 100, 784)) / 255.0
    y = rng.integers(0, 10, (STEPS, 100))
    initial = [v.numpy().copy() for v in model.trainable_variables]

    def loss_and_grads(xb, yb):
        with real_tf.GradientTape() as tape:
            logits = model(xb)
            E = real_tf.reduce_mean(real_tf.losses.categorical_crossentropy(
                real_tf.one_hot(yb, 10, dtype=real_tf.float64), logits, from_logits=True))
        return logits.numpy(), float(E), [g.numpy() for g in
                                          tape.gradient(E, model.trainable_variables)]

    logits, _, grads = loss_and_grads(x[0], y[0])
    adam = keras.optimizers.Adam(learning_rate=1e-3)
    losses, weights = [], []
    for step in range(STEPS):
        _, E, g = loss_and_grads(x[step], y[step])
        adam.apply_gradients(zip(g, model.trainable_variables))
        losses.append(E)
        weights.append([v.numpy().copy() for v in model.trainable_variables])
    return dict(initial=initial, x=x, y=y, logits=logits, grads=grads, losses=losses,
                weights=weights)


def _engine_model(initial):
    """The engine's network with Keras's initial weights copied in (W: (n_in, n_out), as
    Keras's kernel)."""
    model = bp.Sequential.mlp(SIZES, dtype=np.float64, init="glorot_uniform")
    for layer, (W, b) in zip(model.layers, zip(initial[::2], initial[1::2])):
        layer.W[...], layer.b[...] = W, b
    return model


def _assert_close(mine, reference, what):
    """float64: every entry within 1e-9 relative (and 1e-15 of the array's largest)."""
    np.testing.assert_allclose(mine, reference, rtol=1e-9,
                               atol=1e-15 * np.max(np.abs(reference)), err_msg=what)


def test_keras_initialiser_is_glorot_uniform_with_zero_biases(reference_run):
    for W, b in zip(reference_run["initial"][::2], reference_run["initial"][1::2]):
        limit = np.sqrt(6 / sum(W.shape))
        assert np.all(b == 0) and np.max(np.abs(W)) <= limit
        assert np.max(np.abs(W)) > 0.99 * limit                 # U(-l, l): variance l^2 / 3
        assert abs(np.var(W) - limit ** 2 / 3) < 0.1 * limit ** 2 / 3
    assert bp.Sequential.mlp(SIZES, init="glorot_uniform").layers[0].init == "glorot_uniform"


def test_reference_network_logits_and_its_ten_gradients_equal_tensorflows(reference_run):
    model = _engine_model(reference_run["initial"])
    x, y = reference_run["x"][0], reference_run["y"][0]
    _assert_close(model.forward(x), reference_run["logits"], "logits")
    loss = bp.SoftmaxCrossEntropy()
    loss.forward(model.forward(x), y)
    model.backward(loss)                           # the delta rule, layer by layer
    mine = [g for layer in model.layers for g in (layer.dW, layer.db)]
    assert len(mine) == len(reference_run["grads"]) == 10
    for i, (a, b) in enumerate(zip(mine, reference_run["grads"])):
        _assert_close(a, b, f"gradient {i}")


def test_twenty_keras_adam_steps_equal_kerass(reference_run):
    model = _engine_model(reference_run["initial"])
    loss = bp.SoftmaxCrossEntropy()
    adam = bp.get_optimizer("keras_adam", model.params, lr=1e-3)
    paper = bp.Adam(_engine_model(reference_run["initial"]).params, lr=1e-3, eps=1e-7)
    for step in range(STEPS):
        E = loss.forward(model.forward(reference_run["x"][step]), reference_run["y"][step])
        model.backward(loss)
        paper.step(model.grads)                    # the paper's form, same gradients
        adam.step(model.grads)
        assert E == pytest.approx(reference_run["losses"][step], rel=1e-9)
        reference = reference_run["weights"][step]
        for i, p in enumerate(model.named_params().values()):
            _assert_close(p, reference[i], f"step {step + 1}, parameter {i}")
    # the paper's form with Keras's eps is another trajectory: the test can tell them apart
    assert np.max(np.abs(paper.params[0] - model.params)) > 1e-6


def test_the_tape_through_backprop_tf_gives_kerass_gradients(reference_run):
    """The reference network written as tape ops with ``backprop.tf`` names."""
    tf = our_tf
    params = [tf.Variable(a) for a in reference_run["initial"]]
    x, y = reference_run["x"][0], reference_run["y"][0]
    with tf.GradientTape() as tape:
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            h = tf.nn.relu(h) if i < len(params) - 2 else h
        E = tf.reduce_mean(tf.losses.categorical_crossentropy(
            tf.one_hot(y, depth=10, dtype=tf.float64), h, from_logits=True))
    for i, (g, reference) in enumerate(zip(tape.gradient(E, params), reference_run["grads"])):
        _assert_close(g.numpy(), reference, f"gradient {i}")


# ------------------------------------------------------------------ the optimizers' forms

KERAS_FORMS = [
    ("keras_adam", dict(lr=0.01), lambda: keras.optimizers.Adam(learning_rate=0.01)),
    ("keras_adam", dict(lr=0.05, beta1=0.5, beta2=0.9, eps=1e-3),
     lambda: keras.optimizers.Adam(learning_rate=0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3)),
    ("keras_rmsprop", dict(lr=0.01), lambda: keras.optimizers.RMSprop(learning_rate=0.01)),
    ("keras_rmsprop", dict(lr=0.05, rho=0.5, eps=1e-3),
     lambda: keras.optimizers.RMSprop(learning_rate=0.05, rho=0.5, epsilon=1e-3)),
    # SGD is Keras's form but keeps eta as given: eta and mu exact in float32 here
    ("sgd", dict(lr=0.125), lambda: keras.optimizers.SGD(learning_rate=0.125)),
    ("momentum", dict(lr=0.125, momentum=0.875),
     lambda: keras.optimizers.SGD(learning_rate=0.125, momentum=0.875)),
    ("nesterov", dict(lr=0.125, momentum=0.875),
     lambda: keras.optimizers.SGD(learning_rate=0.125, momentum=0.875, nesterov=True)),
]


@pytest.mark.parametrize("name, kwargs, make_keras", KERAS_FORMS,
                         ids=[f"{c[0]}-{len(c[1])}" for c in KERAS_FORMS])
def test_the_keras_forms_are_kerass_update(name, kwargs, make_keras):
    """20 steps on gradients of every size, small ones included (where eps matters)."""
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=50) * 10.0 ** rng.uniform(-6, 0, 50) for _ in range(20)]
    w0 = rng.normal(size=50)
    mine = w0.copy()
    opt = bp.get_optimizer(name, [mine], **kwargs)
    variable = keras.Variable(w0.copy(), dtype="float64")
    theirs = make_keras()
    for g in grads:
        opt.step([g])
        theirs.apply_gradients([(real_tf.constant(g), variable)])
        np.testing.assert_allclose(mine, variable.numpy(), rtol=1e-12, atol=1e-15)


# ------------------------------------------------------- the tutorial's TensorFlow quirks
# (docs/walkthrough.md, section 12, shows these; they need TensorFlow, so they run here)

def test_keras_3_refuses_the_tutorials_adam_lr():
    with pytest.raises(ValueError, match=r"not recognized: \{'lr'"):
        keras.optimizers.Adam(lr=1e-3)                  # the tutorial's call
    assert keras.optimizers.Adam(learning_rate=1e-3).epsilon == 1e-7   # Keras's eps


def test_repeat_then_shuffle_is_one_endless_epoch_that_mixes_epochs():
    data = real_tf.data.Dataset.range(10)
    endless = data.repeat().shuffle(5, seed=0)          # the tutorial's order
    assert endless.cardinality() == real_tf.data.INFINITE_CARDINALITY
    seen = np.array([int(v) for v in endless.take(1000)]).reshape(100, 10)
    whole_epochs = [sorted(block) == list(range(10)) for block in seen]
    assert not all(whole_epochs)      # blocks of 10 that are no epoch: epochs are mixed
    one_epoch = data.shuffle(10, seed=0)                # shuffle, no repeat: one epoch a loop
    assert sorted(int(v) for v in one_epoch) == list(range(10))


def _start_log_level_runs():
    """Two fresh processes that import TensorFlow, one setting TF_CPP_MIN_LOG_LEVEL=3
    after the import, one before it. Started when this module is collected, so the
    seconds they take pass while the rest of the suite runs."""
    import subprocess
    import sys
    snippet = "import os{}\nimport tensorflow as tf{}\ntf.reduce_sum(tf.random.normal([2]))\n"
    setting = "\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {when: subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for when, code in [("after", snippet.format("", setting)),
                               ("before", snippet.format(setting, ""))]}


LOG_LEVEL_RUNS = _start_log_level_runs()


@atexit.register
def _end_log_level_runs():
    """If the test was not run (deselected, or the session stopped early), end them."""
    for run in LOG_LEVEL_RUNS.values():
        if run.poll() is None:
            run.kill()
        run.communicate()


@pytest.mark.slow  # subprocesses
def test_tf_cpp_min_log_level_set_after_the_import_silences_nothing():
    """TensorFlow reads TF_CPP_MIN_LOG_LEVEL when its C++ library loads: set after
    ``import tensorflow`` it does nothing, set before it silences TensorFlow's own log
    lines (not the few printed before its logging starts)."""
    lines = {when: [line for line in run.communicate(timeout=300)[1].splitlines()
                    if ".cc:" in line] for when, run in LOG_LEVEL_RUNS.items()}
    assert len(lines["after"]) > len(lines["before"]), lines
