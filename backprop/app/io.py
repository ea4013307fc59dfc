"""Files and signals: atomic writes, safe reading, run-folder locks, signal handling.

Everything that writes a file the program will read again goes through ``atomic_write``
(``save_npz`` and ``write_json`` are thin helpers over it): a crash, a kill or a full
disk leaves the old file or the new one whole, never a torn one, and a failed write is a
``WriteError`` naming the file. Everything that reads an .npz goes through ``load_npz``:
no pickle, only the members the caller asks for, each one's size checked before it is
decompressed. Files the program reads back are opened with ``open_regular`` (a FIFO or a
device in their place is refused, not waited on) and their JSON parsed with
``loads_json`` (strict, and no deeper than the program writes it). ``lock_run_folder``
keeps two processes out of one run folder. ``SignalFlag`` and ``sigterm_cleans_up`` are
the two ways the program treats SIGINT and SIGTERM: as a request to stop at the next
step boundary (training), or as Ctrl-C, so that ``finally`` clauses remove temporary
files (downloads).
"""
import contextlib
import errno
import itertools
import json
import math
import os
import re
import secrets
import signal
import stat
import struct
import zipfile
import zlib

import numpy as np


try:
    from lzma import LZMAError
except ImportError:  # Python without lzma: zipfile then refuses LZMA members itself
    class LZMAError(Exception):
        pass

TEMPORARY_PREFIX = ".tmp-"  # every temporary file atomic_write makes starts so
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip member, an empty zip archive
NPY_MAGIC = b"\x93NUMPY"
MAX_MEMBER_BYTES = 1 << 32  # 4 GiB: far above any model this engine trains
LOCK_FILE = ".lock"
MAX_JSON_DEPTH = 100  # loads_json's bound; the program's own JSON nests 4 levels deep


# ------------------------------------------------------------------ errors of writes

class WriteError(OSError):
    """An OSError while writing a file, whose message names it: "cannot write PATH:
    No space left on device". ``errno`` and ``strerror`` are the system's; ``filename``
    is the file being written (the system's own error names none when a write() or an
    fsync() fails, as on a full disk, or names the temporary file)."""

    def __str__(self):
        return f"cannot write {self.filename}: {self.strerror}"


def write_error(error, path):
    """``error``, an OSError raised while writing ``path``, as a WriteError naming
    ``path``; an error without an errno (one of the program's own) is returned as it is."""
    if error.errno is None or isinstance(error, WriteError):
        return error
    return WriteError(error.errno, error.strerror or str(error), os.fspath(path))


# ------------------------------------------------------------------ atomic writes

