"""Sequential: a stack of layers, with the whole network's forward and backward.

forward runs O^(l) = f_l(O^(l-1) W^(l) + b^(l)) up the stack; backward runs the delta
rule down it: each layer turns dE/dO^(l) into its delta, dW, db and dE/dO^(l-1), which is
the next layer's upstream gradient (the first layer skips dE/dx, nobody needs it).
The layers are Dense or any other ``bp.Layer`` (the protocol in ``backprop.layers``).
The model owns its weights in one flat vector, ``params`` = theta = [W1, b1, W2, b2, ...],
and their gradients in another, ``grads`` = dE/dtheta: every layer's parameters (the
attributes its ``param_names`` names: W, b) and gradients (dW, db) are rebound to views
into them. An optimizer updates theta in one pass (``bp.Adam(model.params)``,
``opt.step(model.grads)``) and a gradient check perturbs it directly;
``named_params()`` gives the layers' arrays by name (W1, b1, ...), as a model file stores them.
"""
import inspect
import json
import re

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .io import load_npz, loads_json, save_npz, short_repr
from .layers import (FLOAT_DTYPES, INITIALIZERS, LAYERS, Dense, Layer, check_dtype,
                     warn_if_not_finite)
from .losses import Loss
from .registry import missing

FORMAT = "backprop.model"
FORMAT_VERSION = 1


FORWARD_BATCH = "the batch given to Sequential.forward"  # what its NaN warning calls x


