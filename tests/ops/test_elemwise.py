"""Tests for symnet/ops/elemwise.py and the elementwise functions of symnet.tensor.

Every elementwise function is a row of a table: the symnet function, its NumPy reference and
a sampler for each argument's domain (gradient points stay away from kinks and jumps). The
whole table runs on the reference backend over every shape and dtype; the numba backend runs
each row once, on a broadcasting 2-d case in the row's narrowest dtype (every distinct numba
graph costs a compilation, and the generated loop depends only on rank and dtype).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.special
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.ops import elemwise
from tests.helpers import check_op

# --- input domains -----------------------------------------------------------------------------


def uniform(low, high):
    """Floats drawn uniformly from [low, high]."""

    def draw(rng, shape):
        return rng.uniform(low, high, size=shape)

    return draw


def nonzero(low, high):
    """Floats with |x| in [low, high] and a random sign (away from 0)."""

    def draw(rng, shape):
        return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)

    return draw


def off_grid(low, high, offset_low=0.1, offset_high=0.4):
    """An integer in [low, high) plus an offset in [offset_low, offset_high] or its mirror
    1 - offset: at least 0.1 from every integer and every half-integer."""

    def draw(rng, shape):
        base = rng.integers(low, high, size=shape).astype(float)
        offset = rng.uniform(offset_low, offset_high, size=shape)
        mirror = rng.random(size=shape) < 0.5
        return base + np.where(mirror, 1.0 - offset, offset)

    return draw


def quarter_grid(low, high, offset):
    """Integers in [low, high) plus a fixed offset: two grids with different offsets never
    meet, which keeps maximum/minimum's arguments apart."""

    def draw(rng, shape):
        return rng.integers(low, high, size=shape).astype(float) + offset

    return draw


def choice(values):
    def draw(rng, shape):
        return rng.choice(np.asarray(values, dtype=float), size=shape)

    return draw


def small_ints(low, high):
    """Integer-valued data (so comparisons see equal elements)."""

    def draw(rng, shape):
        return rng.integers(low, high, size=shape).astype(float)

    return draw


def booleans():
    def draw(rng, shape):
        return rng.random(size=shape) < 0.5

    return draw


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    build: Callable  # symbolic inputs -> symbolic output
    reference: Callable  # arrays -> array
    domains: tuple  # one sampler per input
    grad: bool = True
    dtypes: tuple = ("float64", "float32")

    @property
    def nin(self):
        return len(self.domains)

    def __repr__(self):
        return self.name


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _np_relu(x):
    return np.maximum(x, 0)


def _keep_dtype(fn):
    """References for formulas whose Python-float constants must not widen float32."""

    def apply(*arrays):
        return np.asarray(fn(*arrays)).astype(np.result_type(*arrays))

    return apply


