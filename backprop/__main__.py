"""``python -m backprop``: the same as the ``backprop`` command."""
import sys

from .app.cli import main


sys.exit(main())
