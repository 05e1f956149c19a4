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

from symnet.runtime.cache_root import cache_root

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _VersionedLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for symnet's own modules: one directory per symnet version."""

    def __init__(self, py_func, py_file):
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

def tolerate_broken_cache(dispatcher) -> None:
    """Make a truncated or garbage Numba cache file (``__pycache__/*.nbi``, ``*.nbc``) a cache
    miss: Numba itself raises from the call that loads it. The index is emptied, so the kernel
    is compiled again and its new machine code saved over the broken entry."""
    numba_cache = getattr(dispatcher, "_cache", None)
    load = getattr(numba_cache, "load_overload", None)
    if load is None:
        return

    def load_overload(*args, **kwargs):
        try:
            return load(*args, **kwargs)
        except Exception:  # noqa: BLE001 - any unreadable entry is rebuilt
            try:
                numba_cache.flush()
            except OSError:
                pass  # an unwritable cache: compile anyway; the save is skipped by Numba
            return None

    numba_cache.load_overload = load_overload


_njit = numba.njit(cache=True, nogil=True, error_model="numpy")

#: the op families whose helpers generated kernels call by module name
#: (``<family>.<helper>(...)``): every module that defines a helper with :func:`kernel`
#: registers itself here when it is imported, and generated modules import them all
FAMILIES: set[str] = set()


def kernel(fn):
    """numba.njit with symnet's flags: cached on disk (a broken cache file is a miss), GIL
    released, NumPy's float error model (division by zero gives inf/nan as in NumPy instead
    of raising ZeroDivisionError). Registers the helper's module in :data:`FAMILIES`."""
    dispatcher = _njit(fn)
    tolerate_broken_cache(dispatcher)
    if fn.__module__.startswith("symnet.ops."):
        FAMILIES.add(fn.__module__)
    return dispatcher
