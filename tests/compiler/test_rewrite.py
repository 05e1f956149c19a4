"""Tests for symnet/compiler/rewrite: the passes canonicalize, constant_fold, cse, stabilize and
specialize, and the engine that runs them (symnet/compiler/rewrite/passes.py).

Every rewrite has a row in ROWS: the graph it matches, the pass it belongs to, and what the
rewritten graph must (not) contain. Each row is checked for structure (printing both graphs
on failure) and for values: the rewritten function against the graph as built, on random
inputs, on both backends.
"""

import functools
import itertools
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.compiler.fgraph import FunctionGraph
from symnet.compiler.rewrite import rewrite_graph
from symnet.compiler.rewrite.passes import (
    LOCAL_REWRITES,
    RewriteLoopError,
    local_rewrite,
    rewrite_fgraph,
)
from symnet.compiler.rewrite.utils import MAX_CONSTANT_SIZE
from symnet.graph import Apply, Constant, Op, TensorType, toposort
from symnet.ops import elemwise as ew
from symnet.ops.control import IfElse, Scan
from symnet.ops.elemwise import Elemwise
from symnet.ops.reduction import Sum
from symnet.ops.shape import Alloc, DimShuffle, ShapeI, SumToShape

# --- helpers -----------------------------------------------------------------------------------


def op_name(op) -> str:
    """Elementwise ops by rule name (``add``), other ops by class name (``Sum``)."""
    if isinstance(op, Elemwise):
        return op.rule.name
    return type(op).__name__


def op_names(outputs) -> Counter:
    return Counter(op_name(node.op) for node in toposort(outputs))


def graphs(before, after) -> str:
    """Both graphs, for failure messages."""
    return ("before:\n" + sn.debugprint(before, file=_Sink()) + "\nafter:\n"
            + sn.debugprint(after, file=_Sink()))


class _Sink:
    """A file that swallows debugprint's own printing (the text is returned anyway)."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def symbols():
    """The symbolic inputs every row may use."""
    return SimpleNamespace(
        x=T.dvector("x"), y=T.dvector("y"), m=T.dmatrix("m"), k=T.lvector("k"),
        t=T.dmatrix("t"), xs=T.tensor("float64", shape=(3,), name="xs"),
        m34=T.tensor("float64", shape=(3, 4), name="m34"),
        t34=T.tensor("float64", shape=(3, 4), name="t34"),
    )


def values(rng):
    """Random values for :func:`symbols`: x, y in (0.1, 0.9) so that logs and roots of x,
    1 - x and y are defined; labels in range; one-hot targets."""
    labels = rng.integers(0, 4, size=3)
    return {
        "x": rng.uniform(0.1, 0.9, size=4), "y": rng.uniform(0.1, 0.9, size=4),
        "m": rng.uniform(-1, 1, size=(3, 4)), "k": labels, "t": np.eye(4)[labels],
        "xs": rng.uniform(0.1, 0.9, size=3), "m34": rng.uniform(-1, 1, size=(3, 4)),
        "t34": np.eye(4)[rng.integers(0, 4, size=3)],
    }


@dataclass
class Row:
    """One rewrite case: ``build(s)`` makes the graph; after rewriting with ``passes`` it must
    contain the ops in ``has``, none in ``lacks``, and satisfy ``check`` (if given)."""

    name: str
    passes: tuple
    build: object
    has: tuple = ()
    lacks: tuple = ()
    check: object = None


def _grad(cost, wrt):
    return sn.grad(cost, wrt)


def _is_constant_first(value):
    def check(out):
        first = out.owner.inputs[0]
        return isinstance(first, Constant) and np.all(first.data == value)

    return check


def _is_input(name):
    def check(out):
        return out.owner is None and out.name == name

    return check


def _prints(text):
    """The rewritten graph prints as ``text``."""

    def check(out):
        return sn.pp(out) == text

    return check


def _hand_written_xent(s):
    """The logistic regression loss of Theano's tutorial, on logits ``m`` and targets ``t``."""
    p = 1 / (1 + T.exp(-s.m))
    return -s.t * T.log(p) - (1 - s.t) * T.log(1 - p)


def _nodes_of(out, op_class) -> list:
    return [node for node in toposort(out) if isinstance(node.op, op_class)]


def _running_sum(s):
    """The first state of a scan keeping a running sum and a running product of the rows
    of ``m``: nothing reads the product."""
    (total, _), _ = sn.scan(lambda row, t, p: [t + row, p * row], sequences=s.m,
                            outputs_info=[s.x, s.y])
    return total


def _grad_through_unread_state(s):
    """The gradient of a loop whose state ``c`` only the next steps read: the forward scan
    keeps c's final value only, the scan the gradient reads the histories from stacks it."""

    def step(row, h, c):
        new_c = 0.5 * c + T.tanh(row + h)
        return [0.9 * T.tanh(new_c), new_c]

    (hs, _), _ = sn.scan(step, sequences=s.m, outputs_info=[s.x, s.y])
    return _grad(T.sum(hs[-1] ** 2), s.x)


def _forward_scans_stacked(out) -> list:
    return sorted(node.op.stacked for node in _nodes_of(out, Scan) if not node.op.reverse)


def _ifelse_second_output(s):
    """The second output of an ifelse of two: only y is read then."""
    outs = sn.ifelse(T.lt(s.x[0], 0.5), [s.x + s.y, T.exp(s.y)], [s.x - s.y, s.y])
    return outs[1]


CANON = ("canonicalize",)
STAB = ("stabilize",)
SPEC = ("specialize",)
ALL = ("canonicalize", "constant_fold", "cse", "stabilize", "specialize")

