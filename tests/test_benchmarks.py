"""The benchmark runner end to end on a tiny synthetic run, and its exact FLOP count.

No timing assertions: times on a shared machine say nothing about correctness. The quick
run uses two engines (backprop with numba kernels, the naive NumPy loop) on 1000 random
images, plus an engine whose module does not exist, which must be listed as skipped.
Every entry point's command line must turn bad values (and a bad --out folder) into exit
status 2 and one error line naming the option, before any long work starts. The JAX
engine is skipped without jax; with it, one jitted step is checked against the same
Adam update in float64 NumPy. The batch-size sweep's table and chart must carry the
numbers of its per-point results.
"""
import json
import os
import subprocess
import sys

import pytest

from benchmarks import engines, flops, kernels, report, run  # the checkout's (pythonpath = .)

REFERENCE = [784, 256, 128, 64, 32, 10]

pytestmark = pytest.mark.slow  # the benchmark scripts run end to end


def test_epoch_flops_of_the_reference_model_by_hand():
    # sum over layers of n_in n_out: 784*256 + 256*128 + 128*64 + 64*32 + 32*10
    assert 200704 + 32768 + 8192 + 2048 + 320 == 244032
    forward = 2 * 100 * 244032             # z = O_prev W, every layer
    weights = 2 * 100 * 244032             # dW = O_prev^T delta, every layer
    inputs = 2 * 100 * (244032 - 200704)   # delta W^T, all but the first layer
    assert (forward, weights, inputs) == (48_806_400, 48_806_400, 8_665_600)
    assert flops.step_flops(REFERENCE, 100) == 106_278_400
    assert flops.epoch_flops(REFERENCE, 60000, 100) == 600 * 106_278_400 == 63_767_040_000
    # an incomplete last batch of 50 counts at its own size
    assert flops.epoch_batches(1050, 100) == [100] * 10 + [50]
    assert flops.epoch_flops(REFERENCE, 1050, 100) == 10 * 106_278_400 + 53_139_200


def test_gemm_floor_runs_the_step_shapes():
    floor = flops.GemmFloor(REFERENCE, 250, 100)
    assert floor.flops == flops.epoch_flops(REFERENCE, 250, 100)
    for B in (100, 50):
        shapes = [(a.shape[0], a.shape[1], b.shape[1]) for a, b, _ in floor.plans[B]]
        assert shapes == [mkn for _, mkn in flops.step_gemms(REFERENCE, B)]
        assert all(out.shape == (a.shape[0], b.shape[1]) for a, b, out in floor.plans[B])
    floor.run_epoch()


class _Missing(engines.Engine):
    name = "missing-engine"
    requires = ("no_such_module_for_backprop_benchmarks",)
    install_hint = "nothing"


def test_quick_run_writes_json_markdown_and_lists_a_missing_engine_as_skipped(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(engines.ENGINES, _Missing.name, _Missing)
    out = tmp_path / "results"
    code = run.main(["--quick", "--data", "synthetic", "--threads", "1", "--out", str(out),
                     "--engines", f"backprop-numba,naive-numpy,{_Missing.name}"])
    assert code == 0
    for name in ("results.json", "results.md", "results.png"):
        assert (out / name).stat().st_size > 0

    result = json.loads((out / "results.json").read_text())
    by_name = {e["name"]: e for e in result["engines"]}
    assert set(by_name) == {"backprop-numba", "naive-numpy", _Missing.name}
    skipped = by_name[_Missing.name]
    assert skipped["status"] == "skipped"
    assert "no_such_module_for_backprop_benchmarks is not installed" in skipped["reason"]
    for name in ("backprop-numba", "naive-numpy"):
        e = by_name[name]
        assert e["status"] == "ok"
        assert len(e["times_s"]) == result["settings"]["epochs"] == 1
        assert 0 <= e["test_accuracy"] <= 1
        assert e["threads"] == 1
        assert e["peak_rss_mib"] > 0
    assert result["memory_baseline_mib"] > 0
    assert result["settings"]["n_train"] == run.QUICK_TRAIN
    assert result["settings"]["epoch_flops"] == flops.epoch_flops(REFERENCE, run.QUICK_TRAIN, 100)
    assert result["gemm_floor"]["gflop"] == pytest.approx(10 * 106_278_400 / 1e9)
    for key in ("cpu", "cores", "load_average"):
        assert key in result["machine"]
    assert any(p["user_api"] == "blas" for p in result["blas"])

    markdown = (out / "results.md").read_text()
    header = [c.strip() for c in report.table(result).splitlines()[0].strip("|").split("|")]
    assert header == list(report.COLUMNS) == [
        "engine", "threads", "s/epoch median (min-max)", "samples/s", "test acc",
        "peak RSS MiB", "x fastest", "x GEMM floor"]
    assert report.table(result) in markdown
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines()
            if line.startswith("| ")}
    assert set(rows) >= {"backprop-numba", "naive-numpy", _Missing.name, "(GEMM floor)"}
    assert "skipped: no_such_module" in rows[_Missing.name]
    assert report.table(result) in capsys.readouterr().out


