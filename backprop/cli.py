"""The ``backprop`` command (also ``python -m backprop``).

Each subcommand has an ``_add_<name>`` function that declares its arguments and sets
``run``; modules are imported inside ``run`` so ``backprop --help`` and a warm
``backprop train`` start fast. Errors a user can fix (bad arguments, missing data,
unwritable folders) print one line on stderr and exit with status 2; set
BACKPROP_DEBUG=1 to see the traceback instead.
"""
import argparse
import os
import sys


class UsageError(Exception):
    """An error the user can fix; printed as one line, no traceback."""


# ----------------------------------------------------------------------------- subcommands
# Each section below belongs to one part of the package; keep edits inside your section.

# --- data (backprop data, backprop data fetch) ---

# --- himmelblau, plot activations ---

# --- train, evaluate, gradcheck ---


# ---------------------------------------------------------------------------------- driver

_SUBCOMMANDS = []  # filled with the _add_* functions above, in help order


def build_parser():
    parser = argparse.ArgumentParser(
        prog="backprop",
        description="A hand-written backpropagation engine for multilayer perceptrons.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"backprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("backprop: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, OSError) as error:
        if os.environ.get("BACKPROP_DEBUG"):
            raise
        print(f"backprop: error: {error}", file=sys.stderr)
        return 2
