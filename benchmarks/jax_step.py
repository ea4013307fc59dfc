"""The JAX peer's maths: its initial weights, its one jitted training step, its forward pass.

The engine in ``engines.py`` (name "jax") only gathers batches and times epochs; what it
trains is here, so a test can run one step on a tiny network and compare it with the
same update computed in float64 NumPy. The network and the update are the other
engines':

    z_l = O_{l-1} @ W_l + b_l,  O_l = relu(z_l) for hidden layers, logits z_L at the end
    E = mean over the batch of (logsumexp(z_L) - z_L[y])      softmax cross-entropy
    g = dE/dtheta by jax.grad, then Adam on every W_l and b_l:
        m <- b1 m + (1 - b1) g;    v <- b2 v + (1 - b2) g^2
        theta <- theta - eta (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

with b1 = 0.9, b2 = 0.999, eps = 1e-8. Forward, loss, gradient and Adam are one
``jax.jit`` whose parameters, m, v and t are donated, so XLA updates them in place and
a step costs one dispatch. The step takes the batch as uint8 pixels (B, n_in) and class
labels (B,) gathered on the host, and scales by 1/255 inside the compiled step.

Weights: He-normal, W_jk ~ N(0, 2 / n_in), biases 0 (backprop's default for ReLU), drawn
from ``jax.random.key(seed)``: the same distribution as backprop's, not the same numbers
(the engines never share weights). Everything is float32 on the CPU.

Import this module only after the thread counts are pinned (``pin_thread_env``): XLA
sizes its CPU thread pool once, when the first computation creates its client.
"""
import jax
import jax.numpy as jnp

jax.config.update("jax_platforms", "cpu")  # never a GPU or TPU, even where one is present
jax.config.update("jax_enable_x64", False)  # float32 (JAX's default, stated)

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def init(sizes, seed):
    """He-normal weights and zero biases: a list of (W (n_in, n_out), b (n_out,)), float32."""
    keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
    return [(jax.random.normal(key, (n_in, n_out), jnp.float32) * jnp.sqrt(2.0 / n_in),
             jnp.zeros(n_out, jnp.float32))
            for key, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])]


def logits(params, x_u8):
    """z_L of uint8 images (B, n_in): ReLU after every layer but the last."""
    O = x_u8.astype(jnp.float32) / 255
    for W, b in params[:-1]:
        O = jax.nn.relu(O @ W + b)
    W, b = params[-1]
    return O @ W + b


def loss(params, x_u8, y):
    """E = mean over the batch of logsumexp(z) - z[y] (softmax cross-entropy of logits)."""
    z = logits(params, x_u8)
    picked = jnp.take_along_axis(z, y[:, None], axis=1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(z, axis=1) - picked)


def make_step(lr):
    """The jitted step (params, m, v, t, x_u8, y) -> (params, m, v, t), Adam with eta = lr.

    params, m and v are lists of (W, b); t is the int32 step count before this step (0
    at the start). The first four arguments are donated: do not use them after a call.
    """
    def step(params, m, v, t, x_u8, y):
        g = jax.grad(loss)(params, x_u8, y)
        t = t + 1
        tf = t.astype(jnp.float32)
        correction1, correction2 = 1 - BETA1 ** tf, 1 - BETA2 ** tf
        m = jax.tree.map(lambda m, g: BETA1 * m + (1 - BETA1) * g, m, g)
        v = jax.tree.map(lambda v, g: BETA2 * v + (1 - BETA2) * g * g, v, g)
        params = jax.tree.map(
            lambda p, m, v: p - lr * (m / correction1) / (jnp.sqrt(v / correction2) + EPS),
            params, m, v)
        return params, m, v, t

    return jax.jit(step, donate_argnums=(0, 1, 2, 3))


@jax.jit
def predict(params, x_u8):
    """Predicted classes of uint8 images (B, n_in): argmax of the logits."""
    return jnp.argmax(logits(params, x_u8), axis=1)


def zeros_like(params):
    """Adam's m or v at the start: zeros shaped as ``params``."""
    return jax.tree.map(jnp.zeros_like, params)


def copy(tree):
    """A copy of every array of ``tree``, for a throwaway (donated) warm-up step."""
    return jax.tree.map(jnp.copy, tree)
