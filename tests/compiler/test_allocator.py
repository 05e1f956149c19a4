"""symnet/compiler/allocator.py: glibc's thresholds are raised once, when a kernel is built."""

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np, symnet as sn, symnet.tensor as T
from symnet.compiler import allocator
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