ROWS = [
    # canonicalize
    Row("local_sub_to_add", CANON, lambda s: s.x - s.y, has=("add", "neg"), lacks=("sub",)),
    Row("local_sub_to_add-constant", CANON, lambda s: s.x - 2.0, has=("add",),
        lacks=("sub", "neg"), check=_is_constant_first(-2.0)),
    Row("local_neg_neg", CANON, lambda s: T.neg(T.neg(s.x)), check=_is_input("x")),
    Row("local_add_canonical", CANON, lambda s: (s.x + 1.0) + (s.y + 2.0),
        has=("add", "add"), check=_is_constant_first(3.0)),
    Row("local_add_canonical-order", CANON, lambda s: s.x + (s.y + s.x * s.y), has=("add", "mul"),
        check=lambda out: out.owner.inputs[1].owner is not None),
    Row("local_add_canonical-zero", CANON, lambda s: s.x + 0.0, check=_is_input("x")),
    Row("local_add_canonical-zero-broadcasts", CANON, lambda s: s.x + T.constant(np.zeros(4)),
        has=("add",), check=lambda out: out.type.shape == (4,)),
    Row("local_mul_canonical", CANON, lambda s: 2.0 * (s.x * 3.0), has=("mul",),
        check=_is_constant_first(6.0)),
    Row("local_mul_canonical-one", CANON, lambda s: s.x * 1.0, check=_is_input("x")),
    Row("local_mul_canonical-neg", CANON, lambda s: s.x * -s.y, has=("neg", "mul"),
        check=lambda out: op_name(out.owner.op) == "neg"),
    Row("local_mul_canonical-minus-one", CANON, lambda s: -1.0 * s.x, has=("neg",),
        lacks=("mul",)),
    Row("local_pow_one", CANON, lambda s: s.x ** 1.0, check=_is_input("x")),
    Row("local_dimshuffle_identity", CANON, lambda s: DimShuffle((0, 1))(s.m),
        check=_is_input("m")),
    Row("local_dimshuffle_dimshuffle", CANON, lambda s: s.m.T.T, check=_is_input("m")),
    Row("local_dimshuffle_dimshuffle-compose", CANON,
        lambda s: s.m.dimshuffle(1, 0, "x").dimshuffle(1, 0, 2), has=("DimShuffle",),
        check=lambda out: out.owner.op.new_order == (0, 1, "x")),
    Row("local_dimshuffle_drop_kept_axes", CANON,
        lambda s: DimShuffle((1,))(T.sum(s.m, axis=0, keepdims=True)), has=("Sum",),
        lacks=("DimShuffle",), check=lambda out: not out.owner.op.keepdims),
    Row("local_reshape_same_shape", CANON, lambda s: T.reshape(s.xs, (3,)), check=_is_input("xs")),
    Row("local_reshape_same_shape-vector", CANON, lambda s: T.reshape(s.m, T.shape(s.m)),
        check=_is_input("m")),
    Row("local_shape_constant", CANON, lambda s: T.shape(s.xs) + s.k, has=("add",),
        lacks=("Shape",)),
    Row("local_shape_i_constant", CANON, lambda s: ShapeI(0)(s.xs) + s.k, has=("add",),
        lacks=("ShapeI",)),
    Row("local_shape_of_input", CANON, lambda s: T.shape(T.exp(s.m)), has=("Shape",),
        lacks=("exp",)),
    Row("local_shape_i_of_input", CANON, lambda s: ShapeI(1)(T.exp(s.m)), has=("ShapeI",),
        lacks=("exp",)),
    Row("local_useless_sum_to_shape", CANON, lambda s: SumToShape()(T.exp(s.m), T.shape(s.m)),
        has=("exp",), lacks=("SumToShape",)),
    Row("local_useless_sum_to_shape-dot", CANON,
        lambda s: _grad(T.sum(T.dot(s.m, s.t.T)), s.t), has=("Dot",), lacks=("SumToShape",)),
    Row("local_useless_alloc", CANON, lambda s: Alloc()(T.exp(s.m), T.shape(s.m)), has=("exp",),
        lacks=("Alloc",)),
    Row("local_elemwise_alloc", CANON, lambda s: Alloc()(2.0, T.shape(s.m)) * s.m, has=("mul",),
        lacks=("Alloc", "Shape")),
    Row("local_sum_no_axis", CANON, lambda s: Sum((), False)(s.x), check=_is_input("x")),
    # canonicalize: the logistic function written by hand
    Row("local_inv_1_plus_exp", CANON, lambda s: 1 / (1 + T.exp(-s.x)),
        check=_prints("sigmoid(x)")),
    Row("local_inv_1_plus_exp-constant-last", CANON, lambda s: 1 / (T.exp(-s.x) + 1),
        check=_prints("sigmoid(x)")),
    Row("local_inv_1_plus_exp-scaled", CANON, lambda s: s.y / (1 + T.exp(s.x)),
        check=_prints("(y * sigmoid(-x))")),
    Row("local_inv_1_plus_exp-power", CANON, lambda s: (1 + T.exp(-s.m)) ** -1,
        check=_prints("sigmoid(m)")),
    Row("local_inv_1_plus_exp-squared", CANON, lambda s: s.y * (1 + T.exp(-s.x)) ** -2,
        check=_prints("((y * sigmoid(x)) * sigmoid(x))")),
    Row("local_inv_1_plus_exp-negated-sum", CANON, lambda s: 1 / (1 + T.exp(-s.x - s.y)),
        check=_prints("sigmoid((x + y))")),
    Row("local_inv_1_plus_exp-negated-affine", CANON, lambda s: 1 / (1 + T.exp(-2 * s.x + 3)),
        check=_prints("sigmoid((-3 + (2 * x)))")),
    Row("local_sigmoid_times_exp", CANON, lambda s: T.exp(s.x) / (1 + T.exp(s.x)),
        check=_prints("sigmoid(x)")),
    Row("local_sigmoid_times_exp-product", CANON, lambda s: T.exp(-s.x) * T.sigmoid(s.x) * s.y,
        check=_prints("(sigmoid(-x) * y)")),
    Row("local_sigmoid_times_exp-divided", CANON, lambda s: T.sigmoid(s.x) / T.exp(s.x),
        check=_prints("sigmoid(-x)")),
    Row("local_sigmoid_times_exp-derivative", CANON,
        lambda s: T.exp(-s.x) / (1 + T.exp(-s.x)) ** 2,
        check=_prints("(sigmoid(-x) * sigmoid(x))")),
    Row("local_sigmoid_div_sigmoid", CANON, lambda s: s.x / T.sigmoid(s.x) * T.sigmoid(s.x),
        check=_is_input("x")),
    Row("local_sigmoid_div_sigmoid-one-plus-exp", CANON,
        lambda s: (1 + T.exp(-s.x)) * T.sigmoid(s.x) * s.x, check=_is_input("x")),
    Row("local_sigmoid_div_sigmoid-broadcasting", CANON,
        lambda s: s.y / T.sigmoid(s.x) * T.sigmoid(s.x), has=("true_div", "sigmoid"),
        check=lambda out: out.type.shape == (None,)),  # x may broadcast y: nothing cancels
    # canonicalize: 1 - sigmoid(x) -> sigmoid(-x) where its rounding to 0 matters
    Row("local_one_minus_sigmoid_factor", CANON, lambda s: s.y / (1 - T.sigmoid(s.x)),
        check=_prints("(y / sigmoid(-x))")),
    Row("local_one_minus_sigmoid_factor-power", CANON,
        lambda s: s.y * (1 - T.sigmoid(s.x)) ** -2,
        check=_prints("(y / (sigmoid(-x) * sigmoid(-x)))")),
    Row("local_one_minus_sigmoid_factor-exp", CANON, lambda s: (1 - T.sigmoid(s.x)) * T.exp(s.x),
        check=_prints("sigmoid(x)")),
    Row("local_one_minus_sigmoid_factor-exp-of-x", CANON,
        lambda s: (1 - T.sigmoid(s.x)) * T.exp(2 * s.x),
        check=_prints("(sigmoid(-x) * exp((2 * x)))")),
    Row("local_one_minus_sigmoid_factor-cancels", CANON,
        lambda s: (1 - T.sigmoid(s.x)) * s.x / (1 - T.sigmoid(s.x)), check=_is_input("x")),
    Row("local_one_minus_sigmoid_factor-log-sigmoid-gradient", CANON,
        lambda s: _grad(T.sum(T.log(T.sigmoid(s.x))), s.x), check=_prints("(1 * sigmoid(-x))")),
    # a plain product keeps reusing sigmoid(x): its error is an ulp of 1 at most
    Row("local_one_minus_sigmoid_factor-plain-product", CANON,
        lambda s: T.sigmoid(s.x) * (1 - T.sigmoid(s.x)) * s.y,
        check=_prints("((sigmoid(x) * (1 + -sigmoid(x))) * y)")),
    Row("local_one_minus_sigmoid_factor-unrelated-exp", CANON,
        lambda s: T.sigmoid(s.x) * (1 - T.sigmoid(s.x)) * T.exp(-abs(s.y)),
        check=_prints("((sigmoid(x) * (1 + -sigmoid(x))) * exp(-abs(y)))")),
    Row("local_one_minus_sigmoid_steep", CANON, lambda s: T.sqrt(1 - T.sigmoid(s.x)),
        check=_prints("sqrt(sigmoid(-x))")),
    Row("local_one_minus_sigmoid_steep-log10", CANON, lambda s: T.log10(1 - T.sigmoid(s.x)),
        check=_prints("log10(sigmoid(-x))")),
    Row("local_one_minus_sigmoid_steep-root", CANON, lambda s: (1 - T.sigmoid(s.x)) ** 0.25,
        check=_prints("(sigmoid(-x) ** 0.25)")),
    Row("local_one_minus_sigmoid_steep-square", CANON, lambda s: (1 - T.sigmoid(s.x)) ** 2,
        check=_prints("((1 + -sigmoid(x)) ** 2)")),
    # canonicalize: scan and ifelse (tests/ops/test_control.py tests them further)
    Row("local_scan_unused_outputs", CANON, _running_sum, has=("Scan",),
        check=lambda out: [n.op.n_states for n in _nodes_of(out, Scan)] == [1]),
    Row("local_scan_merge_stacking", CANON, _grad_through_unread_state, has=("Scan", "Scan"),
        check=lambda out: _forward_scans_stacked(out) == [(True, True)]),
    Row("local_ifelse_unused_outputs", CANON, _ifelse_second_output, has=("IfElse",),
        check=lambda out: [(len(n.outputs), len(n.inputs)) for n in _nodes_of(out, IfElse)]
        == [(1, 2)]),
    # constant_fold
    Row("local_constant_fold", ("constant_fold",), lambda s: T.exp(T.constant(1.0)) * s.x,
        has=("mul",), lacks=("exp",)),
    # stabilize
    Row("local_log1p", STAB, lambda s: T.log(1 + s.x), has=("log1p",), lacks=("log", "add")),
    Row("local_log1p-right", STAB, lambda s: T.log(s.x + 1), has=("log1p",), lacks=("log",)),
    Row("local_log1p-sub", STAB, lambda s: T.log(1 - s.x), has=("log1p", "neg"), lacks=("log",)),
    Row("local_log1p-canonical", ALL, lambda s: T.log(1 + s.x + s.y), has=("log1p",),
        lacks=("log",)),
    Row("local_expm1", STAB, lambda s: T.exp(s.x) - 1, has=("expm1",), lacks=("exp", "sub")),
    Row("local_expm1-canonical", ALL, lambda s: T.exp(s.x) - 1, has=("expm1",), lacks=("exp",)),
    Row("local_log_sigmoid", STAB, lambda s: T.log(T.sigmoid(s.m)), has=("softplus",),
        lacks=("log", "sigmoid")),
    Row("local_log1m_sigmoid", STAB, lambda s: T.log(1 - T.sigmoid(s.m)), has=("softplus",),
        lacks=("log", "log1p", "sigmoid")),
    Row("local_log_sigmoid-one-minus", ALL, lambda s: T.log(1 - T.sigmoid(s.x)),
        check=_prints("-softplus(x)")),
    Row("local_log_sigmoid-hand-written", ALL, lambda s: T.log(1 / (1 + T.exp(-s.x))),
        check=_prints("-softplus(-x)")),
    Row("local_log_sigmoid-one-minus-hand-written", ALL,
        lambda s: T.log(1 - 1 / (1 + T.exp(-s.x))), check=_prints("-softplus(x)")),
    Row("local_log_sigmoid-hand-written-gradient", ALL,
        lambda s: _grad(T.sum(T.log(1 - 1 / (1 + T.exp(-s.x)))), s.x), has=("sigmoid",),
        lacks=("exp", "true_div", "log", "pow")),
    Row("local_log_sigmoid-tutorial-loss", ALL, lambda s: _hand_written_xent(s).sum(),
        has=("softplus", "softplus"), lacks=("exp", "true_div", "log", "sigmoid")),
    Row("local_mul_distribute_div-tutorial-gradient", ALL,
        lambda s: _grad(_hand_written_xent(s).sum(), s.m), has=("sigmoid",),
        lacks=("exp", "true_div", "log", "pow")),
    Row("local_log1p_neg_sigmoid", STAB, lambda s: T.log1p(-T.sigmoid(s.m)), has=("softplus",),
        lacks=("log1p", "sigmoid")),
    # 1 - sigmoid(x) -> sigmoid(-x) where that costs no second sigmoid (these rows were
    # canonicalize rows while that pass rewrote every 1 - sigmoid(x))
    Row("local_one_minus_sigmoid", ALL, lambda s: 1 - T.sigmoid(s.x),
        check=_prints("sigmoid(-x)")),
    Row("local_one_minus_sigmoid-added", ALL, lambda s: -T.sigmoid(s.m) + 1,
        check=_prints("sigmoid(-m)")),
    Row("local_one_minus_sigmoid-hand-written", ALL, lambda s: 1 - 1 / (1 + T.exp(-s.x)),
        check=_prints("sigmoid(-x)")),
    Row("local_one_minus_sigmoid-lone", ALL, lambda s: s.y * (1 - T.sigmoid(s.x)),
        check=_prints("(y * sigmoid(-x))")),
    Row("local_one_minus_sigmoid-computed-anyway", ALL,
        lambda s: T.sigmoid(s.x) * (1 - T.sigmoid(s.x)) + T.sigmoid(-s.x),
        check=_prints("((sigmoid(x) * sigmoid(-x)) + sigmoid(-x))")),
    Row("local_one_minus_sigmoid-shared", ALL, lambda s: T.sigmoid(s.x) * (1 - T.sigmoid(s.x)),
        check=_prints("(sigmoid(x) * (1 + -sigmoid(x)))")),
    Row("local_log_sigmoid-binary-crossentropy", ALL,
        lambda s: T.nnet.binary_crossentropy(T.sigmoid(s.m), s.t).sum(), has=("softplus",),
        lacks=("log", "log1p", "sigmoid")),
    Row("local_log_softmax", STAB, lambda s: T.log(T.nnet.softmax(s.m)), has=("LogSoftmax",),
        lacks=("log", "Softmax")),
    Row("local_logsumexp", STAB, lambda s: T.log(T.sum(T.exp(s.m), axis=1)),
        has=("LogSumExp",), lacks=("log", "exp", "Sum")),
    Row("local_logsumexp_grad", ALL,
        lambda s: _grad(T.log(T.sum(T.exp(s.m), axis=1)).sum(), s.m), has=("LogSumExp",),
        lacks=("true_div",)),
    Row("local_sparse_crossentropy_softmax", STAB,
        lambda s: T.nnet.categorical_crossentropy(T.nnet.softmax(s.m), s.k),
        has=("SparseCrossentropySoftmaxWithLogits",),
        lacks=("CrossentropyCategorical1Hot", "Softmax")),
    Row("local_crossentropy_softmax", STAB,
        lambda s: T.nnet.categorical_crossentropy(T.nnet.softmax(s.m34), s.t34),
        has=("CrossentropySoftmaxWithLogits",), lacks=("Softmax", "log")),
    Row("local_crossentropy_softmax_negated", ALL,
        lambda s: T.nnet.categorical_crossentropy(T.nnet.softmax(s.m34), s.t34) * 0.5,
        has=("CrossentropySoftmaxWithLogits",), lacks=("Softmax", "log", "LogSoftmax")),
    Row("local_crossentropy_softmax-broadcastable-targets", ALL,
        lambda s: T.nnet.categorical_crossentropy(T.nnet.softmax(s.m), s.t),
        has=("LogSoftmax",), lacks=("Softmax", "log")),
    Row("local_mul_div_cancel", STAB, lambda s: (s.xs / T.exp(s.xs)) * T.exp(s.xs),
        check=_is_input("xs")),
    Row("local_mul_distribute_div", ALL,
        lambda s: (s.xs / T.exp(s.xs) - T.sin(s.xs)) * T.exp(s.xs), has=("sin", "exp"),
        lacks=("true_div",)),
    Row("local_softmax_grad_expand", ALL,
        lambda s: _grad(T.nnet.categorical_crossentropy(T.nnet.softmax(s.m), s.t).sum(), s.m),
        lacks=("true_div", "log")),
    Row("local_scatter_div_gather", ALL,
        lambda s: _grad(T.nnet.categorical_crossentropy(T.nnet.softmax(s.m), s.k).sum(), s.m),
        has=("ScatterLabels",), lacks=("true_div", "GatherLabels")),
    # specialize
    Row("local_pow_sqr", SPEC, lambda s: s.x ** 2, has=("sqr",), lacks=("pow",)),
    Row("local_pow_sqrt", SPEC, lambda s: s.x ** 0.5, has=("sqrt",), lacks=("pow",)),
    Row("local_pow_reciprocal", SPEC, lambda s: s.x ** -1, has=("true_div",), lacks=("pow",)),
    Row("local_sum_mul_to_dot", SPEC, lambda s: T.sum(s.x * s.x), has=("Dot",),
        lacks=("mul", "Sum")),
]


