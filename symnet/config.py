"""symnet.config: one small frozen settings object, changed with ``config.override(...)``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading


class SymnetWarning(UserWarning):
    """Warnings symnet issues (tests turn them into errors)."""


def _default_cache_dir() -> str:
    env = os.environ.get("SYMNET_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "symnet")


@dataclasses.dataclass(frozen=True)
class Settings:
    float_x: str = "float64"
    mode: str = os.environ.get("SYMNET_MODE", "numba")
    check_graph: bool = os.environ.get("SYMNET_CHECK_GRAPH", "0") == "1"
    verbose_rewrites: bool = False
    cache_dir: str = dataclasses.field(default_factory=_default_cache_dir)
    #: keep freed memory in the process (glibc mallopt) so that kernels' large temporaries
    #: are not returned to the system and page-faulted back in on every call; env
    #: SYMNET_TUNE_MALLOC=0 leaves the C allocator alone
    tune_malloc: bool = os.environ.get("SYMNET_TUNE_MALLOC", "1") != "0"
    #: when a function's whole-graph kernel (tier 1) compiles: 'background' (the function
    #: answers at once on tier 0, node by node on shared kernels, and switches to its kernel
    #: when it is ready), 'wait' (the first call compiles it) or 'never' (tier 0 only)
    compile: str = os.environ.get("SYMNET_COMPILE", "background")
    #: seconds a background compile may take before it is stopped (the function stays on
    #: tier 0, and later processes do not try that kernel again)
    compile_timeout: float = float(os.environ.get("SYMNET_COMPILE_TIMEOUT", "60"))


class _Config:
    """Proxy to the current :class:`Settings`; ``override`` swaps them for a ``with`` block."""

    def __init__(self):
        self._settings = Settings()
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self._settings, name)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"symnet.config is read-only; use `with symnet.config.override({name}=...)`"
            " or symnet.config.set(...)"
        )

    def set(self, **changes) -> None:
        """Change settings for the rest of the process (tests and scripts)."""
        with self._lock:
            self._settings = dataclasses.replace(self._settings, **changes)

    @contextlib.contextmanager
    def override(self, **changes):
        with self._lock:
            previous = self._settings
            self._settings = dataclasses.replace(previous, **changes)
        try:
            yield self
        finally:
            with self._lock:
                self._settings = previous

    def __repr__(self):
        return f"symnet.config({self._settings})"


config = _Config()