UNARY = [
    Row("neg", T.neg, np.negative, (uniform(-3, 3),)),
    Row("abs_", T.abs_, np.abs, (nonzero(0.2, 3),)),
    Row("sign", T.sign, np.sign, (nonzero(0.2, 3),)),
    Row("exp", T.exp, np.exp, (uniform(-3, 3),)),
    Row("exp2", T.exp2, np.exp2, (uniform(-3, 3),)),
    Row("expm1", T.expm1, np.expm1, (uniform(-3, 3),)),
    Row("erf", T.erf, scipy.special.erf, (uniform(-3, 3),)),  # a row of the table, nothing else
    Row("log", T.log, np.log, (uniform(0.1, 5),)),
    Row("log2", T.log2, np.log2, (uniform(0.1, 5),)),
    Row("log10", T.log10, np.log10, (uniform(0.1, 5),)),
    Row("log1p", T.log1p, np.log1p, (uniform(-0.5, 3),)),
    Row("sqrt", T.sqrt, np.sqrt, (uniform(0.1, 5),)),
    Row("sqr", T.sqr, np.square, (uniform(-3, 3),)),
    Row("sin", T.sin, np.sin, (uniform(-3, 3),)),
    Row("cos", T.cos, np.cos, (uniform(-3, 3),)),
    Row("tan", T.tan, np.tan, (uniform(-1.2, 1.2),)),
    Row("arcsin", T.arcsin, np.arcsin, (uniform(-0.9, 0.9),)),
    Row("arccos", T.arccos, np.arccos, (uniform(-0.9, 0.9),)),
    Row("arctan", T.arctan, np.arctan, (uniform(-3, 3),)),
    Row("sinh", T.sinh, np.sinh, (uniform(-3, 3),)),
    Row("cosh", T.cosh, np.cosh, (uniform(-3, 3),)),
    Row("tanh", T.tanh, np.tanh, (uniform(-3, 3),)),
    Row("sigmoid", T.sigmoid, _keep_dtype(_np_sigmoid), (uniform(-5, 5),)),
    Row("softplus", T.softplus, _keep_dtype(_np_softplus), (uniform(-5, 5),)),
    Row("floor", T.floor, np.floor, (off_grid(-3, 3),)),
    Row("ceil", T.ceil, np.ceil, (off_grid(-3, 3),)),
    Row("round_", T.round_, np.rint, (off_grid(-3, 3),)),
    Row("relu", T.relu, _np_relu, (nonzero(0.1, 3),)),
    Row("clip", lambda x: T.clip(x, -1, 1), lambda x: np.clip(x, -1, 1),
        (choice([-2.5, -1.5, -0.5, -0.25, 0.3, 0.7, 1.5, 2.0]),)),
    Row("isnan", T.isnan, np.isnan, (choice([0.5, -1.0, np.nan, np.inf, -np.inf]),), grad=False),
    Row("isinf", T.isinf, np.isinf, (choice([0.5, -1.0, np.nan, np.inf, -np.inf]),), grad=False),
    Row("cast_float32", lambda x: T.cast(x, "float32"), lambda x: x.astype("float32"),
        (uniform(-3, 3),), grad=False),
    Row("cast_int32", lambda x: T.cast(x, "int32"), lambda x: x.astype("int32"),
        (uniform(-30, 30),), grad=False),
    Row("cast_bool", lambda x: T.cast(x, "bool"), lambda x: x.astype("bool"),
        (choice([0.0, 1.5, -2.0]),), grad=False),
    Row("cast_float64", lambda x: T.cast(x, "float64"), lambda x: x.astype("float64"),
        (uniform(-3, 3),), grad=False),
]

BINARY = [
    Row("add", T.add, np.add, (uniform(-3, 3), uniform(-3, 3))),
    Row("sub", T.sub, np.subtract, (uniform(-3, 3), uniform(-3, 3))),
    Row("mul", T.mul, np.multiply, (uniform(-3, 3), uniform(-3, 3))),
    Row("true_div", T.true_div, np.true_divide, (uniform(-3, 3), nonzero(0.5, 2))),
    Row("floor_div", T.floor_div, np.floor_divide, (off_grid(-5, 5), choice([-3, -2, 2, 3]))),
    Row("mod", T.mod, np.mod, (off_grid(-5, 5), choice([-3, -2, 2, 3]))),
    Row("pow", T.pow, np.power, (uniform(0.5, 2), uniform(-2, 2))),
    Row("maximum", T.maximum, np.maximum, (quarter_grid(-3, 3, 0.25), quarter_grid(-3, 3, 0.75))),
    Row("minimum", T.minimum, np.minimum, (quarter_grid(-3, 3, 0.25), quarter_grid(-3, 3, 0.75))),
    Row("eq", T.eq, np.equal, (small_ints(-2, 3), small_ints(-2, 3)), grad=False),
    Row("neq", T.neq, np.not_equal, (small_ints(-2, 3), small_ints(-2, 3)), grad=False),
    Row("lt", T.lt, np.less, (small_ints(-2, 3), small_ints(-2, 3)), grad=False),
    Row("gt", T.gt, np.greater, (small_ints(-2, 3), small_ints(-2, 3)), grad=False),
    Row("le", T.le, np.less_equal, (small_ints(-2, 3), small_ints(-2, 3)), grad=False),
    Row("ge", T.ge, np.greater_equal, (small_ints(-2, 3), small_ints(-2, 3)), grad=False),
]