@contextlib.contextmanager
def atomic_write(path, suffix=""):
    """Write ``path`` atomically: yields a binary file object to write to.

    The data goes to a new temporary file ``.tmp-<random>-<name><suffix>`` in the same
    folder, created by open() (so with open()'s mode, 0666 less the umask, and the
    folder's default ACL; not mkstemp's 0600). Its ``name`` is that file's path, for
    code that checks the data, or can only write to a path. When the block ends without
    an exception, the file is flushed and fsynced, renamed over ``path`` (``os.replace``,
    atomic), and the folder is fsynced so that the rename, too, is on disk. If anything
    fails, or the block raises (KeyboardInterrupt included), the temporary file is
    removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    try:
        f, tmp = _create_temporary(folder, TEMPORARY_PREFIX, f"-{name}{suffix}")
    except OSError as error:
        raise write_error(error, path) from error
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError):  # the system's errors name the file being written
            raise write_error(error, path) from error
        raise
    try:
        _fsync_folder(folder)
    except OSError as error:
        raise write_error(error, path) from error


def save_npz(path, arrays):
    """Write the dict ``arrays`` to ``path`` as an uncompressed .npz, atomically."""
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def write_json(path, value, indent=1):
    """Write ``value`` to ``path`` as strict JSON with a final newline, atomically: a NaN
    or an Inf is a ValueError, never a bare ``NaN`` that other readers refuse."""
    text = json.dumps(value, indent=indent, allow_nan=False) + "\n"  # before the file
    with atomic_write(path) as f:
        f.write(text.encode())


def remove_temporaries(folder, endings):
    """Remove the temporary files of killed writes (``.tmp-*`` names ending in one of
    ``endings``) from ``folder``. Call it only while no other process writes there."""
    for name in os.listdir(folder):
        if name.startswith(TEMPORARY_PREFIX) and name.endswith(tuple(endings)):
            os.unlink(os.path.join(folder, name))


def _create_temporary(folder, prefix, suffix):
    """(file, path) of a new file PREFIX<random>SUFFIX in ``folder``, open for binary
    writing. Like tempfile.mkstemp, but with the permissions open() gives (0666 less the
    umask, and the folder's default ACL), not mkstemp's 0600: it is open() in mode "x"."""
    for _ in range(100):
        tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return open(tmp, "xb"), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


def _fsync_folder(folder):
    """Flush the folder's entries (a rename) to disk; file systems that cannot sync a
    folder (EINVAL) are skipped, since there is nothing more to do there."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


# ------------------------------------------------------------------ reading .npz

def load_npz(path, members=None, max_bytes=MAX_MEMBER_BYTES):
    """The arrays of an .npz file, read safely.

    Parameters
    ----------
    path : str or os.PathLike
    members : collection of str, or callable, optional
        The entries wanted (names without ".npy"), or a predicate on the name. Other
        entries are never decompressed and are not returned. None: every entry.
    max_bytes : int
        Largest uncompressed size an entry may declare (``ZipInfo.file_size``).

    Returns
    -------
    dict of str -> numpy.ndarray

    Raises
    ------
    ValueError
        "PATH is not a readable .npz file (...)" for anything wrong with the content:
        not a zip archive (checked on the first bytes, so NumPy never takes the file
        for a pickle), a damaged archive, an entry of a compression zipfile cannot
        decompress (or damaged compressed data), an entry that is no .npy array or
        holds Python objects (no pickle is ever loaded), an entry larger than
        ``max_bytes``, or one whose header promises more data than the entry holds.
        "PATH is a FIFO (named pipe), not a regular file" (and so on) for anything but
        a regular file. (OSError as open() raises it if the file cannot be opened.)
    """
    if members is None or callable(members):
        wanted = members
    else:
        wanted = set(members).__contains__
    with open_regular(path) as f:
        head = f.read(len(NPY_MAGIC))
        if not head:
            raise ValueError(f"{path} is not a readable .npz file (the file is empty)")
        if head.startswith(NPY_MAGIC):
            raise ValueError(f"{path} is not a readable .npz file (it holds one array, "
                             f"not an .npz archive)")
        if not head.startswith(ZIP_MAGIC):
            raise ValueError(f"{path} is not a readable .npz file (File is not a zip "
                             f"file: it starts with {head!r})")
        try:
            with zipfile.ZipFile(f) as archive:
                arrays = {}
                for info in archive.infolist():
                    name = (info.filename[:-4] if info.filename.endswith(".npy")
                            else info.filename)
                    if wanted is None or wanted(name):
                        arrays[name] = _read_member(archive, info, name, max_bytes)
                return arrays
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, LZMAError, EOFError,
                ValueError, KeyError, OSError, RuntimeError, NotImplementedError,
                struct.error, OverflowError) as error:
            # RuntimeError: an encrypted entry; NotImplementedError: a compression zipfile
            # does not know; LZMAError: LZMA options or data zipfile cannot decompress
            raise ValueError(f"{path} is not a readable .npz file ({error})") from None


def _read_member(archive, info, name, max_bytes):
    """One .npy entry of an open archive as an array, after checking that its declared
    size is at most ``max_bytes`` and that its header's shape fits in that size (so a
    small entry cannot make NumPy allocate a huge array, nor a huge array of empty
    elements, such as 2^42 of dtype S0). ValueError if not."""
    if info.file_size > max_bytes:
        raise ValueError(f"its entry {name!r} declares {info.file_size} bytes, more than "
                         f"the limit of {max_bytes}")
    with archive.open(info) as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise ValueError(f"its entry {name!r} is not a NumPy array")
        f.seek(0)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"its entry {name!r} has .npy format version {version}, "
                             f"which NumPy's savez does not write for plain arrays")
    count = int(np.prod(shape, dtype=object))
    needed = count * dtype.itemsize
    if needed > info.file_size:
        raise ValueError(f"its entry {name!r} has shape {shape} of {dtype}, {needed} bytes, "
                         f"but the entry holds {info.file_size}: the file is damaged")
    if count > info.file_size:  # elements of no bytes (S0, V0): no array has so many
        raise ValueError(f"its entry {name!r} has shape {shape} of {dtype}, {count} "
                         f"elements, more than the entry's {info.file_size} bytes: the "
                         f"file is damaged")
    with archive.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


# ------------------------------------------------------------------ reading files back

