"""Where an epoch of the reference run goes: the training step split into its phases.

    python -m benchmarks.profile_step [--epochs 3] [--threads N] [--samples 60000]
                                      [--batch-size 100]

Times, per epoch of the tutorial's network (784-256-128-64-32-10 ReLU, softmax
cross-entropy, Adam, batch 100, float32, numba kernels), the phases of a training step
as ``backprop.core.loop.train_step`` runs them: gathering the batch (``Batches``),
``model.forward``, ``loss.forward``, ``model.backward`` and ``optimizer.step``, each
with ``time.perf_counter`` around the real call. An epoch of the GEMM floor
(``flops.GemmFloor``: the same matrix products alone) runs after each epoch, so the table can say how much of the
forward and backward passes is matrix products and how much is everything else. Medians
over the epochs after one warm-up; ``--samples N`` makes each epoch the first N training
images only (a quick check of the procedure, not a measurement of the reference run).
Sample output (``--epochs 4``, 2-core AMD EPYC virtual machine, 2 threads,
2026-11-27)::

    | phase            | s/epoch | us/step | share |
    |------------------|--------:|--------:|------:|
    | batch gather     |   0.026 |      43 |    5% |
    | forward          |   0.202 |     336 |   36% |
    | loss             |   0.010 |      17 |    2% |
    | backward         |   0.243 |     405 |   43% |
    | optimizer (Adam) |   0.080 |     134 |   14% |
    | whole epoch      |   0.562 |     936 |  100% |
    | GEMM floor       |   0.388 |     647 |   69% |

The GEMMs are ~650 us of the ~740 us of forward and backward; the rest of a step is the
Adam pass over 244,522 weights (memory-bound: its 6.8 MB of traffic alone takes ~100 us
here, ~70-90 us when its arrays stay in cache), the gather of 100 random rows of the
uint8 images (~9 us in cache, ~45 us from memory), the loss, and the kernel calls and
Python between the GEMMs.
"""
import argparse
import statistics
import time

import numpy as np

PHASES = ["batch gather", "forward", "loss", "backward", "optimizer (Adam)"]
BATCH = 100


def profile(epochs=3, threads=None, seed=0, samples=None, batch_size=BATCH):
    """Per-phase seconds of each timed epoch, and the floor's; returns (phases, floor).

    The step is split as ``train_step`` runs it (``PHASES``). An epoch is a pass over the first ``samples`` training images
    (default: all 60000, 600 steps of 100); a few hundred make a quick check of the
    procedure. The floor's epoch has the same number of samples; ``steps_per_epoch``
    gives the steps.
    """
    import backprop
    from backprop.core import kernels
    from backprop.app import training_run as train

    from .flops import GemmFloor
    kernels.set_threads(threads)
    (x_train, y_train), _ = backprop.data.load_fashion_mnist()
    if samples is not None:
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        x_train, y_train = x_train[:samples], y_train[:samples]
    model, loss, optimizer = train.build(train.TrainConfig(seed=seed, batch_size=batch_size))
    batches = backprop.data.Batches(x_train, y_train, batch_size, seed=seed)
    floor = GemmFloor([784, 256, 128, 64, 32, 10], len(x_train), batch_size, seed=seed)
    floor.setup()
    names = PHASES
    clock = time.perf_counter
    per_epoch, floor_times = [], []
    for epoch in range(epochs + 1):  # epoch 0: warm-up
        spent = dict.fromkeys(names, 0.0)
        start = clock()
        iterator = iter(batches)
        while True:
            t0 = clock()
            try:
                x, y = next(iterator)
            except StopIteration:
                break
            t1 = clock()
            out = model.forward(x)
            t2 = clock()
            E = loss.forward(out, y)
            t3 = clock()
            model.backward(loss)
            t4 = clock()
            optimizer.step(model.grads)
            t5 = clock()
            times = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
            for phase, seconds in zip(names, times):
                spent[phase] += seconds
        spent["whole epoch"] = clock() - start
        if not np.isfinite(E):
            raise RuntimeError("the profiled run diverged")
        t0 = clock()
        floor.run_epoch()
        if epoch:
            per_epoch.append(spent)
            floor_times.append(clock() - t0)
    phases = {name: statistics.median(e[name] for e in per_epoch)
              for name in names + ["whole epoch"]}
    return phases, statistics.median(floor_times)


def steps_per_epoch(samples=None, n_train=60000, batch_size=BATCH):
    """Training steps of ``batch_size`` per epoch over ``samples`` images (default: all)."""
    n = n_train if samples is None else min(samples, n_train)
    return -(-n // batch_size)


def table(phases, floor, steps=600):
    whole = phases["whole epoch"]
    rows = ["| phase            | s/epoch | us/step | share |",
            "|------------------|--------:|--------:|------:|"]
    for name, seconds in [*phases.items(), ("GEMM floor", floor)]:
        rows.append(f"| {name:<16} | {seconds:7.3f} | {seconds / steps * 1e6:7.0f} | "
                    f"{seconds / whole:5.0%} |")
    return "\n".join(rows)


def main(argv=None):
    from .report import positive
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_step",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=positive, default=3, help="timed epochs (default 3)")
    parser.add_argument("--threads", type=positive, default=None,
                        help="BLAS threads (default: $BACKPROP_THREADS, else $OMP_NUM_THREADS, "
                             "else all cores)")
    parser.add_argument("--samples", type=positive, default=None,
                        help="training images per epoch (default: all 60000); fewer make a "
                             "quick check, not a measurement")
    parser.add_argument("--batch-size", type=positive, default=BATCH,
                        help=f"samples per step (default {BATCH})")
    args = parser.parse_args(argv)
    from backprop.core import kernels
    try:  # without --threads, $BACKPROP_THREADS or $OMP_NUM_THREADS, which may be anything
        threads = kernels.set_threads(args.threads)
    except ValueError as error:
        parser.error(f"{error} (from $BACKPROP_THREADS or $OMP_NUM_THREADS; --threads N "
                     f"overrides them)")
    phases, floor = profile(args.epochs, threads, samples=args.samples,
                            batch_size=args.batch_size)
    print(table(phases, floor, steps_per_epoch(args.samples, batch_size=args.batch_size)))
    return phases, floor


if __name__ == "__main__":
    main()
