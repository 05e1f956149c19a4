"""Tests for symnet/ops/nnet.py: softmax, log_softmax, the crossentropies, the label ops and the
fused softmax-crossentropy ops, against NumPy references on both backends.

Every table row compares both backends with NumPy and checks gradients by finite differences
on the python backend; test_gradients_on_numba checks the numba gradient graphs of every op
once (each numba gradient check compiles three kernels, so it is not repeated per row).
"""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.ops import nnet
from tests.helpers import check_op

# --- NumPy references (written independently of the ops' perform) -------------------------------


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_pick(p, labels):
    """p[..., labels] by explicit loops over the leading positions."""
    out = np.empty(labels.shape, dtype=p.dtype)
    for pos in np.ndindex(labels.shape):
        out[pos] = p[pos + (labels[pos],)]
    return out


def np_onehot(labels, n_classes):
    return (labels[..., None] == np.arange(n_classes)).astype("float64")


def check(build, inputs, reference, *, grad=True, rtol=1e-7, atol=0.0):
    """Values on both backends against ``reference``; gradients on the python backend."""
    check_op(build, inputs, reference, grad=False, rtol=rtol, atol=atol)
    if grad:
        sn.verify_grad(build, [np.asarray(v, dtype="float64") for v in inputs], mode="python")


def as_labels(values, dtype="int64"):
    return np.asarray(values, dtype=dtype)


# --- softmax and log_softmax -------------------------------------------------------------------

SOFTMAX_OPS = [
    (nnet.softmax, np_softmax),
    (nnet.log_softmax, np_log_softmax),
]
AXIS_CASES = [
    ((5,), -1),
    ((3, 4), -1),
    ((3, 4), 0),
    ((1, 4), -1),
    ((2, 3, 4), 1),
]


@pytest.mark.parametrize("fn, reference", SOFTMAX_OPS, ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", AXIS_CASES)
def test_softmax_family_values_and_grad(rng, fn, reference, shape, axis):
    x = rng.normal(size=shape) * 2
    check(lambda v: fn(v, axis=axis), [x], lambda v: reference(v, axis))


@pytest.mark.parametrize("fn, reference", SOFTMAX_OPS, ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((3, 4), -1), ((2, 3, 4), 0)])
def test_softmax_family_float32(rng, fn, reference, shape, axis):
    x = (rng.normal(size=shape) * 3).astype("float32")
    check_op(lambda v: fn(v, axis=axis), [x], lambda v: reference(v, axis), grad=False, rtol=1e-5,
             atol=1e-6)


def test_softmax_rows_sum_to_one(rng, mode):
    x = T.dmatrix("x")
    f = sn.function([x], T.nnet.softmax(x), mode=mode)
    data = rng.normal(size=(6, 7)) * 50
    data[0] = 1e4
    data[1, 3] = 1e4
    data[2] = -1e4
    out = f(data)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=-1), np.ones(6), rtol=1e-12)
    np.testing.assert_allclose(out[0], np.full(7, 1 / 7))
    assert out[1, 3] == 1.0


@pytest.mark.parametrize("fn", [nnet.softmax, nnet.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_family_large_inputs_finite_with_finite_grad(fn, mode):
    x = T.dmatrix("x")
    w = T.dmatrix("w")
    out = fn(x)
    g = sn.grad(T.sum(out * w), x)
    f = sn.function([x, w], [out, g], mode=mode)
    data = np.array([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 1e4 - 2]])
    weights = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    value, grad = f(data, weights)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    expected = np_softmax(data) if fn is nnet.softmax else np_log_softmax(data)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-300)


def test_log_softmax_is_finite_where_softmax_underflows(mode):
    x = T.dvector("x")
    f = sn.function([x], [T.nnet.softmax(x), T.nnet.log_softmax(x)], mode=mode)
    probs, log_probs = f(np.array([0.0, 1000.0, -2000.0]))
    assert probs[0] == 0.0 and probs[2] == 0.0
    np.testing.assert_allclose(log_probs, [-1000.0, 0.0, -3000.0], rtol=1e-15)