def _check_structure(row: Row):
    s = symbols()
    out = row.build(s)
    result = rewrite_graph(out, passes=row.passes)
    names = op_names(result)
    message = f"{row.name}: rewritten ops {dict(names)}\n{graphs(out, result)}"
    for name, count in Counter(row.has).items():
        assert names[name] >= count, message
    for name in row.lacks:
        assert names[name] == 0, message
    if row.check is not None:
        assert row.check(result), message
    assert result.dtype == out.dtype and result.ndim == out.ndim, message


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_rewrite_structure(row):
    _check_structure(row)


def _inputs_of(out, s):
    from symnet.graph import graph_inputs

    ids = {id(v) for v in graph_inputs(out)}
    return [v for v in vars(s).values() if id(v) in ids]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_rewrite_values_python(row, rng):
    s = symbols()
    out = row.build(s)
    inputs = _inputs_of(out, s)
    data = values(rng)
    args = [data[v.name] for v in inputs]
    expected = sn.function(inputs, out, mode="python", rewrite=False)(*args)
    got = sn.function(inputs, out, mode="python")(*args)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, err_msg=row.name)
    assert np.asarray(got).dtype == np.asarray(expected).dtype


@pytest.mark.slow  # one kernel with every row: ~50 s to compile on a cold cache
def test_rewrite_values_numba(rng):
    """Every row in one numba function (one compile), against the graph as built."""
    s = symbols()
    outs = [row.build(s) for row in ROWS]
    inputs = list(vars(s).values())
    data = values(rng)
    args = [data[v.name] for v in inputs]
    expected = sn.function(inputs, outs, mode="python", rewrite=False,
                           on_unused_input="ignore")(*args)
    got = sn.function(inputs, outs, mode="numba", on_unused_input="ignore")(*args)
    for row, g, e in zip(ROWS, got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14, err_msg=row.name)
        assert np.asarray(g).dtype == np.asarray(e).dtype, row.name


