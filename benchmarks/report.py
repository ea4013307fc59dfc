"""What a benchmark result says about where it ran, and the files it is written to.

``machine()`` records the CPU model (from /proc/cpuinfo), the cores, the load average
and the Python; ``blas()`` the BLAS libraries threadpoolctl sees (kernel, version,
threads), file names only, no paths. ``write_files`` (with ``write_json`` and ``write_chart``)
put a result in the output folder, which ``output_folder`` creates and checks before a
run; ``table`` renders the Markdown table the runner prints (``markdown_table`` pads any
table, the sweep's too). ``positive``, ``non_negative``, ``seconds`` and
``positive_list`` are the argparse types of the entry points' numeric options (this
module imports nothing heavy, so ``benchmarks.memory`` can use them before it pins the
thread counts).
"""
import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time


def positive_list(text):
    """argparse type: a comma list of distinct whole numbers >= 1, returned in ascending
    order ("10,100,1000" -> [10, 100, 1000])."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a comma list of whole numbers >= 1, got {text!r}") from None
    small = [v for v in values if v < 1]
    if small:
        raise argparse.ArgumentTypeError(f"every number must be >= 1, got {small[0]}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{repeated[0]} is given more than once")
    return sorted(values)


def positive(text):
    """argparse type: a whole number >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative(text):
    """argparse type: a whole number >= 0 (seeds, warm-up epochs)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def seconds(text):
    """argparse type: a finite number of seconds >= 0."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def output_folder(path):
    """Create the folder ``path`` if needed and prove a file can be written in it, so a bad
    ``--out`` fails before a long run, not after it. Returns ``path``; raises OSError
    with a one-line message."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"{path} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise OSError(f"cannot create the folder {path}: {error.strerror or error}") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OSError(f"cannot write in {path}: {error.strerror or error}") from None
    return path


def cpu_model():
    """The CPU model name from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    """CPU, cores, load, OS and Python of this machine."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"date": time.strftime("%Y-%m-%d"),
            "cpu": cpu_model(), "arch": platform.machine(), "cores": os.cpu_count(),
            "usable_cores": usable, "load_average": load, "os": platform.platform(),
            "python": sys.version.split()[0]}


BUSY_CORES = 0.25  # other processes' CPU use during a run, in cores, from which it is busy
BUSY_LOAD = 0.5  # load average per core at the start from which a run is called busy


class OtherLoad:
    """How much CPU other processes used while a block ran: the machine's busy CPU time
    (/proc/stat: user, nice, system, irq, softirq, steal) less this process's own (and
    its children's), divided by the wall time: in cores. None where /proc is absent."""

    def __enter__(self):
        self.start = self.snapshot()
        return self

    def __exit__(self, *exc):
        end = self.snapshot()
        self.cores = None
        if self.start and end:
            machine_busy, own, wall = (b - a for a, b in zip(self.start, end))
            self.cores = max(0.0, (machine_busy - own) / wall) if wall > 0 else None

    @staticmethod
    def snapshot():
        """(machine busy CPU s, this process's CPU s with its children's, wall s)."""
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        ticks = os.sysconf("SC_CLK_TCK")
        return ((user + nice + system + irq + softirq + steal) / ticks, own, time.monotonic())


def busy_warning(result):
    """A sentence saying the machine was busy before or during the run, or None."""
    m = result["machine"]
    cores = m.get("usable_cores") or m.get("cores") or 1
    before = (m.get("load_average") or [0])[0]
    during = m.get("other_cpu_cores")
    reasons = []
    if before > BUSY_LOAD * cores and not m.get("follows_own_run"):
        # (a sweep's later points start right after its own earlier ones: their load
        # average is the sweep's, and only the other processes' CPU tells)
        reasons.append(f"its load average was {before} at the start")
    if during is not None and during > BUSY_CORES:
        reasons.append(f"other processes used {during:.2f} of its {cores} cores during the run")
    if not reasons:
        return None
    return (f"WARNING: the machine was busy ({'; '.join(reasons)}): these times are slower "
            f"than an idle machine's, and the ratios between engines less reliable.")