TERNARY = [
    Row("switch", lambda c, a, b: T.switch(T.gt(c, 0), a, b),
        lambda c, a, b: np.where(c > 0, a, b), (nonzero(0.5, 1), uniform(-3, 3), uniform(-3, 3))),
    Row("where", lambda c, a, b: T.where(T.gt(c, 0), a, b),
        lambda c, a, b: np.where(c > 0, a, b), (nonzero(0.5, 1), uniform(-3, 3), uniform(-3, 3))),
    Row("clip_symbolic", T.clip, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        (quarter_grid(-3, 3, 0.5), quarter_grid(-3, -1, 0.0), quarter_grid(1, 3, 0.0))),
]

# integer and boolean data: (row, dtype) pairs
INTEGER = [
    Row("add_int", T.add, np.add, (small_ints(-50, 50), small_ints(-50, 50)), grad=False,
        dtypes=("int32", "int64", "int8")),
    Row("sub_int", T.sub, np.subtract, (small_ints(-50, 50), small_ints(-50, 50)), grad=False,
        dtypes=("int32", "int64")),
    Row("mul_int", T.mul, np.multiply, (small_ints(-50, 50), small_ints(-50, 50)), grad=False,
        dtypes=("int32", "int64")),
    Row("true_div_int", T.true_div, np.true_divide, (small_ints(-9, 9), choice([-3, -2, 2, 7])),
        grad=False, dtypes=("int32", "int64")),
    Row("floor_div_int", T.floor_div, np.floor_divide, (small_ints(-9, 9), choice([-3, -2, 2, 7])),
        grad=False, dtypes=("int32", "int64")),
    Row("mod_int", T.mod, np.mod, (small_ints(-9, 9), choice([-3, -2, 2, 7])), grad=False,
        dtypes=("int32", "int64")),
    Row("pow_int", T.pow, np.power, (small_ints(-3, 4), small_ints(0, 4)), grad=False,
        dtypes=("int32", "int64")),
    Row("maximum_int", T.maximum, np.maximum, (small_ints(-9, 9), small_ints(-9, 9)), grad=False,
        dtypes=("int32",)),
    Row("abs_int", T.abs_, np.abs, (small_ints(-9, 9),), grad=False, dtypes=("int32", "int64")),
    Row("neg_int", T.neg, np.negative, (small_ints(-9, 9),), grad=False, dtypes=("int32",)),
    Row("sign_int", T.sign, np.sign, (small_ints(-2, 3),), grad=False, dtypes=("int32",)),
    Row("exp_int", T.exp, np.exp, (small_ints(-3, 3),), grad=False, dtypes=("int32", "int64")),
    Row("lt_int", T.lt, np.less, (small_ints(-2, 3), small_ints(-2, 3)), grad=False,
        dtypes=("int32",)),
    Row("and_", T.and_, np.bitwise_and, (booleans(), booleans()), grad=False,
        dtypes=("bool",)),
    Row("or_", T.or_, np.bitwise_or, (booleans(), booleans()), grad=False, dtypes=("bool",)),
    Row("xor", T.xor, np.bitwise_xor, (booleans(), booleans()), grad=False, dtypes=("bool",)),
    Row("and_int", T.and_, np.bitwise_and, (small_ints(-9, 9), small_ints(-9, 9)), grad=False,
        dtypes=("int32", "int64")),
    Row("or_int", T.or_, np.bitwise_or, (small_ints(-9, 9), small_ints(-9, 9)), grad=False,
        dtypes=("int32",)),
    Row("xor_int", T.xor, np.bitwise_xor, (small_ints(-9, 9), small_ints(-9, 9)), grad=False,
        dtypes=("int32",)),
    Row("invert", T.invert, np.invert, (booleans(),), grad=False, dtypes=("bool",)),
    Row("invert_int", T.invert, np.invert, (small_ints(-9, 9),), grad=False,
        dtypes=("int32", "int64")),
    Row("eq_bool", T.eq, np.equal, (booleans(), booleans()), grad=False, dtypes=("bool",)),
    Row("cast_int_to_float", lambda x: T.cast(x, "float32"), lambda x: x.astype("float32"),
        (small_ints(-9, 9),), grad=False, dtypes=("int32", "bool")),
]

