"""The benchmark runner: every engine trains the reference network, epochs interleaved.

Invoked as ``python -m benchmarks`` (see ``__main__.py`` for sample output). Steps:

1. Load Fashion-MNIST as uint8 (or synthetic images with ``--data synthetic``).
2. Set up each engine (build the model; numba compiles or loads its cache here). An engine
   whose library is not installed is listed as skipped with the reason; one that raises is
   listed as failed.
3. Pin the thread count: ``--threads`` (default: all cores) for every BLAS and OpenMP
   pool via threadpoolctl, numba.set_num_threads, torch.set_num_threads and TensorFlow's
   intra-op pool; ``python -m benchmarks`` also sets OMP_NUM_THREADS and friends before
   anything is imported, and PJRT_NPROC, the only thread count JAX's XLA obeys (see
   ``benchmarks/__init__.py``).
4. Rounds: round r trains epoch r of every engine in turn (A B C A B C ...) and then runs
   one epoch of the GEMM floor, so the machine's drift falls on all of them alike. The
   first ``--warmup`` rounds are not timed.
5. Test accuracy of each engine; then, unless ``--no-memory``, each engine's peak memory
   in its own fresh process (``benchmarks.memory``), one after the other, after timing.
6. Print the table; write results.json, results.md and results.png into ``--out`` (a
   folder created and checked for writing before step 1, so a bad one costs no run).

``--batch-sizes 10,100,1000`` instead of ``--batch-size`` runs steps 1-5 at each batch
size in turn and writes one table and one chart across them (``sweep.py``).

Times are wall-clock seconds of ``run_epoch`` (time.perf_counter); CPU seconds of the
whole process over the same span are recorded too (cpu/wall > 1 means several threads
did work).
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from . import engines as engines_mod
from . import flops, report
from .report import non_negative, positive, positive_list

SIZES = [784, 256, 128, 64, 32, 10]
QUICK_TRAIN, QUICK_TEST = 1000, 200


def load_data(kind="fashion-mnist", quick=False, seed=0):
    """((x_train, y_train), (x_test, y_test)) as uint8 images (N, 28, 28) and labels.

    ``quick`` keeps the first 1000 training and 200 test samples. ``synthetic`` draws
    uniform random pixels and labels (no files needed; accuracy stays near chance).
    """
    if kind == "synthetic":
        n_train, n_test = (QUICK_TRAIN, QUICK_TEST) if quick else (60000, 10000)
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, (n_train + n_test, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n_train + n_test).astype(np.uint8)
        return ((images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:]))
    from backprop.app.data import load_fashion_mnist
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    if quick:
        return ((x_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]),
                (x_test[:QUICK_TEST], y_test[:QUICK_TEST]))
    return (x_train, y_train), (x_test, y_test)


def engine_list(text):
    """argparse type: a comma-separated list of known engine names."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in engines_mod.ENGINES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown engine {', '.join(unknown) or '(none given)'}; expected a comma list "
            f"of: {', '.join(engines_mod.ENGINES)}")
    return names


def parser():
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Train the 784-256-128-64-32-10 ReLU MLP on every available engine, "
                    "epochs interleaved, and compare seconds per epoch with the GEMM floor.")
    p.add_argument("--epochs", type=positive, default=None,
                   help="timed epochs per engine (default 3; 1 with --quick)")
    p.add_argument("--warmup", type=non_negative, default=1, help="untimed epochs first (default 1)")
    p.add_argument("--engines", type=engine_list, default=list(engines_mod.ENGINES),
                   help=f"comma list (default all): {','.join(engines_mod.ENGINES)}")
    p.add_argument("--threads", type=positive, default=os.cpu_count(),
                   help="threads for every engine (default: all cores, %(default)s here)")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--batch-size", type=positive, default=100, help="default 100")
    batch.add_argument("--batch-sizes", type=positive_list, default=None, metavar="B1,B2,...",
                       help="a sweep instead: the whole run at each batch size in turn "
                            "(ascending), written as sweep.json, sweep.md and sweep.png "
                            "(see sweep.py)")
    p.add_argument("--out", default="bench-results",
                   help="output folder (default bench-results/), created and checked before "
                        "the run")
    p.add_argument("--quick", action="store_true",
                   help=f"a tiny run for tests: {QUICK_TRAIN} training and {QUICK_TEST} test "
                        f"samples, 1 timed epoch")
    p.add_argument("--data", choices=("fashion-mnist", "synthetic"), default="fashion-mnist",
                   help="real Fashion-MNIST (default) or random uint8 images")
    p.add_argument("--seed", type=non_negative, default=0, help="weights and batch order (default 0)")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the peak-memory pass (one subprocess per engine)")
    return p


