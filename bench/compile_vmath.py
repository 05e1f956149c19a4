"""Benchmark: compile time of fused loops over composed vector-math functions (issue 13, item 3).

For every composition of the unary functions that fused loops compute with ``symnet.runtime.vmath``
(exp, expm1, log, log1p, tanh, sigmoid, softplus), of depth 2 and 3 by default::

    f(g(x0)) + x1        f(g(h(x0))) + x1        (x0, x1 float64 matrices)

this process builds the function and calls it once, which is when Numba compiles its kernel,
and prints one row per composition:

- ``build``: graph, rewrites and code generation, in seconds (no Numba);
- ``compile``: the first call, in seconds: Numba compiling the kernel;
- ``llvm``: the part of it spent in LLVM (``dispatcher.overloads[sig].metadata['timers']``'s
  ``llvm_lock``, measured around LLVM's work only, so less disturbed by other jobs);
- with ``--check``, whether the values match NumPy (``ok``), on a (3, 5) + (3, 5) call (every
  operand contiguous with the loop's shape) and a (3, 1) + (1, 5) call (both broadcast).

Numba's optimisation level is 3 (its default) unless ``--opt`` says otherwise, and kernels go to a
new, empty cache directory (``SYMNET_CACHE_DIR``) unless ``--cache-dir`` names one, so every
kernel is really compiled. The library helpers the kernels inline (the vmath functions) are
compiled first and reported on their own line, so that the first row is not charged for them.
``--timeout S`` ends the process (faulthandler prints the stacks, exit status 1) when one
compile takes longer than S seconds; the composition is printed before its compile starts.
``--json`` prints one JSON object per row instead of the table (tests/runtime/test_vmath.py runs it
that way). Run:

    python bench/compile_vmath.py [--depth 2 3] [--check] [--timeout 120] [--only f,g ...]

Before the fused loops read unit-stride rows (symnet/ops/elemwise.py, ``_row_loop_lines``), they
had a unit-stride and a broadcasting copy of the steps; LLVM's loop unswitching at level 3 split
the broadcasting loop on the axes' 0/1 stride flags, and in the copy where x0 is constant along
the inner axis the loop vectorizer spent time exponential in the depth of the inlined vmath
steps: ``softplus(sigmoid(x0)) + x1`` did not finish in 15 min, exp(sigmoid(x0)) + x1 took 25 s.
"""

from __future__ import annotations

import argparse
import faulthandler
import itertools
import json
import os
import shutil
import sys
import tempfile
import time

# compile times of the kernel (tier 1): tier 0 would answer before it is compiled
os.environ["SYMNET_COMPILE"] = "wait"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FUNCTIONS = ("exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus")


def _numpy_functions() -> dict:
    import numpy as np

    def sigmoid(x):
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))

    def softplus(x):
        with np.errstate(over="ignore"):
            return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)

    return {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
            "tanh": np.tanh, "sigmoid": sigmoid, "softplus": softplus}


def _symbolic_functions() -> dict:
    import symnet.tensor as T

    return {"exp": T.exp, "expm1": T.expm1, "log": T.log, "log1p": T.log1p, "tanh": T.tanh,
            "sigmoid": T.nnet.sigmoid, "softplus": T.nnet.softplus}


def compositions(depths, only=None) -> list[tuple[str, ...]]:
    """Tuples of function names, outermost first: ("softplus", "sigmoid") is
    softplus(sigmoid(x0)) + x1."""
    if only:
        return [tuple(name.split(",")) for name in only]
    return [combo for depth in depths for combo in itertools.product(FUNCTIONS, repeat=depth)]


def label(combo) -> str:
    return "".join(f"{name}(" for name in combo) + "x0" + ")" * len(combo) + " + x1"


def warm_helpers() -> float:
    """Compile the vmath helpers (float64) and return the seconds it took."""
    from symnet.runtime import vmath

    start = time.perf_counter()
    for name in FUNCTIONS:
        getattr(vmath, name)(0.5)
    return time.perf_counter() - start


def measure(combo, check: bool) -> dict:
    """Build, compile (first call) and optionally check one composition."""
    import numpy as np

    import symnet as sn
    import symnet.tensor as T

    symbolic = _symbolic_functions()
    x0, x1 = T.dmatrix("x0"), T.dmatrix("x1")
    out = x0
    for name in reversed(combo):
        out = symbolic[name](out)
    start = time.perf_counter()
    f = sn.function([x0, x1], out + x1)
    build = time.perf_counter() - start
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-3.0, 3.0, (3, 5)), rng.uniform(-3.0, 3.0, (3, 5))
    start = time.perf_counter()
    got = f(a, b)
    compile_seconds = time.perf_counter() - start
    llvm = sum(overload.metadata.get("timers", {}).get("llvm_lock", 0.0)
               for overload in f.kernel.dispatcher.overloads.values())
    result = {"combo": list(combo), "build": build, "compile": compile_seconds, "llvm": llvm}
    if check:
        reference = _numpy_functions()
        errors = []
        for a, b, got in ((a, b, got), (a[:, :1], b[:1], f(a[:, :1], b[:1]))):
            expected = a
            with np.errstate(all="ignore"):
                for name in reversed(combo):
                    expected = reference[name](expected)
                expected = expected + b
            try:
                np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
            except AssertionError as exc:
                errors.append(f"{a.shape} + {b.shape}: {exc}")
        result["errors"] = errors
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--only", nargs="+", help="compositions as comma-separated names, "
                        "outermost first (softplus,sigmoid)")
    parser.add_argument("--check", action="store_true", help="compare the values with NumPy")
    parser.add_argument("--opt", default="3", help="Numba's optimisation level (NUMBA_OPT)")
    parser.add_argument("--cache-dir", help="kernel cache (default: a new empty directory)")
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="end the process when one compile takes longer (seconds)")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args()
    # before Numba is imported: both are read once, at import
    os.environ["NUMBA_OPT"] = args.opt
    cache = args.cache_dir or tempfile.mkdtemp(prefix="symnet-compile-vmath-")
    os.environ["SYMNET_CACHE_DIR"] = cache
    sys.path.insert(0, ROOT)
    try:
        helpers = warm_helpers()
        if args.json:
            print(json.dumps({"helpers": helpers}), flush=True)
        else:
            print(f"NUMBA_OPT={args.opt}, cache {cache}; vmath helpers compiled in "
                  f"{helpers:.1f} s")
            print(f"{'composition':<44} {'build s':>8} {'compile s':>10} {'llvm s':>7}"
                  + ("  values" if args.check else ""), flush=True)
        total = 0.0
        for combo in compositions(args.depth, args.only):
            # printed first, so that a compile that never ends is named
            if args.json:
                print(json.dumps({"compiling": list(combo)}), flush=True)
            else:
                print(f"{label(combo):<44}", end="", flush=True)
            if args.timeout:
                # a watchdog thread that needs no GIL: it fires inside LLVM too
                faulthandler.dump_traceback_later(args.timeout, exit=True)
            r = measure(combo, args.check)
            faulthandler.cancel_dump_traceback_later()
            total += r["compile"]
            if args.json:
                print(json.dumps(r), flush=True)
                continue
            values = ""
            if args.check:
                values = "  ok" if not r["errors"] else "  " + " | ".join(r["errors"])
            print(f" {r['build']:>8.2f} {r['compile']:>10.2f} {r['llvm']:>7.2f}{values}",
                  flush=True)
        if not args.json:
            print(f"total compile {total:.1f} s")
    finally:
        if not args.cache_dir:
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
