"""Which tapes are recording in this thread, and how an op is offered to them.

This module owns the one piece of state the tensors and the tape share: the stack of
active tapes. It imports nothing from the package, so everything else can import it.
An active tape (``tape.GradientTape``) answers two calls:

- ``tape._record(output, inputs, vjps)``: an op ran; keep it if one of its inputs is tracked.
- ``tape._variable_read(variable)``: a Variable was read; watch it if the tape watches
  accessed variables.
"""
import threading


_thread_state = threading.local()


def _active_tapes():
    """The tapes recording in this thread, outermost first."""
    tapes = getattr(_thread_state, "tapes", None)
    if tapes is None:
        tapes = _thread_state.tapes = []
    return tapes


def _record(output, inputs, vjps):
    """Offer an op to every active tape; floating-point results only."""
    tapes = _active_tapes()
    if tapes and output._value.dtype.kind in "fc":
        for tape in tapes:
            tape._record(output, inputs, vjps)
