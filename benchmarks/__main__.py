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
``python -m benchmarks --epochs 3`` on a 2-core AMD EPYC virtual machine shared with other
jobs (the single slow epochs, such as 46.9 s for sklearn and 8.8 s for the floor in epoch
2, are their load; the medians stand clear of it)::

    warm-up 1: backprop-numba 4.11s, backprop-numpy 1.09s, naive-numpy 5.08s, pytorch 4.38s, tensorflow 2.34s, sklearn 1.38s, GEMM floor 0.40s
    epoch 1: backprop-numba 0.69s, backprop-numpy 0.97s, naive-numpy 1.00s, pytorch 1.13s, tensorflow 1.69s, sklearn 1.28s, GEMM floor 0.40s
    epoch 2: backprop-numba 0.71s, backprop-numpy 0.97s, naive-numpy 1.01s, pytorch 1.18s, tensorflow 1.97s, sklearn 46.87s, GEMM floor 8.79s
    epoch 3: backprop-numba 4.99s, backprop-numpy 1.74s, naive-numpy 1.67s, pytorch 1.79s, tensorflow 1.56s, sklearn 1.56s, GEMM floor 0.42s
    peak memory: one fresh process per engine ...

    784-256-128-64-32-10 ReLU MLP, softmax cross-entropy, Adam 1e-3, batch 100, float32; 60000 training / 10000 test samples (fashion-mnist).
    3 timed epochs after 1 warm-up, engines interleaved epoch by epoch; test accuracy after all 4 epochs.
    Machine: AMD EPYC, 2 cores, load average [0.95, 1.9, 1.43] at the start; threads pinned to 2; BLAS: openblas 0.3.31.188.0 SkylakeX from numpy.libs (threads: 2), openblas 0.3.30 SkylakeX from scipy.libs (threads: 2).
    GEMM floor: 63.77 GFLOP of matrix products per epoch, timed alone through NumPy's BLAS (153.6 GFLOP/s at its median).
    Peak RSS: whole-process peak (VmHWM) of a fresh process that loads the data and trains that engine for one epoch; a process that only imports NumPy and loads the data peaks at 94 MiB.

    | engine         | threads | s/epoch median (min-max) | samples/s | test acc | peak RSS MiB | x fastest | x GEMM floor |
    |----------------|--------:|--------------------------|----------:|---------:|-------------:|----------:|-------------:|
    | backprop-numba |       2 | 0.709 (0.688-4.986)      |    84,640 |   0.8529 |          227 |      1.00 |         1.71 |
    | backprop-numpy |       2 | 0.974 (0.968-1.736)      |    61,585 |   0.8654 |          165 |      1.37 |         2.35 |
    | naive-numpy    |       2 | 1.006 (1.001-1.667)      |    59,642 |   0.8565 |          452 |      1.42 |         2.42 |
    | pytorch        |       2 | 1.182 (1.132-1.791)      |    50,756 |   0.8627 |          368 |      1.67 |         2.85 |
    | tensorflow     |       2 | 1.687 (1.556-1.966)      |    35,557 |   0.8697 |          768 |      2.38 |         4.06 |
    | sklearn        |       2 | 1.558 (1.279-46.866)     |    38,499 |   0.8590 |          533 |      2.20 |         3.75 |
    | (GEMM floor)   |       2 | 0.415 (0.400-8.793)      |   144,481 |        - |            - |      0.59 |         1.00 |

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
