"""Compiling graphs that reuse values (DAGs, not trees) costs time and memory linear in their size.

Every analysis and rewrite of the pipeline (shape analysis, canonicalize/stabilize/specialize,
fusion, code generation) and the gradient driver must treat a value read by several nodes
once, not once per path to it: a recurrence that feeds its running value into two branches
has 2**n paths after n steps. Issue 13 item 7: at 9 steps ``function()`` ran out of 8 GB
(shape analysis named each broadcast length after its parts' names, nested).

The measures are deterministic (no timings): Python-level events while compiling (calls,
returns, builtin calls), the peak of memory allocated by Python, the length of the generated
source. A graph twice as large may cost about twice as much, with room to spare.
"""

import contextlib
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import symnet as sn
import symnet.tensor as T
from symnet.compiler.backends.numba import generate_source
from symnet.compiler.backends.python import compile_python
from symnet.compiler.fgraph import FunctionGraph
from symnet.compiler.rewrite.passes import GLOBAL_PASSES, rewrite_fgraph
from symnet.graph import toposort
from symnet.ops import elemwise

ROOT = Path(__file__).resolve().parents[2]


# --- random DAGs with heavy sharing --------------------------------------------------------------


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _step(op: int, a, b, c, k, lib):
    """One step of a recipe, on symbolic values (``lib`` is T) or NumPy arrays (``lib`` is
    np). Values stay bounded enough over a few dozen steps to compare with NumPy."""
    sym = lib is T
    sigmoid = T.nnet.sigmoid if sym else _sigmoid
    if op == 0:  # the recurrence of the issue
        return lib.tanh(a * b + c) + sigmoid(a - k) * lib.exp(-abs(c))
    if op == 1:
        return lib.tanh(a * b * a) * k + c
    if op == 2:
        return sigmoid(a) * sigmoid(-a) * b
    if op == 3:
        return T.switch(a > b, a, c * k) if sym else np.where(a > b, a, c * k)
    if op == 4:  # stabilize: softplus(a) + softplus(-b)
        if sym:
            return T.log(1 + T.exp(a)) - T.log(T.nnet.sigmoid(b))
        return np.logaddexp(0, a) + np.logaddexp(0, -b)
    if op == 5:  # a reduction between elementwise groups
        return a - lib.tanh(lib.sum(b)) * k
    if op == 6:
        return a / (b * b + 1.0) + lib.maximum(a, c)
    if op == 7:  # sums that canonicalize flattens and cancels
        return (a + c) - (b + c) + a
    # a group read before and after a reduction of another (fusion once made a cycle of it)
    return sigmoid(a) * (c - lib.tanh(lib.sum(b * a))) + (b * a) * sigmoid(a)


N_OPS = 9


def build(recipe, repeats: int, lib):
    """The graph (or NumPy value) of ``recipe`` applied ``repeats`` times. A step reads
    operands by index: 0-3 are the last four values made (heavy reuse), 4-6 the inputs."""
    if lib is T:
        inputs = list(T.dvectors("x", "y", "z"))
    else:
        inputs = list(np.random.default_rng(0).uniform(-1.5, 1.5, size=(3, 5)))
    values = list(inputs)
    k = 0
    for _ in range(repeats):
        for op, operands, base in recipe:
            a, b, c = (values[-min(i + 1, len(values))] if i < 4 else inputs[i - 4]
                       for i in operands)
            values.append(_step(op, a, b, c, base + 0.1 * k, lib))
            k += 1
    return inputs, values[-1]


def _compile_graph(inputs, out):
    """Gradient, every rewrite pass and the kernel source of ``out``."""
    grads = sn.grad(T.sum(out), inputs, disconnected_inputs="ignore")
    fgraph = FunctionGraph(inputs, [out, *grads])
    rewrite_fgraph(fgraph, mode="numba")
    source, _ = generate_source(fgraph)
    return fgraph, source


