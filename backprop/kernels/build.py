"""Compile every kernel of ``jit.py`` ahead of time into one extension module.

    python -m backprop.kernels.build DIRECTORY

``compiled.py`` runs this in a child process when its module is missing; it is rarely
run by hand. For each kernel and each float type it exports the kernel's Python function
(``jit.X.py_func``, the very code ``jit.py`` compiles) under the signature that
``signatures.SIGNATURES`` gives it, with the compile policy of ``_policy.py``: numba's
ahead-of-time compiler has no options for fastmath or the error model, so they are set
on the flags it compiles with, and the CPU is this machine's, as numba's JIT uses.
"""
import contextlib
import sys
import warnings

from . import signatures


def numba_type(kind, n, written, float_type):
    import numba
    from numba import types
    F = numba.from_dtype(float_type)
    if kind == "F*":
        return types.UniTuple(F, n)
    if kind == "b":
        return types.boolean
    element = {"F": F, "I": types.intp, "U": types.uint8}[kind]
    if n == 0:
        return element
    return types.Array(element, n, "C")


def signature(spec, float_type):
    from numba import types
    parsed, result = signatures.parse(spec)
    args = [numba_type(*arg, float_type) for arg in parsed]
    return (types.float64 if result == "f8" else types.void)(*args)


@contextlib.contextmanager
def policy_flags():
    """Compile with _policy.py's fastmath flags and error model."""
    import numba.pycc.compiler as pycc_compiler
    from numba.core.cpu import FastMathOptions

    from ._policy import ERROR_MODEL, FASTMATH

    plain = pycc_compiler.Flags

    class PolicyFlags(plain):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fastmath = FastMathOptions(set(FASTMATH))
            self.error_model = ERROR_MODEL

    pycc_compiler.Flags = PolicyFlags
    try:
        yield
    finally:
        pycc_compiler.Flags = plain


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m backprop.kernels.build DIRECTORY", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")  # numba.pycc's pending-deprecation notice
    from numba.pycc import CC

    from . import jit

    cc = CC(signatures.MODULE)
    cc.output_dir = argv[0]
    cc.target_cpu = "host"  # as numba's JIT does; the module's key includes this CPU
    for name, spec in signatures.SIGNATURES.items():
        for float_type in signatures.FLOATS:
            cc.export(signatures.export_name(name, float_type),
                      signature(spec, float_type))(getattr(jit, name).py_func)
    with policy_flags():
        cc.compile()
    return 0


if __name__ == "__main__":
    sys.exit(main())
