"""Every numba kernel against its NumPy twin, in float32 and float64, on ordinary and
extreme inputs (|x| >= 40, zeros, a batch of one); numba's cache; the backend switch."""
import inspect

import numpy as np
import pytest

import backprop as bp
from backprop.core.kernels import jit, reference

DTYPES = [np.float32, np.float64]
# (rows, units) of the inputs: ordinary, a batch of one, the reference net's widest layer
SHAPES = [(7, 5), (1, 10), (100, 256)]


def kernel_names():
    """The public functions of the NumPy twin: every kernel (flush_to_zero is its helper)."""
    return sorted(n for n, f in vars(reference).items()
                  if not n.startswith("_") and inspect.isfunction(f) and n != "flush_to_zero")


def test_every_kernel_has_a_twin_with_the_same_signature():
    names = kernel_names()
    assert len(names) >= 20
    for name in names:
        numba_kernel = getattr(jit, name)
        assert hasattr(numba_kernel, "py_func"), f"{name} in jit.py is not a numba kernel"
        assert inspect.signature(numba_kernel.py_func) == inspect.signature(getattr(reference, name))


def _inputs(kind, shape, dtype, rng):
    """A (rows, units) array: ordinary values, extreme ones, or zeros."""
    if kind == "ordinary":
        return rng.normal(0, 2, shape).astype(dtype)
    if kind == "extreme":
        return (rng.choice([-1, 1], shape) * rng.uniform(40, 1000, shape)).astype(dtype)
    return np.zeros(shape, dtype)


KINDS = ["ordinary", "extreme", "zeros"]


def _run(module, name, args):
    """Call kernel ``name`` of ``module`` on copies of args; return (result, args after)."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    return getattr(module, name)(*args), args


def _close(a, b, dtype):
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _assert_row_sums(summands, sums, dtype):
    """sums = sum_n summands[n], within the rounding of a sum of B terms: at most
    B eps sum_n |summands[n]| from the exact float64 sum."""
    exact = summands.astype(np.float64).sum(axis=0)
    bound = len(summands) * np.finfo(dtype).eps * np.abs(summands.astype(np.float64)).sum(axis=0)
    assert np.all(np.abs(sums - exact) <= bound + np.finfo(dtype).tiny)


def _compare(name, args, dtype, sums=()):
    """Run both twins; every array argument (inputs and outputs) and the returned value
    must agree. An argument at a position in ``sums`` is the sum over rows of the
    argument before it, which the twins add in different orders: in each twin it is
    checked against the exact float64 sum of that twin's own summands instead.
    Returns the numba run's array arguments, in order."""
    r_numba, after_numba = _run(jit, name, args)
    r_numpy, after_numpy = _run(reference, name, args)
    arrays = []
    for i, (a, b) in enumerate(zip(after_numba, after_numpy)):
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype
            if i in sums:
                for after in (after_numba, after_numpy):
                    _assert_row_sums(after[i - 1], after[i], dtype)
            else:
                _close(a, b, dtype)
            arrays.append(a)
    if r_numpy is not None:
        assert isinstance(r_numba, float) and np.isfinite(r_numba)
        _close(r_numba, r_numpy, dtype)
    return arrays


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("act", ["identity", "sigmoid", "tanh", "relu", "softmax"])
def test_forward_kernels(act, kind, shape, dtype):
    rng = np.random.default_rng(1)
    z = _inputs(kind, shape, dtype, rng)
    b = rng.normal(0, 1, shape[1]).astype(dtype)
    z_after, _, O = _compare(f"add_bias_{act}", [z, b, np.empty_like(z)], dtype)
    assert np.all(np.isfinite(O)), "the activation overflowed"
    _close(z_after, z + b, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_leaky_relu_forward_kernel(kind, dtype):
    rng = np.random.default_rng(2)
    z = _inputs(kind, (9, 4), dtype, rng)
    b = np.zeros(4, dtype)
    _, _, O = _compare("add_bias_leaky_relu", [z, b, dtype(0.2), np.empty_like(z)], dtype)
    _close(O, np.where(z >= 0, z, dtype(0.2) * z), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "softmax", "identity", "leaky_relu"])
def test_delta_kernels(act, kind, shape, dtype):
    rng = np.random.default_rng(3)
    z = _inputs(kind, shape, dtype, rng)
    g = rng.normal(0, 1, shape).astype(dtype)
    O = np.empty_like(z)
    getattr(reference, f"add_bias_{'identity' if act == 'leaky_relu' else act}")(
        z.copy(), np.zeros(shape[1], dtype), O)
    cache = {"sigmoid": O, "tanh": O, "softmax": O, "relu": z, "leaky_relu": z}.get(act)
    args = ([g] if act == "identity" else [cache, g]) + ([dtype(0.2)] if act == "leaky_relu" else [])
    _compare(f"{act}_delta_db", args + [np.empty_like(g), np.empty(shape[1], dtype)], dtype,
             sums=(len(args) + 1,))  # db = sum_n delta, in each twin


