"""A small reverse-mode tape: ``GradientTape``, ``Variable``, ``constant`` and the ops it records.

This module owns the independent check on the hand-written engine. It knows nothing about
layers: it records elementary tensor ops while a ``GradientTape`` is active and replays
them backwards, one vector-Jacobian product (VJP) per op, the way TensorFlow 2's eager
tape does. It also runs the tutorial's ``tf.*`` snippets with ``bp.*`` in their place::

    import backprop as bp
    w, b, x = bp.Variable(1.0), bp.Variable(2.0), bp.Variable(3.0)
    with bp.GradientTape() as t1:
        with bp.GradientTape() as t2:
            y = x * w + b
        dy_dw, dy_db = t2.gradient(y, [w, b])      # 3.0, 1.0
    d2y_dw2 = t1.gradient(dy_dw, w)                 # None: dy/dw = x does not depend on w

Semantics follow TensorFlow:

- A tape records an op when one of the op's inputs is *tracked* by it: watched with
  ``tape.watch``, a trainable ``Variable`` read while the tape is active (unless
  ``watch_accessed_variables=False``), or the output of an op it recorded. Only
  floating-point results are recorded.
- ``tape.gradient(target, sources)`` returns the gradient of ``sum(target)`` with the
  structure of ``sources`` (a list in, a list out; one source in, one result out). A
  source the target does not depend on gets ``None``.
- A non-persistent tape answers ``gradient`` (or ``jacobian``) once, then raises
  ``RuntimeError``; ``persistent=True`` keeps the records.
- The backward pass is built from the same tensor ops as the forward pass, so a tape that
  is active while another tape computes a gradient records that gradient computation:
  nested tapes give second derivatives.
- Python floats become float32 (TensorFlow's default); NumPy float64 arrays stay float64.
  A Python number or NumPy array combined with a tensor takes the tensor's dtype; two
  tensors of different dtypes raise ``TypeError`` (cast one with ``cast``).

Each op's docstring gives its VJP: ``g`` is the upstream gradient dE/d(out), and the
formula is written next to the line that computes it.
"""
import contextlib
import threading
import warnings

import numpy as np

__all__ = [
    "Tensor", "Variable", "GradientTape", "constant", "convert_to_tensor", "cast",
    "stop_gradient", "add", "subtract", "multiply", "divide", "power", "pow", "negative",
    "matmul", "exp", "log", "log1p", "sqrt", "square", "absolute", "abs", "maximum",
    "minimum", "where", "clip_by_value", "reduce_sum", "reduce_mean", "reduce_max",
    "broadcast_to", "reshape", "transpose", "stack", "concat", "norm", "one_hot",
    "linspace", "zeros", "ones", "zeros_like", "ones_like", "random", "float32", "float64",
]

float32 = np.float32
float64 = np.float64

NON_PERSISTENT_MESSAGE = ("A non-persistent GradientTape can only be used to compute one set "
                          "of gradients (or jacobians)")


# ---------------------------------------------------------------------------- conversions

def _to_array(value, dtype=None):
    """``value`` as a new NumPy array; Python floats become float32 and ints int32 (TF)."""
    if isinstance(value, Tensor):
        array = value._value
    else:
        array = np.array(value)
        python_value = not isinstance(value, (np.ndarray, np.generic))
        if dtype is None and python_value and array.dtype == np.float64:
            array = array.astype(np.float32)   # a Python float: TensorFlow's default
        elif dtype is None and python_value and array.dtype == np.int64:
            array = array.astype(np.int32)     # a Python int: int32
    if dtype is not None:
        array = array.astype(np.dtype(dtype))
    if array.dtype == object:
        raise TypeError(f"cannot make a tensor from {type(value).__name__} {value!r}")
    return array


def _wrap(array):
    """A Tensor around an existing array (no copy, nothing recorded)."""
    tensor = Tensor.__new__(Tensor)
    tensor._value = np.asarray(array)
    return tensor


def constant(value, dtype=None):
    """A tensor holding a copy of ``value``.

    Parameters
    ----------
    value : float, int, sequence, ndarray or Tensor
    dtype : dtype-like, optional
        Defaults to float32 for Python floats, int32 for Python ints, the array's own
        dtype for NumPy arrays (so float64 stays float64).

    Returns
    -------
    Tensor
    """
    if isinstance(value, Variable):
        value = value._value
    return _wrap(_to_array(value, dtype))


def convert_to_tensor(value, dtype=None):
    """``value`` itself if it is a Tensor (a Variable is read), else ``constant(value)``."""
    if isinstance(value, Tensor) and dtype is None:
        return _as_tensor(value)
    return constant(value, dtype)


