"""Benchmarks: how fast backprop trains the reference network, measured honestly.

    python -m benchmarks                 every engine, interleaved epochs, a table
    python -m benchmarks.kernels         each numba kernel against its NumPy twin
    python -m benchmarks.memory ENGINE   one engine's peak memory, in a fresh process
    python -m benchmarks.profile_step    an epoch of the reference run split into its phases
    python -m benchmarks.startup         seconds from process start to the first step
    python -m benchmarks.crosscore       kernels right after a product on 1 or 2 BLAS threads

Run them from the repository's folder: the package is not installed with backprop.

Modules:

    run.py       the runner: arguments, interleaved timing, the GEMM floor, the table
    engines.py   one object per engine (setup / run_epoch / accuracy), skipped if missing
    naive.py     the baseline: a straightforward NumPy MLP with hand-written Adam
    flops.py     the exact GEMM FLOPs of a training epoch and the timed GEMM floor
    memory.py    peak resident memory of one engine, one epoch, in its own process
    report.py    machine, versions and BLAS description; JSON, Markdown and PNG output;
                 the argument checks and the --out check the entry points share
    kernels.py   kernel micro-benchmarks at the reference shapes
    profile_step.py  the training step's phases beside the GEMM floor
    startup.py   warm start of `backprop train`, in fresh processes
    crosscore.py how much slower a kernel runs right after a two-thread product

This package imports nothing heavy at import time, so ``python -m benchmarks`` can pin the
thread counts (OMP_NUM_THREADS and friends) before NumPy, numba or torch load.
"""
import os

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS",
              "TF_NUM_INTRAOP_THREADS")


def pin_thread_env(threads):
    """Set every thread-count variable the engines' libraries read at load time to
    ``threads`` (call before they are imported; the runner also pins at run time)."""
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow: warnings and errors only