def test_every_registered_rewrite_has_a_row():
    tested = {row.name.split("-")[0] for row in ROWS}
    own = ("canonicalize", "constant_fold", "stabilize", "specialize")
    # (rewrites that tests register themselves are not rows)
    registered = {r.__name__ for name in own for r in LOCAL_REWRITES[name]
                  if r.__module__.startswith("symnet.compiler.rewrite")}
    assert registered <= tested, sorted(registered - tested)
    for name in own:
        for rewrite in LOCAL_REWRITES[name]:
            summary = (rewrite.__doc__ or "").split("\n")[0]
            assert rewrite.__name__.startswith("local_") and "->" in summary, rewrite.__name__


# --- canonicalize details ------------------------------------------------------------------------


def test_canonicalize_keeps_broadcasting_neutral_operand(rng):
    x = T.dvector("x")
    out = x + T.constant(np.zeros(3))
    f = sn.function([x], out, mode="python")
    np.testing.assert_array_equal(f(np.array([2.0])), [2.0, 2.0, 2.0])


def test_gradient_keeps_sum_to_shape_where_broadcasting_is_possible():
    m, b = T.dmatrix("m"), T.dvector("b")
    cost = T.sum(T.exp(m + b))
    grads = sn.grad(cost, [m, b])
    assert op_names(rewrite_graph(grads))["SumToShape"] >= 1
    f = sn.function([m, b], grads, mode="python")
    m_value, b_value = np.zeros((3, 4)), np.zeros(1)  # b broadcasts along the rows
    gm, gb = f(m_value, b_value)
    np.testing.assert_allclose(gb, [12.0])
    np.testing.assert_allclose(gm, np.ones((3, 4)))


