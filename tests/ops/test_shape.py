"""Tests for symnet/ops/shape.py: every function against NumPy on both backends, gradients,
static shape inference and error cases.

Numba compiles cost about a second each, so each table is checked row by row on the python
backend (values and gradients, through check_op) and all at once on the numba backend (one
function computing every row, :func:`check_table_numba`); numba gradients are checked by a few
grouped verify_grad calls.
"""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.graph import Apply
from symnet.ops.shape import (
    Alloc,
    DimShuffle,
    MakeVector,
    Reshape,
    Shape,
    Split,
    Squeeze,
    SumToShape,
    as_shape_vector,
    split,
    sum_to_shape,
)
from tests.helpers import check_op

MODES = ("python", "numba")


def data(rng, shape, dtype="float64"):
    """Distinct values away from 0, so misplaced elements show."""
    values = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return np.asarray(values, dtype=dtype)


def inputs_for(rng, specs):
    """Arrays for a row's input specs: a shape, or a (shape, dtype) pair."""
    out = []
    for spec in specs:
        if len(spec) == 2 and isinstance(spec[1], str):
            out.append(data(rng, *spec))
        else:
            out.append(data(rng, spec))
    return out


def static(shape, dtype="float64", name=None):
    return T.tensor(dtype, shape=shape, name=name)


def run(inputs, outputs, values, mode):
    return sn.function(inputs, outputs, mode=mode)(*values)


def check_row(row, rng):
    """One table row on the python backend: values, and gradients for float64 inputs."""
    _, build, reference, specs = row
    values = inputs_for(rng, specs)
    grad = all(v.dtype == np.float64 for v in values)
    check_op(build, values, reference, grad=grad, modes=("python",))


def check_table_numba(rows, rng, skip=()):
    """Every row of a table in one numba function (one compile), compared with NumPy.

    ``skip`` names rows whose numba code path another row covers (each node costs compile time).
    """
    rows = [row for row in rows if row[0] not in skip]
    sym, outputs, values, expected = [], [], [], []
    for _, build, reference, specs in rows:
        row_values = inputs_for(rng, specs)
        row_sym = [T.tensor(v.dtype, shape=(None,) * v.ndim) for v in row_values]
        sym += row_sym
        values += row_values
        outputs.append(build(*row_sym))
        expected.append(np.asarray(reference(*[v.copy() for v in row_values])))
    copies = [v.copy() for v in values]
    got = sn.function(sym, outputs, mode="numba", on_unused_input="ignore")(*copies)
    for (name, *_), out, value, want in zip(rows, outputs, got, expected):
        assert value.shape == want.shape, name
        assert value.dtype == np.dtype(out.dtype), name
        np.testing.assert_allclose(value, want, rtol=1e-6, err_msg=name)
    for original, copy in zip(values, copies):
        np.testing.assert_array_equal(original, copy)


def ids(rows):
    return [row[0] for row in rows]


# --- dimshuffle, transpose, expand_dims ---------------------------------------------------------

VIEWS = [
    # (id, build, reference, input specs)
    ("transpose", lambda x: T.transpose(x), lambda x: x.T, [(3, 4)]),
    ("transpose_T_float32", lambda x: x.T, lambda x: x.T, [((3, 4), "float32")]),
    ("transpose_0d", lambda x: x.T, lambda x: x, [()]),
    (
        "transpose_axes",
        lambda x: T.transpose(x, (1, 2, 0)),
        lambda x: x.transpose(1, 2, 0),
        [(2, 3, 4)],
    ),
    ("dimshuffle_insert", lambda x: x.dimshuffle(1, "x", 0), lambda x: x.T[:, None, :], [(3, 4)]),
    ("dimshuffle_0d", lambda x: x.dimshuffle("x", "x"), lambda x: x.reshape(1, 1), [()]),
    ("dimshuffle_bcast", lambda x: x.dimshuffle(0, "x", 1), lambda x: x[:, None, :], [(1, 4)]),
    (
        "expand_dims_tuple",
        lambda x: T.expand_dims(x, (0, 2)),
        lambda x: np.expand_dims(x, (0, 2)),
        [(3, 4)],
    ),
    # dropping axes needs a static length 1: reshape gives one
    (
        "dimshuffle_drop",
        lambda x: T.reshape(x, (1, -1)).dimshuffle(1, "x"),
        lambda x: x.reshape(-1, 1),
        [(5,)],
    ),
    (
        "dimshuffle_drop_all",
        lambda x: T.reshape(x, (1, 1)).dimshuffle(()),
        lambda x: x.reshape(()),
        [(1,)],
    ),
    (
        "dimshuffle_drop_permute",
        lambda x: T.reshape(x, (3, 1, 4)).dimshuffle(2, 0),
        lambda x: x.reshape(3, 4).T,
        [(3, 4)],
    ),
]


@pytest.mark.parametrize("row", VIEWS, ids=ids(VIEWS))
def test_dimshuffle(row, rng):
    check_row(row, rng)


def test_dimshuffle_numba(rng):
    check_table_numba(VIEWS, rng)


def test_dimshuffle_static_shape():
    m = static((2, None))
    assert m.dimshuffle(1, "x", 0).type.shape == (None, 1, 2)
    assert T.transpose(static((2, 3, 4))).type.shape == (4, 3, 2)
    assert static((2, 3, 4)).transpose(-1, 0, 1).type.shape == (4, 2, 3)
    assert static((5,)).dimshuffle("x", 0).type.shape == (1, 5)
    assert T.expand_dims(static((3,)), (0, -1)).type.shape == (1, 3, 1)
    assert static((1, None)).dimshuffle(1).type.shape == (None,)
    assert T.dimshuffle(m, (0, 1)) is m  # the identity pattern adds no node


