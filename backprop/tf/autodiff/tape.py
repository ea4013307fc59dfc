"""The tape: ``GradientTape`` records tensor ops and runs them backwards (reverse mode).

This module owns what a tape tracks (watched tensors, trainable Variables read while it
is active, the outputs of ops it recorded), its records, and the backward pass
(``GradientTape._backward``) that ``gradient`` and ``jacobian`` call. The backward pass
applies each record's VJPs, which are built from the same tensor ops as the forward pass,
so a tape active while another computes a gradient records that computation (nested
tapes give second derivatives).
"""
import contextlib
import warnings

import numpy as np

from .creation import ones_like, zeros, zeros_like
from .elementwise import add
from .recording import _active_tapes
from .shapes import reshape, stack
from .tensor import Tensor, Variable, _as_tensor, _like, _wrap, constant


NON_PERSISTENT_MESSAGE = ("A non-persistent GradientTape can only be used to compute one set "
                          "of gradients (or jacobians)")


class _Record:
    """One recorded op: its output, its inputs, and one VJP function per input."""

    __slots__ = ("output", "inputs", "vjps")

    def __init__(self, output, inputs, vjps):
        self.output, self.inputs, self.vjps = output, inputs, vjps


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

    def _variable_read(self, variable):
        """A Variable was read (``Variable.read_value``): watch it if this tape watches
        accessed variables and it is trainable and floating."""
        if self._recording and self._watch_accessed and variable.trainable \
                and variable.dtype.kind in "fc":
            self._watch_one(variable)

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
