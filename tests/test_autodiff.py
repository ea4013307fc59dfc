"""The tape: every op's gradient against central differences (float64), second derivatives
through nested tapes, and TensorFlow's semantics (None for unconnected sources, one answer
per non-persistent tape, watch_accessed_variables, the tutorial's numbers)."""
import zlib

import numpy as np
import pytest

import backprop as bp
from backprop.tf import autodiff as ad
from backprop.tf import autodiff
from backprop.tf.autodiff import nn

H = 1e-6            # central-difference step
BOUND = 1e-7        # relative error bound for smooth functions in float64


def relative_error(analytic, numeric):
    """max|a - n| / max(1e-8, max|a| + max|n|)."""
    analytic, numeric = np.asarray(analytic, float), np.asarray(numeric, float)
    scale = np.max(np.abs(analytic), initial=0) + np.max(np.abs(numeric), initial=0)
    return np.max(np.abs(analytic - numeric), initial=0) / max(1e-8, scale)


def numeric_gradient(f, x, h=H):
    """Central differences (f(x + h e_i) - f(x - h e_i)) / 2h of a scalar f, shape of x."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        up = f(x)
        x[i] = saved - h
        down = f(x)
        x[i] = saved
        grad[i] = (up - down) / (2 * h)
    return grad


def numeric_jacobian(f, x, h=H):
    """d f(x) / dx of an array-valued f, shape f(x).shape + x.shape."""
    x = np.array(x, dtype=np.float64)
    out_shape = np.shape(f(x))
    jac = np.zeros(out_shape + x.shape)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        up = np.asarray(f(x))
        x[i] = saved - h
        down = np.asarray(f(x))
        x[i] = saved
        jac[(...,) + i] = (up - down) / (2 * h)
    return jac


def sample(rng, shape, domain):
    """Inputs for an op: 'any' (normal), 'pos' (in [0.5, 2]), 'away' (|x| in [0.2, 2],
    a few thousand h from a kink at 0, so the numeric difference never straddles it),
    'distinct' (entries far apart, so max/min/argmax never tie within h)."""
    if domain == "any":
        return rng.normal(size=shape)
    if domain == "pos":
        return rng.uniform(0.5, 2.0, size=shape)
    if domain == "away":
        return rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    if domain == "distinct":           # a grid 0.37 apart, jittered: ties are ~1e-5 likely
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.37 - n * 0.15 + rng.uniform(0, 0.3, n)).reshape(shape)
    raise ValueError(domain)


A_FIXED = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]])

# name -> (function of tensors, input shapes, input domains)
OPS = {
    "add broadcast": (lambda a, b: a + b, [(3, 4), (4,)], ["any", "any"]),
    "add scalar left": (lambda a: 2.5 + a, [(3,)], ["any"]),
    "sub broadcast": (lambda a, b: a - b, [(3, 1), (1, 4)], ["any", "any"]),
    "rsub": (lambda a: 1.0 - a, [(2, 3)], ["any"]),
    "mul broadcast": (lambda a, b: a * b, [(2, 3, 4), (3, 1)], ["any", "any"]),
    "mul scalar tensor": (lambda a, b: a * b, [(), (5,)], ["any", "any"]),
    "div broadcast": (lambda a, b: a / b, [(2, 3), (2, 1)], ["any", "pos"]),
    "rdiv": (lambda a: 3.0 / a, [(4,)], ["pos"]),
    "neg": (lambda a: -a, [(3,)], ["any"]),
    "pow int exponent": (lambda a: a ** 3, [(4,)], ["any"]),
    "pow tensor exponent": (lambda a, b: a ** b, [(3,), (3,)], ["pos", "any"]),
    "rpow": (lambda a: 2.0 ** a, [(3,)], ["any"]),
    "matmul 2d": (lambda a, b: a @ b, [(3, 4), (4, 2)], ["any", "any"]),
    "matmul batched broadcast": (lambda a, b: a @ b, [(2, 3, 4), (4, 2)], ["any", "any"]),
    "matmul vector vector": (lambda a, b: ad.matmul(a, b), [(4,), (4,)], ["any", "any"]),
    "matmul matrix vector": (lambda a, b: a @ b, [(3, 4), (4,)], ["any", "any"]),
    "matmul vector matrix": (lambda a, b: a @ b, [(3,), (3, 2)], ["any", "any"]),
    "rmatmul numpy": (lambda b: A_FIXED @ b, [(3, 2)], ["any"]),
    "getitem int": (lambda a: a[1], [(3, 4)], ["any"]),
    "getitem slices": (lambda a: a[1:, ::2], [(3, 5)], ["any"]),
    "getitem repeated fancy": (lambda a: a[[0, 2, 0, 0]], [(3, 2)], ["any"]),
    "getitem bool mask": (lambda a: a[np.array([True, False, True])], [(3, 2)], ["any"]),
    "getitem ellipsis newaxis": (lambda a: a[..., None, 0], [(2, 3)], ["any"]),
    "reduce_sum all": (lambda a: ad.reduce_sum(a), [(2, 3)], ["any"]),
    "reduce_sum axes keepdims": (lambda a: ad.reduce_sum(a, axis=(0, 2), keepdims=True),
                                 [(2, 3, 4)], ["any"]),
    "reduce_mean axis": (lambda a: ad.reduce_mean(a, axis=-1), [(3, 4)], ["any"]),
    "reduce_max axis": (lambda a: ad.reduce_max(a, axis=1), [(3, 4)], ["distinct"]),
    "reduce_min": (lambda a: autodiff.reduce_min(a, axis=0), [(3, 4)], ["distinct"]),
    "expand_dims": (lambda a: autodiff.expand_dims(a, 1) * a[:, None, :], [(2, 3)], ["any"]),
    "squeeze": (lambda a: autodiff.squeeze(a, axis=1) ** 2, [(2, 1, 3)], ["any"]),
    "exp": (ad.exp, [(3, 2)], ["any"]),
    "log": (ad.log, [(3, 2)], ["pos"]),
    "log1p": (autodiff.log1p, [(4,)], ["pos"]),
    "sqrt": (ad.sqrt, [(4,)], ["pos"]),
    "square": (ad.square, [(4,)], ["any"]),
    "abs": (lambda a: abs(a), [(5,)], ["away"]),
    "maximum": (ad.maximum, [(3, 4), (4,)], ["distinct", "distinct"]),
    "minimum": (ad.minimum, [(3, 4), (3, 4)], ["distinct", "distinct"]),
    "where": (lambda a, b: ad.where(np.array([True, False, True]), a, b), [(2, 3), (3,)],
              ["any", "any"]),
    "clip_by_value": (lambda a: autodiff.clip_by_value(a, -0.8, 0.8), [(8,)], ["away"]),
    "reshape": (lambda a: ad.reshape(a, (3, -1)), [(2, 6)], ["any"]),
    "transpose perm": (lambda a: ad.transpose(a, (2, 0, 1)), [(2, 3, 4)], ["any"]),
    "T": (lambda a: a.T, [(2, 3)], ["any"]),
    "broadcast_to": (lambda a: autodiff.broadcast_to(a, (4, 3)), [(3,)], ["any"]),
    "stack axis 1": (lambda a, b: ad.stack([a, b, a], axis=1), [(2, 3), (2, 3)],
                     ["any", "any"]),
    "concat": (lambda a, b: ad.concat([a, b], axis=-1), [(2, 3), (2, 2)], ["any", "any"]),
    "norm": (ad.norm, [(3, 4)], ["any"]),
    "norm axis": (lambda a: ad.norm(a, axis=1), [(3, 4)], ["any"]),
    "norm 1": (lambda a: ad.norm(a, ord=1), [(5,)], ["away"]),
    "sigmoid": (nn.sigmoid, [(3, 4)], ["any"]),
    "tanh": (nn.tanh, [(3, 4)], ["any"]),
    "relu": (nn.relu, [(3, 4)], ["away"]),
    "leaky_relu": (nn.leaky_relu, [(3, 4)], ["away"]),
    "leaky_relu alpha 0.05": (lambda a: nn.leaky_relu(a, alpha=0.05), [(3, 4)], ["away"]),
    "softmax": (nn.softmax, [(3, 4)], ["any"]),
    "softmax axis 0": (lambda a: nn.softmax(a, axis=0), [(3, 4)], ["any"]),
    "log_softmax": (nn.log_softmax, [(3, 4)], ["any"]),
    "mse": (lambda t, p: nn.mse(t, p), [(3, 4), (3, 4)], ["any", "any"]),
    "mse y (B,) pred (B, 1)": (lambda t, p: nn.mse(t, p), [(5,), (5, 1)], ["any", "any"]),
    "mse y (B, 1) pred (B,)": (lambda t, p: nn.mse(t, p), [(5, 1), (5,)], ["any", "any"]),
    "categorical_crossentropy probs": (
        lambda t, p: nn.categorical_crossentropy(nn.softmax(t), p), [(3, 4), (3, 4)],
        ["any", "pos"]),
    "categorical_crossentropy logits": (
        lambda t, a: nn.categorical_crossentropy(nn.softmax(t), a, from_logits=True),
        [(3, 4), (3, 4)], ["any", "any"]),
    "binary_crossentropy probs": (
        lambda t, p: nn.binary_crossentropy(nn.sigmoid(t), nn.sigmoid(p)), [(3, 4), (3, 4)],
        ["any", "any"]),
    "binary_crossentropy logits": (
        lambda t, z: nn.binary_crossentropy(nn.sigmoid(t), z, from_logits=True),
        [(3, 4), (3, 4)], ["any", "any"]),
}


def tape_and_numeric_gradients(fn, arrays, seed=0):
    """The tape's gradient of E = sum(fn(inputs) * W) for a fixed random W, and the numeric
    one, for every input."""
    out = np.asarray(fn(*[bp.constant(a) for a in arrays]).numpy())
    W = np.random.default_rng(seed).normal(size=out.shape)   # a random upstream gradient

    def energy(*values):
        return float(ad.reduce_sum(fn(*[bp.constant(v) for v in values]) * W))

    inputs = [bp.constant(a) for a in arrays]
    with bp.GradientTape() as tape:
        tape.watch(inputs)
        E = ad.reduce_sum(fn(*inputs) * W)
    analytic = tape.gradient(E, inputs)
    numeric = []
    for i in range(len(arrays)):
        def energy_of_i(v, i=i):
            values = list(arrays)
            values[i] = v
            return energy(*values)
        numeric.append(numeric_gradient(energy_of_i, arrays[i]))
    return analytic, numeric


@pytest.mark.parametrize("name", list(OPS))
def test_op_gradient_matches_central_differences(name):
    fn, shapes, domains = OPS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [sample(rng, s, d) for s, d in zip(shapes, domains)]
    analytic, numeric = tape_and_numeric_gradients(fn, arrays)
    for a, n, array in zip(analytic, numeric, arrays):
        assert a is not None
        assert a.shape == array.shape
        assert a.dtype == np.float64
        assert relative_error(a.numpy(), n) < BOUND, name
        assert np.max(np.abs(n)) > 1e-3     # the check is not vacuous


# ops for second derivatives. E = sum(W * out^3) is not linear in any input, so every
# op's VJP is itself differentiated: the Hessian block d2E/dx_i dx_j from nested tapes is
# checked against numeric differences of the tape's own first derivative dE/dx_i.
SECOND_ORDER = ["add broadcast", "mul broadcast", "reduce_min", "expand_dims", "squeeze",
                "mse y (B,) pred (B, 1)", "div broadcast", "pow int exponent",
                "pow tensor exponent", "matmul 2d", "matmul matrix vector",
                "getitem repeated fancy", "getitem slices", "reduce_mean axis",
                "reduce_max axis", "transpose perm", "stack axis 1", "concat", "exp", "log",
                "sqrt", "norm", "sigmoid", "tanh", "relu", "softmax", "log_softmax",
                "categorical_crossentropy logits", "binary_crossentropy logits", "maximum"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivative_through_nested_tapes(name):
    fn, shapes, domains = OPS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    arrays = [sample(rng, s, d) for s, d in zip(shapes, domains)]
    out = np.asarray(fn(*[bp.constant(a) for a in arrays]).numpy())
    W = rng.normal(size=out.shape)

    def energy(inputs):
        out = fn(*inputs)
        return ad.reduce_sum(W * out * out * out)

    def first_derivative(i, j, x_j):
        """dE/dx_i from one tape, as a function of input j."""
        inputs = [bp.constant(a) for a in arrays]
        inputs[j] = bp.constant(x_j)
        with bp.GradientTape() as tape:
            tape.watch(inputs[i])
            E = energy(inputs)
        return tape.gradient(E, inputs[i]).numpy()

    inputs = [bp.constant(a) for a in arrays]
    with bp.GradientTape(persistent=True) as outer:
        outer.watch(inputs)
        with bp.GradientTape() as inner:
            inner.watch(inputs)
            E = energy(inputs)
        grads = inner.gradient(E, inputs)
    for i, g in enumerate(grads):
        for j, x in enumerate(inputs):
            block = outer.jacobian(g, x)           # d2E / dx_i dx_j
            numeric = numeric_jacobian(lambda v: first_derivative(i, j, v), arrays[j])
            if block is None:                      # None: dE/dx_i does not depend on x_j
                assert np.max(np.abs(numeric)) < 1e-6, (name, i, j)
                continue
            assert block.shape == x.shape + x.shape if i == j else True
            assert relative_error(block.numpy(), numeric) < BOUND, (name, i, j)
    # the diagonal block of the first input is never None: E is not linear in it
    assert outer.jacobian(grads[0], inputs[0]) is not None


# ------------------------------------------------------------------- the tutorial's numbers

def test_tutorial_nested_tapes_dy_dw_3_dy_db_1_second_derivative_none():
    # y = x w + b with x = 3: dy/dw = x = 3, dy/db = 1, and dy/dw = x does not depend on w
    w, b, x = bp.Variable(1.0), bp.Variable(2.0), bp.Variable(3.0)
    with bp.GradientTape() as t1:
        with bp.GradientTape() as t2:
            y = x * w + b
        dy_dw, dy_db = t2.gradient(y, [w, b])
    d2y_dw2 = t1.gradient(dy_dw, w)
    assert float(dy_dw) == 3.0
    assert float(dy_db) == 1.0
    assert d2y_dw2 is None


def test_tutorial_chain_rule_numbers():
    x = bp.constant(1.0)
    w1, b1, w2, b2 = bp.constant(2.0), bp.constant(1.0), bp.constant(2.0), bp.constant(1.0)
    with bp.GradientTape(persistent=True) as tape:
        tape.watch([w1, b1, w2, b2])
        y1 = x * w1 + b1
        y2 = y1 * w2 + b2
    dy2_dy1 = tape.gradient(y2, [y1])[0]
    dy1_dw1 = tape.gradient(y1, [w1])[0]
    dy2_dw1 = tape.gradient(y2, [w1])[0]
    assert float(dy2_dy1) == 2.0                       # w2
    assert float(dy1_dw1) == 1.0                       # x
    assert float(dy2_dw1) == float(dy2_dy1) * float(dy1_dw1) == 2.0


@pytest.mark.parametrize("make", [bp.constant, bp.Variable])
def test_second_derivative_of_cube_is_6w(make):
    w = make(np.float64(1.5))
    with bp.GradientTape() as outer:
        outer.watch(w)
        with bp.GradientTape() as inner:
            inner.watch(w)
            y = w ** 3
        dy_dw = inner.gradient(y, w)
    d2y_dw2 = outer.gradient(dy_dw, w)
    assert float(dy_dw) == pytest.approx(3 * 1.5 ** 2, rel=1e-15)
    assert float(d2y_dw2) == pytest.approx(6 * 1.5, rel=1e-15)


def test_persistent_tape_differentiates_its_own_gradient():
    # TF records a gradient taken inside a persistent tape's context on that same tape
    x = bp.constant(np.float64(2.0))
    with bp.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ad.exp(x) * x
        dy = tape.gradient(y, x)
    d2y = tape.gradient(dy, x)
    assert float(dy) == pytest.approx(np.exp(2.0) * 3, rel=1e-14)     # e^x (x + 1)
    assert float(d2y) == pytest.approx(np.exp(2.0) * 4, rel=1e-14)    # e^x (x + 2)


def test_third_derivative_with_three_tapes():
    x = bp.constant(np.float64(0.7))
    with bp.GradientTape() as t3:
        t3.watch(x)
        with bp.GradientTape() as t2:
            t2.watch(x)
            with bp.GradientTape() as t1:
                t1.watch(x)
                y = x ** 4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    assert float(d3) == pytest.approx(24 * 0.7, rel=1e-14)


# ---------------------------------------------------------------------- TensorFlow semantics

def test_unconnected_and_unwatched_sources_give_none():
    x, unused, unwatched = bp.constant(1.0), bp.constant(2.0), bp.constant(3.0)
    with bp.GradientTape() as tape:
        tape.watch([x, unused])
        y = x * unwatched
    gx, gu, gw = tape.gradient(y, [x, unused, unwatched])
    assert float(gx) == 3.0
    assert gu is None
    assert gw is None


def test_unconnected_gradients_zero():
    x, unused = bp.constant([1.0, 2.0]), bp.constant([5.0, 6.0])
    with bp.GradientTape() as tape:
        tape.watch([x, unused])
        y = ad.reduce_sum(x * x)
    gx, gu = tape.gradient(y, [x, unused], unconnected_gradients="zero")
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(gu.numpy(), [0.0, 0.0])


def test_non_persistent_tape_answers_once():
    x = bp.constant(2.0)
    with bp.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 4.0
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used"):
        tape.gradient(y, x)


def test_persistent_tape_answers_many_times():
    x = bp.constant(3.0)
    with bp.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(y, x)) == 6.0
    assert float(tape.gradient(z, x)) == 108.0          # 4 x^3
    assert float(tape.gradient(z, y)) == 18.0           # 2 y
    assert float(tape.gradient(y, x)) == 6.0


def test_variables_are_watched_unless_watch_accessed_variables_is_false():
    v = bp.Variable(2.0)
    with bp.GradientTape() as tape:
        y = v * v
    assert float(tape.gradient(y, v)) == 4.0
    assert tape.watched_variables() == ()                # released after the answer

    with bp.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    assert tape.gradient(y, v) is None

    with bp.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(v)
        y = v * v
    assert float(tape.gradient(y, v)) == 4.0

    frozen = bp.Variable(2.0, trainable=False)
    with bp.GradientTape() as tape:
        y = frozen * frozen
    assert tape.gradient(y, frozen) is None


def test_constants_are_not_watched_automatically():
    x = bp.constant(2.0)
    with bp.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None


def test_ops_after_the_context_are_not_recorded():
    x = bp.constant(2.0)
    with bp.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    z = y * x
    assert tape.gradient(z, x) is None
    assert float(tape.gradient(y, x)) == 4.0


def test_stop_recording_and_stop_gradient():
    x = bp.constant(3.0)
    with bp.GradientTape(persistent=True) as tape:
        tape.watch(x)
        with tape.stop_recording():
            hidden = x * x
        y = x * ad.stop_gradient(x)
    assert tape.gradient(hidden, x) is None
    assert float(tape.gradient(y, x)) == 3.0


def test_source_structure_is_preserved():
    a, b, c = bp.constant(1.0), bp.constant(2.0), bp.constant(3.0)
    with bp.GradientTape(persistent=True) as tape:
        tape.watch([a, b, c])
        y = a * b * c
    single = tape.gradient(y, a)
    assert isinstance(single, ad.Tensor) and float(single) == 6.0
    nested = tape.gradient(y, [a, (b, [c])])
    assert isinstance(nested, list) and isinstance(nested[1], tuple)
    assert [float(nested[0]), float(nested[1][0]), float(nested[1][1][0])] == [6.0, 3.0, 2.0]
    named = tape.gradient(y, {"b": b, "c": c})
    assert float(named["b"]) == 3.0 and float(named["c"]) == 2.0


def test_several_targets_add_and_output_gradients_weight_them():
    x = bp.constant(np.array([1.0, 2.0]))
    with bp.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = 3.0 * x
    np.testing.assert_array_equal(tape.gradient([y, z], x).numpy(), [5.0, 7.0])   # 2x + 3
    weighted = tape.gradient(y, x, output_gradients=np.array([10.0, -1.0]))
    np.testing.assert_array_equal(weighted.numpy(), [20.0, -4.0])


def test_gradient_uses_the_value_read_inside_the_tape():
    v = bp.Variable(np.float64(2.0))
    with bp.GradientTape() as tape:
        y = v * v * v
    v.assign(10.0)                            # after the read: the tape kept v = 2
    assert float(tape.gradient(y, v)) == 12.0


def test_broadcast_gradient_sums_over_stretched_axes():
    a = bp.constant(np.ones((3, 1)))
    b = bp.constant(np.arange(4.0).reshape(1, 4))
    with bp.GradientTape() as tape:
        tape.watch([a, b])
        y = a * b                              # shape (3, 4)
    ga, gb = tape.gradient(y, [a, b])
    np.testing.assert_array_equal(ga.numpy(), [[6.0], [6.0], [6.0]])   # sum_j b_j
    np.testing.assert_array_equal(gb.numpy(), [[3.0, 3.0, 3.0, 3.0]])  # sum_i a_i


# ------------------------------------------------------------------------------ jacobians

def test_softmax_jacobian_is_diag_p_minus_p_p_transpose():
    a = bp.constant(np.array([1.0, -0.5, 2.0, 0.25]))
    with bp.GradientTape() as tape:
        tape.watch(a)
        p = nn.softmax(a)
    J = tape.jacobian(p, a).numpy()
    p = p.numpy()
    expected = np.diag(p) - np.outer(p, p)      # dp_i/da_j = p_i (delta_ij - p_j)
    np.testing.assert_allclose(J, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-15)   # sum_i p_i = 1 for any a


def test_jacobian_of_a_small_function_matches_central_differences():
    def f(x):
        return ad.stack([x[0] * x[1], ad.exp(x[0]) - x[2] ** 2, x[1] / x[2]])

    x0 = np.array([0.3, -1.2, 0.8])
    x = bp.constant(x0)
    with bp.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    J = tape.jacobian(y, x)
    assert J.shape == (3, 3)
    numeric = numeric_jacobian(lambda v: f(bp.constant(v)).numpy(), x0)
    assert relative_error(J.numpy(), numeric) < BOUND


def test_jacobian_shape_is_target_shape_plus_source_shape():
    W = bp.constant(np.random.default_rng(1).normal(size=(3, 2)))
    x = bp.constant(np.random.default_rng(2).normal(size=(4, 3)))
    with bp.GradientTape(persistent=True) as tape:
        tape.watch([x, W])
        y = x @ W
    Jx = tape.jacobian(y, x)
    JW = tape.jacobian(y, W)
    assert Jx.shape == (4, 2, 4, 3) and JW.shape == (4, 2, 3, 2)
    # dy_bk / dW_jk' = x_bj delta_kk'
    expected = np.einsum("bj,kl->bkjl", x.numpy(), np.eye(2))
    np.testing.assert_allclose(JW.numpy(), expected, atol=1e-15)
    unused = bp.constant(1.0)
    assert tape.jacobian(y, unused) is None


# ---------------------------------------------------------------------- tensors and dtypes

def test_default_dtypes_follow_tensorflow():
    assert bp.constant(1.0).dtype == np.float32
    assert bp.constant([1.0, 2]).dtype == np.float32
    assert bp.constant(1).dtype == np.int32
    assert bp.constant(np.array([1.0])).dtype == np.float64
    assert bp.Variable(np.zeros(2)).dtype == np.float64
    assert bp.constant(1.0, dtype="float64").dtype == np.float64
    x = bp.constant(np.array([1.0, 2.0]))
    assert (x * 2.5).dtype == np.float64 and (2.5 * x).dtype == np.float64
    assert (bp.constant(1.0) * np.float64(3)).dtype == np.float32     # takes the tensor's


def test_mixing_tensor_dtypes_raises():
    with pytest.raises(TypeError, match="cast"):
        bp.constant(1.0) + bp.constant(np.float64(1.0))
    assert (ad.cast(bp.constant(1.0), ad.float64) + bp.constant(np.float64(1.0))).dtype \
        == np.float64


def test_python_values_go_straight_to_a_float64_tensors_dtype():
    pred = bp.constant(np.array([[0.1, 0.7]]))
    assert float(nn.mse([[0.1, 0.7]], pred)[0]) == 0.0       # no float32 round trip
    assert ad.cast([0.1], ad.float64).numpy()[0] == 0.1
    assert ad.linspace(np.float64(0.0), 1.0, 3).dtype == np.float64


def test_gradients_keep_float64():
    x = bp.constant(np.array([0.1, 0.2]))
    with bp.GradientTape() as tape:
        tape.watch(x)
        y = ad.reduce_sum(nn.sigmoid(x) * 1.0)
    g = tape.gradient(y, x)
    assert g.dtype == np.float64
    s = 1 / (1 + np.exp(-x.numpy()))
    np.testing.assert_allclose(g.numpy(), s * (1 - s), rtol=1e-15)


def test_tensor_protocol():
    x = bp.constant([[1.0, 2.0], [3.0, 4.0]])
    assert x.shape == (2, 2) and x.ndim == 2 and len(x) == 2
    out = x.numpy()
    out[0, 0] = 99.0                               # numpy() is a copy
    assert x.numpy()[0, 0] == 1.0
    assert float(bp.constant(2.5)) == 2.5
    assert f"{bp.constant(2.5):.2f}" == "2.50"
    compared = x > 2.0
    assert isinstance(compared, np.ndarray) and compared.dtype == bool
    np.testing.assert_array_equal(compared, [[False, False], [True, True]])
    np.testing.assert_array_equal(x == x, np.ones((2, 2), bool))
    assert isinstance(np.ones(2) + x[0], ad.Tensor)          # NumPy defers to the tensor
    np.testing.assert_array_equal(np.asarray(x), [[1.0, 2.0], [3.0, 4.0]])
    rows = [float(ad.reduce_sum(row)) for row in x]
    assert rows == [3.0, 7.0]
    assert "shape=(2, 2)" in repr(x) and "float32" in repr(x)


def test_the_package_exports_every_public_name():
    # backprop.tf.autodiff is a package of modules; what users import is its __init__
    assert [name for name in autodiff.__all__ if not hasattr(autodiff, name)] == []
    assert autodiff.pow is autodiff.power and autodiff.abs is autodiff.absolute
    assert callable(autodiff.matmul) and callable(autodiff.random.normal)   # not modules
    x = bp.constant([1.0, -2.0])
    np.testing.assert_array_equal((+x).numpy(), [1.0, -2.0])


def test_variable_assign_and_assign_sub():
    v = bp.Variable(np.array([1.0, 2.0]))
    v.assign_sub(np.array([0.5, 0.5]))
    np.testing.assert_array_equal(v.numpy(), [0.5, 1.5])
    v.assign_add([1.0, 1.0])
    v.assign(0.1 * np.ones(2))
    assert v.numpy()[0] == 0.1                                # no float32 round trip
    with pytest.raises(ValueError, match="shape"):
        v.assign(np.ones(3))
    w = v - 1.0                                               # not in place: a new Tensor
    assert type(w) is ad.Tensor and v.numpy()[0] == 0.1


def test_watch_rejects_non_tensors():
    with bp.GradientTape() as tape:
        with pytest.raises(ValueError, match="wrap it in bp.constant"):
            tape.watch(3.0)


def test_integer_ops_are_not_recorded():
    i = bp.constant([1, 2])
    with bp.GradientTape() as tape, pytest.warns(UserWarning, match="floating"):
        tape.watch(i)
        y = i * i
    assert y.dtype == np.int32
    assert tape.gradient(y, i) is None


# -------------------------------------------------------------- backprop.tf.autodiff.nn values

def test_relu_gradient_is_zero_at_zero_like_tensorflow():
    x = bp.constant(np.array([-1.0, 0.0, 2.0]))
    with bp.GradientTape(persistent=True) as tape:
        tape.watch(x)
        r = nn.relu(x)
        leaky = nn.leaky_relu(x)
    np.testing.assert_array_equal(tape.gradient(r, x).numpy(), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(tape.gradient(leaky, x).numpy(), [0.2, 0.2, 1.0])
    np.testing.assert_array_equal(leaky.numpy(), [-0.2, 0.0, 2.0])


def test_sigmoid_is_stable_for_large_inputs():
    x = bp.constant(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0]))
    s = nn.sigmoid(x).numpy()
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s, [0.0, np.exp(-40.0), 0.5, 1.0, 1.0], rtol=1e-12, atol=0)


def test_losses_match_their_formulas():
    t = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    a = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 0.2]])
    p = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(nn.mse(t, bp.constant(p)).numpy(), ((p - t) ** 2).mean(axis=-1))
    expected = -(t * np.log(p)).sum(axis=-1)                 # -sum_k t_k log p_k
    np.testing.assert_allclose(nn.categorical_crossentropy(t, bp.constant(p)).numpy(),
                               expected, rtol=1e-12)
    np.testing.assert_allclose(
        nn.categorical_crossentropy(t, bp.constant(a), from_logits=True).numpy(),
        expected, rtol=1e-12)
    np.testing.assert_allclose(
        nn.sparse_categorical_crossentropy(np.array([1, 0]), bp.constant(a),
                                           from_logits=True).numpy(), expected, rtol=1e-12)
    # a probability of exactly 0 on the true class is clipped to 1e-7 (Keras)
    hard = bp.constant(np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(nn.categorical_crossentropy([[0.0, 1.0]], hard).numpy(),
                               [-np.log(1e-7)], rtol=1e-9)
    # softmax of huge logits: no overflow
    big = nn.categorical_crossentropy([[1.0, 0.0]], bp.constant([[1000.0, 0.0]]),
                                      from_logits=True)
    assert float(big[0]) == 0.0
    z = np.array([[-3.0, 0.5, 800.0]])
    y = np.array([[1.0, 0.0, 1.0]])
    logits_bce = nn.binary_crossentropy(y, bp.constant(z), from_logits=True).numpy()
    expected_bce = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), axis=-1)
    np.testing.assert_allclose(logits_bce, expected_bce, rtol=1e-12)
    probs = np.array([[0.2, 0.9]])
    np.testing.assert_allclose(
        nn.binary_crossentropy([[0.0, 1.0]], bp.constant(probs)).numpy(),
        [-(np.log(0.8) + np.log(0.9)) / 2], rtol=1e-12)


def test_tutorial_single_output_perceptron_gradient():
    # the tutorial's snippet with bp in place of tf: E = mean MSE(t, sigmoid(x @ w + b))
    x = ad.random.normal([1, 3], seed=4)
    w, b, y = ad.ones([3, 1]), ad.ones([1]), bp.constant([1])
    with bp.GradientTape() as tape:
        tape.watch([w, b])
        logits = nn.sigmoid(x @ w + b)
        loss = ad.reduce_mean(nn.mse(y, logits))
    dw, db = tape.gradient(loss, [w, b])
    O = float(logits[0, 0])
    delta = 2 * (O - 1) * O * (1 - O)                 # dE/dO = 2(O - t), times O(1 - O)
    np.testing.assert_allclose(dw.numpy()[:, 0], delta * x.numpy()[0], rtol=1e-5)
    np.testing.assert_allclose(db.numpy(), [delta], rtol=1e-5)


# ------------------------------------------------------------------------------ creation

def test_creation_helpers():
    np.testing.assert_array_equal(ad.one_hot(bp.constant([2, 0, 5]), depth=3).numpy(),
                                  [[0, 0, 1], [1, 0, 0], [0, 0, 0]])       # 5: out of range
    assert ad.one_hot([1], 4).dtype == np.float32
    line = ad.linspace(-10.0, 10.0, 5)
    assert line.dtype == np.float32
    np.testing.assert_array_equal(line.numpy(), [-10, -5, 0, 5, 10])
    assert ad.zeros([2, 3]).shape == (2, 3) and ad.zeros([2]).dtype == np.float32
    np.testing.assert_array_equal(ad.ones([2]).numpy(), [1, 1])
    a = ad.random.normal([1000], seed=7, mean=3.0, stddev=2.0)
    assert a.shape == (1000,) and a.dtype == np.float32
    np.testing.assert_array_equal(a.numpy(), ad.random.normal([1000], 3.0, 2.0, seed=7).numpy())
    assert abs(float(ad.reduce_mean(a)) - 3.0) < 0.2
    assert abs(float(ad.reduce_mean((a - 3.0) ** 2)) - 4.0) < 0.5
    u = ad.random.uniform([500], -1.0, 1.0, seed=0).numpy()
    assert u.min() >= -1 and u.max() < 1


def test_norm_is_euclidean_and_frobenius():
    assert float(ad.norm(bp.constant([3.0, 4.0]))) == 5.0
    m = np.arange(6.0).reshape(2, 3)
    assert float(ad.norm(bp.constant(m))) == pytest.approx(np.linalg.norm(m), rel=1e-15)
    np.testing.assert_allclose(ad.norm(bp.constant(m), axis=1).numpy(),
                               np.linalg.norm(m, axis=1))
    with pytest.raises(ValueError, match="ord"):
        ad.norm(bp.constant(m), ord=3)


def test_himmelblau_of_the_tutorial_runs_unchanged_on_a_tensor():
    def himmelblau(x):
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    x = bp.constant([4.0, 0.0])
    with bp.GradientTape() as tape:
        tape.watch([x])
        y = himmelblau(x)
    grads = tape.gradient(y, [x])[0]
    assert float(y) == 34.0                       # (16 - 11)^2 + (4 - 7)^2
    # df/dx = 4x(x^2 + y - 11) + 2(x + y^2 - 7) = 80 - 6, df/dy = 2*5 + 0
    np.testing.assert_array_equal(grads.numpy(), [74.0, 10.0])


def test_binary_crossentropy_from_logits_is_smooth_at_zero():
    """At z = 0 the kinks of max(z, 0) and -|z| cancel: dE/dz = sigmoid(0) - t = 0.5 - t."""
    import backprop as bp
    z = bp.Variable(np.zeros((1, 2)))
    with bp.GradientTape() as tape:
        E = ad.reduce_sum(nn.binary_crossentropy(np.array([[1.0, 0.0]]), z, from_logits=True))
    np.testing.assert_allclose(tape.gradient(E, z).numpy(), [[-0.25, 0.25]], rtol=1e-15)