def _as_tensor(value):
    """A Tensor for an op input: Variables are read (a recorded op), others converted."""
    if isinstance(value, Variable):
        return value.read_value()
    if isinstance(value, Tensor):
        return value
    return constant(value)


def _like(value, tensor):
    """A non-tensor operand converted to ``tensor``'s dtype (as TF converts Python numbers)."""
    array = np.asarray(value)
    if tensor.dtype.kind in "fc" and array.dtype.kind in "biuf":
        return _wrap(array.astype(tensor.dtype))
    return constant(value)


def _pair(a, b):
    """Both operands of a binary op as Tensors of one dtype."""
    a_is_tensor, b_is_tensor = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is_tensor:
        a = _as_tensor(a)
    if b_is_tensor:
        b = _as_tensor(b)
    if a_is_tensor and not b_is_tensor:
        b = _like(b, a)
    elif b_is_tensor and not a_is_tensor:
        a = _like(a, b)
    elif not a_is_tensor and not b_is_tensor:
        a = constant(a)
        b = _like(b, a)
    if a.dtype != b.dtype:
        raise TypeError(f"cannot combine a {a.dtype} tensor with a {b.dtype} tensor; "
                        f"cast one of them with bp.cast")
    return a, b


def _value_of(x):
    return x._value if isinstance(x, Tensor) else np.asarray(x)


# -------------------------------------------------------------------------------- tensors