FLOAT_ROWS = UNARY + BINARY + TERNARY
ALL_ROWS = FLOAT_ROWS + INTEGER

#: every elementwise function of symnet.tensor the brief lists, to make sure the table covers it
ELEMENTWISE_NAMES = (
    "add", "sub", "mul", "true_div", "floor_div", "mod", "pow", "maximum", "minimum", "neg", "abs_",
    "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "sqr", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sigmoid", "softplus", "floor",
    "ceil", "round_", "eq", "neq", "lt", "gt", "le", "ge", "and_", "or_", "xor", "invert", "isnan",
    "isinf", "switch", "where", "cast", "clip", "relu",
)

SHAPES = {
    1: [[()], [(5,)], [(3, 4)], [(1, 4)]],
    2: [[(), ()], [(5,), (5,)], [(3, 4), (3, 4)], [(1, 4), (1, 4)], [(3, 1), (1, 4)],
        [(), (3, 4)], [(4,), (3, 4)]],
    3: [[(), (), ()], [(5,), (5,), (5,)], [(3, 4), (3, 4), (3, 4)], [(1, 4), (1, 4), (1, 4)],
        [(3, 1), (1, 4), (3, 4)], [(3, 1), (), (1, 4)]],
}

#: the numba case per row: 2-d with broadcasting (the general strided loop); float64 and the
#: contiguous fast path are covered by the dedicated tests below, which all run on both backends
NUMBA_BROADCAST = {1: [(1, 4)], 2: [(3, 1), (1, 4)], 3: [(3, 1), (1, 4), (3, 4)]}


def make_inputs(row: Row, shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(domain(rng, shape)).astype(dtype) for domain, shape in zip(row.domains, shapes)]


def tolerance(dtype):
    return 1e-5 if dtype == "float32" else 1e-7


def _id(value):
    if isinstance(value, Row):
        return value.name
    return "x".join(str(s).replace(" ", "") for s in value)


def _cases(rows):
    out = []
    for row in rows:
        for dtype in row.dtypes:
            for shapes in SHAPES[row.nin]:
                out.append(pytest.param(row, dtype, shapes, id=f"{row.name}-{dtype}-{_id(shapes)}"))
    return out


# --- values ------------------------------------------------------------------------------------


def test_table_covers_every_elementwise_function():
    covered = set()
    for row in ALL_ROWS:
        covered.add(row.name)
        covered.add(row.name.split("_int")[0].split("_bool")[0].split("_symbolic")[0])
    covered |= {"cast", "abs_", "round_", "and_", "or_"}  # cast_* rows, trailing underscores
    missing = [name for name in ELEMENTWISE_NAMES if name not in covered]
    assert not missing
    for name in ELEMENTWISE_NAMES:
        assert callable(getattr(T, name))


@pytest.mark.parametrize("row, dtype, shapes", _cases(ALL_ROWS))
def test_elemwise_values_python(row, dtype, shapes):
    inputs = make_inputs(row, shapes, dtype)
    check_op(row.build, inputs, row.reference, grad=False, rtol=tolerance(dtype),
             modes=("python",))


@pytest.mark.parametrize("row", ALL_ROWS, ids=_id)
def test_elemwise_values_numba(row):
    dtype = row.dtypes[-1]  # float32 for the float rows: Numba widens float32 scalar math
    inputs = make_inputs(row, NUMBA_BROADCAST[row.nin], dtype, seed=1)
    check_op(row.build, inputs, row.reference, grad=False, rtol=tolerance(dtype),
             modes=("numba",))


