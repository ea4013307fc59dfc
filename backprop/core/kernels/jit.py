"""The numba kernels: the hot loops of the training step, fused so each array is read once.

Each function has a NumPy twin of the same name and signature in ``reference.py``; read
that one for the maths in array form. Here the same formulas are written as loops that
touch each element once (for example the activation delta and the bias gradient
db = sum_n delta in one pass). Kernels see arrays and scalars only and write into the
outputs the caller supplies; the compile policy is in ``_policy.py``.
"""
import math

import numpy as np

from ._policy import kernel


# ---------------------------------------------------------------- forward: z += b; O = f(z)


@kernel
def add_bias_identity(z, b, O):
    """z += b;  O = z."""
    B, n = z.shape
    for i in range(B):
        for k in range(n):
            x = z[i, k] + b[k]
            z[i, k] = x
            O[i, k] = x


@kernel
def add_bias_sigmoid(z, b, O):
    """z += b;  O = 1 / (1 + exp(-z)), written so exp never overflows."""
    B, n = z.shape
    one = z.dtype.type(1)  # a literal 1.0 would turn float32 arithmetic into float64
    for i in range(B):
        for k in range(n):
            x = z[i, k] + b[k]
            z[i, k] = x
            if x >= 0:
                O[i, k] = one / (one + math.exp(-x))
            else:
                e = math.exp(x)
                O[i, k] = e / (one + e)


@kernel
def add_bias_tanh(z, b, O):
    """z += b;  O = tanh(z)."""
    B, n = z.shape
    for i in range(B):
        for k in range(n):
            x = z[i, k] + b[k]
            z[i, k] = x
            O[i, k] = math.tanh(x)


@kernel
def add_bias_relu(z, b, O):
    """z += b;  O = max(z, 0) (NaN passes through, as in np.maximum)."""
    B, n = z.shape
    zero = z.dtype.type(0)  # a literal 0.0 would turn float32 into float64
    for i in range(B):
        for k in range(n):
            x = z[i, k] + b[k]
            z[i, k] = x
            O[i, k] = zero if x < 0 else x


@kernel
def add_bias_leaky_relu(z, b, alpha, O):
    """z += b;  O = z if z >= 0 else alpha z."""
    B, n = z.shape
    for i in range(B):
        for k in range(n):
            x = z[i, k] + b[k]
            z[i, k] = x
            O[i, k] = x if x >= 0 else alpha * x


@kernel
def add_bias_softmax(z, b, O):
    """z += b;  O_i = exp(z_i - max z) / sum_j exp(z_j - max z), row by row."""
    B, n = z.shape
    for i in range(B):
        m = -np.inf
        for k in range(n):
            x = z[i, k] + b[k]
            z[i, k] = x
            m = max(m, x)
        s = 0.0
        for k in range(n):
            e = math.exp(z[i, k] - m)
            O[i, k] = e
            s += e
        for k in range(n):
            O[i, k] = O[i, k] / s


# ------------------------------------------ delta = f'(z) * g;  db = sum over the batch of delta


@kernel
def identity_delta_db(g, delta, db):
    """delta = g;  db = sum_n delta."""
    B, n = g.shape
    db[:] = 0
    for i in range(B):
        for k in range(n):
            d = g[i, k]
            delta[i, k] = d
            db[k] += d


@kernel
def sigmoid_delta_db(O, g, delta, db):
    """delta = O (1 - O) g;  db = sum_n delta."""
    B, n = g.shape
    one = g.dtype.type(1)
    db[:] = 0
    for i in range(B):
        for k in range(n):
            d = O[i, k] * (one - O[i, k]) * g[i, k]
            delta[i, k] = d
            db[k] += d


@kernel
def tanh_delta_db(O, g, delta, db):
    """delta = (1 - O^2) g;  db = sum_n delta."""
    B, n = g.shape
    one = g.dtype.type(1)
    db[:] = 0
    for i in range(B):
        for k in range(n):
            o = O[i, k]
            d = (one - o * o) * g[i, k]
            delta[i, k] = d
            db[k] += d


@kernel
def relu_delta_db(z, g, delta, db):
    """delta = g if z >= 0 else 0 (relu'(0) = 1);  db = sum_n delta."""
    B, n = g.shape
    zero = g.dtype.type(0)  # a literal 0.0 would turn float32 into float64
    db[:] = 0
    for i in range(B):
        for k in range(n):
            d = g[i, k] if z[i, k] >= 0 else zero
            delta[i, k] = d
            db[k] += d


@kernel
def leaky_relu_delta_db(z, g, alpha, delta, db):
    """delta = g if z >= 0 else alpha g;  db = sum_n delta."""
    B, n = g.shape
    db[:] = 0
    for i in range(B):
        for k in range(n):
            d = g[i, k] if z[i, k] >= 0 else alpha * g[i, k]
            delta[i, k] = d
            db[k] += d


