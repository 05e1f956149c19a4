"""Test setup: bounds checking in Numba, graph validation after every pass, a seeded rng,
and a kernel cache shared by the xdist workers of one run (fresh in CI, reused locally).

Optimisation levels: the test process itself compiles at the users' default, LLVM level 3,
because Numba is already imported when this file runs (pyproject's ``filterwarnings`` names
``symnet.SymnetWarning``, so pytest imports symnet while reading its configuration); the
subprocesses that tests start (examples, hostile inputs, cache faults, pickling) inherit
``NUMBA_OPT=1`` from here and compile at level 1, which is much cheaper for a cold cache. The
cache's version key includes the level, so the two never share machine code.

Tiers: the suite compiles each function's kernel before its first result
(``SYMNET_COMPILE=wait``), since a background compile per test would double the suite's
compile work; the op suite also runs every test on tier 0 alone (tests/ops/conftest.py), and
tests/compiler/test_tiers.py covers the background switch.
"""

import os
import pathlib

os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
os.environ.setdefault("NUMBA_OPT", "1")
os.environ.setdefault(
    "SYMNET_CACHE_DIR", str(pathlib.Path(__file__).resolve().parent.parent / ".symnet-test-cache")
)
os.environ.setdefault("SYMNET_CHECK_GRAPH", "1")
os.environ.setdefault("SYMNET_COMPILE", "wait")
os.environ.setdefault("SYMNET_WARMUP", "0")  # tests/compiler/test_tiers.py runs it on its own

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import symnet  # noqa: E402

# symnet is imported before this file runs (see above), so its settings read the environment
# before the defaults set here: apply the compile policy explicitly
symnet.config.set(compile=os.environ["SYMNET_COMPILE"])

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
