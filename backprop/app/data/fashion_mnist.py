"""Fashion-MNIST: where the four files are, whether they are the real ones, how to get them.

The data set is four idx files, each found raw or gzip-compressed::

    train-images-idx3-ubyte   60000 x 28 x 28 uint8     train-labels-idx1-ubyte   60000 uint8
    t10k-images-idx3-ubyte    10000 x 28 x 28 uint8     t10k-labels-idx1-ubyte    10000 uint8

A folder the user names is the only one ``locate`` looks in: the ``root`` argument
(``--data``, ``--root`` on the command line; messages name it as the user gave it), else
``$BACKPROP_DATA``. If it lacks a file, that is an error naming the missing files, never
a silent switch to other data. When no folder is named, ``locate`` takes the first of
these that holds all four:

1. the user cache, ``$XDG_CACHE_HOME/backprop/fashion-mnist`` or
   ``~/.cache/backprop/fashion-mnist`` (where ``fetch`` downloads to);
2. ``/usr/share/datasets/fashion-mnist``, installed by the Debian package
   ``dataset-fashion-mnist``.

Every file is checked against the SHA-256 of its *decompressed* bytes (the Debian files
are recompressed, so hashes of the .gz files would differ), computed while the file is
parsed, so each file is read and decompressed once. Digit MNIST has the same file names
and shapes; the checksum is what tells the two apart.

``load_idx_folder`` also reads another data set in the same four-file layout (digit
MNIST, KMNIST, a user's own): when none of its files is Fashion-MNIST's, it is checked for
structure only (shapes, one label per image, labels below the number of classes) and
marked unverified; its class names come from ``classes.txt`` beside the files (one name a
line), or are the label numbers.

Decompressing takes most of a load (0.25 s of 0.3 s), so ``load_fashion_mnist`` keeps a
raw copy of verified .gz files in the user cache (55 MB, written atomically, best
effort); the next load finds the raw files there first and reads them in ~0.05 s.
"""
import hashlib
import http.client
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from ..io import atomic_write, lock_run_folder, remove_temporaries, sigterm_cleans_up
from ..paths import user_cache
from .idx import read_idx, write_idx


CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

CLASSES_FILE = "classes.txt"  # beside another data set's files: its class names, one a line

# key -> file name without .gz
FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "t10k-images": "t10k-images-idx3-ubyte",
    "t10k-labels": "t10k-labels-idx1-ubyte",
}