def test_softmax_second_derivative():
    # grad of a gradient: Softmax.grad's graph is differentiated again
    def build(v):
        return sn.grad(T.sum(T.nnet.softmax(v) * T.constant([[1.0, -2.0, 0.5]])), v)

    sn.verify_grad(build, [np.array([[0.3, -0.2, 1.1], [1.0, 0.0, -1.0]])], mode="python")


def test_softmax_int_input_becomes_float(mode):
    x = T.lvector("x")
    out = T.nnet.softmax(x)
    assert out.dtype == "float64"
    got = sn.function([x], out, mode=mode)(np.array([0, 1, 2]))
    np.testing.assert_allclose(got, np_softmax(np.array([0.0, 1.0, 2.0])))


def test_softmax_empty_rows(mode):
    x = T.dmatrix("x")
    f = sn.function([x], [T.nnet.softmax(x), T.nnet.log_softmax(x, axis=0)], mode=mode)
    a, b = f(np.zeros((0, 3)))
    assert a.shape == (0, 3) and b.shape == (0, 3)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: T.nnet.softmax(T.dscalar("s")), ValueError, "softmax: needs at least a 1-d input"),
        (lambda: T.nnet.softmax(T.dmatrix("m"), axis=2), ValueError,
         "softmax: axis 2 is out of range"),
        (lambda: T.nnet.log_softmax(T.dvector("v"), axis=-2), ValueError, "log_softmax: axis -2"),
        (lambda: T.nnet.softmax(T.dvector("v"), axis=0.5), TypeError,
         "softmax: axis must be an int"),
        (lambda: nnet.Softmax(-1)(T.lvector("v")), TypeError, "softmax: the input must be a float"),
        (lambda: nnet.LogSoftmax(3)(T.dmatrix("m")), ValueError, "log_softmax: axis 3"),
    ],
)
def test_softmax_family_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_softmax_family_printing_and_axes():
    x = T.dmatrix("x")
    assert sn.pp(T.nnet.softmax(x)) == "softmax(x)"
    assert sn.pp(T.nnet.log_softmax(x)) == "log_softmax(x)"
    assert sn.pp(T.nnet.softmax(x, axis=0)) == "softmax(x, axis=-2)"
    # the last axis, however spelled, builds the same op (so CSE can merge them)
    assert T.nnet.softmax(x, axis=1).owner.op == T.nnet.softmax(x).owner.op == nnet.Softmax(-1)


# --- binary crossentropy ------------------------------------------------------------------------


def np_binary_crossentropy(o, t):
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


@pytest.mark.parametrize("o_shape, t_shape", [((), ()), ((5,), (5,)), ((3, 4), (3, 4)),
                                              ((3, 1), (1, 4))])
def test_binary_crossentropy(rng, o_shape, t_shape):
    o = rng.uniform(0.1, 0.9, size=o_shape)
    t = rng.uniform(0.0, 1.0, size=t_shape)
    check(T.nnet.binary_crossentropy, [o, t], np_binary_crossentropy)


def test_binary_crossentropy_hand_values(mode):
    o, t = T.dvectors("o", "t")
    f = sn.function([o, t], T.nnet.binary_crossentropy(o, t), mode=mode)
    got = f(np.array([0.5, 0.9, 0.9, 0.2]), np.array([1.0, 1.0, 0.0, 0.5]))
    expected = [np.log(2), -np.log(0.9), -np.log(0.1), -(0.5 * np.log(0.2) + 0.5 * np.log(0.8))]
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_binary_crossentropy_float32(rng):
    o = rng.uniform(0.1, 0.9, size=(3, 4)).astype("float32")
    t = (rng.uniform(size=(3, 4)) > 0.5).astype("float32")
    check_op(T.nnet.binary_crossentropy, [o, t], np_binary_crossentropy, grad=False, rtol=1e-5)


