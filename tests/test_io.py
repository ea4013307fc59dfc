"""backprop.io: atomic writes, safe .npz reading, the run-folder lock, signal handling."""
import os
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from backprop.app import io as bio
from backprop.app import training_run as train
from tiny_runs import assert_one_line_error, run_cli


def names(folder):
    return sorted(os.listdir(folder))


def tiny_data(n=20):
    """Two classes of 2 x 2 uint8 images: fit runs in milliseconds and needs no data set."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 2, 2), dtype=np.uint8)
    y = (x.reshape(n, -1).sum(axis=1) > 510).astype(np.int64)
    return (x, y), (x, y)


TINY = train.TrainConfig(epochs=1, hidden=(3,), batch_size=5)


# ------------------------------------------------------------------ atomic writes

@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_write_publishes_the_file_whole_with_the_mode_open_gives(umask, tmp_path):
    old = os.umask(umask)
    try:
        bio.write_json(tmp_path / "h.json", {"a": [1, 2]})
        bio.save_npz(tmp_path / "m.npz", {"W1": np.arange(3.0)})
        with bio.atomic_write(tmp_path / "d.gz", suffix=".part") as f:
            f.write(b"bytes")
    finally:
        os.umask(old)
    assert (tmp_path / "h.json").read_text() == '{\n "a": [\n  1,\n  2\n ]\n}\n'
    np.testing.assert_array_equal(bio.load_npz(tmp_path / "m.npz")["W1"], np.arange(3.0))
    assert (tmp_path / "d.gz").read_bytes() == b"bytes"
    assert names(tmp_path) == ["d.gz", "h.json", "m.npz"]  # no temporary left
    for name in names(tmp_path):  # as open() makes a file, not mkstemp's 0600
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(error, tmp_path):
    (tmp_path / "h.json").write_text("old")
    with pytest.raises(error):
        with bio.atomic_write(tmp_path / "h.json") as f:
            f.write(b"half of the new")
            assert os.path.basename(f.name).startswith(".tmp-")  # being written there
            raise error
    assert names(tmp_path) == ["h.json"]
    assert (tmp_path / "h.json").read_text() == "old"


def test_the_file_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """What is on disk after a power cut: the data must be synced before the rename
    publishes it, and the folder (the rename itself) after."""
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    bio.write_json(tmp_path / "h.json", [])
    (kind1, file), (kind2, target), (kind3, folder) = events
    assert (kind1, kind2, kind3) == ("fsync", "replace", "fsync")
    assert os.path.basename(file).startswith(".tmp-") and file.endswith("-h.json")
    assert target == str(tmp_path / "h.json") and folder == str(tmp_path)


def test_remove_temporaries_removes_only_temporaries(tmp_path):
    for name in (".tmp-1a-checkpoint.npz", ".tmp-history.json", ".tmp-2b-x.gz.part",
                 "checkpoint.npz", "history.json", "notes.tmp-.npz"):
        (tmp_path / name).write_text("")
    bio.remove_temporaries(tmp_path, (".npz", ".json"))
    assert names(tmp_path) == [".tmp-2b-x.gz.part", "checkpoint.npz", "history.json",
                               "notes.tmp-.npz"]


# ------------------------------------------------------------------ reading .npz

def test_load_npz_reads_only_the_members_asked_for(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, W1=np.ones(2), b1=np.zeros(2), extra=np.ones(3))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("junk.npy", b"not an array")  # reading it would be an error
    assert sorted(bio.load_npz(path, ["W1", "b1", "missing"])) == ["W1", "b1"]
    assert sorted(bio.load_npz(path, lambda name: name.startswith("W"))) == ["W1"]
    with pytest.raises(ValueError, match=f"{path} is not a readable .npz file "
                                         r"\(its entry 'junk' is not a NumPy array\)"):
        bio.load_npz(path)  # every member


def test_load_npz_checks_each_members_declared_size_before_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "a.npz"
    np.savez(path, small=np.zeros(10, np.uint8), big=np.zeros(1000, np.uint8))
    reads = []
    real_read_array = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array",
                        lambda f, **kw: reads.append(1) or real_read_array(f, **kw))
    assert sorted(bio.load_npz(path, max_bytes=1200)) == ["big", "small"]
    with pytest.raises(ValueError, match=f"{path} is not a readable .npz file \\(its entry "
                                         f"'big' declares 1128 bytes, more than the limit "
                                         f"of 500\\)"):
        bio.load_npz(path, ["big"], max_bytes=500)
    assert len(reads) == 2  # the refused member was never decompressed


def test_a_header_promising_more_data_than_the_member_holds_is_refused(tmp_path):
    """A 100-byte member whose .npy header claims 10**15 float64: NumPy would try to
    allocate 8 PB before reading (a MemoryError, not a clear error)."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (10 ** 15,)}
    member = b"\x93NUMPY\x01\x00"
    text = repr(header).encode()
    text += b" " * (-(len(member) + 2 + len(text) + 1) % 64) + b"\n"
    member += len(text).to_bytes(2, "little") + text + bytes(16)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W1.npy", member)
    with pytest.raises(ValueError, match=f"{path} is not a readable .npz file \\(its entry "
                                         r"'W1' has shape \(1000000000000000,\) of float64"):
        bio.load_npz(path)


