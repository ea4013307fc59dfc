"""A small, dependency-free progress bar for downloads and training epochs.

    with Progress(total=600, desc="epoch 1", unit="batch") as bar:
        for x, y in batches:
            ...
            bar.update(loss=E)

On a terminal the line is redrawn in place (``\\r``) at most ten times a second; when the
output is not a terminal (a CI log, a pipe) nothing is printed until ``close``, which
writes one final line, so logs stay clean.
"""
import sys
import time

_now = time.monotonic  # the clock; a module global so tests can replace it
_MIN_INTERVAL = 0.1  # seconds between redraws: at most ~10 per second
_WIDTH = 20  # characters of the bar itself


def _format_count(n, unit):
    """``n`` with its unit; bytes are shown in kB/MB/GB."""
    if unit != "B":
        return f"{n} {unit}" if unit else str(n)
    for scale, prefix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= scale:
            return f"{n / scale:.1f} {prefix}"
    return f"{n:.0f} B"


def _format_rate(rate, unit):
    """Items per second, e.g. ``"152.3 batch/s"`` or ``"4.2 MB/s"``."""
    if unit == "B":
        return _format_count(rate, "B") + "/s"
    return f"{rate:.1f} {unit}/s" if unit else f"{rate:.1f}/s"


def _format_time(seconds):
    """Seconds as m:ss, or h:mm:ss from an hour on."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _format_value(value):
    """A postfix value: floats with 4 significant digits, everything else as str."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Progress:
    """A progress bar: a count towards ``total``, rate, time left, and a postfix.

    Parameters
    ----------
    total : int or None
        The count at completion (None if unknown: no bar or time left, only the count).
    desc : str
        A label in front of the bar.
    unit : str
        What is counted ("it", "batch", ...). With ``"B"`` counts are shown as kB/MB/GB.
    file : file object, optional
        Where to write; ``sys.stderr`` (looked up at each write) by default.
    disable : bool
        Print nothing at all.

    Notes
    -----
    ``update(n, **postfix)`` adds ``n`` to the count and remembers the keyword values,
    shown as ``loss=0.4312``. On a TTY the line is redrawn at most every 0.1 s; otherwise
    only ``close()`` prints (one line). ``close`` is idempotent and runs at the end of a
    ``with`` block.
    """

    def __init__(self, total=None, desc="", unit="it", file=None, disable=False):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.file = file
        self.disable = disable
        self.n = 0
        self.postfix = {}
        self.closed = False
        self._start = _now()
        self._last_draw = None  # time of the last redraw; None: never drawn
        self._last_len = 0  # length of the last drawn line, to blank its leftovers

    @property
    def _out(self):
        return self.file if self.file is not None else sys.stderr

    def _isatty(self):
        isatty = getattr(self._out, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (ValueError, OSError):  # a closed or detached stream
            return False

    def update(self, n=1, **postfix):
        """Add ``n`` to the count, remember ``postfix`` values, redraw if it is time."""
        self.n += n
        self.postfix.update(postfix)
        if self.disable or self.closed or not self._isatty():
            return
        now = _now()
        if self._last_draw is None or now - self._last_draw >= _MIN_INTERVAL:
            self._draw(now, end="")

    def set_postfix(self, **postfix):
        """Remember ``postfix`` values without changing the count."""
        self.postfix.update(postfix)

    def format(self, now=None):
        """The status line, e.g. ``epoch 1:  50%|#####     | 300/600 batch [0:03<0:03,
        100.0 batch/s] loss=0.4312``."""
        elapsed = (now if now is not None else _now()) - self._start
        rate = self.n / elapsed if elapsed > 0 else None
        parts = [f"{self.desc}: " if self.desc else ""]
        if self.total:
            fraction = min(max(self.n / self.total, 0.0), 1.0)
            filled = int(fraction * _WIDTH)
            parts.append(f"{fraction:4.0%}|{'#' * filled}{' ' * (_WIDTH - filled)}| ")
            if self.unit == "B":
                parts.append(f"{_format_count(self.n, 'B')}/{_format_count(self.total, 'B')}")
            else:
                parts.append(f"{self.n}/{self.total} {self.unit}".rstrip())
        else:
            parts.append(_format_count(self.n, self.unit))
        timing = _format_time(elapsed)
        if self.total and rate and self.n < self.total:
            timing += f"<{_format_time((self.total - self.n) / rate)}"
        if rate:
            timing += f", {_format_rate(rate, self.unit)}"
        parts.append(f" [{timing}]")
        parts.extend(f" {key}={_format_value(value)}" for key, value in self.postfix.items())
        return "".join(parts)

    def _draw(self, now, end):
        line = self.format(now)
        pad = " " * max(self._last_len - len(line), 0)  # blank what the old line left
        self._out.write(f"\r{line}{pad}{end}")
        self._out.flush()
        self._last_draw = now
        self._last_len = len(line)

    def close(self):
        """Print the final line (on a TTY: redraw it and end the line). Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self.disable:
            return
        if self._isatty():
            self._draw(_now(), end="\n")
        else:
            self._out.write(self.format() + "\n")
            self._out.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False
