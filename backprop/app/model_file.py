"""The model file: a Sequential written to and read from an .npz file, every damage checked.

A model file holds "format" ("backprop.model"), "format_version", "config" (the
architecture as JSON: ``Sequential.config()``) and the weights by name, W1, b1, W2, ...
(``Sequential.named_params()``); no pickled Python objects. ``save_model`` writes it
atomically (``io.save_npz``: a crash leaves the old file or the new one whole);
``load_model`` reads only those entries and checks, before building a layer, the format,
the config's structure and types, and each weight's dtype and shape, so anything a
damaged or foreign file holds is a ValueError naming the file.
"""
import inspect
import json
import re

import numpy as np

from ..core.activations import ACTIVATIONS, get_activation
from ..core.layers import FLOAT_DTYPES, INITIALIZERS, LAYERS, Dense, check_dtype
from ..core.model import Sequential
from ..core.registry import missing
from .io import load_npz, loads_json, save_npz, short_repr


FORMAT = "backprop.model"
FORMAT_VERSION = 1


def state_arrays(model):
    """The weights and the architecture of ``model`` as a dict of arrays (no Python objects)."""
    arrays = {"format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION),
              "config": np.array(json.dumps(model.config()))}
    arrays.update(model.named_params())
    return arrays


def save_model(model, path):
    """Write ``model`` to the .npz file ``path``, atomically: a crash leaves the old file
    or the new one whole (Keras's ``save_model``)."""
    save_npz(path, state_arrays(model))


def load_model(path):
    """The Sequential written by ``save_model`` to ``path`` (only its own entries, see
    ``is_model_entry``), every part checked; ValueError naming the file if it is damaged
    (Keras's ``load_model``)."""
    return model_from_arrays(load_npz(path, is_model_entry), source=str(path))


def model_from_arrays(arrays, source="arrays"):
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
        return Sequential(layers)
    except ValueError as error:
        raise ValueError(f"{source} is a damaged model file: {error}") from None


_LAYER_KEYS = {"type", "n_in", "n_out", "activation", "init"}  # of a Dense layer's config
_WEIGHT = re.compile(r"([A-Za-z_]+)([1-9][0-9]*)")  # a model file's W1, b1, ..., s3: name, layer


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



def is_model_entry(name):
    """Whether ``name`` is an entry of a model file: format, format_version, config, or
    parameters W1, b1, W2, ... (a parameter name and its layer's number; also beyond the
    config's layers: ``model_from_arrays`` reports those as damage). ``load_model``
    reads these entries and no others."""
    return (name in ("format", "format_version", "config")
            or re.fullmatch(r"[A-Za-z_]+[0-9]+", name) is not None)
