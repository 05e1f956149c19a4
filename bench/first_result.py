"""Benchmark: time to a first result, cold, for a new graph and warm, with tiered execution.

Tier 0 answers while the tier-1 kernel compiles in the background (``symnet.config.compile``).
Every figure is the median over ``--repeats`` fresh processes (default 5) and stands next to
its target. Cache states, each in its own temporary ``SYMNET_CACHE_DIR`` (and
``NUMBA_CACHE_DIR``, since Numba caches symnet's library helpers next to the package unless it
is set):

- cold: both caches empty, the tier-0 shared kernels included (the process starts symnet's
  one-time warm-up of them in the background, which shares the cores with it);
- new graph: the caches of a machine where symnet ran before: the one-time warm-up finished,
  then a variant of the program (tanh for relu: another kernel from the same kinds of node) ran
  up to its tier-1 kernel (``f.wait()``); the shared kernels are cached, this graph is not. A
  snapshot of these caches is put back before each repeat;
- warm: the program itself ran first in the same caches up to its tier-1 kernel
  (``f.wait()``, or ``SYMNET_COMPILE=wait`` for an unmodified script), so this graph is cached.

The kernel cache is keyed by a hash of symnet's sources. When they change during the run (a
checkout others edit), a measurement whose caches went stale in between found them empty: it
is warmed up and made again, and the tables say so.

Rows:

1. the SGD training step of ``bench/mlp.py`` (784-256-256-10, float32, batch 32): seconds from
   before the graph is built to the first call's result, measured inside the process, with
   the tier that served that call and when tier 1 took over (``f.wait()`` after the result),
   and as the reference the first call compiling the whole kernel (``compile='wait'``, the
   behaviour before tiering);
2. a Keras program (Dense(16, relu) -> Dense(1, sigmoid), Adam, binary crossentropy, 2,000 seeded
   random rows, ``fit(epochs=3)``): whole-process wall seconds;
3. ``python examples/theano_basics.py`` and ``python -c "import symnet"``: whole-process wall
   seconds (``python -c "import numpy"`` beside them as the floor);
4. the MLP step on tier 0 alone (``compile='never'``) and on tier 1 (``compile='wait'``) against
   NumPy by hand in the same process, ms per step at batch 32 and 512 (in the new-graph rows'
   caches), whether the two tiers give the same three losses bit for bit, and whether the
   third is NumPy's within 1e-4;
5. JAX jit and PyTensor (Numba) function-to-first-result of the same step, cold and warm (JAX's
   persistent compilation cache, PyTensor's compiledir), when they are installed.

Whole-process rows are timed by this process around the child; the others print one JSON line
the parent reads. Children run without ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, on one
BLAS thread, with the user's ``NUMBA_OPT``. Notes give the tier-0 functions a child compiled
(Numba cache misses) and the tier at exit. A child's stderr holding a traceback is reported
under the tables even when the child succeeded. Run:

    python bench/first_result.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

TIMEOUT = 1800.0  # a hang guard for one child, not a measurement
# The new-graph variants use tanh where the measured programs use relu: another kernel from
# the same kinds of node. A float constant (the learning rate) is a kernel argument and the
# kernel's code does not depend on static shapes, so another learning rate or width would
# find the measured graph's kernel.
FEATURES = 20

KERAS = """
import time

start = time.perf_counter()
import json
import numpy as np
from symnet.nn import Dense, LambdaCallback, Sequential, set_seed