@contextlib.contextmanager
def memory_budget(extra: int):
    """At most ``extra`` more bytes of address space for this process (Linux; elsewhere no
    limit): an exponential blowup fails with MemoryError instead of exhausting the machine."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + extra if hard == resource.RLIM_INFINITY else min(hard, used + extra)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def compile_cost(recipe, repeats: int):
    """The size of the recipe's graph (nodes as built, nodes after rewriting), the cost of
    differentiating, rewriting and generating its kernel source (Python events, peak bytes,
    source length; no Numba compile), and the rewritten graph. Fused groups are rendered as
    loops however large: the vector machine that runs very large ones makes the source
    shorter at a threshold, which says nothing about how the work grows."""
    inputs, out = build(recipe, repeats, T)
    events = 0

    def count(frame, event, arg):
        nonlocal events
        events += 1

    previous = sys.getprofile()
    with mock.patch.object(elemwise, "VM_MIN_STEPS", 10**9), memory_budget(2**30):
        tracemalloc.start()
        sys.setprofile(count)
        try:
            fgraph, source = _compile_graph(inputs, out)
        finally:
            sys.setprofile(previous)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    sizes = (len(toposort([out])), len(fgraph.nodes))
    return sizes, (events, peak, len(source)), fgraph


def check_values(recipe, repeats: int, fgraph):
    """The rewritten, fused graph (run by the python backend) against NumPy."""
    values, expected = build(recipe, repeats, np)
    got = compile_python(fgraph)(values)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


MIN_NODES = 24
ISSUE = [(0, (0, 5, 6), 0.0)]  # out = tanh(out * y + z) + sigmoid(out - 0.1 k) * exp(-|z|)

recipes = st.lists(
    st.tuples(
        st.integers(0, N_OPS - 1),
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)),
        st.sampled_from([0.0, 0.5, -1.25]),
    ),
    min_size=2,
    max_size=4,
)


@pytest.mark.slow
@settings(max_examples=5, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@example(recipe=ISSUE * 3)
@given(recipe=recipes)
def test_compile_cost_is_linear_on_random_dags_with_shared_values(recipe):
    _compile_graph(*build(recipe, 1, T))  # first use of helpers and caches, not counted
    per_repeat = len(toposort([build(recipe, 1, T)[1]]))
    repeats = min(4, max(2, math.ceil(MIN_NODES / per_repeat)))  # large enough to measure
    sizes, small, _ = compile_cost(recipe, repeats)
    sizes_2, large, fgraph = compile_cost(recipe, 2 * repeats)
    check_values(recipe, 2 * repeats, fgraph)
    # about 2, or 1 when the output ignores the recipe's earlier steps (rewriting may also
    # shrink a graph more at one size than at the other)
    growth = max(b / a for a, b in zip(sizes, sizes_2))
    for name, a, b in zip(("events", "peak bytes", "source length"), small, large):
        assert b <= 1.5 * growth * a, (
            f"{name}: {a} for {sizes} nodes (as built, rewritten), {b} for {sizes_2}"
        )


# --- the fuse pass alone -----------------------------------------------------------------------


def _fuse_events_per_node(recipe, repeats: int) -> float:
    """Python events of the fuse_elemwise pass on the recipe's rewritten gradient graph, per
    node of that graph."""
    inputs, out = build(recipe, repeats, T)
    grads = sn.grad(T.sum(out), inputs, disconnected_inputs="ignore")
    fgraph = FunctionGraph(inputs, [out, *grads])
    with memory_budget(2**30):
        rewrite_fgraph(fgraph, passes=("canonicalize", "constant_fold", "cse", "stabilize",
                                       "specialize"))
    size = len(fgraph.nodes)
    events = 0

    def count(frame, event, arg):
        nonlocal events
        events += 1

    previous = sys.getprofile()
    sys.setprofile(count)
    try:
        GLOBAL_PASSES["fuse_elemwise"](fgraph)
    finally:
        sys.setprofile(previous)
    fgraph.validate()
    return events / size


def test_fusion_work_is_linear_in_the_graph():
    """The merge check walked a group's members each time: quadratic on a gradient graph
    that reads forward values from many groups (3x the work per node for 8x the nodes)."""
    recipe = [(3, (4, 3, 0), 0.0), (1, (3, 4, 6), -1.25), (2, (3, 5, 6), 0.5)]
    small, large = _fuse_events_per_node(recipe, 4), _fuse_events_per_node(recipe, 32)
    assert large <= 1.5 * small, (small, large)


def _exports(n: int):
    """A loop over z and x exporting n values of a chain on z alone (read by reductions)."""
    x, z = T.dvectors("x", "z")
    v, outputs = z, []
    for _ in range(n):
        v = T.tanh(v)
        outputs.append(T.sum(v))
    return [x, z], outputs + [v * x]


@pytest.mark.slow
def test_fused_loop_source_is_linear_in_the_values_it_exports():
    """Exported values reading only some inputs of their loop are computed again when the
    loop is empty ((0,) with (1,)); each had a loop of its own repeating the steps they share,
    source quadratic in the chain."""
    sizes = []
    for n in (20, 80):
        fgraph = FunctionGraph(*_exports(n))
        rewrite_fgraph(fgraph, mode="numba")
        assert sum("Fused" in str(node.op) for node in fgraph.toposort()) == 1
        sizes.append(len(generate_source(fgraph)[0]))
    assert sizes[1] <= 1.5 * 4 * sizes[0], sizes
    inputs, outputs = _exports(5)
    f = sn.function(inputs, outputs)
    for xv, zv in ((np.array([0.5, -2.0]), np.array([0.3, 1.2])), (np.zeros(0), np.array([0.7]))):
        got, v = f(xv, zv), zv
        for total in got[:-1]:
            v = np.tanh(v)
            np.testing.assert_allclose(total, np.sum(v), rtol=1e-12)
        np.testing.assert_allclose(got[-1], v * xv, rtol=1e-12)


def test_fusion_never_makes_a_cycle():
    """exp(y) joined a group that a group placed earlier read: `the graph has a cycle`."""
    x, y, z = T.dvectors("x", "y", "z")
    out = T.exp(y) * (z - T.sum(y * x)) + (y * x) * T.exp(y)
    f = sn.function([x, y, z], out)
    xv, yv, zv = np.random.default_rng(1).normal(size=(3, 6))
    expected = np.exp(yv) * (zv - np.sum(yv * xv)) + (yv * xv) * np.exp(yv)
    np.testing.assert_allclose(f(xv, yv, zv), expected, rtol=1e-12)


def _recurrence(n: int):
    x, y, z = T.dvectors("x", "y", "z")
    out = x
    for k in range(n):
        out = T.tanh(out * y + z) + T.nnet.sigmoid(out - 0.1 * k) * T.exp(-abs(z))
    return out


def test_error_messages_on_a_shared_graph_are_bounded():
    """Messages show the offending expression, cut at 60 characters; the text was built
    whole first, 2**n times the running value after n steps."""
    out = _recurrence(40)
    with memory_budget(2**30):
        with pytest.raises(ValueError, match=r"of the 1-d input \(tanh\(\(\(\(tanh"):
            out.dimshuffle(2)
        with pytest.raises(IndexError, match=r"too many indices for \(tanh.*\.\.\.: it is"):
            out[0, 0]
        with pytest.raises(ValueError, match=r"axis 3 is out of range for the 1-d \(tanh"):
            T.nnet.softmax(out, axis=3)


# --- the issue's recurrence, compiled for real -------------------------------------------------

RECURRENCE = textwrap.dedent(
    """
    import resource, sys
    limit = 3 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import numpy as np
    import symnet as sn, symnet.tensor as T
    n = int(sys.argv[1])
    x, y, z = T.dvectors('x', 'y', 'z')
    out = x
    for k in range(n):
        out = T.tanh(out * y + z) + T.nnet.sigmoid(out - 0.1 * k) * T.exp(-abs(z))
    f = sn.function([x, y, z], out)
    xv, yv, zv = np.random.default_rng(0).normal(size=(3, 7))
    want = xv
    for k in range(n):
        want = np.tanh(want * yv + zv) + np.exp(-abs(zv)) / (1 + np.exp(-(want - 0.1 * k)))
    np.testing.assert_allclose(f(xv, yv, zv), want, rtol=1e-12)
    print("ok", len(f.source))
    """
)


@pytest.mark.slow
def test_recurrence_of_200_steps_compiles_in_bounded_memory():
    """Before the fix, 9 steps needed more than 8 GB; 200 steps now compile (Numba kernel
    included) in a process limited to 3 GB of address space, and agree with NumPy."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", RECURRENCE, "200"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok")
