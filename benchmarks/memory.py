"""Peak memory of one engine, measured alone in a fresh process.

    python -m benchmarks.memory ENGINE [--threads N] [--batch-size B] [--data ...] [--quick]
    python -m benchmarks.memory baseline

The process imports the engine's library, loads the data (uint8, as the runner does),
sets the engine up and trains one epoch, then prints one JSON line with its peak
resident set size: the whole process's high-water mark with nothing subtracted: the
interpreter, the libraries (torch and TensorFlow are large), the data set (47 MB of
training images as uint8), the model, its buffers and whatever the engine copies.
``baseline`` does only ``import numpy`` and loads the data: the floor every engine's
number sits on.

The peak is VmHWM from /proc/self/status, not ``getrusage(RUSAGE_SELF).ru_maxrss``:
Linux carries ru_maxrss across fork and exec, so a child started by a 1 GB parent (the
runner, with torch and TensorFlow loaded) reports at least 1 GB whatever it does.
VmHWM belongs to the process's own address space and starts afresh at exec. Where
/proc is absent (macOS), ru_maxrss is used and the result says so.

Engines share one process in the runner, so their peaks cannot be told apart there;
hence one process each, run one after the other after the timing rounds. The JSON line
also says whether numba was loaded: a backprop engine's backend is made the process's
before setup, so the numpy engine's number never includes numba's.

Measured on a 2-core AMD EPYC virtual machine, 2026-12-01, three runs each, interleaved:
baseline 93 MiB, backprop-numba 227, pytorch 366 (backprop 0.62x PyTorch); in single
runs backprop-numpy 106 and naive-numpy 452. Where backprop-numba's 227 MiB go, read
from VmRSS step by step: the interpreter and NumPy 27, ``import numba`` +64 (llvmlite's
LLVM library alone +39), numba's CPU target set up at the first call of a kernel +65
(scipy.linalg, imported by numba.np.arraymath, ~17 of it), jit.py and its kernels from
numba's cache +5, the data +54, the model, its gradients and Adam's m and v (244,522
float32 each) with the layers' buffers ~7, the evaluation ~3.
"""
import argparse
import json
import os
import resource
import sys

from . import pin_thread_env
from .report import non_negative, positive  # report imports nothing heavy


def peak_rss_mib():
    """(peak resident set size of this process in MiB, where the number comes from)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024, "VmHWM"  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return (peak / 1024 ** 2 if sys.platform == "darwin" else peak / 1024), "ru_maxrss"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                description="Peak RSS of one engine training one epoch.")
    p.add_argument("engine", help="an engine name, or 'baseline' (numpy + data only)")
    p.add_argument("--threads", type=positive, default=os.cpu_count())
    p.add_argument("--batch-size", type=positive, default=100)
    p.add_argument("--data", choices=("fashion-mnist", "synthetic"), default="fashion-mnist")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=non_negative, default=0)
    args = p.parse_args(argv)
    pin_thread_env(args.threads)

    from . import engines, run  # numpy and friends load only now
    if args.engine != "baseline" and args.engine not in engines.ENGINES:
        p.error(f"argument engine: unknown engine {args.engine!r}; expected baseline or one "
                f"of: {', '.join(engines.ENGINES)}")
    data = run.load_data(args.data, args.quick, args.seed)
    result = {"engine": args.engine, "data_loaded_peak_rss_mib": peak_rss_mib()[0]}
    if args.engine != "baseline":
        sizes = [int(data[0][0][0].size), *run.SIZES[1:]]
        engine = engines.make(args.engine, sizes, args.batch_size, args.seed, args.threads)
        reason = engine.missing()
        if reason:
            p.error(f"{args.engine}: {reason}")
        if isinstance(engine, engines.Backprop):
            # this process runs one engine: make its backend the package's, so that
            # use_backend, restoring the backend before it, does not load the default
            # one (numba) and put numba's memory into the numpy engine's peak
            from backprop.core import kernels
            kernels.set_backend(engine.backend)
        engine.setup(data)
        with run.pin_threads(args.threads):
            engine.run_epoch()
    result["peak_rss_mib"], result["source"] = peak_rss_mib()
    result["numba_loaded"] = "numba" in sys.modules  # numba alone is ~130 MiB of it
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
