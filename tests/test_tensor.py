"""Tests for symnet/tensor.py: constructors, constants, Variable methods and operators."""

from __future__ import annotations

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.graph import Constant, TensorType, Variable

PREFIXES = {"d": "float64", "f": "float32", "i": "int32", "l": "int64", "b": "int8"}
RANKS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}
PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "tensor3": "tensor3s",
           "tensor4": "tensor4s"}

# --- constructors ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("kind", RANKS)
def test_typed_constructors(prefix, kind):
    make = getattr(T, prefix + kind)
    var = make("v")
    assert isinstance(var, Variable) and var.owner is None
    assert var.dtype == PREFIXES[prefix]
    assert var.ndim == RANKS[kind]
    assert var.type == TensorType(PREFIXES[prefix], (None,) * RANKS[kind])
    assert var.name == "v"
    assert make().name is None


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("kind", RANKS)
def test_plural_constructors(prefix, kind):
    make = getattr(T, prefix + PLURALS[kind])
    a, b, c = make("a", "b", "c")
    assert [v.name for v in (a, b, c)] == ["a", "b", "c"]
    assert all(v.dtype == PREFIXES[prefix] and v.ndim == RANKS[kind] for v in (a, b, c))
    assert a is not b
    assert len(make(2)) == 2


@pytest.mark.parametrize("kind", RANKS)
def test_generic_constructors_default_to_float64(kind):
    var = getattr(T, kind)("v")
    assert var.dtype == "float64" and var.ndim == RANKS[kind] and var.name == "v"
    assert getattr(T, kind)("w", dtype="int16").dtype == "int16"


def test_generic_plurals():
    x, y = T.scalars("x", "y")
    assert x.ndim == 0 and y.name == "y"
    (v,) = T.vectors("v")
    assert v.ndim == 1
    a, b = T.matrices("a", "b", dtype="float32")
    assert a.dtype == "float32" and b.ndim == 2


def test_theano_names_exist():
    x, y, w = T.dscalars("x", "y", "w")
    assert (x.name, y.name, w.name) == ("x", "y", "w")
    a, b = T.dmatrices("a", "b")
    assert a.ndim == b.ndim == 2
    assert T.fmatrix().dtype == "float32" and T.ivector().dtype == "int32"
    assert T.lscalar().dtype == "int64" and T.btensor3().dtype == "int8"


def test_tensor_constructor():
    x = T.tensor("float32", shape=(None, 3), name="x")
    assert x.type == TensorType("float32", (None, 3)) and x.name == "x"
    assert T.tensor("int64").type.shape == (None, None)  # Theano's default: a matrix
    assert T.tensor("float64", shape=()).ndim == 0
    assert T.tensor("float64", shape=3).type.shape == (None, None, None)
    assert T.tensor(np.float32, shape=(2,)).dtype == "float32"
    with pytest.raises(TypeError, match="unsupported dtype"):
        T.tensor("complex64", shape=(None,))


def test_config_float_x_sets_the_default_float():
    with sn.config.override(float_x="float32"):
        assert T.scalar().dtype == "float32" and T.matrix().dtype == "float32"
        assert T.dvector().dtype == "float64"
    assert T.scalar().dtype == "float64"


# --- constants and as_tensor -------------------------------------------------------------------


@pytest.mark.parametrize("value, dtype, ndim", [(1.5, "float64", 0), (3, "int64", 0), (True, "bool", 0),
                                                ([1, 2], "int64", 1), ([[1.0]], "float64", 2),
                                                (np.float32(1), "float32", 0),
                                                (np.zeros((2, 3), "int8"), "int8", 2)])
def test_constant(value, dtype, ndim):
    c = T.constant(value, name="c")
    assert isinstance(c, Constant) and c.name == "c"
    assert c.dtype == dtype and c.ndim == ndim
    assert c.type.shape == np.shape(value)  # constants know their shape statically
    np.testing.assert_array_equal(c.data, value)


def test_constant_dtype_argument_and_errors():
    assert T.constant(1, dtype="float32").dtype == "float32"
    with pytest.raises(TypeError, match="symbolic variable"):
        T.constant(T.dscalar("x"))
    with pytest.raises(TypeError, match="unsupported"):
        T.constant(np.array(["a"]))


def test_as_tensor():
    x = T.dvector("x")
    assert T.as_tensor(x) is x
    assert T.as_tensor(x, dtype="float32").dtype == "float32"
    c = T.as_tensor([1.0, 2.0])
    assert isinstance(c, Constant) and c.ndim == 1
    assert T.as_tensor(np.zeros((2, 2))).ndim == 2
    assert T.as_tensor_variable(2.0).ndim == 0
    with pytest.raises(TypeError, match="expected a 2-d"):
        T.as_tensor(x, ndim=2)


