"""Benchmark: cold compile of a recurrent training step (issue 13, item 6).

    Sequential([LSTM(32, return_sequences=True)] * (layers - 1) + [LSTM(32), Dense(1)])
    on x (batch 16, 10 timesteps, 8 features), float32, mse loss, adam

For each number of stacked LSTM layers, a fresh subprocess with an empty ``SYMNET_CACHE_DIR``
builds the training step (``Sequential.make_train_function``: graph, gradients, rewrites, code
generation) and runs it once, which is when Numba compiles the kernel, the functions of its
module and the library helpers they call. Columns:

- ``build``: graph, gradients, rewrites and code generation, seconds (no Numba);
- ``compile``: the first call, wall seconds; ``cpu``: the CPU seconds of that call (closer to
  what an idle machine would show when other jobs share the cores);
- ``lines``: ``len(f.source.splitlines())``; ``fns``: njit functions in the generated module;
- from Numba's metadata of the kernel (``dispatcher.overloads[sig].metadata``): ``lock`` and
  ``llvm``, its ``timers`` (``compiler_lock``, the whole compile, the functions and helpers
  it calls included; ``llvm_lock``, the part in LLVM), and ``typing``, its type inference
  (which compiles the functions it calls, so it includes them); ``lowering``: native lowering
  summed over every function of the module (LLVM IR generation, LLVM's optimisation and
  machine-code emission of each).

Numba's timers are wall clock too. The loss after the step is printed to compare code versions
(weights are seeded). Numba's optimisation level is the environment's (3 unless ``NUMBA_OPT``
is set). Run:

    python bench/compile_rnn.py [--layers 1 2 3] [--units 32] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# compile times of the kernel (tier 1): tier 0 would answer before it is compiled
os.environ["SYMNET_COMPILE"] = "wait"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIMESTEPS, FEATURES, BATCH = 10, 8, 16


def _pass_seconds(overload, wanted: str) -> float:
    total = 0.0
    for pipeline in overload.metadata.get("pipeline_times", {}).values():
        for name, pass_time in pipeline.items():  # names like "12_native_lowering"
            if name.endswith(wanted):
                total += pass_time.run
    return total


def measure(layers: int, units: int) -> dict:
    """Build and run one training step in this process (whose cache must be empty)."""
    sys.path.insert(0, ROOT)
    import numba
    import numpy as np

    from symnet.nn import LSTM, Dense, Sequential, set_seed

    set_seed(0)
    stack = [LSTM(units, return_sequences=True) for _ in range(layers - 1)] + [LSTM(units)]
    stack[0] = LSTM(units, return_sequences=layers > 1, input_shape=(TIMESTEPS, FEATURES))
    model = Sequential([*stack, Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, TIMESTEPS, FEATURES)).astype(np.float32)
    y = rng.normal(size=(BATCH, 1)).astype(np.float32)
    start = time.perf_counter()
    train = model.make_train_function(y.ndim)
    build = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    loss = float(train(x, y)[0])
    compile_wall = time.perf_counter() - start
    compile_cpu = time.process_time() - cpu

    kernel = train.kernel.dispatcher
    module = sys.modules[kernel.py_func.__module__]
    functions = [f for f in vars(module).values()
                 if isinstance(f, numba.core.registry.CPUDispatcher)]
    (overload,) = kernel.overloads.values()
    timers = overload.metadata.get("timers", {})
    lowering = sum(_pass_seconds(o, "native_lowering") for f in functions
                   for o in f.overloads.values())
    return {"layers": layers, "build": build, "compile": compile_wall, "cpu": compile_cpu,
            "lines": len(train.source.splitlines()), "functions": len(functions),
            "lock": timers.get("compiler_lock", 0.0), "llvm": timers.get("llvm_lock", 0.0),
            "typing": _pass_seconds(overload, "nopython_type_inference"),
            "lowering": lowering, "loss": loss}


def run_fresh(layers: int, units: int, timeout: float) -> dict:
    """``measure`` in a new process with an empty kernel cache."""
    with tempfile.TemporaryDirectory(prefix="symnet-compile-rnn-") as cache:
        env = dict(os.environ, SYMNET_CACHE_DIR=cache)
        command = [sys.executable, __file__, "--one", str(layers), "--units", str(units)]
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"layers": layers, "error": f"not done after {timeout:.0f} s"}
        if done.returncode != 0:
            return {"layers": layers, "error": " ".join(done.stderr.strip().splitlines()[-1:])}
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.units)))
        return
    print(f"NUMBA_OPT={os.environ.get('NUMBA_OPT', 'unset (3)')}, LSTM({args.units}), "
          f"x ({BATCH}, {TIMESTEPS}, {FEATURES}), adam, a fresh cache per row")
    print(f"{'layers':>6} {'build':>6} {'compile':>8} {'cpu':>6} {'lines':>6} {'fns':>4} "
          f"{'lock':>6} {'llvm':>6} {'typing':>7} {'lowering':>9}  loss")
    for layers in args.layers:
        r = run_fresh(layers, args.units, args.timeout)
        if "error" in r:
            print(f"{layers:>6}  {r['error']}", flush=True)
            continue
        print(f"{layers:>6} {r['build']:>6.1f} {r['compile']:>8.1f} {r['cpu']:>6.1f} "
              f"{r['lines']:>6} {r['functions']:>4} {r['lock']:>6.1f} {r['llvm']:>6.1f} "
              f"{r['typing']:>7.1f} {r['lowering']:>9.1f}  {r['loss']:.8g}", flush=True)


if __name__ == "__main__":
    main()