def test_unknown_engine_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        run.parser().parse_args(["--engines", "backprop-numba,no-such-engine"])
    assert "expected a comma list of: backprop-numba" in capsys.readouterr().err


def test_kernel_benchmark_compares_every_case(tmp_path):
    code = kernels.main(["--repeats", "1", "--min-time", "0", "--out", str(tmp_path)])
    assert code == 0
    rows = json.loads((tmp_path / "kernels.json").read_text())["kernels"]
    assert {r["kernel"] for r in rows} == {"add_bias_relu", "relu_delta_db", "adam_step",
                                           "softmax_cross_entropy_labels", "gather_scaled"}
    assert len(rows) == 4 + 4 + 1 + 1 + 1
    assert all(r["agree"] for r in rows)
    assert kernels.VARIANTS == ("numba", "numpy")
    assert all(r[f"{v}_us"] > 0 for r in rows for v in kernels.VARIANTS)
    assert (tmp_path / "kernels.md").read_text().count("| adam_step") == 1


def test_startup_benchmark_reports_the_first_training_step(capsys):
    """One fresh process through the real command, to its first step (no timing bound)."""
    from benchmarks import startup
    times = startup.main(["--runs", "1"])
    assert len(times) == 1 and times[0] > 0
    assert "run 1: first training step" in capsys.readouterr().out


def test_the_numpy_engine_is_measured_without_numba_loaded():
    """Its peak memory must not include numba's (~130 MiB), which it never uses."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = {}
    for engine in ("backprop-numpy", "backprop-numba"):
        done = subprocess.run([sys.executable, "-m", "benchmarks.memory", engine, "--quick",
                               "--data", "synthetic", "--threads", "1"], cwd=root,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        found[engine] = json.loads(done.stdout.strip().splitlines()[-1])["numba_loaded"]
    assert found == {"backprop-numpy": False, "backprop-numba": True}


def test_profile_step_splits_an_epoch_into_its_phases(fashion, monkeypatch):
    """One timed epoch over the first 500 images, split by phase (no timing bound)."""
    import backprop
    from benchmarks import profile_step
    made = []

    class Recorded(backprop.data.Batches):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(backprop.data, "Batches", Recorded)
    names = profile_step.PHASES
    phases, floor = profile_step.profile(epochs=1, samples=500)
    assert [(b.n_samples, len(b)) for b in made] == [(500, 5)]  # the workload asked for
    assert list(phases) == names + ["whole epoch"]
    parts = sum(phases[name] for name in names)
    assert 0 < parts <= phases["whole epoch"] and floor > 0
    assert all(phases[name] > 0 for name in names)
    assert profile_step.steps_per_epoch(500) == 5 and profile_step.steps_per_epoch() == 600
    assert "| optimizer (Adam) |" in profile_step.table(phases, floor, 5)


# Command-line errors: exit status 2 and one "prog: error: ..." line naming the option,
# never a traceback, and before any long work starts.

def _usage_error(capsys, main, argv, status=2):
    """Call ``main(argv)``; it must exit with ``status`` and one error line on stderr."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == status, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1, err
    return errors[0]


def _no_run(*args, **kwargs):
    raise AssertionError("the long run started before the arguments were checked")


def _bad_out_folders(tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder")
    bad = [a_file, a_file / "sub"]
    if os.path.isdir("/proc/self"):
        bad.append("/proc/bench")  # no folder can be made there
    return bad


def test_a_bad_out_folder_fails_before_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run, "run", _no_run)
    monkeypatch.setattr(kernels, "bench", _no_run)
    for out in _bad_out_folders(tmp_path):
        for main, argv in [(run.main, ["--quick", "--data", "synthetic", "--no-memory"]),
                           (kernels.main, ["--repeats", "1", "--min-time", "0"])]:
            line = _usage_error(capsys, main, [*argv, "--out", str(out)])
            assert "argument --out" in line and str(out) in line
    assert (tmp_path / "afile").read_text() == "not a folder"