@kernel
def softmax_delta_db(p, g, delta, db):
    """delta_j = p_j (g_j - sum_i g_i p_i);  db = sum_n delta."""
    B, n = g.shape
    db[:] = 0
    for i in range(B):
        gp = 0.0
        for k in range(n):
            gp += g[i, k] * p[i, k]
        for k in range(n):
            d = p[i, k] * (g[i, k] - gp)
            delta[i, k] = d
            db[k] += d


# ------------------------------------------------------------- losses: return E, write dE/dO


@kernel
def exp_shifted_row(z, e):
    """e_k = exp(z_k - m) with m = max_k z_k, for one row z; returns (m, sum_k e_k), the
    numerator and denominator of softmax(z), with no exponential overflowing."""
    m = -np.inf
    for k in range(z.size):
        m = max(m, z[k])
    s = 0.0
    for k in range(z.size):
        x = math.exp(z[k] - m)
        e[k] = x
        s += x
    return m, s


@kernel
def softmax_cross_entropy_labels(z, labels, delta):
    """E = 1/B sum_n (logsumexp(z_n) - z_n[t_n]);  delta = (p - onehot(t)) / B."""
    B, n = z.shape
    E = 0.0
    for i in range(B):
        m, s = exp_shifted_row(z[i], delta[i])  # delta_n = exp(z_n - m), s = sum of them
        E += math.log(s) - (z[i, labels[i]] - m)
        scale = 1.0 / (s * B)
        for k in range(n):
            delta[i, k] = delta[i, k] * scale
        delta[i, labels[i]] -= 1.0 / B
    return E / B


@kernel
def softmax_cross_entropy_dense(z, t, delta):
    """E = 1/B sum_n sum_k t_k (logsumexp(z_n) - z_k);  delta = (p sum_k t_k - t) / B."""
    B, n = z.shape
    E = 0.0
    for i in range(B):
        m, s = exp_shifted_row(z[i], delta[i])  # delta_n = exp(z_n - m), s = sum of them
        log_s = math.log(s)
        t_sum = 0.0
        for k in range(n):
            t_sum += t[i, k]
            E -= t[i, k] * ((z[i, k] - m) - log_s)
        for k in range(n):
            delta[i, k] = (delta[i, k] / s * t_sum - t[i, k]) / B
    return E / B


@kernel
def squared_error(O, t, c, dE_dO):
    """E = c sum (O - t)^2;  dE/dO = 2 c (O - t)."""
    B, n = O.shape
    E = 0.0
    for i in range(B):
        for k in range(n):
            diff = O[i, k] - t[i, k]
            dE_dO[i, k] = 2 * c * diff
            E += diff * diff
    return c * E


@kernel
def sigmoid_mse_delta_db(O, t, c, delta, db):
    """delta = O (1 - O) 2c (O - t), i.e. delta_k = O_k (1 - O_k)(O_k - t_k) / B for the
    half-sum MSE (c = 1/(2B));  db = sum_n delta. One pass instead of dE/dO then f'."""
    B, n = O.shape
    one = O.dtype.type(1)
    cast = O.dtype.type
    db[:] = 0
    for i in range(B):
        for k in range(n):
            o = O[i, k]
            d = o * (one - o) * cast(2 * c * (o - t[i, k]))  # O (1 - O) dE/dO
            delta[i, k] = d
            db[k] += d


@kernel
def binary_cross_entropy(O, t, c, eps, dE_dO):
    """E = -c sum [t log O + (1 - t) log(1 - O)], O clipped to [eps, 1 - eps];
    dE/dO = c (O - t) / (O (1 - O))."""
    B, n = O.shape
    E = 0.0
    for i in range(B):
        for k in range(n):
            o = min(max(O[i, k], eps), 1 - eps)
            dE_dO[i, k] = c * (o - t[i, k]) / (o * (1 - o))
            E -= t[i, k] * math.log(o) + (1 - t[i, k]) * math.log(1 - o)
    return c * E


@kernel
def sigmoid_cross_entropy_logits(z, t, c, dE_dz):
    """E = c sum [max(z, 0) - z t + log(1 + exp(-|z|))];  dE/dz = c (sigmoid(z) - t)."""
    B, n = z.shape
    E = 0.0
    for i in range(B):
        for k in range(n):
            x = z[i, k]
            e = math.exp(-abs(x))
            sigma = 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)
            dE_dz[i, k] = c * (sigma - t[i, k])
            E += max(x, 0.0) - x * t[i, k] + math.log1p(e)
    return c * E


# ---------------------------------------------- optimizer updates, in place on flat 1-D views
# Decaying state (momentum, RMSProp's s, Adam's m and v) is flushed to 0
# below ``tiny``, the smallest normal float, as flush-to-zero hardware would do: a weight
# whose gradient stays 0 (a border pixel's) lets its state decay into the subnormal range,
# where every operation costs ~100 cycles, and the flushed value moves no weight by even
# one ulp. The flush is a select, which keeps the loop vectorised: it costs no measurable
# time, where a multiply by the mask |x| >= tiny does (docs/performance.md).


