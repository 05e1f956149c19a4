"""Tests for symnet/ops/reduction.py: sum, prod, max, min, argmax, argmin, logsumexp and the
compositions mean, var, std, all, any.

Numba compiles are the cost here, so the value tables compile one function per (shape, dtype)
holding every axis/keepdims variant as a separate output; gradients go through check_op.
"""

import warnings

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.grad import DisconnectedInputError
from symnet.ops import reduction
from tests.helpers import MODES, check_op

SHAPES = [(), (5,), (3, 4), (2, 3, 4), (0, 3)]
DTYPES = ["float64", "float32", "int32"]


def axis_variants(ndim):
    axes = [None]
    if ndim >= 1:
        axes += [0, -1]
    if ndim >= 2:
        axes += [(0, 1)]
    return axes


def sample(shape, dtype, rng):
    """Distinct floats in [-2, 2] (no ties), or small ints for int dtypes."""
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-2, 2, size=shape).astype(dtype)
    return rng.integers(-3, 4, size=shape).astype(dtype)


def _axes_tuple(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _arg_reference(pick):
    """np.argmax/np.argmin generalised to a tuple of axes (index into them flattened in C order)."""

    def reference(x, axis=None, keepdims=False):
        axes = _axes_tuple(axis, x.ndim)
        kept = [a for a in range(x.ndim) if a not in axes]
        moved = np.transpose(x, kept + list(axes))
        n_kept = int(np.prod([x.shape[a] for a in kept]))
        rows = moved.reshape(n_kept, int(np.prod([x.shape[a] for a in axes])))
        index = pick(rows, axis=1)
        shape = [1 if a in axes else x.shape[a] for a in range(x.ndim)] if keepdims else [
            x.shape[a] for a in kept
        ]
        return index.reshape(shape).astype("int64")

    return reference


def _logsumexp_reference(x, axis=None, keepdims=False):
    x = x.astype("float64") if x.dtype != np.float32 else x
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(x.astype("float64")), axis=axis, keepdims=keepdims)).astype(
            x.dtype
        )


def _quiet(reference):
    """Call a NumPy reference without its empty-slice warnings (mean of nothing is nan)."""

    def call(*args, **kwargs):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return reference(*args, **kwargs)

    return call


# (name, symbolic function, NumPy reference, raises on empty slices)
PRIMITIVES = [
    ("sum", T.sum, np.sum, False),
    ("prod", T.prod, np.prod, False),
    ("max", T.max, np.max, True),
    ("min", T.min, np.min, True),
    ("argmax", T.argmax, _arg_reference(np.argmax), True),
    ("argmin", T.argmin, _arg_reference(np.argmin), True),
    ("logsumexp", T.logsumexp, _logsumexp_reference, False),
]

COMPOSITIONS = [
    ("mean", T.mean, _quiet(np.mean)),
    ("var", T.var, _quiet(np.var)),
    ("std", T.std, _quiet(np.std)),
    ("all", T.all, np.all),
    ("any", T.any, np.any),
]


def _empty_slice(shape, axis):
    axes = _axes_tuple(axis, len(shape))
    return int(np.prod([shape[a] for a in axes])) == 0


def _check_many(x_value, cases, mode):
    """Compile one function of ``x`` with an output per case; compare each with NumPy.

    float32 results are compared with an absolute tolerance too: symnet accumulates float32
    sums in float64, NumPy in float32, and a sum of O(1) values can cancel to nearly 0.
    """
    rtol, atol = (1e-5, 1e-5) if x_value.dtype == np.float32 else (1e-7, 0.0)
    x = T.tensor(x_value.dtype.name, shape=(None,) * x_value.ndim, name="x")
    outputs = [build(x) for _, build, _ in cases]
    got = sn.function([x], outputs, mode=mode)(x_value.copy())
    for (label, _, reference), out, value in zip(cases, outputs, got):
        expected = np.asarray(reference(x_value.copy()))
        value = np.asarray(value)
        assert value.shape == expected.shape, (label, value.shape, expected.shape)
        assert value.dtype == np.dtype(out.dtype), (label, value.dtype, out.dtype)
        assert value.dtype == expected.dtype, (label, value.dtype, expected.dtype)
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol,
                                   err_msg=f"{label} ({mode})")