def test_relu_delta_at_zero_is_one():
    """relu'(0) = 1, the derivation's convention, in both backends."""
    z = np.array([[-1.0, 0.0, 2.0]])
    g = np.array([[5.0, 5.0, 5.0]])
    for module in (jit, reference):
        delta, db = np.empty_like(g), np.empty(3)
        module.relu_delta_db(z, g, delta, db)
        assert delta.tolist() == [[0.0, 5.0, 5.0]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES[:2] + [(100, 10)])
@pytest.mark.parametrize("kind", KINDS)
def test_loss_kernels(kind, shape, dtype):
    rng = np.random.default_rng(4)
    z = _inputs(kind, shape, dtype, rng)
    labels = rng.integers(0, shape[1], shape[0]).astype(np.intp)
    t = np.zeros(shape, dtype)
    t[np.arange(shape[0]), labels] = 1
    p = np.clip(rng.uniform(0, 1, shape), 0.01, 0.99).astype(dtype)
    c = dtype(1 / z.size)
    *_, d1 = _compare("softmax_cross_entropy_labels", [z, labels, np.empty_like(z)], dtype)
    *_, d2 = _compare("softmax_cross_entropy_dense", [z, t, np.empty_like(z)], dtype)
    _close(d1, d2, dtype)
    _compare("squared_error", [z, t, c, np.empty_like(z)], dtype)
    _compare("binary_cross_entropy", [p, t, c, dtype(1e-7), np.empty_like(z)], dtype)
    half = dtype(1 / (2 * shape[0]))  # the half-sum MSE's c
    _, _, delta, _ = _compare("sigmoid_mse_delta_db", [p, t, half, np.empty_like(z),
                                                          np.empty(shape[1], dtype)], dtype, sums=(4,))
    _close(delta, p * (1 - p) * (p - t) / shape[0], dtype)  # O (1 - O)(O - t) / B
    _compare("sigmoid_cross_entropy_logits", [z, t, c, np.empty_like(z)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 1000, 200_704])
def test_optimizer_kernels(size, dtype):
    rng = np.random.default_rng(5)
    w = rng.normal(0, 1, size).astype(dtype)
    g = rng.normal(0, 1, size).astype(dtype)
    g[: size // 3] = 0  # zero gradients must not produce NaN
    s = rng.uniform(0, 1, size).astype(dtype)
    m = rng.normal(0, 0.1, size).astype(dtype)
    c = dtype
    _compare("sgd_step", [w, g, c(0.1)], dtype)
    for nesterov in (False, True):
        _compare("momentum_step", [w, g, m, c(0.1), c(0.9), nesterov, c(np.finfo(dtype).tiny)], dtype)
    _compare("rmsprop_step", [w, g, s, tuple(c(h) for h in (0.01, 0.9, 0.1, 1e-7, np.finfo(dtype).tiny))],
             dtype)
    _compare("adagrad_step", [w, g, np.zeros_like(s), c(0.01), c(1e-10)], dtype)
    _compare("keras_rmsprop_step", [w, g, s, tuple(c(h) for h in (0.01, 0.9, 0.1, 1e-7, np.finfo(dtype).tiny))],
             dtype)
    for make, name in [(bp.Adam, "adam_step"), (bp.KerasAdam, "keras_adam_step")]:
        adam = make([w.copy()])
        adam.t = 3
        w_after, *_ = _compare(name, [w, g, m, s, adam.hyper(dtype)], dtype)
        assert np.all(np.isfinite(w_after))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_kernel_is_exact(dtype):
    images = np.arange(256, dtype=np.uint8).repeat(3).reshape(256, 3)
    index = np.random.default_rng(6).permutation(256)[:50]
    for module in (jit, reference):
        out = np.empty((50, 3), dtype)
        module.gather_scaled(images, index, dtype(255), out)
        np.testing.assert_array_equal(out, images[index] / dtype(255))
        assert out.dtype == dtype


def test_thread_and_backend_errors_name_the_environment_variable(monkeypatch):
    from backprop.core import kernels
    monkeypatch.setenv("NUMBA_NUM_THREADS", __import__("os").environ.get("NUMBA_NUM_THREADS", "1"))
    monkeypatch.delenv("BACKPROP_THREADS", raising=False)
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1,2")  # OpenMP's per-level list: the outermost
        assert kernels.set_threads() == 1
        monkeypatch.setenv("BACKPROP_THREADS", "0")
        with pytest.raises(ValueError, match="^BACKPROP_THREADS=0: the number of threads must be >= 1"):
            kernels.set_threads()
        monkeypatch.delenv("BACKPROP_THREADS")
        monkeypatch.setenv("OMP_NUM_THREADS", "many")
        with pytest.raises(ValueError, match="^OMP_NUM_THREADS=many: .* whole number"):
            kernels.set_threads()
        with pytest.raises(ValueError, match=">= 1, got 0"):  # an argument names no variable
            kernels.set_threads(0)
        from threadpoolctl import threadpool_info
        in_use = kernels.set_threads(10 ** 5)  # more than BLAS holds: it says how many it uses
        assert in_use == max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        assert in_use < 10 ** 5
        assert kernels.set_threads(10 ** 20) == in_use  # too large for a C int: taken as the most
        monkeypatch.setenv("BACKPROP_THREADS", "99999999999999999999")
        assert kernels.set_threads() == in_use
        monkeypatch.delenv("BACKPROP_THREADS")
    finally:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        kernels.set_threads()
    monkeypatch.setenv("BACKPROP_BACKEND", "cuda")
    with pytest.raises(ValueError, match="^BACKPROP_BACKEND=cuda: unknown backend 'cuda'"):
        kernels.backend_from_environment()


def test_one_thread_setting_governs_blas_and_no_kernel_is_parallel(monkeypatch):
    from threadpoolctl import threadpool_info

    from backprop.core import kernels
    monkeypatch.setenv("NUMBA_NUM_THREADS", __import__("os").environ.get("NUMBA_NUM_THREADS", "1"))
    try:
        assert kernels.set_threads(1) == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info()
                   if pool["user_api"] == "blas")
        monkeypatch.setenv("BACKPROP_THREADS", "2")
        assert kernels.set_threads() == 2
        assert __import__("os").environ["NUMBA_NUM_THREADS"] == "2"
        with pytest.raises(ValueError, match="whole number"):
            kernels.set_threads("many")
        with pytest.raises(ValueError, match=">= 1"):
            kernels.set_threads(0)
    finally:
        monkeypatch.delenv("BACKPROP_THREADS", raising=False)
        kernels.set_threads()
    # BLAS owns the threads: every numba kernel is serial
    for name in kernel_names():
        assert not getattr(jit, name).targetoptions.get("parallel"), name


