"""Shared fixtures: ``backend`` runs a test under both kernel backends."""
import pytest

from backprop import kernels


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