def _case(name, fn, reference, axis, keepdims):
    label = f"{name}(x, axis={axis!r}, keepdims={keepdims})"
    return (
        label,
        lambda x: fn(x, axis=axis, keepdims=keepdims),
        lambda v: reference(v, axis=axis, keepdims=keepdims),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_primitives_match_numpy(mode, shape, dtype, rng):
    """Every primitive x axis (None, 0, -1, (0, 1)) x keepdims: values, shapes and dtypes.

    float64 runs every keepdims value; the other dtypes alternate it (it only changes the
    final reshape), which halves their kernels.
    """
    x_value = sample(shape, dtype, rng)
    cases = []
    for i, (name, fn, reference, needs_elements) in enumerate(PRIMITIVES):
        for j, axis in enumerate(axis_variants(len(shape))):
            if needs_elements and _empty_slice(shape, axis):
                continue
            keepdims_values = (False, True) if dtype == "float64" else ((i + j) % 2 == 1,)
            for keepdims in keepdims_values:
                cases.append(_case(name, fn, reference, axis, keepdims))
    _check_many(x_value, cases, mode)


def _composition_axes(ndim):
    """Fewer variants than the primitives: the compositions only differ in count and keepdims."""
    cases = [(None, False)]
    if ndim >= 1:
        cases.append((-1, True))
    if ndim >= 2:
        cases.append(((0, 1), False))
    return cases


COMPOSITION_INPUTS = [(shape, "float64") for shape in SHAPES] + [
    ((3, 4), "float32"),
    ((5,), "int32"),
    ((3, 4), "int32"),
]


@pytest.mark.parametrize("shape, dtype", COMPOSITION_INPUTS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_compositions_match_numpy(mode, shape, dtype, rng):
    """mean / var / std / all / any against NumPy, ints giving float64 like NumPy."""
    x_value = sample(shape, dtype, rng)
    if x_value.size:
        x_value.reshape(-1)[0] = 0  # so all() sees a False
    cases = [
        _case(name, fn, reference, axis, keepdims)
        for name, fn, reference in COMPOSITIONS
        for axis, keepdims in _composition_axes(len(shape))
    ]
    _check_many(x_value, cases, mode)


def test_four_dimensional_axes(mode, rng):
    """ndim 4 with axes that are neither leading nor trailing, for every primitive."""
    x_value = sample((2, 3, 2, 3), "float64", rng)
    cases = [
        _case(name, fn, reference, axis, keepdims)
        for name, fn, reference, _ in PRIMITIVES
        for axis, keepdims in (((1, 3), False), ((0, 2), True), (2, False))
    ]
    _check_many(x_value, cases, mode)


def test_sum_and_mean_dtype_argument(mode):
    x = T.ivector("x")
    value = np.array([1, 2, 4], dtype="int32")
    outputs = [T.sum(x, dtype="float32"), T.mean(x, dtype="float32"), T.prod(x, dtype="float64")]
    assert [o.dtype for o in outputs] == ["float32", "float32", "float64"]
    got = sn.function([x], outputs, mode=mode)(value)
    assert [g.dtype for g in got] == [np.float32, np.float32, np.float64]
    np.testing.assert_allclose(got, [7.0, 7.0 / 3.0, 8.0], rtol=1e-6)


def test_var_std_ddof(mode, rng):
    x_value = rng.uniform(-2, 2, size=(3, 4))
    cases = [
        ("var ddof=1", lambda x: T.var(x, axis=1, ddof=1), lambda v: np.var(v, axis=1, ddof=1)),
        ("std ddof=1", lambda x: T.std(x, ddof=1), lambda v: np.asarray(np.std(v, ddof=1))),
    ]
    _check_many(x_value, cases, mode)


def test_variable_methods(rng):
    x = T.dmatrix("x")
    value = rng.uniform(-2, 2, size=(3, 4))
    outputs = [x.sum(axis=0), x.mean(), x.max(axis=1), x.min(keepdims=True), x.prod(axis=-1),
               x.argmax(axis=0), x.argmin(), x.var(axis=1), x.std(axis=0)]
    expected = [value.sum(axis=0), value.mean(), value.max(axis=1), value.min(keepdims=True),
                value.prod(axis=-1), value.argmax(axis=0), value.argmin(), value.var(axis=1),
                value.std(axis=0)]
    got = sn.function([x], outputs, mode="python")(value)
    for g, e in zip(got, expected):
        assert g.shape == np.shape(e)
        np.testing.assert_allclose(g, e, rtol=1e-7)


# --- gradients (check_op: both backends, then finite differences on both) -------------------------

GRAD_CASES = [
    ("sum", T.sum, np.sum, (), None, False),
    ("sum", T.sum, np.sum, (2, 3, 2, 2), (1, 3), True),
    ("prod", T.prod, np.prod, (3, 4), -1, True),
    ("max", T.max, np.max, (), None, False),
    ("max", T.max, np.max, (3, 4), 1, False),
    ("max", T.max, np.max, (2, 3, 2), (0, 2), True),
    ("min", T.min, np.min, (3, 4), None, True),
    ("logsumexp", T.logsumexp, _logsumexp_reference, (3, 4), 0, True),
    ("mean", T.mean, np.mean, (3, 4), 1, False),
    ("var", T.var, np.var, (3, 4), (0, 1), True),
    ("std", T.std, np.std, (5,), None, False),
]


@pytest.mark.parametrize(
    "name, fn, reference, shape, axis, keepdims",
    GRAD_CASES,
    ids=[f"{c[0]}-{c[3]}-axis={c[4]}-keepdims={c[5]}" for c in GRAD_CASES],
)
def test_reduction_grad(name, fn, reference, shape, axis, keepdims, rng):
    x_value = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    check_op(
        lambda x: fn(x, axis=axis, keepdims=keepdims),
        [x_value],
        lambda v: reference(v, axis=axis, keepdims=keepdims),
    )


def test_reduction_grad_float32_value():
    """A float32 input: the forward pass stays float32 and matches NumPy at float32 precision."""
    x_value = np.linspace(-1.0, 2.0, 12, dtype="float32").reshape(3, 4)
    check_op(lambda x: T.logsumexp(x, axis=1), [x_value],
             lambda v: _logsumexp_reference(v, axis=1), rtol=1e-5)


@pytest.mark.parametrize(
    "x_value, axis",
    [
        (np.array([2.0, 0.0, 3.0, -1.5]), None),  # one zero
        (np.array([[1.5, 0.0, 2.0], [2.0, -1.0, 0.5], [0.0, 0.0, 1.0]]), 1),
        (np.array([[1.5, 0.0, 2.0], [2.0, -1.0, 0.5], [0.0, 0.0, 1.0]]), 0),
    ],
    ids=["one-zero", "rows", "columns"],
)
def test_prod_grad_with_zeros(x_value, axis):
    check_op(lambda x: T.prod(x, axis=axis), [x_value], lambda v: np.prod(v, axis=axis))


def test_prod_grad_with_zeros_exact(mode):
    """A lone zero gets the product of the others; everything else in its slice gets 0."""
    x = T.dmatrix("x")
    value = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 5.0]])
    g = sn.function([x], sn.grad(T.prod(x, axis=1).sum(), x), mode=mode)(value)
    np.testing.assert_array_equal(g, [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [10.0, 5.0, 2.0]])


