"""The numba backend: fusion structure, generated source, the kernel cache across processes."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.compiler import cache
from symnet.compiler.backends.numba import MissingNumbaImplementation
from symnet.graph import Apply, Op, TensorType
from symnet.ops.elemwise import FusedElemwise


def fused_nodes(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise)]


def test_chain_of_five_elementwise_ops_is_one_fused_node():
    x = T.dvector("x")
    y = T.exp(T.sin(x) * 2.0 + 1.0) - T.tanh(x)
    f = sn.function([x], y)
    assert [type(n.op) for n in f.fgraph.toposort()] == [FusedElemwise]
    v = np.linspace(-2, 2, 7)
    np.testing.assert_allclose(f(v), np.exp(np.sin(v) * 2 + 1) - np.tanh(v), rtol=1e-13)


def test_fused_group_exports_values_read_elsewhere():
    x = T.dvector("x")
    h = T.tanh(x) * 3.0
    out = [T.sum(h), h + 1.0]
    f = sn.function([x], out)
    assert len(fused_nodes(f)) == 1
    (node,) = fused_nodes(f)
    assert len(node.outputs) == 2  # h leaves the loop for the sum, h + 1 for the output
    v = np.arange(4.0)
    total, plus = f(v)
    np.testing.assert_allclose(total, np.sum(np.tanh(v) * 3))
    np.testing.assert_allclose(plus, np.tanh(v) * 3 + 1)


@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((3, 4), (4,)), ((1, 1), (2, 5)), ((0, 3), (1, 3))])
def test_fused_loop_broadcasts_like_numpy(shapes):
    a = T.dmatrix("a")
    b = T.tensor("float64", shape=(None,) * len(shapes[1]), name="b")
    f = sn.function([a, b], T.exp(a) * b + a)
    rng = np.random.default_rng(0)
    av, bv = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    np.testing.assert_allclose(f(av, bv), np.exp(av) * bv + av, rtol=1e-13)


def test_non_contiguous_and_negative_stride_inputs():
    a = T.dmatrix("a")
    f = sn.function([a], T.sqr(a) + 1.0)
    base = np.arange(24.0).reshape(4, 6)
    for view in (base.T, base[::2, ::-3], base[:, 1:4]):
        np.testing.assert_array_equal(f(view), view**2 + 1)


def test_shape_mismatch_names_the_op_and_shapes():
    a, b = T.dmatrices("a", "b")
    f = sn.function([a, b], a * b + 1.0)
    with pytest.raises(ValueError, match=r"\(3, ?2\).*\(3, ?4\)|shapes"):
        f(np.ones((3, 2)), np.ones((3, 4)))


def test_source_shows_the_kernel_module():
    x = T.dvector("x")
    f = sn.function([x], T.exp(x))
    assert "def kernel(" in f.source
    assert "@numba.njit" in f.source
    text = sn.debugprint(f, source=True, file=open(os.devnull, "w"))
    assert "def kernel(" in text


def _functions_called(source: str) -> list[str]:
    """The names of the module's functions the kernel calls, once per call."""
    kernel = source[source.index("def kernel("):]
    defined = re.findall(r"^def (\w+)\(", source, flags=re.MULTILINE)
    return [name for name in re.findall(r"= (\w+)\(", kernel) if name in defined]