imported = time.perf_counter()
set_seed(0)
np.random.seed(0)  # fit shuffles with NumPy's global state
rng = np.random.default_rng(0)
x = rng.normal(size=(2000, {features})).astype("float32")
y = (x @ rng.normal(size={features}) > 0).astype("float32")
model = Sequential([Dense(16, activation="{activation}", input_shape=({features},)),
                    Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
tiers = []
first = LambdaCallback(on_train_begin=lambda logs: tiers.append(
    model.make_train_function(y.ndim).tier))
history = model.fit(x, y, epochs=3, verbose=0, callbacks=[first])
fitted = time.perf_counter()
train = model.make_train_function(y.ndim)
{tail}
{tier0_compiles}
print(json.dumps({{"tier": tiers[0], "tier_end": train.tier, "reason": train.tier_reason,
                  "import": imported - start, "fit": fitted - imported,
                  "tier0_compiles": tier0_compiles(), "loss": history.history["loss"][-1]}}))
"""


def tier0_compiles() -> int:
    """Tier 0's shared functions this process compiled (not found in the disk cache)."""
    from symnet.compiler.backends import tier0

    return sum(sum(f._cache_misses.values()) for f in list(tier0._functions.values()))


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# --- children: one measurement each, one JSON line on stdout ------------------------------------


def variant_step(weights):
    """bench/mlp.py's step with tanh instead of relu (the new-graph rows' variant)."""
    import numpy as np

    import symnet as sn
    import symnet.tensor as T

    shared = [sn.shared(w, shape=w.shape) for w in weights]
    w1, b1, w2, b2, w3, b3 = shared
    x = T.tensor("float32", shape=(None, weights[0].shape[0]), name="x")
    y = T.lvector("y")
    h1 = T.tanh(T.dot(x, w1) + b1)
    h2 = T.tanh(T.dot(h1, w2) + b2)
    loss = T.mean(T.nnet.softmax_cross_entropy_with_logits(T.dot(h2, w3) + b3, y))
    grads = sn.grad(loss, shared)
    lr = np.float32(0.01)
    return sn.function([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(shared, grads)])


def child_mlp_first(activation: str, wait: bool) -> dict:
    """Seconds from before the graph is built to the first result of bench/mlp.py's step (or
    of its variant)."""
    sys.path.insert(0, HERE)
    import mlp

    import symnet.tensor  # noqa: F401 - imported before the clock starts, as a script does

    build = mlp.symnet_graph_step if activation == "relu" else variant_step
    weights = mlp.initial_weights()
    x, y = mlp.batch(32)
    start = time.perf_counter()
    f = build(weights)
    built = time.perf_counter() - start
    tier = f.tier  # the tier that serves the next call; a swap happens only between calls
    reason = f.tier_reason
    loss = float(f(x, y))
    first = time.perf_counter() - start
    out = {"first": first, "function": built, "tier": tier, "reason": reason, "loss": loss,
           "tier0_compiles": tier0_compiles()}
    if wait:
        f.wait()
        out.update(tier1=time.perf_counter() - start, tier_after_wait=f.tier,
                   reason_after_wait=f.tier_reason)
    return out


def child_steps(size: int, seconds: float) -> dict:
    """ms per step of NumPy by hand, tier 0 alone and tier 1, taking turns in this process."""
    sys.path.insert(0, HERE)
    import mlp

    import symnet as sn

    weights = mlp.initial_weights()
    x, y = mlp.batch(size)
    with sn.config.override(compile="never"):
        tier0 = mlp.symnet_graph_step(weights)
        tier0_fresh = mlp.symnet_graph_step(weights)
    with sn.config.override(compile="wait"):
        tier1 = mlp.symnet_graph_step(weights)
        tier1_fresh = mlp.symnet_graph_step(weights)
    numpy_fresh = mlp.numpy_step_factory(weights)
    # the same three steps from the same weights: bitwise on the two tiers, close to NumPy
    losses0 = [float(tier0_fresh(x, y)) for _ in range(3)]
    losses1 = [float(tier1_fresh(x, y)) for _ in range(3)]
    losses_np = [float(numpy_fresh(x, y)) for _ in range(3)]
    medians = mlp.measure([("numpy", mlp.numpy_step_factory(weights)), ("tier0", tier0),
                           ("tier1", tier1)], x, y, seconds)
    return {**medians, "tiers": [tier0.tier, tier1.tier], "bitwise": losses0 == losses1,
            "near_numpy": abs(losses0[-1] - losses_np[-1]) <= 1e-4 * max(1.0, abs(losses_np[-1]))}


def child_peer_first(peer: str) -> dict:
    """The same step on a peer: seconds from before the graph is built to the first result."""
    sys.path.insert(0, HERE)
    import mlp

    if peer == "jax":
        # imported before the clock starts, as a script does
        import jax.numpy  # noqa: F401

        factory = mlp.jax_step_factory
    else:
        import pytensor.tensor  # noqa: F401

        factory = mlp.pytensor_step_factory
    weights = mlp.initial_weights()
    x, y = mlp.batch(32)
    start = time.perf_counter()
    step = factory(weights)
    loss = float(step(x, y))
    return {"first": time.perf_counter() - start, "loss": loss}


# --- the parent ---------------------------------------------------------------------------------


class Runner:
    """Starts children in fresh cache directories and keeps what their stderr reported."""

    def __init__(self):
        self.problems: dict[str, str] = {}

    def env(self, root: str, compile_policy: str = "background") -> dict:
        env = dict(os.environ)
        for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            env.pop(var, None)
        env["SYMNET_CACHE_DIR"] = os.path.join(root, "kernels")
        env["NUMBA_CACHE_DIR"] = os.path.join(root, "numba")
        env["SYMNET_COMPILE"] = compile_policy
        env["JAX_COMPILATION_CACHE_DIR"] = os.path.join(root, "jax")
        # JAX keeps only slow or large compiles by default; this step's must be kept
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
        flags = env.get("PYTENSOR_FLAGS", "")
        env["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags,
                                                       f"compiledir={os.path.join(root, 'pt')}"]))
        return env

    def run(self, label: str, command: list[str], env: dict) -> tuple[float, dict | None]:
        """Wall seconds of ``command`` and the JSON of its last stdout line (None if it printed
        none); raises RuntimeError with stderr's last line if it failed."""
        start = time.perf_counter()
        try:
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"not done after {TIMEOUT:.0f} s") from exc
        wall = time.perf_counter() - start
        lines = done.stderr.strip().splitlines()
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {' '.join(lines[-1:])}")
        if "Traceback" in done.stderr:
            self.problems.setdefault(f"{label}: exit 0 but stderr holds a traceback",
                                     lines[-1] if lines else "")
        out = done.stdout.strip().splitlines()
        try:
            return wall, json.loads(out[-1]) if out else None
        except json.JSONDecodeError:
            return wall, None

    def child(self, label: str, args: list[str], env: dict) -> dict:
        return self.run(label, [sys.executable, __file__, "--child", *args], env)[1]

    def expect_tier1(self, label: str, out: dict | None, tier_key: str, reason_key: str) -> None:
        """A warm-up must leave its kernel cached, or the next row measures something else."""
        if out is not None and out.get(tier_key) != 1:
            self.problems.setdefault(f"{label} did not end on tier 1", out.get(reason_key, ""))