def test_canonicalize_leaves_mixed_dtypes_grouped():
    i, j = T.ivectors("i", "j")
    x = T.dvector("x")
    out = x + (i + j)
    result = rewrite_graph(out, passes=CANON)
    # i + j stays an int32 sum: regrouping would change where values become float64
    inner = [n for n in toposort(result) if n.outputs[0].dtype == "int32"]
    assert len(inner) == 1, graphs(out, result)
    f = sn.function([x, i, j], out, mode="python")
    big = np.array([2**31 - 1], dtype="int32")
    f0 = sn.function([x, i, j], out, mode="python", rewrite=False)
    np.testing.assert_array_equal(f([0.0], big, big), f0([0.0], big, big))


def test_canonicalize_reaches_a_fixed_point_quickly():
    x = T.dvector("x")
    out = x
    for k in range(50):
        out = (out - k) * 2.0 + x
    fgraph = FunctionGraph([x], [out])
    report = rewrite_fgraph(fgraph, passes=CANON)
    assert len(fgraph.nodes) <= len(toposort(out))
    again = rewrite_fgraph(fgraph, passes=CANON)
    assert sum(again.passes[0].fired.values()) == 0, again.format()
    assert report.passes[0].fired


def test_constant_fold_limits():
    big = Alloc()(T.constant(1.0), T.constant(np.array([1001, 1000])))
    result = rewrite_graph(big, passes=("constant_fold",))
    assert isinstance(result.owner.op, Alloc)
    small = Alloc()(T.constant(1.0), T.constant(np.array([10, 10])))
    folded = rewrite_graph(small, passes=("constant_fold",))
    assert isinstance(folded, Constant) and folded.data.shape == (10, 10)
    assert MAX_CONSTANT_SIZE == 1_000_000


@dataclass(frozen=True)
class _Draw(Op):
    """A test op with a random result (marked nondeterministic)."""

    nondeterministic = True

    def make_node(self, x):
        return Apply(self, [x], [TensorType("float64", x.type.shape)()])

    def perform(self, inputs):
        return [np.random.default_rng().uniform(size=inputs[0].shape)]


def test_nondeterministic_ops_are_neither_folded_nor_merged():
    c = T.constant(np.zeros(3))
    a, b = _Draw()(c), _Draw()(c)
    result = rewrite_graph([a + b], passes=("constant_fold", "cse"))
    assert op_names(result)["_Draw"] == 2


def test_constant_fold_leaves_failing_nodes_for_run_time():
    out = SumToShape()(T.constant(np.ones((3, 4))), T.constant(np.array([5, 4])))
    result = rewrite_graph(out, passes=("constant_fold",))
    assert not isinstance(result, Constant)
    with pytest.raises(ValueError, match="sum_to_shape"):
        sn.function([], out, mode="python")()


# --- cse ---------------------------------------------------------------------------------------


def test_cse_merges_equal_nodes_and_constants():
    x = T.dvector("x")
    a = T.exp(x) + T.constant(np.array([2.0]))
    b = T.exp(x) + T.constant(np.array([2.0]))
    c = T.exp(x) + T.constant(np.array([2.0], dtype="float32"))
    result = rewrite_graph([a, b, c], passes=("cse",))
    assert result[0] is result[1]
    assert result[2] is not result[0]  # a float32 constant is a different constant
    assert op_names(result) == Counter({"exp": 1, "add": 2})


def test_cse_can_be_switched_off():
    x = T.dvector("x")
    outs = [T.exp(x), T.exp(x)]
    for name in ("cse", "cse_pass", "cse_nodes"):
        result = rewrite_graph(outs, passes=("cse",), exclude=[name])
        assert result[0] is not result[1], name


def test_cse_on_a_10000_node_chain():
    x = T.dvector("x")
    chains = []
    for _ in range(2):
        out = x
        for k in range(5000):
            out = T.exp(out) if k % 2 else T.sin(out)
        chains.append(out)
    fgraph = FunctionGraph([x], chains)
    assert len(fgraph.nodes) == 10000
    report = rewrite_fgraph(fgraph, passes=("cse",))
    print(report.format())
    assert len(fgraph.nodes) == 5000
    assert fgraph.outputs[0] is fgraph.outputs[1]


# --- the engine --------------------------------------------------------------------------------


def test_exclude_switches_a_rewrite_off():
    x = T.dvector("x")
    out = T.log(1 + x)
    assert op_names(rewrite_graph(out, exclude=["local_log1p"]))["log"] == 1
    f = sn.function([x], out, mode="python", exclude=["local_log1p"])
    assert "local_log1p" not in f.explain(print_=False)
    assert op_names(f.fgraph.outputs)["log"] == 1
    g = sn.function([x], out, mode="python")
    assert op_names(g.fgraph.outputs) == Counter({"log1p": 1})
    assert "local_log1p x1" in g.explain(print_=False)


