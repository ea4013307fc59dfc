"""How much slower the step's kernels run right after a product BLAS ran on two threads.

    python -m benchmarks.crosscore [--blocks 7] [--calls 200]

The training step alternates matrix products (BLAS, on every thread) with serial kernels
(``backprop/core/kernels/_policy.py``). This times two kernels of the reference run's step
right after the product they follow, with BLAS on 1 and on 2 threads:

    z = x W1, then the layer's kernel      z += b;  O = max(z, 0)        (100, 256)
    dW1 = x^T delta, then Adam over W1     m, v, W1 <- Adam(dW1)         (784, 256)

Each pair is timed in two ways. "reads the product": the kernel reads the array the
product just wrote (half of it written by the other core when BLAS has two threads).
"reads its own data": the product writes a twin array, and the kernel reads a copy that
only the main thread has written. Only the kernel is timed, not the product. The
conditions take turns in blocks; each cell is the median over blocks of the median call.
Sample output (2-core AMD EPYC virtual machine, OpenBLAS, 2026-11-27)::

    | kernel after its product | BLAS threads | reads the product us | reads its own data us |
    |--------------------------|-------------:|---------------------:|----------------------:|
    | bias + ReLU (100, 256)   |            1 |                  4.1 |                   4.1 |
    | bias + ReLU (100, 256)   |            2 |                  8.4 |                   9.1 |
    | Adam over W1 (784, 256)  |            1 |                 70.6 |                  70.7 |
    | Adam over W1 (784, 256)  |            2 |                 71.8 |                  71.5 |

Across runs that day the ReLU kernel took 4-5 us after a one-thread product and 7-11 us
after a two-thread one (23-40 us while the machine was busy), and Adam 71-76 us against
72-105 us. Which array the kernel reads mattered in some runs and not in others, so the
cost is not only the transfer of the product's cache lines from the other core; this
benchmark shows the size of the effect, not its cause. In the training step, timers
around each call put the kernels that follow two-thread products at 6-16 us instead of
4-6 and Adam at 133 us instead of 112: about 50 us of a ~920 us step, one of the reasons
a step at two threads is further from the GEMM floor (1.4x) than at one (1.2x).
"""
import argparse
import statistics
import time

import numpy as np

CONDITIONS = [(threads, reads) for threads in (1, 2) for reads in ("product", "own")]


class Pair:
    """A product of the step and the kernel that follows it, on the step's shapes.

    ``product(out)`` writes its result into ``out``; ``kernel(a)`` reads ``a``. Three
    arrays of the product's shape: ``result`` (the product writes it and the kernel
    reads it), ``twin`` (the product writes it, nobody reads it) and ``own`` (a copy
    the main thread made once; only the kernel reads it).
    """

    def __init__(self, name, product, kernel, result):
        self.name, self.product, self.kernel = name, product, kernel
        self.result, self.twin = result, np.empty_like(result)
        product(result)
        self.own = result.copy()

    def time_kernel(self, reads, calls):
        """Median seconds of the kernel, each call right after a product."""
        written, read = ((self.result, self.result) if reads == "product"
                         else (self.twin, self.own))
        clock, times = time.perf_counter, []
        for _ in range(calls):
            self.product(written)
            start = clock()
            self.kernel(read)
            times.append(clock() - start)
        return statistics.median(times)


def pairs(seed=0):
    """The two pairs of the reference run: layer 1's forward and its weight update."""
    from backprop.core import kernels
    from backprop.core.optim import Adam
    k = kernels.backend()
    rng = np.random.default_rng(seed)
    x = rng.random((100, 784), dtype=np.float32)
    W1 = rng.standard_normal((784, 256), dtype=np.float32) * np.float32(0.05)
    delta = rng.standard_normal((100, 256), dtype=np.float32) * np.float32(1e-3)
    b = np.zeros(256, np.float32)
    O = np.empty((100, 256), np.float32)
    adam = Adam([W1])
    m, v = adam.state["m"][0].reshape(-1), adam.state["v"][0].reshape(-1)
    w = W1.reshape(-1)

    def forward(out):
        np.matmul(x, W1, out=out)                 # z = x W1

    def bias_relu(z):
        k.add_bias_relu(z, b, O)                  # z += b;  O = max(z, 0)

    def weights(out):
        np.matmul(x.T, delta, out=out)            # dE/dW1 = x^T delta

    def adam_step(dW1):
        adam.t = 1                                # the same constants every call
        k.adam_step(w, dW1.reshape(-1), m, v, adam.hyper(np.float32))

    return [Pair("bias + ReLU (100, 256)", forward, bias_relu, np.empty((100, 256), np.float32)),
            Pair("Adam over W1 (784, 256)", weights, adam_step, np.empty_like(W1))]


def measure(blocks=7, calls=200):
    """{(pair name, threads, reads): median over blocks of the median call, in us}."""
    from threadpoolctl import threadpool_limits
    step_pairs, found = pairs(), {}
    for block in range(blocks + 1):           # block 0: warm-up (BLAS threads up, pages touched)
        for pair in step_pairs:
            for threads, reads in CONDITIONS:
                with threadpool_limits(threads):
                    seconds = pair.time_kernel(reads, calls if block else 20)
                if block:
                    found.setdefault((pair.name, threads, reads), []).append(seconds * 1e6)
    return {key: statistics.median(values) for key, values in found.items()}


def table(results):
    rows = ["| kernel after its product | BLAS threads | reads the product us | reads its own data us |",
            "|--------------------------|-------------:|---------------------:|----------------------:|"]
    names = dict.fromkeys(name for name, _, _ in results)
    for name in names:
        for threads in (1, 2):
            rows.append(f"| {name:<24} | {threads:12d} | {results[name, threads, 'product']:20.1f} | "
                        f"{results[name, threads, 'own']:21.1f} |")
    return "\n".join(rows)


def main(argv=None):
    from .report import positive
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crosscore",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=positive, default=7,
                        help="rounds of all conditions (default 7)")
    parser.add_argument("--calls", type=positive, default=200,
                        help="timed calls per condition and round (default 200)")
    args = parser.parse_args(argv)
    results = measure(args.blocks, args.calls)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
