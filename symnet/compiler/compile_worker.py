"""The background compile worker: ``python -m symnet.compiler.compile_worker``.

Reads jobs from standard input, each a length-prefixed pickle of ``(module path, module name,
signature)``: the kernel module of the cache and the Numba types of the arguments the calling
process passes. Compiles ``kernel`` for that signature (Numba's ``cache=True`` saves the
machine code next to the module, where the caller loads it) and answers ``("ok", seconds)`` or
``("error", text)`` the same way on standard output. See :mod:`symnet.compiler.background`.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import struct
import sys
import time
import traceback

from symnet.compiler.backends.numba import _tolerate_broken_caches
from symnet.runtime.cache_root import import_file


def die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to this process when its parent exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # the closed job pipe ends the loop below instead


def _read(stream, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def main() -> int:
    die_with_parent()
    if os.getppid() == 1:
        return 0  # the parent is already gone
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = _read(stdin, 8)
        if header is None:
            return 0  # the parent closed the pipe
        body = _read(stdin, struct.unpack("<Q", header)[0])
        if body is None:
            return 0
        start = time.perf_counter()
        try:
            path, module_name, signature = pickle.loads(body)
            module = sys.modules.get(module_name) or import_file(module_name, path)
            kernel = module.kernel
            _tolerate_broken_caches(kernel)
            kernel.compile(signature)
            answer = ("ok", time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the caller
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            answer = ("error", text[-2000:])
        data = pickle.dumps(answer)
        stdout.write(struct.pack("<Q", len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
