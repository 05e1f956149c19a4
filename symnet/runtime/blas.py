"""Matrix products for compiled kernels, through the BLAS that NumPy itself uses.

Numba's ``np.dot`` calls the BLAS bundled with SciPy; NumPy's wheels bundle their own
OpenBLAS build, which can be noticeably faster on the small, wide products of a training
step (a 32 x 784 by 784 x 256 float32 product: 150 µs against 180 µs on the development
machine). Compiled code calls the symbols ``symnet_cblas_sgemm``/``symnet_cblas_dgemm``,
which this module binds in LLVM's symbol table at import to NumPy's ``cblas_?gemm``; no
address is baked into machine code, so kernels stay cacheable across processes. Where
NumPy's library cannot be found (other builds of NumPy; or ``SYMNET_NUMPY_BLAS=0``) the
same names are bound to callbacks that multiply with NumPy: correct, slower, and still
compatible with every cached kernel. Transposed operands are passed with BLAS's transpose
flags instead of being copied.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
from llvmlite import binding
from numba import types

from symnet.runtime.kernel import kernel

#: the CBLAS symbols of NumPy's bundled OpenBLAS, newest naming first (64-bit integers)
_SYMBOLS = ("scipy_cblas_{}64_", "cblas_{}64_")


def _numpy_blas() -> tuple[str, str] | None:
    """(library path, symbol pattern) of the CBLAS in NumPy's wheel, or None."""
    if os.environ.get("SYMNET_NUMPY_BLAS", "1") == "0":
        return None
    libs = os.path.dirname(os.path.abspath(np.__file__)) + ".libs"
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pattern in _SYMBOLS:
            if hasattr(lib, pattern.format("sgemm")) and hasattr(lib, pattern.format("dgemm")):
                return path, pattern
    return None


_FOUND = _numpy_blas()
#: which library the compiled products call: "numpy" (NumPy's bundled OpenBLAS) or "python"
#: (a callback that multiplies with NumPy: correct everywhere, slow; for other NumPy builds)
BACKEND = "numpy" if _FOUND else "python"

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

_GEMM_ARGS = {
    "float32": ctypes.c_float,
    "float64": ctypes.c_double,
}


def _python_gemm(dtype: str):
    """A C-callable row-major ``cblas_?gemm`` (alpha 1, beta 0 as the kernels use it) that
    multiplies with NumPy; used where NumPy's own CBLAS cannot be found."""
    scalar = _GEMM_ARGS[dtype]
    itemsize = np.dtype(dtype).itemsize

    def view(address, rows, cols, ld, transposed):
        if transposed:  # stored as the (cols x rows) matrix, row stride ld
            rows, cols = cols, rows
        size = (max(rows - 1, 0) * ld + cols) * itemsize if rows and cols else 0
        buffer = (ctypes.c_char * max(size, 1)).from_address(address)
        matrix = np.ndarray((rows, cols), dtype, buffer, strides=(ld * itemsize, itemsize))
        return matrix.T if transposed else matrix

    def gemm(order, ta, tb, n, m, k, alpha, a, lda, b, ldb, beta, c, ldc):
        a_ = view(a, n, k, lda, ta == _TRANS)
        b_ = view(b, k, m, ldb, tb == _TRANS)
        out = view(c, n, m, ldc, False)
        out[...] = alpha * (a_ @ b_)

    prototype = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                                 ctypes.c_int64, ctypes.c_int64, scalar, ctypes.c_void_p,
                                 ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, scalar,
                                 ctypes.c_void_p, ctypes.c_int64)
    return prototype(gemm)


def _register_symbols() -> dict:
    """Give LLVM's symbol table the two names the kernels call, bound to NumPy's CBLAS or to
    the NumPy callbacks. The names are always defined, so machine code cached by one process
    links in any other, whichever library it found."""
    keep = {}
    if _FOUND:
        binding.load_library_permanently(_FOUND[0])
        lib = ctypes.CDLL(_FOUND[0])
        for prefix in ("s", "d"):
            function = getattr(lib, _FOUND[1].format(prefix + "gemm"))
            binding.add_symbol(f"symnet_cblas_{prefix}gemm", ctypes.cast(function, ctypes.c_void_p).value)
    else:
        for prefix, dtype in (("s", "float32"), ("d", "float64")):
            keep[prefix] = _python_gemm(dtype)
            binding.add_symbol(f"symnet_cblas_{prefix}gemm", ctypes.cast(keep[prefix], ctypes.c_void_p).value)
    return keep


_CALLBACKS = _register_symbols()  # kept alive for the life of the process


def _gemm_type(scalar):
    i32, i64, ptr = types.int32, types.int64, types.voidptr
    return types.void(i32, i32, i32, i64, i64, i64, scalar, ptr, i64, ptr, i64, scalar, ptr, i64)


_sgemm = types.ExternalFunction("symnet_cblas_sgemm", _gemm_type(types.float32))
_dgemm = types.ExternalFunction("symnet_cblas_dgemm", _gemm_type(types.float64))


@kernel
def _operand(x, rows, cols):
    """(transpose flag, leading dimension) describing ``x`` to BLAS, or (0, 0) when ``x``
    must be copied first (neither rows nor columns are contiguous)."""
    s0 = x.strides[0] // x.itemsize
    s1 = x.strides[1] // x.itemsize
    if (s1 == 1 or cols == 1) and (s0 >= cols or rows == 1) and s0 >= 0:
        return _NO_TRANS, max(s0 if rows > 1 else cols, 1)
    if (s0 == 1 or rows == 1) and (s1 >= rows or cols == 1) and s1 >= 0:
        return _TRANS, max(s1 if cols > 1 else rows, 1)
    return 0, 0


@kernel
def _call_gemm(a, b, out, ta, lda, tb, ldb):
    n, m = out.shape
    k = a.shape[1]  # a's logical shape: the flags only describe its memory
    if a.itemsize == 4:
        _sgemm(_ROW_MAJOR, ta, tb, n, m, k, np.float32(1.0), a.ctypes, lda, b.ctypes, ldb,
               np.float32(0.0), out.ctypes, m)
    else:
        _dgemm(_ROW_MAJOR, ta, tb, n, m, k, 1.0, a.ctypes, lda, b.ctypes, ldb, 0.0,
               out.ctypes, m)


@kernel
def gemm(a, b):
    """``a @ b`` for 2-d float arrays of one dtype, shapes already checked: one BLAS call,
    transposed views passed by flag, other strided views copied."""
    n, k = a.shape
    m = b.shape[1]
    out = np.empty((n, m), dtype=a.dtype)
    if n == 0 or m == 0:
        return out
    if k == 0:
        out[:] = 0
        return out
    ta, lda = _operand(a, n, k)
    tb, ldb = _operand(b, k, m)
    if ta == 0:
        a = np.ascontiguousarray(a)
        ta, lda = _NO_TRANS, max(k, 1)
    if tb == 0:
        b = np.ascontiguousarray(b)
        tb, ldb = _NO_TRANS, max(m, 1)
    _call_gemm(a, b, out, ta, lda, tb, ldb)
    return out