def fresh_root() -> str:
    return tempfile.mkdtemp(prefix="symnet-first-result-")


def cache_versions(root: str) -> set[str]:
    """The versioned directories of the kernel cache under ``root``: one per hash of symnet's
    sources (see ``symnet.runtime.cache_root.version_key``)."""
    path = os.path.join(root, "kernels")
    return set(os.listdir(path)) if os.path.isdir(path) else set()


SOURCES_CHANGED = ("symnet's sources changed during the run (the kernel cache is keyed by their "
                   "hash; others edit this checkout)")


def after_warm_up(runner: Runner, root: str, warm_up, measure, what: str):
    """``measure()`` in the caches under ``root`` that ``warm_up()`` filled. If symnet's
    sources changed in between, the measurement found an empty cache under the new hash: warm
    up and measure again (twice at most)."""
    for _ in range(3):
        warm_up()
        before = cache_versions(root)
        result = measure()
        if cache_versions(root) == before:
            return result
        runner.problems.setdefault(SOURCES_CHANGED, "")
        runner.problems[SOURCES_CHANGED] += f"{what} measured again; "
    raise RuntimeError("symnet's sources kept changing")


def seconds(values: list[float]) -> tuple[str, str]:
    """'median s' and 'min-max' of a row's runs."""
    if not values:
        return "failed", ""
    return f"{statistics.median(values):.2f}", f"{min(values):.2f}-{max(values):.2f}"


def tiers_text(tiers: list) -> str:
    """The tiers that served the first call of each run, e.g. '0' or '0,1'."""
    return ",".join(str(t) for t in sorted(set(tiers), key=str)) if tiers else ""


def row(what: str, case: str, values: list[float], target: float | None, tiers=(),
        note: str = "") -> tuple:
    median, spread = seconds(values)
    if target is None:
        meets = ""
    elif values:
        meets = "yes" if statistics.median(values) <= target else "NO"
    else:
        meets = "NO"
    return (what, case, median, spread, "" if target is None else f"<= {target:g}", meets,
            tiers_text(list(tiers)), note)


def keras_program(activation: str, wait: bool) -> list[str]:
    tail = "train.wait()" if wait else ""
    text = KERAS.format(features=FEATURES, activation=activation, tail=tail,
                        tier0_compiles=inspect.getsource(tier0_compiles))
    return [sys.executable, "-c", text]


