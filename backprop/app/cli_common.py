"""What the ``backprop`` command's subcommands share: the error a user can fix, the
argparse types of its numeric options (their messages are the ones the library's checks
use too), and loading the data set a command names."""
import argparse
import os
import sys


class UsageError(Exception):
    """An error the user can fix; printed as one line, no traceback."""


def int_at_least(minimum):
    """An argparse type: a whole number >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value
    return parse


def count(n, noun):
    """"1 epoch", "2 epochs"."""
    return f"{n} {noun}{'s' * (n != 1)}"


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def layer_sizes(text):
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes like 256,128,64,32, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def load_data(folder, option="--data"):
    """(data, class names, what to record in history.json) of the data set in ``folder``
    (Fashion-MNIST, verified, or another in its layout: checked for structure, said to be
    unverified; messages call the folder ``option``), else of Fashion-MNIST from
    $BACKPROP_DATA or the usual places."""
    from . import data
    if folder is None:
        return data.load_fashion_mnist(), data.CLASS_NAMES, {
            "folder": None, "verified": True, "class_names": list(data.CLASS_NAMES)}
    found = data.load_idx_folder(folder, option)
    if not found.verified:
        print(f"backprop: note: {found.folder} is not the official Fashion-MNIST: unverified "
              f"data, checked for shapes and labels only ({len(found.class_names)} classes, "
              f"{'names from ' + found.names_file.name if found.names_file else 'numbered'})",
              file=sys.stderr)
    return ((found.train, found.test), found.class_names,
            {"folder": os.path.abspath(folder), "verified": found.verified,
             "class_names": list(found.class_names)})
