"""Warm start: how long a ``backprop train`` process takes to reach its first training step.

    python -m benchmarks.startup [--runs 5]

Each run is a fresh Python process that calls the command's own entry point,
``backprop.app.cli.main(["train", ...])``, with ``train.train_step`` wrapped so that the first
step on a full batch of 100 prints the seconds since the process started (read from
/proc, so interpreter start-up counts) and ends the process. The first run may unpack
the data into the user cache and compile the kernels into numba's cache; the later ones
show the warm start: numba's cached machine code is loaded, nothing is compiled.
Sample output (2-core AMD EPYC virtual machine, idle, 2026-12-01)::

    run 1: first training step 0.64 s after the process started
    run 2: first training step 0.65 s after the process started
    run 3: first training step 0.65 s after the process started
    run 4: first training step 0.63 s after the process started
    run 5: first training step 0.70 s after the process started
    run 6: first training step 0.69 s after the process started
    warm runs (2..6): median 0.65 s, max 0.70 s

(``--runs 6``; the same day, with other jobs keeping both cores busy, the warm runs took
1.07-1.21 s.) The largest parts of the warm start, timed one by one that day: the first
call of a cached kernel, ~0.27 s (numba sets up its CPU target then, and that imports
numba.np.arraymath, which imports scipy.linalg for BLAS the kernels never use: ~0.1 s
of it); ``import numba``, ~0.13 s; reading and checking the data, ~0.13 s; the
interpreter and NumPy, ~0.15 s.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile

CHILD = r'''
import os, sys, time
with open("/proc/self/stat") as f:
    started_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
with open("/proc/uptime") as f:
    uptime = float(f.read().split()[0])
process_start = time.time() - (uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
from backprop.app import training_run as train
real_step = train.train_step

def first_step(model, loss, optimizer, x, y):
    if x.shape[0] != 100:
        return real_step(model, loss, optimizer, x, y)
    print(f"{time.time() - process_start:.3f}", flush=True)
    os._exit(0)

train.train_step = first_step
from backprop.app.cli import main
sys.exit(main(["train", "--epochs", "1", "--quiet", "--no-plots", "--force", "--out",
               sys.argv[1]]))
'''


TIMEOUT = 300  # seconds a child may take to reach its first step


def first_step_seconds(out_dir):
    """Seconds from a fresh child's start to its first training step. Raises RuntimeError
    with a one-line message (the child's last line on stderr) if the child fails."""
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, out_dir], capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the child did not reach its first training step within "
                           f"{TIMEOUT} s") from None
    if done.returncode != 0 or not done.stdout.strip():
        lines = done.stderr.strip().splitlines()
        status = f" (exit status {done.returncode})" if done.returncode else ""
        raise RuntimeError(f"the child failed{status} before its first training step: "
                           f"{lines[-1].strip() if lines else 'no message on stderr'}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    from .report import positive
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=positive, default=5, help="processes to start (default 5)")
    args = parser.parse_args(argv)
    times = []
    with tempfile.TemporaryDirectory() as out:
        for run in range(1, args.runs + 1):
            try:
                times.append(first_step_seconds(out))
            except RuntimeError as error:  # e.g. a bad $BACKPROP_THREADS: one line, no traceback
                parser.exit(1, f"{parser.prog}: error: run {run}: {error}\n")
            print(f"run {run}: first training step {times[-1]:.2f} s after the process started")
    warm = times[1:] or times
    print(f"warm runs (2..{len(times)}): median {statistics.median(warm):.2f} s, "
          f"max {max(warm):.2f} s" if len(times) > 1 else f"one run: {times[0]:.2f} s")
    return times


if __name__ == "__main__":
    main()
