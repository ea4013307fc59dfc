"""A whole-network NumPy oracle for the tests, written from the derivation, not from the package.

It imports nothing from ``backprop``: the tests hand it the layers' weights, and it
recomputes every quantity of the forward and backward pass in float64, as the equations
read (stumpy's tests/naive.py is the pattern). Row-vector convention, a batch of B rows:

    forward, layer l = 1..L:   x^(l) = O^(l-1) W^(l) + b^(l)     (code: z)
                               O^(l) = f_l(x^(l)),  O^(0) = the input batch
    loss:                      E = 1/B sum_n E_n(O^(L)_n, t_n),  g^(L) = dE/dO^(L)
    backward, l = L..1:        delta^(l) = f_l'(x^(l)) * g^(l)   (a vector-Jacobian product)
                               dE/dW^(l) = O^(l-1)^T delta^(l)   (dE/dW_jk = sum_n O_j delta_k)
                               dE/db^(l) = sum_n delta^(l)
                               g^(l-1) = dE/dO^(l-1) = delta^(l) W^(l)^T

Derivatives: identity' = 1; sigmoid' = s (1 - s); tanh' = 1 - tanh^2; relu'(x) = 1 for
x >= 0 else 0 (the derivation's convention at 0); leaky_relu'(x) = 1 for x >= 0 else alpha;
softmax: dp_i/dx_j = p_i (delta_ij - p_j), so delta = p * (g - sum_j g_j p_j) per row.

Losses (K outputs; the eps clipping is the package's, losses.py):
    mse_half_sum   E = 1/B sum_n 1/2 sum_k (O - t)^2          g = (O - t) / B
    mse_mean       E = 1/B sum_n 1/K sum_k (O - t)^2          g = 2 (O - t) / (B K)
    softmax_xent   from logits: p = softmax(O), E = -1/B sum t log p,
                   g = (p sum_k t_k - t) / B                  (= (p - t) / B for one-hot t)
    categorical_xent  on probabilities, p' = clip(O, eps, 1): E = -1/B sum t log p',
                   g = -t / (p' B)
    binary_xent    on probabilities, O' = clip(O, eps, 1 - eps):
                   E = -1/(B K) sum [t log O' + (1 - t) log(1 - O')],
                   g = (O' - t) / (O' (1 - O') B K)
    binary_xent_logits  s = sigmoid(O): E = 1/(B K) sum [t log(1 + e^-O) + (1 - t) log(1 + e^O)],
                   g = (s - t) / (B K)
"""
import numpy as np


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))            # 1 / (1 + e^-x), without overflow


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# name -> (f(x), delta(x, g) = f'(x) * g); ``alpha`` is leaky_relu's slope below 0
ACTIVATIONS = {
    "identity": (lambda x, a: x, lambda x, g, a: g),
    "sigmoid": (lambda x, a: _sigmoid(x), lambda x, g, a: _sigmoid(x) * (1 - _sigmoid(x)) * g),
    "tanh": (lambda x, a: np.tanh(x), lambda x, g, a: (1 - np.tanh(x) ** 2) * g),
    "relu": (lambda x, a: np.where(x >= 0, x, 0.0), lambda x, g, a: np.where(x >= 0, 1.0, 0.0) * g),
    "leaky_relu": (lambda x, a: np.where(x >= 0, x, a * x),
                   lambda x, g, a: np.where(x >= 0, 1.0, a) * g),
    "softmax": (lambda x, a: _softmax(x),
                lambda x, g, a: _softmax(x) * (g - (g * _softmax(x)).sum(axis=1, keepdims=True))),
}


def loss(name, O, t, eps=1e-7):
    """(E, dE/dO) of the loss ``name`` (see the module docstring) in float64."""
    O, t = np.asarray(O, np.float64), np.asarray(t, np.float64)
    B, K = O.shape
    if name == "mse_half_sum":
        return np.sum(0.5 * (O - t) ** 2) / B, (O - t) / B
    if name == "mse_mean":
        return np.sum((O - t) ** 2) / (B * K), 2 * (O - t) / (B * K)
    if name == "softmax_xent":
        p = _softmax(O)
        return -np.sum(t * np.log(p)) / B, (p * t.sum(axis=1, keepdims=True) - t) / B
    if name == "categorical_xent":
        p = np.clip(O, eps, 1.0)
        return -np.sum(t * np.log(p)) / B, -t / (p * B)
    if name == "binary_xent":
        Oc = np.clip(O, eps, 1 - eps)
        E = -np.sum(t * np.log(Oc) + (1 - t) * np.log(1 - Oc)) / (B * K)
        return E, (Oc - t) / (Oc * (1 - Oc) * B * K)
    if name == "binary_xent_logits":
        E = np.sum(t * np.logaddexp(0.0, -O) + (1 - t) * np.logaddexp(0.0, O)) / (B * K)
        return E, (_sigmoid(O) - t) / (B * K)
    raise ValueError(f"unknown loss {name!r}")


def forward(layers, x, alpha=0.2):
    """z^(l) and O^(l) of every layer (lists of L arrays), for layers [(W, b, name), ...]."""
    zs, Os, O = [], [], np.asarray(x, np.float64)
    for W, b, name in layers:
        z = O @ np.asarray(W, np.float64) + np.asarray(b, np.float64)   # x = O_prev W + b
        O = ACTIVATIONS[name][0](z, alpha)                               # O = f(x)
        zs.append(z)
        Os.append(O)
    return zs, Os


def backward(layers, x, g, alpha=0.2):
    """Every layer's z, O, dE/dO, delta, dW, db and dE/dx, from g = dE/dO of the last layer."""
    zs, Os = forward(layers, x, alpha)
    inputs = [np.asarray(x, np.float64)] + Os[:-1]                      # O^(l-1)
    g = np.asarray(g, np.float64)
    L = len(layers)
    out = {"z": zs, "O": Os, "dE_dO": [None] * L, "delta": [None] * L, "dW": [None] * L,
           "db": [None] * L}
    for l in range(L - 1, -1, -1):
        W, _, name = layers[l]
        out["dE_dO"][l] = g
        delta = ACTIVATIONS[name][1](zs[l], g, alpha)                   # delta = f'(x) * g
        out["delta"][l] = delta
        out["dW"][l] = inputs[l].T @ delta                               # dE/dW = O_prev^T delta
        out["db"][l] = delta.sum(axis=0)                                 # dE/db = sum_n delta
        g = delta @ np.asarray(W, np.float64).T                          # dE/dO_prev = delta W^T
    out["dE_dx"] = g
    return out


def network(layers, x, t, loss_name, alpha=0.2, eps=1e-7):
    """backward's dict for the loss ``loss_name`` on targets t, with the loss E added."""
    _, Os = forward(layers, x, alpha)
    E, g = loss(loss_name, Os[-1], t, eps)
    out = backward(layers, x, g, alpha)
    out["E"] = float(E)
    return out
