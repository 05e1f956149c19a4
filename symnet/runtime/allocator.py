"""Keep large temporaries' memory in the process (glibc only).

A compiled kernel allocates its intermediates with ``np.empty`` on every call. glibc serves
blocks above its mmap threshold with fresh ``mmap`` pages and gives the top of the heap back
to the system on ``free`` past its trim threshold, so a kernel whose temporaries are a few
megabytes (an im2col buffer, a scan's history, a large batch's activations) pays a page
fault per 4 KiB on every call: measured 5-16 ms against 1.3 ms for a conv + relu + filter
gradient, and 35 % of a 100-step scan's time. Raising both thresholds once keeps that memory
mapped, as the caching allocators of other array frameworks do. glibc caps the mmap threshold
at 32 MiB, so blocks above it are also taken off ``mmap`` altogether (``M_MMAP_MAX`` 0): a
fused loop writing a fresh 80 MB output spent half its time (35 of 72 ms) faulting pages in;
from the heap it reuses the pages of the previous call's freed output. glibc still falls back
to ``mmap`` when the heap cannot grow. Memory freed in the process (by symnet's kernels or by
NumPy) then stays with it, up to the trim threshold at the top of the heap, instead of
returning to the system. Off with ``SYMNET_TUNE_MALLOC=0``; nothing happens on other C
libraries.
"""

from __future__ import annotations

import ctypes
import sys

from symnet.config import config

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
MMAP_THRESHOLD = 32 * 2**20   # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 512 * 2**20

_done = False


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds and stop serving large blocks with ``mmap``,
    once per process; True if they were set."""
    global _done
    if _done or not config.tune_malloc or not sys.platform.startswith("linux"):
        return False
    _done = True
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt)
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return all([bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)),
                bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)),
                bool(mallopt(_M_MMAP_MAX, 0))])
