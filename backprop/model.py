"""Sequential: a stack of Dense layers, with the whole network's forward and backward.

forward runs O^(l) = f_l(O^(l-1) W^(l) + b^(l)) up the stack; backward runs the delta
rule down it: each layer turns dE/dO^(l) into its delta, dW, db and dE/dO^(l-1), which is
the next layer's upstream gradient (the first layer skips dE/dx, nobody needs it).
``params`` and ``grads`` are aligned lists [W1, b1, W2, b2, ...] and [dW1, db1, ...] of the
layers' own arrays, so an optimizer that updates ``params`` in place updates the model.
All of them live back to back in two flat vectors, ``theta`` and ``grad_theta`` (the
layers' W, b, dW, db are views into them): an optimizer then updates every weight in one
pass, and a gradient check perturbs theta directly.
"""
import json
import os
import tempfile

import numpy as np

from .activations import get_activation
from .layers import Dense, check_dtype

FORMAT = "backprop.model"
FORMAT_VERSION = 1


class Sequential:
    """A multilayer perceptron: layers applied in order.

    Parameters
    ----------
    layers : list of Dense
        Consecutive layers must agree: layers[i].n_out == layers[i + 1].n_in, same dtype.
    """

    def __init__(self, layers):
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise ValueError(f"layer {i} must be a Dense layer, got {type(layer).__name__}")
        for i, (below, above) in enumerate(zip(layers, layers[1:])):
            if below.n_out != above.n_in:
                raise ValueError(f"layer {i} has {below.n_out} outputs but layer {i + 1} "
                                 f"expects {above.n_in} inputs")
            if below.dtype != above.dtype:
                raise ValueError(f"layers {i} and {i + 1} differ in dtype "
                                 f"({below.dtype} vs {above.dtype})")
        self.layers = layers
        self.theta = _pack(layers, ("W", "b"))
        self.grad_theta = _pack(layers, ("dW", "db"))

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

    @property
    def params(self):
        """[W1, b1, W2, b2, ...]: the layers' own arrays."""
        return [p for layer in self.layers for p in layer.params]

    @property
    def grads(self):
        """[dW1, db1, dW2, db2, ...], aligned with ``params``."""
        return [g for layer in self.layers for g in layer.grads]

    @property
    def param_names(self):
        return [f"{name}{i + 1}" for i in range(len(self.layers)) for name in ("W", "b")]

    def n_params(self):
        return sum(p.size for p in self.params)

    def forward(self, x):
        """The network's output for a batch x (B, n_in); each layer caches for backward."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, dE_dO, need_input_grad=False):
        """The delta rule down the stack, from dE/dO of the last layer's output.

        Fills every layer's delta, dW and db. Returns dE/dx for the network input when
        ``need_input_grad`` is True, else None.
        """
        g = dE_dO
        for i in range(len(self.layers) - 1, -1, -1):
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

    def summary(self, print_fn=print):
        """A table like Keras's: layer, output shape, parameter count, total."""
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for i, layer in enumerate(self.layers):
            rows.append((f"dense_{i + 1} (Dense, {layer.activation.name})",
                         f"(None, {layer.n_out})", f"{layer.W.size + layer.b.size:,}"))
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

    # ------------------------------------------------------------------ save / load

    def state_arrays(self):
        """The weights and the architecture as a dict of arrays (no Python objects)."""
        arrays = {"format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION),
                  "config": np.array(json.dumps(self.config()))}
        for name, p in zip(self.param_names, self.params):
            arrays[name] = p
        return arrays

    def save(self, path):
        """Write the model to an .npz file (written to a temporary file, then renamed)."""
        save_npz_atomic(path, self.state_arrays())

    @classmethod
    def from_arrays(cls, arrays, source="arrays"):
        """Rebuild a model from ``state_arrays`` output, checking format and shapes."""
        check_format(arrays, FORMAT, FORMAT_VERSION, source, "model")
        try:
            config = json.loads(str(arrays["config"]))
        except (KeyError, ValueError) as error:
            raise ValueError(f"{source} is not a backprop model file ({error})") from None
        layers = []
        for i, c in enumerate(config):
            W = arrays.get(f"W{i + 1}")
            b = arrays.get(f"b{i + 1}")
            if W is None or b is None:
                raise ValueError(f"{source} lacks the weights of layer {i + 1}")
            if W.shape != (c["n_in"], c["n_out"]) or b.shape != (c["n_out"],):
                raise ValueError(f"{source}: layer {i + 1} weights have shapes {W.shape} and "
                                 f"{b.shape}, expected ({c['n_in']}, {c['n_out']}) and ({c['n_out']},)")
            first = arrays["W1"].dtype
            if first not in (np.float32, np.float64) or W.dtype != first or b.dtype != first:
                raise ValueError(f"{source}: layer {i + 1} weights are {W.dtype} and {b.dtype}; "
                                 f"a model's weights are all float32 or all float64 "
                                 f"(layer 1: {first})")
            activation = dict(c["activation"])
            layer = Dense(c["n_in"], c["n_out"],
                          activation=get_activation(activation.pop("name"), **activation),
                          init=c.get("init"), dtype=check_dtype(W.dtype))
            layer.W[...] = W
            layer.b[...] = b
            layers.append(layer)
        return cls(layers)

    @classmethod
    def load(cls, path):
        """Read a model written by ``save``."""
        return cls.from_arrays(load_npz(path), source=str(path))


def _pack(layers, names):
    """Move the arrays ``names`` of every layer, in order, into one new flat vector and
    make each layer's attribute a view of its slice. Returns the vector."""
    arrays = [getattr(layer, name) for layer in layers for name in names]
    flat = np.empty(sum(a.size for a in arrays), arrays[0].dtype)
    start = 0
    for layer in layers:
        for name in names:
            a = getattr(layer, name)
            view = flat[start:start + a.size].reshape(a.shape)
            view[...] = a
            setattr(layer, name, view)
            start += a.size
    return flat


def check_format(arrays, expected, version, source, what):
    """Check the "format" and "format_version" entries of a file's arrays; ValueError in
    words (naming ``source``, a "model" or "checkpoint" file) if they are missing or differ."""
    try:
        found, found_version = str(arrays["format"]), int(arrays["format_version"])
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"{source} is not a backprop {what} file (no format entry)") from None
    if found != expected:
        raise ValueError(f"{source} is not a backprop {what} file (format {found!r})")
    if found_version != version:
        raise ValueError(f"{source} has {what} format version {found_version}; this version "
                         f"of backprop reads version {version}")


def split_like(flat, like):
    """Views of the 1-D ``flat`` shaped like the arrays ``like``, back to back."""
    views, start = [], 0
    for p in like:
        views.append(flat[start:start + p.size].reshape(p.shape))
        start += p.size
    return views


def save_npz_atomic(path, arrays):
    """Write ``arrays`` to ``path`` as .npz so that a crash leaves the old file or the new
    one whole, never a torn one: write a temporary file in the same folder, flush it to
    disk, then rename it over ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_npz(path):
    """All arrays of an .npz file, read without pickle; a damaged file is a ValueError."""
    import zipfile
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError) as error:
        raise ValueError(f"{path} is not a readable .npz file ({error})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):  # a lone .npy array
        raise ValueError(f"{path} is not a readable .npz file (it holds one array, "
                         f"not an .npz archive)")
    try:
        with data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError) as error:
        raise ValueError(f"{path} is not a readable .npz file ({error})") from None