def test_as_tensor_of_a_list_of_variables_stacks(mode):
    x, y = T.dscalars("x", "y")
    v = T.as_tensor([x, y, 3.0])
    assert v.ndim == 1 and v.dtype == "float64"
    np.testing.assert_array_equal(sn.function([x, y], v, mode=mode)(1.0, 2.0), [1.0, 2.0, 3.0])


# --- Variable methods ----------------------------------------------------------------------------


def test_variable_properties():
    x = T.dmatrix("x")
    assert x.dtype == "float64" and x.ndim == 2 and x.name == "x"
    assert x.type == TensorType("float64", (None, None))
    assert isinstance(x.shape, Variable) and x.shape.ndim == 1
    assert str(x) == "x" and repr(x) == "x"


VALUE = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("build, expected", [
    (lambda x: x.sum(), VALUE.sum()),
    (lambda x: x.sum(axis=0), VALUE.sum(axis=0)),
    (lambda x: x.sum(axis=1, keepdims=True), VALUE.sum(axis=1, keepdims=True)),
    (lambda x: x.mean(), VALUE.mean()),
    (lambda x: x.mean(axis=1), VALUE.mean(axis=1)),
    (lambda x: x.max(), VALUE.max()),
    (lambda x: x.min(axis=0), VALUE.min(axis=0)),
    (lambda x: x.prod(axis=1), VALUE.prod(axis=1)),
    (lambda x: x.T, VALUE.T),
    (lambda x: x.transpose(), VALUE.T),
    (lambda x: x.reshape((3, 2)), VALUE.reshape(3, 2)),
    (lambda x: x.reshape(3, 2), VALUE.reshape(3, 2)),
    (lambda x: x.reshape((-1,)), VALUE.reshape(-1)),
    (lambda x: x.flatten(), VALUE.flatten()),
    (lambda x: x.dimshuffle(1, "x", 0), VALUE.T[:, None, :]),
    (lambda x: x.dimshuffle((1, "x", 0)), VALUE.T[:, None, :]),
    (lambda x: T.dimshuffle(x, (1, "x", 0)), VALUE.T[:, None, :]),
    (lambda x: x.astype("int32"), VALUE.astype("int32")),
    (lambda x: x.clip(1.0, 4.0), VALUE.clip(1.0, 4.0)),
    (lambda x: x.shape, np.array([2, 3])),
    (lambda x: x[1], VALUE[1]),
    (lambda x: x[:, 1:], VALUE[:, 1:]),
], ids=["sum", "sum0", "sum1k", "mean", "mean1", "max", "min0", "prod1", "T", "transpose",
        "reshape_tuple", "reshape_args", "reshape_-1", "flatten", "dimshuffle", "dimshuffle_tuple",
        "T.dimshuffle", "astype", "clip", "shape", "index", "slice"])
def test_variable_methods(build, expected, mode):
    x = T.dmatrix("x")
    out = build(x)
    got = sn.function([x], out, mode=mode)(VALUE)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got, expected)
    assert got.dtype == np.asarray(expected).dtype or got.dtype == np.dtype(out.dtype)


def test_astype_dtype():
    x = T.dmatrix("x")
    assert x.astype("float32").dtype == "float32"
    assert x.astype(np.int8).dtype == "int8"
    assert x.astype("float64") is x


def test_eval():
    x, y = T.dscalars("x", "y")
    out = x * 2 + y
    assert float(out.eval({x: 3.0, y: 1.0})) == 7.0
    assert isinstance(out.eval({x: 3.0, y: 1.0}), np.ndarray)
    assert float(out.eval({x: 4.0, y: 0.0})) == 8.0  # the compiled function is reused
    assert float(T.constant(2.0).eval()) == 2.0
    w = sn.shared(np.array([1.0, 2.0]))
    np.testing.assert_array_equal((w * 3).eval(), [3.0, 6.0])
    with pytest.raises(Exception, match="y"):
        (x + y).eval({x: 1.0})


def test_eval_with_mode():
    x = T.dvector("x")
    np.testing.assert_array_equal(T.exp(x).eval({x: np.zeros(2)}, mode="python"), [1.0, 1.0])


# --- operators -----------------------------------------------------------------------------------


def _run(inputs, out, values, mode):
    return sn.function(inputs, out, mode=mode, on_unused_input="ignore")(*values)


A = np.array([1.5, -2.0, 3.0])
B = np.array([0.5, 4.0, -1.0])

