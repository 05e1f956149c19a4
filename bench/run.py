"""symnet benchmark harness (not tests): medians, and ratios against references run in the
same process. Peers (PyTensor, JAX, PyTorch) are measured when installed.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py [--quick] [--only NAME]

Sections: call (per-call overhead), compile (cold and warm compile of the logistic function
and an MLP training step, each in a fresh process), chain (build/grad/compile time of a chain
of N elementwise ops), the elementwise-throughput table from bench/elemwise_math.py, and first
(time to a first result with tiered execution, from bench/first_result.py: an MLP step, a
Keras fit and a tutorial script cold, new and warm, and tier 0's step time against NumPy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def median_us(fn, number=20000, repeat=9) -> float:
    times = timeit.repeat(fn, number=number, repeat=repeat)
    return statistics.median(times) / number * 1e6


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def table(title: str, rows: list[tuple], headers: tuple) -> None:
    print(f"\n## {title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


# --- (a) per-call overhead ----------------------------------------------------------------------


def bench_call() -> None:
    import numba

    import symnet as sn
    import symnet.tensor as T

    x, y = T.dscalars("x", "y")
    f = sn.function([x, y], x + y)
    ft = sn.function([x, y], x + y, trust_input=True)
    f(2.0, 3.0)
    ft(2.0, 3.0)

    @numba.njit
    def bare(a, b):
        return a + b

    bare(2.0, 3.0)
    xa, ya = np.array(2.0), np.array(3.0)
    rows = []
    floor = median_us(lambda: bare(2.0, 3.0))
    rows.append(("bare numba.njit (floor)", f"{floor:.2f}", "1.0"))
    for label, fn in [
        ("symnet f(2.0, 3.0)", lambda: f(2.0, 3.0)),
        ("symnet f(0-d arrays)", lambda: f(xa, ya)),
        ("symnet trust_input=True", lambda: ft(2.0, 3.0)),
        ("numpy np.add(0-d arrays)", lambda: np.add(xa, ya)),
    ]:
        t = median_us(fn)
        rows.append((label, f"{t:.2f}", f"{t / floor:.1f}"))
    if have("torch"):
        import torch

        torch.set_num_threads(1)
        a, b = torch.tensor(2.0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64)
        t = median_us(lambda: a + b)
        rows.append(("PyTorch eager a + b", f"{t:.2f}", f"{t / floor:.1f}"))
    if have("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        jf = jax.jit(lambda a, b: a + b)
        jf(2.0, 3.0).block_until_ready()
        t = median_us(lambda: jf(2.0, 3.0).block_until_ready(), number=2000)
        rows.append(("JAX jit", f"{t:.2f}", f"{t / floor:.1f}"))
    if have("pytensor"):
        import pytensor
        import pytensor.tensor as pt

        px, py = pt.dscalars("x", "y")
        pf = pytensor.function([px, py], px + py, mode="NUMBA")
        pf(2.0, 3.0)
        t = median_us(lambda: pf(2.0, 3.0), number=5000)
        rows.append(("PyTensor Numba", f"{t:.2f}", f"{t / floor:.1f}"))
        pf.trust_input = True
        t = median_us(lambda: pf(np.array(2.0), np.array(3.0)), number=5000)
        rows.append(("PyTensor Numba trust_input", f"{t:.2f}", f"{t / floor:.1f}"))
    table("(a) per-call time of f(x, y) = x + y on float64 scalars (targets: 1.2 us checked, "
          "0.7 us trusted)", rows, ("what", "median us", "x floor"))


# --- (c) compile time, in fresh processes ---------------------------------------------------------

LOGISTIC = """
import symnet as sn, symnet.tensor as T, numpy as np
x = T.dmatrix('x')
f = sn.function([x], 1 / (1 + T.exp(-x)))
f(np.zeros((2, 2)))
"""

MLP = """
import numpy as np, symnet as sn, symnet.tensor as T
rng = np.random.default_rng(0)
x = T.fmatrix('x'); y = T.ivector('y')
W1 = sn.shared((rng.normal(size=(784, 256)) * 0.05).astype('float32'), 'W1')
b1 = sn.shared(np.zeros(256, 'float32'), 'b1')
W2 = sn.shared((rng.normal(size=(256, 10)) * 0.05).astype('float32'), 'W2')
b2 = sn.shared(np.zeros(10, 'float32'), 'b2')
h = T.nnet.relu(T.dot(x, W1) + b1)
p = T.nnet.softmax(T.dot(h, W2) + b2)
cost = T.mean(T.nnet.categorical_crossentropy(p, y))
params = [W1, b1, W2, b2]
grads = sn.grad(cost, params)
f = sn.function([x, y], cost, updates=[(w, w - np.float32(0.1) * g) for w, g in zip(params, grads)])
f(rng.normal(size=(32, 784)).astype('float32'), rng.integers(0, 10, 32).astype('int32'))
"""

TIMED = """
import time, json
t0 = time.perf_counter()
import symnet
t1 = time.perf_counter()
exec(compile({body!r}, 'case', 'exec'))
t2 = time.perf_counter()
print(json.dumps({{'import': t1 - t0, 'compile': t2 - t1}}))
"""


def variant(body: str) -> str:
    """The same graph with another constant: the kernel's source differs, the helpers do not."""
    changed = body.replace("np.float32(0.1)", "np.float32(0.2)").replace("T.exp(-x)",
                                                                          "T.exp(-2.0 * x)")
    assert changed != body
    return changed


