"""Sequential: a stack of layers, with the whole network's forward and backward.

forward runs O^(l) = f_l(O^(l-1) W^(l) + b^(l)) up the stack; backward runs the delta
rule down it: each layer turns dE/dO^(l) into its delta, dW, db and dE/dO^(l-1), which is
the next layer's upstream gradient (the first layer skips dE/dx, nobody needs it).
The layers are Dense or any other ``bp.Layer`` (the protocol in ``backprop.core.layers``).
The model owns its weights in one flat vector, ``params`` = theta = [W1, b1, W2, b2, ...],
and their gradients in another, ``grads`` = dE/dtheta: every layer's parameters (the
attributes its ``param_names`` names: W, b) and gradients (dW, db) are rebound to views
into them. An optimizer updates theta in one pass (``bp.Adam(model.params)``,
``opt.step(model.grads)``) and a gradient check perturbs it directly;
``named_params()`` gives the layers' arrays by name (W1, b1, ...), as a model file stores
them (the file format is the application's: ``bp.save_model``, ``bp.load_model``).
"""
import numpy as np

from .layers import FLOAT_DTYPES, Dense, Layer, warn_if_not_finite
from .losses import Loss


FORWARD_BATCH = "the batch given to Sequential.forward"  # what its NaN warning calls x