def test_dimshuffle_varargs_or_tuple_build_the_same_graph():
    x = T.dmatrix("x")
    a = x.dimshuffle(1, "x", 0)
    for other in (
        x.dimshuffle((1, "x", 0)),
        T.dimshuffle(x, (1, "x", 0)),
        x.dimshuffle([1, "x", 0]),
        T.dimshuffle(x, 1, "x", 0),
    ):
        assert other.owner.op == a.owner.op
        assert other.owner.inputs == a.owner.inputs
        assert other.type == a.type
    assert a.owner.op == DimShuffle((1, "x", 0))
    assert sn.pp(a) == "dimshuffle(x, (1, 'x', 0))"


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: T.dmatrix().dimshuffle(1), ValueError, "cannot drop axis 0"),
        (lambda: static((3, 1)).dimshuffle(1), ValueError, "cannot drop axis 0"),
        (lambda: T.dmatrix().dimshuffle(0, 2), ValueError, "2 is not 'x' or an axis"),
        (lambda: T.dmatrix().dimshuffle(0, 0), ValueError, "appears twice"),
        (lambda: T.dmatrix().dimshuffle(0, "y"), ValueError, "'y'"),
        (lambda: T.dmatrix().dimshuffle(0, 1.0), TypeError, "ints or 'x'"),
        (lambda: T.transpose(T.dmatrix(), (0, 2)), ValueError, "out of range"),
        (lambda: T.transpose(T.dmatrix(), (0, 0)), ValueError, "not a permutation"),
        (lambda: T.expand_dims(T.dvector(), 3), ValueError, "out of range"),
        (lambda: T.expand_dims(T.dvector(), (0, 0)), ValueError, "repeated"),
    ],
)
def test_dimshuffle_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("mode", MODES)
def test_dimshuffle_checks_dropped_axis_at_run_time(mode):
    # a node whose static shape is wrong on purpose: the kernel must check, not read garbage
    x = T.dvector("x")
    out = sn.TensorType("float64", ())()
    Apply(DimShuffle(()), [x], [out])
    f = sn.function([x], out, mode=mode)
    assert float(f(np.array([2.5]))) == 2.5
    with pytest.raises(ValueError, match="dimshuffle"):
        f(np.ones(3))


# --- shape, shape_i, make_vector ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_shape_and_shape_i(mode):
    shapes = [(), (5,), (1, 4), (2, 0, 3)]
    sym = [T.tensor("float64", shape=(None,) * len(s)) for s in shapes]
    outputs = []
    for x, s in zip(sym, shapes):
        outputs += [T.shape(x)] + [T.shape_i(x, i) for i in range(len(s))]
    got = iter(run(sym, outputs, [np.zeros(s) for s in shapes], mode))
    for s in shapes:
        vector = next(got)
        assert vector.dtype == np.int64
        np.testing.assert_array_equal(vector, np.array(s, dtype="int64").reshape(len(s)))
        for length in s:
            value = next(got)
            assert value.shape == () and value.dtype == np.int64 and int(value) == length


def test_shape_i_static_is_a_constant():
    x = static((None, 3))
    assert isinstance(T.shape_i(x, 1), sn.Constant)
    assert int(T.shape_i(x, -1).data) == 3
    assert T.shape_i(x, 0).owner is not None
    assert sn.pp(T.shape_i(T.dmatrix("m"), 1)) == "shape_i(m, 1)"
    with pytest.raises(IndexError, match="out of range"):
        T.shape_i(x, 2)


@pytest.mark.parametrize("mode", MODES)
def test_make_vector(mode):
    a, b = T.lscalar("a"), T.iscalar("b")
    v = MakeVector("int64")(a, b)
    assert v.type == sn.TensorType("int64", (2,))
    empty = MakeVector("float32")()
    floats = MakeVector("float64")(a, T.dscalar("c"))
    c = floats.owner.inputs[1]
    got = sn.function([a, b, c], [v, empty, floats], mode=mode)(3, 4, 0.5)
    np.testing.assert_array_equal(got[0], [3, 4])
    assert got[0].dtype == np.int64
    assert got[1].shape == (0,) and got[1].dtype == np.float32
    np.testing.assert_array_equal(got[2], [3.0, 0.5])


def test_make_vector_grad():
    check_op(
        lambda x, y: MakeVector("float64")(x, y) * np.array([2.0, 3.0]),
        [np.array(0.5), np.array(-1.5)],
        lambda x, y: np.array([2 * x, 3 * y]),
        modes=("python",),
    )


def test_as_shape_vector():
    n = T.lscalar("n")
    assert isinstance(as_shape_vector((2, 3)), sn.Constant)
    assert isinstance(as_shape_vector((2, T.constant(3))), sn.Constant)  # constants fold
    assert as_shape_vector((n, 3)).owner.op == MakeVector("int64")
    assert as_shape_vector(T.ivector()).dtype == "int64"
    with pytest.raises(TypeError, match="integers"):
        as_shape_vector(T.dvector())
    with pytest.raises(TypeError, match="integers"):
        as_shape_vector((2.0, 3))
    with pytest.raises(TypeError, match="int scalars"):
        as_shape_vector((T.dscalar(), 3))