@pytest.mark.parametrize("row, dtype, shapes", _cases(FLOAT_ROWS))
def test_elemwise_output_dtype_is_float_input_dtype(row, dtype, shapes):
    """Float rows keep the input dtype (comparisons and tests give bool, casts their target)."""
    sym = [T.tensor(dtype, shape=(None,) * len(s)) for s in shapes]
    out = row.build(*sym)
    ndim = max(len(s) for s in shapes)
    assert out.ndim == ndim
    expected = np.asarray(row.reference(*make_inputs(row, shapes, dtype))).dtype
    assert out.dtype == expected.name


# --- gradients ---------------------------------------------------------------------------------


def _grad_cases():
    out = []
    for row in FLOAT_ROWS:
        if row.grad:
            for shapes in SHAPES[row.nin]:
                out.append(pytest.param(row, shapes, id=f"{row.name}-{_id(shapes)}"))
    return out


@pytest.mark.parametrize("row, shapes", _grad_cases())
def test_elemwise_grad_python(row, shapes):
    points = make_inputs(row, shapes, "float64", seed=2)
    sn.verify_grad(row.build, points, mode="python")


#: rows whose gradients run compiled too (each costs a few kernels; the other rows' gradient
#: graphs are made of the same elementwise rows, whose kernels test_elemwise_values_numba covers)
NUMBA_GRAD_ROWS = ("mul", "true_div", "pow", "maximum", "switch", "clip_symbolic")


@pytest.mark.parametrize("row", [r for r in BINARY + TERNARY if r.name in NUMBA_GRAD_ROWS],
                         ids=_id)
def test_elemwise_grad_numba_broadcasting(row):
    """Gradients of broadcasting operands are summed back to their shapes in compiled code."""
    points = make_inputs(row, NUMBA_BROADCAST[row.nin], "float64", seed=3)
    sn.verify_grad(row.build, points, mode="numba")


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "log1p"])
def test_elemwise_grad_numba_unary(name):
    row = next(r for r in UNARY if r.name == name)
    sn.verify_grad(row.build, make_inputs(row, [(5,)], "float64", seed=4), mode="numba")


@pytest.mark.parametrize("fn", [T.sign, T.floor, T.ceil, T.round_, lambda x: T.floor_div(x, 2.0)])
def test_piecewise_constant_functions_have_zero_gradient(fn, mode):
    """Zeros (Theano's convention), not a disconnected-input error."""
    x = T.dvector("x")
    g = sn.grad(T.sum(fn(x)), x)
    got = sn.function([x], g, mode=mode)(np.array([-1.3, 0.4, 2.7]))
    np.testing.assert_array_equal(got, np.zeros(3))


def test_relu_gradient_is_exactly_zero_at_zero(mode):
    x = T.dvector("x")
    g = sn.grad(T.sum(T.relu(x)), x)
    got = sn.function([x], g, mode=mode)(np.array([-1.0, 0.0, 1e-300, 2.0]))
    np.testing.assert_array_equal(got, [0.0, 0.0, 1.0, 1.0])


