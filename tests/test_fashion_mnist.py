"""Fashion-MNIST: the real files, the search order, checksums, downloads, `backprop data`.

Everything but the real-data tests runs on small synthetic idx files in tmp_path, with
every search location (BACKPROP_DATA, XDG_CACHE_HOME, the Debian folder) redirected, and
downloads served by a local http.server.
"""
import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from backprop import cli
from backprop.data import CLASS_NAMES, fetch, load_fashion_mnist, locate, write_idx
from backprop.data import fashion_mnist as fm

REAL = Path(fm.SYSTEM_DIR)  # read before any test replaces it
needs_real = pytest.mark.skipif(
    not all(any((REAL / (n + s)).is_file() for s in ("", ".gz")) for n in fm.FILES.values()),
    reason=f"Fashion-MNIST not installed in {REAL} (apt-get install dataset-fashion-mnist)")


# ------------------------------------------------------------------------------ helpers

def write_fake(folder, n_train=12, n_test=6, gz=True, seed=0):
    """Write four small Fashion-MNIST-shaped idx files; return (arrays, checksums)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    checksums = {}
    for key, array in arrays.items():
        path = folder / (fm.FILES[key] + (".gz" if gz else ""))
        write_idx(path, array)
        data = path.read_bytes()
        checksums[key] = hashlib.sha256(gzip.decompress(data) if gz else data).hexdigest()
    return arrays, checksums


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Every search location pointed at an empty folder under tmp_path."""
    folders = {name: tmp_path / name for name in ("root", "env", "cache", "system")}
    monkeypatch.setenv("BACKPROP_DATA", str(folders["env"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(folders["cache"]))
    monkeypatch.setattr(fm, "SYSTEM_DIR", str(folders["system"]))
    folders["cache"] = folders["cache"] / "backprop" / "fashion-mnist"
    return folders


class Server:
    """http.server on 127.0.0.1 (port 0) in a thread, serving a folder; counts GETs."""

    def __init__(self, folder, handler=None):
        self.requests = []
        outer = self

        class Handler(handler or http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(monkeypatch):
    """serve(folder, handler=None) -> a running Server; all are stopped after the test."""
    monkeypatch.setenv("no_proxy", "*")  # never send 127.0.0.1 through a proxy
    monkeypatch.setenv("NO_PROXY", "*")
    servers = []

    def start(folder, handler=None):
        servers.append(Server(folder, handler))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# ---------------------------------------------------------------------------- real data

@pytest.fixture(scope="module")
def real():
    return load_fashion_mnist(REAL)


@needs_real
def test_real_data_shapes_dtypes_and_class_counts(real):
    (x_train, y_train), (x_test, y_test) = real
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == x_test.dtype == y_train.dtype == y_test.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    assert x_train.max() == 255 and x_train.min() == 0
    assert len(CLASS_NAMES) == 10 and CLASS_NAMES[0] == "T-shirt/top"
    assert CLASS_NAMES[9] == "Ankle boot"


@needs_real
def test_cli_data_reports_found_and_verified(capsys):
    assert cli.main(["data", "--root", str(REAL)]) == 0
    out = capsys.readouterr().out
    assert f"Fashion-MNIST in {REAL}" in out
    for name in fm.FILES.values():
        assert name in out
    assert out.count("SHA-256 ok") == 4
    assert "60000x28x28 uint8" in out and "all 4 files verified" in out


# ------------------------------------------------------------------ search and verify

def test_search_order(places, monkeypatch):
    for n, name in enumerate(("root", "env", "cache", "system")):
        write_fake(places[name], n_train=10 + n)
    assert locate(places["root"])["train-images"].parent == places["root"]
    assert locate()["train-labels"].parent == places["env"]  # no root given
    monkeypatch.delenv("BACKPROP_DATA")
    assert locate()["t10k-images"].parent == places["cache"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(places["root"] / "nothing-here"))
    assert locate()["t10k-labels"].parent == places["system"]
    (x_train, _), _ = load_fashion_mnist(verify=False)
    assert len(x_train) == 13  # the system folder's data


def test_user_cache_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert fm.cache_dir() == tmp_path / ".cache" / "backprop" / "fashion-mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as XDG says
    assert fm.cache_dir() == tmp_path / ".cache" / "backprop" / "fashion-mnist"


def test_raw_and_gzip_files_and_partial_folders(places):
    arrays, _ = write_fake(places["env"], gz=False)
    write_fake(places["root"])
    (places["root"] / "t10k-labels-idx1-ubyte.gz").unlink()  # root lacks one file
    paths = locate(places["root"])
    assert paths["train-images"] == places["env"] / "train-images-idx3-ubyte"
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(places["root"], verify=False)
    np.testing.assert_array_equal(x_train, arrays["train-images"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels"])


def test_not_found_lists_every_place_and_both_remedies(places, monkeypatch):
    monkeypatch.delenv("BACKPROP_DATA")
    write_fake(places["cache"])
    (places["cache"] / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        locate(places["root"])
    message = str(info.value)
    assert isinstance(info.value, OSError) and "\n" not in message
    assert str(places["root"]) in message
    assert "$BACKPROP_DATA (not set)" in message
    assert str(places["cache"]) in message and "lacks train-images-idx3-ubyte" in message
    assert str(places["system"]) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "backprop data fetch" in message


def test_checksum_mismatch_names_the_file(places):
    write_fake(places["root"])
    with pytest.raises(ValueError) as info:
        load_fashion_mnist(places["root"])
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert "not the official Fashion-MNIST" in message and "digit MNIST" in message
    assert fm.SHA256["train-images"] in message  # expected
    data = gzip.decompress((places["root"] / "train-images-idx3-ubyte.gz").read_bytes())
    assert hashlib.sha256(data).hexdigest() in message  # got


def test_wrong_shapes_are_refused_even_without_verify(places):
    write_fake(places["root"])
    write_idx(places["root"] / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="expected 6 uint8 labels"):
        load_fashion_mnist(places["root"], verify=False)


def test_cli_data_not_found_is_one_line_on_stderr(places, capsys):
    assert cli.main(["data"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backprop: error: Fashion-MNIST not found")
    assert "backprop data fetch" in lines[0]


def test_cli_data_reports_a_bad_file(places, capsys):
    write_fake(places["env"])
    assert cli.main(["data"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAILED") == 4 and "4 of 4 files failed verification" in out


# ----------------------------------------------------------------------------- download

def test_fetch_downloads_verifies_and_skips_what_it_has(places, serve, tmp_path):
    arrays, checksums = write_fake(tmp_path / "server")
    server = serve(tmp_path / "server")
    dest = fetch(places["cache"], base_url=server.url, progress=False, checksums=checksums)
    assert dest == places["cache"]
    assert leftovers(dest) == sorted(n + ".gz" for n in fm.FILES.values())
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(verify=False)
    np.testing.assert_array_equal(x_train, arrays["train-images"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels"])
    assert len(server.requests) == 4
    fetch(places["cache"], base_url=server.url, progress=False, checksums=checksums)
    assert len(server.requests) == 4  # all present and valid: nothing downloaded


def test_fetch_never_keeps_a_bad_download(places, serve, tmp_path):
    _, checksums = write_fake(tmp_path / "server")
    bad = tmp_path / "server" / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-10])  # a cut-off gzip stream
    server = serve(tmp_path / "server")
    dest = places["cache"]
    with pytest.raises(ValueError, match="train-labels.*corrupt or truncated gzip"):
        fetch(dest, base_url=server.url, progress=False, checksums=checksums)
    assert leftovers(dest) == ["train-images-idx3-ubyte.gz"]  # the one before it only

    write_fake(tmp_path / "server", seed=1)  # valid files, wrong checksums
    with pytest.raises(ValueError, match="not the official Fashion-MNIST"):
        fetch(dest, base_url=server.url, progress=False, checksums=checksums)
    assert leftovers(dest) == ["train-images-idx3-ubyte.gz"]


def test_fetch_detects_a_connection_that_breaks_off(places, serve, tmp_path):
    class ShortHandler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # announces 1000 bytes, sends 10, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + bytes(8))
            self.close_connection = True

    server = serve(tmp_path, ShortHandler)
    with pytest.raises(OSError, match="train-images-idx3-ubyte.gz"):
        fetch(places["cache"], base_url=server.url, progress=False)
    assert leftovers(places["cache"]) == []


def test_fetch_detects_a_server_that_hangs_up(places, serve, tmp_path):
    class SilentHandler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # closes the connection without an answer
            self.close_connection = True

    server = serve(tmp_path, SilentHandler)
    with pytest.raises(OSError, match="train-images-idx3-ubyte.gz failed"):
        fetch(places["cache"], base_url=server.url, progress=False)
    assert leftovers(places["cache"]) == []


def test_fetch_404_is_a_clear_error(places, serve, tmp_path):
    (tmp_path / "empty").mkdir()
    server = serve(tmp_path / "empty")
    with pytest.raises(OSError, match=r"download of http://127\.0\.0\.1:\d+/"
                                      r"train-images-idx3-ubyte\.gz failed: HTTP 404"):
        fetch(places["cache"], base_url=server.url.rstrip("/"), progress=False)
    assert leftovers(places["cache"]) == []


def test_cli_fetch(places, serve, tmp_path, monkeypatch, capsys):
    _, checksums = write_fake(tmp_path / "server")
    monkeypatch.setattr(fm, "SHA256", checksums)
    server = serve(tmp_path / "server")
    assert cli.main(["data", "fetch", "--url", server.url]) == 0
    captured = capsys.readouterr()
    assert f"stored in {places['cache']}" in captured.out
    assert "train-images-idx3-ubyte.gz: 100%|" in captured.err  # the final progress line
    assert cli.main(["data"]) == 0
    assert "all 4 files verified" in capsys.readouterr().out


@needs_real
def test_a_verified_load_unpacks_raw_copies_into_the_cache(tmp_path, monkeypatch):
    """The first load from the Debian .gz files writes raw, verified copies to the user
    cache; the second load reads those (no decompression) and gives the same arrays."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("BACKPROP_DATA", raising=False)
    first = fm.load_fashion_mnist()
    cache = tmp_path / "backprop" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(fm.FILES.values())
    assert all(p.suffix != ".gz" for p in fm.locate().values())
    assert {p.parent for p in fm.locate().values()} == {cache}
    second = fm.load_fashion_mnist()  # verified again, from the raw files
    for a, b in zip([*first[0], *first[1]], [*second[0], *second[1]]):
        np.testing.assert_array_equal(a, b)


@needs_real
def test_an_unwritable_cache_does_not_stop_the_load(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("BACKPROP_DATA", raising=False)
    import errno

    def full_disk(path, array):
        with open(path, "wb") as f:
            f.write(b"\0\0\x08")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fm, "write_idx", full_disk)
    (x, y), _ = fm.load_fashion_mnist()
    assert x.shape == (60000, 28, 28)
    cache = tmp_path / "backprop" / "fashion-mnist"
    assert not cache.exists() or not any(cache.iterdir())  # no partial file left