# --- reshape, flatten ---------------------------------------------------------------------------

RESHAPES = [
    # (input shape, target shape, static shape for an input of unknown lengths)
    ((3, 4), (12,), (12,)),
    ((3, 4), (4, 3), (4, 3)),
    ((3, 4), (2, -1), (2, None)),
    ((3, 4), (-1,), (None,)),
    ((3, 4), (2, 2, 3), (2, 2, 3)),
    ((1, 4), (4, 1), (4, 1)),
    ((), (1, 1), (1, 1)),
    ((1,), (), ()),
    ((2, 0, 3), (3, -1), (3, None)),
]
RESHAPE_ROWS = [
    (
        f"{xshape}->{target}",
        lambda x, target=target: T.reshape(x, target),
        lambda x, target=target: x.reshape(target),
        [xshape],
    )
    for xshape, target, _ in RESHAPES
] + [
    ("float32", lambda x: x.reshape(2, 6), lambda x: x.reshape(2, 6), [((3, 4), "float32")]),
    ("int32", lambda x: x.reshape(2, 6), lambda x: x.reshape(2, 6), [((3, 4), "int32")]),
    ("transposed", lambda x: T.reshape(x.T, (-1,)), lambda x: x.T.reshape(-1), [(3, 4)]),
    (
        "dimshuffled",
        lambda x: T.flatten(x.dimshuffle(1, "x", 0), 2),
        lambda x: x.T.reshape(4, 3),
        [(3, 4)],
    ),
    (
        "shape_i_entries",
        lambda x: T.reshape(x, (T.shape_i(x, 1), T.shape_i(x, 0))),
        lambda x: x.reshape(4, 3),
        [(3, 4)],
    ),
    ("shape_vector", lambda x: T.reshape(x, T.shape(x.T)), lambda x: x.reshape(4, 3), [(3, 4)]),
    (
        "mixed_entries",
        lambda x: T.reshape(x, (T.shape_i(x, 0), -1, 2)),
        lambda x: x.reshape(3, -1, 2),
        [(3, 4)],
    ),
]


@pytest.mark.parametrize("row", RESHAPE_ROWS, ids=ids(RESHAPE_ROWS))
def test_reshape(row, rng):
    check_row(row, rng)


def test_reshape_numba(rng):
    check_table_numba(RESHAPE_ROWS, rng)


@pytest.mark.parametrize("xshape, target, expected", RESHAPES, ids=str)
def test_reshape_static_shape(xshape, target, expected):
    assert (
        T.reshape(T.tensor("float64", shape=(None,) * len(xshape)), target).type.shape == expected
    )
    assert T.reshape(static(xshape), target).type.shape == np.zeros(xshape).reshape(target).shape


def test_reshape_static_inference():
    x = static((2, 6))
    assert T.reshape(x, (3, -1)).type.shape == (3, 4)
    n = T.lscalar("n")
    assert T.reshape(x, (n, 4)).type.shape == (3, 4)  # the one unknown entry is implied
    assert T.reshape(x, (n, 5)).type.shape == (None, 5)  # bound to fail at run time
    assert T.reshape(T.dmatrix(), (n, 3)).type.shape == (None, 3)
    y = static((None, 3, 4))
    assert T.reshape(y, y.shape).type.shape == (None, 3, 4)
    assert T.reshape(y, (T.shape_i(y, 0), 12)).type.shape == (None, 12)
    assert T.reshape(y, T.concatenate([T.shape(x), T.shape(x)]), ndim=4).type.shape == (2, 6, 2, 6)
    assert T.flatten(y, 2).type.shape == (None, 12)
    assert T.flatten(static((2, None, 4)), 2).type.shape == (2, None)
    assert T.flatten(static((2, 3, 4))).type.shape == (24,)


def test_reshape_pp_and_method_forms():
    x = T.dmatrix("x")
    assert sn.pp(T.reshape(x, (2, 3))) == "reshape(x, [2, 3])"
    assert isinstance(x.reshape(2, 3).owner.op, Reshape)
    assert x.reshape((2, 3)).owner.op == x.reshape(2, 3).owner.op == Reshape(2)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: T.reshape(static((2, 3)), (4,)), ValueError, r"shape \(2, 3\) into shape \(4,\)"),
        (lambda: T.reshape(static((2, 3)), (4, -1)), ValueError, "cannot reshape"),
        (lambda: T.reshape(T.dmatrix(), (-1, -1)), ValueError, "only one dimension"),
        (lambda: T.reshape(T.dmatrix(), (-2, 3)), ValueError, "invalid dimension -2"),
        (lambda: T.reshape(T.dmatrix(), T.lvector()), TypeError, "pass ndim"),
        (lambda: T.reshape(T.dmatrix(), (2, 3), ndim=3), ValueError, "ndim=3"),
        (lambda: T.reshape(T.dmatrix(), (2.0, 3)), TypeError, "integers"),
        (lambda: T.flatten(T.dmatrix(), 3), ValueError, "ndim=3"),
        (lambda: T.flatten(T.dmatrix(), 0), ValueError, "ndim=0"),
    ],
)
def test_reshape_build_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("mode", MODES)
def test_reshape_int_vector_shape_and_run_time_errors(mode, rng):
    x, s = T.dmatrix("x"), T.lvector("s")
    y = T.reshape(x, s, ndim=2)
    assert y.type.shape == (None, None)
    f = sn.function([x, s], y, mode=mode)
    value = data(rng, (2, 3))
    np.testing.assert_array_equal(f(value, np.array([3, -1])), value.reshape(3, 2))
    bad = [
        ((4, 2), r"reshape: cannot reshape .* of shape \(2, 3\) into shape \(4, 2\)"),
        ((4, -1), r"of shape \(2, 3\) into shape \(4, -1\)"),
        ((-1, -1), "only one dimension"),
        ((-3, 2), "invalid dimension"),
        ((6,), "reshape"),  # a shape vector of the wrong length
    ]
    for target, match in bad:
        with pytest.raises(ValueError, match=match):
            f(value, np.array(target))