def test_relu_value_at_zero_and_alpha(mode):
    x = T.dvector("x")
    f = sn.function([x], [T.relu(x), T.relu(x, alpha=0.1)], mode=mode)
    plain, leaky = f(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(plain, [0.0, 0.0, 3.0])
    np.testing.assert_allclose(leaky, [-0.2, 0.0, 3.0])


def test_maximum_tie_gradient_goes_to_first_argument(mode):
    x, y = T.dvectors("x", "y")
    gx, gy = sn.grad(T.sum(T.maximum(x, y)), [x, y])
    hx, hy = sn.grad(T.sum(T.minimum(x, y)), [x, y])
    f = sn.function([x, y], [gx, gy, hx, hy], mode=mode)
    gx, gy, hx, hy = f(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0]))
    np.testing.assert_array_equal(gx, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(hx, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(hy, [0.0, 1.0, 0.0])


def test_clip_gradient_is_one_inside_zero_outside(mode):
    x = T.dvector("x")
    g = sn.grad(T.sum(T.clip(x, -1.0, 1.0)), x)
    got = sn.function([x], g, mode=mode)(np.array([-3.0, -0.5, 0.5, 3.0]))
    np.testing.assert_array_equal(got, [0.0, 1.0, 1.0, 0.0])


def test_float32_gradient_keeps_float32(mode):
    x = T.fvector("x")
    g = sn.grad(T.sum(T.exp(x) * 2.0), x)
    assert g.dtype == "float32"
    got = sn.function([x], g, mode=mode)(np.array([0.0, 1.0], dtype="float32"))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, 2 * np.exp([0.0, 1.0]), rtol=1e-6)


def test_cast_gradient_goes_back_to_the_input_dtype(mode):
    x = T.fvector("x")
    g = sn.grad(T.sum(T.cast(x, "float64") * 3.0), x)
    assert g.dtype == "float32"
    got = sn.function([x], g, mode=mode)(np.ones(3, dtype="float32"))
    np.testing.assert_array_equal(got, np.full(3, 3.0, dtype="float32"))


# --- dtype promotion (NumPy 2) -------------------------------------------------------------------

PROMOTION = [
    # (left dtype or Python value, right dtype or Python value, function, expected dtype)
    ("float32", 2.0, T.add, "float32"),
    (2.0, "float32", T.mul, "float32"),
    ("float32", 3, T.true_div, "float32"),
    ("float32", "float64", T.add, "float64"),
    ("int32", "float64", T.add, "float64"),
    ("int32", "float32", T.add, "float64"),
    ("int8", "float32", T.add, "float32"),
    ("int32", 2, T.mul, "int32"),
    ("int8", 3, T.add, "int8"),
    ("int32", 2.5, T.add, "float64"),
    ("int32", "int32", T.true_div, "float64"),
    ("int64", "int64", T.true_div, "float64"),
    ("int32", "int32", T.floor_div, "int32"),
    ("int32", "int64", T.add, "int64"),
    ("int8", "int32", T.mul, "int32"),
    ("bool", "bool", T.add, "bool"),
    ("bool", "int32", T.add, "int32"),
    ("bool", 1.5, T.mul, "float64"),
    ("float32", "float32", T.lt, "bool"),
    ("int32", "float64", T.eq, "bool"),
    ("float32", 0.5, T.ge, "bool"),
    ("float64", "float64", T.neq, "bool"),
    ("float32", "float32", T.maximum, "float32"),
    ("float32", 2.0, T.pow, "float32"),
    ("int32", 2, T.pow, "int32"),
]


@pytest.mark.parametrize("left, right, fn, expected", PROMOTION,
                         ids=[f"{a}-{fn.__name__}-{b}" for a, b, fn, _ in PROMOTION])
def test_dtype_promotion_follows_numpy2(left, right, fn, expected):
    def operand(spec):
        return T.tensor(spec, shape=(None,)) if isinstance(spec, str) else spec

    def numpy_operand(spec):
        return np.ones(2, dtype=spec) if isinstance(spec, str) else spec

    out = fn(operand(left), operand(right))
    assert out.dtype == expected
    numpy_fn = {T.add: np.add, T.mul: np.multiply, T.true_div: np.true_divide,
                T.floor_div: np.floor_divide, T.lt: np.less, T.eq: np.equal, T.ge: np.greater_equal,
                T.neq: np.not_equal, T.maximum: np.maximum, T.pow: np.power}[fn]
    assert numpy_fn(numpy_operand(left), numpy_operand(right)).dtype.name == expected


@pytest.mark.parametrize("dtype, expected", [("int8", "float32"), ("int16", "float32"),
                                             ("int32", "float64"), ("int64", "float64"),
                                             ("float32", "float32"), ("bool", "float32")])
def test_float_functions_of_integers(dtype, expected):
    """exp/log/sin of integers give floats as in NumPy (float16 becomes float32)."""
    x = T.tensor(dtype, shape=(None,))
    for fn in (T.exp, T.log, T.sin, T.sqrt):
        assert fn(x).dtype == expected


def test_float32_scalar_arithmetic_stays_float32(mode):
    """A float32 input with Python constants computes and returns float32 in both backends."""
    x = T.fscalar("x")
    out = (x * 0.1 + 2.0) / 3.0 - 1
    assert out.dtype == "float32"
    got = sn.function([x], out, mode=mode)(np.float32(1.5))
    assert got.dtype == np.float32 and got.shape == ()
    ref = (np.float32(1.5) * np.float32(0.1) + np.float32(2.0)) / np.float32(3.0) - np.float32(1)
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_int_true_division_gives_float64(mode):
    a, b = T.ivectors("a", "b")
    out = a / b
    assert out.dtype == "float64"
    got = sn.function([a, b], out, mode=mode)(np.array([1, 7, -3], "int32"), np.array([2, 2, 2], "int32"))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [0.5, 3.5, -1.5])


