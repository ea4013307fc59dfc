"""Sequential: a stack of Dense layers, with the whole network's forward and backward.

forward runs O^(l) = f_l(O^(l-1) W^(l) + b^(l)) up the stack; backward runs the delta
rule down it: each layer turns dE/dO^(l) into its delta, dW, db and dE/dO^(l-1), which is
the next layer's upstream gradient (the first layer skips dE/dx, nobody needs it).
The model owns its weights in one flat vector, ``params`` = theta = [W1, b1, W2, b2, ...],
and their gradients in another, ``grads`` = dE/dtheta: every layer's W, b, dW and db are
views into them. An optimizer updates theta in one pass (``bp.Adam(model.params)``,
``opt.step(model.grads)``) and a gradient check perturbs it directly;
``named_params()`` gives the layers' arrays by name (W1, b1, ...).
"""
import inspect
import json
import re

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .io import load_npz, save_npz
from .layers import INITIALIZERS, Dense, check_dtype
from .losses import Loss

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
        self.params = _pack(layers, ("W", "b"))      # theta = [W1, b1, W2, b2, ...], flat
        self.grads = _pack(layers, ("dW", "db"))     # dE/dtheta, aligned with params

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
                for name, p in zip(("W", "b"), layer.params)}

    def named_grads(self):
        """{"W1": dW1, "b1": db1, ...}: the layers' gradients (views into ``grads``)."""
        return {f"{name}{i}": g for i, layer in enumerate(self.layers, start=1)
                for name, g in zip(("W", "b"), layer.grads)}

    def n_params(self):
        return self.params.size

    def forward(self, x):
        """The network's output for a batch x (B, n_in); each layer caches for backward."""
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
        fused = None
        if isinstance(dE_dO, Loss):
            fused = dE_dO.fused_delta(self.layers[-1].activation)
            dE_dO = dE_dO.backward()
        g = self.layers[-1].backward(dE_dO, need_input_grad or len(self.layers) > 1, fused)
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
        arrays.update(self.named_params())
        return arrays

    def save(self, path):
        """Write the model to an .npz file, atomically (``io.save_npz``): a crash leaves
        the old file or the new one whole."""
        save_npz(path, self.state_arrays())

    @classmethod
    def from_arrays(cls, arrays, source="arrays"):
        """Rebuild a model from ``state_arrays`` output, checking format, config and shapes.

        Anything wrong in the arrays (a damaged or foreign file) is a ValueError that
        names ``source``."""
        check_format(arrays, FORMAT, FORMAT_VERSION, source, "model")
        try:
            config = json.loads(str(arrays["config"]))
        except (KeyError, ValueError) as error:
            raise ValueError(f"{source} is not a backprop model file ({error})") from None
        specs = _check_config(config, source)
        extra = sorted((k for k in arrays
                        if isinstance(k, str) and re.fullmatch(r"[Wb][1-9][0-9]*", k)
                        and int(k[1:]) > len(specs)), key=lambda k: (int(k[1:]), k))
        if extra:
            raise ValueError(f"{source} is a damaged model file: it holds {extra[0]} but its "
                             f"config describes {len(specs)} "
                             f"layer{'s' if len(specs) > 1 else ''}")
        layers = []
        first = None
        for i, (n_in, n_out, activation, init) in enumerate(specs):
            W = arrays.get(f"W{i + 1}")
            b = arrays.get(f"b{i + 1}")
            if W is None or b is None:
                raise ValueError(f"{source} lacks the weights of layer {i + 1}")
            if W.shape != (n_in, n_out) or b.shape != (n_out,):
                raise ValueError(f"{source}: layer {i + 1} weights have shapes {W.shape} and "
                                 f"{b.shape}, expected ({n_in}, {n_out}) and ({n_out},)")
            first = W.dtype if first is None else first
            if first not in (np.float32, np.float64) or W.dtype != first or b.dtype != first:
                raise ValueError(f"{source}: layer {i + 1} weights are {W.dtype} and {b.dtype}; "
                                 f"a model's weights are all float32 or all float64 "
                                 f"(layer 1: {first})")
            layer = Dense(n_in, n_out, activation=activation, init=init,
                          dtype=check_dtype(W.dtype))
            layer.W[...] = W
            layer.b[...] = b
            layers.append(layer)
        return cls(layers)

    @classmethod
    def load(cls, path):
        """Read a model written by ``save`` (only its own entries, see ``is_model_entry``)."""
        return cls.from_arrays(load_npz(path, is_model_entry), source=str(path))


