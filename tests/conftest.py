"""Shared fixtures: ``backend`` runs a test under both kernel backends; ``fashion`` and
``small`` are the real data (loaded once per session) and a 3000/1000-image slice of it.

The test files, by ring (each named for the behaviour it tests):

- core: test_activations, test_losses, test_layer_protocol, test_model, test_optim (and
  test_optim_pytorch), test_fit, test_training_route, test_kernels, test_batches,
  test_gradcheck, test_oracle, test_derivation, test_extending, test_guardrails;
- application: test_cli_runs, test_vocabulary, test_keras_run, test_train,
  test_train_stops, test_run_files, test_faults, test_io, test_idx, test_fuzz_idx,
  test_fashion_mnist, test_paths, test_progress, test_plots_tutorial, test_plots_teaching;
- tape: test_autodiff, test_functions, test_tf_namespace, test_tensorflow;
- the docs, notebooks and benchmarks that use them: test_docs, test_notebooks,
  test_benchmarks.

``python -m pytest -m "not slow"`` is the fast tier (setup.cfg's ``slow`` marker).
tiny_runs.py holds what the command-line tests share, run_cli and assert_one_line_error
among it; oracle.py the independent NumPy recomputation of the network that test_oracle
and test_layer_protocol compare with."""
import os
import shutil
import tempfile

import pytest

import backprop
from backprop.core import kernels
from tiny_runs import run_cli, tiny

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    """Run the test once with the numba kernels and once with their NumPy twins."""
    with kernels.use_backend(request.param):
        yield request.param


SESSION = {}  # the user's XDG_CACHE_HOME, and this session's cache folder


def pytest_configure(config):
    """Keep the tests away from the user's cache folder, from the start (test modules
    load data when they are collected): load_fashion_mnist unpacks the data into
    $XDG_CACHE_HOME, here a folder of this test session."""
    SESSION["saved"] = os.environ.get("XDG_CACHE_HOME")
    SESSION["cache"] = tempfile.mkdtemp(prefix="backprop-tests-")
    os.environ["XDG_CACHE_HOME"] = SESSION["cache"]


def pytest_unconfigure(config):
    if "cache" not in SESSION:
        return
    if SESSION["saved"] is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = SESSION["saved"]
    shutil.rmtree(SESSION.pop("cache"), ignore_errors=True)


@pytest.fixture(scope="session")
def fashion():
    """Fashion-MNIST from Debian's folder: ((x_train, y_train), (x_test, y_test))."""
    if not os.path.isdir(FASHION):
        pytest.skip("apt-get install dataset-fashion-mnist")
    return backprop.data.load_fashion_mnist(FASHION)


@pytest.fixture(scope="session")
def small(fashion):
    """The first 3000 training and 1000 test images (copies): every training path, fast."""
    (x, y), (xt, yt) = fashion
    return (x[:3000].copy(), y[:3000].copy()), (xt[:1000].copy(), yt[:1000].copy())


@pytest.fixture
def cli_data(monkeypatch):
    """``tiny()`` in place of Fashion-MNIST for every command the test runs."""
    data = tiny()
    monkeypatch.setattr(backprop.data, "load_fashion_mnist", lambda root=None, verify=True: data)
    return data


@pytest.fixture
def finished_run(cli_data, tmp_path, capsys):
    """A finished 1-epoch run of ``backprop train`` (64-4-10 on ``tiny()``, 3 steps an
    epoch) in tmp_path/R, its folder."""
    out = tmp_path / "R"
    code, _, err = run_cli(capsys, ["train", "--out", out, "--epochs", "1", "--hidden", "4",
                                    "--batch-size", "20", "--quiet", "--no-plots"])
    assert code == 0, err
    return out