def test_comparisons_give_bool(mode):
    x = T.dvector("x")
    f = sn.function([x], [x < 1, x > 1, x <= 1, x >= 1, T.eq(x, 1), T.neq(x, 1)], mode=mode)
    for got in f(np.array([0.0, 1.0, 2.0])):
        assert got.dtype == np.bool_
    results = f(np.array([0.0, 1.0, 2.0]))
    expected = [[1, 0, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [0, 1, 0], [1, 0, 1]]
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, np.array(want, dtype=bool))


# --- special values ------------------------------------------------------------------------------


def test_round_is_half_to_even(mode):
    x = T.dvector("x")
    got = sn.function([x], T.round_(x), mode=mode)(np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49]))
    np.testing.assert_array_equal(got, [0.0, 2.0, 2.0, -0.0, -2.0, 0.0])


def test_nan_propagates_through_maximum_and_minimum(mode):
    x, y = T.dvectors("x", "y")
    f = sn.function([x, y], [T.maximum(x, y), T.minimum(x, y)], mode=mode)
    hi, lo = f(np.array([np.nan, 1.0, 2.0]), np.array([0.0, np.nan, 1.0]))
    np.testing.assert_array_equal(hi, [np.nan, np.nan, 2.0])
    np.testing.assert_array_equal(lo, [np.nan, np.nan, 1.0])