# --- categorical crossentropy -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4,), (3, 4), (1, 4), (2, 3, 4)])
def test_categorical_crossentropy_dense(rng, shape):
    p = np_softmax(rng.normal(size=shape))
    t = np_softmax(rng.normal(size=shape) * 3)
    check(T.nnet.categorical_crossentropy, [p, t], lambda p, t: -(t * np.log(p)).sum(axis=-1))


@pytest.mark.parametrize("shape, label_dtype", [((4,), "int64"), ((3, 4), "int64"),
                                                ((1, 4), "int64"), ((2, 3, 4), "int64"),
                                                ((3, 4), "int32"), ((3, 4), "uint8")])
def test_categorical_crossentropy_labels(rng, shape, label_dtype):
    p = np_softmax(rng.normal(size=shape))
    labels = as_labels(rng.integers(0, shape[-1], size=shape[:-1]), label_dtype)
    check_op(T.nnet.categorical_crossentropy, [p, labels], lambda p, y: -np.log(np_pick(p, y)),
             grad=False)
    sn.verify_grad(lambda v: T.nnet.categorical_crossentropy(v, T.constant(labels)), [p],
                   mode="python")


def test_categorical_crossentropy_labels_match_one_hot(rng, mode):
    p = T.dmatrix("p")
    y = T.lvector("y")
    f = sn.function([p, y], T.nnet.categorical_crossentropy(p, y), mode=mode)
    probs = np_softmax(rng.normal(size=(5, 3)))
    labels = np.array([0, 2, 1, 1, 0])
    np.testing.assert_allclose(f(probs, labels), -(np_onehot(labels, 3) * np.log(probs)).sum(-1),
                               rtol=1e-14)
    hand = [-np.log(probs[i, labels[i]]) for i in range(5)]
    np.testing.assert_allclose(f(probs, labels), hand, rtol=1e-14)


def test_categorical_crossentropy_labels_float32(rng):
    p = np_softmax(rng.normal(size=(3, 4))).astype("float32")
    labels = np.array([3, 0, 1])
    check_op(T.nnet.categorical_crossentropy, [p, labels], lambda p, y: -np.log(np_pick(p, y)),
             grad=False, rtol=1e-5)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: T.nnet.categorical_crossentropy(T.dmatrix("p"), T.dvector("t")), TypeError,
         "categorical_crossentropy: true_dist .* must hold integer labels"),
        (lambda: T.nnet.categorical_crossentropy(T.dmatrix("p"), T.lscalar("y")), ValueError,
         "categorical_crossentropy: true_dist"),
        (lambda: T.nnet.categorical_crossentropy(T.dscalar("p"), T.dscalar("t")), ValueError,
         "at least 1-d"),
        (lambda: nnet.CrossentropyCategorical1Hot()(T.lmatrix("p"), T.lvector("y")), TypeError,
         "crossentropy_categorical_1hot: coding_dist must be a float"),
        (lambda: nnet.CrossentropyCategorical1Hot()(T.tensor("float64", (3, 4), "p"),
                                                    T.tensor("int64", (2,), "y")),
         ValueError, r"labels of shape \(2,\) do not match p of shape \(3, 4\)"),
    ],
)
def test_categorical_crossentropy_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


# --- label bounds (all label ops, both backends) ------------------------------------------------

LABEL_OPS = [
    ("crossentropy_categorical_1hot", lambda p, y: T.nnet.categorical_crossentropy(p, y)),
    ("sparse_crossentropy_softmax_with_logits",
     lambda p, y: T.nnet.softmax_cross_entropy_with_logits(p, y)),
    ("gather_labels", lambda p, y: nnet.GatherLabels()(p, y)),
    ("scatter_labels", lambda p, y: nnet.ScatterLabels()(T.cast(y, "float64"), y,
                                                          T.shape_i(p, 1))),
]


