"""Where the package keeps what it makes for the user: verified copies of the data."""
import os
from pathlib import Path


def user_cache(*parts):
    """``$XDG_CACHE_HOME/backprop/<parts>`` if XDG_CACHE_HOME is an absolute path (the XDG
    spec says to ignore a relative one), else ``~/.cache/backprop/<parts>``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base.joinpath("backprop", *parts)
