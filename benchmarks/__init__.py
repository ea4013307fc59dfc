"""Benchmarks: how fast backprop trains the reference network, measured honestly.

    python -m benchmarks                 every engine, interleaved epochs, a table
    python -m benchmarks --batch-sizes 10,100,1000,4096
                                         the same at each batch size: one table, one chart
    python -m benchmarks.kernels         each numba kernel against its NumPy twin
    python -m benchmarks.memory ENGINE   one engine's peak memory, in a fresh process
    python -m benchmarks.profile_step    an epoch of the reference run split into its phases
    python -m benchmarks.startup         seconds from process start to the first step
    python -m benchmarks.crosscore       kernels right after a product on 1 or 2 BLAS threads

Run them from the repository's folder: the package is not installed with backprop.

Modules:

    run.py       the runner: arguments, interleaved timing, the GEMM floor, the table
    sweep.py     the batch-size sweep: the runner at each size, its table and its chart
    engines.py   one object per engine (setup / run_epoch / accuracy), skipped if missing
    jax_step.py  the JAX engine's maths: He-normal init, the one jitted step, the forward
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
thread counts (OMP_NUM_THREADS and friends, PJRT_NPROC for JAX) before NumPy, numba, torch
or JAX load.
"""
import os

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS",
              "TF_NUM_INTRAOP_THREADS", "PJRT_NPROC")

# JAX has no call that sets its threads at run time: XLA sizes its CPU pool once, when
# the client is created, from PJRT_NPROC (then NPROC, then the cores the process may
# use; DefaultThreadPoolSize in xla/pjrt/utils.cc), so PJRT_NPROC is what pins JAX's
# threads (how that was checked: docs/performance.md). XLA's CPU runtime (jaxlib 0.10.2)
# runs dots on that pool whatever XLA_FLAGS says; "--xla_cpu_multi_thread_eigen=false" is
# added for one thread because older XLA CPU runtimes called a single-threaded Eigen
# matmul with it. The "intra_op_parallelism_threads=1" often given beside it is not an
# XLA flag (a TensorFlow session option): after a --flag XLA ignores it, and as the first
# word XLA takes it for a flag file's name and aborts.
SINGLE_THREAD_XLA_FLAG = "--xla_cpu_multi_thread_eigen=false"


def pin_thread_env(threads):
    """Set every thread-count variable the engines' libraries read at load time to
    ``threads`` (call before they are imported; the runner also pins at run time, but
    JAX only here: PJRT_NPROC, and XLA_FLAGS for one thread)."""
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and SINGLE_THREAD_XLA_FLAG not in flags.split():
        os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_XLA_FLAG}".strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow: warnings and errors only