def test_equal_large_nodes_share_one_function_of_the_module(rng):
    # a fused loop over arrays is a function of the module; two equal ones (the same op on
    # inputs of the same types) call one function
    x, y, z, w = T.dmatrices("x", "y", "z", "w")
    outputs = [T.tanh(x) * 2.0 + y, T.tanh(z) * 2.0 + w, T.exp(x) - z]
    f = sn.function([x, y, z, w], outputs)
    called = _functions_called(f.source)
    assert len(called) == 3 and len(set(called)) == 2
    values = [rng.normal(size=(3, 4)) for _ in range(4)]
    v = values
    expected = [np.tanh(v[0]) * 2 + v[1], np.tanh(v[2]) * 2 + v[3], np.exp(v[0]) - v[2]]
    for got, want in zip(f(*values), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_graphs_differing_in_a_float_constant_share_one_kernel(rng, dtype):
    # a learning rate or a loss weight is a kernel argument, not a literal: a new value reuses
    # the compiled kernel
    x = T.vector("x", dtype=dtype)
    f1 = sn.function([x], T.tanh(x) * 0.123 + 1.5)
    f2 = sn.function([x], T.tanh(x) * 0.456 + 2.5)
    assert f1.source == f2.source and "0.123" not in f1.source
    xv = rng.normal(size=5).astype(dtype)
    tol = 1e-13 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(f1(xv), np.tanh(xv) * np.asarray(0.123, dtype) + 1.5, rtol=tol)
    np.testing.assert_allclose(f2(xv), np.tanh(xv) * np.asarray(0.456, dtype) + 2.5, rtol=tol)
    assert f1(xv).dtype == dtype
    # integer constants and exponents stay literals
    k = T.lvector("k")
    g = sn.function([k, x], [k * 7, x ** 3.0])
    assert "np.int64(7)" in g.source and "3.0" in g.source
    got = g(np.arange(3), xv)
    np.testing.assert_array_equal(got[0], np.arange(3) * 7)
    np.testing.assert_allclose(got[1], xv ** 3, rtol=tol)


def test_small_loops_repeated_per_parameter_share_one_function(rng):
    # the same small update of many parameters: each repeated fused loop is one function of
    # the module called once per parameter (a kernel of copies compiled superlinearly: 50
    # parameters took 103 s), an unrepeated one stays inline
    ws = [sn.shared(rng.normal(size=3), name=f"w{k}") for k in range(12)]
    x = T.dvector("x")
    cost = sum(T.sum(w * x) for w in ws)
    updates = [(w, w - 0.1 * sn.grad(cost, w)) for w in ws]
    start = [w.get_value() for w in ws]
    f = sn.function([x], cost, updates=updates)
    called = _functions_called(f.source)
    assert len(called) >= 24 and len(set(called)) <= 3
    xv = rng.normal(size=3)
    got = f(xv)
    np.testing.assert_allclose(got, sum(np.sum(w0 * xv) for w0 in start), rtol=1e-12)
    for w, w0 in zip(ws, start):
        np.testing.assert_allclose(w.get_value(), w0 - 0.1 * xv, rtol=1e-12)


@pytest.mark.slow
def test_equal_loops_share_one_function_and_a_single_loop_stays_inline(rng):
    # one LSTM layer on two sequences: two equal scans (loops calling fused loops) share one
    # function; the checks naming their sequences stay in the kernel
    from symnet.nn import LSTM

    layer = LSTM(3, input_shape=(4, 2), dtype="float64")
    X1, X2 = T.dtensor3("X1"), T.dtensor3("X2")
    outputs = [layer(X1), layer(X2)]
    f = sn.function([X1, X2], outputs)
    loops = [name for name in _functions_called(f.source) if name.startswith("scan_")]
    assert len(loops) == 2 and len(set(loops)) == 1
    kernel = f.source[f.source.index("def kernel("):]
    assert kernel.count("is shorter than n_steps") == 2
    values = [rng.normal(size=(2, 4, 2)), rng.normal(size=(3, 5, 2))]
    expected = sn.function([X1, X2], outputs, mode="python")(*values)
    for got, want in zip(f(*values), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # alone, the loop as a function would cost its fused loops' code once more: inline
    single = sn.function([X1], layer(X1))
    assert not [name for name in _functions_called(single.source) if name.startswith("scan_")]
    assert "fusedelemwise_" in single.source


class NoKernel(Op):
    def make_node(self, x):
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, inputs):
        return [inputs[0] + 1]

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))


def test_op_without_numba_impl_is_a_compile_error():
    x = T.dvector("x")
    y = NoKernel()(x)
    np.testing.assert_array_equal(sn.function([x], y, mode="python")(np.zeros(2)), [1, 1])
    with pytest.raises(MissingNumbaImplementation, match="NoKernel"):
        sn.function([x], y, mode="numba")


def test_identical_graph_compiled_twice_reuses_the_kernel():
    x = T.dvector("x")
    with sn.config.override(compile="wait"):  # the kernel itself, not tier 0
        f1 = sn.function([x], T.cos(x) * 3.5)
        before = dict(cache.stats)
        f2 = sn.function([x], T.cos(x) * 3.5)
    assert cache.stats["hits_memory"] == before["hits_memory"] + 1
    assert f1.kernel.dispatcher is f2.kernel.dispatcher