_LAYER_KEYS = {"type", "n_in", "n_out", "activation", "init"}


def _check_config(config, source):
    """The layers of a model file's decoded config as (n_in, n_out, Activation, init)
    tuples, after checking its structure and types: anything a damaged file may hold
    is a ValueError "SOURCE is a damaged model file: ..." (instead of a TypeError or
    KeyError deep inside, or a message without the file's name)."""
    def damaged(what):
        return ValueError(f"{source} is a damaged model file: {what}")

    if not isinstance(config, list) or not config:
        raise damaged(f"its config must be a non-empty list of layers, got {_short(config)}")
    specs = []
    for i, c in enumerate(config):
        where = f"layer {i + 1}'s config"
        if not isinstance(c, dict):
            raise damaged(f"{where} must be an object, got {_short(c)}")
        unknown = sorted(set(c) - _LAYER_KEYS)
        if unknown:
            raise damaged(f"{where} has the unknown entry {unknown[0]!r}")
        if c.get("type", "Dense") != "Dense":
            raise damaged(f"{where} has type {_short(c['type'])}; only Dense layers exist")
        sizes = []
        for key in ("n_in", "n_out"):
            if key not in c:
                raise damaged(f"{where} lacks {key!r}")
            n = c[key]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise damaged(f"{where} has {key} {_short(n)}, not a whole number >= 1")
            sizes.append(n)
        if specs and sizes[0] != specs[-1][1]:
            raise damaged(f"{where} has n_in {sizes[0]} but layer {i} has n_out "
                          f"{specs[-1][1]}")
        init = c.get("init")
        if init is not None and (not isinstance(init, str) or init not in INITIALIZERS):
            raise damaged(f"{where} has init {_short(init)}; expected one of: "
                          f"{', '.join(INITIALIZERS)}")
        specs.append((*sizes, _config_activation(c, where, damaged), init))
    return specs


def _config_activation(c, where, damaged):
    """The Activation a layer's config describes ({"name": ..., arguments...})."""
    if "activation" not in c:
        raise damaged(f"{where} lacks 'activation'")
    spec = c["activation"]
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise damaged(f"{where} has activation {_short(spec)}; expected an object "
                      f"with a name, like {{\"name\": \"relu\"}}")
    kwargs = dict(spec)
    name = kwargs.pop("name")
    kind = ACTIVATIONS.get(name.lower())
    if kind is None:
        raise damaged(f"{where} has the unknown activation {_short(name)}; expected one "
                      f"of: {', '.join(ACTIVATIONS)}")
    try:
        inspect.signature(kind).bind(**kwargs)
    except TypeError:
        raise damaged(f"{where} gives activation {name} the arguments {_short(kwargs)}, "
                      f"which it does not take") from None
    try:  # the arguments are the file's values: the activation checks them
        return get_activation(name, **kwargs)
    except (ValueError, TypeError) as error:
        raise damaged(f"{where} gives activation {name} bad arguments "
                      f"{_short(kwargs)} ({error})") from None


def _short(value, limit=60):
    """repr of a value from a file, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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


def is_model_entry(name):
    """Whether ``name`` is an entry of a model file: format, format_version, config, or
    weights W1, b1, W2, ... (also beyond the config's layers: ``from_arrays`` reports
    those as damage). ``load`` reads these entries and no others."""
    return (name in ("format", "format_version", "config")
            or re.fullmatch(r"[Wb][0-9]+", name) is not None)
