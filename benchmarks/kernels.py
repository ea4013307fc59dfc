"""Kernel micro-benchmarks: each numba kernel against its NumPy twin, at the reference shapes.

    python -m benchmarks.kernels [--repeats 101] [--out bench-results]

backprop/core/kernels/jit.py (the ``numba`` backend: ``@njit(cache=True)``, compiled on the
first call and kept in numba's cache) and backprop/core/kernels/reference.py (the ``numpy``
backend) define the same functions with the same signatures. The kernels that one
training step of the reference run calls (784-256-128-64-32-10, ReLU, softmax
cross-entropy, Adam, batch 100, float32):

    add_bias_relu                 z += b; O = max(z, 0)      (100, 256), (100, 128), (100, 64),
                                                             (100, 32)
    relu_delta_db                 delta = g [z >= 0];        the same four shapes
                                  db = sum delta
    softmax_cross_entropy_labels  E and delta = (p - t) / B  (100, 10) with integer labels
    adam_step                     one Adam update of all     theta (244522,): W1, b1, ..., b5
                                  the weights
    gather_scaled                 x = images[index] / 255    (100, 784) from (60000, 784) uint8

Both run on the same inputs once and are compared: the numba kernel's outputs must equal
NumPy's within rounding ("agree"). Then they are timed after warm-up (numba's compile,
or its cache load, is excluded): each repeat times a loop of calls long enough to last
``--min-time`` seconds, the two take turns, and the table gives the median time per call
of each (the kernel functions called directly, without the checks a layer makes first)
and the speedup, numpy / numba.

Results also go to kernels.json and kernels.md in ``--out``. Sample output (the table it
ends with), on a 2-core AMD EPYC virtual machine, numba 0.68, numpy 2.4, float32, 1 BLAS
thread, 2026-12-01::

    | kernel                       | shape                              | numba us/call | numpy us/call | speedup | agree |
    |------------------------------|------------------------------------|--------------:|--------------:|--------:|------:|
    | add_bias_relu                | (100, 256)                         |          2.10 |         14.84 |    7.08 |   yes |
    | add_bias_relu                | (100, 128)                         |          1.45 |          8.27 |    5.71 |   yes |
    | add_bias_relu                | (100, 64)                          |          0.82 |          5.29 |    6.46 |   yes |
    | add_bias_relu                | (100, 32)                          |          0.51 |          3.67 |    7.23 |   yes |
    | relu_delta_db                | (100, 256)                         |          3.11 |         35.34 |   11.37 |   yes |
    | relu_delta_db                | (100, 128)                         |          1.93 |         19.68 |   10.18 |   yes |
    | relu_delta_db                | (100, 64)                          |          1.07 |         12.16 |   11.36 |   yes |
    | relu_delta_db                | (100, 32)                          |          0.72 |          8.63 |   11.92 |   yes |
    | softmax_cross_entropy_labels | (100, 10), labels (100,)           |          7.29 |         22.16 |    3.04 |   yes |
    | adam_step                    | theta (244522,)                    |         70.60 |        598.92 |    8.48 |   yes |
    | gather_scaled                | (100, 784) from (60000, 784) uint8 |          8.45 |         21.29 |    2.52 |   yes |
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

from backprop.core.optim import Adam

from . import report

HIDDEN = [(100, 256), (100, 128), (100, 64), (100, 32)]
SIZES = [784, 256, 128, 64, 32, 10]


def cases(seed=0):
    """(kernel name, shape text, argument builder); the builder returns fresh arguments."""
    rng = np.random.default_rng(seed)

    def f32(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    out = []
    for shape in HIDDEN:
        n = shape[1]
        # b is tiny: each call adds it to z in place, and z must not drift over the loop
        out.append(("add_bias_relu", f"{shape}",
                    lambda s=shape, n=n: (f32(*s), f32(n, scale=1e-6), np.empty(s, np.float32))))
    for shape in HIDDEN:
        n = shape[1]
        out.append(("relu_delta_db", f"{shape}",
                    lambda s=shape, n=n: (f32(*s), f32(*s), np.empty(s, np.float32),
                                          np.empty(n, np.float32))))
    out.append(("softmax_cross_entropy_labels", "(100, 10), labels (100,)",
                lambda: (f32(100, 10), rng.integers(0, 10, 100).astype(np.intp),
                         np.empty((100, 10), np.float32))))
    adam = Adam([np.zeros(1, np.float32)])
    adam.t = 10
    size = sum(n_in * n_out + n_out for n_in, n_out in zip(SIZES[:-1], SIZES[1:]))
    # the optimizer updates a model's flat theta (all 244,522 weights) in one call
    out.append(("adam_step", f"theta ({size},)",
                lambda: (f32(size, scale=0.1), f32(size, scale=0.01), f32(size, scale=1e-3),
                         np.abs(f32(size, scale=1e-4)), adam.hyper(np.float32))))
    images = rng.integers(0, 256, (60000, 784), dtype=np.uint8)
    out.append(("gather_scaled", "(100, 784) from (60000, 784) uint8",
                lambda: (images, rng.permutation(60000)[:100], np.float32(255),
                         np.empty((100, 784), np.float32))))
    return out


def _loop_time(function, args, number):
    start = time.perf_counter()
    for _ in range(number):
        function(*args)
    return (time.perf_counter() - start) / number


def _agree(numba_fn, ref_fn, make_args):
    """Same inputs through both; do every output array and the return value match?"""
    a = make_args()
    b = tuple(x.copy() if isinstance(x, np.ndarray) else x for x in a)
    ra, rb = numba_fn(*a), ref_fn(*b)
    same = all(np.allclose(x, y, rtol=1e-5, atol=1e-6) for x, y in zip(a, b)
               if isinstance(x, np.ndarray))
    return bool(same and (ra is None or np.isclose(ra, rb, rtol=1e-5)))


VARIANTS = ("numba", "numpy")  # the two backends: backprop.kernels.jit and .reference


def bench(repeats=101, min_time=0.002, seed=0, log=print):
    """Time every case in each variant; returns a list of result dicts."""
    from backprop.core.kernels import jit, reference
    modules = dict(zip(VARIANTS, (jit, reference)))
    rows = []
    for name, shape, make_args in cases(seed):
        fns = {v: getattr(m, name) for v, m in modules.items()}
        agree = _agree(fns["numba"], fns["numpy"], make_args)
        args = {v: make_args() for v in VARIANTS}
        for _ in range(3):  # warm-up: compile, fault in the pages, fill the caches
            for v in VARIANTS:
                fns[v](*args[v])
        # calls per repeat so that the slowest lasts about min_time
        one = max(_loop_time(fns[v], args[v], 10) for v in VARIANTS)
        number = max(1, int(min_time / max(one, 1e-9)))
        times = {v: [] for v in VARIANTS}
        for _ in range(repeats):  # take turns, so drift hits both alike
            for v in VARIANTS:
                times[v].append(_loop_time(fns[v], args[v], number))
        row = {"kernel": name, "shape": shape, "agree": agree,
               "calls_per_repeat": number, "repeats": repeats}
        for v in VARIANTS:
            row[f"{v}_us"] = statistics.median(times[v]) * 1e6
            row[f"{v}_min_us"] = min(times[v]) * 1e6
        row["speedup"] = row["numpy_us"] / row["numba_us"]
        rows.append(row)
        log(f"{name:<28} {shape:<36} numba {row['numba_us']:9.2f} us  "
            f"numpy {row['numpy_us']:9.2f} us  x{row['speedup']:.2f}")
    return rows


def table(rows):
    """Markdown table of the rows from ``bench``."""
    head = ["kernel", "shape", "numba us/call", "numpy us/call", "speedup", "agree"]
    body = [[r["kernel"], r["shape"], f"{r['numba_us']:.2f}", f"{r['numpy_us']:.2f}",
             f"{r['speedup']:.2f}", "yes" if r["agree"] else "NO"] for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    rule = "|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":"
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), rule, *(line(r) for r in body)])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.kernels",
                                description="Each numba kernel against its NumPy twin.")
    p.add_argument("--repeats", type=report.positive, default=101,
                   help="timed repeats (default 101)")
    p.add_argument("--min-time", type=report.seconds, default=0.002,
                   help="seconds per repeat (default 0.002; 0: one call per repeat)")
    p.add_argument("--threads", type=report.positive, default=1,
                   help="BLAS threads (default 1; the kernels themselves are serial)")
    p.add_argument("--seed", type=report.non_negative, default=0)
    p.add_argument("--out", default="bench-results",
                   help="output folder (default bench-results/), created and checked first")
    args = p.parse_args(argv)
    try:  # a bad --out fails now, not after the timing
        report.output_folder(args.out)
    except OSError as error:
        p.error(f"argument --out: {error}")
    from threadpoolctl import threadpool_limits
    import numba  # for its version; the numba variant loads it anyway
    with threadpool_limits(limits=args.threads):
        rows = bench(args.repeats, args.min_time, args.seed)
        result = {"machine": report.machine(), "blas": report.blas(),
                  "versions": {"numpy": np.__version__, "numba": numba.__version__,
                               "python": sys.version.split()[0]},
                  "dtype": "float32", "threads": args.threads, "kernels": rows}
    print()
    print(table(rows))  # printed first: a failed write loses less
    m = result["machine"]
    text = (f"# backprop kernels: numba vs NumPy twin\n\n- {m['cpu']}, {m['cores']} cores, "
            f"float32, numba {numba.__version__}, numpy {np.__version__}; median of "
            f"{args.repeats} repeats per call, after warm-up.\n\n{table(rows)}\n")
    paths = [os.path.join(args.out, name) for name in ("kernels.json", "kernels.md")]
    try:
        os.makedirs(args.out, exist_ok=True)
        report.write_json(paths[0], result)
        with open(paths[1], "w") as f:
            f.write(text)
    except OSError as error:
        print(f"{p.prog}: error: cannot write the results into {args.out}: {error}",
              file=sys.stderr)
        return 1
    print(f"\nwrote {paths[0]}, {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
