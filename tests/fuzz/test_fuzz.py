"""Differential fuzzing: random well-typed programs (tests/fuzz/strategies.py) compiled with the
numba backend (its whole-graph kernel, and tier 0 bit for bit against it), the python backend
with and without rewrites, compared with NumPy; gradients of
the smooth float64 outputs checked against finite differences.

Profiles (environment):

- default (CI): a short, derandomized run (the same programs every time): 500 programs through
  the python backend (milliseconds each), 40 through numba (about 1-2 s each on a cold cache:
  one kernel per program, its outputs and gradients compiled as one multi-output function).
- ``SYMNET_FUZZ_EXAMPLES=20000 pytest tests/fuzz``: a campaign of that many programs per test,
  randomized (Hypothesis prints the failing program and how to reproduce it); add
  ``--hypothesis-show-statistics`` for the counts.

Hypothesis keeps no example database (``database=None``): nothing is written into the repository.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import symnet as sn
import symnet.tensor as T
from symnet.graph import clone_replace
from tests.fuzz.strategies import close, programs

CAMPAIGN = int(os.environ.get("SYMNET_FUZZ_EXAMPLES", "0"))
PYTHON_EXAMPLES = CAMPAIGN or 500
NUMBA_EXAMPLES = CAMPAIGN or 40


def fuzz_settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=not CAMPAIGN, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


def gradient_cost(program):
    """A scalar projecting every smooth float64 output onto fixed weights, and the float64
    inputs it depends on; (None, []) when there is none."""
    smooth = [o for o in program.outputs if o.smooth and o.f64 and o.dtype.name == "float64"]
    if not smooth:
        return None, []
    rng = np.random.default_rng(7)
    cost = 0.0
    for out in smooth:
        cost = cost + T.sum(out.sym * T.constant(rng.uniform(0.5, 1.5, size=out.shape)))
    wrt = [n for n in program.inputs if n.dtype.name == "float64"]
    return cost, wrt


def compiled_outputs(program):
    """Symbolic outputs: the program's outputs, then the gradients of its smooth cost."""
    outputs = [o.sym for o in program.outputs]
    cost, wrt = gradient_cost(program)
    grads = []
    if cost is not None:
        grads = sn.grad(cost, [n.sym for n in wrt], disconnected_inputs="ignore")
    return outputs, grads


def run(program, outputs, **kwargs):
    """Compile and call; also checks the caller's arrays are not modified."""
    f = sn.function([n.sym for n in program.inputs], outputs, on_unused_input="ignore", **kwargs)
    args = [v.copy() for v in program.values]
    results = f(*args)
    for before, after in zip(program.values, args):
        np.testing.assert_array_equal(before, after, err_msg="an input array was modified")
    return [np.asarray(r) for r in results]


def assert_matches(program, got, want, what):
    """Outputs first (each with its own tolerance), then gradients (float32 tolerance when any
    float32 value took part in the program)."""
    loose_any = any(n.loose for n in program.inputs + program.outputs)
    looseness = [o.loose for o in program.outputs]
    for i, (g, w) in enumerate(zip(got, want)):
        ok, message = close(g, w, looseness[i] if i < len(looseness) else loose_any)
        assert ok, f"{what}: output {i} of\n{program}\n{message}"


def check_gradient(program):
    """sn.verify_grad on the smooth cost, other inputs held constant."""
    cost, wrt = gradient_cost(program)
    if cost is None or not program.continuous:
        return

    def build(*syms):
        replace = {}
        for node, sym in zip(wrt, syms):
            static = any(d is not None for d in node.sym.type.shape)
            replace[node.sym] = T.reshape(sym, node.shape) if static else sym
        for node in program.inputs:
            if node not in wrt:
                replace[node.sym] = T.constant(node.value)
        (rebuilt,) = clone_replace([cost], replace)
        return rebuilt

    sn.verify_grad(build, [n.value for n in wrt], mode="python")


@pytest.mark.slow
@fuzz_settings(PYTHON_EXAMPLES)
@given(programs())
def test_python_backend_with_and_without_rewrites_matches_numpy(program):
    outputs, grads = compiled_outputs(program)
    want = [o.value for o in program.outputs]
    plain = run(program, outputs + grads, mode="python", rewrite=False)
    assert_matches(program, plain[: len(want)], want, "python, rewrite=False")
    rewritten = run(program, outputs + grads, mode="python")
    assert_matches(program, rewritten, plain, "python rewritten vs python plain")
    check_gradient(program)


@pytest.mark.slow
@fuzz_settings(NUMBA_EXAMPLES)
@given(programs(max_steps=8))
def test_numba_backend_matches_python_and_numpy(program):
    outputs, grads = compiled_outputs(program)
    want = [o.value for o in program.outputs]
    plain = run(program, outputs + grads, mode="python", rewrite=False)
    assert_matches(program, plain[: len(want)], want, "python, rewrite=False")
    compiled = run(program, outputs + grads, mode="numba")
    assert_matches(program, compiled, plain, "numba vs python")
    # tier 0 (node by node on shared kernels) gives the kernel's bits exactly
    with sn.config.override(compile="never"):
        tier0 = run(program, outputs + grads, mode="numba")
    for i, (a, b) in enumerate(zip(tier0, compiled)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"tier 0 output {i} of\n{program}"
        same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        assert same, f"tier 0 vs tier 1: output {i} of\n{program}\n{a!r}\n{b!r}"


def _drawn_programs(n: int) -> list[str]:
    seen = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def collect(program):
        seen.append(repr(program))

    collect()
    return seen


def test_strategy_draws_reproducible_programs():
    """The strategy is deterministic given Hypothesis' choices (what derandomize relies on)."""
    assert _drawn_programs(5) == _drawn_programs(5)
