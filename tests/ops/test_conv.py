"""Tests for symnet/ops/conv.py: conv2d (and its gradient ops) against a NumPy reference
written with explicit loops, on both backends.

Numba compiles are shared: each forward test compiles one function per configuration that
returns every border mode at once. Gradients are checked by finite differences on the python
backend for a table of cases, and on the numba backend for a few.
"""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.ops import conv

MODES = ("python", "numba")

# --- NumPy references (explicit loops, independent of the ops' perform) ------------------------


def ref_padding(border_mode, kh, kw):
    if border_mode == "valid":
        return 0, 0
    if border_mode == "full":
        return kh - 1, kw - 1
    if border_mode == "half":
        return kh // 2, kw // 2
    if isinstance(border_mode, int):
        return border_mode, border_mode
    return border_mode


def ref_conv2d(x, w, border_mode, subsample, flip):
    """Theano layout: x (n, c, h, w), w (o, c, kh, kw)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ph, pw = ref_padding(border_mode, kh, kw)
    sh, sw = subsample
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for b in range(n):
        for k in range(o):
            for i in range(oh):
                for j in range(ow):
                    total = 0.0
                    for ch in range(c):
                        for p in range(kh):
                            for q in range(kw):
                                r = i * sh + p - ph
                                s = j * sw + q - pw
                                if 0 <= r < h and 0 <= s < wd:
                                    tp, tq = (kh - 1 - p, kw - 1 - q) if flip else (p, q)
                                    total += x[b, ch, r, s] * w[k, ch, tp, tq]
                    out[b, k, i, j] = total
    return out


def to_nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def filters_to_nhwc(w):
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def tensor4(dtype="float64", name=None):
    return T.tensor(dtype, shape=(None,) * 4, name=name)


# --- conv2d forward ------------------------------------------------------------------------------

BORDER_MODES = ["valid", "full", "half", (1, 2), 1]
SUBSAMPLES = [(1, 1), (2, 2), (2, 1)]


@pytest.fixture(scope="module")
def conv_data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, 6, 5))
    w = rng.normal(size=(4, 3, 3, 2))  # an even filter width exercises 'half'
    return x, w


CONV_CONFIGS = [(bm, subsample, flip) for subsample in SUBSAMPLES for flip in (True, False)
                for bm in BORDER_MODES]
# Numba compile time grows with every call site, and the kernels take padding, strides and the
# flip as run-time arguments: a subset that covers every border mode, subsample and flip (and
# the python backend, the full product) keeps the cold-cache run short.
NUMBA_CONV_CONFIGS = [
    ("valid", (1, 1), True),
    ("full", (2, 2), False),
    ("half", (2, 1), True),
    ((1, 2), (1, 1), False),
    (1, (2, 2), True),
    ("half", (1, 1), False),
    ("full", (2, 1), True),
    ("valid", (2, 1), False),
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", MODES)
def test_conv2d_matches_reference(conv_data, mode, layout):
    """Border modes x subsamples x filter_flip, in one compiled function per layout."""
    x, w = conv_data
    xs, ws = tensor4(name="x"), tensor4(name="w")
    configs = CONV_CONFIGS if mode == "python" else NUMBA_CONV_CONFIGS
    outs = [T.nnet.conv2d(xs, ws, bm, subsample, flip, layout=layout)
            for bm, subsample, flip in configs]
    f = sn.function([xs, ws], outs, mode=mode)
    args = (x, w) if layout == "NCHW" else (to_nhwc(x), filters_to_nhwc(w))
    copies = [a.copy() for a in args]
    got = f(*copies)
    for original, copy in zip(args, copies):
        np.testing.assert_array_equal(original, copy)
    for config, value in zip(configs, got):
        expected = ref_conv2d(x, w, *config)
        if layout == "NHWC":
            expected = to_nhwc(expected)
        assert value.shape == expected.shape, (config, value.shape, expected.shape)
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12, err_msg=str(config))


@pytest.mark.parametrize("mode", MODES)
def test_conv2d_float32_and_larger_shapes(mode):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 2, 9, 8)).astype("float32")
    w = rng.normal(size=(5, 2, 4, 3)).astype("float32")
    xs, ws = tensor4("float32"), tensor4("float32")
    outs = [T.nnet.conv2d(xs, ws, "half", (2, 1)),
            T.nnet.conv2d(xs.dimshuffle(0, 2, 3, 1), ws.dimshuffle(2, 3, 1, 0), (2, 1), (1, 2),
                          filter_flip=False, layout="NHWC")]
    got = sn.function([xs, ws], outs, mode=mode)(x, w)
    assert all(g.dtype == np.float32 for g in got)
    xd, wd = x.astype("float64"), w.astype("float64")
    np.testing.assert_allclose(got[0], ref_conv2d(xd, wd, "half", (2, 1), True), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(got[1], to_nhwc(ref_conv2d(xd, wd, (2, 1), (1, 2), False)),
                               rtol=1e-5, atol=1e-5)


def test_conv2d_dtype_promotion_and_static_shape():
    x = T.tensor("float32", shape=(2, 3, 8, 7))
    w = T.tensor("float64", shape=(4, 3, 3, 3))
    y = T.nnet.conv2d(x, w, "half", (2, 2))
    assert y.type == sn.graph.TensorType("float64", (2, 4, 4, 4))
    xi = T.tensor("int32", shape=(None, 28, 28, 1))
    wf = T.tensor("float32", shape=(3, 3, 1, 32))
    y = T.nnet.conv2d(xi, wf, layout="NHWC")
    assert y.type == sn.graph.TensorType("float64", (None, 26, 26, 32))
    y = T.nnet.conv2d(T.tensor("float32", shape=(None, 1, 28, 28)),
                      T.tensor("float32", shape=(32, 1, 3, 3)), "full")
    assert y.type == sn.graph.TensorType("float32", (None, 32, 30, 30))


def test_conv2d_pp():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    assert sn.pp(T.nnet.conv2d(x, w, border_mode="half")) == "conv2d(x, w, border_mode='half')"
    assert sn.pp(T.nnet.conv2d(x, w)) == "conv2d(x, w)"
    text = sn.pp(T.nnet.conv2d(x, w, 1, (2, 1), False, layout="NHWC"))
    assert text == (
        "conv2d(x, w, border_mode=(1, 1), subsample=(2, 1), filter_flip=False, layout='NHWC')"
    )


# --- conv2d gradients ----------------------------------------------------------------------------

GRAD_CASES = [
    ("NCHW", "valid", (1, 1), True),
    ("NCHW", "full", (2, 1), True),
    ("NCHW", (1, 0), (1, 2), False),
    ("NCHW", "half", (2, 2), True),
    ("NHWC", "valid", (2, 2), False),
    ("NHWC", "half", (1, 1), False),
    ("NHWC", (0, 2), (2, 1), True),
]


def grad_points(layout, rng):
    x = rng.normal(size=(2, 2, 5, 4))
    w = rng.normal(size=(3, 2, 3, 2))
    if layout == "NHWC":
        return to_nhwc(x), filters_to_nhwc(w)
    return x, w


@pytest.mark.parametrize("layout, border_mode, subsample, flip", GRAD_CASES)
def test_conv2d_grad(rng, layout, border_mode, subsample, flip):
    x, w = grad_points(layout, rng)
    props = (border_mode, subsample, flip)

    def build(a, b):
        return T.nnet.conv2d(a, b, *props, layout=layout)

    sn.verify_grad(build, [x, w], mode="python")
    # the gradient ops are ops too: their own gradients (built from the other two ops)
    op_props = (conv._normalize_border_mode(border_mode), subsample, flip, layout)
    gz = np.asarray(sn.function([], build(x, w), mode="python")())
    gz = rng.normal(size=gz.shape)
    sn.verify_grad(lambda b, g: conv.Conv2DGradInput(*op_props)(b, g, x.shape), [w, gz],
                   mode="python")
    sn.verify_grad(lambda a, g: conv.Conv2DGradFilters(*op_props)(a, g, w.shape), [x, gz],
                   mode="python")


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv2d_grad_ops_match_python(rng, layout):
    """The numba gradient kernels agree with perform (every border mode, strided)."""
    x, w = grad_points(layout, rng)
    xs, ws = tensor4(name="x"), tensor4(name="w")
    outs = []
    for bm in ("full", (1, 2)):
        y = T.nnet.conv2d(xs, ws, bm, (2, 1), layout=layout)
        cost = T.sum(y * T.sin(y))
        outs.extend(sn.grad(cost, [xs, ws]))
    results = [sn.function([xs, ws], outs, mode=mode)(x, w) for mode in MODES]
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"border_mode": "same"}, "border_mode must be"),
        ({"border_mode": (1, -1)}, "border_mode must be >= 0"),
        ({"border_mode": (1, 2, 3)}, "border_mode must be an int or a pair"),
        ({"subsample": (1, -2)}, "subsample must be >= 1"),
        ({"subsample": (0, 1)}, "subsample must be >= 1"),
        ({"subsample": 1.5}, "subsample must be an int or a pair"),
        ({"filter_flip": "yes"}, "filter_flip"),
        ({"layout": "NWHC"}, "layout must be"),
    ],
)
def test_conv2d_bad_arguments(kwargs, match):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    with pytest.raises(ValueError, match=match):
        T.nnet.conv2d(x, w, **kwargs)


def test_conv2d_static_shape_errors():
    x = T.tensor("float64", shape=(2, 3, 5, 5), name="x")
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(2, 3, 5, 5\) and filters of "
                                         r"shape \(4, 2, 3, 3\).*3 channels.*expect 2"):
        T.nnet.conv2d(x, T.tensor("float64", shape=(4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        T.nnet.conv2d(x, T.tensor("float64", shape=(4, 3, 6, 3)))
    T.nnet.conv2d(x, T.tensor("float64", shape=(4, 3, 6, 3)), border_mode=(1, 0))  # fits padded
    with pytest.raises(TypeError, match="conv2d: the input must be 4-d"):
        T.nnet.conv2d(T.dmatrix("m"), T.dtensor4("w"))


@pytest.mark.parametrize("mode", MODES)
def test_conv2d_runtime_shape_errors(mode):
    xs, ws = tensor4(name="x"), tensor4(name="w")
    f = sn.function([xs, ws], T.nnet.conv2d(xs, ws), mode=mode)
    with pytest.raises(ValueError, match=r"conv2d.*\(2, 3, 5, 5\).*\(4, 2, 3, 3\).*3 channels"):
        f(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d.*\(1, 1, 2, 5\).*\(1, 1, 3, 3\).*larger"):
        f(np.zeros((1, 1, 2, 5)), np.zeros((1, 1, 3, 3)))
    g = sn.function([xs, ws], T.nnet.conv2d(xs, ws, layout="NHWC"), mode=mode)
    with pytest.raises(ValueError, match=r"conv2d.*\(2, 5, 5, 3\).*\(3, 3, 1, 4\).*layout NHWC"):
        g(np.zeros((2, 5, 5, 3)), np.zeros((3, 3, 1, 4)))
    np.testing.assert_array_equal(g(np.ones((1, 3, 3, 1)), np.ones((3, 3, 1, 2))),
                                  np.full((1, 1, 1, 2), 9.0))


@pytest.mark.parametrize("mode", MODES)
def test_conv2d_grad_op_shape_errors(mode):
    w, gz = tensor4(name="w"), tensor4(name="gz")
    s = T.lvector("s")
    f = sn.function([w, gz, s], conv.Conv2DGradInput()(w, gz, s), mode=mode)
    np.testing.assert_array_equal(f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)), [1, 1, 2, 2]),
                                  np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="conv2d_grad_input"):
        f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 1)), [1, 1, 2, 2])
    with pytest.raises(ValueError, match="conv2d_grad_input"):
        f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)), [1, 1, 2])
    with pytest.raises(ValueError, match="conv2d_grad_input"):
        f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)), [1, 2, 2, 2])