class Tensor:
    """An immutable n-dimensional array that tapes can record ops on.

    Make one with ``constant``; ops (``+ - * / ** @``, indexing, ``bp.exp``, ...) return new
    tensors. Comparison operators return plain NumPy bool arrays (nothing to
    differentiate). ``numpy()`` returns a NumPy copy of the value.
    """

    __slots__ = ("_value", "__weakref__")
    # NumPy defers to our reflected operators (ndarray + Tensor gives a Tensor)
    __array_priority__ = 100
    # elementwise == makes tensors unhashable by default; hash by identity as TF 1 did
    __hash__ = object.__hash__

    def __init__(self, value, dtype=None):
        self._value = _to_array(value, dtype)

    # ---- what it holds
    @property
    def shape(self):
        """Tuple of dimensions."""
        return self._value.shape

    @property
    def dtype(self):
        """NumPy dtype."""
        return self._value.dtype

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def size(self):
        return self._value.size

    def numpy(self):
        """The value as a NumPy array (a copy), or a NumPy scalar for a 0-d tensor."""
        if self._value.ndim == 0:
            return self._value[()]
        return self._value.copy()

    def __array__(self, dtype=None, copy=None):
        return np.array(self._value, dtype=dtype)

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __bool__(self):
        return bool(self._value)

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._value.shape[0]))

    def __repr__(self):
        return (f"<bp.{type(self).__name__}: shape={self.shape}, dtype={self.dtype.name}, "
                f"numpy={np.array2string(self._value, separator=', ')}>")

    def __str__(self):
        return f"bp.Tensor({self._value}, shape={self.shape}, dtype={self.dtype.name})"

    def __format__(self, spec):
        if spec and self._value.size == 1:
            return format(self._value.item(), spec)
        return format(str(self), spec)

    # ---- arithmetic, recorded
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return subtract(self, other)

    def __rsub__(self, other):
        return subtract(other, self)

    def __mul__(self, other):
        return multiply(self, other)

    def __rmul__(self, other):
        return multiply(other, self)

    def __truediv__(self, other):
        return divide(self, other)

    def __rtruediv__(self, other):
        return divide(other, self)

    def __pow__(self, other):
        return power(self, other)

    def __rpow__(self, other):
        return power(other, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        return negative(self)

    def __pos__(self):
        return _as_tensor(self)

    def __abs__(self):
        return absolute(self)

    def __getitem__(self, key):
        return _getitem(_as_tensor(self), key)

    @property
    def T(self):
        """The transpose (all axes reversed)."""
        return transpose(self)

    # ---- comparisons: plain NumPy bool arrays
    def __lt__(self, other):
        return np.less(self._value, _value_of(other))

    def __le__(self, other):
        return np.less_equal(self._value, _value_of(other))

    def __gt__(self, other):
        return np.greater(self._value, _value_of(other))

    def __ge__(self, other):
        return np.greater_equal(self._value, _value_of(other))

    def __eq__(self, other):
        return np.equal(self._value, _value_of(other))

    def __ne__(self, other):
        return np.not_equal(self._value, _value_of(other))


class Variable(Tensor):
    """A mutable tensor: the state a model trains (TensorFlow's ``tf.Variable``).

    Every use in an op reads the current value through a recorded identity op, so a tape
    active at that moment sees the variable and, if it is ``trainable`` and the tape has
    ``watch_accessed_variables=True``, watches it automatically.

    ``assign``, ``assign_add`` and ``assign_sub`` change the value in place and are not
    recorded. As in TensorFlow, ``v -= d`` rebinds ``v`` to a new Tensor; use
    ``v.assign_sub(d)`` to update the variable.
    """

    __slots__ = ("trainable", "name")

    def __init__(self, value, dtype=None, trainable=True, name=None):
        self._value = _to_array(value, dtype)
        self.trainable = bool(trainable)
        self.name = name

    def read_value(self):
        """The current value as a Tensor (``r = v``, VJP ``g``), recorded on active tapes."""
        out = _wrap(self._value)
        for tape in _active_tapes():
            if tape._recording and tape._watch_accessed and self.trainable \
                    and self.dtype.kind in "fc":
                tape._watch_one(self)
        _record(out, (self,), (_identity_vjp,))
        return out

    def _new_value(self, value):
        array = _to_array(value, self.dtype)
        if array.shape != self.shape:
            raise ValueError(f"cannot assign a value of shape {array.shape} to a variable "
                             f"of shape {self.shape}")
        return array

    def assign(self, value):
        """Set the value (same shape; cast to the variable's dtype). Returns the variable."""
        self._value = self._new_value(value)
        return self

    def assign_add(self, delta):
        """``v <- v + delta``. Returns the variable."""
        self._value = self._value + self._new_value(delta)
        return self

    def assign_sub(self, delta):
        """``v <- v - delta``. Returns the variable."""
        self._value = self._value - self._new_value(delta)
        return self

    def __repr__(self):
        name = f" {self.name!r}" if self.name else ""
        return (f"<bp.Variable{name} shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={np.array2string(self._value, separator=', ')}>")


def _identity_vjp(g):
    return g


# ---------------------------------------------------------------------------------- tapes

_thread_state = threading.local()


def _active_tapes():
    """The tapes recording in this thread, outermost first."""
    tapes = getattr(_thread_state, "tapes", None)
    if tapes is None:
        tapes = _thread_state.tapes = []
    return tapes


class _Record:
    """One recorded op: its output, its inputs, and one VJP function per input."""

    __slots__ = ("output", "inputs", "vjps")

    def __init__(self, output, inputs, vjps):
        self.output, self.inputs, self.vjps = output, inputs, vjps


def _record(output, inputs, vjps):
    """Offer an op to every active tape; floating-point results only."""
    tapes = _active_tapes()
    if tapes and output._value.dtype.kind in "fc":
        for tape in tapes:
            tape._record(output, inputs, vjps)


def _op(value, inputs, vjps):
    """The output Tensor of an op with result ``value``, recorded on the active tapes.

    ``vjps[i](g)`` returns dE/d(inputs[i]) given g = dE/d(output), built from tensor ops.
    """
    out = _wrap(value)
    _record(out, inputs, vjps)
    return out


def _flatten(structure):
    """The leaves of nested lists, tuples and dicts, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in _flatten(structure[key])]
    return [structure]


def _unflatten(structure, leaves):
    """``leaves`` (an iterator) put back into the shape of ``structure``."""
    if isinstance(structure, (list, tuple)):
        items = [_unflatten(item, leaves) for item in structure]
        if hasattr(structure, "_fields"):                    # a namedtuple
            return type(structure)(*items)
        return type(structure)(items)
    if isinstance(structure, dict):
        return {key: _unflatten(structure[key], leaves) for key in structure}
    return next(leaves)


class GradientTape:
    """Records tensor ops so that ``gradient`` can run them backwards (reverse mode).

    Parameters
    ----------
    persistent : bool, default False
        Keep the records after ``gradient``/``jacobian`` so they can be called again.
        A non-persistent tape answers once, then raises RuntimeError.
    watch_accessed_variables : bool, default True
        Watch every trainable ``Variable`` read while the tape is active. With False,
        only what ``watch`` names is tracked.

    Examples
    --------
    >>> x = bp.constant(3.0)
    >>> with bp.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x ** 2
    >>> float(tape.gradient(y, x))
    6.0
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._records = []
        self._tracked = set()      # ids of watched tensors and of recorded op outputs
        self._watched = []         # the watched tensors, kept alive so their ids stay unique
        self._recording = False
        self._entered = False
        self._used = False

    # ---- context
    def __enter__(self):
        if self._entered:
            raise RuntimeError("Tape is still recording, This can happen if you try to "
                               "re-enter an already-active tape.")
        if self._used:
            raise RuntimeError(NON_PERSISTENT_MESSAGE)
        self._entered = True
        self._recording = True
        _active_tapes().append(self)
        return self

    def __exit__(self, *exc_info):
        tapes = _active_tapes()
        for i in range(len(tapes) - 1, -1, -1):
            if tapes[i] is self:
                del tapes[i]
                break
        self._entered = False
        self._recording = False
        return False

    @contextlib.contextmanager
    def stop_recording(self):
        """A context in which ops are not recorded on this tape."""
        if not self._entered:
            raise ValueError("Tape must be recording.")
        previous, self._recording = self._recording, False
        try:
            yield
        finally:
            self._recording = previous

    # ---- watching
    def watch(self, tensor):
        """Track ``tensor`` (a Tensor or Variable, or nested lists/tuples/dicts of them)."""
        for item in _flatten(tensor):
            if not isinstance(item, Tensor):
                raise ValueError(f"watch() takes tensors or variables, got "
                                 f"{type(item).__name__} {item!r}; wrap it in bp.constant")
            if item.dtype.kind not in "fc":
                warnings.warn(f"the dtype of the watched tensor must be floating, got "
                              f"{item.dtype}; it is not watched", stacklevel=2)
                continue
            self._watch_one(item)

    def _watch_one(self, tensor):
        if id(tensor) not in self._tracked:
            self._tracked.add(id(tensor))
            self._watched.append(tensor)

    def watched_variables(self):
        """The Variables this tape watches, in the order it started watching them."""
        return tuple(t for t in self._watched if isinstance(t, Variable))

    def _record(self, output, inputs, vjps):
        if self._recording and any(id(t) in self._tracked for t in inputs):
            self._records.append(_Record(output, inputs, vjps))
            self._tracked.add(id(output))

    # ---- backward
    def _check_usable(self):
        if self._used:
            raise RuntimeError(NON_PERSISTENT_MESSAGE)

    def _release_if_not_persistent(self):
        if not self._persistent:
            self._used = True
            self._records, self._tracked, self._watched = [], set(), []
            self._recording = False

    def _backward(self, targets, seeds):
        """dE/d(tensor) for every tracked tensor E depends on, E = sum_t <seed_t, target_t>.

        Records are in execution order, so walking them in reverse visits an op only after
        every op that used its output: its gradient is complete when its VJPs run.
        """
        # a non-persistent tape stops recording during its own backward pass; a persistent
        # one active here records it (TensorFlow does the same, and warns it is slow)
        paused = self._recording and not self._persistent
        if paused:
            self._recording = False
        try:
            grads = {}
            for target, seed in zip(targets, seeds):
                if id(target) in self._tracked:
                    _accumulate(grads, id(target), seed)
            # a snapshot: a persistent tape active here appends to its records as we walk
            for record in reversed(list(self._records)):
                g = grads.get(id(record.output))
                if g is None:
                    continue
                for tensor, vjp in zip(record.inputs, record.vjps):
                    if vjp is None or id(tensor) not in self._tracked:
                        continue
                    _accumulate(grads, id(tensor), vjp(g))
            return grads
        finally:
            if paused:
                self._recording = True

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """dE/d(source) for each source, E = sum of all entries of ``target``.

        Parameters
        ----------
        target : Tensor or nested list of Tensors
            Several targets are summed (their gradients add).
        sources : Tensor, Variable, or nested lists/tuples/dicts of them
            The result has the same structure.
        output_gradients : optional
            Upstream gradient(s) dE/d(target), same structure as ``target``; default ones,
            so the result is the gradient of the sum of the target's entries.
        unconnected_gradients : {"none", "zero"}
            What a source the target does not depend on gets: None (TF's default) or zeros.

        Returns
        -------
        Tensor or None, in the structure of ``sources``.
        """
        self._check_usable()
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', "
                             f"got {unconnected_gradients!r}")
        targets = _flatten(target)
        if output_gradients is None:
            seeds = [ones_like(t) if isinstance(t, Tensor) else None for t in targets]
        else:
            seeds = [_like(s, t) if not isinstance(s, Tensor) else _as_tensor(s)
                     for s, t in zip(_flatten(output_gradients), targets)]
        targets_and_seeds = [(t, s) for t, s in zip(targets, seeds) if isinstance(t, Tensor)]
        grads = self._backward([t for t, _ in targets_and_seeds],
                               [s for _, s in targets_and_seeds])
        results = []
        for source in _flatten(sources):
            if not isinstance(source, Tensor):
                raise ValueError(f"gradient() sources must be tensors or variables, got "
                                 f"{type(source).__name__}")
            g = grads.get(id(source)) if id(source) in self._tracked else None
            if g is None and unconnected_gradients == "zero":
                g = zeros_like(source)
            results.append(g)
        self._release_if_not_persistent()
        return _unflatten(sources, iter(results))

    def jacobian(self, target, sources, unconnected_gradients="none"):
        """The full Jacobian d target / d source, of shape target.shape + source.shape.

        One backward pass per entry i of ``target``, seeded with the unit vector e_i:
        row i is the gradient of target_i.

        Returns
        -------
        Tensor or None for each source, in the structure of ``sources``.
        """
        self._check_usable()
        if not isinstance(target, Tensor):
            target = constant(target)
        flat_sources = _flatten(sources)
        rows = [[] for _ in flat_sources]
        for i in range(target.size):
            unit = np.zeros(target.size, target.dtype)
            unit[i] = 1                                   # seed e_i picks d target_i
            grads = self._backward([target], [_wrap(unit.reshape(target.shape))])
            for k, source in enumerate(flat_sources):
                rows[k].append(grads.get(id(source)) if id(source) in self._tracked else None)
        results = []
        for source, source_rows in zip(flat_sources, rows):
            if all(r is None for r in source_rows) and unconnected_gradients == "none":
                results.append(None)
                continue
            source_rows = [zeros_like(source) if r is None else r for r in source_rows]
            if not source_rows:                           # an empty target
                results.append(zeros(target.shape + source.shape, source.dtype))
                continue
            results.append(reshape(stack(source_rows), target.shape + source.shape))
        self._release_if_not_persistent()
        return _unflatten(sources, iter(results))


