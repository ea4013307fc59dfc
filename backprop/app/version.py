"""The package's version: the command prints it, run files and checkpoints record it."""
__version__ = "0.1.0"
