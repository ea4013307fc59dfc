"""The GEMM FLOPs of one training epoch, and the GEMM floor: the time of those GEMMs alone.

A Dense layer with n_in inputs and n_out units does three matrix products per step on a
batch of B rows (row-vector convention, z = O_prev W + b, W of shape (n_in, n_out)):

    forward   z = O_prev @ W              (B, n_in) @ (n_in, n_out)     2 B n_in n_out
    weights   dW = O_prev^T @ delta       (n_in, B) @ (B, n_out)        2 B n_in n_out
    input     dE/dO_prev = delta @ W^T    (B, n_out) @ (n_out, n_in)    2 B n_in n_out

and the first layer skips the last one (nobody needs dE/dx of the pixels). A matrix
product of (m, k) by (k, n) costs 2 m k n floating-point operations (a multiply and an
add per term). For 784-256-128-64-32-10 and 60000 samples in batches of 100 that is
63,767,040,000 FLOP per epoch (63.8 GFLOP).

Everything else in a step (bias adds, activations, the loss, Adam) is elementwise and
costs O(parameters + activations), far less arithmetic; it is memory traffic and call
overhead. So the time of the step's own GEMMs, with out= into preallocated float32
buffers through NumPy's BLAS and nothing else, is a floor that no engine calling the
same BLAS can beat: an engine's time divided by it says how much time goes elsewhere.
"""
import time

import numpy as np


def step_gemms(sizes, batch):
    """The matrix products of one training step, as (name, (m, k, n)) for (m,k) @ (k,n).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: [784, 256, 128, 64, 32, 10].
    batch : int
        Rows in the batch (B).
    """
    gemms = []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        gemms.append((f"forward {layer}", (batch, n_in, n_out)))   # O_prev @ W
        gemms.append((f"dW {layer}", (n_in, batch, n_out)))        # O_prev^T @ delta
        if layer > 1:                                              # dE/dx of the input: not needed
            gemms.append((f"dX {layer}", (batch, n_out, n_in)))    # delta @ W^T
    return gemms


def step_flops(sizes, batch):
    """FLOPs of the GEMMs of one step: the sum of 2 m k n."""
    return sum(2 * m * k * n for _, (m, k, n) in step_gemms(sizes, batch))


def epoch_batches(n_samples, batch):
    """Batch sizes of one epoch: full batches, then the incomplete last one if any."""
    full, rest = divmod(n_samples, batch)
    return [batch] * full + ([rest] if rest else [])


def epoch_flops(sizes, n_samples, batch):
    """FLOPs of the GEMMs of one epoch of ``n_samples``, the last batch possibly smaller."""
    return sum(step_flops(sizes, b) for b in epoch_batches(n_samples, batch))


class GemmFloor:
    """Times one epoch of the step's GEMMs alone, shaped exactly as the training step does.

    Each product runs as ``np.matmul(a, b, out=c)`` into preallocated float32 buffers; the
    transposed operands are the same transposed views the engine passes (O_prev.T and
    W.T), so BLAS gets the same transpose flags. ``run_epoch`` has the runner's engine
    interface, so the floor is measured interleaved with the engines, under the same
    drift.
    """

    name = "GEMM floor"

    def __init__(self, sizes, n_samples, batch, seed=0):
        self.sizes, self.n_samples, self.batch = list(sizes), n_samples, batch
        self.flops = epoch_flops(sizes, n_samples, batch)
        rng = np.random.default_rng(seed)
        self.plans = {}  # batch size -> list of (a, b, out), built once per distinct size
        for B in set(epoch_batches(n_samples, batch)):
            self.plans[B] = self._plan(rng, B)
        self.steps = epoch_batches(n_samples, batch)

    def _plan(self, rng, B):
        def rand(*shape):
            return rng.standard_normal(shape, dtype=np.float32)
        plan = []
        for layer, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            O_prev, W, delta = rand(B, n_in), rand(n_in, n_out), rand(B, n_out)
            plan.append((O_prev, W, np.empty((B, n_out), np.float32)))           # z
            plan.append((O_prev.T, delta, np.empty((n_in, n_out), np.float32)))  # dW
            if layer > 1:
                plan.append((delta, W.T, np.empty((B, n_in), np.float32)))       # dX
        return plan

    def setup(self):
        self.run_epoch()  # touch every buffer, load BLAS, spin up its threads

    def run_epoch(self):
        matmul = np.matmul
        for B in self.steps:
            for a, b, out in self.plans[B]:
                matmul(a, b, out=out)

    def time_epoch(self):
        """Seconds of one epoch of GEMMs."""
        start = time.perf_counter()
        self.run_epoch()
        return time.perf_counter() - start