def _accumulate(grads, key, g):
    """grads[key] += g, treating a missing entry as zero."""
    if g is None:
        return
    previous = grads.get(key)
    grads[key] = g if previous is None else add(previous, g)


# ------------------------------------------------------------------------ broadcast helpers

def _axes(axis, ndim):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    axes = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of rank {ndim}")
        axes.append(a % max(ndim, 1))
    return tuple(sorted(set(axes)))


def _sum_to_shape(g, shape):
    """Sum ``g`` over the axes broadcasting added or stretched, leaving ``shape``.

    An input of shape ``shape`` broadcast to g.shape was used once per copy, so its
    gradient is the sum of g over the copies.
    """
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return reshape(reduce_sum(g, axis=tuple(range(lead)) + stretched, keepdims=True), shape)


# --------------------------------------------------------------------- elementwise binary

def add(a, b):
    """a + b, broadcasting. VJP: dE/da = g, dE/db = g (each summed to its shape)."""
    a, b = _pair(a, b)
    return _op(a._value + b._value, (a, b),
               (lambda g: _sum_to_shape(g, a.shape), lambda g: _sum_to_shape(g, b.shape)))


def subtract(a, b):
    """a - b. VJP: dE/da = g, dE/db = -g."""
    a, b = _pair(a, b)
    return _op(a._value - b._value, (a, b),
               (lambda g: _sum_to_shape(g, a.shape),
                lambda g: _sum_to_shape(negative(g), b.shape)))


