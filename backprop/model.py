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
import inspect
import json
import os
import re
import secrets

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .layers import INITIALIZERS, Dense, check_dtype

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
        """Read a model written by ``save``."""
        return cls.from_arrays(load_npz(path), source=str(path))


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


def save_npz_atomic(path, arrays):
    """Write ``arrays`` to ``path`` as .npz so that a crash leaves the old file or the new
    one whole, never a torn one: write a temporary file in the same folder, flush it to
    disk, then rename it over ``path``. The file gets the mode of any new file (0666
    less the umask), since the temporary file is created the way open() creates one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temporary(folder, ".tmp-", ".npz")
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


def _create_temporary(folder, prefix, suffix):
    """(fd, path) of a new file PREFIX<random>SUFFIX in ``folder``, open for writing.
    Like tempfile.mkstemp, but with the permissions open() would give (0666 less the
    umask, and the folder's default ACL), not mkstemp's 0600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | \
        getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip member, an empty zip archive
NPY_MAGIC = b"\x93NUMPY"


def load_npz(path):
    """All arrays of an .npz file, read without pickle; a damaged file is a ValueError.

    The file's first bytes are checked before NumPy sees it: np.load takes anything that
    is neither zip nor .npy for a pickle and, asked not to unpickle, advises loading it
    "unsafely", which is no advice for a damaged file."""
    import zipfile
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if not head:
        raise ValueError(f"{path} is not a readable .npz file (the file is empty)")
    if head.startswith(NPY_MAGIC):
        raise ValueError(f"{path} is not a readable .npz file (it holds one array, "
                         f"not an .npz archive)")
    if not head.startswith(ZIP_MAGIC):
        raise ValueError(f"{path} is not a readable .npz file (File is not a zip file: "
                         f"it starts with {head!r})")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError) as error:
        raise ValueError(f"{path} is not a readable .npz file ({error})") from None
    try:
        with data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError) as error:
        raise ValueError(f"{path} is not a readable .npz file ({error})") from None
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):  # a zip member that is no .npy array
            raise ValueError(f"{path} is not a readable .npz file (its entry {name!r} is "
                             f"not a NumPy array)")
    return arrays