FLATTENS = [((2, 3, 4), 1), ((2, 3, 4), 2), ((2, 3, 4), 3), ((5,), 1), ((), 1), ((1, 4), 2)]
FLATTEN_ROWS = [
    (
        f"{shape}-{ndim}",
        lambda x, ndim=ndim: T.flatten(x, ndim),
        lambda x, ndim=ndim: x.reshape(x.shape[: ndim - 1] + (-1,)),
        [shape],
    )
    for shape, ndim in FLATTENS
] + [("method", lambda x: x.flatten(2), lambda x: x.reshape(2, 12), [(2, 3, 4)])]


@pytest.mark.parametrize("row", FLATTEN_ROWS, ids=ids(FLATTEN_ROWS))
def test_flatten(row, rng):
    check_row(row, rng)


def test_flatten_numba(rng):
    check_table_numba(FLATTEN_ROWS, rng)


# --- alloc, broadcast_to, zeros, ones -----------------------------------------------------------

BROADCASTS = [
    ((3, 1), (3, 4)),
    ((4,), (2, 3, 4)),
    ((), (2, 3)),
    ((), ()),
    ((1, 4), (3, 4)),
    ((5,), (5,)),
    ((1,), (2, 0)),
]
ALLOC_ROWS = [
    (
        f"{xshape}->{target}",
        lambda x, target=target: T.broadcast_to(x, target),
        lambda x, target=target: np.broadcast_to(x, target),
        [xshape],
    )
    for xshape, target in BROADCASTS
] + [
    (
        "float32",
        lambda x: T.broadcast_to(x, (2, 3)),
        lambda x: np.broadcast_to(x, (2, 3)),
        [((1, 3), "float32")],
    ),
    ("alloc_varargs", lambda x: T.alloc(x, 2, 3), lambda x: np.broadcast_to(x, (2, 3)), [(3,)]),
    ("alloc_tuple", lambda x: T.alloc(x, (2, 3)), lambda x: np.broadcast_to(x, (2, 3)), [(1, 3)]),
    (
        "alloc_symbolic",
        lambda x, y: T.alloc(x, T.shape_i(y, 0), 3),
        lambda x, y: np.broadcast_to(x, (4, 3)),
        [(1, 3), (4,)],
    ),
    (
        "shape_vector",
        lambda x, y: T.broadcast_to(x, T.shape(y)),
        lambda x, y: np.broadcast_to(x, y.shape),
        [(3, 1), (3, 4)],
    ),
]


@pytest.mark.parametrize("row", ALLOC_ROWS, ids=ids(ALLOC_ROWS))
def test_alloc(row, rng):
    check_row(row, rng)


def test_alloc_numba(rng):
    check_table_numba(ALLOC_ROWS, rng)


def test_alloc_static_shape():
    n = T.lscalar("n")
    assert T.alloc(0.5, 2, 3).type == sn.TensorType("float64", (2, 3))
    assert T.alloc(static((None, 3)), n, 3).type.shape == (None, 3)
    # a non-1 static length of the value survives a symbolic target length
    assert T.alloc(static((4,)), 2, n).type.shape == (2, 4)
    assert T.broadcast_to(T.dmatrix(), (n, 2)).type.shape == (None, 2)
    assert sn.pp(T.alloc(T.dscalar("v"), 2, 3)) == "alloc(v, [2, 3])"


@pytest.mark.parametrize("mode", MODES)
def test_alloc_run_time_errors(mode):
    x, n = T.dvector("x"), T.lscalar("n")
    f = sn.function([x, n], [T.alloc(x, 2, n), T.zeros((2, n))], mode=mode)
    got = f(np.arange(3.0), 3)
    np.testing.assert_array_equal(got[0], np.broadcast_to(np.arange(3.0), (2, 3)))
    np.testing.assert_array_equal(f(np.arange(1.0), 3)[0], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"alloc: cannot broadcast .*\(3,\) to shape \(2, 4\)"):
        f(np.arange(3.0), 4)
    with pytest.raises(ValueError, match="negative dimension"):
        f(np.arange(1.0), -1)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: T.broadcast_to(static((3,)), (2, 4)), "cannot broadcast"),
        (lambda: T.broadcast_to(T.dmatrix(), (3,)), "to 1 dimensions"),
        (lambda: T.zeros((2, -1)), "negative dimension"),
    ],
)
def test_alloc_build_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize("mode", MODES)
def test_zeros_ones(mode):
    n = T.lscalar("n")
    cases = [
        ((n, 3), None, (2, 3), "float64"),
        ((2, 3), "int32", (2, 3), "int32"),
        (4, "float32", (4,), "float32"),
        ((), None, (), "float64"),
        ((0, 2), "bool", (0, 2), "bool"),
    ]
    outputs, expected = [], []
    for fn, np_fn in [(T.zeros, np.zeros), (T.ones, np.ones)]:
        for shape, dtype, value_shape, value_dtype in cases:
            out = fn(shape, dtype=dtype)
            static_shape = value_shape if shape is not cases[0][0] else (None, 3)
            assert out.type == sn.TensorType(value_dtype, static_shape)
            outputs.append(out)
            expected.append(np_fn(value_shape, dtype=value_dtype))
    got = sn.function([n], outputs, mode=mode)(2)
    for value, want in zip(got, expected):
        assert value.dtype == want.dtype
        np.testing.assert_array_equal(value, want)


