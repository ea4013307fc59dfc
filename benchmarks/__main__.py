"""Benchmark backprop against a naive NumPy loop, PyTorch, TensorFlow and scikit-learn.

    python -m benchmarks                      all engines, 1 warm-up + 3 timed epochs
    python -m benchmarks --engines backprop-numba,pytorch --threads 1
    python -m benchmarks --quick --data synthetic --no-memory     a few seconds

Each engine trains the tutorial's 784-256-128-64-32-10 ReLU network on Fashion-MNIST
(softmax cross-entropy, Adam 1e-3, batch 100, float32); epochs are interleaved across
engines, so the machine's drift falls on all of them alike. See ``run.py`` for the
procedure, ``flops.py`` for the GEMM floor and ``memory.py`` for what peak RSS means.
Results go to bench-results/ (results.json, results.md, results.png).

Sample output
-------------
``python -m benchmarks --epochs 5`` on a 2-core AMD EPYC virtual machine shared with other
jobs (slow epochs such as 3 are their load; the medians stand clear of it)::

    warm-up 1: backprop-numba 0.60s, backprop-numba-jit 0.60s, backprop-numpy 1.33s, naive-numpy 1.07s, pytorch 1.38s, tensorflow 2.25s, sklearn 1.75s, GEMM floor 0.42s
    epoch 1: backprop-numba 0.58s, backprop-numba-jit 0.61s, backprop-numpy 1.42s, naive-numpy 1.15s, pytorch 1.23s, tensorflow 1.54s, sklearn 1.48s, GEMM floor 0.41s
    epoch 2: backprop-numba 0.60s, backprop-numba-jit 0.56s, backprop-numpy 1.14s, naive-numpy 1.07s, pytorch 1.37s, tensorflow 1.67s, sklearn 1.81s, GEMM floor 0.40s
    epoch 3: backprop-numba 0.59s, backprop-numba-jit 0.78s, backprop-numpy 1.74s, naive-numpy 1.77s, pytorch 1.99s, tensorflow 1.72s, sklearn 1.43s, GEMM floor 0.39s
    epoch 4: backprop-numba 0.59s, backprop-numba-jit 0.68s, backprop-numpy 1.21s, naive-numpy 1.06s, pytorch 1.27s, tensorflow 2.07s, sklearn 1.64s, GEMM floor 0.39s
    epoch 5: backprop-numba 0.56s, backprop-numba-jit 0.57s, backprop-numpy 1.15s, naive-numpy 1.08s, pytorch 1.24s, tensorflow 1.72s, sklearn 1.60s, GEMM floor 0.40s
    peak memory: one fresh process per engine ...

    784-256-128-64-32-10 ReLU MLP, softmax cross-entropy, Adam 1e-3, batch 100, float32; 60000 training / 10000 test samples (fashion-mnist).
    5 timed epochs after 1 warm-up, engines interleaved epoch by epoch; test accuracy after all 6 epochs.
    Machine: AMD EPYC, 2 cores, load average [1.04, 0.96, 0.96] at the start; threads pinned to 2; BLAS: openblas 0.3.30 SkylakeX from scipy.libs (threads: 2), openblas 0.3.31.188.0 SkylakeX from numpy.libs (threads: 2).
    GEMM floor: 63.77 GFLOP of matrix products per epoch, timed alone through NumPy's BLAS (158.7 GFLOP/s at its median).
    Peak RSS: whole-process peak (VmHWM) of a fresh process that loads the data and trains that engine for one epoch; a process that only imports NumPy and loads the data peaks at 93 MiB.

    | engine             | threads | s/epoch median (min-max) | samples/s | test acc | peak RSS MiB | x fastest | x GEMM floor |
    |--------------------|--------:|--------------------------|----------:|---------:|-------------:|----------:|-------------:|
    | backprop-numba     |       2 | 0.587 (0.564-0.597)      |   102,250 |   0.8664 |          106 |      1.00 |         1.46 |
    | backprop-numba-jit |       2 | 0.614 (0.561-0.783)      |    97,686 |   0.8664 |          228 |      1.05 |         1.53 |
    | backprop-numpy     |       2 | 1.206 (1.137-1.741)      |    49,750 |   0.8740 |          106 |      2.06 |         3.00 |
    | naive-numpy        |       2 | 1.077 (1.055-1.769)      |    55,723 |   0.8653 |          452 |      1.83 |         2.68 |
    | pytorch            |       2 | 1.266 (1.231-1.989)      |    47,397 |   0.8655 |          367 |      2.16 |         3.15 |
    | tensorflow         |       2 | 1.717 (1.544-2.073)      |    34,950 |   0.8625 |          768 |      2.93 |         4.27 |
    | sklearn            |       2 | 1.595 (1.425-1.815)      |    37,617 |   0.8682 |          533 |      2.72 |         3.97 |
    | (GEMM floor)       |       2 | 0.402 (0.389-0.411)      |   149,278 |        - |            - |      0.68 |         1.00 |


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