@pytest.mark.parametrize("opname, build", LABEL_OPS, ids=[row[0] for row in LABEL_OPS])
@pytest.mark.parametrize("bad", [3, -1, 7])
def test_label_out_of_range_raises_index_error(mode, opname, build, bad):
    p = T.dmatrix("p")
    y = T.lvector("y")
    f = sn.function([p, y], build(p, y), mode=mode)
    probs = np.full((2, 3), 1 / 3)
    f(probs, np.array([0, 2]))  # in range: fine
    with pytest.raises(IndexError, match=rf"{opname}: label {bad} .*axis -1 with 3 classes"):
        f(probs, np.array([0, bad]))


def test_label_shape_mismatch_at_run_time(mode):
    p = T.dmatrix("p")
    y = T.lvector("y")
    f = sn.function([p, y], T.nnet.softmax_cross_entropy_with_logits(p, y), mode=mode)
    with pytest.raises(ValueError, match="sparse_crossentropy_softmax_with_logits: .*labels"):
        f(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_gather_and_scatter_labels(rng):
    x = rng.normal(size=(2, 3, 4))
    labels = rng.integers(0, 4, size=(2, 3))
    check_op(lambda v, y: nnet.GatherLabels()(v, y), [x, labels], np_pick, grad=False)
    g = rng.normal(size=(2, 3))
    check_op(lambda v, y: nnet.ScatterLabels()(v, y, 4), [g, labels],
             lambda v, y: np_onehot(y, 4) * v[..., None], grad=False)
    # gather and scatter are each other's adjoints, so both have gradients of every order
    sn.verify_grad(lambda v: nnet.GatherLabels()(v, T.constant(labels)), [x], mode="python")
    sn.verify_grad(lambda v: nnet.ScatterLabels()(v, T.constant(labels), 4), [g], mode="python")


def test_scatter_labels_static_shape():
    y = T.tensor("int64", (5,), "y")
    out = nnet.ScatterLabels()(T.dvector("g"), y, 3)
    assert out.type.shape == (5, 3)
    with pytest.raises(TypeError, match="scatter_labels: the number of classes"):
        nnet.ScatterLabels()(T.dvector("g"), y, 3.0)


# --- fused softmax + crossentropy ---------------------------------------------------------------


def np_xent_logits(x, t, axis=-1):
    return -(t * np_log_softmax(x, axis)).sum(axis=axis)


def np_sparse_xent_logits(x, labels):
    return -np_pick(np_log_softmax(x), labels)


@pytest.mark.parametrize("shape, axis", AXIS_CASES)
def test_crossentropy_softmax_with_logits(rng, shape, axis):
    x = rng.normal(size=shape) * 2
    t = np_softmax(rng.normal(size=shape), axis)
    check(lambda v, w: nnet.CrossentropySoftmaxWithLogits(axis)(v, w), [x, t],
          lambda v, w: np_xent_logits(v, w, axis))


@pytest.mark.parametrize("shape", [(4,), (3, 4), (1, 4), (2, 3, 4)])
def test_sparse_crossentropy_softmax_with_logits(rng, shape):
    x = rng.normal(size=shape) * 2
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    check_op(T.nnet.softmax_cross_entropy_with_logits, [x, labels], np_sparse_xent_logits,
             grad=False)
    sn.verify_grad(lambda v: T.nnet.softmax_cross_entropy_with_logits(v, T.constant(labels)),
                   [x], mode="python")


def test_fused_ops_match_the_compositions(rng, mode):
    x = T.dmatrix("x")
    t = T.dmatrix("t")
    y = T.lvector("y")
    outs = [
        T.nnet.softmax_cross_entropy_with_logits(x, t),
        T.nnet.categorical_crossentropy(T.nnet.softmax(x), t),
        T.nnet.softmax_cross_entropy_with_logits(x, y),
        T.nnet.categorical_crossentropy(T.nnet.softmax(x), y),
    ]
    f = sn.function([x, t, y], outs, mode=mode)
    logits = rng.normal(size=(4, 5))
    labels = np.array([0, 4, 2, 2])
    dense, dense_ref, sparse, sparse_ref = f(logits, np_onehot(labels, 5), labels)
    np.testing.assert_allclose(dense, dense_ref, rtol=1e-12)
    np.testing.assert_allclose(sparse, sparse_ref, rtol=1e-12)
    np.testing.assert_allclose(dense, sparse, rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_fused_ops_large_logits_finite_with_simple_gradient(mode, sparse):
    x = T.dmatrix("x")
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]])
    labels = np.array([1, 2, 0])
    if sparse:
        y = T.lvector("y")
        target_value = labels
    else:
        y = T.dmatrix("y")
        target_value = np_onehot(labels, 3)
    loss = T.nnet.softmax_cross_entropy_with_logits(x, y)
    grad = sn.grad(T.sum(loss), x)
    value, g = sn.function([x, y], [loss, grad], mode=mode)(logits, target_value)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(value, [1e4, np.log(2.0), np.log(3.0)], rtol=1e-12)
    np.testing.assert_allclose(g, np_softmax(logits) - np_onehot(labels, 3), atol=1e-12)


