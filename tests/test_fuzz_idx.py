"""read_idx under fuzzing: hypothesis-generated files, and seeded mutants of real ones.

The property, for any file: ``read_idx`` returns exactly the array the bytes describe, or
raises a ValueError (naming the file); never any other exception, and it never allocates
more than the file can describe (raw: its size; gzip: 1032 times its size plus 1024, the
deflate bound ``idx.py`` uses).

The oracle, ``describe``, is a second parser written independently of ``idx.py``: the
whole file through ``gzip.decompress``, the header through ``struct``, the data through
``np.frombuffer``. Allocations are seen by standing in for ``np`` inside ``idx.py`` (it
allocates the data with ``np.empty``) and, for the mutants, by tracemalloc as well.

Each test counts the cases it tried and what came out; run with ``-s`` to see the counts
quoted in docs/reliability.md. Hypothesis runs derandomized, so the counts are the same
on every run (for a given hypothesis version).
"""
import gzip
import os
import struct
import tracemalloc
import zlib
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop.app.data import idx
from backprop.app.data.idx import read_idx, write_idx

FASHION = "/usr/share/datasets/fashion-mnist"
needs_data = pytest.mark.skipif(not os.path.isdir(FASHION),
                                reason="apt-get install dataset-fashion-mnist")

# idx type code -> big-endian dtype, written out again here rather than taken from idx.py
BIG_ENDIAN = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
DEFLATE_MAX_RATIO, GZIP_SLACK = 1032, 1024
HUGE_DIMS = [2 ** 32 - 1, 2 ** 31, 65536, 1 << 20]

STRUCTURED_EXAMPLES = 1000
ARBITRARY_EXAMPLES = 500
MUTANTS_PER_REAL_FILE = 100  # 4 real files
MUTANTS_PER_SYNTHETIC_FILE = 40  # 12 files: 6 element types, raw and gzip


# ----------------------------------------------------------------------------- the oracle

def describe(content):
    """What the bytes of a file describe: ("array", ndarray in big-endian order),
    ("error", why), or ("unrepresentable", why) for a well-formed file whose shape numpy
    cannot hold (more than 64 dimensions, or a zero-size shape whose other dimensions
    overflow)."""
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as error:
            return "error", f"gzip: {error}"
    if len(content) < 4 or content[:2] != b"\x00\x00":
        return "error", "no 00 00 magic"
    code, ndim = content[2], content[3]
    if code not in BIG_ENDIAN:
        return "error", f"type code {code:#x}"
    header = 4 + 4 * ndim
    if len(content) < header:
        return "error", "truncated dimensions"
    dims = struct.unpack(f">{ndim}I", content[4:header])
    dtype = np.dtype(BIG_ENDIAN[code])
    count = 1
    for d in dims:
        count *= d
    if len(content) - header != count * dtype.itemsize:
        return "error", f"{len(content) - header} data bytes for {dims}"
    try:
        return "array", np.frombuffer(content[header:], dtype).reshape(dims)
    except ValueError as error:
        return "unrepresentable", str(error)


def allocation_bound(content):
    """The most ``read_idx`` may allocate for a file of these bytes."""
    if content[:2] == b"\x1f\x8b":
        return DEFLATE_MAX_RATIO * len(content) + GZIP_SLACK
    return len(content)


class AllocationSpy:
    """Stands in for the module ``np`` inside idx.py and records the byte size of every
    array it creates from a shape (np.empty, zeros, ones, full); all else is numpy's."""

    CREATORS = ("empty", "zeros", "ones", "full")

    def __init__(self):
        self.sizes = []

    def __getattr__(self, name):
        attr = getattr(np, name)
        if name not in self.CREATORS:
            return attr

        def create(shape, *args, **kwargs):
            dtype = kwargs.get("dtype", args[1 if name == "full" else 0] if args else float)
            n = int(np.prod(shape, dtype=object)) if np.ndim(shape) else int(shape)
            self.sizes.append(n * np.dtype(dtype).itemsize)
            return attr(shape, *args, **kwargs)

        return create


