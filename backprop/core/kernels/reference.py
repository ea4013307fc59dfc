"""Plain NumPy twins of the numba kernels: the readable reference.

Every function here has the signature of the numba kernel of the same name in
``jit.py`` and writes into the output arrays the caller supplies. The tests compare the
two backends on ordinary and extreme inputs, and this backend is what
``BACKPROP_BACKEND=numpy`` runs.

Conventions (both backends): a batch is a C-contiguous (B, n) array of rows; ``z`` is
the net input z_k = sum_j O_j W_jk + b_k, ``O`` the output f(z), ``g`` the upstream
gradient dE/dO, ``delta`` = dE/dz. Scalars reach a kernel already cast to the arrays'
dtype, so float32 stays float32.
"""
import numpy as np


# ---------------------------------------------------------------- forward: z += b; O = f(z)


def add_bias_identity(z, b, O):
    """z += b;  O = z."""
    z += b
    if O is not z:
        O[...] = z


def add_bias_sigmoid(z, b, O):
    """z += b;  O = 1 / (1 + exp(-z)), written so exp never overflows."""
    z += b
    e = np.exp(-np.abs(z))  # exp(-z) for z >= 0, exp(z) for z < 0
    O[...] = np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def add_bias_tanh(z, b, O):
    """z += b;  O = tanh(z)."""
    z += b
    np.tanh(z, out=O)


def add_bias_relu(z, b, O):
    """z += b;  O = max(z, 0)."""
    z += b
    np.maximum(z, 0, out=O)


def add_bias_leaky_relu(z, b, alpha, O):
    """z += b;  O = z if z >= 0 else alpha z."""
    z += b
    O[...] = np.where(z >= 0, z, alpha * z)


def add_bias_softmax(z, b, O):
    """z += b;  O_i = exp(z_i - max z) / sum_j exp(z_j - max z), row by row."""
    z += b
    e = np.exp(z - z.max(axis=1, keepdims=True))
    O[...] = e / e.sum(axis=1, keepdims=True)


# ------------------------------------------ delta = f'(z) * g;  db = sum over the batch of delta


def identity_delta_db(g, delta, db):
    """delta = g;  db = sum_n delta."""
    delta[...] = g
    delta.sum(axis=0, out=db)


def sigmoid_delta_db(O, g, delta, db):
    """delta = O (1 - O) g;  db = sum_n delta."""
    delta[...] = O * (1 - O) * g
    delta.sum(axis=0, out=db)


def tanh_delta_db(O, g, delta, db):
    """delta = (1 - O^2) g;  db = sum_n delta."""
    delta[...] = (1 - O * O) * g
    delta.sum(axis=0, out=db)


def relu_delta_db(z, g, delta, db):
    """delta = g if z >= 0 else 0 (relu'(0) = 1);  db = sum_n delta."""
    delta[...] = np.where(z >= 0, g, 0)
    delta.sum(axis=0, out=db)


def leaky_relu_delta_db(z, g, alpha, delta, db):
    """delta = g if z >= 0 else alpha g;  db = sum_n delta."""
    delta[...] = np.where(z >= 0, g, alpha * g)
    delta.sum(axis=0, out=db)


def softmax_delta_db(p, g, delta, db):
    """delta_j = sum_i g_i p_i (delta_ij - p_j) = p_j (g_j - sum_i g_i p_i);  db = sum_n delta."""
    delta[...] = p * (g - (g * p).sum(axis=1, keepdims=True))
    delta.sum(axis=0, out=db)


# ------------------------------------------------------------- losses: return E, write dE/dO


def softmax_cross_entropy_labels(z, labels, delta):
    """E = 1/B sum_n (logsumexp(z_n) - z_n[t_n]);  delta = (p - onehot(t)) / B."""
    B = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(B)
    E = float(np.sum(np.log(s[:, 0]).astype(np.float64) - shifted[rows, labels]) / B)
    delta[...] = e / (s * B)
    delta[rows, labels] -= 1 / B
    return E


def softmax_cross_entropy_dense(z, t, delta):
    """E = 1/B sum_n sum_k t_k (logsumexp(z_n) - z_k);  delta = (p sum_k t_k - t) / B."""
    B = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    log_p = shifted - np.log(s)
    E = float(-np.sum((t * log_p).astype(np.float64)) / B)
    delta[...] = (e / s * t.sum(axis=1, keepdims=True) - t) / B
    return E


def squared_error(O, t, c, dE_dO):
    """E = c sum (O - t)^2;  dE/dO = 2 c (O - t)."""
    diff = O - t
    dE_dO[...] = (2 * c) * diff
    return float(c * np.sum((diff * diff).astype(np.float64)))


def sigmoid_mse_delta_db(O, t, c, delta, db):
    """The derivation's output delta, fused: sigmoid outputs O with E = c sum (O - t)^2
    (c = 1/(2B), the half-sum MSE): delta = O (1 - O) 2c (O - t), i.e.
    delta_k = O_k (1 - O_k)(O_k - t_k) / B;  db = sum_n delta."""
    dE_dO = ((2 * c) * (O - t)).astype(O.dtype)
    delta[...] = O * (1 - O) * dE_dO
    delta.sum(axis=0, out=db)