def test_max_min_grad_ties(mode):
    """At ties exactly one element, the first in C order over the reduced axes, gets the
    gradient."""
    x = T.dmatrix("x")
    value = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
    outputs = [
        sn.grad(T.max(x, axis=1).sum(), x),
        sn.grad(T.max(x, axis=0).sum(), x),
        sn.grad(T.max(x), x),
        sn.grad(T.min(x, axis=1, keepdims=True).sum(), x),
        sn.grad(T.min(x), x),
    ]
    got = sn.function([x], outputs, mode=mode)(value)
    expected = [
        [[0, 1, 0], [1, 0, 0], [1, 0, 0]],
        [[0, 1, 1], [0, 0, 0], [1, 0, 0]],
        [[0, 1, 0], [0, 0, 0], [0, 0, 0]],
        [[1, 0, 0], [0, 0, 1], [0, 1, 0]],
        [[0, 0, 0], [0, 0, 1], [0, 0, 0]],
    ]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, np.array(e, dtype="float64"))


def test_max_grad_ties_over_several_axes(mode):
    """Reducing axes (0, 2) of a 3-d tensor: the first maximum in C order over (axis 0, axis 2)."""
    x = T.dtensor3("x")
    value = np.zeros((2, 2, 2))
    value[0, 0, 1] = value[1, 0, 0] = 5.0  # tie in slice [:, 0, :]: (0, 1) comes first
    got = sn.function([x], sn.grad(T.max(x, axis=(0, 2)).sum(), x), mode=mode)(value)
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 1] = 1.0
    expected[0, 1, 0] = 1.0  # slice [:, 1, :] is all zeros: the first one
    np.testing.assert_array_equal(got, expected)