@pytest.fixture(scope="module")
def spy():
    """AllocationSpy installed as idx.py's ``np`` for the whole module (a module-scoped
    fixture, because hypothesis refuses function-scoped ones such as monkeypatch)."""
    mp = pytest.MonkeyPatch()
    spy = AllocationSpy()
    mp.setattr(idx, "np", spy)
    yield spy
    mp.undo()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def check_file(path, content, spy, trace=False):
    """Write ``content`` to ``path``, read it, and hold the outcome against the oracle.
    Returns "array" or "ValueError"."""
    path.write_bytes(content)
    kind, expected = describe(content)
    spy.sizes.clear()
    if trace:
        tracemalloc.start()
    try:
        got = read_idx(path)
    except ValueError as error:
        assert kind != "array", f"ValueError for a valid file {content[:24].hex()}: {error}"
        if kind == "error":  # the documented contract: the message starts with the name
            assert str(error).startswith(str(path)), f"message lacks the file: {error}"
        outcome = "ValueError"
    except Exception as error:  # noqa: BLE001 -- anything but ValueError is the bug sought
        pytest.fail(f"{type(error).__name__} (not ValueError) for {content[:24].hex()}...: "
                    f"{error}")
    else:
        assert kind == "array", f"read {got.dtype} {got.shape}, expected {kind}: {expected}"
        assert got.shape == expected.shape
        assert got.dtype == expected.dtype.newbyteorder("=") and got.dtype.isnative
        # bit for bit: NaN payloads and the sign of zero included
        assert got.tobytes() == expected.astype(got.dtype).tobytes()
        outcome = "array"
    finally:
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
    bound = allocation_bound(content)
    assert max(spy.sizes, default=0) <= bound, f"allocated {max(spy.sizes)} > {bound} bytes"
    # tracemalloc sees every allocation, numpy's and gzip's: the data plus a fixed slack
    # for the decompressor's window and buffers
    assert peak <= 2 * bound + (512 << 10), f"peak {peak} bytes for a {len(content)}-byte file"
    return outcome


# ------------------------------------------------------------------- hypothesis: property

def header_bytes(code, dims, zeros=b"\x00\x00"):
    return zeros + bytes([code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@st.composite
def structured_files(draw):
    """A header with a random (mostly valid) type code, ndim and dims, and a payload that
    is usually the exact length the header asks for, sometimes a little off, sometimes
    random; about half gzip-wrapped. Payload bytes come from a drawn seed, so large
    payloads do not exhaust hypothesis's buffer."""
    # sampled_from draws the choices about evenly, so listing a choice several times
    # weights it: mostly valid codes, small ndim and small dims, exact payloads
    code = draw(st.sampled_from(sorted(BIG_ENDIAN) * 3 + [0x00, 0x0A, 0x0F, 0xFF]))
    ndim = draw(st.sampled_from([0, 1, 1, 2, 2, 3, 3, 4, "any"]))
    if ndim == "any":
        ndim = draw(st.integers(5, 255))
    dims = draw(st.lists(st.sampled_from([0, 1, 2, 3, 4, 5] * 3 + HUGE_DIMS),
                         min_size=ndim, max_size=ndim))
    itemsize = np.dtype(BIG_ENDIAN.get(code, ">u1")).itemsize
    need = itemsize * int(np.prod(dims, dtype=object))
    how = draw(st.sampled_from(["exact"] * 4 + ["off by a little", "random"]))
    if how == "exact" and need <= 1 << 16:
        n = need
    elif how == "off by a little" and need <= 1 << 16:
        n = max(0, need + draw(st.sampled_from([-9, -2, -1, 1, 2, 9])))
    else:
        n = draw(st.integers(0, 300))
    zeros = draw(st.sampled_from([b"\x00\x00"] * 9 + [b"\x00\x01", b"\x08\x00"]))
    content = header_bytes(code, dims, zeros)
    if draw(st.sampled_from([False] * 5 + [True])):
        cut = draw(st.integers(0, len(content)))
        content = content[:cut]  # a truncated header
    content += np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))).bytes(n)
    if draw(st.sampled_from([False, True])):
        content = gzip.compress(content, mtime=0)
    return content


