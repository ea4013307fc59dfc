"""The benchmark runner end to end on a tiny synthetic run, and its exact FLOP count.

No timing assertions: times on a shared machine say nothing about correctness. The quick
run uses two engines (backprop with numba kernels, the naive NumPy loop) on 1000 random
images, plus an engine whose module does not exist, which must be listed as skipped.
"""
import json

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
    assert {r["kernel"] for r in rows} == {"_relu_forward", "_relu_delta", "_softmax_xent_labels",
                                           "_adam_step", "_gather_scaled"}
    assert len(rows) == 4 + 4 + 1 + 1 + 1
    assert all(r["agree"] and r["same_bits"] for r in rows)
    assert all(r[f"{v}_us"] > 0 for r in rows for v in kernels.VARIANTS)
    assert (tmp_path / "kernels.md").read_text().count("| _adam_step") == 1


def test_startup_benchmark_reports_the_first_training_step(capsys):
    """One fresh process through the real command, to its first step (no timing bound)."""
    from benchmarks import startup
    times = startup.main(["--runs", "1"])
    assert len(times) == 1 and 0 < times[0] < 300
    assert "run 1: first training step" in capsys.readouterr().out


def test_profile_step_splits_an_epoch_into_its_phases(fashion):
    """One timed epoch of the reference run, split by phase (no timing bound)."""
    from benchmarks import profile_step
    phases, floor = profile_step.profile(epochs=1)
    assert list(phases) == profile_step.PHASES + ["whole epoch"]
    parts = sum(phases[name] for name in profile_step.PHASES)
    assert 0 < parts <= phases["whole epoch"] and floor > 0
    assert "| optimizer (Adam) |" in profile_step.table(phases, floor)