def test_max_grad_with_nan_goes_to_first_nan(mode):
    x = T.dvector("x")
    got = sn.function([x], [T.max(x), sn.grad(T.max(x), x), T.argmax(x)], mode=mode)(
        np.array([1.0, np.nan, 5.0, np.nan])
    )
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1], [0.0, 1.0, 0.0, 0.0])
    assert int(got[2]) == 1


# --- logsumexp special values ---------------------------------------------------------------------


def test_logsumexp_special_values(mode):
    inf, nan = np.inf, np.nan
    rows = np.array([
        [1e4, 1e4, 1e4 - 1],
        [-1e4, -1e4, -1e4],
        [-inf, -inf, -inf],
        [-inf, 0.0, -inf],
        [inf, 1.0, -inf],
        [nan, 1.0, 2.0],
        [inf, nan, 1.0],
        [-inf, nan, -inf],
    ])
    expected = np.array([
        1e4 + np.log(2 + np.exp(-1)),
        -1e4 + np.log(3),
        -inf,
        0.0,
        inf,
        nan,
        nan,
        nan,
    ])
    x = T.dmatrix("x")
    xf = T.fmatrix("xf")
    f = sn.function([x, xf], [T.logsumexp(x, axis=1), T.logsumexp(xf, axis=1, keepdims=True)],
                    mode=mode)
    got64, got32 = f(rows, rows.astype("float32"))
    np.testing.assert_allclose(got64, expected, rtol=1e-12)
    assert got32.dtype == np.float32 and got32.shape == (8, 1)
    np.testing.assert_allclose(got32[:, 0], expected.astype("float32"), rtol=1e-6)


def test_logsumexp_grad_is_softmax_for_large_and_infinite_inputs(mode):
    x = T.dvector("x")
    value = np.array([1e4, 1e4 + 1.0, 1e4 - 1.0, -np.inf])
    got = sn.function([x], sn.grad(T.logsumexp(x), x), mode=mode)(value)
    shifted = np.exp(np.array([0.0, 1.0, -1.0]))
    np.testing.assert_allclose(got, np.append(shifted / shifted.sum(), 0.0), rtol=1e-12)


def test_logsumexp_of_ints_is_float64(mode):
    x = T.ivector("x")
    out = T.logsumexp(x)
    assert out.dtype == "float64"
    got = sn.function([x], out, mode=mode)(np.array([0, 0], dtype="int32"))
    np.testing.assert_allclose(got, np.log(2.0))


# --- empty inputs ---------------------------------------------------------------------------------


