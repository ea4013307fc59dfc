"""Benchmark backprop against a naive NumPy loop, PyTorch, JAX, TensorFlow and scikit-learn.

    python -m benchmarks                      all engines, 1 warm-up + 3 timed epochs
    python -m benchmarks --engines backprop-numba,pytorch --threads 1
    python -m benchmarks --quick --data synthetic --no-memory     a few seconds
    python -m benchmarks --batch-sizes 10,100,1000,4096           the sweep (sweep.py)

Each engine trains the tutorial's 784-256-128-64-32-10 ReLU network on Fashion-MNIST
(softmax cross-entropy, Adam 1e-3, batch 100, float32); epochs are interleaved across
engines, so the machine's drift falls on all of them alike. See ``run.py`` for the
procedure, ``flops.py`` for the GEMM floor and ``memory.py`` for what peak RSS means.
Results go to bench-results/ (results.json, results.md, results.png; a sweep writes
sweep.json, sweep.md, sweep.png instead).

Sample output
-------------
``python -m benchmarks --epochs 5`` on a 2-core AMD EPYC virtual machine, otherwise idle,
2026-12-01 (TensorFlow and scikit-learn were not installed there, so they are listed as
skipped; recorded before the JAX engine was added, which a run now lists too)::

    tensorflow: skipped, tensorflow is not installed (pip install tensorflow-cpu)
    sklearn: skipped, sklearn is not installed (pip install scikit-learn)
    warm-up 1: backprop-numba 0.53s, backprop-numpy 1.02s, naive-numpy 0.91s, pytorch 1.13s, GEMM floor 0.39s
    epoch 1: backprop-numba 0.55s, backprop-numpy 1.03s, naive-numpy 0.93s, pytorch 1.09s, GEMM floor 0.40s
    epoch 2: backprop-numba 0.54s, backprop-numpy 1.05s, naive-numpy 0.96s, pytorch 1.11s, GEMM floor 0.41s
    epoch 3: backprop-numba 0.59s, backprop-numpy 1.11s, naive-numpy 0.96s, pytorch 1.13s, GEMM floor 0.41s
    epoch 4: backprop-numba 0.53s, backprop-numpy 1.03s, naive-numpy 0.93s, pytorch 1.10s, GEMM floor 0.41s
    epoch 5: backprop-numba 0.53s, backprop-numpy 1.02s, naive-numpy 0.93s, pytorch 1.12s, GEMM floor 0.39s
    peak memory: one fresh process per engine ...

    784-256-128-64-32-10 ReLU MLP, softmax cross-entropy, Adam 1e-3, batch 100, float32; 60000 training / 10000 test samples (fashion-mnist).
    5 timed epochs after 1 warm-up, engines interleaved epoch by epoch; test accuracy after all 6 epochs.
    Machine: AMD EPYC, 2 cores, load average [0.86, 1.72, 1.63] at the start; threads pinned to 2; BLAS: openblas 0.3.30 SkylakeX from scipy.libs (threads: 2), openblas 0.3.31.188.0 SkylakeX from numpy.libs (threads: 2).
    GEMM floor: 63.77 GFLOP of matrix products per epoch, timed alone through NumPy's BLAS (156.1 GFLOP/s at its median).
    Peak RSS: whole-process peak (VmHWM) of a fresh process that loads the data and trains that engine for one epoch; a process that only imports NumPy and loads the data peaks at 93 MiB.

    | engine         | threads | s/epoch median (min-max)                                          | samples/s | test acc | peak RSS MiB | x fastest | x GEMM floor |
    |----------------|--------:|-------------------------------------------------------------------|----------:|---------:|-------------:|----------:|-------------:|
    | backprop-numba |       2 | 0.542 (0.528-0.594)                                               |   110,690 |   0.8664 |          227 |      1.00 |         1.33 |
    | backprop-numpy |       2 | 1.031 (1.022-1.113)                                               |    58,204 |   0.8740 |          106 |      1.90 |         2.52 |
    | naive-numpy    |       2 | 0.929 (0.926-0.963)                                               |    64,551 |   0.8653 |          452 |      1.71 |         2.27 |
    | pytorch        |       2 | 1.112 (1.093-1.133)                                               |    53,957 |   0.8655 |          366 |      2.05 |         2.72 |
    | tensorflow     |       - | skipped: tensorflow is not installed (pip install tensorflow-cpu) |         - |        - |            - |         - |            - |
    | sklearn        |       - | skipped: sklearn is not installed (pip install scikit-learn)      |         - |        - |            - |         - |            - |
    | (GEMM floor)   |       2 | 0.409 (0.392-0.414)                                               |   146,850 |        - |            - |      0.75 |         1.00 |


then the paths of results.json, results.md and results.png.
"""
import sys

from . import pin_thread_env


class _Unparsable(Exception):
    pass


def threads_option(argv):
    """The --threads value, read before anything heavy is imported (default: all cores).

    Only a valid value (a whole number >= 1) is taken; anything else (missing, not a
    number, < 1) gives the default here, and the runner's own parser then reports it."""
    import argparse
    import os
    default = os.cpu_count() or 1
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--threads", default=None)

    def error(message):  # never print or exit here: run.py's parser has the right words
        raise _Unparsable(message)
    p.error = error
    try:
        text = p.parse_known_args(argv)[0].threads
        threads = default if text is None else int(text)
    except (_Unparsable, ValueError):
        return default
    return threads if threads >= 1 else default


if __name__ == "__main__":
    pin_thread_env(threads_option(sys.argv[1:]))  # before NumPy, numba, torch or TF load
    from .run import main
    sys.exit(main())