OPERATORS = [
    ("add", lambda x, y: x + y, lambda a, b: a + b),
    ("sub", lambda x, y: x - y, lambda a, b: a - b),
    ("mul", lambda x, y: x * y, lambda a, b: a * b),
    ("truediv", lambda x, y: x / y, lambda a, b: a / b),
    ("floordiv", lambda x, y: x // y, lambda a, b: a // b),
    ("mod", lambda x, y: x % y, lambda a, b: a % b),
    ("pow", lambda x, y: abs(x) ** y, lambda a, b: np.abs(a) ** b),
    ("lt", lambda x, y: x < y, lambda a, b: a < b),
    ("gt", lambda x, y: x > y, lambda a, b: a > b),
    ("le", lambda x, y: x <= y, lambda a, b: a <= b),
    ("ge", lambda x, y: x >= y, lambda a, b: a >= b),
    ("neg", lambda x, y: -x, lambda a, b: -a),
    ("pos", lambda x, y: +x, lambda a, b: +a),
    ("abs", lambda x, y: abs(x), lambda a, b: np.abs(a)),
]


@pytest.mark.parametrize("name, build, reference", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operators(name, build, reference):
    """Operators only build graphs (their kernels are tested in tests/ops/test_elemwise.py)."""
    x, y = T.dvectors("x", "y")
    out = build(x, y)
    assert isinstance(out, Variable)
    np.testing.assert_allclose(_run([x, y], out, [A, B], "python"), reference(A, B))


REFLECTED = [
    ("radd", lambda v, y: v + y, lambda a, b: a + b),
    ("rsub", lambda v, y: v - y, lambda a, b: a - b),
    ("rmul", lambda v, y: v * y, lambda a, b: a * b),
    ("rtruediv", lambda v, y: v / y, lambda a, b: a / b),
    ("rfloordiv", lambda v, y: v // y, lambda a, b: a // b),
    ("rmod", lambda v, y: v % y, lambda a, b: a % b),
    ("rpow", lambda v, y: abs(v) ** y, lambda a, b: np.abs(a) ** b),
    ("lt_reflected", lambda v, y: v < y, lambda a, b: a < b),
    ("ge_reflected", lambda v, y: v >= y, lambda a, b: a >= b),
]


@pytest.mark.parametrize("name, build, reference", REFLECTED, ids=[o[0] for o in REFLECTED])
@pytest.mark.parametrize("left", ["ndarray", "python"])
def test_reflected_operators(name, build, reference, left):
    """A NumPy array (or Python number) on the left gives a symbolic result, not an array of
    objects: Variable's __array_priority__ makes NumPy defer."""
    y = T.dvector("y")
    value = A if left == "ndarray" else 2.5
    out = build(value, y)
    assert isinstance(out, Variable)
    np.testing.assert_allclose(_run([y], out, [B], "python"), reference(value, B))


def test_reflected_numpy_scalar_keeps_variable():
    y = T.fvector("y")
    assert isinstance(np.float64(2.0) * y, Variable)
    assert (np.float32(2.0) * y).dtype == "float32"
    assert (2.0 * y).dtype == "float32"
    assert (np.float64(2.0) * y).dtype == "float64"  # NumPy scalars are not weak


def test_matmul_operator(mode):
    a, b = T.dmatrices("a", "b")
    x, y = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(_run([a, b], a @ b, [x, y], mode), x @ y)
    np.testing.assert_allclose(_run([b], x @ b, [y], mode), x @ y)


def test_bitwise_operators(mode):
    p, q = T.bvectors("p", "q")
    c = p > 0
    d = q > 0
    pv, qv = np.array([1, 0, 1, 0], "int8"), np.array([1, 1, 0, 0], "int8")
    f = sn.function([p, q], [c & d, c | d, c ^ d, ~c], mode=mode)
    both, either, one, neither = f(pv, qv)
    np.testing.assert_array_equal(both, [True, False, False, False])
    np.testing.assert_array_equal(either, [True, True, True, False])
    np.testing.assert_array_equal(one, [False, True, True, False])
    np.testing.assert_array_equal(neither, [False, True, False, True])


def test_equality_is_identity_and_eq_is_elementwise(mode):
    x, y = T.dvectors("x", "y")
    assert (x == x) is True and (x == y) is False  # noqa: PLR0124 - __eq__ under test
    assert (x != y) is True
    assert (np.ones(2) == x) is False  # NumPy falls back to identity too, not a broadcast
    e, n = T.eq(x, y), T.neq(x, y)
    assert isinstance(e, Variable) and e.dtype == "bool"
    f = sn.function([x, y], [e, n], mode=mode)
    got_e, got_n = f(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    np.testing.assert_array_equal(got_e, [True, False])
    np.testing.assert_array_equal(got_n, [False, True])


def test_bool_of_variable_raises():
    x = T.dscalar("x")
    for expr in (lambda: bool(x), lambda: bool(x > 0), lambda: not x, lambda: x and 1,
                 lambda: 0 < x < 1):
        with pytest.raises(TypeError, match="truth value"):
            expr()


def test_len_and_iter():
    x = T.tensor("float64", shape=(3, None))
    assert len(x) == 3
    assert len(list(x)) == 3
    with pytest.raises(TypeError, match="not known statically"):
        len(T.dvector())
    with pytest.raises(TypeError):
        len(T.dscalar())


def test_operators_with_unsupported_values_raise():
    x = T.dvector("x")
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError, match="complex"):
        x + 1j