def multiply(a, b):
    """a * b. VJP: dE/da = g b, dE/db = g a."""
    a, b = _pair(a, b)
    return _op(a._value * b._value, (a, b),
               (lambda g: _sum_to_shape(multiply(g, b), a.shape),
                lambda g: _sum_to_shape(multiply(g, a), b.shape)))


def divide(a, b):
    """a / b. VJP: dE/da = g / b, dE/db = -g a / b^2."""
    a, b = _pair(a, b)
    return _op(a._value / b._value, (a, b),
               (lambda g: _sum_to_shape(divide(g, b), a.shape),
                lambda g: _sum_to_shape(negative(divide(multiply(g, a), multiply(b, b))),
                                        b.shape)))


def power(x, p):
    """x ** p. VJP: dE/dx = g p x^(p-1); dE/dp = g x^p log x (0 where x <= 0, as in TF)."""
    x, p = _pair(x, p)

    def vjp_p(g):
        safe_x = where(x._value > 0, x, 1)                 # log(1) = 0 where x <= 0
        return _sum_to_shape(multiply(g, multiply(out, log(safe_x))), p.shape)

    out = _op(np.power(x._value, p._value), (x, p),
              (lambda g: _sum_to_shape(multiply(g, multiply(p, power(x, subtract(p, 1)))),
                                       x.shape),
               vjp_p))
    return out


