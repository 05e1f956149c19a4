"""Tests for symnet/graph.py: types, variables, shared variables, Apply/Op, graph walking,
cloning and pickling."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import pickle
import sys
from dataclasses import dataclass

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.graph import (
    Apply,
    Constant,
    Op,
    SharedVariable,
    TensorType,
    Variable,
    ancestors,
    clone_replace,
    graph_inputs,
    is_constant,
    normalize_dtype,
    owner_op,
    toposort,
)
from symnet.ops import elemwise

# --- TensorType --------------------------------------------------------------------------------


def test_tensor_type_equality_and_hash():
    a = TensorType("float64", (None, 3))
    b = TensorType(np.float64, [None, 3])
    assert a == b and hash(a) == hash(b)
    assert a != TensorType("float32", (None, 3))
    assert a != TensorType("float64", (None, 4))
    assert a != TensorType("float64", (None, None))
    assert a != TensorType("float64", (None, 3, 1))
    assert a != "float64"
    assert len({a, b, TensorType("float32", (None, 3))}) == 2


def test_tensor_type_properties():
    t = TensorType("int32", (1, None, 4))
    assert t.ndim == 3
    assert t.broadcastable == (True, False, False)
    assert t.short() == "int32(1, ?, 4)"
    assert repr(TensorType("float64", (None,))) == "TensorType(float64, (?,))"
    var = t("v")
    assert isinstance(var, Variable) and var.type == t and var.name == "v" and var.owner is None


@pytest.mark.parametrize("spec, expected", [("float64", "float64"), (np.float32, "float32"),
                                            ("f8", "float64"), (int, "int64"), (bool, "bool"),
                                            ("float16", "float32"), ("floatX", "float64")])
def test_normalize_dtype(spec, expected):
    assert normalize_dtype(spec) == expected


@pytest.mark.parametrize("bad", ["complex128", "object", "U3"])
def test_unsupported_dtypes_raise(bad):
    with pytest.raises(TypeError, match="unsupported dtype"):
        TensorType(bad, ())


def test_tensor_type_filter():
    t = TensorType("float64", (None, 2))
    out = t.filter([[1, 2]])
    assert out.dtype == np.float64 and out.shape == (1, 2)
    with pytest.raises(ValueError, match=r"axis 1 has length 3, not 2"):
        t.filter(np.zeros((1, 3)))
    with pytest.raises(TypeError, match="expected 2-d"):
        t.filter(np.zeros(2))
    with pytest.raises(TypeError, match="may lose information"):
        TensorType("float32", (None,)).filter(np.zeros(2))
    assert TensorType("float32", (None,)).filter(np.zeros(2), allow_downcast=True).dtype == np.float32
    with pytest.raises(TypeError, match="only bool, integer and float"):
        t.filter(np.array([["a", "b"]]))


def test_tensor_type_pickles():
    t = TensorType("int8", (None, 5))
    assert pickle.loads(pickle.dumps(t)) == t


# --- variables ---------------------------------------------------------------------------------


def test_variable_equality_is_identity():
    x = T.dvector("x")
    y = T.dvector("x")
    assert x == x and not (x == y) and x != y  # noqa: PLR0124, SIM201 - __eq__ under test
    assert len({x, y}) == 2
    assert {x: 1}[x] == 1


def test_variable_has_no_truth_value():
    x = T.dscalar("x")
    with pytest.raises(TypeError, match="no truth value"):
        bool(x)
    with pytest.raises(TypeError, match="no truth value"):
        if x > 0:
            pass


def test_variable_records_where_it_was_created():
    x = T.dvector("x")
    y = x * 2
    trace = y.tag["trace"]
    assert trace is not None and trace.startswith(__file__)


def test_constant_data_is_read_only_copy():
    value = np.array([1.0, 2.0])
    c = T.constant(value)
    value[0] = 100.0
    assert c.data[0] == 1.0
    with pytest.raises(ValueError):
        c.data[0] = 5.0
    assert isinstance(c, Constant) and c.owner is None
    assert is_constant(c) and is_constant(T.constant(2.0), 2.0) and not is_constant(c, 1.0)
    assert not is_constant(T.dscalar())


def test_owner_op():
    x = T.dvector("x")
    assert owner_op(x) is None
    assert owner_op(x + x) == elemwise.add
    assert owner_op(T.exp(x)) == elemwise.exp


# --- shared variables ----------------------------------------------------------------------------


def test_shared_variable_copies_on_construction_and_get():
    value = np.array([1.0, 2.0])
    w = sn.shared(value, name="w")
    assert isinstance(w, SharedVariable) and w.name == "w"
    value[0] = 100.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    got = w.get_value()
    got[1] = -1.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])


def test_shared_variable_borrow():
    value = np.array([1.0, 2.0])
    w = sn.shared(value, borrow=True)
    value[0] = 5.0
    assert w.get_value()[0] == 5.0
    assert w.get_value(borrow=True) is w.container[0]
    new = np.array([7.0, 8.0])
    w.set_value(new, borrow=True)
    assert w.get_value(borrow=True) is new


def test_shared_variable_set_value_copies_and_checks():
    w = sn.shared(np.zeros(2), name="w")
    new = np.array([1.0, 2.0])
    w.set_value(new)
    new[0] = 100.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    w.set_value(np.arange(5.0))  # lengths are free, the rank is fixed
    assert w.get_value().shape == (5,)
    with pytest.raises(TypeError, match="'w'.*expected 1-d"):
        w.set_value(np.zeros((2, 2)))
    i = sn.shared(np.zeros(3, dtype="int32"), name="i")
    with pytest.raises(TypeError, match="may lose information"):
        i.set_value(np.array([1.5, 2.0, 3.0]))
    i.set_value([1, 2, 3])
    assert i.get_value().dtype == np.int32


def test_shared_variable_types():
    assert sn.shared(0).dtype == "int64" and sn.shared(0).ndim == 0
    assert sn.shared(1.5).dtype == "float64"
    assert sn.shared(np.zeros((2, 3), dtype="float32")).type == TensorType("float32", (None, None))
    assert sn.shared(np.zeros(3), dtype="float32").dtype == "float32"
    assert sn.shared(np.zeros(3), shape=(3,)).type.shape == (3,)
    with pytest.raises(TypeError, match="not numeric"):
        sn.shared(np.array(["a"]))


def test_shared_variable_in_graph_reads_current_value(mode):
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = sn.function([x], x * w, mode=mode)
    np.testing.assert_array_equal(f([1.0, 1.0]), [1.0, 2.0])
    w.set_value(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(f([1.0, 1.0]), [3.0, 4.0])


# --- ops and Apply -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale(Op):
    """A test op: multiply by a constant factor."""

    factor: float = 2.0
    note: tuple = ()

    def make_node(self, x):
        x = T.as_tensor(x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, inputs):
        (x,) = inputs
        return [np.asarray(x * self.factor, dtype=x.dtype)]

    def numba_impl(self, node, names):
        (x,) = names
        return f"({x} * {self.factor!r}).astype(np.{node.outputs[0].dtype})"

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        return [gz * self.factor]


def test_op_props_equality_and_hash():
    assert Scale(2.0) == Scale(2.0)
    assert hash(Scale(2.0)) == hash(Scale(2.0))
    assert Scale(2.0) != Scale(3.0)
    assert Scale(2.0, ("a",)) != Scale(2.0)
    assert Scale(2.0).props() == (2.0, ())
    assert len({Scale(2.0), Scale(2.0), Scale(3.0)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        Scale(2.0).factor = 3.0
    assert str(Scale(3.0)) == "Scale{factor=3.0}"
    assert str(Scale()) == "Scale"


def test_builtin_ops_compare_by_props():
    x = T.dmatrix("x")
    assert T.sum(x, axis=1).owner.op == T.sum(T.dmatrix(), axis=1).owner.op
    assert hash(T.sum(x, axis=1).owner.op) == hash(T.sum(x, axis=1).owner.op)
    assert T.sum(x, axis=1).owner.op != T.sum(x, axis=0).owner.op
    assert x.dimshuffle(1, 0).owner.op == T.dmatrix().dimshuffle(1, 0).owner.op


def test_apply_links_outputs():
    x = T.dvector("x")
    y = Scale(3.0)(x)
    node = y.owner
    assert isinstance(node, Apply) and node.op == Scale(3.0)
    assert node.inputs == [x] and node.outputs == [y] and node.out is y
    assert y.index == 0


def test_custom_op_runs_and_differentiates(mode):
    x = T.dvector("x")
    y = Scale(3.0)(x)
    f = sn.function([x], [y, sn.grad(T.sum(y), x)], mode=mode)
    value, grad = f(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(value, [3.0, 6.0])
    np.testing.assert_array_equal(grad, [3.0, 3.0])


# --- graph walking -------------------------------------------------------------------------------


def test_toposort_puts_inputs_first():
    x, y = T.dscalars("x", "y")
    a = x + y
    b = a * x
    c = T.exp(b) - a
    order = toposort(c)
    position = {id(node): k for k, node in enumerate(order)}
    for node in order:
        for inp in node.inputs:
            if inp.owner is not None:
                assert position[id(inp.owner)] < position[id(node)]
    assert order[-1] is c.owner
    assert len(order) == 4


def test_toposort_deep_chain_does_not_recurse():
    x = T.dscalar("x")
    y = x
    for _ in range(10000):
        y = y + 1.0
    assert sys.getrecursionlimit() < 10000 * 2
    order = toposort(y)
    assert len(order) == 10000
    assert order[0].inputs[0] is x
    assert order[-1] is y.owner
    for earlier, later in itertools.pairwise(order):
        assert later.inputs[0] is earlier.outputs[0]
    assert graph_inputs(y)[0] is x


def test_deep_chain_evaluates_and_differentiates():
    x = T.dscalar("x")
    y = x
    for _ in range(2000):
        y = y * 1.0 + 1.0
    g = sn.grad(y, x)
    f = sn.function([x], [y, g], mode="python")
    value, grad = f(0.0)
    assert float(value) == 2000.0 and float(grad) == 1.0


def test_toposort_stop_and_shared_nodes():
    x = T.dscalar("x")
    a = x * 2
    b = a + a
    assert len(toposort(b)) == 2  # a's node once
    assert toposort(b, stop=[a]) == [b.owner]
    assert toposort(x) == []


def test_toposort_detects_cycles():
    x = T.dscalar("x")
    a = x + 1
    b = a * 2
    a.owner.inputs[0] = b  # never done by symnet; graphs are immutable
    try:
        with pytest.raises(ValueError, match="cycle"):
            toposort(b)
    finally:
        a.owner.inputs[0] = x


def test_graph_inputs_and_ancestors():
    x, y = T.dscalars("x", "y")
    w = sn.shared(1.0, name="w")
    out = (x + 2.0) * w + y
    inputs = graph_inputs(out)
    assert inputs[:1] == [x] and w in inputs and y in inputs
    assert sum(isinstance(v, Constant) for v in inputs) == 1
    assert out in ancestors(out) and x in ancestors(out)
    assert graph_inputs(out, stop=[x + 2.0]) != []


def test_clone_replace_leaves_the_original_untouched():
    x, y, z = T.dscalars("x", "y", "z")
    a = x + y
    a.name = "a"
    out = T.exp(a) * x
    before = sn.pp(out)
    nodes_before = toposort(out)
    (new,) = clone_replace(out, {x: z})
    assert sn.pp(out) == before == "(exp(a) * x)"
    assert toposort(out) == nodes_before
    assert nodes_before[0].inputs == [x, y]
    assert sn.pp(new) == "(exp(a) * z)"
    assert z in graph_inputs(new) and x not in graph_inputs(new)
    assert not set(map(id, toposort(new))) & set(map(id, nodes_before))
    f = sn.function([x, y], out, mode="python")
    g = sn.function([z, y], new, mode="python")
    assert float(f(1.0, 2.0)) == pytest.approx(np.exp(3.0))
    assert float(g(1.0, 2.0)) == pytest.approx(np.exp(3.0))


def test_clone_replace_intermediate_and_copy_inputs():
    x = T.dvector("x")
    a = x * 2
    out = a + 1
    (new,) = clone_replace(out, {a: T.exp(x)})
    assert sn.pp(new) == "(exp(x) + 1)"
    (same,) = clone_replace(out)
    assert graph_inputs(same)[0] is x
    (copied,) = clone_replace(out, copy_inputs=True)
    new_x = graph_inputs(copied)[0]
    assert new_x is not x and new_x.type == x.type and new_x.name == "x"


# --- pickling ------------------------------------------------------------------------------------


def test_pickle_expression_and_evaluate(mode):
    x = T.dvector("x")
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    y = T.sum(T.exp(x * w + 1.5))
    y.name = "y"
    y2 = pickle.loads(pickle.dumps(y))
    assert y2 is not y and y2.name == "y"
    assert sn.pp(y2) == sn.pp(y)
    x2, w2 = [v for v in graph_inputs(y2) if not isinstance(v, Constant)]
    assert x2.name == "x" and x2.type == x.type
    assert isinstance(w2, SharedVariable) and w2 is not w
    np.testing.assert_array_equal(w2.get_value(), [1.0, 2.0])
    value = np.array([0.0, 1.0])
    expected = np.sum(np.exp(value * [1.0, 2.0] + 1.5))
    np.testing.assert_allclose(sn.function([x2], y2, mode=mode)(value), expected)
    np.testing.assert_allclose(sn.function([x], y, mode=mode)(value), expected)


def test_pickle_keeps_shared_leaves_shared():
    x = T.dvector("x")
    a = x * 2
    b, c = pickle.loads(pickle.dumps([a + 1, a - 1]))
    assert graph_inputs(b)[0] is graph_inputs(c)[0]


def test_pickle_deep_graph():
    x = T.dscalar("x")
    y = x
    for _ in range(10000):
        y = y + 1.0
    y2 = pickle.loads(pickle.dumps(y))
    assert len(toposort(y2)) == 10000
    f = sn.function([graph_inputs(y2)[0]], y2, mode="python", rewrite=False)
    assert float(f(1.0)) == 10001.0


def test_pickle_apply_node():
    x = T.dvector("x")
    node = (x + 1).owner
    node2 = pickle.loads(pickle.dumps(node))
    assert node2.op == node.op and node2.outputs[0].owner is node2


def test_deepcopy_and_copy_of_graph():
    x = T.dvector("x")
    y = T.exp(x) + 1
    deep = copy.deepcopy(y)
    assert graph_inputs(deep)[0] is not x and sn.pp(deep) == "(exp(x) + 1)"
    shallow = copy.copy(y)
    assert graph_inputs(shallow)[0] is x and shallow is not y


def test_pickled_graph_gets_fresh_ids():
    x = T.dvector("x")
    y = x + 1
    y2 = pickle.loads(pickle.dumps(y))
    assert y2.id != y.id
