"""Shared fixtures: ``backend`` runs a test under both kernel backends."""
import pytest

from backprop import kernels


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    """Run the test once with the numba kernels and once with their NumPy twins."""
    with kernels.use_backend(request.param):
        yield request.param
