"""The baseline: the MLP as one would first write it in NumPy, with no care for speed.

What makes it "naive", on purpose: the whole training set is converted to float32 up
front (60000 x 784 x 4 bytes = 188 MB); every step allocates fresh arrays for every
activation, delta, gradient and Adam temporary; softmax and the one-hot targets are
built with plain array expressions; Adam is written out with bias-corrected m_hat and
v_hat arrays. The maths is the same as the engine's (row-vector convention,
z = O_prev @ W + b, delta = (p - t) / B at the softmax cross-entropy output,
relu'(z) = 1 for z >= 0), and the matrix products go to the same BLAS, so the gap to
backprop is what the engine's buffers and fused kernels buy.
"""
import numpy as np


class NaiveMLP:
    """A ReLU MLP with a softmax cross-entropy output, trained by hand-written Adam.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first.
    lr, beta1, beta2, eps : float
        Adam's hyper-parameters (the paper's defaults).
    seed : int
        For the He-uniform initial weights.
    """

    def __init__(self, sizes, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, seed=0):
        rng = np.random.default_rng(seed)
        self.W, self.b = [], []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            limit = np.sqrt(6.0 / n_in)  # He uniform, for ReLU
            self.W.append(rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32))
            self.b.append(np.zeros(n_out, np.float32))
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in self.W + self.b]
        self.v = [np.zeros_like(p) for p in self.W + self.b]
        self.t = 0

    def forward(self, x):
        """Logits, and the list of (O_prev, z) per layer for the backward pass."""
        cache, O = [], x
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = O @ W + b
            cache.append((O, z))
            O = np.maximum(z, 0) if i < len(self.W) - 1 else z
        return O, cache

    def train_step(self, x, y):
        """One step of Adam on the batch (x float32 (B, D), y int labels (B,)); returns E."""
        B = len(x)
        logits, cache = self.forward(x)
        # softmax cross-entropy: p = softmax(z), E = -mean log p[y], delta = (p - t) / B
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        t = np.eye(logits.shape[1], dtype=np.float32)[y]
        E = -np.mean(np.log(p[np.arange(B), y] + 1e-12))
        delta = (p - t) / B
        grads_W, grads_b = [None] * len(self.W), [None] * len(self.b)
        for i in reversed(range(len(self.W))):
            O_prev, _ = cache[i]
            grads_W[i] = O_prev.T @ delta         # dE/dW = O_prev^T delta
            grads_b[i] = delta.sum(axis=0)        # dE/db = sum over the batch of delta
            if i > 0:
                g = delta @ self.W[i].T           # dE/dO_prev = delta W^T
                delta = g * (cache[i - 1][1] >= 0)  # relu'(z) = 1 for z >= 0
        self._adam(grads_W + grads_b)
        return float(E)

    def _adam(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.W + self.b, grads, self.m, self.v):
            m[:] = self.beta1 * m + (1 - self.beta1) * g
            v[:] = self.beta2 * v + (1 - self.beta2) * g * g
            m_hat = m / (1 - self.beta1 ** self.t)
            v_hat = v / (1 - self.beta2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)  # float32 (NEP 50)

    def predict(self, x):
        """Predicted classes of float32 inputs x."""
        return np.argmax(self.forward(x)[0], axis=1)