class UsedMachine:
    """The caches of a machine where symnet ran before, for the new-graph rows: its one-time
    warm-up of tier 0's shared kernels finished, and a variant of each measured program (tanh
    for relu) ran up to tier 1. A snapshot puts the same state back before each repeat; it
    is restored at the same path, since Numba's cache index names the kernel modules' paths."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.root = fresh_root()
        self.snapshot = self.root + ".snapshot"

    def prepare(self) -> None:
        for _ in range(3):
            self._prepare_once()
            if len(cache_versions(self.root)) == 1:
                shutil.copytree(self.root, self.snapshot, symlinks=True)  # copy2 keeps mtimes
                return
            self.runner.problems.setdefault(SOURCES_CHANGED, "")
            self.runner.problems[SOURCES_CHANGED] += "the new-graph caches prepared again; "
        raise RuntimeError("symnet's sources kept changing")

    def _prepare_once(self) -> None:
        self.remove()
        os.makedirs(self.root)
        env = self.runner.env(self.root)
        # to the end here: started by a measured process, it would share the cores with it
        self.runner.run("symnet warm-up", [sys.executable, "-c",
                                           "from symnet import warmup_run; warmup_run.main()"],
                        env)
        variant = self.runner.child("MLP variant", ["mlp-first", "tanh", "--wait"],
                                    env)
        self.runner.expect_tier1("MLP variant", variant, "tier_after_wait", "reason_after_wait")
        variant = self.runner.run("Keras variant", keras_program("tanh", True),
                                  env)[1]
        self.runner.expect_tier1("Keras variant", variant, "tier_end", "reason")

    def restore(self) -> None:
        if os.path.isdir(self.snapshot):
            shutil.rmtree(self.root, ignore_errors=True)
            shutil.copytree(self.snapshot, self.root, symlinks=True)

    def measure(self, measure, what: str):
        """``measure()`` in the restored caches; prepared again first when symnet's sources
        changed since the snapshot (it would have measured a cold cache)."""
        first = [True]

        def warm_up():
            if not first[0]:
                self.prepare()
            first[0] = False
            self.restore()

        return after_warm_up(self.runner, self.root, warm_up, measure, what)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.snapshot, ignore_errors=True)


def bench_mlp_first(runner: Runner, repeats: int, used: UsedMachine) -> list[tuple]:
    """Row 1: cold, then warm in the same caches (the cold run waited for tier 1); new graph in
    the used machine's caches; and the first call compiling the kernel (no tier 0) as the
    reference."""
    wait_case = "cold, compile='wait' (no tier 0)"
    runs = {"new graph": [], "cold": [], "warm": [], wait_case: []}
    errors = {}
    for _ in range(repeats):
        root = fresh_root()
        env = runner.env(root)
        colds = []

        def warm_up(env=env, colds=colds):
            # the first warm-up is the cold run (it waits for tier 1), a later one is not cold
            out = runner.child("MLP cold", ["mlp-first", "relu", "--wait"], env)
            runner.expect_tier1("MLP cold (the warm row's warm-up)", out, "tier_after_wait",
                                "reason_after_wait")
            colds.append(out)

        try:
            runs["warm"].append(after_warm_up(
                runner, root, warm_up,
                lambda env=env: runner.child("MLP warm", ["mlp-first", "relu"], env), "MLP warm"))
        except RuntimeError as exc:
            errors.setdefault("cold", str(exc))
            errors.setdefault("warm", str(exc))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        runs["cold"].extend(colds[:1])
        try:
            runs["new graph"].append(used.measure(
                lambda: runner.child("MLP new graph", ["mlp-first", "relu", "--wait"],
                                     runner.env(used.root)), "MLP new graph"))
        except RuntimeError as exc:
            errors.setdefault("new graph", str(exc))
        root = fresh_root()
        try:
            runs[wait_case].append(runner.child("MLP cold wait", ["mlp-first", "relu"],
                                                runner.env(root, "wait")))
        except RuntimeError as exc:
            errors.setdefault(wait_case, str(exc))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    rows = []
    targets = {"new graph": 0.5, "cold": 5.0, "warm": 0.2, wait_case: None}
    for case, results in runs.items():
        notes = []
        if any("tier1" in r for r in results):
            ready = [r["tier1"] for r in results if "tier1" in r]
            notes.append(f"tier 1 at {statistics.median(ready):.1f} s")
        if results:
            notes.append(f"function() {median_of(results, 'function'):.2f} s, tier-0 compiles "
                         f"{median_of(results, 'tier0_compiles'):g}")
        late = [r["reason_after_wait"] for r in results if r.get("tier_after_wait", 1) != 1]
        if late:
            notes.append(f"NOT tier 1 after wait(): {late[0]}")
        if case in errors:
            notes.append(f"failed: {errors[case]}")
        rows.append(row("MLP step, function() to first result", case,
                        [r["first"] for r in results], targets[case],
                        [r["tier"] for r in results], "; ".join(notes)))
    losses = {r["loss"] for results in runs.values() for r in results}
    if len(losses) > 1:
        runner.problems["MLP first loss differs between runs (tier 0 vs tier 1?)"] = str(
            sorted(losses))
    return rows


def bench_keras(runner: Runner, repeats: int, used: UsedMachine) -> list[tuple]:
    """Row 2: whole-process wall time of the Keras program; cold, then warm in the same caches
    after a run up to tier 1; new graph in the used machine's caches."""
    runs = {"new graph": [], "cold": [], "warm": []}
    errors = {}
    for _ in range(repeats):
        root = fresh_root()
        env = runner.env(root)

        def warm_up(env=env):
            out = runner.run("Keras warm-up", keras_program("relu", True), env)[1]
            runner.expect_tier1("Keras warm-up", out, "tier_end", "reason")

        try:
            runs["cold"].append(runner.run("Keras cold", keras_program("relu", False), env))
            runs["warm"].append(after_warm_up(
                runner, root, warm_up,
                lambda env=env: runner.run("Keras warm", keras_program("relu", False), env),
                "Keras warm"))
        except RuntimeError as exc:
            errors.setdefault("cold", str(exc))
            errors.setdefault("warm", str(exc))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        try:
            runs["new graph"].append(used.measure(
                lambda: runner.run("Keras new graph", keras_program("relu", False),
                                   runner.env(used.root)), "Keras new graph"))
        except RuntimeError as exc:
            errors.setdefault("new graph", str(exc))
    rows = []
    targets = {"new graph": 2.0, "cold": 6.0, "warm": 1.0}
    for case, results in runs.items():
        outs = [out for _, out in results if out]
        note = ""
        if outs:
            note = (f"import {median_of(outs, 'import'):.2f} s, fit {median_of(outs, 'fit'):.2f} "
                    f"s, tier-0 compiles {median_of(outs, 'tier0_compiles'):g}, tier "
                    f"{tiers_text([o['tier_end'] for o in outs])} at exit")
        if case in errors:
            note = f"failed: {errors[case]}"
        rows.append(row("Keras fit(epochs=3), whole process", case,
                        [wall for wall, _ in results], targets[case],
                        [out["tier"] for _, out in results if out], note))
    return rows


