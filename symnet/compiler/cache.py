"""The on-disk kernel cache: generated modules stored under a hash of their source.

Layout: ``<cache_dir>/<version key>/k_<source hash>.py``, the root of one version being
:func:`symnet.runtime.cache_root.cache_root` (the version key hashes the symnet source files,
numba's and numpy's versions and Numba's optimisation level, so an edit to any helper, an
upgrade or another ``NUMBA_OPT`` never reuses an old kernel). Numba's own
``cache=True`` stores machine code next to each module in ``__pycache__``, which is what lets a
second process skip compilation. Writes go to a temporary file renamed into place (atomic, no
locks); an entry whose text differs from the expected source (truncated, garbage) is
rewritten (:func:`symnet.runtime.cache_root.write_module`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading

from symnet.config import config
from symnet.runtime.cache_root import cache_root, import_file, version_key, write_module
from symnet.runtime.kernel import tolerate_broken_cache

_loaded: dict[tuple, object] = {}  # (version key, source hash) -> kernel, for this process
_lock = threading.Lock()
stats = {"hits_memory": 0, "hits_disk": 0, "writes": 0}


def load_kernel(source: str, function_name: str = "kernel"):
    """Return the njit function ``function_name`` defined by ``source``, from memory, disk, or
    by writing the module into the cache. Falls back to a private temporary directory when the
    cache directory cannot be written."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    memo_key = (version_key(), digest)
    with _lock:
        kernel = _loaded.get(memo_key)
        if kernel is not None:
            stats["hits_memory"] += 1
            return kernel
        module_name = f"symnet_kernel_{digest}"
        for directory in (cache_root(), None):
            if directory is None:
                directory = tempfile.mkdtemp(prefix="symnet-kernels-")
            path = os.path.join(directory, f"k_{digest}.py")
            try:
                if write_module(path, source):
                    stats["writes"] += 1
                else:
                    stats["hits_disk"] += 1
                module = import_file(module_name, path)
                break
            except OSError:
                continue
        kernel = getattr(module, function_name)
        tolerate_broken_cache(kernel)
        _loaded[memo_key] = kernel
        return kernel


def clear_cache() -> None:
    """Remove every cached kernel on disk (all versions) and forget the ones loaded here."""
    with _lock:
        _loaded.clear()
        if os.path.isdir(config.cache_dir):
            shutil.rmtree(config.cache_dir, ignore_errors=True)