@pytest.mark.parametrize("mode", MODES)
def test_zeros_like_ones_like(mode, rng):
    x = T.fmatrix("x")
    value = data(rng, (2, 3), "float32")
    z, o, zi = T.zeros_like(x), T.ones_like(x), T.zeros_like(x, dtype="int8")
    assert (z.dtype, o.dtype, zi.dtype) == ("float32", "float32", "int8")
    got = run([x], [z, o, zi], [value], mode)
    np.testing.assert_array_equal(got[0], np.zeros_like(value))
    np.testing.assert_array_equal(got[1], np.ones_like(value))
    assert got[2].dtype == np.int8
    assert isinstance(T.ones_like(T.dscalar()), sn.Constant)


# --- sum_to_shape -------------------------------------------------------------------------------

UNBROADCASTS = [
    # (gradient shape, input shape)
    ((3, 4), (3, 4)),
    ((3, 4), (1, 4)),
    ((3, 4), (3, 1)),
    ((3, 4), (1, 1)),
    ((2, 3, 4), (1, 3, 1)),
    ((1, 4), (1, 4)),
    ((5,), (1,)),
    ((), ()),
    ((0, 3), (1, 3)),
]


def _unbroadcast_reference(g, x):
    axes = tuple(a for a, (gs, xs) in enumerate(zip(g.shape, x.shape)) if gs != xs)
    return g.sum(axis=axes, keepdims=True) if axes else g


SUM_TO_SHAPE_ROWS = [
    (
        f"{gshape}->{xshape}",
        lambda g, x: sum_to_shape(g, x),
        _unbroadcast_reference,
        [gshape, xshape],
    )
    for gshape, xshape in UNBROADCASTS
] + [
    (
        "float32",
        lambda g, x: sum_to_shape(g, x),
        _unbroadcast_reference,
        [((3, 4), "float32"), ((1, 4), "float32")],
    ),
    (
        "transposed",
        lambda g, x: sum_to_shape(g.T, x),
        lambda g, x: _unbroadcast_reference(g.T, x),
        [(4, 3), (3, 1)],
    ),
    # the op's own gradient broadcasts back to g's shape
    ("op", lambda g, x: SumToShape()(g, Shape()(x)), _unbroadcast_reference, [(3, 4), (3, 1)]),
    (
        "alloc_op",
        lambda v: Alloc()(v, (2, 3)) * 2.0,
        lambda v: np.broadcast_to(v, (2, 3)) * 2,
        [(1, 3)],
    ),
]


@pytest.mark.parametrize("row", SUM_TO_SHAPE_ROWS, ids=ids(SUM_TO_SHAPE_ROWS))
def test_sum_to_shape(row, rng):
    check_row(row, rng)


def test_sum_to_shape_numba(rng):
    check_table_numba(SUM_TO_SHAPE_ROWS, rng)


@pytest.mark.parametrize("mode", MODES)
def test_sum_to_shape_run_time_error(mode, rng):
    g, x = T.dmatrix("g"), T.dmatrix("x")
    f = sn.function([g, x], sum_to_shape(g, x), mode=mode)
    with pytest.raises(ValueError, match="sum_to_shape"):
        f(data(rng, (3, 4)), data(rng, (2, 4)))
    with pytest.raises(ValueError, match="sum_to_shape"):
        f(data(rng, (1, 4)), data(rng, (3, 4)))


def test_sum_to_shape_graph():
    g = static((None, 3))
    # known length-1 axes are summed statically, no run-time node
    out = sum_to_shape(g, static((1, 3)))
    assert out.type.shape == (1, 3) and not isinstance(out.owner.op, SumToShape)
    # leading axes are summed away
    assert sum_to_shape(static((2, None, 3)), static((None, 3))).ndim == 2
    # an input that may be 1 at run time needs the run-time op
    x = T.dmatrix("x")
    assert isinstance(sum_to_shape(T.dmatrix(), x).owner.op, SumToShape)
    # provably the same shape (allocated to shape(x)): nothing to do
    same = T.broadcast_to(T.dscalar(), T.shape(x))
    assert sum_to_shape(same, x) is same
    # nothing to do for equal static shapes
    s = static((2, 3))
    assert sum_to_shape(s, static((2, 3))) is s
    with pytest.raises(ValueError, match="below input rank"):
        sum_to_shape(T.dvector(), T.dmatrix())


@pytest.mark.parametrize(
    "xshape, yshape",
    [((3, 1), (1, 4)), ((3, 4), (4,)), ((1, 1), (3, 4)), ((), (3, 4)), ((2, 1, 4), (3, 1))],
    ids=str,
)
def test_broadcasting_gradients(xshape, yshape, rng):
    check_op(
        lambda x, y: x * y,
        [data(rng, xshape), data(rng, yshape)],
        lambda x, y: x * y,
        modes=("python",),
    )


# --- squeeze ------------------------------------------------------------------------------------

