"""One-time warm-up of tier 0's shared kernels, in a background process.

Tier 0 (:mod:`symnet.compiler.backends.tier0`) runs a new graph at once only when the small
functions it calls are compiled already; on a fresh machine they are not. The first process
that builds a tier-0 function starts it (:func:`ensure_started`; the process runs
:mod:`symnet.warmup_run`) (it never blocks that
process, which meanwhile compiles any function it needs before the warm-up got to it, that one
alone). The warm-up runs, on tier 0 and with small data, the programs most people run first (a
Theano-style logistic regression and MLP, Keras Dense models with the usual losses and
optimizers, in float32 and float64), then compiles the one-step loop of every scalar rule for
float32 and float64 arrays of rank 0 to 2. Their machine code lands in the disk cache, for
every later process.

``<cache root>/warmup.done`` marks a finished warm-up (the cache root is versioned, so a new
symnet, Numba or NumPy warms up again); ``warmup.lock`` holds the pid of a running one. The
process dies with the process that started it; the next process picks up where it stopped
(what was compiled stays cached). ``SYMNET_WARMUP=0`` switches it off (the test suite does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from symnet.compiler.background import worker_environment
from symnet.runtime.cache_root import cache_root

_started = False
_lock = threading.Lock()


def paths() -> tuple[str, str]:
    """The files marking a finished warm-up and holding a running one's pid."""
    root = cache_root()
    return os.path.join(root, "warmup.done"), os.path.join(root, "warmup.lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_started() -> None:
    """Start the warm-up process unless it ran, runs, or is switched off (once per process)."""
    global _started
    if _started:
        return
    with _lock:
        if _started:
            return
        _started = True
        if os.environ.get("SYMNET_WARMUP", "1") == "0":
            return
        done, lock = paths()
        if os.path.exists(done):
            return
        try:
            with open(lock) as f:
                if _alive(int(f.read().strip() or 0)):
                    return
        except (OSError, ValueError):
            pass
        try:
            # -c, not -m: this module is imported already (running it as __main__ would
            # load it twice)
            subprocess.Popen([sys.executable, "-c", "from symnet import warmup_run; "
                              "warmup_run.main()"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=worker_environment(), close_fds=True)
        except OSError:
            pass  # no warm-up: each function compiles what it needs
