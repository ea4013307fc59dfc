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
jobs (slow epochs such as 2 and 5 are their load; the medians stand clear of it)::

    warm-up 1: backprop-numba 0.56s, backprop-numpy 1.16s, naive-numpy 0.96s, pytorch 1.43s, tensorflow 2.33s, sklearn 1.37s, GEMM floor 0.39s
    epoch 1: backprop-numba 0.58s, backprop-numpy 1.10s, naive-numpy 0.98s, pytorch 1.23s, tensorflow 1.37s, sklearn 1.63s, GEMM floor 0.53s
    epoch 2: backprop-numba 1.34s, backprop-numpy 1.50s, naive-numpy 1.45s, pytorch 1.77s, tensorflow 1.58s, sklearn 1.33s, GEMM floor 0.39s
    epoch 3: backprop-numba 0.56s, backprop-numpy 1.05s, naive-numpy 0.99s, pytorch 1.30s, tensorflow 1.41s, sklearn 1.49s, GEMM floor 0.39s
    epoch 4: backprop-numba 0.56s, backprop-numpy 1.06s, naive-numpy 0.98s, pytorch 1.18s, tensorflow 1.40s, sklearn 1.36s, GEMM floor 0.39s
    epoch 5: backprop-numba 0.91s, backprop-numpy 1.64s, naive-numpy 1.53s, pytorch 1.87s, tensorflow 2.19s, sklearn 1.98s, GEMM floor 0.43s
    peak memory: one fresh process per engine ...

    784-256-128-64-32-10 ReLU MLP, softmax cross-entropy, Adam 1e-3, batch 100, float32; 60000 training / 10000 test samples (fashion-mnist).
    5 timed epochs after 1 warm-up, engines interleaved epoch by epoch; test accuracy after all 6 epochs.
    Machine: AMD EPYC, 2 cores, load average [0.73, 0.73, 0.81] at the start; threads pinned to 2; BLAS: openblas 0.3.30 SkylakeX from scipy.libs (threads: 2), openblas 0.3.31.188.0 SkylakeX from numpy.libs (threads: 2).
    GEMM floor: 63.77 GFLOP of matrix products per epoch, timed alone through NumPy's BLAS (162.2 GFLOP/s at its median).
    Peak RSS: whole-process peak (VmHWM) of a fresh process that loads the data and trains that engine for one epoch; a process that only imports NumPy and loads the data peaks at 93 MiB.

    | engine         | threads | s/epoch median (min-max) | samples/s | test acc | peak RSS MiB | x fastest | x GEMM floor |
    |----------------|--------:|--------------------------|----------:|---------:|-------------:|----------:|-------------:|
    | backprop-numba |       2 | 0.576 (0.555-1.341)      |   104,196 |   0.8664 |          227 |      1.00 |         1.46 |
    | backprop-numpy |       2 | 1.104 (1.045-1.641)      |    54,344 |   0.8740 |          165 |      1.92 |         2.81 |
    | naive-numpy    |       2 | 0.987 (0.977-1.531)      |    60,768 |   0.8653 |          451 |      1.71 |         2.51 |
    | pytorch        |       2 | 1.296 (1.184-1.871)      |    46,294 |   0.8655 |          368 |      2.25 |         3.30 |
    | tensorflow     |       2 | 1.409 (1.371-2.191)      |    42,584 |   0.8708 |          768 |      2.45 |         3.58 |
    | sklearn        |       2 | 1.489 (1.326-1.976)      |    40,299 |   0.8682 |          534 |      2.59 |         3.79 |
    | (GEMM floor)   |       2 | 0.393 (0.389-0.528)      |   152,640 |        - |            - |      0.68 |         1.00 |


then the paths of results.json, results.md and results.png.
"""
import sys

from . import pin_thread_env


def _threads(argv):
    """The --threads value, read before anything heavy is imported (default: all cores)."""
    import argparse
    import os
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    known, _ = p.parse_known_args(argv)
    return max(1, known.threads or 1)


if __name__ == "__main__":
    pin_thread_env(_threads(sys.argv[1:]))  # before NumPy, numba, torch or TF load
    from .run import main
    sys.exit(main())
