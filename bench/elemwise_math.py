"""Benchmark 7(b): y = sigmoid(x) * tanh(x) + x ** 2 on 1e7 float64 elements.

A harness, not a test. Prints medians (ms) and effective bandwidth (16 bytes per element:
read x, write y) for NumPy eager, a memory-copy floor, plain Numba loops with libm math and with
symnet's vectorizable ``vmath``, symnet's compiled function, cache-sized chunks through NumPy
ufuncs (one and two threads), and Numba ``prange`` loops on two cores. A second table times the
serial and parallel vmath loops on small arrays, where starting threads costs more than it saves.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/elemwise_math.py``
(``--size N``, ``--repeat R``). Every row's result is checked against NumPy eager.

SVML is not an option here: the pip build of llvmlite is not SVML-patched (``numba -s``:
"llvmlite Using SVML Patched LLVM: False", ``llvmlite.binding.has_svml`` is False). With the
intel-cmplr-lib-rt wheel's ``libsvml.so`` on LD_LIBRARY_PATH, ``numba -s`` reports "SVML
Library Loaded: True" but still "SVML Operational: False", so Numba keeps calling scalar libm.
The header line prints the state of the running process.

symnet tunes glibc's allocator when it builds its first kernel (``symnet/runtime/allocator.py``:
large blocks come from the heap, so a fresh 80 MB output reuses the pages of the previous one
instead of faulting them in). Every row runs after that, NumPy eager included: measured on
2026-11-23, NumPy eager took 92 ms in a process with glibc's defaults and 56 ms here, and
symnet's function 72 ms and 37 ms.
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

import symnet as sn
import symnet.tensor as T
from symnet.runtime import vmath

CHUNK = 16384  # 128 KiB of float64 per buffer: three buffers stay in L2
THREADS = 2

# Numba's np.empty takes 4 KiB pages straight from malloc/mmap, so writing a fresh 80 MB output
# costs 20,000 page faults; NumPy advises huge pages for large arrays. These rows show that
# cost: an output written in place, and Numba's output with madvise(MADV_HUGEPAGE) (Linux).
_MADV_HUGEPAGE = 14
if sys.platform.startswith("linux"):
    _madvise = ctypes.CDLL(None).madvise
    _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    _madvise.restype = ctypes.c_int
else:
    _madvise = None


def numpy_eager(x):
    return 1.0 / (1.0 + np.exp(-x)) * np.tanh(x) + x**2


@numba.njit(nogil=True, error_model="numpy")
def numba_libm(x):
    out = np.empty_like(x)
    for i in range(x.size):
        v = x[i]
        out[i] = 1.0 / (1.0 + np.exp(-v)) * np.tanh(v) + v * v
    return out


@numba.njit(nogil=True, error_model="numpy")
def numba_vmath(x):
    out = np.empty_like(x)
    for i in range(x.size):
        v = x[i]
        out[i] = vmath.sigmoid(v) * vmath.tanh(v) + v * v
    return out


@numba.njit(nogil=True, error_model="numpy")
def numba_vmath_into(x, out):
    for i in range(x.size):
        v = x[i]
        out[i] = vmath.sigmoid(v) * vmath.tanh(v) + v * v


@numba.njit(nogil=True)
def empty_hugepages(n):
    """np.empty(n) whose whole pages are advised to be backed by huge pages."""
    out = np.empty(n, dtype=np.float64)
    start = (out.ctypes.data + 4095) & ~4095
    stop = (out.ctypes.data + 8 * n) & ~4095
    if stop > start:
        _madvise(start, stop - start, _MADV_HUGEPAGE)
    return out


@numba.njit(nogil=True, error_model="numpy")
def numba_vmath_hugepages(x):
    out = empty_hugepages(x.size)
    for i in range(x.size):
        v = x[i]
        out[i] = vmath.sigmoid(v) * vmath.tanh(v) + v * v
    return out


@numba.njit(nogil=True, error_model="numpy", parallel=True)
def prange_vmath_hugepages(x):
    out = empty_hugepages(x.size)
    for i in numba.prange(x.size):
        v = x[i]
        out[i] = vmath.sigmoid(v) * vmath.tanh(v) + v * v
    return out


@numba.njit(nogil=True, error_model="numpy", parallel=True)
def prange_libm(x):
    out = np.empty_like(x)
    for i in numba.prange(x.size):
        v = x[i]
        out[i] = 1.0 / (1.0 + np.exp(-v)) * np.tanh(v) + v * v
    return out


@numba.njit(nogil=True, error_model="numpy", parallel=True)
def prange_vmath(x):
    out = np.empty_like(x)
    for i in numba.prange(x.size):
        v = x[i]
        out[i] = vmath.sigmoid(v) * vmath.tanh(v) + v * v
    return out


def _chunk_kernel(x, out, a, b):
    """One chunk through NumPy ufuncs with preallocated buffers a, b (no temporaries)."""
    np.negative(x, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)
    np.tanh(x, out=b)
    a *= b
    np.multiply(x, x, out=b)
    np.add(a, b, out=out)


def numpy_chunked(x):
    out = np.empty_like(x)
    a = np.empty(CHUNK)
    b = np.empty(CHUNK)
    for start in range(0, x.size, CHUNK):
        stop = min(start + CHUNK, x.size)
        n = stop - start
        _chunk_kernel(x[start:stop], out[start:stop], a[:n], b[:n])
    return out


def make_numpy_chunked_threads(pool: ThreadPoolExecutor):
    """Chunked ufuncs with the array split in THREADS contiguous halves (ufuncs release the
    GIL, so the halves run at once)."""

    def half(x, out):
        a = np.empty(CHUNK)
        b = np.empty(CHUNK)
        for start in range(0, x.size, CHUNK):
            stop = min(start + CHUNK, x.size)
            n = stop - start
            _chunk_kernel(x[start:stop], out[start:stop], a[:n], b[:n])

    def run(x):
        out = np.empty_like(x)
        bounds = np.linspace(0, x.size, THREADS + 1).astype(int)
        parts = [pool.submit(half, x[lo:hi], out[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
        for part in parts:
            part.result()
        return out

    return run


def into(fn, out):
    def run(x):
        fn(x, out)
        return out

    return run


def copy_floor(out):
    def run(x):
        np.copyto(out, x)
        return out

    return run


def timed_compile(fn, x):
    start = time.perf_counter()
    fn(x[:16].copy())
    return time.perf_counter() - start


def measure(rows, x, repeat):
    """(median, min, median CPU) seconds per row, rounds interleaved so that load from other
    processes hits every row alike. On a shared machine the minimum shows what a row can do,
    and the CPU time (all threads, user + system) is the work itself, which waiting for a
    core does not inflate."""
    times = {name: [] for name, _ in rows}
    cpu = {name: [] for name, _ in rows}
    for _ in range(repeat):
        for name, fn in rows:
            start, start_cpu = time.perf_counter(), time.process_time()
            fn(x)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: (statistics.median(ts), min(ts), statistics.median(cpu[name]))
        for name, ts in times.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.size)
    expected = numpy_eager(x)

    numba.set_num_threads(THREADS)
    compile_times = {
        "numba loop, libm": timed_compile(numba_libm, x),
        "numba loop, vmath": timed_compile(numba_vmath, x),
        "numba prange, libm": timed_compile(prange_libm, x),
        "numba prange, vmath": timed_compile(prange_vmath, x),
    }
    xs = T.dvector("x")
    start = time.perf_counter()
    f = sn.function([xs], T.sigmoid(xs) * T.tanh(xs) + xs**2)
    f(x[:16].copy())
    compile_times["symnet sn.function"] = time.perf_counter() - start

    pool = ThreadPoolExecutor(THREADS)
    rows = [
        ("NumPy eager", numpy_eager),
        ("copy floor (np.copyto)", copy_floor(np.empty_like(x))),
        ("numba loop, libm", numba_libm),
        ("numba loop, vmath", numba_vmath),
        ("symnet sn.function", f),
        (f"NumPy ufuncs, {CHUNK // 1024}K chunks", numpy_chunked),
        (f"NumPy ufuncs, {CHUNK // 1024}K chunks, {THREADS} threads",
         make_numpy_chunked_threads(pool)),
        (f"numba prange, libm, {THREADS} threads", prange_libm),
        (f"numba prange, vmath, {THREADS} threads", prange_vmath),
        ("numba loop, vmath, output preallocated", into(numba_vmath_into, np.empty_like(x))),
    ]
    if _madvise is not None:
        rows += [
            ("numba loop, vmath, huge-page output", numba_vmath_hugepages),
            (f"numba prange, vmath, huge pages, {THREADS} thr", prange_vmath_hugepages),
        ]
    errors = {}
    for name, fn in rows:
        if name.startswith("copy"):
            continue
        got = fn(x)
        errors[name] = float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-300)))
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15, err_msg=name)

    load_before = os.getloadavg()[0]
    medians = measure(rows, x, args.repeat)
    load_after = os.getloadavg()[0]
    pool.shutdown()

    import llvmlite.binding
    from numba.core import config

    print(f"y = sigmoid(x) * tanh(x) + x ** 2, {args.size:.0e} float64, median of {args.repeat}")
    print(f"numba {numba.__version__}, numpy {np.__version__}, threading layer "
          f"{numba.threading_layer()}, SVML {'on' if config.USING_SVML else 'off'} (llvmlite "
          f"SVML-patched: {llvmlite.binding.has_svml}), "
          f"{os.cpu_count()} cpus, load average {load_before:.1f} -> {load_after:.1f}")
    print()
    eager = medians["NumPy eager"][0]
    header = (f"{'variant':40s} {'median ms':>10s} {'GB/s':>6s} {'vs eager':>9s} "
              f"{'min ms':>8s} {'cpu ms':>8s} {'max rel err':>12s}")
    print(header)
    print("-" * len(header))
    for name, _ in rows:
        seconds, fastest, cpu = medians[name]
        gbs = 16 * args.size / seconds / 1e9
        err = f"{errors[name]:.1e}" if name in errors else ""
        print(f"{name:40s} {seconds * 1e3:10.1f} {gbs:6.2f} {eager / seconds:8.2f}x "
              f"{fastest * 1e3:8.1f} {cpu * 1e3:8.1f} {err:>12s}")
    print()
    print("compile (first call, s): " + ", ".join(f"{k} {v:.2f}" for k, v in compile_times.items()))

    # small arrays: where does a parallel launch stop paying off?
    print()
    print(f"{'elements':>10s} {'serial vmath us':>16s} {'prange vmath us':>16s} {'ratio':>7s}"
          f"   (medians; minimums in brackets)")
    for n in (1_000, 10_000, 30_000, 100_000, 300_000, 1_000_000):
        small = x[:n].copy()
        reps = max(20, min(2000, 3_000_000 // n))
        small_rows = [("serial", numba_vmath), ("prange", prange_vmath)]
        small_medians = measure(small_rows, small, reps)
        serial, serial_min, _ = small_medians["serial"]
        parallel, parallel_min, _ = small_medians["prange"]
        print(f"{n:10d} {serial * 1e6:16.1f} {parallel * 1e6:16.1f} {serial / parallel:6.2f}x"
              f"   [{serial_min * 1e6:.1f} / {parallel_min * 1e6:.1f}]")


if __name__ == "__main__":
    main()
