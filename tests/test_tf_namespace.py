"""``import backprop.tf as tf``: the tutorial's tape snippets run unchanged and print
TensorFlow 2.21's numbers (recorded here from TensorFlow, so this file needs no
TensorFlow; tests/test_tensorflow.py compares with it live), and the names keep
TensorFlow's argument conventions."""
import numpy as np
import pytest

import backprop.tf as tf
def test_mse_reads_a_rank_1_target_beside_a_column_of_predictions_as_keras_does():
    # the example: y (B,), prob (B, 1). NumPy broadcasting would give (B, B) and
    # the means [0.44, 0.22, 0.29]; TensorFlow reshapes y and gives the per-sample errors
    y = tf.constant([1.0, 0.0, 1.0])
    prob = tf.constant([[0.2], [0.7], [0.4]])
    for loss in (tf.losses.MSE(y, prob), tf.losses.MSE(prob, y)):
        assert loss.shape == (3,)
        np.testing.assert_allclose(loss.numpy(), [0.64, 0.49, 0.36], rtol=1e-6)
    assert tf.losses.MSE(tf.ones([2, 3]), tf.ones([3])).shape == (2,)   # a true broadcast
    with pytest.raises(ValueError):
        tf.losses.MSE(tf.ones([2, 3]), tf.ones([2]))


def test_the_tutorials_single_output_perceptron_runs_unchanged():
    x = tf.constant([[0.5, -1.2, 2.0]])              # tutorial: tf.random.normal([1, 3])
    w = tf.ones([3, 1])
    b = tf.ones([1])
    y = tf.constant([1])                              # an int32 target, shape (1,)
    with tf.GradientTape() as tape:
        tape.watch([w, b])
        logits = tf.sigmoid(x @ w + b)
        loss = tf.reduce_mean(tf.losses.MSE(y, logits))
    grads = tape.gradient(loss, [w, b])
    # TensorFlow 2.21 prints, for these inputs:
    np.testing.assert_allclose(grads[0].numpy(), [[-0.00754677], [0.01811224], [-0.03018707]],
                               rtol=1e-5)
    np.testing.assert_allclose(grads[1].numpy(), [-0.01509354], rtol=1e-5)
    assert grads[0].shape == (3, 1) and grads[0].dtype == np.float32


def test_the_tutorials_multi_output_perceptron_runs_unchanged():
    x = tf.constant([[0.5, -1.2, 2.0, 0.1], [1.0, 0.3, -0.4, -2.0]])
    w = tf.constant([[0.2, -0.5, 1.0], [0.7, 0.1, -0.3], [-1.1, 0.4, 0.2], [0.3, 0.3, -0.6]])
    b = tf.zeros([3])
    y = tf.constant([2, 0])
    with tf.GradientTape() as tape:
        tape.watch([w, b])
        prob = tf.nn.softmax(x @ w + b, axis=1)
        loss = tf.reduce_mean(tf.losses.MSE(tf.one_hot(y, depth=3), prob))
    dw, db = tape.gradient(loss, [w, b])
    # TensorFlow 2.21's numbers for these inputs
    np.testing.assert_allclose(db.numpy(), [-0.06600353, 0.04102135, 0.02498218], rtol=1e-5)
    np.testing.assert_allclose(dw.numpy(), [[-0.06624168, 0.01767271, 0.04856897],
                                            [-0.0205155, -0.05773952, 0.07825502],
                                            [0.02754451, 0.09566493, -0.12320945],
                                            [0.13300727, 0.01602159, -0.14902887]], rtol=1e-5)


def test_the_tutorials_accuracy_lines_run_unchanged():
    logits = tf.constant([[0.1, 2.0, -1.0], [3.0, 0.5, 0.2], [0.0, 0.1, 0.3]])
    y = tf.constant([1, 2, 2])
    prob = tf.nn.softmax(logits, axis=1)
    pred = tf.argmax(prob, axis=1)
    assert pred.dtype == np.int64
    pred = tf.cast(pred, dtype=tf.int32)
    correct = tf.cast(tf.equal(pred, y), dtype=tf.int32)
    correct = tf.reduce_sum(correct)
    assert int(correct) == 2 and correct.dtype == np.int32
    x = tf.cast(np.full((2, 28, 28), 255, np.uint8), dtype=tf.float32) / 255.0
    x = tf.reshape(x, [-1, 28 * 28])
    assert x.shape == (2, 784) and x.dtype == np.float32 and float(tf.reduce_max(x)) == 1.0


def test_variable_takes_tensorflows_argument_order():
    frozen = tf.Variable(2.0, False)                  # tf.Variable(initial_value, trainable)
    assert frozen.trainable is False and frozen.dtype == np.float32
    assert isinstance(frozen, tf.Variable) and isinstance(frozen, tf.Tensor)
    v = tf.Variable([1, 2], name="v", dtype=tf.float64)
    assert v.dtype == np.float64 and v.name == "v"
    frozen64 = tf.Variable(np.float64(2.0), False)
    with tf.GradientTape() as tape:
        y = v * frozen64
    gv, gf = tape.gradient(y, [v, frozen64])
    np.testing.assert_array_equal(gv.numpy(), [2.0, 2.0])
    assert gf is None                                 # not trainable: not watched


def test_unconnected_gradients_zero_and_the_usual_helpers():
    x, unused = tf.constant(3.0), tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch([x, unused])
        y = x * x
    gx, gu = tape.gradient(y, [x, unused], unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert float(gx) == 6.0
    np.testing.assert_array_equal(gu.numpy(), [0.0, 0.0])
    assert tf.linspace(0, 10, 5).dtype == np.float64              # TensorFlow's rule
    assert tf.linspace(-10.0, 10.0, 10).dtype == np.float32
    np.testing.assert_array_equal(tf.range(2, 11, 3).numpy(), [2, 5, 8])
    assert tf.range(5).dtype == np.int32 and tf.range(0.0, 1.0, 0.5).dtype == np.float32
    assert int(tf.reduce_mean(tf.constant([-1, -2, 4]))) == 0     # an integer mean
    np.testing.assert_array_equal(tf.one_hot([1, 5, -1], 3).numpy(),
                                  [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    assert tf.one_hot([0], 2, on_value=5, off_value=-1).dtype == np.int32
    with pytest.raises(ValueError, match="rank >= 2"):
        tf.matmul(tf.ones([3]), tf.ones([3, 2]))
    assert not hasattr(tf, "log") and callable(tf.math.log)      # TensorFlow 2 has no tf.log