SQUEEZES = [((1, 4), 0), ((3, 1), -1), ((1, 3, 1), (0, 2)), ((1,), 0), ((1, 1), None), ((3, 4), ())]
SQUEEZE_ROWS = [
    (
        f"{shape}-{axis}",
        lambda x, axis=axis: T.squeeze(x, axis),
        lambda x, axis=axis: x if axis is None else np.squeeze(x, axis=axis),
        [shape],
    )
    for shape, axis in SQUEEZES
] + [
    # reshape makes length-1 axes static: squeeze without axis drops them all
    ("static_all", lambda x: T.squeeze(T.reshape(x, (1, 3, 1, 4))), lambda x: x, [(3, 4)]),
    ("static_method", lambda x: x.reshape((1, 5)).squeeze(0), lambda x: x, [(5,)]),
]


@pytest.mark.parametrize("row", SQUEEZE_ROWS, ids=ids(SQUEEZE_ROWS))
def test_squeeze(row, rng):
    check_row(row, rng)


def test_squeeze_numba(rng):
    check_table_numba(SQUEEZE_ROWS, rng)


def test_squeeze_static_shape():
    x = static((1, None, 1))
    assert T.squeeze(x).type.shape == (None,)
    assert isinstance(T.squeeze(x).owner.op, DimShuffle)
    assert T.squeeze(x, -1).type.shape == (1, None)
    assert T.squeeze(static((None, 1)), 0).type.shape == (1,)
    assert isinstance(T.squeeze(static((None, 1)), 0).owner.op, Squeeze)
    y = T.dmatrix()
    assert T.squeeze(y) is y


@pytest.mark.parametrize("mode", MODES)
def test_squeeze_bad_axis_at_run_time(mode):
    x = T.dmatrix("x")
    f = sn.function([x], T.squeeze(x, 0), mode=mode)
    np.testing.assert_array_equal(f(np.ones((1, 3))), np.ones(3))
    with pytest.raises(ValueError, match="squeeze"):
        f(np.ones((2, 3)))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: T.squeeze(static((3, 4)), 0), "static length 3, not 1"),
        (lambda: T.squeeze(T.dmatrix(), 2), "out of range"),
        (lambda: T.squeeze(T.dmatrix(), (0, 0)), "repeated"),
    ],
)
def test_squeeze_build_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# --- concatenate, split, stack ------------------------------------------------------------------

CONCATS = [
    (((3, 4), (2, 4)), 0),
    (((3, 4), (3, 1)), 1),
    (((3, 4), (3, 2)), -1),
    (((5,), (2,), (1,)), 0),
    (((2, 3, 4), (2, 1, 4)), 1),
    (((0, 4), (2, 4)), 0),
    ((((2, 3), "float32"), ((1, 3), "float32")), 0),
    ((((2, 3), "float32"), (1, 3)), 0),
]
STACKS = [((), 2, 0), ((5,), 3, 0), ((5,), 2, -1), ((3, 4), 2, 2), ((1, 4), 2, 1)]
SPLITS = [((5, 2), (2, 3), 0), ((2, 6), (1, 0, 5), 1), ((4,), (4,), 0)]


def _split_build(sizes, axis):
    def build(x):
        pieces = split(x, sizes, axis=axis)
        return T.concatenate([p * (k + 1) for k, p in enumerate(pieces)], axis=axis)

    return build


def _split_reference(sizes, axis):
    def reference(x):
        pieces = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
        return np.concatenate([p * (k + 1) for k, p in enumerate(pieces)], axis=axis)

    return reference


JOIN_ROWS = (
    [
        (
            f"concatenate-{specs}-{axis}",
            lambda *xs, axis=axis: T.concatenate(list(xs), axis=axis),
            lambda *xs, axis=axis: np.concatenate(xs, axis=axis),
            list(specs),
        )
        for specs, axis in CONCATS
    ]
    + [
        (
            f"stack-{shape}x{count}-{axis}",
            lambda *xs, axis=axis: T.stack(list(xs), axis=axis),
            lambda *xs, axis=axis: np.stack(xs, axis=axis),
            [shape] * count,
        )
        for shape, count, axis in STACKS
    ]
    + [
        (
            f"split-{shape}-{sizes}-{axis}",
            _split_build(sizes, axis),
            _split_reference(sizes, axis),
            [shape],
        )
        for shape, sizes, axis in SPLITS
    ]
    + [
        (
            "concatenate_int",
            lambda i, b: T.concatenate([T.cast(i, "int32"), b]),
            lambda i, b: np.concatenate([i.astype("int32"), b]),
            [(2, 3), (1, 3)],
        ),
    ]
)


@pytest.mark.parametrize("row", JOIN_ROWS, ids=ids(JOIN_ROWS))
def test_join(row, rng):
    check_row(row, rng)


def test_join_numba(rng):
    skip = {
        "concatenate-((3, 4), (3, 1))-1",
        "concatenate-(((2, 3), 'float32'), ((1, 3), 'float32'))-0",
        "stack-(5,)x3-0",
        "stack-(5,)x2--1",
        "stack-(1, 4)x2-1",
        "split-(5, 2)-(2, 3)-0",
        "split-(4,)-(4,)-0",
    }
    check_table_numba(JOIN_ROWS, rng, skip)


