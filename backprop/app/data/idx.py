"""The idx file format: ``read_idx`` and ``write_idx``, raw or gzip-compressed.

An idx file (the format of MNIST and Fashion-MNIST) is a header followed by the data,
both big-endian::

    byte 0, 1     0x00 0x00
    byte 2        element type: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
                  0x0D float, 0x0E double
    byte 3        ndim, the number of dimensions
    ndim x 4      each dimension as a big-endian uint32
    the data      prod(dims) elements in C order, big-endian

So the magic number of Fashion-MNIST images is 0x00000803 = 2051 (ubyte, 3 dims) and of
the labels 0x00000801 = 2049. The reader parses the header, works out how many data bytes
the dimensions describe and checks that count against what the file can hold *before* it
allocates the array, so a truncated or lying file fails with a message instead of a
memory error or a silently misshapen array. (The widespread reader that skips a fixed
16-byte offset and reshapes whatever follows is what this module replaces.)

Compression is recognised by content (the gzip magic bytes 1f 8b), never by file name.
"""
import gzip
import os
import zlib

import numpy as np

from ..io import open_regular


# idx type code -> big-endian dtype of the data
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# (kind, itemsize) of a native dtype -> idx type code, for the writer
_CODES = {(dt.kind, dt.itemsize): code for code, dt in _DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"
# deflate cannot expand more than 1032:1 (a 258-byte match costs at least 2 bits), so a
# gzip file of C bytes decompresses to at most about 1032 C bytes
_DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 20  # read (and hash) 1 MiB at a time
MAX_BYTES = 1 << 30  # read_idx's default bound on the data: 1 GiB (Fashion-MNIST's largest: 47 MB)


def read_idx(path, hasher=None, max_bytes=MAX_BYTES, shape=None, bound=None):
    """Read an idx file (raw or gzip) into a native-endian array of the right shape.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip compression is detected from the first two bytes (1f 8b), so
        the name does not matter.
    hasher : hashlib hash object, optional
        If given, ``hasher.update`` is fed every byte of the (decompressed) idx file,
        header included, while it is read; ``hasher.hexdigest()`` then is the checksum of
        the uncompressed file, without a second pass over it.
    max_bytes : int
        The most data bytes the header may describe (default 1 GiB); a larger file is
        refused before anything is allocated or decompressed.
    shape : tuple of int, optional
        The shape the file must have (e.g. (60000, 28, 28)); a header with another one
        is refused before anything is allocated or decompressed.
    bound : str, optional
        What ``max_bytes`` is, for the message: "the 60000 of BOUND" (e.g. "Fashion-MNIST's
        train-labels-idx1-ubyte"), instead of "the 60000 read_idx accepts".

    Returns
    -------
    numpy.ndarray
        Shape ``dims`` from the header; dtype uint8, int8, int16, int32, float32 or
        float64 in native byte order (uint8 images stay uint8).

    Raises
    ------
    ValueError
        The file is not idx (bad zero bytes, unknown type code), its header or data is
        truncated, it has bytes after the data, its gzip stream is corrupt, or it is no
        regular file (a FIFO, a device). The message starts with the file name.
    OSError
        The file cannot be opened.
    """
    name = os.fspath(path)
    with open_regular(name) as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        expect = (max_bytes, None if shape is None else tuple(int(d) for d in shape), bound)
        if not compressed:
            return _read_stream(raw, name, hasher, expect, available=size)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_stream(stream, name, hasher, expect,
                                    limit=_DEFLATE_MAX_RATIO * size + 1024)
        except (OSError, EOFError, zlib.error) as error:
            # BadGzipFile is an OSError; a cut-off stream is an EOFError
            raise ValueError(f"{name}: corrupt or truncated gzip data ({error})") from None


def _read_exact(stream, n, name, what, hasher):
    """Read exactly n header bytes or raise a ValueError saying the header is truncated."""
    data = stream.read(n)
    if len(data) != n:
        raise ValueError(f"{name}: not an idx file or truncated header: {what} needs "
                         f"{n} bytes, the file has {len(data)}")
    if hasher is not None:
        hasher.update(data)
    return data


def _read_stream(stream, name, hasher, expect, available=None, limit=None):
    """Parse the header, check the size, then read the data into one preallocated array.

    ``expect`` is (max_bytes, shape or None, bound or None), what the caller accepts;
    ``available`` is the exact byte count of a raw file, ``limit`` the most a gzip file can
    decompress to.
    All are checked before anything large is allocated (or, for gzip, decompressed).
    """
    magic = _read_exact(stream, 4, name, "the magic number", hasher)
    if magic[:2] != b"\x00\x00":
        raise ValueError(f"{name}: not an idx file: it starts with {magic[:2].hex(' ')}, "
                         f"expected 00 00 (then type code and ndim)")
    code, ndim = magic[2], magic[3]
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X} ({_DTYPES[c].name})" for c in _DTYPES)
        raise ValueError(f"{name}: unknown idx type code 0x{code:02X}; known: {known}")
    dims_bytes = _read_exact(stream, 4 * ndim, name, f"{ndim} dimension(s)", hasher)
    shape = tuple(int.from_bytes(dims_bytes[4 * i:4 * i + 4], "big") for i in range(ndim))
    dtype = _DTYPES[code]
    header = 4 + 4 * ndim
    nbytes = dtype.itemsize * int(np.prod(shape, dtype=object))  # Python ints: no overflow

    # the checks before the allocation
    max_bytes, expected_shape, bound = expect
    if expected_shape is not None and shape != expected_shape:
        raise ValueError(f"{name}: the header says shape {shape}, expected {expected_shape}")
    if available is not None and available - header != nbytes:
        problem = "truncated" if available - header < nbytes else "has trailing bytes"
        raise ValueError(f"{name}: {problem}: the header says shape {shape} of "
                         f"{dtype.name}, {nbytes} data bytes, the file holds "
                         f"{available - header}")
    if limit is not None and header + nbytes > limit:
        raise ValueError(f"{name}: truncated or corrupt: the header says shape {shape} of "
                         f"{dtype.name}, {nbytes} data bytes, more than this gzip file "
                         f"can hold (at most {limit} bytes)")
    if nbytes > max_bytes:
        limit = (f"the {max_bytes} of {bound}" if bound else f"the {max_bytes} read_idx "
                 f"accepts (a damaged file, or pass a larger max_bytes)")
        raise ValueError(f"{name}: the header says shape {shape} of {dtype.name}, {nbytes} "
                         f"data bytes, more than {limit}")

    data = np.empty(nbytes, dtype=np.uint8)
    view = memoryview(data)
    done = 0
    while done < nbytes:  # never asks for more than the header describes
        n = stream.readinto(view[done:done + _CHUNK])
        if not n:
            break
        if hasher is not None:
            hasher.update(view[done:done + n])
        done += n
    if done < nbytes:
        raise ValueError(f"{name}: truncated: the header says shape {shape} of "
                         f"{dtype.name}, {nbytes} data bytes, the file holds {done}")
    if stream.read(1):  # for gzip this also makes the module check the CRC
        raise ValueError(f"{name}: has trailing bytes after the {nbytes} data bytes of "
                         f"shape {shape}")

    array = data.view(dtype)
    if not dtype.isnative:  # swap in place: no second copy of the data
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    try:
        return array.reshape(shape)
    except ValueError as error:  # e.g. more dimensions than numpy allows
        raise ValueError(f"{name}: the header's shape {shape if ndim <= 8 else f'of {ndim} dimensions'} "
                         f"cannot be a NumPy array ({error})") from None