def test_crossentropy_softmax_with_logits_target_grad_and_soft_targets(rng):
    # soft targets that do not sum to 1: the gradient is softmax * sum(t) - t
    x = rng.normal(size=(3, 4))
    t = rng.uniform(0.1, 1.0, size=(3, 4))
    check(nnet.CrossentropySoftmaxWithLogits(), [x, t], np_xent_logits)


def test_fused_ops_second_derivative(rng):
    labels = np.array([2, 0])
    t = np_softmax(rng.normal(size=(2, 3)))

    def sparse_grad(v):
        return sn.grad(T.sum(T.nnet.softmax_cross_entropy_with_logits(v, T.constant(labels))), v)

    def dense_grad(v):
        return sn.grad(T.sum(T.nnet.softmax_cross_entropy_with_logits(v, T.constant(t))), v)

    points = [rng.normal(size=(2, 3))]
    sn.verify_grad(sparse_grad, points, mode="python")
    sn.verify_grad(dense_grad, points, mode="python")


@pytest.mark.parametrize("x_dtype, t_dtype, out_dtype", [
    ("float32", "float32", "float32"),
    ("float32", "float64", "float64"),
    ("float64", "int64", "float64"),
])
def test_crossentropy_softmax_with_logits_dtypes(rng, x_dtype, t_dtype, out_dtype):
    x = (rng.normal(size=(3, 4)) * 3).astype(x_dtype)
    labels = np.array([1, 3, 0])
    t = np_onehot(labels, 4).astype(t_dtype)
    out = nnet.CrossentropySoftmaxWithLogits()(T.tensor(x_dtype, (None, None)),
                                              T.tensor(t_dtype, (None, None)))
    assert out.dtype == out_dtype
    check_op(nnet.CrossentropySoftmaxWithLogits(), [x, t],
             lambda v, w: np_xent_logits(v.astype("float64"), w.astype("float64")),
             grad=False, rtol=1e-5)


def test_sparse_crossentropy_softmax_with_logits_float32(rng):
    x = (rng.normal(size=(3, 4)) * 3).astype("float32")
    labels = np.array([1, 3, 0], dtype="int32")
    out = T.nnet.softmax_cross_entropy_with_logits(T.fmatrix(), T.ivector())
    assert out.dtype == "float32"
    check_op(T.nnet.softmax_cross_entropy_with_logits, [x, labels],
             lambda v, y: np_sparse_xent_logits(v.astype("float64"), y), grad=False, rtol=1e-5)