@pytest.mark.parametrize("dtype", DTYPES)
def test_decaying_optimizer_state_is_flushed_instead_of_going_subnormal(dtype, backend):
    """Optimizer state that decays below the smallest normal float is set to 0 (subnormal
    arithmetic is ~100x slower), in every backend: Adam's m decays as b1^t with a zero
    gradient; state that is already subnormal (Adam's m and v, RMSProp's s, momentum's
    velocity) is flushed on the next step, and a flushed state moves no weight."""
    tiny = np.finfo(dtype).tiny
    w = np.ones(4, dtype)
    opt = bp.Adam([w])
    opt.step([np.full(4, 0.5, dtype)])
    zero = np.zeros(4, dtype)
    for _ in range(2000 if dtype == np.float32 else 8000):
        opt.step([zero])
    assert np.all(opt.state["m"][0] == 0)
    subnormal = np.full(3, tiny / 4, dtype)
    assert np.all((subnormal > 0) & (subnormal < tiny))
    for make, slots in [(lambda w: bp.Adam([w]), ("m", "v")),
                        (lambda w: bp.KerasAdam([w]), ("m", "v")),
                        (lambda w: bp.RMSProp([w]), ("s",)),
                        (lambda w: bp.KerasRMSProp([w]), ("s",)),
                        (lambda w: bp.SGD([w], lr=0.1, momentum=0.5), ("velocity",))]:
        w = np.zeros(3, dtype)
        opt = make(w)
        for slot in slots:
            opt.state[slot][0][...] = subnormal
        opt.step([np.zeros(3, dtype)])
        for slot in slots:
            assert np.all(opt.state[slot][0] == 0), (type(opt).__name__, slot)
        assert np.all(w == 0), type(opt).__name__


@pytest.mark.slow  # subprocesses
def test_numba_jit_cache_lets_a_second_process_skip_compiling(tmp_path):
    """cache=True (``_policy.py``): the first process writes numba's cache, the second
    loads the kernel from it instead of compiling."""
    import subprocess
    import sys
    script = ("import numpy as np\n"
              "from backprop.core.kernels import jit\n"
              "w = np.ones(5, np.float32)\n"
              "jit.sgd_step(w, np.ones(5, np.float32), np.float32(0.5))\n"
              "assert w.tolist() == [0.5] * 5\n"
              "print(sum(jit.sgd_step.stats.cache_hits.values()))\n")
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    hits = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        hits.append(int(done.stdout.split()[-1]))
    assert hits == [0, 1]
    assert list((tmp_path / "numba-cache").rglob("*sgd_step*.nbi"))


def test_backend_names_are_case_insensitive_and_an_unknown_one_lists_the_valid_ones(monkeypatch):
    from backprop.core import kernels
    previous = kernels.backend_name()
    try:
        with pytest.raises(ValueError, match=r"^unknown backend 'numba-jit'; expected one of: "
                                             r"numba, numpy$"):  # an earlier name, removed
            kernels.set_backend("numba-jit")
        assert kernels.backend_name() == previous  # a refused name changes nothing
        monkeypatch.setenv("BACKPROP_BACKEND", "numba-jit")
        with pytest.raises(ValueError, match=r"^BACKPROP_BACKEND=numba-jit: unknown backend "):
            kernels.backend_from_environment()
        monkeypatch.setenv("BACKPROP_BACKEND", " NumPy ")  # names are case-insensitive
        assert kernels.backend_from_environment() == "numpy" and kernels.backend() is reference
        kernels.set_backend("NUMBA")
        assert kernels.backend() is jit
    finally:
        kernels.set_backend(previous)
    assert sorted(kernels.BACKENDS) == ["numba", "numpy"]