def _short(path):
    """A library's path from its package on (numpy.libs/libscipy_openblas64_...so), so the
    result names whose BLAS it is without naming this machine's folders."""
    parts = path.replace(os.sep, "/").split("/")
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1:])
    return "/".join(parts[-2:])


def blas():
    """The thread pools threadpoolctl finds loaded (BLAS and OpenMP), without file paths."""
    from threadpoolctl import threadpool_info
    pools = []
    for lib in threadpool_info():
        entry = {k: lib.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                          "num_threads", "threading_layer", "architecture")
                 if lib.get(k) is not None}
        entry["file"] = _short(lib.get("filepath", ""))
        pools.append(entry)
    return pools


def write_json(path, result):
    with open(path, "w") as f:
        json.dump(result, f, indent=1, default=str)
        f.write("\n")


COLUMNS = ("engine", "threads", "s/epoch median (min-max)", "samples/s", "test acc",
           "peak RSS MiB", "x fastest", "x GEMM floor")


def _fmt(x, spec, missing="-"):
    return missing if x is None else format(x, spec)


def table_rows(result):
    """The table as rows of strings, COLUMNS first; skipped engines last, with the reason."""
    rows = [list(COLUMNS)]
    for e in result["engines"]:
        if e["status"] != "ok":
            rows.append([e["name"], "-", f"{e['status']}: {e['reason']}", "-", "-", "-", "-", "-"])
            continue
        rows.append([e["name"], _fmt(e["threads"], "d"),
                     f"{e['median_s']:.3f} ({e['min_s']:.3f}-{e['max_s']:.3f})",
                     f"{e['samples_per_s']:,.0f}", _fmt(e["test_accuracy"], ".4f"),
                     _fmt(e.get("peak_rss_mib"), ".0f"), f"{e['x_fastest']:.2f}",
                     f"{e['x_floor']:.2f}"])
    f = result["gemm_floor"]
    rows.append([f"({f['name']})", _fmt(f["threads"], "d"),
                 f"{f['median_s']:.3f} ({f['min_s']:.3f}-{f['max_s']:.3f})",
                 f"{f['samples_per_s']:,.0f}", "-", "-", f"{f['x_fastest']:.2f}", "1.00"])
    ordered = rows[1:-1]
    ordered.sort(key=lambda r: r[2].startswith(("skipped", "failed")))
    return [rows[0], *ordered, rows[-1]]


def table(result):
    """The result table in Markdown, columns padded so it also reads as plain text."""
    return markdown_table(table_rows(result), left={0, 2})