def test_softmax_cross_entropy_with_logits_dispatch():
    x = T.dmatrix("x")
    assert isinstance(T.nnet.softmax_cross_entropy_with_logits(x, T.dmatrix("t")).owner.op,
                      nnet.CrossentropySoftmaxWithLogits)
    assert isinstance(T.nnet.softmax_cross_entropy_with_logits(x, T.ivector("y")).owner.op,
                      nnet.SparseCrossentropySoftmaxWithLogits)
    assert sn.pp(T.nnet.softmax_cross_entropy_with_logits(x, T.lvector("y"))) == (
        "sparse_crossentropy_softmax_with_logits(x, y)")


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: T.nnet.softmax_cross_entropy_with_logits(T.dmatrix("x"), T.dvector("t")),
         TypeError, "softmax_cross_entropy_with_logits: targets .* must be integer labels"),
        (lambda: T.nnet.softmax_cross_entropy_with_logits(T.dmatrix("x"), T.dtensor3("t")),
         ValueError, "softmax_cross_entropy_with_logits: targets"),
        (lambda: nnet.SparseCrossentropySoftmaxWithLogits()(T.lmatrix("x"), T.lvector("y")),
         TypeError, "sparse_crossentropy_softmax_with_logits: logits must be a float"),
        (lambda: nnet.SparseCrossentropySoftmaxWithLogits()(T.dmatrix("x"), T.dvector("y")),
         TypeError, "sparse_crossentropy_softmax_with_logits: labels must be an integer"),
        (lambda: nnet.SparseCrossentropySoftmaxWithLogits()(T.dmatrix("x"), T.lmatrix("y")),
         ValueError, "labels must have one axis fewer"),
        (lambda: nnet.CrossentropySoftmaxWithLogits()(T.tensor("float64", (2, 3), "x"),
                                                      T.tensor("float64", (2, 4), "t")),
         ValueError, (r"crossentropy_softmax_with_logits: logits of shape \(2, 3\) and targets "
                      r"of shape \(2, 4\)")),
        (lambda: nnet.CrossentropySoftmaxWithLogits(axis=2)(T.dmatrix("x"), T.dmatrix("t")),
         ValueError, "crossentropy_softmax_with_logits: axis 2 is out of range"),
    ],
)
def test_fused_op_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_crossentropy_softmax_with_logits_runtime_shape_mismatch(mode):
    x, t = T.dmatrices("x", "t")
    f = sn.function([x, t], nnet.CrossentropySoftmaxWithLogits()(x, t), mode=mode)
    with pytest.raises(ValueError, match="crossentropy_softmax_with_logits: logits .* differ"):
        f(np.zeros((2, 3)), np.zeros((2, 4)))


# --- sigmoid binary crossentropy with logits ----------------------------------------------------


def np_sigmoid_bce_logits(x, t):
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


@pytest.mark.parametrize("x_shape, t_shape", [((), ()), ((5,), (5,)), ((3, 4), (3, 4)),
                                              ((3, 1), (1, 4))])
def test_sigmoid_binary_crossentropy_with_logits(rng, x_shape, t_shape):
    x = rng.normal(size=x_shape) * 3 + 0.1  # away from the kink of |x| at 0
    t = rng.uniform(size=t_shape)
    check(T.nnet.sigmoid_binary_crossentropy_with_logits, [x, t], np_sigmoid_bce_logits)


def test_sigmoid_binary_crossentropy_with_logits_matches_the_composition():
    x, t = T.dvectors("x", "t")
    loss = T.nnet.sigmoid_binary_crossentropy_with_logits(x, t)
    naive = T.nnet.binary_crossentropy(T.nnet.sigmoid(x), t)
    f = sn.function([x, t], [loss, naive], mode="python")
    stable, reference = f(np.array([-3.0, -0.5, 0.7, 4.0]), np.array([0.0, 1.0, 0.3, 1.0]))
    np.testing.assert_allclose(stable, reference, rtol=1e-12)