def short_repr(value, limit=60):
    """repr of a value (from a file, perhaps), cut to ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def open_regular(path):
    """``path`` open for binary reading, if it is a regular file (or a link to one).

    Opened without blocking (O_NONBLOCK), then checked with fstat, so a FIFO in its
    place is refused at once instead of waiting for a writer, and a device is refused
    instead of read without end: ValueError "PATH is a FIFO (named pipe), not a regular
    file". OSError as os.open raises it (no such file, no permission).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((what for test, what in _FILE_KINDS if test(mode)), "not a file")
            raise ValueError(f"{path} is {kind}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def loads_json(text):
    """``json.loads`` for the files the program writes (``write_json``, the JSON inside
    .npz files), strict: ValueError for text nested deeper than ``MAX_JSON_DEPTH``
    (counted before parsing, since the parser recurses once per level: 100,000 levels
    are a RecursionError), for NaN and Infinity, and for numbers too large for a float
    (1e400), none of which the program writes. The messages do not name the file."""
    brackets = _JSON_BRACKET.findall(_JSON_STRING.sub("", text))
    depth = max(itertools.accumulate(1 if b in "[{" else -1 for b in brackets), default=0)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"its JSON is nested {depth} levels deep, more than the "
                         f"{MAX_JSON_DEPTH} the program accepts")
    return json.loads(text, parse_constant=_not_strict_json, parse_float=_finite_float)


def _not_strict_json(name):
    raise ValueError(f"it holds {name}, which strict JSON has no place for")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"it holds the number {text[:30]}, too large for a float")
    return value


# ------------------------------------------------------------------ run-folder lock

class FolderLocked(OSError):
    """Another process holds the lock of the folder (see ``lock_run_folder``)."""


@contextlib.contextmanager
def lock_run_folder(folder):
    """Hold an exclusive lock on ``folder`` while inside, so no two processes share it.

    The lock is ``fcntl.flock`` on the file ``.lock`` inside the folder (which must
    exist), taken without waiting: if another process holds it, ``FolderLocked`` (an
    OSError) is raised at once with one line naming the folder and that process's id.
    The kernel drops a flock when its holder dies, even by SIGKILL, so a killed run
    never blocks the next one. The lock file is removed on leaving (while still locked;
    a process that opened the old file meanwhile sees it is gone and starts over).
    """
    import fcntl  # POSIX only: imported here, so the rest of this module works anywhere
    path = os.path.join(os.fspath(folder), LOCK_FILE)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise FolderLocked(f"{folder} is in use by another process{holder}; two runs "
                               f"cannot share a folder: wait for it to end or choose "
                               f"another folder") from None
        except BaseException:
            os.close(fd)
            raise
        if _is_current(fd, path):
            break
        os.close(fd)  # the holder removed the file as we opened it: lock the new one
    try:
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as error:  # e.g. a full disk
            raise write_error(error, path) from error
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):  # the folder was removed meanwhile
            os.unlink(path)
        os.close(fd)  # releases the lock


def _is_current(fd, path):
    """Whether the open file ``fd`` is still the file at ``path``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _read_holder(fd):
    """" (pid N)" from a lock file, or "" if it holds no process id (yet)."""
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


# ------------------------------------------------------------------ signals

class SignalFlag:
    """While inside ``with SignalFlag() as stop``, SIGINT and SIGTERM only set
    ``stop.signum``; the caller checks it between steps, so it always stops at a step
    boundary (training saves a checkpoint there). A second signal raises
    KeyboardInterrupt at once. Outside the main thread signals are left alone; the
    previous handlers are put back on leaving."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)


class _Terminated(BaseException):
    """Raised by the SIGTERM handler of ``sigterm_cleans_up``."""


def _raise_terminated(signum, frame):
    raise _Terminated


@contextlib.contextmanager
def sigterm_cleans_up():
    """While inside, SIGTERM raises ``_Terminated``, so ``finally`` clauses (and
    ``atomic_write``) remove temporary files as they do on Ctrl-C; then SIGTERM is sent
    again with its default action, so the process still ends as killed by SIGTERM (exit
    status 143 in a shell). Only where SIGTERM has its default action and in the main
    thread: a program's own handler is left alone."""
    installed = False
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_terminated)
            installed = True
    except ValueError:  # not the main thread
        pass
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        installed = False
        os.kill(os.getpid(), signal.SIGTERM)  # ends the process here
        raise SystemExit(128 + signal.SIGTERM) from None  # if SIGTERM is blocked
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
