"""symnet/runtime/allocator.py: glibc's thresholds are raised once, when a kernel is built."""

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np, symnet as sn, symnet.tensor as T
from symnet.runtime import allocator
assert not allocator._done
x = T.dvector('x')
sn.function([x], x + 1.0)(np.ones(2))
print(allocator._done, allocator.tune_malloc())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
@pytest.mark.parametrize("flag, expected", [("1", "True False"), ("0", "False False")])
def test_thresholds_are_set_once_and_can_be_switched_off(flag, expected):
    import os

    env = dict(os.environ, SYMNET_TUNE_MALLOC=flag)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == expected


FAULTS = """
import resource
import numpy as np, symnet as sn, symnet.tensor as T
x = T.dvector('x')
f = sn.function([x], x * 2.0 + 1.0)
v = np.ones(8_000_000)  # 64 MB in, 64 MB out: above glibc's largest mmap threshold
r = f(v)
del r
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    r = f(v)
    assert r[0] == 3.0 and r[-1] == 3.0
    del r
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_large_outputs_reuse_freed_pages():
    """With the allocator tuned, a 64 MB output reuses the pages the previous call freed
    (16,384 page faults per call otherwise)."""
    import os

    faults = {}
    for flag in ("1", "0"):
        env = dict(os.environ, SYMNET_TUNE_MALLOC=flag)
        out = subprocess.run([sys.executable, "-c", FAULTS], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        faults[flag] = int(out.stdout.strip().splitlines()[-1])
    assert faults["1"] < 2000 < 3 * 16384 // 2 < faults["0"], faults
