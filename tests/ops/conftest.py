"""The op suite runs each test with a ``mode`` on three backends: the reference interpreter,
the whole-graph kernel (tier 1) and tier 0 alone (``config.compile='never'``: node by node on
kernels shared by every graph), so every op's tier-0 code path is checked against NumPy too."""

import pytest

import symnet


@pytest.fixture(params=["python", "numba", "tier0"])
def mode(request):
    if request.param == "tier0":
        with symnet.config.override(compile="never"):
            yield "numba"
    else:
        yield request.param
