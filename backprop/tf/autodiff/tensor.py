"""Tensors and TensorFlow's dtype rules: ``Tensor``, ``Variable``, ``constant``.

This module owns what a tensor holds and how values become tensors:

- Python floats become float32 (TensorFlow's default) and Python ints int32; NumPy arrays
  keep their dtype, so float64 stays float64.
- A Python number or NumPy array combined with a tensor takes the tensor's dtype; two
  tensors of different dtypes raise ``TypeError`` (cast one with ``cast``).

It also makes an op's output tensor and offers it to the active tapes (``_op``).

Tensor's operators (``+ - * / ** @``, unary ``-``, ``abs``, indexing, ``.T``) are recorded
ops, defined in the op modules; those import this module, so it does not import them.
Instead each op module registers its operator ops in ``_ops`` when it is imported
(``_register_operators``) and the operators look them up there when called. Importing the
package imports every op module, so the table is full once ``import backprop`` returns.
"""
import types

import numpy as np

from .recording import _active_tapes, _record


float32 = np.float32
float64 = np.float64

_ops = types.SimpleNamespace()
"""The recorded ops behind Tensor's operators, by name (add, ..., matmul, _getitem)."""


def _register_operators(*functions):
    """Make ``functions`` the ops Tensor's operators call (looked up by ``__name__``)."""
    for function in functions:
        setattr(_ops, function.__name__, function)


def _operator(op_name):
    """A Tensor operator ``self op other`` calling the recorded op ``op_name``."""
    def operator(self, other):
        return getattr(_ops, op_name)(self, other)
    return operator


def _reflected(op_name):
    """The reflected operator ``other op self`` (``2 - x`` calls ``x.__rsub__(2)``)."""
    def operator(self, other):
        return getattr(_ops, op_name)(other, self)
    return operator


def _comparison(ufunc):
    """A Tensor comparison: ``ufunc`` on the values, a plain NumPy bool array."""
    def comparison(self, other):
        return ufunc(self._value, _value_of(other))
    return comparison


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


def _op(value, inputs, vjps):
    """The output Tensor of an op with result ``value``, recorded on the active tapes.

    ``vjps[i](g)`` returns dE/d(inputs[i]) given g = dE/d(output), built from tensor ops.
    """
    out = _wrap(value)
    _record(out, inputs, vjps)
    return out


class Tensor:
    """An immutable n-dimensional array that tapes can record ops on.

    Make one with ``constant``; ops (``+ - * / ** @``, indexing, ``exp``, ...) return new
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

    # ---- arithmetic: recorded ops, looked up in _ops when called
    __add__, __radd__ = _operator("add"), _reflected("add")
    __sub__, __rsub__ = _operator("subtract"), _reflected("subtract")
    __mul__, __rmul__ = _operator("multiply"), _reflected("multiply")
    __truediv__, __rtruediv__ = _operator("divide"), _reflected("divide")
    __pow__, __rpow__ = _operator("power"), _reflected("power")
    __matmul__, __rmatmul__ = _operator("matmul"), _reflected("matmul")

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return _as_tensor(self)

    def __abs__(self):
        return _ops.absolute(self)

    def __getitem__(self, key):
        return _ops._getitem(_as_tensor(self), key)

    @property
    def T(self):
        """The transpose (all axes reversed)."""
        return _ops.transpose(self)

    # ---- comparisons: plain NumPy bool arrays (nothing to differentiate)
    __lt__, __le__ = _comparison(np.less), _comparison(np.less_equal)
    __gt__, __ge__ = _comparison(np.greater), _comparison(np.greater_equal)
    __eq__, __ne__ = _comparison(np.equal), _comparison(np.not_equal)


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
        for tape in _active_tapes():
            tape._variable_read(self)        # watched if the tape watches accessed variables
        return _op(self._value, (self,), (_identity_vjp,))

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