def test_sigmoid_and_softplus_are_stable_at_extremes(mode):
    x = T.dvector("x")
    f = sn.function([x], [T.sigmoid(x), T.softplus(x)], mode=mode)
    s, p = f(np.array([-800.0, 0.0, 800.0]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(p, [0.0, np.log(2.0), 800.0])
    assert np.all(np.isfinite(p))


def test_division_by_zero_follows_numpy(mode):
    x, y = T.dvectors("x", "y")
    got = sn.function([x, y], x / y, mode=mode)(np.array([1.0, -1.0, 0.0]), np.zeros(3))
    np.testing.assert_array_equal(got, [np.inf, -np.inf, np.nan])


def test_switch_with_numeric_condition(mode):
    c = T.ivector("c")
    x = T.dvector("x")
    out = T.switch(c, x, -x)
    got = sn.function([c, x], out, mode=mode)(np.array([0, 2, -1], "int32"), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(got, [-1.0, 2.0, 3.0])


def test_switch_branch_dtypes_promote():
    c = T.bvector("c") > 0
    assert T.switch(c, T.fvector(), T.dvector()).dtype == "float64"
    assert T.switch(c, T.fvector(), 0.0).dtype == "float32"
    assert T.switch(c, T.ivector(), T.ivector()).dtype == "int32"


def test_switch_gradient_masks_branches(mode):
    c = T.dvector("c")
    a, b = T.dvectors("a", "b")
    ga, gb = sn.grad(T.sum(T.switch(c > 0, a, b) * 2.0), [a, b])
    f = sn.function([c, a, b], [ga, gb], mode=mode)
    ga, gb = f(np.array([1.0, -1.0, 1.0]), np.zeros(3), np.zeros(3))
    np.testing.assert_array_equal(ga, [2.0, 0.0, 2.0])
    np.testing.assert_array_equal(gb, [0.0, 2.0, 0.0])


# --- graph structure and errors ------------------------------------------------------------------


def test_inputs_are_padded_to_the_output_rank():
    x = T.dvector("x")
    m = T.dmatrix("m")
    node = (x + m).owner
    assert [i.ndim for i in node.inputs] == [2, 2]
    assert node.outputs[0].type.shape == (None, None)
    s = T.dscalar("s")
    assert (s * m).owner.inputs[0].type.shape == (1, 1)


def test_static_shapes_broadcast():
    a = T.tensor("float64", shape=(3, 1))
    b = T.tensor("float64", shape=(1, 4))
    assert (a + b).type.shape == (3, 4)
    c = T.tensor("float64", shape=(None, 1))
    assert (c * b).type.shape == (None, 4)
    assert (a + T.dvector()).type.shape == (3, None)


def test_static_shape_mismatch_raises_naming_the_op():
    a = T.tensor("float64", shape=(3, 4), name="a")
    b = T.tensor("float64", shape=(2, 4), name="b")
    with pytest.raises(ValueError, match=r"add: shapes cannot broadcast on axis 0.*a.*\(3, 4\).*b.*\(2, 4\)"):
        a + b


def test_runtime_shape_mismatch_raises(mode):
    x, y = T.dvectors("x", "y")
    f = sn.function([x, y], x * y, mode=mode)
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones(3), np.ones(4))


def test_wrong_number_of_inputs_raises():
    with pytest.raises(TypeError, match="add takes 2 inputs, got 3"):
        elemwise.add(T.dvector(), T.dvector(), T.dvector())


def test_unsupported_dtype_raises_naming_the_function():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="and"):
        T.and_(x, x)
    with pytest.raises(TypeError, match="invert"):
        T.invert(x)


def test_python_scalar_that_does_not_fit_raises():
    with pytest.raises(OverflowError):
        T.bvector("b") + 300


def test_elemwise_ops_compare_by_rule():
    x = T.dvector("x")
    assert (x + x).owner.op == elemwise.add
    assert T.exp(x).owner.op == elemwise.Elemwise(elemwise.EXP)
    assert elemwise.add != elemwise.mul
    assert hash(elemwise.cast_op("int32")) == hash(elemwise.cast_op("int32"))
    assert elemwise.cast_op("int32") == elemwise.cast_op("int32")
    assert elemwise.cast_op("int32") != elemwise.cast_op("int64")


def test_cast_is_a_no_op_for_the_same_dtype():
    x = T.dvector("x")
    assert T.cast(x, "float64") is x
    assert x.astype("float32").dtype == "float32"


def test_inputs_are_not_modified_and_results_are_fresh(mode):
    x = T.dvector("x")
    f = sn.function([x], T.exp(x) + 1, mode=mode)
    value = np.array([0.0, 1.0])
    first = f(value)
    second = f(value)
    np.testing.assert_array_equal(value, [0.0, 1.0])
    first[:] = -1
    np.testing.assert_allclose(second, np.exp([0.0, 1.0]) + 1)


@pytest.mark.parametrize("ndim", [8, 25])
def test_fused_loop_over_more_axes_than_python_nests_blocks(ndim):
    # one Python loop per axis nested 24 blocks at 25-d: Python compiles at most 20
    x = T.tensor("float64", shape=(None,) * ndim, name="x")
    y = T.tensor("float64", shape=(None,) * ndim, name="y")
    f = sn.function([x, y], T.exp(x) * y + 1.0)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(1,) * (ndim - 3) + (2, 1, 3))
    b = rng.normal(size=tuple(2 if d % 5 == 0 else 1 for d in range(ndim - 3)) + (1, 3, 3))
    np.testing.assert_allclose(f(a, b), np.exp(a) * b + 1.0, rtol=1e-14)
    empty = np.zeros((0,) + b.shape[1:])
    assert f(a, empty).shape == np.broadcast_shapes(a.shape, empty.shape)