def maximum(a, b):
    """max(a, b) elementwise. VJP: g goes to a where a >= b, else to b (TF's rule)."""
    a, b = _pair(a, b)
    a_wins = a._value >= b._value
    return _op(np.maximum(a._value, b._value), (a, b),
               (lambda g: _sum_to_shape(where(a_wins, g, 0), a.shape),
                lambda g: _sum_to_shape(where(a_wins, 0, g), b.shape)))


def minimum(a, b):
    """min(a, b) elementwise. VJP: g goes to a where a <= b, else to b."""
    a, b = _pair(a, b)
    a_wins = a._value <= b._value
    return _op(np.minimum(a._value, b._value), (a, b),
               (lambda g: _sum_to_shape(where(a_wins, g, 0), a.shape),
                lambda g: _sum_to_shape(where(a_wins, 0, g), b.shape)))


def where(condition, x, y):
    """x where ``condition`` else y (broadcasting). VJP: g masked by condition / its negation.

    ``condition`` is a bool array (or a bool tensor); it is not differentiated.
    """
    condition = np.asarray(_value_of(condition), dtype=bool)
    x, y = _pair(x, y)
    return _op(np.where(condition, x._value, y._value), (x, y),
               (lambda g: _sum_to_shape(where(condition, g, 0), x.shape),
                lambda g: _sum_to_shape(where(condition, 0, g), y.shape)))


# ---------------------------------------------------------------------- elementwise unary

def negative(x):
    """-x. VJP: -g."""
    x = _as_tensor(x)
    return _op(-x._value, (x,), (negative,))


def exp(x):
    """e^x. VJP: g e^x (the output)."""
    x = _as_tensor(x)
    out = _op(np.exp(x._value), (x,), (lambda g: multiply(g, out),))
    return out


def log(x):
    """Natural log. VJP: g / x."""
    x = _as_tensor(x)
    return _op(np.log(x._value), (x,), (lambda g: divide(g, x),))


def log1p(x):
    """log(1 + x), accurate for small x. VJP: g / (1 + x)."""
    x = _as_tensor(x)
    return _op(np.log1p(x._value), (x,), (lambda g: divide(g, add(x, 1)),))


def sqrt(x):
    """sqrt(x). VJP: g / (2 sqrt(x)) (infinite at 0, as in TF)."""
    x = _as_tensor(x)
    out = _op(np.sqrt(x._value), (x,), (lambda g: divide(g, multiply(out, 2)),))
    return out


def square(x):
    """x^2. VJP: 2 g x."""
    x = _as_tensor(x)
    return _op(np.square(x._value), (x,), (lambda g: multiply(g, multiply(x, 2)),))


def absolute(x):
    """|x|. VJP: g sign(x) (0 at x = 0, as in TF)."""
    x = _as_tensor(x)
    sign = np.sign(x._value)
    return _op(np.abs(x._value), (x,), (lambda g: multiply(g, sign),))


def clip_by_value(x, clip_value_min, clip_value_max):
    """x clipped to [min, max]. VJP: g where min <= x <= max, else 0 (the bounds are fixed)."""
    x = _as_tensor(x)
    lo, hi = _value_of(clip_value_min), _value_of(clip_value_max)
    inside = (x._value >= lo) & (x._value <= hi)
    return _op(np.clip(x._value, lo, hi).astype(x.dtype), (x,),
               (lambda g: where(inside, g, 0),))


def cast(x, dtype):
    """x converted to ``dtype``. VJP: g cast back (for floating x; None otherwise)."""
    dtype = np.dtype(dtype)
    if not isinstance(x, Tensor):
        return constant(x, dtype)          # straight to dtype: no float32 round trip
    x = _as_tensor(x)
    if dtype == x.dtype:
        return x
    float_input = x.dtype.kind in "fc"
    return _op(x._value.astype(dtype), (x,),
               (lambda g: cast(g, x.dtype) if float_input else None,))


def stop_gradient(x):
    """The value of x, with no gradient flowing through (a new, untracked tensor)."""
    return _wrap(_value_of(x))


# ------------------------------------------------------------------------ reductions

def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def reduce_sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (None: all). VJP: g broadcast back over the summed axes."""
    x = _as_tensor(x)
    axes = _axes(axis, x.ndim)
    kept = _keepdims_shape(x.shape, axes)
    return _op(np.sum(x._value, axis=axes, keepdims=keepdims), (x,),
               (lambda g: broadcast_to(reshape(g, kept), x.shape),))


def reduce_mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (None: all): sum / n, n the number of entries averaged."""
    x = _as_tensor(x)
    axes = _axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes]))
    return divide(reduce_sum(x, axes, keepdims), n)