def markdown_table(rows, left=(0,)):
    """``rows`` (header first, lists of strings) as a Markdown table padded to read as
    plain text: the columns numbered in ``left`` are text, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) if i in left else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i not in left else ("-" * (w + 2))
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def blas_text(pools, short=False):
    """The BLAS libraries of ``blas()`` in words: kernel, version, architecture, whose
    copy and threads; ``short``: kernel and version only, each once."""
    found = [p for p in pools if p.get("user_api") == "blas"]
    if short:
        names = [f"{p.get('internal_api')} {p.get('version')}" for p in found]
        return ", ".join(dict.fromkeys(names)) or "none found"
    return ", ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture', '')} "
                     f"from {p['file'].split('/')[0]} (threads: {p.get('num_threads')})"
                     for p in found) or "none found"


def summary(result):
    """The lines above the table: what ran, where, and how to read it."""
    s, m = result["settings"], result["machine"]
    f = result["gemm_floor"]
    pools = blas_text(result["blas"])
    mem = result.get("memory_baseline_mib")
    warning = busy_warning(result)
    lines = [warning] if warning else []
    lines += [
        f"{s['sizes_text']} ReLU MLP, softmax cross-entropy, Adam 1e-3, batch {s['batch_size']}, "
        f"float32; {s['n_train']} training / {s['n_test']} test samples ({s['data']}).",
        f"{s['epochs']} timed epochs after {s['warmup']} warm-up, engines interleaved epoch by "
        f"epoch; test accuracy after all {s['epochs'] + s['warmup']} epochs.",
        f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['load_average']} at the "
        f"start; threads pinned to {s['threads']}; BLAS: {pools}.",
        f"GEMM floor: {f['gflop']:.2f} GFLOP of matrix products per epoch, timed alone through "
        f"NumPy's BLAS ({f['gflops_per_s']:.1f} GFLOP/s at its median).",
    ]
    if mem is not None:
        lines.append(f"Peak RSS: whole-process peak (VmHWM) of a fresh process that loads "
                     f"the data and trains that engine for one epoch; a process that only "
                     f"imports NumPy and loads the data peaks at {mem:.0f} MiB.")
    else:
        lines.append("Peak RSS: not measured (--no-memory).")
    return lines


def markdown(result):
    """The whole Markdown report: summary lines, the table, versions."""
    versions = ", ".join(f"{k} {v}" for k, v in sorted(result["versions"].items()))
    return "\n".join(["# backprop benchmark", "", *[f"- {line}" for line in summary(result)], "",
                      table(result), "", f"Versions: {versions}.", ""])


def write_files(out, stem, result, markdown_text, write_chart):
    """STEM.json (``result``), STEM.md (``markdown_text``) and STEM.png (``write_chart(path,
    result)``) in the folder ``out``; returns their paths."""
    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, f"{stem}.{ext}") for ext in ("json", "md", "png")]
    write_json(paths[0], result)
    with open(paths[1], "w") as f:
        f.write(markdown_text)
    write_chart(paths[2], result)
    return paths


def publish(prog, summary_lines, table_text, write, out, what):
    """Print the summary and the table, then ``write()`` the files (the table first: a
    failed write loses less); the exit status, 1 with one line if the write fails."""
    print()
    print("\n".join(summary_lines))
    print()
    print(table_text)
    print()
    try:
        paths = write()
    except OSError as error:
        print(f"{prog}: error: cannot write {what} into {out}: {error}", file=sys.stderr)
        return 1
    print("wrote " + ", ".join(paths))
    return 0


def write_chart(path, result):
    """A horizontal bar chart of seconds per epoch (median, min-max whiskers), floor dashed;
    the axis ends at twice the slowest median, and a whisker cut there is labelled."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    ran = [e for e in result["engines"] if e["status"] == "ok"]
    ran.sort(key=lambda e: e["median_s"])
    fig = Figure(figsize=(7, 0.5 * len(ran) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    y = range(len(ran))
    medians = [e["median_s"] for e in ran]
    errors = [[e["median_s"] - e["min_s"] for e in ran], [e["max_s"] - e["median_s"] for e in ran]]
    ax.barh(list(y), medians, xerr=errors, color="tab:blue", capsize=3)
    for i, m in enumerate(medians):  # the median, at the bar's foot (clear of the floor line)
        ax.annotate(f"{m:.3f} s", (0, i), xytext=(4, 0), textcoords="offset points",
                    va="center", color="white", fontsize=8)
    floor = result["gemm_floor"]["median_s"]
    # one stalled epoch must not squash every bar; with no engine that ran, the floor alone
    right = 2 * max(medians, default=floor)
    ax.set_xlim(0, right)
    for i, e in enumerate(ran):
        if e["max_s"] > right:
            ax.annotate(f"max {e['max_s']:.1f} s", (right, i), xytext=(-4, 6),
                        textcoords="offset points", ha="right", fontsize=8)
    ax.set_yticks(list(y), [e["name"] for e in ran])
    ax.invert_yaxis()
    ax.axvline(floor, color="tab:red", linestyle="--", label=f"GEMM floor {floor:.3f} s")
    ax.set_xlabel("seconds per epoch (median; whiskers: min-max)")
    s, m = result["settings"], result["machine"]
    where = f"{m['cpu']}, {m['cores']} cores" + (f", {m['date']}" if m.get("date") else "")
    busy = "; the machine was busy" if busy_warning(result) else ""
    ax.set_title(f"{s['sizes_text']}, batch {s['batch_size']}, {s['threads']} threads\n"
                 f"{where}{busy}", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.savefig(path, dpi=120)