def _stats(times, n_samples, floor_median=None):
    median = statistics.median(times)
    out = {"times_s": times, "median_s": median, "min_s": min(times), "max_s": max(times),
           "samples_per_s": n_samples / median}
    if floor_median:
        out["x_floor"] = median / floor_median
    return out


def measure_memory(names, args):
    """Peak RSS (MiB) of a fresh process per engine, and of the data-only baseline."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    peaks = {}
    for name in ["baseline", *names]:
        command = [sys.executable, "-m", "benchmarks.memory", name, "--threads",
                   str(args.threads), "--batch-size", str(args.batch_size), "--data", args.data,
                   "--seed", str(args.seed)] + (["--quick"] if args.quick else [])
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        try:
            peaks[name] = json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mib"]
        except (IndexError, ValueError, KeyError):
            print(f"memory pass of {name} failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
            peaks[name] = None
    return peaks


@contextlib.contextmanager
def pin_threads(threads):
    """Pin every loaded thread pool to ``threads`` for the block: BLAS and OpenMP through
    threadpoolctl, numba and torch through their own calls; restored afterwards."""
    from threadpoolctl import threadpool_limits
    numba, torch = sys.modules.get("numba"), sys.modules.get("torch")
    before = (numba.get_num_threads() if numba else None, torch.get_num_threads() if torch else None)
    with threadpool_limits(limits=threads):
        if numba:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        if torch:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if numba:
                numba.set_num_threads(before[0])
            if torch:
                torch.set_num_threads(before[1])


def _log(*parts):
    print(*parts, flush=True)  # progress shows at once, also when stdout is a file


def run(args, log=_log):
    """Run the benchmark described by parsed ``args``; returns the result dict."""
    epochs = args.epochs or (1 if args.quick else 3)
    machine = report.machine()  # load average at the start
    data = load_data(args.data, args.quick, args.seed)
    (x_train, _), (x_test, _) = data
    n_train, n_test = len(x_train), len(x_test)
    sizes = [int(np.prod(x_train.shape[1:])), *SIZES[1:]]
    results, active = {}, []
    for name in args.engines:
        engine = engines_mod.make(name, sizes, args.batch_size, args.seed, args.threads)
        entry = results[name] = {"name": name, "description": engine.description}
        reason = engine.missing()
        if reason:
            entry.update(status="skipped", reason=reason)
            log(f"{name}: skipped, {reason}")
            continue
        started = time.perf_counter()
        try:
            engine.setup(data)
        except Exception as error:  # an installed engine that cannot run is reported, not fatal
            entry.update(status="failed", reason=f"{type(error).__name__}: {error}")
            log(f"{name}: failed in setup, {entry['reason']}")
            continue
        entry.update(status="ok", setup_s=time.perf_counter() - started)
        active.append(engine)

    floor = flops.GemmFloor(sizes, n_train, args.batch_size, seed=args.seed)
    times = {e.name: [] for e in [*active, floor]}
    cpu = {e.name: [] for e in [*active, floor]}
    with pin_threads(args.threads), report.OtherLoad() as others:
        floor.setup()
        pools = report.blas()  # as pinned
        for r in range(args.warmup + epochs):
            timed = r >= args.warmup
            line = []
            for engine in [*active, floor]:
                if engine is not floor and results[engine.name]["status"] != "ok":
                    continue
                wall0, cpu0 = time.perf_counter(), time.process_time()
                try:
                    engine.run_epoch()
                except Exception as error:
                    results[engine.name].update(status="failed",
                                                reason=f"{type(error).__name__}: {error}")
                    log(f"{engine.name}: failed, {results[engine.name]['reason']}")
                    continue
                wall, used = time.perf_counter() - wall0, time.process_time() - cpu0
                if timed:
                    times[engine.name].append(wall)
                    cpu[engine.name].append(used)
                line.append(f"{engine.name} {wall:.2f}s")
            log(f"{'epoch' if timed else 'warm-up'} {r + 1 - (args.warmup if timed else 0)}: "
                + ", ".join(line))
        active = [e for e in active if results[e.name]["status"] == "ok"]
        for engine in active:
            results[engine.name].update(test_accuracy=engine.accuracy(), threads=engine.threads(),
                                        versions=engine.versions())
        floor_threads = engines_mod.blas_threads()  # as pinned

    floor_stats = _stats(times[floor.name], n_train)
    floor_stats.update(name=floor.name, threads=floor_threads, cpu_s=cpu[floor.name],
                       gflop=floor.flops / 1e9,
                       gflops_per_s=floor.flops / 1e9 / floor_stats["median_s"])
    for engine in active:
        results[engine.name].update(_stats(times[engine.name], n_train, floor_stats["median_s"]),
                                    cpu_s=cpu[engine.name])
    fastest = min((results[e.name]["median_s"] for e in active), default=floor_stats["median_s"])
    for engine in active:
        results[engine.name]["x_fastest"] = results[engine.name]["median_s"] / fastest
    floor_stats["x_fastest"] = floor_stats["median_s"] / fastest

    memory_baseline = None
    if not args.no_memory and active:
        log("peak memory: one fresh process per engine ...")
        peaks = measure_memory([e.name for e in active], args)
        memory_baseline = peaks.pop("baseline")
        for name, peak in peaks.items():
            results[name]["peak_rss_mib"] = peak

    versions = {"numpy": np.__version__, "python": sys.version.split()[0]}
    for engine in active:
        versions.update(results[engine.name]["versions"])
    return {
        "settings": {"sizes": sizes, "sizes_text": "-".join(map(str, sizes)),
                     "batch_size": args.batch_size, "epochs": epochs, "warmup": args.warmup,
                     "threads": args.threads, "dtype": "float32", "seed": args.seed,
                     "data": args.data + (" (quick subset)" if args.quick else ""),
                     "n_train": n_train, "n_test": n_test, "engines": args.engines,
                     "epoch_flops": flops.epoch_flops(sizes, n_train, args.batch_size)},
        "machine": {**machine, "load_average_end": report.machine()["load_average"],
                    "other_cpu_cores": others.cores},
        "blas": pools, "versions": versions,
        "engines": list(results.values()), "gemm_floor": floor_stats,
        "memory_baseline_mib": memory_baseline,
        "notes": {
            "peak_rss_mib": "peak RSS (VmHWM) of a fresh process that imports the engine, "
                            "loads the data, sets up and trains one epoch (whole process, "
                            "nothing subtracted); memory_baseline_mib is the same for a "
                            "process that only imports NumPy and loads the data",
            "x_floor": "median seconds per epoch / median seconds of the same epoch's GEMMs "
                       "alone (GemmFloor)",
            "test_accuracy": "after all warm-up and timed epochs"},
    }


def write(result, out):
    """results.json, results.md and results.png in ``out``; returns their paths."""
    return report.write_files(out, "results", result, report.markdown(result),
                              report.write_chart)


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    try:  # a bad --out fails now, not after the run
        report.output_folder(args.out)
    except OSError as error:
        p.error(f"argument --out: {error}")
    if args.batch_sizes:
        from . import sweep
        return sweep.main(args, p.prog, run, _log)
    result = run(args)
    return report.publish(p.prog, report.summary(result), report.table(result),
                          lambda: write(result, args.out), args.out, "the results")