class Sequential:
    """A multilayer perceptron: layers applied in order.

    Parameters
    ----------
    layers : list of Layer
        Dense layers or any ``bp.Layer`` (the protocol in ``backprop.layers``). Consecutive
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
            fused = dE_dO.fused_delta(last.activation) if isinstance(last, Dense) else None
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
            config = loads_json(str(arrays["config"]))  # strict, and only so deep
        except (KeyError, ValueError) as error:
            raise ValueError(f"{source} is not a backprop model file ({error})") from None
        specs = _check_config(config, source)
        extra = sorted((int(m[2]), k) for k in arrays  # weights of layers past the config's
                       if isinstance(k, str) and (m := _WEIGHT.fullmatch(k))
                       and int(m[2]) > len(specs))
        if extra:
            raise ValueError(f"{source} is a damaged model file: it holds {extra[0][1]} but its "
                             f"config describes {len(specs)} "
                             f"layer{'s' if len(specs) > 1 else ''}")
        layers = []
        first = None  # the weights' dtype: the first layer's with parameters
        for i, (kind, make) in enumerate(specs, start=1):
            found = [arrays.get(f"{name}{i}") for name in kind.param_names]
            if any(a is None for a in found):
                raise ValueError(f"{source} lacks the weights of layer {i}")
            first = found[0].dtype if first is None and found else first
            if found and (first not in FLOAT_DTYPES or any(a.dtype != first for a in found)):
                raise ValueError(f"{source}: layer {i} weights are "
                                 f"{' and '.join(str(a.dtype) for a in found)}; a model's "
                                 f"weights are all float32 or all float64 (layer 1: {first})")
            layer = make(check_dtype(first or np.float32))
            expected = [p.shape for p in layer.params]
            if [a.shape for a in found] != expected:
                raise ValueError(f"{source}: layer {i} weights have shapes "
                                 f"{' and '.join(str(a.shape) for a in found)}, expected "
                                 f"{' and '.join(map(str, expected))}")
            for p, a in zip(layer.params, found):
                p[...] = a
            layers.append(layer)
        try:
            return cls(layers)
        except ValueError as error:
            raise ValueError(f"{source} is a damaged model file: {error}") from None

    @classmethod
    def load(cls, path):
        """Read a model written by ``save`` (only its own entries, see ``is_model_entry``)."""
        return cls.from_arrays(load_npz(path, is_model_entry), source=str(path))


_LAYER_KEYS = {"type", "n_in", "n_out", "activation", "init"}  # of a Dense layer's config
_WEIGHT = re.compile(r"([A-Za-z_]+)([1-9][0-9]*)")  # a model file's W1, b1, ..., s3: name, layer


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


def _check_config(config, source):
    """The layers of a model file's decoded config as (class, make) pairs, ``make(dtype)``
    building the layer, after checking the config's structure and types: anything a
    damaged file may hold is a ValueError "SOURCE is a damaged model file: ..." (instead
    of a TypeError or KeyError deep inside, or a message without the file's name); a
    user's class that is not defined is a ValueError naming the file and the class."""
    def damaged(what):
        return ValueError(f"{source} is a damaged model file: {what}")

    if not isinstance(config, list) or not config:
        raise damaged(f"its config must be a non-empty list of layers, got {short_repr(config)}")
    specs, n_out = [], None  # n_out of the layer below, when it is a Dense layer
    for i, c in enumerate(config):
        where = f"layer {i + 1}'s config"
        if not isinstance(c, dict):
            raise damaged(f"{where} must be an object, got {short_repr(c)}")
        kind = _config_type(c, where, source, damaged)
        if kind is not Dense:
            specs.append((kind, _layer_maker(kind, c, where, damaged)))
            n_out = None
            continue
        unknown = sorted(set(c) - _LAYER_KEYS)
        if unknown:
            raise damaged(f"{where} has the unknown entry {unknown[0]!r}")
        sizes = []
        for key in ("n_in", "n_out"):
            if key not in c:
                raise damaged(f"{where} lacks {key!r}")
            n = c[key]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise damaged(f"{where} has {key} {short_repr(n)}, not a whole number >= 1")
            sizes.append(n)
        if n_out is not None and sizes[0] != n_out:
            raise damaged(f"{where} has n_in {sizes[0]} but layer {i} has n_out {n_out}")
        init = c.get("init")
        if init is not None and (not isinstance(init, str) or init not in INITIALIZERS):
            raise damaged(f"{where} has init {short_repr(init)}; expected one of: "
                          f"{', '.join(INITIALIZERS)}")
        activation = _config_activation(c, where, source, damaged)
        specs.append((Dense, lambda dtype, n_in=sizes[0], n_out=sizes[1], act=activation,
                      init=init: Dense(n_in, n_out, activation=act, init=init, dtype=dtype)))
        n_out = sizes[1]
    return specs


def _config_type(c, where, source, damaged):
    """The layer class a layer's config names ("type", default Dense)."""
    name = c.get("type", "Dense")
    if isinstance(name, str) and name.lower() in LAYERS:
        return LAYERS[name.lower()]
    if isinstance(name, str) and isinstance(c.get("class"), str):
        raise ValueError(f"{source}: {missing(LAYERS, name, c, 'layer')}")
    raise damaged(f"{where} has the unknown layer type {short_repr(name)}; expected one of: "
                  f"{', '.join(dict.fromkeys(k.__name__ for k in LAYERS.values()))}")


def _layer_maker(kind, c, where, damaged):
    """``make(dtype)`` for a layer other than Dense: ``kind.from_config``, after checking
    that its constructor takes the config's arguments."""
    args = {k: v for k, v in c.items() if k not in ("type", "class")}
    try:
        inspect.signature(kind).bind_partial(**args)
    except TypeError:
        raise damaged(f"{where} gives layer {kind.__name__} the arguments {short_repr(args)}, "
                      f"which it does not take") from None

    def make(dtype):
        try:
            return kind.from_config(c, dtype=dtype)
        except (ValueError, TypeError) as error:
            raise damaged(f"{where} gives layer {kind.__name__} bad arguments "
                          f"{short_repr(args)} ({error})") from None
    return make


def _config_activation(c, where, source, damaged):
    """The Activation a layer's config describes ({"name": ..., arguments...})."""
    if "activation" not in c:
        raise damaged(f"{where} lacks 'activation'")
    spec = c["activation"]
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise damaged(f"{where} has activation {short_repr(spec)}; expected an object "
                      f"with a name, like {{\"name\": \"relu\"}}")
    kwargs = {k: v for k, v in spec.items() if k not in ("name", "class")}
    name = spec["name"]
    kind = ACTIVATIONS.get(name.lower())
    if kind is None and isinstance(spec.get("class"), str):
        raise ValueError(f"{source}: {missing(ACTIVATIONS, name, spec, 'activation')}")
    if kind is None:
        raise damaged(f"{where} has the unknown activation {short_repr(name)}; expected one "
                      f"of: {', '.join(ACTIVATIONS)} (or a user's, once its class is defined)")
    try:
        inspect.signature(kind).bind(**kwargs)
    except TypeError:
        raise damaged(f"{where} gives activation {name} the arguments {short_repr(kwargs)}, "
                      f"which it does not take") from None
    try:  # the arguments are the file's values: the activation checks them
        return get_activation(name, **kwargs)
    except (ValueError, TypeError) as error:
        raise damaged(f"{where} gives activation {name} bad arguments "
                      f"{short_repr(kwargs)} ({error})") from None




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


def check_format(arrays, expected, version, source, what):
    """Check the "format" and "format_version" entries of a file's arrays; ValueError in
    words (naming ``source``, a "model" or "checkpoint" file) if they are missing, are
    not text and a whole number, or differ."""
    found, found_version = arrays.get("format"), arrays.get("format_version")
    if not isinstance(found, np.ndarray) or found.shape != () or found.dtype.kind != "U":
        raise ValueError(f"{source} is not a backprop {what} file (no format entry)")
    if str(found) != expected:
        raise ValueError(f"{source} is not a backprop {what} file (format {str(found)!r})")
    if found_version is None:
        raise ValueError(f"{source} is a damaged {what} file: it has no format version")
    if found_version.shape != () or found_version.dtype.kind not in "iu":
        value = (short_repr(found_version.item()) if found_version.shape == ()
                 else f"an array of shape {found_version.shape}")
        raise ValueError(f"{source} is a damaged {what} file: its format version is "
                         f"{value}, not a whole number")
    if int(found_version) != version:
        raise ValueError(f"{source} has {what} format version {int(found_version)}; this "
                         f"version of backprop reads version {version}")


def split_like(flat, like):
    """Views of the 1-D ``flat`` shaped like the arrays ``like``, back to back."""
    views, start = [], 0
    for p in like:
        views.append(flat[start:start + p.size].reshape(p.shape))
        start += p.size
    return views


def is_model_entry(name):
    """Whether ``name`` is an entry of a model file: format, format_version, config, or
    parameters W1, b1, W2, ... (a parameter name and its layer's number; also beyond the
    config's layers: ``from_arrays`` reports those as damage). ``load`` reads these
    entries and no others."""
    return (name in ("format", "format_version", "config")
            or re.fullmatch(r"[A-Za-z_]+[0-9]+", name) is not None)
