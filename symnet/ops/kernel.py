"""The decorator for Numba helpers that generated kernels call (``<family>.<helper>(...)``)."""

from __future__ import annotations

import numba

#: numba.njit with symnet's flags: cached on disk, GIL released, NumPy's float error model
#: (division by zero gives inf/nan as in NumPy instead of raising ZeroDivisionError).
kernel = numba.njit(cache=True, nogil=True, error_model="numpy")