def run_fresh(body: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", TIMED.format(body=body)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_compile() -> None:
    rows = []
    for label, body in (("logistic", LOGISTIC), ("MLP 784-256-10 step", MLP)):
        with tempfile.TemporaryDirectory() as kernels, tempfile.TemporaryDirectory() as numba_cache:
            # cold: no symnet kernel and no Numba machine code cached (helpers compile too)
            env = dict(os.environ, SYMNET_CACHE_DIR=kernels, NUMBA_CACHE_DIR=numba_cache)
            cold = run_fresh(body, env)
            warm = run_fresh(body, env)
        with tempfile.TemporaryDirectory() as kernels:
            # new graph, library helpers already compiled (the everyday case): a variant with
            # another constant (a new kernel) compiles the helpers first, in its own process
            env = dict(os.environ, SYMNET_CACHE_DIR=kernels)
            run_fresh(variant(body), env)
            new_graph = run_fresh(body, env)
        rows.append((label, f"{cold['compile']:.2f}", f"{new_graph['compile']:.2f}",
                     f"{warm['compile']:.2f}", f"{warm['import']:.2f}"))
    table("(c) compile seconds in a fresh process (targets for the MLP step: cold < 2 s, warm < 0.3 s)",
          rows, ("graph", "cold (nothing cached)", "new graph (helpers cached)", "warm (all cached)",
                 "import symnet"))


# --- long chains ---------------------------------------------------------------------------------

CHAIN = """
import time, json, numpy as np
import symnet as sn, symnet.tensor as T
N = {n}
t0 = time.perf_counter()
x = T.dvector('x')
y = x
for i in range(N):
    y = T.sin(y) * 0.5 + y if i % 2 else T.tanh(y) + 0.1
t1 = time.perf_counter()
g = sn.grad(T.sum(y), x)
t2 = time.perf_counter()
f = sn.function([x], [T.sum(y), g])
t3 = time.perf_counter()
f(np.linspace(-1, 1, 100))
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
"""


def bench_chain(sizes) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as kernels:
        # A fresh kernel cache whose library helpers (vmath, the vector machine, ...) are
        # compiled first by a different chain: each measured graph is new, as in everyday use.
        env = dict(os.environ, SYMNET_CACHE_DIR=kernels)
        warm_up = CHAIN.format(n=200).replace("T.sin(y)", "T.cos(y)")
        subprocess.run([sys.executable, "-c", warm_up], env=env, capture_output=True, check=True,
                       timeout=1800)
        for n in sizes:
            try:
                out = subprocess.run([sys.executable, "-c", CHAIN.format(n=n)], env=env,
                                     capture_output=True, text=True, check=True, timeout=1800)
                build, grad, rewrite, kernel = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append((n, f"{build:.3f}", f"{grad:.3f}", f"{rewrite:.3f}", f"{kernel:.3f}",
                             f"{build + grad + rewrite + kernel:.3f}"))
            except subprocess.SubprocessError as exc:
                rows.append((n, "failed", "", "", "", str(exc)[:60]))
    table("chain of N elementwise ops: build, grad, function() (rewrites + codegen), first call "
          "(Numba compile) in seconds; target N=1000 < 2.4 s", rows,
          ("N", "build", "grad", "function", "first call", "total"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["call", "compile", "chain", "elemwise", "first"],
                        default=None)
    parser.add_argument("--quick", action="store_true",
                        help="smaller chain sizes, one repeat of the first-result section")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, {time.strftime('%Y-%m-%d')}")
    if args.only in (None, "call"):
        bench_call()
    if args.only in (None, "elemwise") and os.path.exists(os.path.join(HERE, "elemwise_math.py")):
        subprocess.run([sys.executable, os.path.join(HERE, "elemwise_math.py")], check=False)
    if args.only in (None, "compile"):
        bench_compile()
    if args.only in (None, "chain"):
        bench_chain((10, 100) if args.quick else (10, 100, 1000, 10000))
    if args.only in (None, "first"):
        # its own process, like the elementwise table: it starts children with their own caches
        subprocess.run([sys.executable, os.path.join(HERE, "first_result.py"),
                        *(["--quick"] if args.quick else [])], check=False)


if __name__ == "__main__":
    main()