def bench_scripts(runner: Runner, repeats: int) -> list[tuple]:
    """Row 3: the tutorial example cold and warm, and the import."""
    example = [sys.executable, os.path.join("examples", "theano_basics.py")]
    cold, warm, imports, floor = [], [], [], []
    errors = []
    for _ in range(repeats):
        root = fresh_root()
        try:
            env = runner.env(root)
            cold.append(runner.run("theano_basics.py cold", example, env)[0])
            # an unmodified script cannot call f.wait(): the policy 'wait' compiles every
            # kernel on its first call, so the next run finds them all on disk
            warm.append(after_warm_up(
                runner, root,
                lambda root=root: runner.run("theano_basics.py warm-up", example,
                                             runner.env(root, "wait")),
                lambda env=env: runner.run("theano_basics.py warm", example, env)[0],
                "theano_basics.py warm"))
            imports.append(runner.run("import symnet", [sys.executable, "-c", "import symnet"],
                                      env)[0])
            floor.append(runner.run("import numpy", [sys.executable, "-c", "import numpy"],
                                    env)[0])
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    note = f"failed: {errors[0]}" if errors else ""
    return [row("python examples/theano_basics.py", "cold", cold, 2.0, note=note),
            row("python examples/theano_basics.py", "warm", warm, 0.8, note=note),
            row('python -c "import symnet"', "", imports, 0.5, note=note),
            row('python -c "import numpy" (floor)', "", floor, None, note=note)]


