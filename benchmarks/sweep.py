"""The batch-size sweep: the whole interleaved run at each batch size, one table, one chart.

    python -m benchmarks --batch-sizes 10,100,1000,4096
    python -m benchmarks --batch-sizes 10,100 --engines backprop-numba,jax --threads 1

At each batch size in turn (ascending) ``run.run`` does everything it does for one
batch size: every engine is set up anew for it (so JAX compiles its shapes, numba loads
its kernels), epochs are interleaved across engines and the GEMM floor of that batch
size, then accuracy and, unless ``--no-memory``, peak memory. Progress lines are the
runner's, prefixed with ``[batch B]``. The sweep writes into ``--out``:

    sweep.json   every point's full result (as results.json has it) and the ratios
    sweep.md     one table, a row per batch size: each engine's and the GEMM floor's
                 s/epoch median (min-max), and the ratios the issue tracks
    sweep.png    samples per second against batch size, log-log, a line per engine,
                 the GEMM floor dashed

The ratios are of median seconds per epoch at the same batch size: "jax / backprop-numba"
above 1 means backprop-numba is the faster; "backprop-numba / floor" is how far it is from
its own GEMMs alone. A ratio needs both of its engines to have run at that point ('-'
otherwise).
"""
import argparse

from . import report

BASE = "backprop-numba"
RATIOS = (("jax", BASE), ("pytorch", BASE), (BASE, "floor"))  # (numerator, denominator)


def run_sweep(args, run_point, log=print):
    """``run_point(args, log)`` (the runner's ``run.run``, passed in by ``run.main``) at
    every batch size of ``args.batch_sizes``; the sweep result dict."""
    points = []
    for batch_size in args.batch_sizes:
        point_args = argparse.Namespace(**{**vars(args), "batch_size": batch_size,
                                           "batch_sizes": None})
        point = run_point(point_args,
                          log=lambda *parts, b=batch_size: log(f"[batch {b}]", *parts))
        point["machine"]["follows_own_run"] = bool(points)  # its load average is the sweep's
        points.append(point)
    return {"batch_sizes": list(args.batch_sizes), "points": points,
            "ratios": [ratios(point) for point in points],
            "notes": {"ratios": "median seconds per epoch of the first engine / the second's "
                                "at the same batch size (floor: the GEMM floor); None where "
                                "either did not run"}}


def _medians(point):
    """{engine name: median s/epoch} of the engines that ran, and "floor"."""
    found = {e["name"]: e["median_s"] for e in point["engines"] if e["status"] == "ok"}
    found["floor"] = point["gemm_floor"]["median_s"]
    return found


def ratio_name(numerator, denominator):
    return f"{numerator} / {denominator}"


def ratios(point):
    """{"jax / backprop-numba": x or None, ...} of one point's result (see RATIOS)."""
    medians = _medians(point)
    return {ratio_name(a, b): (medians[a] / medians[b] if a in medians and b in medians
                               else None)
            for a, b in RATIOS}


def engine_names(sweep):
    """The engines that ran at one batch size at least, in the order they were run."""
    names = []
    for point in sweep["points"]:
        names += [e["name"] for e in point["engines"]
                  if e["status"] == "ok" and e["name"] not in names]
    return names


def _spread(stats):
    return f"{stats['median_s']:.3f} ({stats['min_s']:.3f}-{stats['max_s']:.3f})"


def table_rows(sweep):
    """The sweep table as rows of strings, the header first: a row per batch size."""
    names = engine_names(sweep)
    header = ["batch", *(f"{n} s/epoch" for n in names), "GEMM floor s/epoch",
              *(ratio_name(a, b) for a, b in RATIOS)]
    rows = [header]
    for point in sweep["points"]:
        by_name = {e["name"]: e for e in point["engines"]}
        cells = [str(point["settings"]["batch_size"])]
        for name in names:
            e = by_name.get(name)
            cells.append(_spread(e) if e and e["status"] == "ok" else "-")
        cells.append(_spread(point["gemm_floor"]))
        cells += [report._fmt(x, ".2f") for x in ratios(point).values()]
        rows.append(cells)
    return rows