def test_trust_input_gives_the_same_answer():
    x, y = T.dscalars("x", "y")
    f = sn.function([x, y], x * y + 1, trust_input=True)
    assert float(f(2.0, 3.0)) == 7.0
    assert float(f(np.array(2.0), np.array(3.0))) == 7.0


SCRIPT = textwrap.dedent(
    """
    import numpy as np, symnet as sn, symnet.tensor as T
    from symnet.compiler import cache
    x = T.dmatrix('x')
    f = sn.function([x], T.tanh(x) * 2.5 + T.sqr(x) - 0.75)
    v = np.linspace(-1, 1, 12).reshape(3, 4)
    assert np.allclose(f(v), np.tanh(v) * 2.5 + v * v - 0.75)
    stats = f.kernel.dispatcher.stats
    print(cache.stats['writes'], cache.stats['hits_disk'], sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    """
)


def run_script(cache_dir):
    # the kernel's cache entry, so no tier-0 modules in the counts
    env = dict(os.environ, SYMNET_CACHE_DIR=str(cache_dir), SYMNET_COMPILE="wait")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return [int(v) for v in out.stdout.split()]


def test_second_process_loads_the_kernel_from_disk(tmp_path):
    writes, _, _, misses = run_script(tmp_path)
    assert writes == 1 and misses == 1
    writes, hits_disk, numba_hits, misses = run_script(tmp_path)
    assert (writes, hits_disk) == (0, 1)
    assert numba_hits == 1 and misses == 0  # machine code came from Numba's cache


def test_corrupt_cache_entry_is_rebuilt(tmp_path):
    run_script(tmp_path)
    (entry,) = list(tmp_path.rglob("k_*.py"))
    entry.write_text("this is not python (")
    writes, hits_disk, _, _ = run_script(tmp_path)
    assert writes == 1 and hits_disk == 0
    run_script(tmp_path)  # and it works again afterwards


def test_clear_cache_empties_the_directory(tmp_path):
    run_script(tmp_path)
    assert list(tmp_path.rglob("k_*.py"))
    with sn.config.override(cache_dir=str(tmp_path)):
        sn.clear_cache()
    assert not list(tmp_path.rglob("k_*.py"))


def test_very_large_fused_group_runs_on_the_vector_machine():
    """A chain of a few hundred steps and its gradient: one fused group executed by the
    precompiled VM (runtime/elemvm.py), equal to the reference backend."""
    x = T.dvector("x")
    y = x
    for i in range(60):
        y = T.sin(y) * 0.5 + y if i % 2 else T.tanh(y) + 0.1
    outputs = [T.sum(y), sn.grad(T.sum(y), x), T.gt(y, 0.5)]
    f = sn.function([x], outputs)
    assert "elemwise.vm_run_float64(" in f.source
    v = np.linspace(-1, 1, 1000)  # several chunks
    got = f(v)
    expected = sn.function([x], outputs, mode="python")(v)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


def test_a_broadcast_scalar_operand_is_read_once_and_keeps_the_flat_loop():
    """A 0-d value broadcast into a fused loop (a learning rate held in a shared variable) is
    read once as a scalar: the loop's single-row path does not wait for it to have the loop's
    shape, and the values are the reference backend's bit for bit."""
    x = T.dmatrix("x")
    rate = sn.shared(np.float64(0.25), name="rate")
    w = sn.shared(np.ones((3, 4)), name="w")
    updates = [(w, w - rate * x)]
    f = sn.function([x], T.sum(x * rate), updates=updates, mode="numba")
    g = sn.function([x], T.sum(x * rate), updates=[(w, w - rate * x)], mode="python")
    lines = f.source.splitlines()
    reads = [(k, re.match(r"\s*\w+_s\d+ = (\w+)\[0, 0\]", line)) for k, line in enumerate(lines)]
    reads = [(k, m.group(1)) for k, m in reads if m]
    assert len(reads) == 2  # the rate, in the output's loop and in the update's
    for k, name in reads:  # the next line decides the flat path without the scalar
        assert "_fast = " in lines[k + 1] and f"{name}.shape" not in lines[k + 1]
    a = np.arange(12.0).reshape(3, 4)
    out = f(a)
    after = w.get_value()
    w.set_value(np.ones((3, 4)))
    assert float(out) == float(g(a))
    np.testing.assert_array_equal(after, w.get_value())
    rate.set_value(np.float64(0.5))  # the next call reads the new value
    np.testing.assert_array_equal(f(a), g(a))
