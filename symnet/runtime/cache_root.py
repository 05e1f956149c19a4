"""Where the kernel cache lives on disk (``<cache_dir>/<version key>/``), and how a generated
module is put there and imported.

The version key hashes the symnet source files (every ``.py`` under the package, this one's
included), numba's and numpy's versions, Python's and Numba's optimisation level, so an edit
to any helper, an upgrade or another ``NUMBA_OPT`` never reuses an old kernel or helper. The
compiler writes generated modules there (:mod:`symnet.compiler.cache`), and so does the vector
machine its interpreter (:mod:`symnet.runtime.elemvm`); symnet's own Numba helpers keep their
machine code there too (:mod:`symnet.runtime.kernel`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

import numba
import numpy

from symnet.config import config

_version_key: str | None = None


def version_key() -> str:
    """Hash of symnet's own sources, the numba and numpy versions and Numba's optimisation
    level (machine code built at ``NUMBA_OPT=1``, as the test suite's subprocesses do, is never
    loaded by a process running at the default level 3: Numba's own cache index does not
    record the level)."""
    global _version_key
    if _version_key is None:
        h = hashlib.sha256()
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the symnet package
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    h.update(os.path.relpath(path, root).encode())
                    with open(path, "rb") as f:
                        h.update(f.read())
        h.update(numba.__version__.encode())
        h.update(str(numba.core.config.OPT).encode())
        h.update(numpy.__version__.encode())
        h.update(sys.version.encode())
        _version_key = h.hexdigest()[:16]
    return _version_key


def cache_root() -> str:
    """The directory of this version's cache entries (it may not exist yet)."""
    return os.path.join(config.cache_dir, version_key())


def write_module(path: str, source: str) -> bool:
    """Make the file ``path`` hold ``source`` (its directory is created): True if it was
    written, False if it held that text already. A file with other text (truncated, garbage)
    is rewritten, through a temporary file renamed into place (atomic, no locks). Raises
    OSError when the directory cannot be written."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    existing = None
    if os.path.exists(path):
        try:
            with open(path) as f:
                existing = f.read()
        except (OSError, UnicodeDecodeError):
            existing = None
    if existing == source:
        return False
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def import_file(module_name: str, path: str):
    """Import the module file ``path`` under the name ``module_name`` (in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