def reduce_max(x, axis=None, keepdims=False):
    """Max over ``axis``. VJP: g shared equally among the entries equal to the max (TF)."""
    x = _as_tensor(x)
    axes = _axes(axis, x.ndim)
    kept = _keepdims_shape(x.shape, axes)
    top = np.max(x._value, axis=axes, keepdims=True)
    is_max = x._value == top
    share = (is_max / np.sum(is_max, axis=axes, keepdims=True)).astype(x.dtype)
    return _op(top if keepdims else top.reshape([n for i, n in enumerate(x.shape)
                                                 if i not in axes]),
               (x,), (lambda g: multiply(broadcast_to(reshape(g, kept), x.shape), share),))


def norm(x, ord="euclidean", axis=None, keepdims=False):
    """Vector norm over ``axis`` (None: all entries, i.e. Euclidean / Frobenius).

    ord "euclidean", "fro" or 2: sqrt(sum x^2); 1: sum |x|; np.inf: max |x|.
    The Euclidean gradient x / ||x|| is undefined (nan) at x = 0, as in TensorFlow.
    """
    x = _as_tensor(x)
    if isinstance(axis, (tuple, list)) and len(axis) == 2 and ord not in ("euclidean", "fro"):
        raise ValueError(f"only the Frobenius norm is supported over two axes, got ord={ord!r}")
    if ord in ("euclidean", "fro", 2):
        return sqrt(reduce_sum(multiply(x, x), axis, keepdims))     # sqrt(sum_i x_i^2)
    if ord == 1:
        return reduce_sum(absolute(x), axis, keepdims)              # sum_i |x_i|
    if ord == np.inf:
        return reduce_max(absolute(x), axis, keepdims)              # max_i |x_i|
    raise ValueError(f"ord must be 'euclidean', 'fro', 1, 2 or np.inf, got {ord!r}")


# ----------------------------------------------------------------------- shapes, indexing

def broadcast_to(x, shape):
    """x broadcast to ``shape``. VJP: g summed over the broadcast axes."""
    x = _as_tensor(x)
    shape = tuple(shape)
    return _op(np.broadcast_to(x._value, shape), (x,), (lambda g: _sum_to_shape(g, x.shape),))


def reshape(x, shape):
    """x with a new shape (one entry may be -1). VJP: g reshaped back."""
    x = _as_tensor(x)
    return _op(x._value.reshape(shape), (x,), (lambda g: reshape(g, x.shape),))


def transpose(x, perm=None):
    """Axes permuted by ``perm`` (default: reversed). VJP: g permuted by the inverse."""
    x = _as_tensor(x)
    perm = tuple(range(x.ndim))[::-1] if perm is None else tuple(perm)
    inverse = tuple(np.argsort(perm))
    return _op(np.transpose(x._value, perm), (x,), (lambda g: transpose(g, inverse),))


def _normalize_key(key):
    def one(k):
        if isinstance(k, Tensor):
            return k._value
        if isinstance(k, list):
            return np.asarray(k)
        return k
    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


def _has_integer_array(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in parts)


def _getitem(x, key):
    """x[key] (NumPy indexing). VJP: g scattered into zeros of x's shape at ``key``."""
    key = _normalize_key(key)
    return _op(np.asarray(x._value[key]), (x,), (lambda g: _scatter(g, key, x.shape),))


def _scatter(g, key, shape):
    """zeros(shape) with g added at ``key``; the VJP of indexing. Its own VJP: h[key]."""
    out = np.zeros(shape, g.dtype)
    if _has_integer_array(key):
        np.add.at(out, key, g._value)     # repeated indices each add their share
    else:
        out[key] = g._value
    return _op(out, (g,), (lambda h: _getitem(h, key),))


def stack(values, axis=0):
    """Tensors of one shape stacked along a new axis. VJP: slice i of g goes to input i."""
    values = [_as_tensor(v) for v in values]
    for v in values[1:]:
        if v.dtype != values[0].dtype:
            raise TypeError(f"cannot stack {values[0].dtype} and {v.dtype} tensors")
    out_value = np.stack([v._value for v in values], axis=axis)
    axis = axis % out_value.ndim

    def vjp_of(i):
        return lambda g: _getitem(g, (slice(None),) * axis + (i,))

    return _op(out_value, tuple(values), tuple(vjp_of(i) for i in range(len(values))))


