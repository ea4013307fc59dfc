"""Fashion-MNIST: the real files, the search order, checksums, downloads (from an HTTPS
address), `backprop data`, and the bounds its file sizes set on another data set's files.

Everything but the real-data tests runs on small synthetic idx files in tmp_path, with
every search location (BACKPROP_DATA, XDG_CACHE_HOME, the Debian folder) redirected, and
downloads served by a local http.server.
"""
import functools
import gzip
import hashlib
import http.server
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import pytest

from backprop.app import cli
from backprop.app.data import (CLASS_NAMES, fetch, load_fashion_mnist, load_idx_folder, locate,
                           write_idx)
from backprop.app.data import fashion_mnist as fm
from tiny_runs import assert_one_line_error, run_cli

ROOT = Path(__file__).resolve().parent.parent
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


def test_raw_and_gzip_files(places):
    arrays, _ = write_fake(places["env"], gz=False)
    write_fake(places["root"], seed=1)
    paths = locate()  # $BACKPROP_DATA: raw files
    assert paths["train-images"] == places["env"] / "train-images-idx3-ubyte"
    (x_train, _), (_, y_test) = load_fashion_mnist(verify=False)
    np.testing.assert_array_equal(x_train, arrays["train-images"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels"])
    assert locate(places["root"])["t10k-labels"] == places["root"] / "t10k-labels-idx1-ubyte.gz"


def assert_lacks(call, folder, missing):
    """call() raises a one-line FileNotFoundError naming folder and the missing files."""
    with pytest.raises(FileNotFoundError) as info:
        call()
    message = str(info.value)
    count = "all 4 files" if len(missing) == 4 else f"{len(missing)} of the 4 files"
    assert "\n" not in message
    assert f"{folder} " in message and f"lacks {count}: {', '.join(missing)} (" in message
    assert f"`backprop data fetch --dest {folder}`" in message
    return message


def test_a_named_folder_is_the_only_one_looked_in(places, monkeypatch):
    """A folder given as root or in $BACKPROP_DATA that lacks files is an error naming
    them, never a silent switch to the data in the user cache or the system folder."""
    write_fake(places["cache"])
    write_fake(places["system"])
    every = list(fm.FILES.values())
    two = ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"]
    places["root"].mkdir()
    assert_lacks(lambda: locate(places["root"]), places["root"], every)
    assert_lacks(lambda: load_fashion_mnist(places["root"], verify=False),
                 places["root"], every)
    write_fake(places["root"])
    for name in two:
        (places["root"] / (name + ".gz")).unlink()
    message = assert_lacks(lambda: locate(places["root"]), places["root"], two)
    assert "name no folder to search the default places" in message
    with pytest.raises(FileNotFoundError, match=r"nowhere \(root argument\): no such folder"):
        locate(places["root"] / "nowhere")

    # no root: $BACKPROP_DATA alone
    with pytest.raises(FileNotFoundError, match=r"env \(\$BACKPROP_DATA\): no such folder"):
        locate()
    write_fake(places["env"], gz=False)
    (places["env"] / "t10k-labels-idx1-ubyte").unlink()
    message = assert_lacks(locate, places["env"], ["t10k-labels-idx1-ubyte"])
    assert "unset BACKPROP_DATA" in message
    assert_lacks(lambda: load_fashion_mnist(verify=False), places["env"],
                 ["t10k-labels-idx1-ubyte"])
    monkeypatch.setenv("BACKPROP_DATA", "")  # empty: not set
    assert locate()["train-images"].parent == places["cache"]


def test_cli_named_data_folder_that_lacks_files(places, tmp_path, capsys, monkeypatch):
    write_fake(places["cache"])
    monkeypatch.setattr(fm, "SHA256", write_fake(places["system"])[1])  # would verify
    places["root"].mkdir()
    run = tmp_path / "run"
    for argv, expected in [
            (["data", "--root", str(places["root"])], "lacks all 4 files"),
            (["data", "--root", str(tmp_path / "nonexistent")], "no such folder"),
            (["data"], "($BACKPROP_DATA): no such folder"),
            (["train", "--data", str(places["root"]), "--out", str(run), "--epochs", "1",
              "--quiet", "--no-plots", "--backend", "numpy"], "lacks all 4 files")]:
        code, out, err = run_cli(capsys, argv)
        line = assert_one_line_error(code, err)
        assert out == "", argv
        assert line.startswith("backprop: error: Fashion-MNIST not found: "), line
        assert expected in line, line
    assert not run.exists() or not any(run.iterdir())


def test_not_found_lists_every_place_and_both_remedies(places, monkeypatch):
    monkeypatch.delenv("BACKPROP_DATA")
    write_fake(places["cache"])
    (places["cache"] / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        locate()
    message = str(info.value)
    assert isinstance(info.value, OSError) and "\n" not in message
    assert "root argument (not set)" in message
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
    assert "not the official Fashion-MNIST" in message
    # the official shape is known: a file of another one is refused at its header, before
    # anything is decompressed (so there is no SHA-256 of it to show)
    assert "the header says shape (12, 28, 28), expected (60000, 28, 28)" in message


def test_wrong_shapes_are_refused_even_without_verify(places):
    write_fake(places["root"])
    write_idx(places["root"] / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="expected 6 uint8 labels"):
        load_fashion_mnist(places["root"], verify=False)


def test_cli_data_not_found_is_one_line_on_stderr(places, capsys):
    code, out, err = run_cli(capsys, ["data"])
    line = assert_one_line_error(code, err)
    assert out == ""
    assert line.startswith("backprop: error: Fashion-MNIST not found"), line
    assert "backprop data fetch" in line


def test_cli_data_reports_a_bad_file(places, capsys):
    write_fake(places["env"])
    assert cli.main(["data"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAILED") == 4 and "4 of 4 files failed verification" in out


# ----------------------------------------------------------------------------- download

def test_fetch_downloads_verifies_and_skips_what_it_has(places, serve, tmp_path,
                                                       monkeypatch):
    monkeypatch.delenv("BACKPROP_DATA")  # load from the default places
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
    monkeypatch.delenv("BACKPROP_DATA")  # `backprop data` searches the default places
    server = serve(tmp_path / "server")
    assert cli.main(["data", "fetch", "--url", server.url]) == 0
    captured = capsys.readouterr()
    assert f"stored in {places['cache']}" in captured.out
    assert "train-images-idx3-ubyte.gz: 100%|" in captured.err  # the final progress line
    assert cli.main(["data"]) == 0
    assert "all 4 files verified" in capsys.readouterr().out


def flip_a_byte(path, offset=-1):
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def test_fetch_repairs_a_damaged_raw_copy_in_the_cache(places, serve, tmp_path,
                                                      monkeypatch, capsys):
    """locate prefers raw files to .gz ones, so fetch must not leave a damaged raw copy
    beside the verified .gz it stores (or finds)."""
    arrays, checksums = write_fake(tmp_path / "server")
    monkeypatch.setattr(fm, "SHA256", checksums)
    monkeypatch.delenv("BACKPROP_DATA")
    server = serve(tmp_path / "server")
    cache = places["cache"]
    write_fake(cache, gz=False)  # raw copies, as load_fashion_mnist unpacks them
    flip_a_byte(cache / "t10k-images-idx3-ubyte")
    with pytest.raises(ValueError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert "t10k-images-idx3-ubyte: not the official" in message
    assert "to repair, delete " + str(cache / "t10k-images-idx3-ubyte") in message
    assert "`backprop data fetch`" in message

    with pytest.warns(UserWarning, match="removed .*t10k-images-idx3-ubyte, a copy that"):
        fetch(base_url=server.url, progress=False)
    assert len(server.requests) == 4
    names = fm.FILES.values()
    assert leftovers(cache) == sorted([*(n + ".gz" for n in names),  # good raw copies kept
                                       *(n for n in names if n != "t10k-images-idx3-ubyte")])
    assert cli.main(["data"]) == 0
    assert "all 4 files verified" in capsys.readouterr().out

    flip_a_byte(cache / "train-labels-idx1-ubyte")  # the .gz files are there and valid
    with pytest.warns(UserWarning, match="removed .*train-labels-idx1-ubyte, a copy that"):
        assert cli.main(["data", "fetch", "--url", server.url, "--quiet"]) == 0
    assert len(server.requests) == 4  # nothing downloaded, the bad raw copy removed
    assert not (cache / "train-labels-idx1-ubyte").exists()
    (_, y_train), (x_test, _) = load_fashion_mnist()
    np.testing.assert_array_equal(y_train, arrays["train-labels"])
    np.testing.assert_array_equal(x_test, arrays["t10k-images"])


def test_verification_errors_say_how_to_repair(places, monkeypatch):
    write_fake(places["root"])
    with pytest.raises(ValueError, match=r"to repair, replace it with the official file, "
                                         r"e\.g\. with `backprop data fetch --dest .*root`"):
        load_fashion_mnist(places["root"])
    monkeypatch.delenv("BACKPROP_DATA")
    write_fake(places["system"])
    with pytest.raises(ValueError, match="apt-get install --reinstall dataset-fashion-mnist"):
        load_fashion_mnist()


class SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Announces 10 MB, then sends 1 kB every 50 ms until the client goes (or 60 s)."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(10 ** 7))
        self.end_headers()
        try:
            for _ in range(1200):
                self.wfile.write(bytes(1000))
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass
        self.close_connection = True


@pytest.mark.slow  # a subprocess signalled
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130),
                                            (signal.SIGTERM, -signal.SIGTERM)])
def test_fetch_stopped_by_a_signal_leaves_no_partial_file(places, serve, tmp_path,
                                                         signum, status):
    server = serve(tmp_path, SlowHandler)
    dest = tmp_path / "dest"
    process = subprocess.Popen(
        [sys.executable, "-m", "backprop", "data", "fetch", "--url", server.url,
         "--dest", str(dest), "--quiet"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (dest.is_dir() and set(leftovers(dest)) - {".lock"}) and time.monotonic() < deadline:
            time.sleep(0.05)
        part = [name for name in leftovers(dest) if name != ".lock"]  # fetch's folder lock
        assert len(part) == 1 and part[0].endswith(".part")  # downloading
        time.sleep(0.2)
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == status, err
    assert leftovers(dest) == []


def test_fetch_restores_the_sigterm_handler(places, serve, tmp_path):
    _, checksums = write_fake(tmp_path / "server")
    server = serve(tmp_path / "server")
    before = signal.getsignal(signal.SIGTERM)
    fetch(places["cache"], base_url=server.url, progress=False, checksums=checksums)
    assert signal.getsignal(signal.SIGTERM) == before


def test_fetch_into_a_file_says_it_is_not_a_folder(places, serve, tmp_path, capsys):
    server = serve(tmp_path)
    (tmp_path / "a-file").write_text("keep me")
    code, _, err = run_cli(capsys, ["data", "fetch", "--url", server.url, "--dest",
                                    tmp_path / "a-file"])
    line = assert_one_line_error(code, err)
    assert line == f"backprop: error: destination {tmp_path / 'a-file'} is not a folder"
    with pytest.raises(NotADirectoryError, match=f"cannot make the destination folder "
                                                 f".*: {tmp_path / 'a-file'} is not a folder"):
        fetch(tmp_path / "a-file" / "sub", base_url=server.url, progress=False)
    assert (tmp_path / "a-file").read_text() == "keep me" and server.requests == []


@pytest.mark.slow  # the real files decompressed
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


# ------------------------------------------------- issue 12: bounded downloads, known shapes

def test_fetch_stops_a_server_that_never_stops_sending(places, serve, tmp_path):
    sent = []

    class EndlessHandler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # no Content-Length, then 120 MB (the test's own time bound)
            self.send_response(200)
            self.end_headers()
            chunk, total = b"\x1f\x8b" + bytes(1 << 20), 0
            try:
                for _ in range(120):
                    self.wfile.write(chunk)
                    total += len(chunk)
            except OSError:
                pass
            sent.append(total)
            self.close_connection = True

    server = serve(tmp_path, EndlessHandler)
    with pytest.raises(OSError, match=f"sent more than the {fm.max_download('train-images')}"):
        fetch(places["cache"], base_url=server.url, progress=False)
    assert leftovers(places["cache"]) == []
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent and sent[0] < fm.max_download("train-images") + (16 << 20), sent


@pytest.mark.slow
def test_a_gzip_bomb_is_refused_at_its_header(places, serve, tmp_path):
    """A 460 kB .gz whose header claims 60000 x 28 x 280 images (470 MB) is refused
    before it is decompressed: the official shape is known."""
    import tracemalloc
    import zlib
    folder = tmp_path / "server"
    folder.mkdir()
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
    parts = [packer.compress(bytes([0, 0, 8, 3]) + b"".join(
        d.to_bytes(4, "big") for d in (60000, 28, 280)))]
    zeros = bytes(1 << 20)
    parts += [packer.compress(zeros) for _ in range(448)] + [packer.flush()]
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"".join(parts))
    server = serve(folder)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"the header says shape \(60000, 28, 280\), "
                                             r"expected \(60000, 28, 28\)"):
            fetch(places["cache"], base_url=server.url, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, peak
    assert leftovers(places["cache"]) == []


def test_fetch_removes_the_part_files_of_a_killed_fetch(places, serve, tmp_path):
    _, checksums = write_fake(tmp_path / "server")
    places["cache"].mkdir(parents=True)
    stale = places["cache"] / ".tmp-0123456789ab-train-images-idx3-ubyte.gz.part"
    stale.write_bytes(b"\x1f\x8b" + bytes(1000))  # what a SIGKILL leaves
    server = serve(tmp_path / "server")
    fetch(places["cache"], base_url=server.url, progress=False, checksums=checksums)
    assert leftovers(places["cache"]) == sorted(f + ".gz" for f in fm.FILES.values())


def test_the_official_files_are_read_with_their_known_shapes(places):
    for key, shape in fm.SHAPES.items():
        assert fm.RAW_SIZES[key] == 4 + 4 * len(shape) + int(np.prod(shape))
    arrays, _ = write_fake(places["root"])  # 12 images: not the official shape
    with pytest.raises(ValueError, match=r"expected \(60000, 28, 28\)"):
        fm.read_verified(places["root"] / "train-images-idx3-ubyte.gz", "train-images")


# ------------------------- another data set in the layout: bounded by Fashion-MNIST's sizes

def _gzip_bomb(path, header_dims, data_bytes):
    """A .gz idx of ubyte with the given dims and ``data_bytes`` zero bytes, streamed
    through zlib (about 1 kB per MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(bytes([0, 0, 8, len(header_dims)]) +
                             b"".join(d.to_bytes(4, "big") for d in header_dims))]
    chunk = bytes(1 << 20)
    for _ in range(data_bytes >> 20):
        parts.append(packer.compress(chunk))
    parts.append(packer.compress(bytes(data_bytes & ((1 << 20) - 1))) + packer.flush())
    path.write_bytes(b"".join(parts))


def _small_folder(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (20, 28, 28),
                                                               dtype=np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 28, 28),
                                                              dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(10, dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 10)
    return folder


def test_a_gzip_bomb_in_a_data_folder_is_refused_at_its_header(tmp_path, capsys):
    """A 150 kB train-labels .gz whose header claims 100 MB and that expands to 150 MB:
    only the generic 1 GiB bound held it."""
    folder = _small_folder(tmp_path / "data")
    (folder / "train-labels-idx1-ubyte").unlink()
    bomb = folder / "train-labels-idx1-ubyte.gz"
    _gzip_bomb(bomb, (100_000_000,), 150_000_000)
    assert bomb.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            load_idx_folder(folder, "--data")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # the 100 MB were never allocated nor decompressed
    message = str(info.value)
    assert message.startswith(f"{bomb}: the header says shape (100000000,) of uint8, "
                              f"100000000 data bytes, more than the 60000 of Fashion-MNIST's "
                              f"train-labels-idx1-ubyte"), message
    code, _, err = run_cli(capsys, ["train", "--data", folder, "--out", tmp_path / "R"])
    assert str(bomb) in assert_one_line_error(code, err)
    assert not (tmp_path / "R").exists()


def test_data_folder_files_are_bounded_by_the_fashion_mnist_sizes(tmp_path):
    folder = _small_folder(tmp_path / "data")
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(60001, np.uint8))
    with pytest.raises(ValueError, match="more than the 60000 of Fashion-MNIST's "
                                         "train-labels-idx1-ubyte"):
        load_idx_folder(folder, "--data")
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 10)
    assert load_idx_folder(folder, "--data").train[1].shape == (20,)
    for key, shape in fm.SHAPES.items():  # the bounds are the official files' data bytes
        assert fm.DATA_BYTES[key] == int(np.prod(shape)) == fm.RAW_SIZES[key] - 4 - 4 * len(shape)


# ------------------------------------------------------------ the download address is HTTPS

def test_the_default_download_address_is_https_and_fetch_uses_it(tmp_path, monkeypatch,
                                                                capsys):
    assert fm.DEFAULT_URL.startswith("https://"), fm.DEFAULT_URL
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        raise urllib.error.URLError("no network in the tests")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    code, _, err = run_cli(capsys, ["data", "fetch", "--dest", tmp_path / "d", "--quiet"])
    line = assert_one_line_error(code, err)
    assert asked == [fm.DEFAULT_URL + "train-images-idx3-ubyte.gz"]
    assert f"cannot download {asked[0]}: no network in the tests" in line, line
    for doc in ("README.md", "docs/reliability.md"):  # the docs say which address, and why
        assert fm.DEFAULT_URL in (ROOT / doc).read_text(), doc
