"""Matrix products in compiled kernels (symnet/runtime/blas.py): every memory layout BLAS can take
by flag, strided views that must be copied, and empty or length-1 dimensions."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.runtime import blas

SHAPES = [(3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1), (1, 1, 1), (0, 4, 5), (3, 0, 5), (3, 4, 0)]


@pytest.fixture(scope="module", params=["float32", "float64"])
def products(request):
    """One compiled function per dtype: a @ b with a and b given as they are, transposed and
    row-strided, so one kernel covers every layout."""
    dtype = request.param
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    at, bt = T.matrix("at", dtype=dtype), T.matrix("bt", dtype=dtype)
    a2 = T.matrix("a2", dtype=dtype)
    outs = [T.dot(a, b), T.dot(at.T, b), T.dot(a, bt.T), T.dot(at.T, bt.T), T.dot(a2[::2], b)]
    return dtype, sn.function([a, b, at, bt, a2], outs)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_products_in_every_layout(products, shape, rng):
    dtype, f = products
    n, k, m = shape
    a = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal((k, m)).astype(dtype)
    a2 = np.repeat(a, 2, axis=0)  # a2[::2] == a, a view with a row stride of two rows
    got = f(a, b, np.ascontiguousarray(a.T), np.ascontiguousarray(b.T), a2)
    expected = a @ b
    tol = 1e-5 if dtype == "float32" else 1e-12
    for value in got:
        assert value.shape == (n, m) and value.dtype == dtype
        np.testing.assert_allclose(value, expected, rtol=tol, atol=tol)


def test_backend_is_reported():
    assert blas.BACKEND in ("numpy", "numba")


def test_fallback_without_numpys_blas_shares_the_cache():
    """With NumPy's CBLAS unavailable (SYMNET_NUMPY_BLAS=0) the same cached kernels run on the
    NumPy callbacks: correct results in both processes, never an unresolved symbol."""
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np, symnet as sn, symnet.tensor as T\n"
        "from symnet.runtime import blas\n"
        "a, b = T.fmatrix('a'), T.fmatrix('b')\n"
        "f = sn.function([a, b], [T.dot(a, b), T.dot(a.T, b)])\n"
        "x = np.arange(16, dtype='float32').reshape(4, 4) / 7\n"
        "y = np.arange(16, dtype='float32').reshape(4, 4) / 5\n"
        "p, q = f(x, y.T)\n"
        "np.testing.assert_allclose(p, x @ y.T, rtol=1e-6)\n"
        "np.testing.assert_allclose(q, x.T @ y.T, rtol=1e-6)\n"
        "print(blas.BACKEND)\n"
    )
    seen = []
    for flag in ("0", "1", "0"):
        env = dict(os.environ, SYMNET_NUMPY_BLAS=flag)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        seen.append(out.stdout.strip())
    assert seen[0] == seen[2] == "python"
