"""Tests for symnet/ops/linalg.py: dot, matmul, outer, tensordot against NumPy on both
backends, their gradients, dtypes, static shapes and error messages."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.ops.linalg import BatchedMatmul, Dot, TensorDot
from tests.helpers import MODES, check_op

DTYPES = ["float64", "float32", "int64"]
RTOL = {"float64": 1e-10, "float32": 1e-5, "int64": 0}


def _values(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-2.0, 2.0, size=shape).astype(dtype)
    return rng.integers(-5, 6, size=shape).astype(dtype)


def check_cases(cases, dtype, rng, *, grad=True):
    """check_op for a whole table: every case ``(label, shapes, build, reference)`` goes into
    ONE compiled function per backend (one kernel instead of one per case). Values and dtypes
    are compared with NumPy per case, inputs must stay unmodified, and one verify_grad per
    backend checks the gradients of a weighted sum of all cases (random weights per element,
    so every output element of every case is seeded differently)."""
    inputs, syms, outs, expected, spans = [], [], [], [], []
    for label, shapes, build, reference in cases:
        values = [_values(rng, s, dtype) for s in shapes]
        case_syms = [T.tensor(dtype, shape=(None,) * len(s), name=f"{label}_{i}")
                     for i, s in enumerate(shapes)]
        spans.append((len(inputs), len(inputs) + len(shapes)))
        inputs.extend(values)
        syms.extend(case_syms)
        outs.append(build(*case_syms))
        expected.append(np.asarray(reference(*[v.copy() for v in values])))
    for out, exp, case in zip(outs, expected, cases):
        assert out.dtype == exp.dtype.name, (case[0], out.dtype, exp.dtype)
        assert out.ndim == exp.ndim, (case[0], out.ndim, exp.ndim)
    for mode in MODES:
        copies = [v.copy() for v in inputs]
        got = sn.function(syms, outs, mode=mode, on_unused_input="ignore")(*copies)
        for value, exp, case in zip(got, expected, cases):
            message = f"{case[0]} ({mode})"
            assert value.dtype == exp.dtype and value.shape == exp.shape, message
            # a dot product's rounding error scales with sum(|a| |b|), not with the result: a
            # float32 entry that nearly cancels needs an absolute bound of that size
            scale = float(np.max(np.abs(exp))) if np.size(exp) else 0.0
            atol = 16 * np.finfo(np.float32).eps * scale if dtype == "float32" else 0.0
            np.testing.assert_allclose(value, exp, rtol=RTOL[dtype], atol=atol, err_msg=message)
        for original, copy in zip(inputs, copies):
            np.testing.assert_array_equal(original, copy)
    if not grad:
        return
    weights = [rng.uniform(0.5, 1.5, size=exp.shape) for exp in expected]

    def weighted_sum(*xs):
        total = 0.0
        for (first, last), (_, _, build, _), w in zip(spans, cases, weights):
            total = total + T.sum(build(*xs[first:last]) * w)
        return total

    for mode in MODES:
        sn.verify_grad(weighted_sum, [v.astype("float64") for v in inputs], mode=mode)


def _rows(build, reference, table):
    return [(str(shapes), shapes, build, reference) for shapes in table]


# --- dot -------------------------------------------------------------------------------------------

DOT_SHAPES = [
    ((), ()),
    ((), (3,)),
    ((3, 4), ()),
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 2)),
    ((3, 4), (4, 2)),
    ((1, 4), (4, 1)),
    ((0, 4), (4, 2)),
    ((3, 0), (0, 2)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (5, 4, 2)),
    ((3, 4), (2, 4, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_dot_matches_numpy(dtype, rng):
    check_cases(_rows(T.dot, np.dot, DOT_SHAPES), dtype, rng, grad=dtype == "float64")


def test_dot_check_op(rng):
    """The single-op path of the shared helper, matrix times matrix."""
    check_op(T.dot, [_values(rng, (3, 4), "float64"), _values(rng, (4, 2), "float64")], np.dot)


def test_dot_float32_stays_float32(mode, rng):
    x, w = T.fmatrix("x"), T.fmatrix("w")
    y = T.dot(x, w)
    assert y.dtype == "float32"
    xv, wv = _values(rng, (3, 4), "float32"), _values(rng, (4, 2), "float32")
    got = sn.function([x, w], y, mode=mode)(xv, wv)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, xv @ wv, rtol=1e-5)
    # the gradient keeps the input dtype too
    gw = sn.grad(T.sum(y), w)
    assert gw.dtype == "float32"
    got_gw = sn.function([x, w], gw, mode=mode)(xv, wv)
    assert got_gw.dtype == np.float32
    np.testing.assert_allclose(got_gw, xv.T @ np.ones((3, 2), np.float32), rtol=1e-5)


# one float32 pair and one integer pair per mixed-rank case keeps the compile count low
MIXED_DTYPES = [
    ("int64", "float32"),
    ("int32", "int64"),
    ("float32", "float64"),
    ("int32", "float32"),
    ("int8", "uint8"),
    ("bool", "bool"),
    ("bool", "int32"),
    ("uint64", "int64"),
]


def test_dot_mixed_dtypes_follow_numpy(rng):
    """Every dtype pair and rank pair in one function per backend."""
    syms, outs, values, expected = [], [], [], []
    for dtype_a, dtype_b in MIXED_DTYPES:
        for shape_a, shape_b in [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((2, 3, 4), (2, 4, 2))]:
            a = rng.integers(0, 4, size=shape_a).astype(dtype_a)
            b = rng.integers(0, 4, size=shape_b).astype(dtype_b)
            x = T.tensor(dtype_a, shape=(None,) * a.ndim)
            y = T.tensor(dtype_b, shape=(None,) * b.ndim)
            out = T.matmul(x, y)
            assert out.dtype == np.matmul(a, b).dtype.name, (dtype_a, dtype_b, out.dtype)
            syms += [x, y]
            values += [a, b]
            outs.append(out)
            expected.append((f"{dtype_a} {shape_a} @ {dtype_b} {shape_b}", np.matmul(a, b)))
    for mode in MODES:
        got = sn.function(syms, outs, mode=mode)(*values)
        for value, (label, exp) in zip(got, expected):
            assert value.dtype == exp.dtype, (mode, label, value.dtype)
            np.testing.assert_array_equal(value, exp, err_msg=f"{label} ({mode})")


def test_dot_int8_wraps_like_numpy():
    a = np.full((2, 3), 100, dtype="int8")
    b = np.full((3,), 100, dtype="int8")
    x, y = T.tensor("int8", shape=(None, None)), T.tensor("int8", shape=(None,))
    for mode in MODES:
        got = sn.function([x, y], T.dot(x, y), mode=mode)(a, b)
        np.testing.assert_array_equal(got, np.dot(a, b), err_msg=mode)


def test_dot_static_shapes():
    a = T.tensor("float64", shape=(3, 4), name="a")
    b = T.tensor("float64", shape=(4, None), name="b")
    v = T.tensor("float64", shape=(4,), name="v")
    assert T.dot(a, b).type.shape == (3, None)
    assert T.dot(a, v).type.shape == (3,)
    assert T.dot(v, b).type.shape == (None,)
    assert T.dot(v, v).type.shape == ()
    s = T.tensor("float64", shape=(2, 4, 5), name="s")
    assert T.dot(a, s).type.shape == (3, 2, 5)
    assert T.dot(2.0, a).type.shape == (3, 4)


def test_dot_vector_vector_is_0d_array(mode):
    u, v = T.dvectors("u", "v")
    got = sn.function([u, v], T.dot(u, v), mode=mode)(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert isinstance(got, np.ndarray) and got.shape == () and float(got) == 11.0


def test_dot_python_scalar_follows_numpy():
    x = T.fvector("x")
    assert T.dot(x, 2.0).dtype == np.dot(np.ones(3, np.float32), 2.0).dtype.name


def test_dot_static_mismatch_names_both_shapes():
    a = T.tensor("float64", shape=(3, 4), name="a")
    b = T.tensor("float64", shape=(5, 2), name="b")
    with pytest.raises(ValueError, match=r"dot: shapes \(3, 4\) of a and \(5, 2\) of b"):
        T.dot(a, b)
    s = T.tensor("float64", shape=(2, 5, 3), name="s")
    with pytest.raises(ValueError, match=r"dot: shapes \(3, 4\) of a and \(2, 5, 3\) of s"):
        T.dot(a, s)


@pytest.mark.parametrize("shapes", [((3, 4), (5, 2)), ((4,), (5,))], ids=str)
def test_dot_runtime_mismatch_names_op_and_shapes(shapes, mode):
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    x = T.tensor("float64", shape=(None,) * a.ndim)
    y = T.tensor("float64", shape=(None,) * b.ndim)
    f = sn.function([x, y], T.dot(x, y), mode=mode)
    pattern = rf"dot: shapes {re_shape(shapes[0])} and {re_shape(shapes[1])} are not aligned"
    with pytest.raises(ValueError, match=pattern):
        f(a, b)


def test_dot_runtime_mismatch_int(mode):
    x, y = T.lmatrices("x", "y")
    f = sn.function([x, y], T.dot(x, y), mode=mode)
    with pytest.raises(ValueError, match=r"dot: shapes \(2, 3\) and \(2, 3\) are not aligned"):
        f(np.ones((2, 3), "int64"), np.ones((2, 3), "int64"))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_dot_noncontiguous_inputs(mode, rng):
    """Transposed graph views, Fortran-ordered and strided arguments all go through."""
    x, w = T.dmatrices("x", "w")
    v = T.dvector("v")
    f = sn.function([x, w, v], [T.dot(x.T, w), T.dot(x, w.T), T.dot(x.T, v)], mode=mode)
    xv = np.asfortranarray(rng.standard_normal((4, 3)))
    wv = rng.standard_normal((8, 6))[::2, ::2]  # (4, 3), strided
    vv = rng.standard_normal(8)[::2]
    got = f(xv, wv, vv)
    np.testing.assert_allclose(got[0], xv.T @ wv)
    np.testing.assert_allclose(got[1], xv @ wv.T)
    np.testing.assert_allclose(got[2], xv.T @ vv)


def test_dot_grad_int_input(mode, rng):
    """The gradient flows to the float operand only; the int one has none."""
    xi, w = T.lmatrix("xi"), T.dmatrix("w")
    gw = sn.grad(T.sum(T.dot(xi, w)), w)
    xv = rng.integers(-3, 4, size=(3, 4))
    wv = rng.standard_normal((4, 2))
    got = sn.function([xi, w], gw, mode=mode)(xv, wv)
    np.testing.assert_allclose(got, xv.T @ np.ones((3, 2)))
    assert Dot().grad([xi, w], [T.dmatrix()])[0] is None


def test_dot_pp_and_operator():
    x, w = T.dmatrices("x", "w")
    assert sn.pp(T.dot(x, w)) == "dot(x, w)"
    assert sn.pp(x @ w) == "dot(x, w)"
    assert sn.pp(x.dot(w)) == "dot(x, w)"


# --- matmul ----------------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 2)),
    ((3, 4), (4, 2)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (2, 4, 2)),
    ((2, 1, 3, 4), (1, 3, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
    ((0, 3, 4), (4, 2)),
    ((2, 3, 0), (2, 0, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_matches_numpy(dtype, rng):
    check_cases(_rows(T.matmul, np.matmul, MATMUL_SHAPES), dtype, rng, grad=dtype == "float64")


def test_matmul_operator_and_rmatmul(mode, rng):
    a = T.dtensor3("a")
    b = rng.standard_normal((4, 2))
    av = rng.standard_normal((2, 3, 4))
    got = sn.function([a], [a @ b, b.T @ a.dimshuffle(0, 2, 1)], mode=mode)(av)
    np.testing.assert_allclose(got[0], av @ b)
    np.testing.assert_allclose(got[1], b.T @ av.transpose(0, 2, 1))


def test_matmul_batched_mixed_dtypes(mode, rng):
    a = rng.integers(-3, 4, size=(2, 3, 4)).astype("int32")
    b = rng.uniform(-1, 1, size=(1, 4, 2)).astype("float32")
    x = T.tensor("int32", shape=(None, None, None))
    y = T.tensor("float32", shape=(None, None, None))
    out = T.matmul(x, y)
    expected = np.matmul(a, b)
    assert out.dtype == expected.dtype.name == "float64"
    got = sn.function([x, y], out, mode=mode)(a, b)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected)
    bb = rng.integers(0, 2, size=(2, 4, 3)).astype(bool)
    z = T.tensor("bool", shape=(None, None, None))
    got = sn.function([z], T.matmul(z, z.dimshuffle(0, 2, 1)), mode=mode)(bb)
    np.testing.assert_array_equal(got, np.matmul(bb, bb.transpose(0, 2, 1)))


def test_matmul_static_shapes():
    a = T.tensor("float64", shape=(None, 1, 2, 3), name="a")
    b = T.tensor("float64", shape=(5, 3, 4), name="b")
    assert T.matmul(a, b).type.shape == (None, 5, 2, 4)
    v = T.tensor("float64", shape=(3,), name="v")
    assert T.matmul(v, b).type.shape == (5, 4)
    assert T.matmul(a, v).type.shape == (None, 1, 2)
    assert T.matmul(T.tensor("float64", shape=(2, 3)), v).type.shape == (2,)


def test_matmul_0d_raises():
    x, s = T.dmatrix("x"), T.dscalar("s")
    with pytest.raises(ValueError, match=r"matmul: operand 1 \(s\) is 0-d"):
        T.matmul(x, s)
    with pytest.raises(ValueError, match=r"matmul: operand 0 \(s\) is 0-d"):
        s @ x


def test_matmul_static_mismatch_names_both_shapes():
    a = T.tensor("float64", shape=(2, 3, 4), name="a")
    b = T.tensor("float64", shape=(2, 5, 6), name="b")
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3, 4\) of a and \(2, 5, 6\) of b"):
        T.matmul(a, b)
    c = T.tensor("float64", shape=(3, 4, 6), name="c")
    with pytest.raises(ValueError, match=r"matmul: the batch dimensions of \(2, 3, 4\).*\(3, 4, 6\)"):
        T.matmul(a, c)
    with pytest.raises(ValueError, match=r"dot: shapes \(2, 3\) of .* and \(4,\) of"):
        T.matmul(T.tensor("float64", shape=(2, 3)), T.tensor("float64", shape=(4,)))


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((2, 3, 4), (2, 5, 6)), r"matmul: shapes \(2, 3, 4\) and \(2, 5, 6\) are not aligned"),
        (((2, 3, 4), (3, 4, 6)), r"matmul: the batch dimensions of shapes \(2, 3, 4\) and \(3, 4, 6\)"),
    ],
    ids=["inner", "batch"],
)
def test_matmul_runtime_mismatch(shapes, message, mode):
    x, y = T.dtensor3("x"), T.dtensor3("y")
    f = sn.function([x, y], T.matmul(x, y), mode=mode)
    with pytest.raises(ValueError, match=message):
        f(np.ones(shapes[0]), np.ones(shapes[1]))


def test_matmul_noncontiguous_batches(mode, rng):
    """Per-matrix slices of transposed views are Fortran-ordered: no copy, same numbers."""
    a, b = T.dtensor3("a"), T.dtensor3("b")
    f = sn.function([a, b], T.matmul(a.dimshuffle(0, 2, 1), b.dimshuffle(2, 1, 0)), mode=mode)
    av = rng.standard_normal((2, 4, 3))
    bv = rng.standard_normal((5, 4, 2))
    np.testing.assert_allclose(f(av, bv), av.transpose(0, 2, 1) @ bv.transpose(2, 1, 0))


def test_matmul_grad_broadcast_batch_dims_static():
    """A statically broadcast batch axis is summed by the grad driver with a static sum."""
    a = T.tensor("float64", shape=(1, 3, 4), name="a")
    b = T.tensor("float64", shape=(5, 4, 2), name="b")
    ga, gb = sn.grad(T.sum(T.matmul(a, b)), [a, b])
    assert ga.type.shape == (1, 3, 4) and gb.type.shape == (5, 4, 2)
    av = np.arange(12.0).reshape(1, 3, 4)
    bv = np.arange(40.0).reshape(5, 4, 2)
    for mode in MODES:
        got_a, got_b = sn.function([a, b], [ga, gb], mode=mode)(av, bv)
        np.testing.assert_allclose(got_a, (np.ones((5, 3, 2)) @ bv.transpose(0, 2, 1)).sum(0, keepdims=True))
        np.testing.assert_allclose(got_b, np.broadcast_to(av.transpose(0, 2, 1), (5, 4, 3)) @ np.ones((5, 3, 2)))


def test_batched_matmul_op_needs_equal_ranks():
    with pytest.raises(TypeError, match="same rank, at least 3"):
        BatchedMatmul()(T.dtensor3(), T.dmatrix())
    with pytest.raises(TypeError, match="1-d or 2-d"):
        Dot()(T.dtensor3(), T.dmatrix())


# --- outer -----------------------------------------------------------------------------------------

OUTER_SHAPES = [((3,), (2,)), ((), (3,)), ((1,), (4,)), ((0,), (2,)), ((2, 3), (2,))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_outer_matches_numpy(dtype, rng):
    check_cases(_rows(T.outer, np.outer, OUTER_SHAPES), dtype, rng, grad=dtype == "float64")


def test_outer_check_op(rng):
    check_op(T.outer, [_values(rng, (3,), "float64"), _values(rng, (2,), "float64")], np.outer)


def test_outer_dtype():
    assert T.outer(T.fvector(), T.fvector()).dtype == "float32"
    assert T.outer(T.lvector(), T.fvector()).dtype == "float64"


# --- tensordot -------------------------------------------------------------------------------------

TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 5), 1),
    ((2, 3), (4,), 0),
    ((3, 4), (3, 4), 2),
    ((3,), (3,), 1),
    ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
    ((3, 2), (4, 5, 3), ([0], [2])),
    ((3, 2), (4, 5, 3), (0, 2)),
    ((2, 3, 4), (4, 3, 2), ([-1, 0], [0, -1])),
    ((2, 3, 4), (4, 3, 2), ([0, 1, 2], [2, 1, 0])),
    ((0, 3), (3, 2), 1),
]


def _tensordot_row(shape_a, shape_b, axes):
    return (f"{shape_a}, {shape_b}, axes={axes}", (shape_a, shape_b),
            lambda a, b: T.tensordot(a, b, axes=axes),
            lambda a, b: np.tensordot(a, b, axes=axes))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensordot_matches_numpy(dtype, rng):
    cases = [_tensordot_row(*case) for case in TENSORDOT_CASES]
    check_cases(cases, dtype, rng, grad=dtype == "float64")


def test_tensordot_default_axes_and_static_shape():
    a = T.tensor("float64", shape=(2, 3, 4), name="a")
    b = T.tensor("float64", shape=(3, 4, None), name="b")
    out = T.tensordot(a, b)
    assert out.type.shape == (2, None)
    assert isinstance(out.owner.op, TensorDot)
    assert T.tensordot(a, b, axes=0).type.shape == (2, 3, 4, 3, 4, None)
    m, v = T.dmatrix("m"), T.dvector("v")
    assert isinstance(T.tensordot(m, v, axes=1).owner.op, Dot)


def test_tensordot_pp():
    a, b = T.dtensor3("a"), T.dtensor3("b")
    assert sn.pp(T.tensordot(a, b, axes=([1, 2], [1, 0]))) == "tensordot(a, b, axes=([1, 2], [1, 0]))"


@pytest.mark.parametrize(
    "axes, error, message",
    [
        (3, ValueError, r"tensordot: axes=3 needs 0 <= axes"),
        (-1, ValueError, r"tensordot: axes=-1"),
        (([0, 1], [0]), ValueError, r"2 axes of the first operand cannot pair with 1"),
        (([3], [0]), ValueError, r"axis 3 is out of range for the 2-d a"),
        (([0, 0], [0, 1]), ValueError, r"repeated axis"),
        (([0.5], [0]), TypeError, r"axes must be ints"),
        ([[0], [1], [2]], TypeError, r"axes must be an int or a pair"),
        ("ab", TypeError, r"axes must be ints"),
    ],
)
def test_tensordot_bad_axes(axes, error, message):
    a = T.dmatrix("a")
    b = T.dtensor3("b")
    with pytest.raises(error, match=message):
        T.tensordot(a, b, axes=axes)


def test_tensordot_static_mismatch():
    a = T.tensor("float64", shape=(2, 3), name="a")
    b = T.tensor("float64", shape=(4, 2), name="b")
    with pytest.raises(ValueError, match=r"tensordot: shapes \(2, 3\) of a and \(4, 2\) of b .* axis 1 has length 3 but axis 0 has length 4"):
        T.tensordot(a, b, axes=([1], [0]))


def test_tensordot_runtime_mismatch(mode):
    """Summed axes of lengths (2, 3) against (3, 2): equal products, still an error."""
    a, b = T.dmatrices("a", "b")
    f = sn.function([a, b], T.tensordot(a, b, axes=([0, 1], [0, 1])), mode=mode)
    with pytest.raises(ValueError, match=r"tensordot: shapes \(2, 3\) and \(3, 2\) are not aligned"):
        f(np.ones((2, 3)), np.ones((3, 2)))


def test_dot_nd_runtime_mismatch(mode):
    a, b = T.dtensor3("a"), T.dmatrix("b")
    f = sn.function([a, b], T.dot(a, b), mode=mode)
    with pytest.raises(ValueError, match=r"tensordot: shapes \(2, 3, 4\) and \(5, 2\) are not aligned"):
        f(np.ones((2, 3, 4)), np.ones((5, 2)))