def test_sigmoid_binary_crossentropy_with_logits_large_logits(mode):
    x, t = T.dvectors("x", "t")
    loss = T.nnet.sigmoid_binary_crossentropy_with_logits(x, t)
    f = sn.function([x, t], [loss, sn.grad(T.sum(loss), x)], mode=mode)
    value, g = f(np.array([1e4, -1e4, 1e4, -1e4]), np.array([1.0, 0.0, 0.0, 1.0]))
    np.testing.assert_allclose(value, [0.0, 0.0, 1e4, 1e4])
    np.testing.assert_allclose(g, [0.0, 0.0, 1.0, -1.0])  # sigmoid(x) - t


# --- gradients on the numba backend ------------------------------------------------------------
# The per-row checks above run verify_grad on the python backend, which localizes a wrong
# formula. Here each row sums several of this module's ops into one expression, so one numba
# gradient check (three kernels) covers the numba code of their gradient graphs. The pure
# compositions (binary_crossentropy, dense categorical_crossentropy, the sigmoid loss) are
# elementwise and reduction graphs whose numba code the elemwise and reduction tests cover.

GRAD_LABELS = np.array([2, 0, 3])
GRAD_TARGETS = np_softmax(np.random.default_rng(7).normal(size=(3, 4)))


def _softmax_family(x):
    return T.nnet.softmax(x) + T.nnet.softmax(x, axis=0) + T.nnet.log_softmax(x)


def _label_ops(x):
    labels = T.constant(GRAD_LABELS)
    per_row = nnet.GatherLabels()(x, labels) * T.nnet.categorical_crossentropy(T.nnet.sigmoid(x),
                                                                               labels)
    return nnet.ScatterLabels()(per_row, labels, 5)


def _fused_crossentropies(x):
    per_row = (T.nnet.softmax_cross_entropy_with_logits(x, GRAD_TARGETS)
               + T.nnet.softmax_cross_entropy_with_logits(x, T.constant(GRAD_LABELS)))
    per_column = nnet.CrossentropySoftmaxWithLogits(0)(x, GRAD_TARGETS)
    return T.expand_dims(per_row, 1) + per_column


@pytest.mark.parametrize("build", [_softmax_family, _label_ops, _fused_crossentropies])
def test_gradients_on_numba(build):
    x = np.random.default_rng(3).normal(size=(3, 4)) + 0.05
    sn.verify_grad(build, [x], mode="numba")
    sn.verify_grad(build, [x], mode="python")


# --- bool and integer targets -------------------------------------------------------------------

INT_TARGET_CASES = [
    ("binary_crossentropy", T.nnet.binary_crossentropy, np.array([0.9, 0.2, 0.6, 0.3]),
     np.array([True, False, False, True]), np_binary_crossentropy),
    ("categorical_crossentropy", T.nnet.categorical_crossentropy,
     np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]), np.array([[0, 1, 0], [1, 0, 0]]),
     lambda p, t: -(t * np.log(p)).sum(axis=-1)),
    ("softmax_cross_entropy_with_logits", T.nnet.softmax_cross_entropy_with_logits,
     np.array([[0.2, -1.5, 3.0], [0.6, 0.3, 0.1]]), np.array([[0, 0, 1], [0, 1, 0]], "int8"),
     np_xent_logits),
    ("sigmoid_binary_crossentropy_with_logits", T.nnet.sigmoid_binary_crossentropy_with_logits,
     np.array([0.9, -2.0, 0.6, 5.0]), np.array([1, 0, 0, 1], "int32"), np_sigmoid_bce_logits),
]


@pytest.mark.parametrize("fn, values, targets, reference", [row[1:] for row in INT_TARGET_CASES],
                         ids=[row[0] for row in INT_TARGET_CASES])
def test_bool_and_int_targets_take_the_float_dtype(fn, values, targets, reference):
    values = values.astype("float32")
    assert fn(T.tensor("float32", values.shape), T.tensor(targets.dtype, targets.shape)).dtype == (
        "float32")
    check_op(fn, [values, targets],
             lambda v, t: reference(v.astype("float64"), t.astype("float64")), grad=False,
             rtol=1e-5)