def test_concatenate_dtypes_static_shape_and_pp():
    assert T.concatenate([T.ivector(), T.lvector()]).dtype == "int64"
    assert T.concatenate([T.fvector(), T.fvector()]).dtype == "float32"
    assert T.concatenate([T.fvector(), T.dvector()]).dtype == "float64"
    assert T.concatenate([T.ivector(), T.fvector()]).dtype == "float64"
    a, b = static((2, 3), name="a"), static((None, 3), name="b")
    assert T.concatenate([a, b]).type.shape == (None, 3)
    assert T.concatenate([a, a]).type.shape == (4, 3)
    assert T.concatenate([a, b], axis=1).type.shape == (2, 6)
    assert T.concatenate([b, b], axis=1).type.shape == (None, 6)
    assert sn.pp(T.concatenate([a, b])) == "concatenate(a, b, axis=0)"
    assert T.concatenate([a]) is a


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: T.concatenate([static((2, 3)), static((2, 4))]), ValueError, "differ on axis 1"),
        (lambda: T.concatenate([T.dmatrix(), T.dvector()]), ValueError, "same rank"),
        (lambda: T.concatenate([T.dscalar(), T.dscalar()]), ValueError, "0-d"),
        (lambda: T.concatenate([T.dmatrix()], axis=2), ValueError, "out of range"),
        (lambda: T.concatenate([]), ValueError, "at least one"),
        (lambda: T.concatenate(T.dmatrix()), TypeError, "list or tuple"),
        (lambda: T.stack([T.dmatrix(), T.dvector()]), ValueError, "same rank"),
        (lambda: T.stack([T.dvector()], axis=2), ValueError, "out of range"),
        (lambda: split(static((5,)), (2, 2)), ValueError, "do not add up"),
        (lambda: split(T.dvector(), (2, -1)), ValueError, "negative piece size"),
    ],
)
def test_join_build_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("mode", MODES)
def test_concatenate_run_time_shape_mismatch(mode, rng):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = sn.function([a, b], T.concatenate([a, b], axis=0), mode=mode)
    assert f(data(rng, (2, 3)), data(rng, (1, 3))).shape == (3, 3)
    with pytest.raises(ValueError, match="concatenate"):
        f(data(rng, (2, 3)), data(rng, (2, 4)))


def test_stack_static_shape_and_as_tensor():
    x, y = T.dscalars("x", "y")
    assert T.stack([x, y, x]).type.shape == (3,)
    assert T.stack([static((None, 4)), static((2, None))], axis=1).type.shape == (2, 2, 4)
    v = T.as_tensor([x, 1.0, y])
    assert v.type.shape == (3,)
    np.testing.assert_array_equal(v.eval({x: 2.0, y: 3.0}), [2.0, 1.0, 3.0])


@pytest.mark.parametrize("mode", MODES)
def test_split_run_time_errors(mode):
    x, n = T.dvector("x"), T.lscalar("n")
    a, b = split(x, (n, 2))
    assert b.type.shape == (2,)
    assert Split(0, 2).make_node(x, (n, 2)).outputs[0].type.shape == (None,)
    f = sn.function([x, n], [a, b], mode=mode)
    got = f(np.arange(5.0), 3)
    np.testing.assert_array_equal(got[0], [0, 1, 2])
    np.testing.assert_array_equal(got[1], [3, 4])
    with pytest.raises(ValueError, match="split"):
        f(np.arange(5.0), 2)
    with pytest.raises(ValueError, match="split"):
        f(np.arange(5.0), -1)


# --- arange, eye --------------------------------------------------------------------------------

ARANGES = [
    ((5,), {}),
    ((2, 10, 3), {}),
    ((5, 0, -2), {}),
    ((5, 0), {}),
    ((0, 1, 0.25), {}),
    ((0.5, 3.2), {}),
    ((-1.0, 1.0, 0.3), {}),
    ((0, 5, 1), {"dtype": "float32"}),
    ((0, 1, 0.1), {"dtype": "float32"}),
    ((0.5, 5.0), {"dtype": "int32"}),
    ((3,), {"dtype": "uint8"}),
]


@pytest.mark.parametrize("mode", MODES)
def test_arange_constant_bounds(mode):
    outputs, expected = [], []
    for args, kwargs in ARANGES:
        want = np.arange(*args, **kwargs)
        out = T.arange(*args, **kwargs)
        assert out.type == sn.TensorType(want.dtype, want.shape), (args, kwargs)
        outputs.append(out)
        expected.append(want)
    got = sn.function([], outputs, mode=mode)()
    for value, want, case in zip(got, expected, ARANGES):
        assert value.dtype == want.dtype, case
        np.testing.assert_array_equal(value, want, err_msg=str(case))


SYMBOLIC_ARANGES = [
    # (bound dtypes, bound values, kwargs)
    (("int64",), (5,), {}),
    (("int32",), (4,), {}),
    (("int64", "int64", "int64"), (10, 1, -3), {}),
    (("int64", "int64"), (5, 2), {}),
    (("float64", "float64"), (0.5, 3.0), {}),
    (("float32", "float32", "float32"), (0.0, 1.0, 0.1), {}),
    (("int64",), (4,), {"dtype": "float32"}),
    (("float64", "float64", "float64"), (-1.0, 1.0, 0.3), {"dtype": "float32"}),
    (("float64", "float64", "float64"), (0.0, 2.0, 0.25), {"dtype": "int16"}),
]