class Sequential:
    """A multilayer perceptron: layers applied in order.

    Parameters
    ----------
    layers : list of Layer
        Dense layers or any ``bp.Layer`` (the protocol in ``backprop.core.layers``). Consecutive
        layers must agree: layers[i].n_out == layers[i + 1].n_in, same dtype.
    """

    def __init__(self, layers):
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            _check_protocol(i, layer)
        for i, (below, above) in enumerate(zip(layers, layers[1:])):
            if below.n_out != above.n_in:
                raise ValueError(f"layer {i} has {below.n_out} outputs but layer {i + 1} "
                                 f"expects {above.n_in} inputs")
            if below.dtype != above.dtype:
                raise ValueError(f"layers {i} and {i + 1} differ in dtype "
                                 f"({below.dtype} vs {above.dtype})")
        self.layers = layers
        dtype = layers[0].dtype
        self.params = _pack(layers, "", dtype)       # theta = [W1, b1, W2, b2, ...], flat
        self.grads = _pack(layers, "d", dtype)       # dE/dtheta, aligned with params
        for i, layer in enumerate(layers):
            if not all(np.may_share_memory(p, self.params) for p in layer.params):
                raise ValueError(f"layer {i} ({type(layer).__name__}): its params must be the "
                                 f"attributes param_names names, which the model rebinds")

    @classmethod
    def mlp(cls, sizes, activation="relu", output_activation=None, rng=0, dtype=np.float32,
            init=None):
        """An MLP with the given layer sizes, e.g. [784, 256, 128, 64, 32, 10].

        Hidden layers use ``activation``; the last layer ``output_activation`` (None:
        identity, giving logits). One generator seeded with ``rng`` initialises all layers.
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            last = i == len(sizes) - 2
            layers.append(Dense(n_in, n_out, activation=output_activation if last else activation,
                                init=init, rng=rng, dtype=dtype))
        return cls(layers)

    @property
    def dtype(self):
        return self.layers[0].dtype

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[-1].n_out

    def named_params(self):
        """{"W1": W1, "b1": b1, "W2": ...}: the layers' arrays (views into ``params``)."""
        return {f"{name}{i}": p for i, layer in enumerate(self.layers, start=1)
                for name, p in zip(layer.param_names, layer.params)}

    def named_grads(self):
        """{"W1": dW1, "b1": db1, ...}: the layers' gradients (views into ``grads``)."""
        return {f"{name}{i}": g for i, layer in enumerate(self.layers, start=1)
                for name, g in zip(layer.param_names, layer.grads)}

    def n_params(self):
        return self.params.size

    def forward(self, x):
        """The network's output for a batch x (B, n_in); each layer caches for backward.

        A batch holding NaN or Inf gets an ``InputWarning``: one np.isfinite pass over x,
        a small part of a training step (docs/performance.md)."""
        warn_if_not_finite(x, FORWARD_BATCH)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, dE_dO, need_input_grad=False):
        """The delta rule down the stack, from dE/dO of the last layer's output.

        ``dE_dO`` is that array, or the loss whose forward just took the model's output
        (``model.backward(loss)``): then, where the loss and the output activation
        collapse, the output delta comes from one fused pass (sigmoid + half-sum MSE:
        delta_k = O_k (1 - O_k)(O_k - t_k) / B; see ``Loss.fused_delta``).
        Fills every layer's delta, dW and db. Returns dE/dx for the network input when
        ``need_input_grad`` is True, else None.
        """
        fused, last = None, self.layers[-1]
        if isinstance(dE_dO, Loss):
            # Dense's own backward takes the fused delta; any other (a subclass's too) is
            # called as the layer protocol states, with dE/dO
            if type(last).backward is Dense.backward:
                fused = dE_dO.fused_delta(last.activation)
            dE_dO = dE_dO.backward()
        need = need_input_grad or len(self.layers) > 1
        g = (last.backward(dE_dO, need, fused) if fused is not None
             else last.backward(dE_dO, need_input_grad=need))
        for i in range(len(self.layers) - 2, -1, -1):
            g = self.layers[i].backward(g, need_input_grad=need_input_grad or i > 0)
        return g

    def predict(self, x, batch_size=None):
        """The output for x without caching anything, in batches of ``batch_size`` rows."""
        if batch_size is None or batch_size >= len(x):
            for layer in self.layers:
                x = layer.predict(x)
            return x
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return np.concatenate([self.predict(x[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])

    # ------------------------------------------------------------------ description

    def config(self):
        return [layer.config() for layer in self.layers]

    def astype(self, dtype):
        """A copy of the model in ``dtype`` (float32 or float64): same architecture, the
        weights cast. ``bp.gradcheck(model.astype(np.float64), loss, x, t)`` checks a
        float32 model's gradients in float64, where central differences are accurate."""
        return type(self)([layer.astype(dtype) for layer in self.layers])

    def summary(self, print_fn=print):
        """A table like Keras's: layer, output shape, parameter count, total."""
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for i, layer in enumerate(self.layers):
            kind = type(layer).__name__
            if isinstance(layer, Dense):
                kind += f", {layer.activation.name}"
            rows.append((f"{type(layer).__name__.lower()}_{i + 1} ({kind})",
                         f"(None, {layer.n_out})", f"{sum(p.size for p in layer.params):,}"))
        widths = [max(len(r[c]) for r in rows) + 3 for c in range(3)]
        line = "".join(r.ljust(w) for r, w in zip(rows[0], widths))
        rule = "=" * len(line)
        text = [f'Model: "sequential" ({self.dtype.name})', rule, line, rule]
        for r in rows[1:]:
            text.append("".join(c.ljust(w) for c, w in zip(r, widths)))
        text += [rule, f"Total params: {self.n_params():,}", f"Trainable params: {self.n_params():,}",
                 "=" * len(line)]
        text = "\n".join(text)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self):
        return "Sequential([\n" + "".join(f"    {layer!r},\n" for layer in self.layers) + "])"


def _check_protocol(i, layer):
    """A ValueError naming what ``layer`` (layer ``i``) lacks of the layer protocol."""
    what = f"layer {i} ({type(layer).__name__})"
    if not isinstance(layer, Layer):
        raise ValueError(f"layer {i} must be a bp.Layer (Dense, or a subclass of bp.Layer "
                         f"that writes forward and backward: the layer protocol of "
                         f"backprop.layers), got {type(layer).__name__}")
    for label in ("n_in", "n_out"):
        n = getattr(layer, label)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{what} must set {label} to a positive integer, got {n!r}")
    if layer.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{what} must set dtype to float32 or float64, got {layer.dtype!r}")
    for name, p, g in zip(layer.param_names, layer.params, layer.grads):
        if not (isinstance(p, np.ndarray) and isinstance(g, np.ndarray) and p.shape == g.shape
                and p.dtype == g.dtype == layer.dtype):
            raise ValueError(f"{what}: {name} and d{name} must be arrays of the same shape, "
                             f"in the layer's dtype {np.dtype(layer.dtype)}")


def _pack(layers, prefix, dtype):
    """Move the parameters (``prefix`` "": W, b, ...) or their gradients ("d": dW, db, ...)
    of every layer, in order, into one new flat vector and rebind each layer's attribute
    to a view of its slice. Returns the vector."""
    names = [(layer, prefix + name) for layer in layers for name in layer.param_names]
    flat = np.empty(sum(getattr(layer, name).size for layer, name in names), dtype)
    start = 0
    for layer, name in names:
        a = getattr(layer, name)
        view = flat[start:start + a.size].reshape(a.shape)
        view[...] = a
        setattr(layer, name, view)
        start += a.size
    return flat


def split_like(flat, like):
    """Views of the 1-D ``flat`` shaped like the arrays ``like``, back to back."""
    views, start = [], 0
    for p in like:
        views.append(flat[start:start + p.size].reshape(p.shape))
        start += p.size
    return views