def concat(values, axis):
    """Tensors joined along an existing axis. VJP: each input gets its slice of g."""
    values = [_as_tensor(v) for v in values]
    out_value = np.concatenate([v._value for v in values], axis=axis)
    axis = axis % out_value.ndim
    stops = np.cumsum([v.shape[axis] for v in values])

    def vjp_of(start, stop):
        return lambda g: _getitem(g, (slice(None),) * axis + (slice(start, stop),))

    starts = np.concatenate([[0], stops[:-1]])
    return _op(out_value, tuple(values),
               tuple(vjp_of(int(s), int(e)) for s, e in zip(starts, stops)))


# -------------------------------------------------------------------------------- matmul

def _swap_last(x):
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return transpose(x, perm)


def _matmul_2d(a, b):
    """a @ b, both of rank >= 2. VJP: dE/da = g b^T, dE/db = a^T g (batch axes summed)."""
    return _op(np.matmul(a._value, b._value), (a, b),
               (lambda g: _sum_to_shape(matmul(g, _swap_last(b)), a.shape),
                lambda g: _sum_to_shape(matmul(_swap_last(a), g), b.shape)))


def matmul(a, b):
    """Matrix product with NumPy's rules (1-D operands are promoted, batch axes broadcast).

    For a batch of rows O (B, n_in) and weights W (n_in, n_out): ``matmul(O, W)`` is the
    net input x = O W, and the VJPs are dE/dO = g W^T, dE/dW = O^T g.
    """
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs tensors of rank >= 1; use * for scalars")
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    if a_vector:
        a = reshape(a, (1, a.shape[0]))          # row vector
    if b_vector:
        b = reshape(b, (b.shape[0], 1))          # column vector
    out = _matmul_2d(a, b)
    if not (a_vector or b_vector):
        return out
    shape = list(out.shape)
    if b_vector:
        shape.pop(-1)
    if a_vector:
        shape.pop(-1 if b_vector else -2)
    return reshape(out, tuple(shape))


# ----------------------------------------------------------------------------- creation

def zeros(shape, dtype=float32):
    """A tensor of zeros (float32 by default)."""
    return _wrap(np.zeros(shape, dtype))


def ones(shape, dtype=float32):
    """A tensor of ones (float32 by default)."""
    return _wrap(np.ones(shape, dtype))


def zeros_like(x):
    """Zeros with x's shape and dtype."""
    return _wrap(np.zeros(np.shape(_value_of(x)), np.asarray(_value_of(x)).dtype))


def ones_like(x):
    """Ones with x's shape and dtype."""
    return _wrap(np.ones(np.shape(_value_of(x)), np.asarray(_value_of(x)).dtype))


def one_hot(indices, depth, on_value=1, off_value=0, dtype=float32):
    """Shape indices.shape + (depth,): ``on_value`` at each index, ``off_value`` elsewhere.

    An index outside [0, depth) gives a row of ``off_value`` (as in TensorFlow).
    """
    indices = np.asarray(_value_of(indices))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot indices must be integers, got {indices.dtype}")
    hit = indices[..., None] == np.arange(depth)          # t_k = 1 for k = index
    return _wrap(np.where(hit, on_value, off_value).astype(dtype))


def linspace(start, stop, num):
    """``num`` evenly spaced values from start to stop inclusive.

    float32 (TensorFlow's default for Python floats) unless start or stop is a float64
    array or tensor.
    """
    def is_float64(v):
        return isinstance(v, (Tensor, np.ndarray, np.generic)) and \
            np.asarray(_value_of(v)).dtype == np.float64

    dtype = np.float64 if is_float64(start) or is_float64(stop) else np.float32
    return _wrap(np.linspace(float(_value_of(start)), float(_value_of(stop)), int(num),
                             dtype=dtype))


class _RandomNamespace:
    """``bp.random``: ``normal``, ``uniform`` and ``set_seed``, as in ``tf.random``.

    Without ``seed`` the values come from one module-wide generator (reset with
    ``set_seed``); with ``seed`` from a fresh generator, so the call is repeatable.
    """

    def __init__(self):
        self._rng = np.random.default_rng()

    def set_seed(self, seed):
        """Reseed the module-wide generator."""
        self._rng = np.random.default_rng(seed)

    def _generator(self, seed):
        return self._rng if seed is None else np.random.default_rng(seed)

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=float32, seed=None):
        """Samples of N(mean, stddev^2) with the given shape (float32 by default)."""
        return _wrap(self._generator(seed).normal(mean, stddev, shape).astype(dtype))

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=float32, seed=None):
        """Samples of U[minval, maxval) with the given shape (float32 by default)."""
        return _wrap(self._generator(seed).uniform(minval, maxval, shape).astype(dtype))


random = _RandomNamespace()

# TensorFlow's names; defined last so the module body never calls builtins pow/abs by mistake
pow = power  # noqa: A001
abs = absolute  # noqa: A001