def test_rewrites_keep_names():
    x = T.dvector("x")
    out = T.log(1 + x)
    out.name = "loss"
    result = rewrite_graph(out, passes=STAB)
    assert result.name == "loss"


@pytest.fixture
def temporary_rewrites(monkeypatch):
    """Register rewrites for one test only: they go into copies of the pass lists."""
    for name in list(LOCAL_REWRITES):
        monkeypatch.setitem(LOCAL_REWRITES, name, list(LOCAL_REWRITES[name]))
    return local_rewrite


def test_rewrites_undoing_each_other_raise(temporary_rewrites):
    @temporary_rewrites("specialize", tracks=[ew.mul])
    def local_test_double_to_add(fgraph, node):
        """x * 2 -> x + x"""
        x, two = node.inputs
        if isinstance(two, Constant) and np.all(two.data == 2):
            return [x + x]
        return None

    @temporary_rewrites("specialize", tracks=[ew.add])
    def local_test_add_to_double(fgraph, node):
        """x + x -> x * 2"""
        a, b = node.inputs
        if a is b:
            return [ew.mul(a, T.constant(np.array([2.0])))]
        return None

    x = T.dvector("x")
    with pytest.raises(RewriteLoopError, match="local_test_double_to_add"):
        rewrite_graph(x * T.constant(np.array([2.0])), passes=SPEC)


def test_temporary_rewrites_are_gone_afterwards():
    names = {r.__name__ for r in LOCAL_REWRITES["specialize"]}
    assert "local_test_double_to_add" not in names


def test_a_rewrite_changing_the_type_is_an_error(temporary_rewrites):
    @temporary_rewrites("specialize", tracks=[ew.exp])
    def local_test_bad(fgraph, node):
        """exp(x) -> cast(x) (wrong)"""
        return [T.cast(node.inputs[0], "float32")]

    x = T.dvector("x")
    with pytest.raises(TypeError, match="local_test_bad"):
        rewrite_graph(T.exp(x), passes=SPEC)


def test_replacements_merge_with_existing_nodes():
    x = T.dvector("x")
    # log1p(x) exists already: the rewrite of log(1 + x) must reuse it
    out = T.log1p(x) * T.log(1 + x)
    result = rewrite_graph(out, passes=("cse", "stabilize"))
    assert op_names(result) == Counter({"log1p": 1, "mul": 1}), graphs(out, result)


# --- stability ---------------------------------------------------------------------------------


def test_log_sigmoid_of_large_negative_input(mode):
    x = T.dscalar("x")
    out = T.log(T.sigmoid(x))
    f = sn.function([x], [out, sn.grad(out, x)], mode=mode)
    value, grad = f(-1000.0)
    assert value == -1000.0
    assert grad == 1.0
    value, grad = f(1000.0)
    assert value == 0.0 and grad == 0.0
    raw = sn.function([x], out, mode="python", rewrite=False)
    with np.errstate(divide="ignore"):
        assert raw(-1000.0) == -np.inf


def _logits():
    return np.array([[1e4, 0.0, -1e4], [0.0, 1.0, 2.0], [-1e4, 1e4, 0.0]])


def test_sparse_crossentropy_on_large_logits(mode):
    x, k = T.dmatrix("x"), T.lvector("k")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), k).sum()
    f = sn.function([x, k], [cost, sn.grad(cost, x)], mode=mode)
    labels = np.array([1, 2, 0])
    value, grad = f(_logits(), labels)
    ref = T.nnet.softmax_cross_entropy_with_logits(x, k).sum()
    ref_f = sn.function([x, k], [ref, sn.grad(ref, x)], mode="python")
    ref_value, ref_grad = ref_f(_logits(), labels)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-12)


def test_dense_crossentropy_on_large_logits(mode):
    x, t = T.dmatrix("x"), T.dmatrix("t")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), t).sum()
    f = sn.function([x, t], [cost, sn.grad(cost, x)], mode=mode)
    targets = np.eye(3)[[1, 2, 0]]
    value, grad = f(_logits(), targets)
    ref = T.nnet.softmax_cross_entropy_with_logits(x, t).sum()
    ref_value, ref_grad = sn.function([x, t], [ref, sn.grad(ref, x)], mode="python")(
        _logits(), targets)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-12)


def test_binary_crossentropy_on_large_logits(mode):
    x, t = T.dvectors("x", "t")
    cost = T.nnet.binary_crossentropy(T.sigmoid(x), t).sum()
    f = sn.function([x, t], [cost, sn.grad(cost, x)], mode=mode)
    logits, targets = np.array([1e4, -1e4, 1e4, 0.5]), np.array([0.0, 1.0, 1.0, 0.3])
    value, grad = f(logits, targets)
    ref = T.nnet.sigmoid_binary_crossentropy_with_logits(x, t).sum()
    ref_value, ref_grad = sn.function([x, t], [ref, sn.grad(ref, x)], mode="python")(
        logits, targets)
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-12)


def test_log_sum_exp_of_large_inputs(mode):
    m = T.dmatrix("m")
    cost = T.log(T.sum(T.exp(m), axis=1)).sum()
    f = sn.function([m], [cost, sn.grad(cost, m)], mode=mode)
    value, grad = f(np.array([[1000.0, 1000.0], [0.0, -1000.0]]))
    np.testing.assert_allclose(value, 1000.0 + np.log(2.0))
    np.testing.assert_allclose(grad, [[0.5, 0.5], [1.0, 0.0]])


# --- gradient size -----------------------------------------------------------------------------


def _mlp(static: bool):
    rng = np.random.default_rng(0)
    x, labels = T.dmatrix("x"), T.lvector("labels")
    sizes = [784, 256, 256, 10]
    params, h = [], x
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        w = sn.shared(rng.normal(0, 0.05, (n_in, n_out)), name=f"W{i}",
                      shape=(n_in, n_out) if static else None)
        b = sn.shared(np.zeros(n_out), name=f"b{i}", shape=(n_out,) if static else None)
        params += [w, b]
        h = T.dot(h, w) + b
        if i < len(sizes) - 2:
            h = T.relu(h)
    cost = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(h), labels))
    return x, labels, params, cost