def binary_cross_entropy(O, t, c, eps, dE_dO):
    """E = -c sum [t log O + (1 - t) log(1 - O)], O clipped to [eps, 1 - eps];
    dE/dO = c (O - t) / (O (1 - O))."""
    Oc = np.clip(O, eps, 1 - eps)
    dE_dO[...] = c * (Oc - t) / (Oc * (1 - Oc))
    terms = t * np.log(Oc) + (1 - t) * np.log(1 - Oc)
    return float(-c * np.sum(terms.astype(np.float64)))


def sigmoid_cross_entropy_logits(z, t, c, dE_dz):
    """E = c sum [max(z, 0) - z t + log(1 + exp(-|z|))];  dE/dz = c (sigmoid(z) - t)."""
    e = np.exp(-np.abs(z))
    sigma = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    dE_dz[...] = c * (sigma - t)
    terms = np.maximum(z, 0) - z * t + np.log1p(e)
    return float(c * np.sum(terms.astype(np.float64)))


# ---------------------------------------------- optimizer updates, in place on flat 1-D views
# Decaying state is flushed to 0 below ``tiny`` (the smallest normal float), as in the
# numba kernels: see jit.py for why.


def flush_to_zero(a, tiny):
    """a[|a| < tiny] = 0, as a multiply by the mask |a| >= tiny (NaN stays NaN)."""
    a *= np.abs(a) >= tiny


def sgd_step(w, g, lr):
    """w <- w - eta g."""
    w -= lr * g


def momentum_step(w, g, v, lr, mu, nesterov, tiny):
    """v <- mu v - eta g;  w <- w + v, or w <- w + mu v - eta g (Nesterov)."""
    v[...] = mu * v - lr * g
    flush_to_zero(v, tiny)
    if nesterov:
        w += mu * v - lr * g
    else:
        w += v


def rmsprop_step(w, g, s, hyper):
    """s <- rho s + (1 - rho) g^2;  w <- w - eta g / (sqrt(s) + eps).

    ``hyper`` is (eta, rho, 1 - rho, eps, tiny) in the arrays' dtype.
    """
    lr, rho, one_minus_rho, eps, tiny = hyper
    s[...] = rho * s + one_minus_rho * (g * g)
    flush_to_zero(s, tiny)
    w -= lr * g / (np.sqrt(s) + eps)


def adagrad_step(w, g, s, lr, eps):
    """s <- s + g^2;  w <- w - eta g / (sqrt(s) + eps)."""
    s += g * g
    w -= lr * g / (np.sqrt(s) + eps)


def adam_step(w, g, m, v, hyper):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    w <- w - eta (m c1) / (sqrt(v c2) + eps), with c1 = 1/(1 - b1^t), c2 = 1/(1 - b2^t).

    ``hyper`` is (eta, b1, 1 - b1, b2, 1 - b2, eps, c1, c2, tiny) in the arrays' dtype
    (see ``backprop.core.optim.Adam.hyper``).
    """
    lr, b1, one_minus_b1, b2, one_minus_b2, eps, c1, c2, tiny = hyper
    m[...] = b1 * m + one_minus_b1 * g
    v[...] = b2 * v + one_minus_b2 * (g * g)
    flush_to_zero(m, tiny)
    flush_to_zero(v, tiny)
    w -= lr * (m * c1) / (np.sqrt(v * c2) + eps)


def keras_rmsprop_step(w, g, s, hyper):
    """s <- rho s + (1 - rho) g^2;  w <- w - eta g / sqrt(s + eps)  (Keras: eps under the root).

    ``hyper`` is (eta, rho, 1 - rho, eps, tiny) in the arrays' dtype.
    """
    lr, rho, one_minus_rho, eps, tiny = hyper
    s[...] = rho * s + one_minus_rho * (g * g)
    flush_to_zero(s, tiny)
    w -= lr * g / np.sqrt(s + eps)


def keras_adam_step(w, g, m, v, hyper):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  w <- w - eta_t m / (sqrt(v) + eps),
    with eta_t = eta sqrt(1 - b2^t) / (1 - b1^t)  (Keras: eps beside the uncorrected sqrt(v)).

    ``hyper`` is (eta_t, b1, 1 - b1, b2, 1 - b2, eps, tiny) in the arrays' dtype
    (see ``backprop.core.optim.KerasAdam.hyper``).
    """
    lr_t, b1, one_minus_b1, b2, one_minus_b2, eps, tiny = hyper
    m[...] = b1 * m + one_minus_b1 * g
    v[...] = b2 * v + one_minus_b2 * (g * g)
    flush_to_zero(m, tiny)
    flush_to_zero(v, tiny)
    w -= lr_t * m / (np.sqrt(v) + eps)


# ------------------------------------------------------------------------------------ data


def gather_scaled(images, index, divisor, out):
    """out[i] = images[index[i]] / divisor: a uint8 batch to floats in one pass.

    ``divisor`` has out's dtype (255 for pixels), so both backends divide in that dtype.
    """
    np.divide(images[index], divisor, out=out)
