"""The benchmark runner end to end on a tiny synthetic run, and its exact FLOP count.

No timing assertions: times on a shared machine say nothing about correctness. The quick
run uses two engines (backprop with numba kernels, the naive NumPy loop) on 1000 random
images, plus an engine whose module does not exist, which must be listed as skipped.
Every entry point's command line must turn bad values (and a bad --out folder) into exit
status 2 and one error line naming the option, before any long work starts.
"""
import json
import os
import subprocess
import sys

import pytest

from benchmarks import engines, flops, kernels, report, run  # the checkout's (pythonpath = .)

REFERENCE = [784, 256, 128, 64, 32, 10]


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
    phases, floor = profile_step.profile(epochs=1, samples=500)
    assert [(b.n_samples, len(b)) for b in made] == [(500, 5)]  # the workload asked for
    assert profile_step.steps_per_epoch(500) == 5 and profile_step.steps_per_epoch() == 600
    assert list(phases) == profile_step.PHASES + ["whole epoch"]
    parts = sum(phases[name] for name in profile_step.PHASES)
    assert 0 < parts <= phases["whole epoch"] and floor > 0
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