def test_load_npz_never_unpickles(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, config=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=f"{path} is not a readable .npz file .*allow_pickle"):
        bio.load_npz(path)


@pytest.mark.parametrize("content, says", [
    (b"", "the file is empty"),
    (b"hello\n", "File is not a zip file: it starts with b'hello\\\\n'"),
    (b"\x93NUMPY\x01\x00rest", "it holds one array, not an .npz archive"),
    (b"PK\x03\x04 and then nothing", "File is not a zip file"),
])
def test_files_that_are_no_npz_are_one_value_error_naming_the_file(content, says, tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{path} is not a readable .npz file \\({says}"):
        bio.load_npz(path)


def test_a_truncated_member_is_a_value_error(tmp_path):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, W1=np.arange(10000.0))
    data = path.read_bytes()
    start = data.index(b"W1.npy") + 200  # inside the compressed data
    path.write_bytes(data[:start] + bytes(200) + data[start + 200:])
    with pytest.raises(ValueError, match=f"^{path} is not a readable .npz file"):
        bio.load_npz(path)


# ------------------------------------------------------------------ run-folder lock

def test_a_locked_folder_refuses_a_second_holder_until_released(tmp_path):
    with bio.lock_run_folder(tmp_path):
        with pytest.raises(bio.FolderLocked, match=f"^{tmp_path} is in use by another "
                                                   f"process \\(pid {os.getpid()}\\)"):
            with bio.lock_run_folder(tmp_path):
                pass
    assert names(tmp_path) == []  # the lock file goes with the lock
    with bio.lock_run_folder(tmp_path):
        pass


LOCK_CHILD = r'''
import sys, time
from backprop.app import io
with io.lock_run_folder(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
'''


@pytest.mark.slow  # a subprocess killed
def test_a_lock_held_by_a_killed_process_does_not_block_the_next(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", LOCK_CHILD, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "locked\n"
        with pytest.raises(bio.FolderLocked, match=f"\\(pid {child.pid}\\)"):
            with bio.lock_run_folder(tmp_path):
                pass
        child.kill()  # SIGKILL: no cleanup at all; the lock file stays behind
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert names(tmp_path) == [bio.LOCK_FILE]
    with bio.lock_run_folder(tmp_path):  # the kernel dropped the dead process's lock
        pass


def test_fit_refuses_a_run_folder_another_process_trains_into(tmp_path):
    with bio.lock_run_folder(tmp_path):
        with pytest.raises(bio.FolderLocked, match=f"^{tmp_path} is in use"):
            train.run_training(TINY, tiny_data(), out_dir=str(tmp_path), quiet=True, n_classes=2)
        assert names(tmp_path) == [bio.LOCK_FILE]  # the second run wrote nothing
    train.run_training(TINY, tiny_data(), out_dir=str(tmp_path), quiet=True, n_classes=2)
    assert names(tmp_path) == ["checkpoint.npz", "history.json", "model.npz"]


def test_cli_train_into_a_folder_in_use_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    import backprop
    data = ((np.zeros((10, 28, 28), np.uint8), np.arange(10)),) * 2
    monkeypatch.setattr(backprop.data, "load_fashion_mnist", lambda root=None: data)
    out = tmp_path / "S"
    out.mkdir()
    with bio.lock_run_folder(out):
        code, printed, err = run_cli(capsys, ["train", "--out", out, "--epochs", "1",
                                              "--hidden", "4", "--quiet", "--no-plots"])
    line = assert_one_line_error(code, err)
    assert printed == ""
    assert line.startswith(f"backprop: error: {out} is in use by another process"), line


# ------------------------------------------------------------------ signals

def test_signal_flag_turns_the_first_signal_into_a_flag_and_a_second_stops():
    before = signal.getsignal(signal.SIGTERM)
    with bio.SignalFlag() as stop:
        signal.raise_signal(signal.SIGTERM)
        assert stop.signum == signal.SIGTERM  # still running
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


SIGTERM_CHILD = r'''
import sys, time
from backprop.app import io
with io.sigterm_cleans_up():
    with io.atomic_write(sys.argv[1]) as f:
        f.write(b"half")
        print("writing", flush=True)
        time.sleep(60)
'''


@pytest.mark.slow  # a subprocess signalled
def test_sigterm_during_an_atomic_write_removes_the_temporary_and_ends_as_sigterm(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", SIGTERM_CHILD, str(tmp_path / "f")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
        assert len(names(tmp_path)) == 1  # the temporary file
        child.terminate()
        assert child.wait(timeout=30) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert names(tmp_path) == []