@kernel
def sgd_step(w, g, lr):
    """w <- w - eta g."""
    for i in range(w.size):
        w[i] -= lr * g[i]


@kernel
def momentum_step(w, g, v, lr, mu, nesterov, tiny):
    """v <- mu v - eta g;  w <- w + v, or w <- w + mu v - eta g (Nesterov)."""
    zero = w.dtype.type(0)
    for i in range(w.size):
        vi = mu * v[i] - lr * g[i]
        vi = zero if abs(vi) < tiny else vi  # subnormal -> 0; NaN stays NaN
        v[i] = vi
        if nesterov:
            w[i] += mu * vi - lr * g[i]
        else:
            w[i] += vi


@kernel
def rmsprop_step(w, g, s, hyper):
    """s <- rho s + (1 - rho) g^2;  w <- w - eta g / (sqrt(s) + eps).

    ``hyper`` is (eta, rho, 1 - rho, eps, tiny) in the arrays' dtype.
    """
    lr, rho, one_minus_rho, eps, tiny = hyper
    zero = w.dtype.type(0)
    for i in range(w.size):
        si = rho * s[i] + one_minus_rho * (g[i] * g[i])
        si = zero if si < tiny else si  # subnormal -> 0
        s[i] = si
        w[i] -= lr * g[i] / (math.sqrt(si) + eps)


@kernel
def adagrad_step(w, g, s, lr, eps):
    """s <- s + g^2;  w <- w - eta g / (sqrt(s) + eps)."""
    for i in range(w.size):
        si = s[i] + g[i] * g[i]
        s[i] = si
        w[i] -= lr * g[i] / (math.sqrt(si) + eps)


@kernel
def adam_step(w, g, m, v, hyper):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    w <- w - eta (m c1) / (sqrt(v c2) + eps), with c1 = 1/(1 - b1^t), c2 = 1/(1 - b2^t).

    ``hyper`` is (eta, b1, 1 - b1, b2, 1 - b2, eps, c1, c2, tiny) in the arrays' dtype
    (see ``backprop.core.optim.Adam.hyper``), so float32 arithmetic stays float32.
    """
    lr, b1, one_minus_b1, b2, one_minus_b2, eps, c1, c2, tiny = hyper
    zero = w.dtype.type(0)
    for i in range(w.size):
        gi = g[i]
        mi = b1 * m[i] + one_minus_b1 * gi
        vi = b2 * v[i] + one_minus_b2 * (gi * gi)
        mi = zero if abs(mi) < tiny else mi  # subnormal -> 0; NaN stays NaN
        vi = zero if vi < tiny else vi
        m[i] = mi
        v[i] = vi
        w[i] -= lr * (mi * c1) / (np.sqrt(vi * c2) + eps)


@kernel
def keras_rmsprop_step(w, g, s, hyper):
    """s <- rho s + (1 - rho) g^2;  w <- w - eta g / sqrt(s + eps)  (Keras: eps under the root).

    ``hyper`` is (eta, rho, 1 - rho, eps, tiny) in the arrays' dtype.
    """
    lr, rho, one_minus_rho, eps, tiny = hyper
    zero = w.dtype.type(0)
    for i in range(w.size):
        si = rho * s[i] + one_minus_rho * (g[i] * g[i])
        si = zero if si < tiny else si  # subnormal -> 0
        s[i] = si
        w[i] -= lr * g[i] / math.sqrt(si + eps)


@kernel
def keras_adam_step(w, g, m, v, hyper):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  w <- w - eta_t m / (sqrt(v) + eps),
    with eta_t = eta sqrt(1 - b2^t) / (1 - b1^t)  (Keras: eps beside the uncorrected sqrt(v)).

    ``hyper`` is (eta_t, b1, 1 - b1, b2, 1 - b2, eps, tiny) in the arrays' dtype
    (see ``backprop.core.optim.KerasAdam.hyper``).
    """
    lr_t, b1, one_minus_b1, b2, one_minus_b2, eps, tiny = hyper
    zero = w.dtype.type(0)
    for i in range(w.size):
        gi = g[i]
        mi = b1 * m[i] + one_minus_b1 * gi
        vi = b2 * v[i] + one_minus_b2 * (gi * gi)
        mi = zero if abs(mi) < tiny else mi  # subnormal -> 0; NaN stays NaN
        vi = zero if vi < tiny else vi
        m[i] = mi
        v[i] = vi
        w[i] -= lr_t * mi / (np.sqrt(vi) + eps)


# ------------------------------------------------------------------------------------ data


@kernel
def gather_scaled(images, index, divisor, out):
    """out[i] = images[index[i]] / divisor: a uint8 batch to floats in one pass."""
    B, D = out.shape
    for i in range(B):
        row = index[i]
        for j in range(D):
            out[i, j] = images[row, j] / divisor