@pytest.mark.parametrize("static", [True, False], ids=["static-weights", "free-weights"])
def test_mlp_gradient_node_count(static):
    x, labels, params, cost = _mlp(static)
    forward = sn.function([x, labels], cost, mode="numba")
    backward = sn.function([x, labels], sn.grad(cost, params), mode="numba")
    n_forward, n_backward = len(forward.fgraph.nodes), len(backward.fgraph.nodes)
    print(f"MLP 784-256-256-10 ({'static' if static else 'free'} weight shapes): forward "
          f"{n_forward} nodes, gradient {n_backward} nodes ({n_backward / n_forward:.2f}x)")
    # Free weight shapes may broadcast at run time (NumPy semantics), so their gradient
    # keeps the sum_to_shape nodes that undo it; known shapes make those provably useless.
    assert n_backward <= (3 if static else 4.5) * n_forward
    # values: the rewritten gradient (python backend; the numba kernel compiles lazily and
    # is exercised by the backend's own tests) against the graph as built
    rng = np.random.default_rng(1)
    data = rng.normal(size=(5, 784))
    y = rng.integers(0, 10, size=5)
    grads = sn.grad(cost, params)
    got = sn.function([x, labels], grads, mode="python")(data, y)
    expected = sn.function([x, labels], grads, mode="python", rewrite=False)(data, y)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_sum_mul_to_dot_keeps_runtime_broadcasting():
    """Vectors of unknown length may broadcast at run time: no dot then (regression)."""
    x, y = T.dvectors("x", "y")
    f = sn.function([x, y], T.sum(x * y))
    assert float(f(np.ones(1), np.arange(3.0))) == 3.0
    fixed = T.tensor("float64", shape=(3,), name="a")
    g = sn.function([fixed], T.sum(fixed * fixed))
    assert any(type(n.op).__name__ == "Dot" for n in g.fgraph.toposort())
    assert float(g(np.arange(3.0))) == 5.0


# --- the logistic function written by hand ----------------------------------------------------