@pytest.mark.parametrize("mode", MODES)
def test_arange_symbolic_bounds(mode):
    sym, values, outputs, expected = [], [], [], []
    for dtypes, bounds, kwargs in SYMBOLIC_ARANGES:
        row_sym = [T.tensor(d, shape=()) for d in dtypes]
        row_values = [np.asarray(v, dtype=d)[()] for v, d in zip(bounds, dtypes)]
        want = np.arange(*row_values, **kwargs)
        out = T.arange(*row_sym, **kwargs)
        assert out.type == sn.TensorType(want.dtype, (None,)), (dtypes, kwargs)
        sym += row_sym
        values += row_values
        outputs.append(out)
        expected.append(want)
    got = sn.function(sym, outputs, mode=mode)(*values)
    for value, want, case in zip(got, expected, SYMBOLIC_ARANGES):
        assert value.dtype == want.dtype, case
        np.testing.assert_allclose(value, want, rtol=1e-6, err_msg=str(case))


@pytest.mark.parametrize("mode", MODES)
def test_arange_zero_step(mode):
    step = T.lscalar("step")
    f = sn.function([step], T.arange(0, 5, step), mode=mode)
    np.testing.assert_array_equal(f(2), [0, 2, 4])
    with pytest.raises(ValueError, match="step must not be zero"):
        f(0)


def test_arange_build_errors_and_pp():
    with pytest.raises(ValueError, match="step must not be zero"):
        T.arange(0, 5, 0)
    with pytest.raises(TypeError, match="int or float scalar"):
        T.arange(T.dvector())
    with pytest.raises(TypeError, match="bool"):
        T.arange(3, dtype="bool")
    assert sn.pp(T.arange(T.lscalar("n"))) == "arange(0, n, 1, dtype=int64)"


def test_arange_in_graphs(rng):
    # a float range feeding differentiable math: its bounds get no gradient
    check_op(
        lambda x: x * T.arange(T.shape_i(x, 0), dtype="float64"),
        [data(rng, (4,))],
        lambda x: x * np.arange(4.0),
        modes=("python",),
    )


EYES = [
    ((3,), {}),
    ((2, 4), {}),
    ((4, 2, -1), {}),
    ((3, 3, 1), {}),
    ((3, 3, 5), {}),
    ((3, None, -2), {"dtype": "int32"}),
    ((0,), {}),
    ((2,), {"dtype": "bool"}),
    ((2,), {"dtype": "float32"}),
]


@pytest.mark.parametrize("mode", MODES)
def test_eye(mode):
    n, m, k = T.lscalar("n"), T.iscalar("m"), T.lscalar("k")
    outputs, expected = [], []
    for args, kwargs in EYES:
        want = np.eye(*args, **kwargs)
        out = T.eye(*args, **kwargs)
        assert out.type == sn.TensorType(want.dtype, want.shape), (args, kwargs)
        outputs.append(out)
        expected.append(want)
    symbolic = T.eye(n, m, k)
    assert symbolic.type.shape == (None, None)
    assert T.eye(n, 3).type.shape == (None, 3)
    got = sn.function([n, m, k], outputs + [symbolic], mode=mode)
    for value, want, case in zip(got(4, 3, 1), expected + [np.eye(4, 3, 1)], EYES + ["symbolic"]):
        assert value.dtype == want.dtype, case
        np.testing.assert_array_equal(value, want, err_msg=str(case))
    np.testing.assert_array_equal(got(2, 3, -1)[-1], np.eye(2, 3, -1))
    with pytest.raises(ValueError, match="negative dimension"):
        got(-1, 3, 0)


def test_eye_build_errors():
    with pytest.raises(TypeError, match="int scalar"):
        T.eye(T.dscalar())
    with pytest.raises(ValueError, match="negative dimension"):
        T.eye(-2)


# --- views, and gradients on the numba backend --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_view_outputs_do_not_alias_inputs(mode):
    x, other = T.dmatrix("x"), T.dmatrix("other")
    outputs = [
        x.T,
        T.reshape(x, (-1,)),
        T.squeeze(x, 0),
        split(x, (1, 2), axis=1)[1],
        sum_to_shape(x, other),
    ]
    for out in outputs:
        assert getattr(out.owner.op, "may_return_view", False), out.owner.op
    value = np.arange(3.0).reshape(1, 3)
    got = sn.function([x, other], outputs, mode=mode)(value, value.copy())
    for out in got:
        assert not np.shares_memory(out, value)
    np.testing.assert_array_equal(got[1], [0.0, 1.0, 2.0])


NUMBA_GRADS = [
    # gradient graphs of the view, join and broadcast ops, checked in one verify_grad
    ((3, 4), lambda x: x.T * 1.5),
    ((1, 4), lambda x: T.squeeze(x, 0)),
    ((3, 4), lambda x: T.reshape(x.T, (2, -1))),
    ((3, 4), lambda x: T.concatenate([x, x], axis=1)),
    ((5, 2), lambda x: split(x, (2, 3))[1]),
    ((3, 1), lambda x: T.broadcast_to(x, (3, 4))),
]


@pytest.mark.slow  # one large gradient kernel: ~20 s to compile on a cold cache
def test_gradients_numba(rng):
    points = [data(rng, shape) for shape, _ in NUMBA_GRADS]

    def build(*xs):
        # a sum of squares weights every element by its own (distinct) value
        total = T.sum(T.sqr(NUMBA_GRADS[0][1](xs[0])))
        for x, (_, fn) in zip(xs[1:], NUMBA_GRADS[1:]):
            total = total + T.sum(T.sqr(fn(x)))
        return total

    sn.verify_grad(build, points, mode="numba")