def test_an_out_folder_is_created_before_the_run(tmp_path, monkeypatch):
    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop
    out = tmp_path / "new" / "results"
    monkeypatch.setattr(run, "run", stop)
    with pytest.raises(Stop):
        run.main(["--quick", "--data", "synthetic", "--no-memory", "--out", str(out)])
    assert out.is_dir()


def test_results_are_printed_even_if_they_cannot_be_written(tmp_path, monkeypatch, capsys):
    def fail(result, out):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(run, "write", fail)
    code = run.main(["--quick", "--data", "synthetic", "--no-memory", "--threads", "1",
                     "--engines", "naive-numpy", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "| naive-numpy" in captured.out and "| (GEMM floor)" in captured.out
    errors = [line for line in captured.err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "No space left" in errors[0]


def test_a_run_where_no_engine_ran_still_writes_its_chart(tmp_path, monkeypatch):
    monkeypatch.setitem(engines.ENGINES, _Missing.name, _Missing)
    code = run.main(["--quick", "--data", "synthetic", "--no-memory", "--threads", "1",
                     "--engines", _Missing.name, "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "results.png").stat().st_size > 0


def _mains():
    from benchmarks import memory, profile_step, startup
    return {"run": run.main, "kernels": kernels.main, "memory": memory.main,
            "profile_step": profile_step.main, "startup": startup.main}


@pytest.mark.parametrize("entry, argv, option", [
    ("run", ["--seed", "-1"], "--seed"),
    ("run", ["--threads", "0"], "--threads"),
    ("run", ["--epochs", "0"], "--epochs"),
    ("run", ["--warmup", "-1"], "--warmup"),
    ("run", ["--batch-size", "0"], "--batch-size"),
    ("kernels", ["--seed", "-3"], "--seed"),
    ("kernels", ["--repeats", "0"], "--repeats"),
    ("kernels", ["--repeats", "many"], "--repeats"),
    ("kernels", ["--min-time", "nan"], "--min-time"),
    ("kernels", ["--min-time", "inf"], "--min-time"),
    ("kernels", ["--min-time", "-0.5"], "--min-time"),
    ("kernels", ["--threads", "0"], "--threads"),
    ("memory", ["baseline", "--threads", "0"], "--threads"),
    ("memory", ["baseline", "--batch-size", "0"], "--batch-size"),
    ("memory", ["baseline", "--seed", "-1"], "--seed"),
    ("profile_step", ["--threads", "0"], "--threads"),
    ("profile_step", ["--epochs", "0"], "--epochs"),
    ("profile_step", ["--samples", "0"], "--samples"),
    ("startup", ["--runs", "0"], "--runs"),
])
def test_a_bad_number_is_a_usage_error(entry, argv, option, monkeypatch, capsys):
    monkeypatch.setattr(run, "run", _no_run)
    monkeypatch.setattr(kernels, "bench", _no_run)
    line = _usage_error(capsys, _mains()[entry], argv)
    assert f"argument {option}:" in line


def test_profile_step_reports_a_bad_thread_variable_in_one_line(monkeypatch, capsys):
    from benchmarks import profile_step
    monkeypatch.setattr(profile_step, "profile", _no_run)
    monkeypatch.setenv("BACKPROP_THREADS", "abc")
    line = _usage_error(capsys, profile_step.main, [])
    assert "'abc'" in line and "BACKPROP_THREADS" in line


def test_startup_reports_a_failed_child_in_one_line(monkeypatch, capsys):
    from benchmarks import startup
    monkeypatch.setenv("BACKPROP_THREADS", "abc")  # the child's `backprop train` rejects it
    line = _usage_error(capsys, startup.main, ["--runs", "1"], status=1)
    assert "the child failed" in line and "got 'abc'" in line


def test_early_thread_reader_leaves_bad_values_to_the_real_parser():
    from benchmarks.__main__ import threads_option
    assert threads_option(["--quick", "--threads", "3"]) == 3
    for argv in (["--threads", "abc"], ["--threads"], ["--threads", "0"], ["--threads=-2"]):
        assert threads_option(argv) == (os.cpu_count() or 1)


def test_python_m_benchmarks_names_itself_in_a_threads_error():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--threads", "abc"], cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "__main__.py" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert errors == [("python -m benchmarks: error: argument --threads: "
                       "invalid positive value: 'abc'")]


def test_crosscore_times_both_kernels_under_every_condition(capsys):
    """A tiny run: every cell of the table is a positive time (no timing bound)."""
    from benchmarks import crosscore
    results = crosscore.main(["--blocks", "1", "--calls", "3"])
    names = {"bias + ReLU (100, 256)", "Adam over W1 (784, 256)"}
    assert set(results) == {(n, t, r) for n in names for t, r in crosscore.CONDITIONS}
    assert all(us > 0 for us in results.values())
    table = capsys.readouterr().out
    assert table.count("\n") == 6 and "| Adam over W1 (784, 256)  |            2 |" in table
    with pytest.raises(SystemExit) as stop:
        crosscore.main(["--calls", "0"])
    assert stop.value.code == 2


def test_a_busy_machine_is_said_in_words_above_the_table():
    from benchmarks import report
    idle = {"machine": {"cores": 2, "usable_cores": 2, "load_average": [0.1, 0.2, 0.3],
                        "other_cpu_cores": 0.05}}
    assert report.busy_warning(idle) is None
    before = {"machine": {**idle["machine"], "load_average": [4.7, 3.0, 2.0]}}
    assert report.busy_warning(before).startswith(
        "WARNING: the machine was busy (its load average was 4.7 at the start)")
    during = {"machine": {**idle["machine"], "other_cpu_cores": 1.3}}
    assert "other processes used 1.30 of its 2 cores during the run" in \
        report.busy_warning(during)
    # a sweep's later point starts under the load of its own earlier points: only the
    # other processes' CPU during it can say the machine was busy
    after_own = {"machine": {**before["machine"], "follows_own_run": True}}
    assert report.busy_warning(after_own) is None
    both = {"machine": {**during["machine"], "load_average": [4.7, 3.0, 2.0],
                        "follows_own_run": True}}
    assert report.busy_warning(both).startswith(
        "WARNING: the machine was busy (other processes used 1.30")


def test_a_sweep_marks_its_later_points_as_following_its_own_run():
    import argparse

    from benchmarks import sweep
    seen = []

    def fake_run(args, log):
        seen.append(args.batch_size)
        return {"machine": {"load_average": [1.9, 1.0, 1.0]}, "engines": [],
                "gemm_floor": {"median_s": 1.0}}
    result = sweep.run_sweep(argparse.Namespace(batch_sizes=[10, 100, 1000]), fake_run)
    assert seen == [10, 100, 1000]
    assert [p["machine"]["follows_own_run"] for p in result["points"]] == [False, True, True]


def test_other_load_is_the_machines_busy_time_less_this_processs_over_the_wall_time(
        monkeypatch):
    """(machine busy s, own s, wall s) snapshots: (100, 10, 0) then (103, 11, 1) mean
    other processes kept 2 cores busy; a real snapshot reads /proc/stat and os.times."""
    from benchmarks import report
    snapshots = iter([(100.0, 10.0, 0.0), (103.0, 11.0, 1.0)])
    monkeypatch.setattr(report.OtherLoad, "snapshot", staticmethod(lambda: next(snapshots)))
    with report.OtherLoad() as others:
        pass
    assert others.cores == 2.0
    monkeypatch.undo()
    first = report.OtherLoad.snapshot()
    sum(range(10 ** 6))  # some CPU time of this process's own
    second = report.OtherLoad.snapshot()
    assert second[0] >= first[0] and second[1] > first[1] and second[2] > first[2]


def test_the_chart_shows_each_median_and_the_date_and_machine(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from benchmarks import report
    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: drawn.append(fig))
    engine = {"status": "ok", "median_s": 0.542, "min_s": 0.528, "max_s": 0.594}
    result = {"engines": [{**engine, "name": "backprop-numba"},
                          {**engine, "name": "pytorch", "median_s": 1.112, "max_s": 1.2}],
              "gemm_floor": {"median_s": 0.409},
              "settings": {"sizes_text": "784-256-128-64-32-10", "batch_size": 100,
                           "threads": 2},
              "machine": {"cpu": "AMD EPYC", "cores": 2, "date": "2026-12-01",
                          "load_average": [4.7, 1, 1]}}
    report.write_chart(tmp_path / "results.png", result)
    ax = drawn[0].axes[0]
    assert {t.get_text() for t in ax.texts} >= {"0.542 s", "1.112 s"}
    assert ax.get_title() == ("784-256-128-64-32-10, batch 100, 2 threads\n"
                              "AMD EPYC, 2 cores, 2026-12-01; the machine was busy")


# The JAX peer engine: skipped cleanly without jax; with it, the same maths as the others.

def test_the_jax_engine_is_skipped_when_jax_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "jax", None)  # find_spec("jax") is None: "not installed"
    code = run.main(["--quick", "--data", "synthetic", "--no-memory", "--threads", "1",
                     "--engines", "jax,naive-numpy", "--out", str(tmp_path)])
    assert code == 0
    by_name = {e["name"]: e for e in json.loads((tmp_path / "results.json").read_text())["engines"]}
    assert by_name["jax"]["status"] == "skipped"
    assert by_name["jax"]["reason"] == "jax is not installed (pip install jax jaxlib)"
    assert by_name["naive-numpy"]["status"] == "ok"
    assert "jax: skipped, jax is not installed" in capsys.readouterr().out


def test_the_jax_engine_compiles_both_batch_shapes_in_setup_and_waits_for_its_epoch(
        monkeypatch):
    """1000 samples in batches of 300: 3 full batches and one of 100, two compiled shapes,
    both before the first epoch; run_epoch ends by waiting for the state it dispatched."""
    pytest.importorskip("jax")
    data = run.load_data("synthetic", quick=True)
    engine = engines.make("jax", REFERENCE, 300, 0, 1)
    assert engine.missing() is None
    engine.setup(data)
    assert engine.step._cache_size() == 2
    waited = []
    real_wait = engine.jax.block_until_ready
    monkeypatch.setattr(engine.jax, "block_until_ready",
                        lambda tree: waited.append(tree) or real_wait(tree))
    engine.run_epoch()
    engine.run_epoch()
    assert engine.step._cache_size() == 2  # no epoch compiled
    assert len(waited) == 2  # the epoch's final state, every array of it
    assert all(a is b for a, b in zip(engine.jax.tree.leaves(waited[-1]),
                                      engine.jax.tree.leaves((engine.params, engine.m,
                                                              engine.v, engine.t))))
    assert int(engine.t) == 2 * 4  # 4 steps an epoch
    assert 0 <= engine.accuracy() <= 1
    assert set(engine.versions()) == {"jax", "jaxlib"}


def test_a_quick_jax_run_gives_finite_times_and_an_accuracy(tmp_path):
    pytest.importorskip("jax")
    code = run.main(["--quick", "--data", "synthetic", "--no-memory", "--threads", "1",
                     "--engines", "jax", "--epochs", "2", "--out", str(tmp_path)])
    assert code == 0
    (e,) = json.loads((tmp_path / "results.json").read_text())["engines"]
    assert e["status"] == "ok", e.get("reason")
    assert len(e["times_s"]) == 2 and all(0 < t < float("inf") for t in e["times_s"])
    assert 0 <= e["test_accuracy"] <= 1
    assert e["threads"] >= 1 and e["versions"]["jax"]


def _adam_step_float64(params, m, v, t, x_u8, y, lr, b1=0.9, b2=0.999, eps=1e-8):
    """One step of the 2-layer ReLU MLP with softmax cross-entropy and Adam, in float64
    NumPy, by the derivation: delta_L = (p - t) / B, dE/dW = O_prev^T delta,
    delta_1 = (delta_2 W_2^T) * [z_1 > 0]; then Adam with bias correction at step t + 1."""
    import numpy as np
    (W1, b1_), (W2, b2_) = params
    x = x_u8 / 255.0
    z1 = x @ W1 + b1_
    O1 = np.maximum(z1, 0)
    z2 = O1 @ W2 + b2_
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    target = np.eye(z2.shape[1])[y]
    delta2 = (p - target) / len(x)
    delta1 = (delta2 @ W2.T) * (z1 > 0)
    grads = [x.T @ delta1, delta1.sum(0), O1.T @ delta2, delta2.sum(0)]
    flat = [W1, b1_, W2, b2_]
    t = t + 1
    m = [b1 * mi + (1 - b1) * g for mi, g in zip(m, grads)]
    v = [b2 * vi + (1 - b2) * g * g for vi, g in zip(v, grads)]
    new = [w - lr * (mi / (1 - b1 ** t)) / (np.sqrt(vi / (1 - b2 ** t)) + eps)
           for w, mi, vi in zip(flat, m, v)]
    return new, m, v, np.abs(z1).min()


def test_one_jitted_jax_step_is_the_float64_numpy_adam_update():
    """A 6-5-3 network, batch 4, part-way through training (t = 2, m and v not zero, so
    the update depends on the gradient's size, not only its sign): the weights, m and v
    after one jitted step match the float64 NumPy computation of the same formulas.
    Hidden unit 0 is dead (z < 0 for every sample, so its weights get no gradient) and
    its m and v are tiny: there sqrt(v_hat) is about eps, so where eps sits shows."""
    pytest.importorskip("jax")
    import jax.numpy as jnp
    import numpy as np

    from benchmarks import jax_step
    rng = np.random.default_rng(3)
    shapes = [(6, 5), (5,), (5, 3), (3,)]
    flat = [rng.normal(0, 0.8, s).astype(np.float32) for s in shapes]
    m = [rng.normal(0, 0.05, s).astype(np.float32) for s in shapes]
    v = [rng.uniform(1e-3, 1e-2, s).astype(np.float32) for s in shapes]
    flat[0][:, 0], flat[1][0] = -1.0, -1.0  # z_0 = x . W[:, 0] + b_0 < 0: a dead unit
    for state, value in ((m, 1e-9), (v, 1e-16)):
        state[0][:, 0], state[1][0], state[2][0, :] = value, value, value
    x_u8 = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    y = np.array([0, 2, 1, 2], np.int32)
    lr, t = 1e-2, 2

    def pairs(arrays):
        return [(jnp.asarray(arrays[0]), jnp.asarray(arrays[1])),
                (jnp.asarray(arrays[2]), jnp.asarray(arrays[3]))]
    params_j, m_j, v_j, t_j = jax_step.make_step(lr)(
        pairs(flat), pairs(m), pairs(v), jnp.asarray(t, jnp.int32), x_u8, y)
    got = [np.asarray(a, np.float64) for pair in params_j for a in pair]
    got_m = [np.asarray(a, np.float64) for pair in m_j for a in pair]
    got_v = [np.asarray(a, np.float64) for pair in v_j for a in pair]

    params64 = [(flat[0].astype(np.float64), flat[1].astype(np.float64)),
                (flat[2].astype(np.float64), flat[3].astype(np.float64))]
    want, want_m, want_v, closest = _adam_step_float64(
        params64, [a.astype(np.float64) for a in m], [a.astype(np.float64) for a in v],
        t, x_u8, y, lr)
    assert closest > 1e-3  # no net input at a ReLU kink, where float32 could flip the mask
    assert int(t_j) == t + 1
    for name, g, w, before in zip(["W1", "b1", "W2", "b2"], got, want, flat):
        # compare the step itself (about lr), not the weights (where it is a small part)
        np.testing.assert_allclose(g - before, w - before, rtol=2e-4, atol=1e-6, err_msg=name)
    for g, w in zip(got_m + got_v, want_m + want_v):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-9)


def test_the_jax_weights_are_he_normal_and_the_biases_zero():
    pytest.importorskip("jax")
    import numpy as np

    from benchmarks import jax_step
    (W1, b1), (W2, b2) = jax_step.init([784, 256, 10], seed=0)
    assert W1.dtype == np.float32 and W1.shape == (784, 256) and W2.shape == (256, 10)
    assert float(np.std(np.asarray(W1))) == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert abs(float(np.mean(np.asarray(W1)))) < 0.01 * np.sqrt(2 / 784)
    assert not np.any(np.asarray(b1)) and not np.any(np.asarray(b2))
    again = jax_step.init([784, 256, 10], seed=0)[0][0]
    assert np.array_equal(np.asarray(again), np.asarray(W1))  # seeded


def test_pinning_the_threads_sets_xlas_pool_and_adds_the_single_thread_flag(monkeypatch):
    import benchmarks
    for name in (*benchmarks.THREAD_ENV, "TF_NUM_INTEROP_THREADS", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(name, "untouched")  # restored after the test
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=somewhere")
    benchmarks.pin_thread_env(2)
    assert os.environ["PJRT_NPROC"] == "2"
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=somewhere"
    benchmarks.pin_thread_env(1)
    benchmarks.pin_thread_env(1)  # once only
    assert os.environ["PJRT_NPROC"] == "1"
    assert os.environ["XLA_FLAGS"] == ("--xla_dump_to=somewhere "
                                       "--xla_cpu_multi_thread_eigen=false")
    monkeypatch.delenv("XLA_FLAGS")
    benchmarks.pin_thread_env(1)
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"


@pytest.mark.parametrize("threads", [1, 3])
def test_xla_runs_on_the_pinned_thread_count_and_the_jax_engine_reports_it(threads):
    """A fresh process (XLA sizes its pool once): pinned to 1, or to 3 (more than this
    machine's default of one per core, where that is 2), the pool has that many threads."""
    pytest.importorskip("jax")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import benchmarks, sys; benchmarks.pin_thread_env(int(sys.argv[1])); "
            "from benchmarks import engines, jax_step; import jax.numpy as jnp; "
            "jax_step.predict(jax_step.init([4, 3], 0), jnp.zeros((2, 4), jnp.uint8))"
            ".block_until_ready(); print(engines.xla_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("PJRT_NPROC", "NPROC", "XLA_FLAGS")}
    done = subprocess.run([sys.executable, "-c", code, str(threads)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == threads


# The batch-size sweep.

@pytest.mark.parametrize("argv, words", [
    (["--batch-sizes", "10,x"], "expected a comma list of whole numbers >= 1, got '10,x'"),
    (["--batch-sizes", "10,,100"], "expected a comma list of whole numbers >= 1"),
    (["--batch-sizes", ""], "expected a comma list of whole numbers >= 1"),
    (["--batch-sizes", "1.5"], "expected a comma list of whole numbers >= 1"),
    (["--batch-sizes", "10,0"], "every number must be >= 1, got 0"),
    (["--batch-sizes=-5,10"], "every number must be >= 1, got -5"),
    (["--batch-sizes", "10,100,10"], "10 is given more than once"),
    (["--batch-sizes", "10,100", "--batch-size", "10"],
     "argument --batch-size: not allowed with argument --batch-sizes"),
])
def test_a_bad_batch_size_list_is_a_usage_error(argv, words, monkeypatch, capsys):
    monkeypatch.setattr(run, "run", _no_run)
    line = _usage_error(capsys, run.main, ["--quick", "--no-memory", *argv])
    assert words in line
    if "not allowed" not in words:
        assert "argument --batch-sizes:" in line


def test_batch_sizes_are_parsed_in_ascending_order():
    args = run.parser().parse_args(["--batch-sizes", " 4096,10, 100 "])
    assert args.batch_sizes == [10, 100, 4096] and args.batch_size == 100
    assert run.parser().parse_args([]).batch_sizes is None


def _cells(markdown):
    """{first cell: [cells]} of a Markdown table's rows, the header under "header"."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return {"header": rows[0], **{r[0]: r for r in rows[1:]}}


def test_a_quick_sweep_writes_the_per_point_results_into_its_table_and_chart(
        tmp_path, monkeypatch, capsys):
    from matplotlib.figure import Figure

    from benchmarks import sweep
    code = run.main(["--quick", "--data", "synthetic", "--no-memory", "--threads", "1",
                     "--engines", "backprop-numba", "--batch-sizes", "100,50", "--epochs", "3",
                     "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "[batch 50] warm-up 1: backprop-numba" in out
    assert "[batch 100] epoch 1: backprop-numba" in out
    assert out.index("[batch 50]") < out.index("[batch 100]")
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"sweep.{ext}").stat().st_size > 0
    assert not (tmp_path / "results.json").exists()

    result = json.loads((tmp_path / "sweep.json").read_text())
    assert result["batch_sizes"] == [50, 100]
    points = result["points"]
    assert [p["settings"]["batch_size"] for p in points] == [50, 100]
    for p, B in zip(points, [50, 100]):  # each point ran at its own batch size
        assert p["settings"]["epoch_flops"] == flops.epoch_flops(REFERENCE, run.QUICK_TRAIN, B)
        assert p["gemm_floor"]["gflop"] == pytest.approx(
            flops.epoch_flops(REFERENCE, run.QUICK_TRAIN, B) / 1e9)

    markdown = (tmp_path / "sweep.md").read_text()
    assert sweep.table(result) in markdown and sweep.table(result) in out
    cells = _cells(markdown)
    assert cells["header"] == ["batch", "backprop-numba s/epoch", "GEMM floor s/epoch",
                               "jax / backprop-numba", "pytorch / backprop-numba",
                               "backprop-numba / floor"]
    for p in points:
        (e,) = p["engines"]
        f = p["gemm_floor"]
        row = cells[str(p["settings"]["batch_size"])]
        assert row[1] == f"{e['median_s']:.3f} ({e['min_s']:.3f}-{e['max_s']:.3f})"
        assert row[2] == f"{f['median_s']:.3f} ({f['min_s']:.3f}-{f['max_s']:.3f})"
        assert row[3:5] == ["-", "-"]  # neither jax nor pytorch ran
        assert row[5] == f"{e['median_s'] / f['median_s']:.2f}"

    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: drawn.append(fig))
    sweep.write_chart(tmp_path / "again.png", result)
    ax = drawn[0].axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"backprop-numba", "GEMM floor"}
    assert list(lines["backprop-numba"].get_xdata()) == [50, 100]
    assert list(lines["backprop-numba"].get_ydata()) == [p["engines"][0]["samples_per_s"]
                                                         for p in points]
    assert list(lines["GEMM floor"].get_ydata()) == [p["gemm_floor"]["samples_per_s"]
                                                     for p in points]
    assert lines["GEMM floor"].get_linestyle() == "--"
    assert lines["backprop-numba"].get_marker() == "o"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    m = points[0]["machine"]
    title = ax.get_title()
    assert m["cpu"] in title and m["date"] in title and "1 threads" in title
    assert "BLAS " + report.blas_text(points[0]["blas"], short=True) in title
    for p in points:  # an idle machine at every point, then busy at the last one only
        p["machine"].update(load_average=[0.0, 0.0, 0.0], other_cpu_cores=0.0)
    assert "busy" not in sweep.chart_title(result)
    points[-1]["machine"]["other_cpu_cores"] = 1.5
    assert sweep.chart_title(result).endswith("\nthe machine was busy")
    assert "- batch 100: WARNING: the machine was busy" in sweep.markdown(result)


def _point(batch_size, medians, floor, skipped=()):
    """A hand-made point of a sweep: each engine's median (min and max 10% off)."""
    engines_ = [{"name": n, "status": "ok", "median_s": s, "min_s": 0.9 * s, "max_s": 1.1 * s,
                 "samples_per_s": 60000 / s} for n, s in medians.items()]
    engines_ += [{"name": n, "status": "skipped", "reason": f"{n} is not installed"}
                 for n in skipped]
    return {"settings": {"batch_size": batch_size}, "engines": engines_,
            "gemm_floor": {"median_s": floor, "min_s": floor, "max_s": floor}}


def test_the_sweep_ratios_are_medians_over_medians_and_dashes_where_one_is_missing():
    from benchmarks import sweep
    result = {"points": [
        _point(10, {"backprop-numba": 0.5, "jax": 0.75, "pytorch": 1.0}, floor=0.4),
        _point(100, {"backprop-numba": 0.2, "jax": 0.1}, floor=0.25, skipped=["pytorch"]),
        _point(1000, {"jax": 0.3, "pytorch": 0.6}, floor=0.1, skipped=["backprop-numba"]),
    ]}
    assert sweep.ratios(result["points"][0]) == {
        "jax / backprop-numba": 1.5, "pytorch / backprop-numba": 2.0,
        "backprop-numba / floor": 1.25}
    assert sweep.ratios(result["points"][1]) == {
        "jax / backprop-numba": 0.5, "pytorch / backprop-numba": None,
        "backprop-numba / floor": 0.8}
    assert set(sweep.ratios(result["points"][2]).values()) == {None}
    cells = _cells(sweep.table(result))
    assert cells["header"] == ["batch", "backprop-numba s/epoch", "jax s/epoch",
                               "pytorch s/epoch", "GEMM floor s/epoch", "jax / backprop-numba",
                               "pytorch / backprop-numba", "backprop-numba / floor"]
    assert cells["10"] == ["10", "0.500 (0.450-0.550)", "0.750 (0.675-0.825)",
                           "1.000 (0.900-1.100)", "0.400 (0.400-0.400)", "1.50", "2.00", "1.25"]
    assert cells["100"][3] == "-" and cells["100"][5:] == ["0.50", "-", "0.80"]
    assert cells["1000"][1] == "-" and cells["1000"][5:] == ["-", "-", "-"]