def median_of(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def bench_steps(runner: Runner, repeats: int, batches: list[int], budget: float,
                used: str) -> list[tuple]:
    """Row 4: steady-state step times, in the used machine's caches (its warm-up done, so no
    warm-up process shares the cores with the timing; the first child compiles what is
    missing, untimed)."""
    rows = []
    env = runner.env(used)
    for size in batches:
        results, error = [], ""
        for _ in range(repeats):
            try:
                results.append(runner.child(f"steps batch {size}",
                                            ["steps", str(size), "--seconds", str(budget)], env))
            except RuntimeError as exc:
                error = str(exc)
        if not results:
            rows.append((size, "failed", "", "", "", "", "", "", "", "", error))
            continue
        ratio0 = statistics.median(r["tier0"] / r["numpy"] for r in results)
        ratio1 = statistics.median(r["tier1"] / r["numpy"] for r in results)
        tiers = {tuple(r["tiers"]) for r in results}
        note = "" if tiers == {(0, 1)} else f"tiers served {sorted(tiers)}"
        if error:
            note += f" failed: {error}"
        rows.append((size, f"{median_of(results, 'numpy'):.3f}",
                     f"{median_of(results, 'tier0'):.3f}", f"{ratio0:.2f}", "<= 2",
                     "yes" if ratio0 <= 2.0 else "NO", f"{median_of(results, 'tier1'):.3f}",
                     f"{ratio1:.2f}", "yes" if all(r["bitwise"] for r in results) else "NO",
                     "yes" if all(r["near_numpy"] for r in results) else "NO", note.strip()))
    return rows


def bench_peers(runner: Runner, repeats: int) -> list[tuple]:
    """Row 5: JAX and PyTensor, cold then warm in the same caches."""
    rows = []
    for label, module in (("JAX jit", "jax"), ("PyTensor Numba", "pytensor")):
        what = f"{label}: MLP step, function() to first result"
        if not have(module):
            rows.append((what, "", "not installed", "", "", "", "", ""))
            continue
        cold, warm, errors = [], [], []
        for _ in range(repeats):
            root = fresh_root()
            try:
                env = runner.env(root)
                cold.append(runner.child(f"{label} cold", ["peer-first", module], env)["first"])
                warm.append(runner.child(f"{label} warm", ["peer-first", module], env)["first"])
            except RuntimeError as exc:
                errors.append(str(exc))
            finally:
                shutil.rmtree(root, ignore_errors=True)
        note = f"failed: {errors[0]}" if errors else ""
        rows.append(row(what, "cold", cold, None, note=note))
        rows.append(row(what, "warm", warm, None, note=note))
    return rows


def print_table(title: str, rows: list[tuple], headers: tuple) -> None:
    print(f"\n## {title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip())
    for line in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip(), flush=True)


HEADERS = ("what", "case", "median s", "range", "target s", "meets", "first call on tier",
           "note")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per figure")
    parser.add_argument("--quick", action="store_true",
                        help="one repeat, batch 32 only and a short step-timing budget")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--wait", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="step-timing budget per implementation (row 4)")
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "mlp-first":
            out = child_mlp_first(rest[0], args.wait)
        elif kind == "steps":
            out = child_steps(int(rest[0]), args.seconds)
        else:
            out = child_peer_first(rest[0])
        print(json.dumps(out))
        return
    repeats = 1 if args.quick else args.repeats
    batches = [32] if args.quick else [32, 512]
    budget = 0.3 if args.quick else args.seconds
    print(f"first result: median of {repeats} fresh process(es) per figure, "
          f"NUMBA_OPT={os.environ.get('NUMBA_OPT', 'unset (3)')}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    runner = Runner()
    used = UsedMachine(runner)
    try:
        try:
            used.prepare()
        except RuntimeError as exc:
            runner.problems["preparing the new-graph rows' caches failed"] = str(exc)
        rows = bench_mlp_first(runner, repeats, used)
        rows += bench_keras(runner, repeats, used)
        rows += bench_scripts(runner, repeats)
        rows += bench_peers(runner, repeats)
        print_table("first result, seconds (new graph: shared kernels cached; cold: nothing "
                    "cached; warm: this graph cached)", rows, HEADERS)
        used.restore()
        steps = bench_steps(runner, repeats, batches, budget, used.root)
    finally:
        used.remove()
    print_table("MLP step on tier 0 alone (compile='never') and tier 1 (compile='wait') against "
                "NumPy by hand, ms per step, float32", steps,
                ("batch", "NumPy ms", "tier 0 ms", "tier 0 x NumPy", "target", "meets",
                 "tier 1 ms", "tier 1 x NumPy", "tier 0 = tier 1 bitwise", "loss near NumPy",
                 "note"))
    if runner.problems:
        print("\nproblems seen in the children:")
        for what, detail in runner.problems.items():
            print(f"- {what}: {detail}")


if __name__ == "__main__":
    main()