def write_idx(path, array):
    """Write ``array`` as an idx file; gzip-compressed when ``path`` ends with ``.gz``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. A name ending in ``.gz`` gets a gzip file (with a zero timestamp,
        so the same array always gives the same bytes), any other name a raw file.
    array : array_like
        uint8, int8, int16, int32, float32 or float64 (either byte order), at most 255
        dimensions, each below 2**32.

    Raises
    ------
    ValueError
        The dtype or shape cannot be stored in idx.
    """
    array = np.asarray(array)
    code = _CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        kinds = ", ".join(dt.newbyteorder("=").name for dt in _DTYPES.values())
        raise ValueError(f"idx cannot hold dtype {array.dtype}; use one of: {kinds}")
    if array.ndim > 255 or any(d >= 2 ** 32 for d in array.shape):
        raise ValueError(f"idx cannot hold shape {array.shape}: at most 255 dimensions, "
                         f"each below 2**32")
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = np.ascontiguousarray(array, dtype=_DTYPES[code])  # big-endian, C order
    data = data.reshape(-1).view(np.uint8)  # the bytes, for any byte order
    name = os.fspath(path)
    with open(name, "wb") as raw:
        if name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as stream:
                stream.write(header)
                stream.write(data)
        else:
            raw.write(header)
            raw.write(data)
