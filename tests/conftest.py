"""Test setup: bounds checking in Numba, graph validation after every pass, a seeded rng,
and a kernel cache shared by the xdist workers of one run (fresh in CI, reused locally).

Kernels are compiled at LLVM optimisation level 1 here: tests check what generated code
computes, not how fast, and level 3 (the default for users) spends most of a cold compile
in LLVM's optimiser (an MLP training step: ~35 s against ~2 s), which a clean CI run would
pay for every kernel of the suite. Benchmarks run at the users' default.
"""

import os
import pathlib

os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
os.environ.setdefault("NUMBA_OPT", "1")
os.environ.setdefault(
    "SYMNET_CACHE_DIR", str(pathlib.Path(__file__).resolve().parent.parent / ".symnet-test-cache")
)
os.environ.setdefault("SYMNET_CHECK_GRAPH", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import symnet  # noqa: E402

collect_ignore = []


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=["python", "numba"])
def mode(request):
    """Run a test once per backend."""
    return request.param


@pytest.fixture(autouse=True)
def _check_graph():
    with symnet.config.override(check_graph=True):
        yield
