"""read_idx / write_idx: every element type, raw and gzip, and every kind of broken file."""
import gzip
import hashlib
import tracemalloc

import numpy as np
import pytest

from backprop.app.data import read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
         np.float32: 0x0D, np.float64: 0x0E}


def sample(dtype, shape=(3, 4, 5)):
    """Values that use the whole range of the type (sign, large magnitudes)."""
    rng = np.random.default_rng(0)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def idx_bytes(code, shape, payload):
    """An idx file by hand: 00 00 code ndim, big-endian dims, then payload."""
    header = bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
    return header + payload


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type(tmp_path, dtype, suffix):
    a = sample(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    raw = gzip.decompress(path.read_bytes()) if suffix else path.read_bytes()
    assert raw[:4] == bytes([0, 0, CODES[dtype], 3])
    # the data is big-endian on disk whatever the machine
    assert raw[16:] == a.astype(np.dtype(dtype).newbyteorder(">")).tobytes()


def test_big_endian_input_and_odd_shapes(tmp_path):
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    write_idx(tmp_path / "a", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), [[0, 1, 2], [3, 4, 5]])
    write_idx(tmp_path / "empty", np.zeros((0, 28, 28), np.uint8))
    assert read_idx(tmp_path / "empty").shape == (0, 28, 28)
    write_idx(tmp_path / "t", np.arange(12, dtype=np.int16).reshape(3, 4).T)  # F order
    np.testing.assert_array_equal(read_idx(tmp_path / "t"), np.arange(12).reshape(3, 4).T)


def test_known_bytes(tmp_path):
    """The Fashion-MNIST label layout: magic 2049, one dimension, then the bytes."""
    path = tmp_path / "labels"
    path.write_bytes((2049).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([7, 0, 9]))
    labels = read_idx(path)
    assert labels.dtype == np.uint8 and labels.tolist() == [7, 0, 9]
    path.write_bytes(idx_bytes(0x0B, (2,), bytes([0x01, 0x02, 0xFF, 0xFE])))
    assert read_idx(path).tolist() == [0x0102, -2]


def test_gzip_recognised_by_content_not_name(tmp_path):
    a = sample(np.int32)
    write_idx(tmp_path / "a.gz", a)
    (tmp_path / "plain-name").write_bytes((tmp_path / "a.gz").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), a)
    write_idx(tmp_path / "raw", a)
    (tmp_path / "raw-named.gz").write_bytes((tmp_path / "raw").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-named.gz"), a)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_hasher_sees_the_decompressed_file(tmp_path, compress):
    a = sample(np.float32)
    path = tmp_path / ("a.gz" if compress else "a")
    write_idx(path, a)
    plain = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
    hasher = hashlib.sha256()
    read_idx(path, hasher=hasher)
    assert hasher.hexdigest() == hashlib.sha256(plain).hexdigest()


def test_write_refuses_what_idx_cannot_hold(tmp_path):
    for bad in (np.zeros(3, np.int64), np.zeros(3, np.uint16), np.zeros(3, bool),
                np.zeros(3, np.complex64), np.array(["a"])):
        with pytest.raises(ValueError, match="idx cannot hold dtype"):
            write_idx(tmp_path / "x", bad)


GOOD = idx_bytes(0x08, (2, 3), bytes(range(6)))
BROKEN = {
    "truncated header": (GOOD[:2], "truncated header"),
    "truncated dims": (GOOD[:9], "truncated header"),
    "truncated data": (GOOD[:-1], "truncated"),
    "trailing bytes": (GOOD + b"\x00", "trailing bytes"),
    "bad zero bytes": (b"\x01" + GOOD[1:], "not an idx file"),
    "text file": (b"hello world, not idx\n", "not an idx file"),
    "unknown type": (idx_bytes(0x0A, (2, 3), bytes(6)), "unknown idx type code 0x0A"),
    "empty file": (b"", "truncated header"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_files_raise_naming_the_file(tmp_path, case, compress):
    content, message = BROKEN[case]
    path = tmp_path / f"broken-{case.replace(' ', '-')}"
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip(tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(0x08, (100, 100), bytes(range(100)) * 100)))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as info:
        read_idx(cut)
    assert str(cut) in str(info.value)
    packed[-8] ^= 0xFF  # the CRC32 of the trailer
    crc = tmp_path / "crc.gz"
    crc.write_bytes(bytes(packed))
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as info:
        read_idx(crc)
    assert str(crc) in str(info.value)
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(range(200)))
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        read_idx(garbage)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_huge_header_fails_without_allocating(tmp_path, compress):
    """A header claiming 2**32-1 cubed doubles (~6e29 bytes) on a file of a few bytes."""
    big = 2 ** 32 - 1
    content = idx_bytes(0x0E, (big, big, big), bytes(64))
    path = tmp_path / "liar"
    path.write_bytes(gzip.compress(content) if compress else content)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="truncated") as info:
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"allocated {peak} bytes for a lying header"
    assert str(path) in str(info.value)


def test_gzip_bomb_is_read_only_as_far_as_the_header_says(tmp_path):
    """A header describing 1000 bytes in front of 50 MB of zeros: the reader must stop
    after 1001 bytes instead of inflating everything."""
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as f:
        f.write(idx_bytes(0x08, (1000,), bytes(1000)))
        for _ in range(50):
            f.write(bytes(1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="trailing bytes"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"allocated {peak} bytes"


def test_a_header_describing_more_than_max_bytes_is_refused_before_allocating(tmp_path):
    """A sparse raw file (a few KB on disk, 2 GiB apparent) whose header matches its
    apparent size: refused from the header alone, not read into 2 GiB of memory."""
    path = tmp_path / "sparse-idx1-ubyte"
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, 1]) + (2 ** 31).to_bytes(4, "big"))
        f.truncate(8 + 2 ** 31)
    with pytest.raises(ValueError, match=r"sparse-idx1-ubyte: the header says shape "
                                         r"\(2147483648,\) of uint8, 2147483648 data bytes, "
                                         r"more than the 1073741824 read_idx accepts"):
        read_idx(path)
    small = tmp_path / "small.gz"
    write_idx(small, np.arange(1000, dtype=np.int32).astype(np.uint8))
    with pytest.raises(ValueError, match="more than the 999 read_idx accepts"):
        read_idx(small, max_bytes=999)
    assert read_idx(small, max_bytes=1000).shape == (1000,)


def test_a_header_of_another_shape_than_expected_is_refused(tmp_path):
    path = tmp_path / "labels.gz"
    write_idx(path, np.zeros(600, np.uint8))
    with pytest.raises(ValueError, match=r"labels.gz: the header says shape \(600,\), "
                                         r"expected \(60000,\)"):
        read_idx(path, shape=(60000,))
    assert read_idx(path, shape=[600]).shape == (600,)