# key -> SHA-256 of the decompressed file
SHA256 = {
    "train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

_OFFICIAL_SHA256 = dict(SHA256)  # what SHA256 is set to here (tests may replace SHA256)

# key -> shape of the official file, and its decompressed size in bytes (header included;
# the official and the Debian .gz files both decompress to these)
SHAPES = {"train-images": (60000, 28, 28), "train-labels": (60000,),
          "t10k-images": (10000, 28, 28), "t10k-labels": (10000,)}
RAW_SIZES = {"train-images": 47040016, "train-labels": 60008,
             "t10k-images": 7840016, "t10k-labels": 10008}
# key -> data bytes of the official file (its size less the header): the most a file of
# that name may hold in any folder (another data set in the layout is no larger), so that
# a damaged header or a gzip bomb is refused before anything is allocated or decompressed
DATA_BYTES = {key: size - 4 - 4 * len(SHAPES[key]) for key, size in RAW_SIZES.items()}


def max_download(key):
    """The most bytes a .gz of file ``key`` can have: zlib's bound on deflating its raw
    size (stored blocks), the gzip header and trailer, and 1 KiB for a file name in the
    header. The official .gz files are about half as large."""
    raw = RAW_SIZES[key]
    return raw + (raw >> 12) + (raw >> 14) + (raw >> 25) + 13 + 18 + 1024


# Where fetch downloads from: the data folder of the project's own repository
# (zalandoresearch/fashion-mnist, data/fashion/, the four .gz files themselves, not Git LFS
# pointers), served over HTTPS by GitHub. The address its README lists,
# http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/, is an S3 *website*
# endpoint, which serves plain HTTP only. Either way the SHA-256 of each file is what
# makes a download trustworthy; HTTPS also keeps it private and unaltered on the way.
DEFAULT_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"

# Where the Debian package dataset-fashion-mnist installs the files (tests replace it).
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

_GET_IT = ("install it with `sudo apt-get install dataset-fashion-mnist` or download it "
           "with `backprop data fetch`")


def cache_dir():
    """The user cache folder of the data set (``fetch`` downloads there).

    ``$XDG_CACHE_HOME/backprop/fashion-mnist`` if XDG_CACHE_HOME is set to an absolute
    path (the XDG spec says to ignore a relative one), else
    ``~/.cache/backprop/fashion-mnist``.
    """
    return user_cache("fashion-mnist")


def search_path(root=None, root_name="root argument"):
    """The folders ``locate`` looks in, in order, as (description, folder or None) pairs.

    A named folder (``root``, described in messages as ``root_name``, else a non-empty
    ``$BACKPROP_DATA``) is the only entry. Otherwise the list is the default search, with
    the two unnamed entries kept as None so messages can say they were not set.
    """
    env = os.environ.get("BACKPROP_DATA")
    if root is not None:
        return [(root_name, Path(root))]
    if env:
        return [("$BACKPROP_DATA", Path(env))]
    return [
        ("root argument", None),
        ("$BACKPROP_DATA", None),
        ("user cache", cache_dir()),
        ("Debian package dataset-fashion-mnist", Path(SYSTEM_DIR)),
    ]


def _find_in(folder):
    """{key: path} of the files present in ``folder`` (raw preferred over .gz)."""
    found = {}
    for key, name in FILES.items():
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                found[key] = candidate
                break
    return found


def locate(root=None, root_name="root argument"):
    """Find the four Fashion-MNIST files.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The folder holding the files; the only one looked in. Without it, the folder
        in ``$BACKPROP_DATA`` is the only one; without both, the default search (see
        the module docstring).
    root_name : str
        What messages call ``root``: the option the user gave, e.g. "--data".

    Returns
    -------
    dict
        ``{"train-images": Path, "train-labels": Path, "t10k-images": Path,
        "t10k-labels": Path}``, all in the named folder, or else in the first folder of
        the default search that holds all four files.

    Raises
    ------
    FileNotFoundError
        A named folder does not exist or lacks some of the four files (the one-line
        message names the missing ones), or no folder of the default search holds all
        four (the message lists every place looked at, what a partly filled folder
        lacks, and how to get the data).
    """
    places = search_path(root, root_name)
    if len(places) == 1:
        return _locate_in_named(*places[0])
    looked = []
    for description, folder in places:
        if folder is None:
            looked.append(f"{description} (not set)")
            continue
        found = _find_in(folder)
        if len(found) == len(FILES):
            return found
        if found:
            missing = ", ".join(FILES[key] for key in FILES if key not in found)
            looked.append(f"{folder} ({description}; lacks {missing})")
        else:
            looked.append(f"{folder} ({description})")
    raise FileNotFoundError(
        "Fashion-MNIST not found; looked in: " + "; ".join(looked) + f"; {_GET_IT}")


def _locate_in_named(description, folder):
    """locate() in the one folder the user named: all four files there, or an error."""
    default = (f"unset BACKPROP_DATA to search the user cache and {SYSTEM_DIR}"
               if description == "$BACKPROP_DATA" else "name no folder to search the "
               "default places")
    remedy = f"download them there with `backprop data fetch --dest {folder}`, or {default}"
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise FileNotFoundError(f"Fashion-MNIST not found: {folder} ({description}): "
                                f"{what}; {remedy}")
    found = _find_in(folder)
    if len(found) < len(FILES):
        missing = [FILES[key] for key in FILES if key not in found]
        count = "all 4 files" if not found else f"{len(missing)} of the 4 files"
        raise FileNotFoundError(
            f"Fashion-MNIST not found: {folder} ({description}) lacks {count}: "
            f"{', '.join(missing)} (each raw or .gz; a named folder is the only one "
            f"searched); {remedy}")
    return found


def read_verified(path, key, checksums=None):
    """Read one data file and check it is the official one.

    Parameters
    ----------
    path : str or os.PathLike
        The file (raw or gzip).
    key : str
        Which file it should be: "train-images", "train-labels", "t10k-images" or
        "t10k-labels".
    checksums : dict, optional
        key -> SHA-256 hex digest of the decompressed file; ``SHA256`` by default.

    Returns
    -------
    numpy.ndarray
        The array, as ``read_idx`` returns it.

    Raises
    ------
    ValueError
        The file is damaged (see ``read_idx``) or its checksum is not the expected one;
        the message says how to repair it.
    """
    try:
        return _read_checked(path, key, checksums)
    except ValueError as error:
        raise ValueError(f"{error}; {_repair_hint(path)}") from None


def _repair_hint(path):
    """How to replace a damaged or wrong data file, depending on where it is."""
    folder = Path(path).parent
    if folder == cache_dir():
        return (f"to repair, delete {path} or run `backprop data fetch` (which replaces "
                f"damaged files in the user cache)")
    if folder == Path(SYSTEM_DIR):
        return ("to repair, run `sudo apt-get install --reinstall dataset-fashion-mnist`, "
                "or `backprop data fetch` (the user cache is searched first)")
    return (f"to repair, replace it with the official file, e.g. with `backprop data "
            f"fetch --dest {folder}`")


def _read_checked(path, key, checksums=None):
    """read_verified without the advice on repairing (for fetch's own downloads)."""
    hasher = hashlib.sha256()
    expected = (checksums or SHA256)[key]
    # the official file's shape is known: any other header is refused before anything is
    # allocated or decompressed (a gzip bomb stops at its header)
    shape = SHAPES[key] if expected == _OFFICIAL_SHA256[key] else None
    try:
        array = read_idx(path, hasher=hasher, shape=shape)
    except ValueError as error:
        if shape is None or f"expected {shape}" not in str(error):
            raise
        raise ValueError(f"{error}: not the official Fashion-MNIST {FILES[key]} (another "
                         f"data set, or a damaged copy)") from None
    got = hasher.hexdigest()
    if got != expected:
        raise ValueError(
            f"{path}: not the official Fashion-MNIST {FILES[key]} (digit MNIST, another "
            f"data set, or a damaged copy): SHA-256 of the decompressed data is expected "
            f"{expected}, got {got}")
    return array


def _check_pair(images, labels, split, paths):
    """The shapes and dtypes load_fashion_mnist promises, with a message if not."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{paths[split + '-images']}: expected uint8 images of shape "
                         f"(N, 28, 28), got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.shape != (len(images),):
        raise ValueError(f"{paths[split + '-labels']}: expected {len(images)} uint8 "
                         f"labels (one per image), got {labels.dtype} {labels.shape}")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise ValueError(f"{paths[split + '-labels']}: labels must be 0..9, found "
                         f"{labels.max()}")


def load_fashion_mnist(root=None, verify=True, unpack=True):
    """Load Fashion-MNIST as uint8 arrays.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The folder holding the files, the only one looked in (see ``locate``).
    verify : bool
        Check each file's SHA-256 (computed while reading, at no extra pass). Turn it
        off only for synthetic test data.
    unpack : bool
        Keep raw copies of verified .gz files in the user cache, so later loads skip
        the decompression (see ``unpack_to_cache``).

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        Images uint8 (60000, 28, 28) and (10000, 28, 28), labels uint8 (N,) in 0..9
        (see ``CLASS_NAMES``). Scale with ``scale_images`` or batch with ``Batches``.

    Raises
    ------
    FileNotFoundError
        The files are nowhere to be found (the message says where it looked).
    ValueError
        A file is damaged or not the official Fashion-MNIST.
    """
    paths = locate(root)
    arrays = {key: read_verified(path, key) if verify else
              read_idx(path, max_bytes=DATA_BYTES[key], bound=_bound(key))
              for key, path in paths.items()}
    for split in ("train", "t10k"):
        _check_pair(arrays[split + "-images"], arrays[split + "-labels"], split, paths)
    if verify and unpack:
        unpack_to_cache(paths, arrays)
    return ((arrays["train-images"], arrays["train-labels"]),
            (arrays["t10k-images"], arrays["t10k-labels"]))


class IdxData(NamedTuple):
    """A data set in Fashion-MNIST's four-file layout, as ``load_idx_folder`` returns it."""

    train: tuple          # (x_train, y_train): uint8 images (N, ...), integer labels (N,)
    test: tuple           # (x_test, y_test)
    class_names: tuple    # one name per class; len is the number of classes
    verified: bool        # True: the official Fashion-MNIST (every SHA-256 matched)
    folder: Path
    names_file: Path = None  # the classes.txt the class names were read from, if any


def load_idx_folder(root, root_name="root argument", unpack=True):
    """Load the four idx files in ``root``: Fashion-MNIST, verified, or another data set
    in the same layout (digit MNIST, KMNIST, your own), checked for structure.

    Every file is read once, its SHA-256 computed on the way. When all four are the
    official Fashion-MNIST files, the result is that (``CLASS_NAMES``, verified). When
    none is, it is another data set: the images must be uint8 of one shape (N, ...) in
    both splits, the labels one integer per image, below the number of classes; the
    class names are the lines of ``classes.txt`` beside the files, else "0", "1", ...
    up to the largest label. Some files official and others not is a damaged
    Fashion-MNIST: the ValueError of ``read_verified``.

    Parameters
    ----------
    root : str or os.PathLike
        The folder (the only one looked in; see ``locate``).
    root_name : str
        What messages call it, e.g. "--data".
    unpack : bool
        Keep raw copies of verified Fashion-MNIST .gz files in the user cache.

    Returns
    -------
    IdxData
    """
    paths = locate(root, root_name)
    arrays, official = {}, {}
    for key, path in paths.items():
        hasher = hashlib.sha256()  # bounded by the official size: a bomb stops at its header
        arrays[key] = read_idx(path, hasher=hasher, max_bytes=DATA_BYTES[key],
                               bound=_bound(key))
        official[key] = hasher.hexdigest() == SHA256[key]
    folder = paths["train-images"].parent
    if any(official.values()) and not all(official.values()):
        key = next(k for k, ok in official.items() if not ok)
        read_verified(paths[key], key)  # raises, naming the file and how to repair it
    if all(official.values()):
        for split in ("train", "t10k"):
            _check_pair(arrays[split + "-images"], arrays[split + "-labels"], split, paths)
        if unpack:
            unpack_to_cache(paths, arrays)
        class_names, names_file = CLASS_NAMES, None
    else:
        class_names = _class_names(folder, arrays, paths)
        names_file = folder / CLASSES_FILE if (folder / CLASSES_FILE).is_file() else None
    return IdxData((arrays["train-images"], arrays["train-labels"]),
                   (arrays["t10k-images"], arrays["t10k-labels"]),
                   tuple(class_names), all(official.values()), folder, names_file)


def _bound(key):
    """What ``DATA_BYTES[key]`` is, for read_idx's message."""
    return (f"Fashion-MNIST's {FILES[key]} (a file of this name holds at most as much, "
            f"also in another data set's folder)")


def _class_names(folder, arrays, paths):
    """Check another data set's structure; its class names (classes.txt, or the numbers)."""
    images = {split: arrays[split + "-images"] for split in ("train", "t10k")}
    if any(x.dtype != np.uint8 or x.ndim < 2 or len(x) == 0 for x in images.values()):
        split, x = next((s, x) for s, x in images.items()
                        if x.dtype != np.uint8 or x.ndim < 2 or len(x) == 0)
        raise ValueError(f"{paths[split + '-images']}: expected uint8 images of shape "
                         f"(N, ...) with N >= 1, got {x.dtype} {x.shape}")
    if images["t10k"].shape[1:] != images["train"].shape[1:]:
        raise ValueError(f"{paths['t10k-images']}: test images have shape "
                         f"{images['t10k'].shape[1:]} but training images "
                         f"{images['train'].shape[1:]}")
    for split, x in images.items():
        y = arrays[split + "-labels"]
        if y.dtype.kind not in "iu" or y.shape != (len(x),):
            raise ValueError(f"{paths[split + '-labels']}: expected {len(x)} integer labels "
                             f"(one per image), got {y.dtype} {y.shape}")
    low = min(int(arrays[s + "-labels"].min()) for s in ("train", "t10k"))
    high = max(int(arrays[s + "-labels"].max()) for s in ("train", "t10k"))
    names_file = folder / CLASSES_FILE
    if not names_file.is_file():
        names = [str(k) for k in range(high + 1)]
    else:
        names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    if low < 0 or high >= len(names) or len(names) < 2:
        raise ValueError(f"the labels in {folder} range over {low}..{high}, but {names_file} "
                         f"names {len(names)} classes (one name a line, for labels "
                         f"0..{len(names) - 1})" if names_file.is_file() else
                         f"the labels in {folder} range over {low}..{high}: they must be "
                         f"0 or more, with at least two classes")
    return names


def unpack_to_cache(paths, arrays):
    """Write each verified array read from a .gz file as a raw idx file into the user
    cache folder, unless one is there already. Each is written atomically
    (``io.atomic_write``), so the cache holds whole files or none; any OSError (a
    read-only or full disk) leaves the cache as it was, and the load goes on."""
    dest = cache_dir()
    for key, path in paths.items():
        target = dest / FILES[key]
        if Path(path).suffix != ".gz" or target.exists():
            continue
        try:
            dest.mkdir(parents=True, exist_ok=True)
            with atomic_write(target, suffix=".part") as f:
                write_idx(f.name, arrays[key])  # into the temporary file, by its path
        except OSError:
            return


def fetch(dest=None, base_url=DEFAULT_URL, progress=True, checksums=None, timeout=60):
    """Download the four .gz files, verify them, and store them in ``dest``.

    Each file goes to a temporary file in ``dest``, is checked (complete, valid idx,
    right SHA-256), and only then renamed to its final name (``os.replace``, atomic), so
    a failed or interrupted download never leaves a data file behind; the temporary
    file is removed, also on Ctrl-C and on SIGTERM (which then still ends the process as
    SIGTERM does, unless the program has its own handler). Files already present and
    valid are not downloaded again. A raw (not .gz) copy of a file in ``dest`` that
    fails verification is removed with a warning, since ``locate`` would prefer it to
    the verified .gz (``load_fashion_mnist`` makes a new one in the user cache).

    Parameters
    ----------
    dest : str or os.PathLike, optional
        Target folder, created if needed; the user cache (``cache_dir()``) by default.
    base_url : str
        Folder URL holding ``train-images-idx3-ubyte.gz`` and the others.
    progress : bool
        Show a progress bar per file on stderr.
    checksums : dict, optional
        key -> SHA-256 of the decompressed file; ``SHA256`` by default.
    timeout : float
        Seconds to wait for the server before giving up.

    Returns
    -------
    pathlib.Path
        ``dest``, ready for ``load_fashion_mnist(root=dest)``.

    Raises
    ------
    OSError
        The server cannot be reached, answers with an HTTP error, or ``dest`` is not a
        folder or not writable.
    ValueError
        A downloaded file is incomplete, damaged or has the wrong checksum.
    """
    dest = Path(dest) if dest is not None else cache_dir()
    _make_folder(dest)
    with sigterm_cleans_up(), lock_run_folder(dest):  # one fetch at a time in dest
        remove_temporaries(dest, (".part",))  # what a SIGKILLed fetch left behind
        for key, name in FILES.items():
            _fetch_one(dest, key, name, base_url, progress, checksums, timeout)
            _remove_bad_raw_copy(dest / name, key, checksums)
    return dest


def _make_folder(dest):
    """mkdir -p, with a clear message where a file stands in the way."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (dest, *dest.parents)
                        if os.path.lexists(p) and not p.is_dir()), None)
        if blocker is None or blocker == dest:
            raise NotADirectoryError(f"destination {dest} is not a folder") from None
        raise NotADirectoryError(f"cannot make the destination folder {dest}: "
                                 f"{blocker} is not a folder") from None


def _fetch_one(dest, key, name, base_url, progress, checksums, timeout):
    """Download one .gz into ``dest`` unless a valid one is there (see ``fetch``)."""
    target = dest / (name + ".gz")
    if target.is_file():
        try:
            _read_checked(target, key, checksums)
            return  # already there and valid
        except ValueError:
            pass  # damaged: download it again
    url = base_url.rstrip("/") + "/" + name + ".gz"
    # atomic: the data file appears complete and verified, or not at all
    with atomic_write(target, suffix=".part") as out:
        download(url, out, progress, timeout, max_bytes=max_download(key))
        out.flush()
        try:
            _read_checked(out.name, key, checksums)
        except ValueError as error:
            raise ValueError(f"download of {url} is unusable (removed): {error}") from None


def _remove_bad_raw_copy(raw, key, checksums):
    """Remove ``raw`` if it is there and fails verification: ``locate`` prefers raw files
    to .gz files, so it would hide the verified .gz that fetch just stored."""
    if not raw.is_file():
        return
    try:
        _read_checked(raw, key, checksums)
    except ValueError:
        raw.unlink()
        warnings.warn(f"removed {raw}, a copy that failed verification; the verified "
                      f"{raw.name}.gz beside it replaces it", stacklevel=3)


def download(url, out, progress, timeout, max_bytes=None):
    """Stream ``url`` into the open file ``out``, checking the length the server sent;
    OSError as soon as it sends (or announces) more than ``max_bytes``."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise OSError(f"download of {url} failed: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise OSError(f"cannot download {url}: {error.reason}; check the network or pass "
                      f"another --url (or install the data with `sudo apt-get install "
                      f"dataset-fashion-mnist`)") from None
    except (OSError, http.client.HTTPException) as error:  # e.g. closed without answer
        raise OSError(f"download of {url} failed: {error or type(error).__name__}") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if max_bytes is not None and total is not None and total > max_bytes:
            raise OSError(f"download of {url} refused: the server announces {total} bytes, "
                          f"more than the {max_bytes} this file can have")
        name = url.rsplit("/", 1)[-1]
        received = 0
        with tqdm(total=total, desc=name, unit="B", unit_scale=True,
                  disable=not progress) as bar:
            while True:
                try:
                    chunk = response.read(1 << 16 if max_bytes is None
                                          else min(1 << 16, max_bytes + 1 - received))
                except (OSError, http.client.HTTPException) as error:  # reset, timeout
                    raise OSError(f"download of {url} broke off after {received} "
                                  f"bytes: {error}") from None
                if not chunk:
                    break
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise OSError(f"download of {url} stopped: the server sent more than "
                                  f"the {max_bytes} bytes this file can have")
                out.write(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise OSError(f"download of {url} is incomplete: got {received} of {total} bytes")