@pytest.mark.slow  # fuzzing
def test_read_idx_on_structured_files(spy, scratch):
    outcomes = Counter()

    @settings(max_examples=STRUCTURED_EXAMPLES, deadline=None, derandomize=True,
              database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(structured_files())
    def prop(content):
        gz = "gzip" if content[:2] == b"\x1f\x8b" else "raw"
        outcomes[gz, check_file(scratch / "structured", content, spy)] += 1

    prop()
    print(f"\nstructured idx files: {sum(outcomes.values())} tried: {dict(outcomes)}")
    assert sum(outcomes.values()) == STRUCTURED_EXAMPLES
    # the generator must reach both ends of the property, raw and gzip
    for form in ("raw", "gzip"):
        for outcome in ("array", "ValueError"):
            assert outcomes[form, outcome] >= 20, outcomes


@pytest.mark.slow  # fuzzing
def test_read_idx_on_arbitrary_bytes(spy, scratch):
    outcomes = Counter()
    prefixes = [b"", b"", b"\x1f\x8b", b"\x1f\x8b\x08\x00", b"\x00\x00", b"\x00\x00\x08",
                b"\x00\x00\x08\x00", b"\x00\x00\x0d\x01"]

    @settings(max_examples=ARBITRARY_EXAMPLES, deadline=None, derandomize=True,
              database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(prefixes), st.binary(max_size=300), st.booleans())
    def prop(prefix, body, compress):
        content = prefix + body
        if compress:
            content = gzip.compress(content, mtime=0)
        outcomes[check_file(scratch / "arbitrary", content, spy)] += 1

    prop()
    print(f"\narbitrary bytes: {sum(outcomes.values())} tried: {dict(outcomes)}")
    assert sum(outcomes.values()) == ARBITRARY_EXAMPLES
    assert outcomes["ValueError"] > 0 and outcomes["array"] > 0, outcomes


# -------------------------------------------------------------- mutants of real files

def mutants(content, n, rng, header):
    """``n`` seeded mutants of ``content``, a quarter each: random bytes flipped anywhere,
    bytes flipped in the first ``header`` bytes, a truncation, an extension."""
    kinds = ["flip", "flip header", "truncate", "extend"]
    for i in range(n):
        kind = kinds[i % 4]
        data = bytearray(content)
        if kind.startswith("flip"):
            span = min(header, len(data)) if kind == "flip header" else len(data)
            for _ in range(rng.integers(1, 5)):
                data[rng.integers(span)] ^= int(rng.integers(1, 256))
        elif kind == "truncate":
            del data[rng.integers(len(data)):]
        else:
            extra = rng.integers(1, 17)
            data += bytes(extra) if rng.random() < 0.25 else rng.bytes(extra)
        yield kind, bytes(data)


def synthetic_array(dtype, rng):
    """Values over the whole range of the type (sign, large magnitudes, NaN for floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        a = (rng.standard_normal((3, 4, 5)) * 1e3).astype(dtype)
        a.flat[[0, 7]] = [np.nan, -0.0]
        return a
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True, dtype=dtype)


def synthetic_sources(folder):
    rng = np.random.default_rng(0)
    sources = {}
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        a = synthetic_array(dtype, rng)
        for suffix in ("", ".gz"):
            path = folder / f"synthetic-{np.dtype(dtype).name}{suffix}"
            write_idx(path, a)
            sources[path.name] = path.read_bytes()
    return sources


def real_sources(folder):
    """The t10k labels as Debian ships them (gzip) and decompressed, and the first eight
    t10k images written raw and gzip by write_idx."""
    labels_gz = open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), "rb").read()
    images = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))[:8]
    sources = {"t10k-labels.gz": labels_gz, "t10k-labels": gzip.decompress(labels_gz)}
    for suffix in ("", ".gz"):
        path = folder / f"t10k-images-8{suffix}"
        write_idx(path, images)
        sources[path.name] = path.read_bytes()
    return sources


@pytest.mark.slow  # fuzzing
@pytest.mark.parametrize("which", [pytest.param("real", marks=needs_data), "synthetic"])
def test_mutants_of_idx_files(which, spy, scratch):
    folder = scratch / which
    folder.mkdir()
    if which == "real":
        sources, per_file, seed = real_sources(folder), MUTANTS_PER_REAL_FILE, 1
    else:
        sources, per_file, seed = synthetic_sources(folder), MUTANTS_PER_SYNTHETIC_FILE, 2
    rng = np.random.default_rng(seed)
    outcomes = Counter()
    for name, content in sources.items():
        assert describe(content)[0] == "array", name  # the unmutated file is valid
        # the header is what a flip most likely breaks in an interesting way; for gzip,
        # the gzip header and the first deflate bytes
        header = 20 if content[:2] == b"\x1f\x8b" else 4 + 4 * content[3]
        for kind, mutant in mutants(content, per_file, rng, header):
            outcomes[kind, check_file(folder / "mutant", mutant, spy, trace=True)] += 1
    total = sum(outcomes.values())
    print(f"\n{which} idx mutants: {total} from {len(sources)} files: {dict(outcomes)}")
    assert len(sources) == (4 if which == "real" else 12)
    assert total == len(sources) * per_file
    assert outcomes["truncate", "ValueError"] > 0 and outcomes["extend", "ValueError"] > 0


# ------------------------------------------------------- what the fuzzing found (now fixed)

def idx_bytes(code, dims, payload):
    return header_bytes(code, dims) + payload


@pytest.mark.parametrize("dims, payload", [
    ((1,) * 65, b"\x07"),  # 65 dimensions: idx allows 255, numpy holds 64
    ((0,) + (5,) * 69, b""),  # zero-size, 70 dimensions
    ((2 ** 32 - 1, 2 ** 32 - 1, 0), b""),  # zero-size, the other dims overflow intp
], ids=["65-dims", "70-dims-zero-size", "zero-size-overflowing-dims"])
def test_shape_numpy_cannot_hold_is_a_value_error_naming_the_file(tmp_path, dims, payload):
    path = tmp_path / "deep.idx"
    path.write_bytes(idx_bytes(0x08, dims, payload))
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(info.value).startswith(str(path)), str(info.value)