def test_empty_reductions_with_identity(mode):
    x = T.dmatrix("x")
    outputs = [T.sum(x), T.prod(x, axis=0), T.logsumexp(x, axis=0), T.all(x), T.any(x, axis=1),
               T.max(x, axis=0)]
    got = sn.function([x], outputs, mode=mode)(np.zeros((3, 0)))
    assert float(got[0]) == 0.0
    np.testing.assert_array_equal(got[1], np.ones(0))
    np.testing.assert_array_equal(got[2], np.ones(0))
    assert bool(got[3]) is True
    np.testing.assert_array_equal(got[4], [False, False, False])
    assert got[5].shape == (0,)


@pytest.mark.parametrize(
    "fn, axis, match",
    [
        (T.max, 1, "max: zero-size array"),
        (T.min, None, "min: zero-size array"),
        (T.argmax, 1, "argmax: attempt to get argmax of an empty sequence"),
        (T.argmin, None, "argmin: attempt to get argmin of an empty sequence"),
    ],
    ids=["max", "min", "argmax", "argmin"],
)
def test_empty_reductions_without_identity_raise(mode, fn, axis, match):
    x = T.dmatrix("x")
    f = sn.function([x], fn(x, axis=axis), mode=mode)
    with pytest.raises(ValueError, match=match):
        f(np.zeros((3, 0)))


def test_max_grad_of_empty_raises(mode):
    x = T.dmatrix("x")
    f = sn.function([x], sn.grad(T.max(x, axis=1).sum(), x), mode=mode)
    with pytest.raises(ValueError, match="max: zero-size array"):
        f(np.zeros((2, 0)))


# --- static types, errors, printing ---------------------------------------------------------------

DTYPE_CASES = [
    (T.sum, "int32", "int64"),
    (T.sum, "bool", "int64"),
    (T.sum, "uint8", "uint64"),
    (T.sum, "float32", "float32"),
    (T.prod, "int8", "int64"),
    (T.max, "int32", "int32"),
    (T.min, "bool", "bool"),
    (T.argmax, "float32", "int64"),
    (T.argmin, "int8", "int64"),
    (T.logsumexp, "int32", "float64"),
    (T.logsumexp, "float32", "float32"),
    (T.mean, "int32", "float64"),
    (T.mean, "bool", "float64"),
    (T.mean, "float32", "float32"),
    (T.var, "int8", "float64"),
    (T.std, "float32", "float32"),
    (T.all, "float64", "bool"),
    (T.any, "int32", "bool"),
]


@pytest.mark.parametrize("fn, in_dtype, out_dtype", DTYPE_CASES,
                         ids=[f"{c[0].__name__}-{c[1]}" for c in DTYPE_CASES])
def test_output_dtype_follows_numpy(fn, in_dtype, out_dtype):
    assert fn(T.tensor(in_dtype, shape=(None, None)), axis=1).dtype == out_dtype


def test_bool_reductions_run(mode):
    x = T.tensor("bool", shape=(None, None), name="x")
    value = np.array([[True, False, True], [False, False, False]])
    outputs = [T.sum(x, axis=1), T.max(x, axis=1), T.min(x), T.argmax(x, axis=1), T.mean(x),
               T.all(x, axis=0), T.any(x, axis=1)]
    got = sn.function([x], outputs, mode=mode)(value)
    expected = [value.sum(axis=1), value.max(axis=1), value.min(), value.argmax(axis=1),
                value.mean(), value.all(axis=0), value.any(axis=1)]
    for g, e in zip(got, expected):
        assert g.dtype == np.asarray(e).dtype
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize(
    "shape, axis, keepdims, expected",
    [
        ((3, 4), 1, False, (3,)),
        ((3, 4), -1, True, (3, 1)),
        ((None, 4), 0, False, (4,)),
        ((2, None, 4), (0, 2), True, (1, None, 1)),
        ((3, 4), None, False, ()),
        ((), None, True, ()),
    ],
)
def test_static_shape(shape, axis, keepdims, expected):
    x = T.tensor("float64", shape=shape)
    for fn in (T.sum, T.max, T.argmax, T.logsumexp, T.mean, T.var, T.all):
        assert fn(x, axis=axis, keepdims=keepdims).type.shape == expected, fn.__name__


