"""Indexing: getitem (basic and advanced), set_subtensor, inc_subtensor (symnet/ops/subtensor.py)."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.graph import Constant
from symnet.ops import subtensor
from symnet.ops.subtensor import AdvancedSubtensor, BasicSubtensor, IncSubtensor
from tests.helpers import MODES, check_op

MASK_3x4 = np.array(
    [[True, False, True, False], [False, False, False, False], [True, True, False, True]]
)

# (id, x shape, fn, index values): fn(x, *indices) indexes x with the same Python syntax for a
# NumPy array and a symbolic tensor, so fn on the values is the reference.
GETITEM = [
    ("int", (5,), lambda x: x[2], []),
    ("negative int", (5,), lambda x: x[-1], []),
    ("row", (3, 4), lambda x: x[1], []),
    ("element", (3, 4), lambda x: x[1, -2], []),
    ("slice", (5,), lambda x: x[1:3], []),
    ("slice step", (6,), lambda x: x[::2], []),
    ("negative step", (6,), lambda x: x[-2::-2], []),
    ("slice clips", (5,), lambda x: x[2:100], []),
    ("empty slice", (5,), lambda x: x[3:1], []),
    ("column", (3, 4), lambda x: x[:, 2], []),
    ("ellipsis", (2, 3, 4), lambda x: x[..., 1], []),
    ("ellipsis middle", (2, 3, 4), lambda x: x[0, ..., 1:], []),
    ("newaxis", (3, 4), lambda x: x[None], []),
    ("np.newaxis middle", (3, 4), lambda x: x[:, np.newaxis, 1], []),
    ("0-d ellipsis", (), lambda x: x[...], []),
    ("symbolic int", (3, 4), lambda x, i: x[i], [np.int64(2)]),
    ("symbolic negative int", (3, 4), lambda x, i: x[:, i], [np.int64(-1)]),
    ("symbolic bounds", (6,), lambda x, a, b: x[a:b], [np.int64(1), np.int64(4)]),
    ("symbolic negative bounds", (6, 2), lambda x, a, b: x[a:b, 1], [np.int64(-5), np.int64(-1)]),
    ("symbolic step", (6, 3), lambda x, a, s: x[a::s, 1:], [np.int64(5), np.int64(-2)]),
    ("symbolic bounds clip", (4,), lambda x, a, b: x[a:b], [np.int64(-10), np.int64(10)]),
    ("int vector", (5,), lambda x, idx: x[idx], [np.array([4, 0, -1, 2, 2])]),
    ("int32 vector of rows", (4, 3), lambda x, idx: x[idx], [np.array([3, 1], dtype="int32")]),
    ("int vector of columns", (3, 4), lambda x, idx: x[:, idx], [np.array([0, 3, 3])]),
    ("int matrix", (5,), lambda x, idx: x[idx], [np.array([[0, 1], [4, -4]])]),
    ("empty int vector", (3, 2), lambda x, idx: x[idx], [np.zeros(0, dtype="int64")]),
    ("constant list", (5,), lambda x: x[[0, 2, 2]], []),
    ("rows and labels", (4, 3), lambda x, r, c: x[r, c], [np.arange(4), np.array([2, 0, 2, 1])]),
    (
        "broadcast indices",
        (3, 4),
        lambda x, r, c: x[r, c],
        [np.array([[0], [2]]), np.array([1, 3, 0])],
    ),
    ("array and int", (3, 4), lambda x, idx: x[idx, 1], [np.array([2, 0])]),
    (
        "adjacent in the middle",
        (2, 3, 4, 2),
        lambda x, a, b: x[:, a, b],
        [np.array([0, 2]), np.array([3, 1])],
    ),
    (
        "separated by a slice",
        (3, 4, 5),
        lambda x, a, b: x[a, :, b],
        [np.array([0, 2]), np.array([4, 1])],
    ),
    ("int separated by a slice", (3, 4, 5), lambda x, idx: x[1, :, idx], [np.array([0, 4, 4])]),
    ("array after newaxis", (3, 4), lambda x, idx: x[None, idx, 1:3], [np.array([2, 2])]),
    (
        "array and symbolic int",
        (3, 4),
        lambda x, i, idx: x[i, idx],
        [np.int64(-2), np.array([0, 3])],
    ),
    ("mask", (3, 4), lambda x, m: x[m], [MASK_3x4]),
    ("mask of rows", (3, 4), lambda x, m: x[m], [np.array([True, False, True])]),
    ("mask of columns", (3, 4), lambda x, m: x[:, m], [np.array([False, True, True, False])]),
    ("mask and array", (3, 4, 2), lambda x, m, idx: x[m, idx], [MASK_3x4, np.array([1])]),
]


def _ids(table):
    return [row[0] for row in table]


def _values(shape, rng, dtype="float64"):
    values = rng.uniform(-2.0, 2.0, size=shape)
    if dtype == "bool":
        return values > 0
    return (
        np.asarray(values, dtype=dtype) if dtype[0] == "f" else np.asarray(values * 10, dtype=dtype)
    )


def _shared(values):
    return [sn.shared(np.asarray(v)) for v in values]


# Gradients are graphs of the same ops, so the python backend checks every row's gradient and
# the numba backend (whose kernels the value checks cover) one row per code path: it keeps the
# number of compiled graphs down.
NUMBA_GRAD_GETITEM = {"symbolic step", "rows and labels", "separated by a slice", "mask"}


@pytest.mark.parametrize("row", GETITEM, ids=_ids(GETITEM))
def test_getitem_matches_numpy(row, rng):
    name, shape, fn, indices = row
    x = _values(shape, rng)
    check_op(fn, [x, *indices], fn, grad=False)
    # gradients with respect to x; the indices stay symbolic (shared variables)
    index_vars = _shared(indices)
    for mode in MODES if name in NUMBA_GRAD_GETITEM else ("python",):
        sn.verify_grad(lambda xs: fn(xs, *index_vars), [x], mode=mode)


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
@pytest.mark.parametrize(
    "fn, indices",
    [
        (lambda x, i: x[1:, i], [np.int64(1)]),
        (lambda x, idx: x[idx], [np.array([2, 0, 2])]),
        (lambda x, m: x[m], [MASK_3x4]),
    ],
    ids=["basic", "array", "mask"],
)
def test_getitem_keeps_dtype(fn, indices, dtype, rng):
    x = _values((3, 4), rng, dtype)
    sym = T.tensor(dtype, shape=(None, None))
    assert fn(sym, *[T.as_tensor(i) for i in indices]).dtype == dtype
    check_op(fn, [x, *indices], fn, grad=False)


def test_getitem_static_shapes():
    x = T.tensor("float64", shape=(5, 4))
    i = T.lscalar("i")
    idx = T.lvector("idx")
    assert x[1:3].type.shape == (2, 4)
    assert x[::-2].type.shape == (3, 4)
    assert x[i].type.shape == (4,)
    assert x[i:].type.shape == (None, 4)
    assert x[None, :, 1].type.shape == (1, 5)
    assert x[:, idx].type.shape == (5, None)
    assert x[[0, 1, 1]].type.shape == (3, 4)
    assert x[x > 0].type.shape == (None,)
    assert x[np.array([True, False, True, False, False])].type.shape == (2, 4)
    assert x[idx, :, None][0].type.shape == (4, 1)
    t = T.tensor("float64", shape=(2, 3, 4))
    assert t[[0, 1], :, [1, 2]].type.shape == (2, 3)
    assert t[:, [0, 1], [1, 2]].type.shape == (2, 2)


def test_getitem_equal_keys_make_equal_ops():
    x = T.dmatrix("x")
    assert x[1].owner.op == x[1, :].owner.op == x[1, ...].owner.op
    assert x[::1].owner.op == x[:].owner.op
    assert x[T.constant(2)].owner.op == x[2].owner.op
    assert isinstance(x[1:3].owner.op, BasicSubtensor)
    assert isinstance(x[[1]].owner.op, AdvancedSubtensor)
    assert T.set_subtensor(x[1], 0.0).owner.op == IncSubtensor((1,), set_instead_of_inc=True)
    assert T.inc_subtensor(x[[1]], 0.0).owner.op == IncSubtensor(
        ("array",), set_instead_of_inc=False
    )


def test_getitem_result_is_a_copy_of_the_input(mode, rng):
    x = T.dmatrix("x")
    a = rng.normal(size=(3, 4))
    original = a.copy()
    f = sn.function([x], x[1:], mode=mode)
    out = f(a)
    out[...] = 0.0
    np.testing.assert_array_equal(a, original)


# --- x.shape[i] ---------------------------------------------------------------------------------


def test_shape_index_is_shape_i(mode):
    x = T.dmatrix("x")
    assert x.shape[0].owner.op == sn.ops.shape.ShapeI(0)
    assert x.shape[-1].owner.op == sn.ops.shape.ShapeI(1)
    f = sn.function([x], [x.shape[0], x.shape[-1], x.shape[1:]], mode=mode)
    n, m, tail = f(np.zeros((3, 5)))
    assert n.shape == () and int(n) == 3 and int(m) == 5
    np.testing.assert_array_equal(tail, [5])


def test_shape_index_static_is_constant():
    x = T.tensor("float64", shape=(None, 7))
    assert isinstance(x.shape[1], Constant) and int(x.shape[1].data) == 7
    with pytest.raises(IndexError, match="index 2 is out of bounds.*size 2"):
        x.shape[2]


# --- out of range -------------------------------------------------------------------------------

# (id, fn, x shape, index values, message)
OUT_OF_RANGE = [
    (
        "symbolic int",
        lambda x, i: x[i],
        (3, 4),
        [np.int64(3)],
        "index 3 is out of bounds for axis 0 with size 3",
    ),
    (
        "symbolic negative",
        lambda x, i: x[:, i],
        (3, 4),
        [np.int64(-5)],
        "index -5 .* axis 1 with size 4",
    ),
    (
        "python int",
        lambda x: x[1, 4],
        (3, 4),
        [],
        "index 4 is out of bounds for axis 1 with size 4",
    ),
    (
        "python negative",
        lambda x: x[-4],
        (3, 4),
        [],
        "index -4 is out of bounds for axis 0 with size 3",
    ),
    ("array", lambda x, idx: x[idx], (3, 4), [np.array([0, 3])], "index 3 .* axis 0 with size 3"),
    (
        "negative array",
        lambda x, idx: x[:, idx],
        (3, 4),
        [np.array([-5, 0])],
        "index -5 .* axis 1 with size 4",
    ),
    (
        "int next to array",
        lambda x, idx: x[idx, 9],
        (3, 4),
        [np.array([0])],
        "index 9 .* axis 1 with size 4",
    ),
    (
        "set int",
        lambda x, i: T.set_subtensor(x[i], 1.0) if isinstance(x, T.Variable) else x[i],
        (3, 4),
        [np.int64(-4)],
        "index -4 .* axis 0 with size 3",
    ),
    (
        "inc array",
        lambda x, idx: T.inc_subtensor(x[idx], 1.0) if isinstance(x, T.Variable) else x[idx],
        (3, 4),
        [np.array([1, 7])],
        "index 7 .* axis 0 with size 3",
    ),
    (
        "mask shape",
        lambda x, m: x[m],
        (3, 4),
        [np.array([True, False])],
        "boolean index did not match indexed array along axis 0; size of axis is 3",
    ),
]


@pytest.mark.parametrize("row", OUT_OF_RANGE, ids=_ids(OUT_OF_RANGE))
def test_getitem_out_of_range_raises(row, mode):
    _, fn, shape, indices, message = row
    x = T.dmatrix("x")
    sym = [T.as_tensor(i).type() for i in indices]
    f = sn.function([x, *sym], fn(x, *sym), mode=mode)
    with pytest.raises(IndexError, match=message):
        f(np.zeros(shape), *indices)


def test_numba_kernel_checks_indices_itself():
    """The compiled kernel raises by itself (not only the reference rerun for the message)."""
    x = T.dmatrix("x")
    i = T.lscalar("i")
    idx = T.lvector("idx")
    for expr, value, message in [
        (x[i], np.asarray(-4), "index -4 is out of bounds for axis 0 with size 3"),
        (x[1:, idx], np.array([0, 4]), "index 4 is out of bounds for axis 1 with size 4"),
        (
            T.inc_subtensor(x[idx], 1.0),
            np.array([5]),
            "index 5 is out of bounds for axis 0 with size 3",
        ),
    ]:
        sym = i if value.ndim == 0 else idx
        f = sn.function([x, sym], expr, mode="numba")
        runner = f.kernel.runner  # the kernel itself, called as the call path calls it
        with pytest.raises(IndexError, match=message):
            runner.entry(np.zeros((3, 4)), value[()] if value.ndim == 0 else value, *runner.extra)


def test_numba_helpers_check_bounds():
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 1 with size 5"):
        subtensor.check_index(7, 5, 1)
    assert subtensor.check_index(-5, 5, 0) == 0
    with pytest.raises(IndexError, match="index -9 is out of bounds for axis 2 with size 4"):
        subtensor.flat_positions((np.array([1, -9]),), (4,), (2,))
    with pytest.raises(IndexError, match="could not be broadcast"):
        subtensor.flat_positions((np.array([1, 2]), np.array([1, 2, 3])), (4, 4), (0, 1))
    # index arrays of one rank (generated code pads them); (2, 1) with (1, 3) broadcasts to (2, 3)
    positions, shape = subtensor.flat_positions(
        (np.array([[1], [-1]]), np.array([[0, 2, 3]])), (3, 4), (0, 1)
    )
    np.testing.assert_array_equal(positions, [4, 6, 7, 8, 10, 11])
    np.testing.assert_array_equal(shape, [2, 3])


def test_static_int_out_of_range_raises_at_build():
    x = T.tensor("float64", shape=(3, None))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="index -4 is out of bounds for axis 0 with size 3"):
        x[[0, -4]]
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])]


# --- bad keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, error, message",
    [
        ((0, 1, 2), IndexError, "too many indices"),
        ((Ellipsis, 0, Ellipsis), IndexError, "single ellipsis"),
        ((1.5,), TypeError, "only integers, slices"),
        ((True,), TypeError, "Python boolean"),
        ((slice(None, None, 0),), ValueError, "step cannot be zero"),
        ((slice(0.5, None),), TypeError, "slice start must be an integer"),
        ((T.dscalar("s"),), TypeError, "indices must be integers or booleans"),
        ((slice(T.lvector("v"), None),), TypeError, "slice start must be an integer scalar"),
        ((T.bscalar("b") > 0,), TypeError, "0-d boolean index"),
        (([0, 1], [0, 1, 2]), IndexError, "could not be broadcast"),
    ],
)
def test_getitem_rejects_bad_keys(key, error, message):
    x = T.tensor("float64", shape=(3, 4))
    with pytest.raises(error, match=message):
        x[key]


# --- set_subtensor and inc_subtensor ------------------------------------------------------------

# (id, x shape, key(*indices) -> tuple, index values, value shape, repeated indices)
SET_INC = [
    ("slice", (5,), lambda: (slice(1, 3),), [], (2,), False),
    ("slice, scalar value", (5,), lambda: (slice(None, None, 2),), [], (), False),
    ("column", (3, 4), lambda: (slice(None), 2), [], (3,), False),
    ("rows, broadcast value", (3, 4), lambda: (slice(0, 2),), [], (4,), False),
    ("element", (3, 4), lambda: (1, -2), [], (), False),
    ("newaxis", (3,), lambda: (None, slice(1, 3)), [], (1, 2), False),
    ("symbolic int", (3, 4), lambda i: (i,), [np.int64(-1)], (4,), False),
    (
        "symbolic bounds",
        (6,),
        lambda a, b: (slice(a, b),),
        [np.int64(1), np.int64(-1)],
        (1,),
        False,
    ),
    ("int vector, repeats", (5,), lambda idx: (idx,), [np.array([0, 2, 2, 4, 2])], (5,), True),
    ("rows, repeats", (4, 3), lambda idx: (idx,), [np.array([1, 1, 3])], (3,), True),
    (
        "columns, repeats",
        (3, 4),
        lambda idx: (slice(None), idx),
        [np.array([3, 0, 3])],
        (3, 1),
        True,
    ),
    (
        "rows and labels",
        (4, 3),
        lambda r, c: (r, c),
        [np.arange(4), np.array([2, 0, 2, 1])],
        (4,),
        False,
    ),
    (
        "repeated pairs",
        (3, 3),
        lambda r, c: (r, c),
        [np.array([0, 0, 1]), np.array([1, 1, 2])],
        (3,),
        True,
    ),
    ("int matrix", (5,), lambda idx: (idx,), [np.array([[0, 1], [1, 4]])], (2, 2), True),
    (
        "separated",
        (3, 4, 2),
        lambda a, b: (a, slice(None), b),
        [np.array([0, 2]), np.array([1, 0])],
        (2, 4),
        False,
    ),
    ("mask", (3, 4), lambda m: (m,), [MASK_3x4], (), False),
]


NUMBA_GRAD_SET_INC = {"symbolic bounds", "rows and labels"}


def _reference_set_inc(a, v, key, set_instead_of_inc):
    out = a.copy()
    if set_instead_of_inc:
        out[key] = v
    else:
        np.add.at(out, key, v)
    return out


@pytest.mark.parametrize("set_instead_of_inc", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize("row", SET_INC, ids=_ids(SET_INC))
def test_set_inc_subtensor_match_numpy(row, set_instead_of_inc, rng):
    name, shape, key, indices, value_shape, repeated = row
    function = T.set_subtensor if set_instead_of_inc else T.inc_subtensor

    def build(x, v, *index):
        return function(x[key(*index)], v)

    def reference(a, v, *index):
        return _reference_set_inc(a, v, key(*index), set_instead_of_inc)

    a = _values(shape, rng)
    v = _values(value_shape, rng)
    check_op(build, [a, v, *indices], reference, grad=False)
    if set_instead_of_inc and repeated:
        return  # only the last write of a repeated index reaches the output: no gradient to check
    index_vars = _shared(indices)
    for mode in MODES if name in NUMBA_GRAD_SET_INC else ("python",):
        sn.verify_grad(lambda xs, vs: build(xs, vs, *index_vars), [a, v], mode=mode)


def test_set_subtensor_repeated_index_last_write_wins(mode):
    x = T.dvector("x")
    idx = T.lvector("idx")
    v = T.dvector("v")
    f = sn.function([x, idx, v], T.set_subtensor(x[idx], v), mode=mode)
    out = f(np.zeros(3), [2, 0, 2, 2], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(out, [2.0, 0.0, 4.0])


def test_inc_subtensor_repeated_index_accumulates(mode):
    x = T.dmatrix("x")
    rows = T.lvector("rows")
    cols = T.lvector("cols")
    f = sn.function([x, rows, cols], T.inc_subtensor(x[rows, cols], 1.5), mode=mode)
    out = f(np.zeros((2, 2)), [0, 1, 0, 0], [1, 0, 1, 1])
    np.testing.assert_array_equal(out, [[0.0, 4.5], [1.5, 0.0]])


def test_getitem_grad_accumulates_repeated_indices(mode):
    x = T.dvector("x")
    idx = T.lvector("idx")
    g = sn.grad(T.sum(x[idx] * T.constant([1.0, 2.0, 3.0])), x)
    f = sn.function([x, idx], g, mode=mode)
    np.testing.assert_array_equal(f(np.zeros(4), [3, 0, 3]), [2.0, 0.0, 0.0, 4.0])


def test_set_inc_subtensor_do_not_mutate_inputs(mode, rng):
    x = T.dmatrix("x")
    idx = T.lvector("idx")
    a = rng.normal(size=(3, 4))
    original = a.copy()
    f = sn.function(
        [x, idx],
        [
            T.set_subtensor(x[1:, 2], 0.0),
            T.inc_subtensor(x[idx], 1.0),
            T.set_subtensor(x[idx, 0], 5.0),
        ],
        mode=mode,
    )
    s, i, s2 = f(a, [0, 0])
    np.testing.assert_array_equal(a, original)
    assert not np.shares_memory(s, a) and not np.shares_memory(i, a)
    assert s[1, 2] == 0.0 and s[0, 2] == a[0, 2]
    np.testing.assert_allclose(i[0], a[0] + 2.0)
    assert s2[0, 0] == 5.0


def test_set_subtensor_of_shared_variable_update(mode):
    w = sn.shared(np.zeros(4), name="w")
    idx = T.lvector("idx")
    f = sn.function([idx], [], updates=[(w, T.inc_subtensor(w[idx], 1.0))], mode=mode)
    f([1, 1, 3])
    np.testing.assert_array_equal(w.get_value(), [0.0, 2.0, 0.0, 1.0])


def test_set_subtensor_value_dtypes():
    x = T.fmatrix("x")
    assert T.set_subtensor(x[0], T.dvector("v")).dtype == "float32"
    assert T.inc_subtensor(x[0], 1).dtype == "float32"
    n = T.imatrix("n")
    with pytest.raises(TypeError, match="cannot write"):
        T.set_subtensor(n[0], T.dvector("v"))
    with pytest.raises(TypeError, match="cannot write 1.5"):
        T.set_subtensor(n[0], 1.5)
    assert T.set_subtensor(n[0], 7).eval({n: np.zeros((2, 2), "int32")}).tolist() == [
        [7, 7],
        [0, 0],
    ]


def test_set_subtensor_errors(mode):
    x = T.dmatrix("x")
    with pytest.raises(TypeError, match="must be an indexing expression"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="must be an indexing expression"):
        T.inc_subtensor(x.shape[0], 1)
    with pytest.raises(ValueError, match="cannot broadcast a value of shape"):
        T.set_subtensor(x[0], T.dmatrix("m"))
    with pytest.raises(ValueError, match=r"cannot broadcast a value of shape \(3,\)"):
        T.set_subtensor(T.tensor("float64", shape=(None, 4))[0], T.tensor("float64", shape=(3,)))
    v = T.dvector("v")
    f = sn.function([x, v], T.set_subtensor(x[0, 1:], v), mode=mode)
    with pytest.raises(ValueError):
        f(np.zeros((2, 4)), np.ones(2))


# --- printing -----------------------------------------------------------------------------------


def test_pp_looks_like_python_indexing():
    x = T.dmatrix("x")
    i, a, b = T.lscalars("i", "a", "b")
    idx = T.lvector("idx")
    assert sn.pp(x[1:3]) == "x[1:3]"
    assert sn.pp(x[:, 2]) == "x[:, 2]"
    assert sn.pp(x[i]) == "x[i]"
    assert sn.pp(x[idx]) == "x[idx]"
    assert sn.pp(x[a:b:2, ::-1]) == "x[a:b:2, ::-1]"
    assert sn.pp(x[None, ..., 0]) == "x[None, :, 0]"
    assert sn.pp(x[idx, i]) == "x[idx, i]"
    assert sn.pp(T.exp(x)[0]) == "exp(x)[0]"
    assert sn.pp((-x)[0]) == "(-x)[0]"
    assert sn.pp(T.set_subtensor(x[idx], 0.0)) == "set_subtensor(x[idx], 0)"
    assert sn.pp(T.inc_subtensor(x[1:, i], x[0, i])) == "inc_subtensor(x[1:, i], x[0, i])"
    assert str(x[1:a, idx].owner.op) == "AdvancedSubtensor{1:?, <array>}"
    assert str(T.inc_subtensor(x[1], 1.0).owner.op) == "IncSubtensor{1}"