def table(sweep):
    """The sweep table in Markdown, padded to read as plain text."""
    return report.markdown_table(table_rows(sweep), left={0})


def summary(sweep):
    """The lines above the sweep table: what ran, where, how to read the ratios."""
    first = sweep["points"][0]
    s, m = first["settings"], first["machine"]
    lines = [f"batch {p['settings']['batch_size']}: {report.busy_warning(p)}"
             for p in sweep["points"] if report.busy_warning(p)]
    lines += [
        f"{s['sizes_text']} ReLU MLP, softmax cross-entropy, Adam 1e-3, float32; "
        f"{s['n_train']} training / {s['n_test']} test samples ({s['data']}); batch sizes "
        f"{', '.join(map(str, sweep['batch_sizes']))}.",
        f"At each batch size: every engine set up for it, {s['epochs']} timed epochs after "
        f"{s['warmup']} warm-up, engines and the GEMM floor interleaved epoch by epoch.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['date']}; threads pinned to "
        f"{s['threads']}; BLAS: {report.blas_text(first['blas'])}.",
        "Cells: seconds per epoch, median (min-max). Ratios: median over median at the same "
        f"batch size; above 1 in the first two, {BASE} is the faster; '-' where an engine "
        "did not run.",
    ]
    for point in sweep["points"]:
        for e in point["engines"]:
            if e["status"] != "ok":
                lines.append(f"batch {point['settings']['batch_size']}: {e['name']} "
                             f"{e['status']}: {e['reason']}")
    return lines


def markdown(sweep):
    versions = {}
    for point in sweep["points"]:
        versions.update(point["versions"])
    versions = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return "\n".join(["# backprop benchmark: batch-size sweep", "",
                      *[f"- {line}" for line in summary(sweep)], "", table(sweep), "",
                      f"Versions: {versions}.", ""])


def chart_title(sweep):
    """The chart's title: the network and threads; the machine, the date and the BLAS;
    and "the machine was busy" when it was at any point."""
    first = sweep["points"][0]
    s, m = first["settings"], first["machine"]
    busy = any(report.busy_warning(p) for p in sweep["points"])
    return (f"{s['sizes_text']}, {s['threads']} threads, {s['data']}\n"
            f"{m['cpu']}, {m['cores']} cores, {m['date']}; "
            f"BLAS {report.blas_text(first['blas'], short=True)}"
            + ("\nthe machine was busy" if busy else ""))


def write_chart(path, sweep):
    """Samples per second (median epoch) against batch size, log-log: a line with
    markers per engine, the GEMM floor dashed."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for name in engine_names(sweep):
        found = [(p["settings"]["batch_size"], e["samples_per_s"]) for p in sweep["points"]
                 for e in p["engines"] if e["name"] == name and e["status"] == "ok"]
        ax.plot(*zip(*found), marker="o", label=name)
    floor = [(p["settings"]["batch_size"], p["gemm_floor"]["samples_per_s"])
             for p in sweep["points"]]
    ax.plot(*zip(*floor), linestyle="--", color="black", marker=".", label="GEMM floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sweep["batch_sizes"], [str(b) for b in sweep["batch_sizes"]])
    ax.set_xticks([], minor=True)  # the batch sizes alone label the axis
    ax.set_xlabel("batch size")
    ax.set_ylabel("training samples per second (median epoch)")
    ax.set_title(chart_title(sweep), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.savefig(path, dpi=120)


def write(sweep, out):
    """sweep.json, sweep.md and sweep.png in ``out``; returns their paths."""
    return report.write_files(out, "sweep", sweep, markdown(sweep), write_chart)


def main(args, prog, run_point, log=print):
    """The sweep of parsed ``args`` (the runner's, with ``batch_sizes``), each point run by
    ``run_point``: run, print, write; the exit status."""
    sweep = run_sweep(args, run_point, log)
    return report.publish(prog, summary(sweep), table(sweep), lambda: write(sweep, args.out),
                          args.out, "the sweep")