@pytest.mark.parametrize(
    "fn, axis, ndim, match",
    [
        (T.sum, 2, 2, "sum: axis 2 is out of range for a 2-d input"),
        (T.max, -3, 2, "max: axis -3 is out of range for a 2-d input"),
        (T.prod, 0, 0, "prod: axis 0 is out of range for a 0-d input"),
        (T.argmax, (0, 5), 3, "argmax: axis 5 is out of range for a 3-d input"),
        (T.mean, (0, -2), 2, "mean: repeated axis"),
        (T.var, 4, 1, "var: axis 4 is out of range for a 1-d input"),
        (T.std, 1, 1, "std: axis 1 is out of range for a 1-d input"),
        (T.logsumexp, -2, 1, "logsumexp: axis -2 is out of range"),
        (T.all, 3, 3, "all: axis 3 is out of range for a 3-d input"),
        (T.any, 1, 0, "any: axis 1 is out of range for a 0-d input"),
        (T.min, (1, 1), 2, "min: repeated axis"),
        (T.argmin, 2, 2, "argmin: axis 2 is out of range for a 2-d input"),
    ],
)
def test_bad_axis_raises(fn, axis, ndim, match):
    x = T.tensor("float64", shape=(None,) * ndim, name="x")
    with pytest.raises(ValueError, match=match):
        fn(x, axis=axis)


@pytest.mark.parametrize("axis", [1.0, "0", (0, 1.5)])
def test_non_integer_axis_raises(axis):
    with pytest.raises(TypeError, match="sum: axis must be None, an int or a tuple of ints"):
        T.sum(T.dmatrix("x"), axis=axis)


def test_op_built_directly_checks_its_axes():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="sum: axis 2 is out of range"):
        reduction.Sum((2,), False)(x)
    with pytest.raises(ValueError, match="must be sorted and distinct"):
        reduction.Max((1, 0), False)(x)
    with pytest.raises(TypeError, match="must be a tuple"):
        reduction.Sum(1, False)(x)


def test_ops_compare_by_props():
    assert reduction.Sum((1,), False) == reduction.Sum((1,), False)
    assert hash(reduction.Sum((1,), False)) == hash(reduction.Sum((1,), False))
    assert reduction.Sum((1,), False) != reduction.Sum((1,), True)
    assert reduction.Sum((1,), False) != reduction.Max((1,), False)


@pytest.mark.parametrize(
    "build, text",
    [
        (lambda x: T.sum(x, axis=1), "sum(x, axis=1)"),
        (lambda x: T.sum(x, axis=-1, keepdims=True), "sum(x, axis=1, keepdims=True)"),
        (lambda x: T.sum(x), "sum(x, axis=(0, 1))"),
        (lambda x: T.prod(x, axis=0), "prod(x, axis=0)"),
        (lambda x: T.max(x, axis=0), "max(x, axis=0)"),
        (lambda x: T.min(x, axis=(0, 1), keepdims=True), "min(x, axis=(0, 1), keepdims=True)"),
        (lambda x: T.argmax(x, axis=1), "argmax(x, axis=1)"),
        (lambda x: T.argmin(x, axis=0), "argmin(x, axis=0)"),
        (lambda x: T.logsumexp(x, axis=1), "logsumexp(x, axis=1)"),
        (lambda x: T.all(x, axis=1), "eq(sum(~neq(x, 0), axis=1), 0)"),
    ],
)
def test_pp(build, text):
    assert sn.pp(build(T.dmatrix("x"))) == text


def test_str_of_op():
    assert str(reduction.Sum((0, 2), True)) == "Sum{axis=(0, 2), keepdims=True}"
    assert str(reduction.Max((1,), False)) == "Max{axis=1}"


def test_no_gradient_through_argmax_all_any():
    x = T.dvector("x")
    assert reduction.Argmax((0,), False).grad([x], [None]) == [None]
    assert reduction.Argmin((0,), False).grad([x], [None]) == [None]
    cost = T.cast(T.argmax(x), "float64") + T.cast(T.any(x), "float64") + T.cast(T.all(x), "float64")
    with pytest.raises(DisconnectedInputError):
        sn.grad(cost, x)
