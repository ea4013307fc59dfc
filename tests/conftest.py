"""Shared fixtures: ``backend`` runs a test under both kernel backends; ``fashion`` and
``small`` are the real data (loaded once per session) and a 3000/1000-image slice of it."""
import os

import pytest

import backprop
from backprop import kernels

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    """Run the test once with the numba kernels and once with their NumPy twins."""
    with kernels.use_backend(request.param):
        yield request.param


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the tests away from the user's cache folder: load_fashion_mnist unpacks the
    data into $XDG_CACHE_HOME, here a folder of this test session."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def fashion(_private_cache):
    """Fashion-MNIST from Debian's folder: ((x_train, y_train), (x_test, y_test))."""
    if not os.path.isdir(FASHION):
        pytest.skip("apt-get install dataset-fashion-mnist")
    return backprop.data.load_fashion_mnist(FASHION)


@pytest.fixture(scope="session")
def small(fashion):
    """The first 3000 training and 1000 test images (copies): every training path, fast."""
    (x, y), (xt, yt) = fashion
    return (x[:3000].copy(), y[:3000].copy()), (xt[:1000].copy(), yt[:1000].copy())
