"""The decorator for Numba helpers that generated kernels call (``<family>.<helper>(...)``).

Their machine code is cached on disk like the kernels, and under the same version directory
(``<cache_dir>/<hash of symnet's sources, numba, numpy>/numba/``): Numba checks only the
source file of the function it loads, so a helper cached before a change to a helper it calls
(in another file) would otherwise keep running the old code after an edit or an upgrade.
"""

from __future__ import annotations

import os

import numba
from numba.core import caching

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _VersionedLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for symnet's own modules: one directory per symnet version."""

    def __init__(self, py_func, py_file):
        from symnet.compiler.cache import cache_root

        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        relative = os.path.relpath(os.path.dirname(os.path.abspath(py_file)), _PACKAGE)
        self._cache_path = os.path.join(cache_root(), "numba", relative)

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.abspath(py_file).startswith(_PACKAGE + os.sep):
            return None
        return super().from_function(py_func, py_file)  # None if the directory is unwritable


if _VersionedLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, _VersionedLocator)

#: numba.njit with symnet's flags: cached on disk, GIL released, NumPy's float error model
#: (division by zero gives inf/nan as in NumPy instead of raising ZeroDivisionError).
kernel = numba.njit(cache=True, nogil=True, error_model="numpy")
