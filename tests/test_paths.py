"""Where the user cache is (``cache_dir``, the data's copies): $XDG_CACHE_HOME/backprop when it is absolute, else
~/.cache/backprop; a user without a home folder gets an error that says what to set."""
from pathlib import Path

import pytest

from backprop.app.data.fashion_mnist import cache_dir


def test_the_cache_follows_xdg_when_it_is_absolute(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "backprop" / "fashion-mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "backprop" / "fashion-mnist"


def test_no_home_folder_is_an_os_error_saying_what_to_set(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    with pytest.raises(OSError, match="no home folder for the user cache: HOME is not set .*"
                                      "set HOME or XDG_CACHE_HOME, or name a data folder"):
        cache_dir()