def _sigmoid_np(x):
    """The logistic function without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus_np(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _dsigmoid_np(x):
    return _sigmoid_np(x) * _sigmoid_np(-x)


def _exp_np(x):
    with np.errstate(over="ignore"):
        return np.exp(x)  # inf beyond 709, as in the compiled graph


@dataclass
class Form:
    """A way of writing a logistic expression: ``build(x)``, its values and derivative in
    NumPy, and the absolute error the derivative may have (beside a relative 1e-12)."""

    build: object
    value: object
    derivative: object
    atol: float = 0.0


LOGISTIC_FORMS = {
    "inv_1_plus_exp": Form(lambda x: 1 / (1 + T.exp(-x)), _sigmoid_np, _dsigmoid_np),
    "inv_exp_plus_1": Form(lambda x: 1 / (T.exp(-x) + 1), _sigmoid_np, _dsigmoid_np),
    "power_minus_one": Form(lambda x: (1 + T.exp(-x)) ** -1, _sigmoid_np, _dsigmoid_np),
    # the gradient is a difference, sigmoid(x) - sigmoid(x) ** 2, which loses the tiny
    # derivative (4e-18 at x = 40) once sigmoid(x) rounds to 1: right to 1e-16, not relatively
    "exp_over_1_plus_exp": Form(lambda x: T.exp(x) / (1 + T.exp(x)), _sigmoid_np, _dsigmoid_np,
                                atol=1e-16),
    "inv_1_plus_exp_positive": Form(lambda x: 1 / (1 + T.exp(x)), lambda x: _sigmoid_np(-x),
                                    lambda x: -_dsigmoid_np(x)),
    "affine": Form(lambda x: 1 / (1 + T.exp(-2 * x - 1)), lambda x: _sigmoid_np(2 * x + 1),
                   lambda x: 2 * _dsigmoid_np(2 * x + 1)),
    "one_minus_sigmoid": Form(lambda x: 1 - T.sigmoid(x), lambda x: _sigmoid_np(-x),
                              lambda x: -_dsigmoid_np(x)),
    "one_minus_hand_written": Form(lambda x: 1 - 1 / (1 + T.exp(-x)), lambda x: _sigmoid_np(-x),
                                   lambda x: -_dsigmoid_np(x)),
    "log_sigmoid": Form(lambda x: T.log(T.sigmoid(x)), lambda x: -_softplus_np(-x),
                        lambda x: _sigmoid_np(-x)),
    "log_one_minus_sigmoid": Form(lambda x: T.log(1 - T.sigmoid(x)), lambda x: -_softplus_np(x),
                                  lambda x: -_sigmoid_np(x)),
    "log_hand_written": Form(lambda x: T.log(1 / (1 + T.exp(-x))), lambda x: -_softplus_np(-x),
                             lambda x: _sigmoid_np(-x)),
    "log_one_minus_hand_written": Form(lambda x: T.log(1 - 1 / (1 + T.exp(-x))),
                                       lambda x: -_softplus_np(x), lambda x: -_sigmoid_np(x)),
    # divided by, or multiplied with exp(x), 1 - sigmoid(x) = 0 gave inf and 0 * inf = nan
    "one_over_one_minus_sigmoid": Form(lambda x: 1 / (1 - T.sigmoid(x)),
                                       lambda x: 1 + _exp_np(x), _exp_np),
    # the gradient subtracts sigmoid(x) ** 2 from sigmoid(x), as exp_over_1_plus_exp's does
    "exp_times_one_minus_sigmoid": Form(lambda x: T.exp(x) * (1 - T.sigmoid(x)), _sigmoid_np,
                                        _dsigmoid_np, atol=1e-16),
    "derivative_hand_written": Form(
        lambda x: T.exp(-x) / (1 + T.exp(-x)) ** 2, _dsigmoid_np,
        lambda x: _dsigmoid_np(x) * (_sigmoid_np(-x) - _sigmoid_np(x))),
}

#: arguments where exp(-x) or exp(x) overflows (800), or 1 - sigmoid(x) rounds to 0 (40)
LOGISTIC_ARGS = np.array([-800.0, -40.0, -3.0, -1.0, 0.0, 0.5, 1.0, 3.0, 40.0, 800.0])


def _logistic_outputs(x, form):
    out = form.build(x)
    return [out, sn.grad(T.sum(out), x)]


@functools.cache
def _logistic_kernel():
    """Every form and its gradient in one numba function (one compile for all)."""
    x = T.dvector("x")
    outs = [o for form in LOGISTIC_FORMS.values() for o in _logistic_outputs(x, form)]
    results = sn.function([x], outs, mode="numba")(LOGISTIC_ARGS)
    return dict(zip(LOGISTIC_FORMS, zip(results[::2], results[1::2])))


@pytest.mark.parametrize("name", list(LOGISTIC_FORMS))
def test_logistic_forms_at_large_arguments(name, mode):
    """Value and gradient stay finite and right where exp overflows (regression: the
    tutorial's 1 / (1 + exp(-x)) gave nan gradients)."""
    form = LOGISTIC_FORMS[name]
    if mode == "numba":
        value, grad = _logistic_kernel()[name]
    else:
        x = T.dvector("x")
        value, grad = sn.function([x], _logistic_outputs(x, form), mode=mode)(LOGISTIC_ARGS)
    np.testing.assert_allclose(value, form.value(LOGISTIC_ARGS), rtol=1e-12, atol=0, err_msg=name)
    np.testing.assert_allclose(grad, form.derivative(LOGISTIC_ARGS), rtol=1e-12, atol=form.atol,
                               err_msg=name)


def _sigmoid_gradients():
    """Gradients of plain sigmoids as training builds them: name -> (outputs, the number of
    exps the graph has besides the sigmoid's)."""
    x, y, m, xf = T.dvector("x"), T.dvector("y"), T.dmatrix("m"), T.fvector("xf")
    return {
        "sum": ([sn.grad(T.sum(T.sigmoid(x)), x)], 0),
        "mean": ([sn.grad(T.mean(T.sigmoid(m)), m)], 0),  # divided by the element count
        "weighted": ([sn.grad(T.sum(T.sigmoid(x) * y), x)], 0),
        "gated": ([sn.grad(T.sum(T.sigmoid(x) * T.exp(-abs(y))), x)], 1),  # exp of another value
        "with-forward": ([T.sigmoid(x), sn.grad(T.sum(T.sigmoid(x)), x)], 0),
        "float32": ([sn.grad(T.sum(T.sigmoid(xf)), xf)], 0),
    }


@pytest.mark.parametrize("name", list(_sigmoid_gradients()))
def test_sigmoid_gradient_keeps_one_sigmoid(name):
    """A sigmoid's gradient s * (1 - s) reuses s: one sigmoid, so one exp, per element
    (regression: 1 - s became sigmoid(-x), a second sigmoid in the loop)."""
    outputs, own_exps = _sigmoid_gradients()[name]
    result = rewrite_graph(outputs)
    names = op_names(result)
    message = f"{name}: {dict(names)}\n{graphs(outputs, result)}"
    assert names["sigmoid"] == 1, message
    assert names["exp"] == own_exps and names["softplus"] == 0, message


def test_sigmoid_gradient_loop_has_one_sigmoid(mode):
    """The compiled gradient: one sigmoid in the loop, and values right where exp overflows
    (beyond x = 37, 1 - s is 0 where s * s(-x) is tiny: an error below 2 ** -53, not nan)."""
    x = T.dvector("x")
    f = sn.function([x], sn.grad(T.sum(T.sigmoid(x)), x), mode=mode)
    if mode == "numba":
        assert f.source.count("sigmoid(") == 1 and "exp(" not in f.source, f.source
    np.testing.assert_allclose(f(LOGISTIC_ARGS), _dsigmoid_np(LOGISTIC_ARGS), rtol=1e-12,
                               atol=2.0**-53)


def test_logistic_float32_stays_float32():
    x = T.fvector("x")
    out = 1 / (1 + T.exp(-x))
    cost = T.sum(T.log(1 - out))
    assert sn.pp(rewrite_graph(out)) == "sigmoid(x)"
    args = np.array([-800, -40, 0, 40, 800], dtype="float32")
    value, grad = sn.function([x], [out, sn.grad(cost, x)], mode="python")(args)
    assert value.dtype == grad.dtype == np.float32
    np.testing.assert_allclose(value, _sigmoid_np(args.astype(float)), rtol=1e-6)
    np.testing.assert_allclose(grad, -_sigmoid_np(args.astype(float)), rtol=1e-6)


def _train_tutorial_logistic_regression(mode, steps):
    """Theano's logistic regression tutorial, as written there, for ``steps`` steps; returns
    the data, the cost before each step, every step's outputs and the final parameters."""
    rng = np.random.RandomState(0)
    n, feats = 400, 784
    data = (rng.randn(n, feats), rng.randint(size=n, low=0, high=2))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = sn.shared(rng.randn(feats), name="w")
    b = sn.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = sn.grad(cost, [w, b])
    train = sn.function([x, y], [prediction, xent], mode=mode,
                        updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = sn.function([x], prediction, mode=mode)
    costs, outputs = [], []
    for _ in range(steps):
        penalty = 0.01 * float(np.sum(w.get_value() ** 2))
        pred, err = train(*data)
        costs.append(float(err.mean()) + penalty)
        outputs.append((pred, err))
    return data, costs, outputs, (w.get_value(), float(b.get_value())), predict(data[0])


def _numpy_logistic_regression(data, steps):
    """The same training in NumPy with a stable loss and its gradient."""
    rng = np.random.RandomState(0)
    rng.randn(*data[0].shape)
    rng.randint(size=len(data[1]), low=0, high=2)
    w, b = rng.randn(data[0].shape[1]), 0.0
    x, y = data
    for _ in range(steps):
        z = x @ w + b
        g = (_sigmoid_np(z) - y) / len(y)
        w, b = w - 0.1 * (x.T @ g + 0.02 * w), b - 0.1 * g.sum()
    return w, b


@pytest.mark.parametrize("mode", ["python", pytest.param("numba", marks=pytest.mark.slow)])
def test_tutorial_logistic_regression_trains(mode):
    """The tutorial's hand-written logistic regression (seed program) learns: no nan or inf,
    the cost goes down, the training set is fitted, and the weights are NumPy's."""
    steps = 400
    data, costs, outputs, (w, b), predicted = _train_tutorial_logistic_regression(mode, steps)
    for pred, err in outputs:
        assert np.all(np.isfinite(err)) and pred.dtype == bool
    assert np.all(np.isfinite(w)) and np.isfinite(b)
    # random weights give logits of +-30 and more: 1 - p_1 rounded to 0 before the fix
    assert costs[0] > 10 and costs[-1] < costs[0] / 3
    assert all(later < earlier for earlier, later in itertools.pairwise(costs))
    assert np.mean(predicted == data[1]) == 1.0
    ref_w, ref_b = _numpy_logistic_regression(data, steps)
    np.testing.assert_allclose(w, ref_w, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b, ref_b, rtol=1e-9, atol=1e-9)
