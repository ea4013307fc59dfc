"""Where the package keeps what it makes for the user: verified copies of the data."""
import os
from pathlib import Path


def user_cache(*parts):
    """``$XDG_CACHE_HOME/backprop/<parts>`` if XDG_CACHE_HOME is an absolute path (the XDG
    spec says to ignore a relative one), else ``~/.cache/backprop/<parts>``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg).joinpath("backprop", *parts)
    try:
        home = Path.home()
    except (RuntimeError, KeyError):  # HOME unset and no passwd entry for this user
        raise OSError("no home folder for the user cache: HOME is not set and this user has "
                      "no passwd entry; set HOME or XDG_CACHE_HOME, or name a data folder "
                      "with --data") from None
    return home.joinpath(".cache", "backprop", *parts)
