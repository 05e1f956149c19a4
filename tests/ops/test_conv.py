"""Tests for symnet/ops/conv.py: conv2d and max_pool_2d (and their gradient ops) against NumPy
references written with explicit loops, on both backends.

Numba compiles are shared: each forward test compiles one function per configuration that
returns every border mode (or every pooling variant) at once. Gradients are checked by finite
differences on the python backend for a table of cases, and on the numba backend for a few.
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


def ref_pool_length(size, ws, stride, pad, ignore_border):
    if size == 0:
        return 0
    if ignore_border:
        return max(0, (size + 2 * pad - ws) // stride + 1)
    # every window that starts inside the (unpadded) input
    return len(range(0, size, stride)) if stride >= ws else max(0, (size - ws + stride - 1)
                                                                  // stride) + 1


def ref_pool(x, ws, stride, pad, ignore_border, mode):
    """Pool the last two axes; returns (pooled, gradient routing of ones for max)."""
    h, w = x.shape[-2:]
    oh = ref_pool_length(h, ws[0], stride[0], pad[0], ignore_border)
    ow = ref_pool_length(w, ws[1], stride[1], pad[1], ignore_border)
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for lead in np.ndindex(x.shape[:-2]):
        plane = x[lead]
        for i in range(oh):
            for j in range(ow):
                # window in padded coordinates, clipped to the padded image
                r_start, s_start = i * stride[0], j * stride[1]
                r_end = min(r_start + ws[0], h + 2 * pad[0])
                s_end = min(s_start + ws[1], w + 2 * pad[1])
                cells = [
                    plane[r - pad[0], s - pad[1]]
                    for r in range(r_start, r_end)
                    for s in range(s_start, s_end)
                    if pad[0] <= r < h + pad[0] and pad[1] <= s < w + pad[1]
                ]
                if mode == "max":
                    out[lead + (i, j)] = max(cells)
                elif mode == "average_exc_pad":
                    out[lead + (i, j)] = sum(cells) / len(cells)
                else:
                    out[lead + (i, j)] = sum(cells) / ((r_end - r_start) * (s_end - s_start))
    return out


def ref_max_pool_grad(x, gz, ws, stride, pad):
    """ignore_border=True: each gz entry goes to the first maximum of its window."""
    gx = np.zeros(x.shape)
    h, w = x.shape[-2:]
    for lead in np.ndindex(x.shape[:-2]):
        for i in range(gz.shape[-2]):
            for j in range(gz.shape[-1]):
                best, where = None, None
                for r in range(i * stride[0] - pad[0], i * stride[0] - pad[0] + ws[0]):
                    for s in range(j * stride[1] - pad[1], j * stride[1] - pad[1] + ws[1]):
                        if 0 <= r < h and 0 <= s < w and (best is None or x[lead + (r, s)] > best):
                            best, where = x[lead + (r, s)], (r, s)
                gx[lead + where] += gz[lead + (i, j)]
    return gx


def ref_max_pool_gather(x, g, ws, stride, pad):
    """ignore_border=True: ``g`` at the first maximum of each window of ``x``."""
    h, w = x.shape[-2:]
    oh = ref_pool_length(h, ws[0], stride[0], pad[0], True)
    ow = ref_pool_length(w, ws[1], stride[1], pad[1], True)
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for lead in np.ndindex(x.shape[:-2]):
        for i in range(oh):
            for j in range(ow):
                best, where = None, None
                for r in range(i * stride[0] - pad[0], i * stride[0] - pad[0] + ws[0]):
                    for s in range(j * stride[1] - pad[1], j * stride[1] - pad[1] + ws[1]):
                        if 0 <= r < h and 0 <= s < w and (best is None or x[lead + (r, s)] > best):
                            best, where = x[lead + (r, s)], (r, s)
                out[lead + (i, j)] = g[lead + where]
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
    assert sn.pp(T.nnet.max_pool_2d(x, (2, 2))) == "max_pool_2d(x, ws=(2, 2))"
    text = sn.pp(T.nnet.pool_2d(x, (3, 3), stride=(1, 1), mode="average"))
    assert text == "pool_2d(x, ws=(3, 3), stride=(1, 1), mode='average_inc_pad')"


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


# --- pooling -------------------------------------------------------------------------------------

POOL_VARIANTS = [
    # (ws, stride, pad, ignore_border)
    ((2, 2), None, (0, 0), True),
    ((2, 2), None, (0, 0), False),
    ((3, 2), (1, 1), (0, 0), True),
    ((3, 2), (1, 1), (0, 0), False),
    ((2, 3), (3, 2), (0, 0), True),
    ((2, 3), (3, 2), (0, 0), False),
    ((3, 3), (2, 2), (1, 1), True),
    ((3, 2), (1, 2), (2, 1), True),
    ((2, 2), (2, 1), (1, 0), True),
]


@pytest.fixture(scope="module")
def pool_data():
    rng = np.random.default_rng(11)
    return rng.normal(size=(2, 3, 7, 6))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("pool_mode", ["max", "average", "average_exc_pad"])
@pytest.mark.parametrize("mode", MODES)
def test_pool_matches_reference(pool_data, mode, pool_mode, layout):
    x = pool_data
    xs = tensor4(name="x")
    # numba: a subset covering ignore_border, strides below/above the window, padding and
    # 2x2 tiles (the kernels' fast path)
    subset = [POOL_VARIANTS[0]] + POOL_VARIANTS[1::2] + [POOL_VARIANTS[6]]
    variants = POOL_VARIANTS if mode == "python" else subset
    outs = [T.nnet.max_pool_2d(xs, ws, ib, stride, pad, pool_mode, layout)
            for ws, stride, pad, ib in variants]
    value = x if layout == "NCHW" else to_nhwc(x)
    got = sn.function([xs], outs, mode=mode)(value.copy())
    ref_mode = "average_inc_pad" if pool_mode == "average" else pool_mode
    for (ws, stride, pad, ib), g in zip(variants, got):
        expected = ref_pool(x, ws, stride or ws, pad, ib, ref_mode)
        if layout == "NHWC":
            expected = to_nhwc(expected)
        assert g.shape == expected.shape, (ws, stride, pad, ib, g.shape, expected.shape)
        np.testing.assert_allclose(g, expected, rtol=1e-12, err_msg=str((ws, stride, pad, ib)))


@pytest.mark.parametrize("mode", MODES)
def test_max_pool_leading_axes_ints_and_static_shape(mode):
    x = np.arange(2 * 5 * 5, dtype="int32").reshape(2, 5, 5) % 7
    xs = T.tensor("int32", shape=(2, 5, 5))
    y = T.nnet.max_pool_2d(xs, (2, 2), ignore_border=False)
    assert y.type == sn.graph.TensorType("int32", (2, 3, 3))
    got = sn.function([xs], y, mode=mode)(x)
    np.testing.assert_array_equal(got, ref_pool(x, (2, 2), (2, 2), (0, 0), False, "max"))
    v = T.dvector("v")
    with pytest.raises(TypeError, match="max_pool_2d"):
        T.nnet.max_pool_2d(v, (2, 2))
    z = T.nnet.max_pool_2d(T.tensor("float32", shape=(None, 26, 26, 32)), (2, 2),
                           layout="NHWC")
    assert z.type == sn.graph.TensorType("float32", (None, 13, 13, 32))
    z = T.nnet.pool_2d(T.tensor("int64", shape=(4, 4)), 2, mode="average")
    assert z.type == sn.graph.TensorType("float64", (2, 2))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", MODES)
def test_max_pool_grad_routes_to_first_maximum(mode, layout):
    # ties everywhere: every window is constant, or has its maximum twice; the second channel
    # has the opposite ties and NaNs (a NaN first cell keeps the window's gradient)
    plane = np.array([[1.0, 1.0, 2.0, 0.0, 5.0],
                      [1.0, 1.0, 0.0, 2.0, 5.0],
                      [3.0, 0.0, 4.0, 4.0, 1.0],
                      [0.0, 3.0, 4.0, 4.0, 0.0]])
    other = -plane
    other[0, 0] = np.nan
    other[3, 3] = np.nan
    x = np.stack([plane, other])[np.newaxis]
    xs = tensor4(name="x")
    cases = [((2, 2), (2, 2), (0, 0)), ((2, 2), (1, 1), (0, 0)), ((3, 3), (2, 2), (1, 1))]
    outs = []
    for ws, stride, pad in cases:
        y = T.nnet.max_pool_2d(xs, ws, True, stride, pad, layout=layout)
        gx = sn.grad(T.sum(y * y), xs)
        outs += [gx, y, sn.grad(T.sum(gx * xs), xs)]
    value = x if layout == "NCHW" else to_nhwc(x)
    got = sn.function([xs], outs, mode=mode)(value)
    for k, (ws, stride, pad) in enumerate(cases):
        gx, y, ggx = got[3 * k: 3 * k + 3]
        if layout == "NHWC":
            gx, y, ggx = (np.ascontiguousarray(a.transpose(0, 3, 1, 2)) for a in (gx, y, ggx))
        expected = ref_max_pool_grad(x, 2 * y, ws, stride, pad)
        np.testing.assert_allclose(gx, expected, err_msg=str((ws, stride, pad)))
        # d/dx sum(grad * x) = grad + (the second gradient routed back the same way)
        np.testing.assert_allclose(ggx, expected + ref_max_pool_grad(x, 2 * ref_max_pool_gather(
            x, x, ws, stride, pad), ws, stride, pad), err_msg=str((ws, stride, pad)))


POOL_GRAD_CASES = [
    ("max", (2, 2), None, (0, 0), True, "NCHW"),
    ("max", (3, 2), (1, 1), (0, 0), False, "NHWC"),
    ("max", (3, 3), (2, 2), (1, 1), True, "NCHW"),
    ("average", (2, 3), (1, 2), (1, 1), True, "NHWC"),
    ("average", (2, 2), (3, 1), (0, 0), False, "NCHW"),
    ("average_exc_pad", (3, 3), (2, 1), (2, 1), True, "NCHW"),
    ("average_exc_pad", (2, 2), None, (0, 0), False, "NHWC"),
]


@pytest.mark.parametrize("pool_mode, ws, stride, pad, ib, layout", POOL_GRAD_CASES)
def test_pool_grad(rng, pool_mode, ws, stride, pad, ib, layout):
    # distinct values far apart: finite differences never cross a change of maximum
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.1
    if layout == "NHWC":
        x = to_nhwc(x)

    def build(a):
        return T.nnet.max_pool_2d(a, ws, ib, stride, pad, pool_mode, layout)

    sn.verify_grad(build, [x], mode="python")
    op = build(tensor4()).owner.op
    gz = rng.normal(size=np.asarray(sn.function([], build(x), mode="python")()).shape)
    sn.verify_grad(lambda g: conv.Pool2DGrad(*op.props())(x, g), [gz], mode="python")
    if pool_mode == "max":
        sn.verify_grad(lambda g: conv.MaxPool2DGradGrad(*op.props())(x, g), [x * 0.5 + 1],
                       mode="python")


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_pool_grad_ops_match_python(rng, layout):
    """The numba pooling gradient kernels (and max pooling's second one) agree with perform."""
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) * 0.1
    if layout == "NHWC":
        x = to_nhwc(x)
    xs = tensor4(name="x")
    outs = []
    cases = [("max", POOL_VARIANTS[3]), ("max", POOL_VARIANTS[0]), ("average", POOL_VARIANTS[6]),
             ("average_exc_pad", POOL_VARIANTS[7]), ("average", POOL_VARIANTS[5])]
    for pool_mode, (ws, stride, pad, ib) in cases:
        y = T.nnet.max_pool_2d(xs, ws, ib, stride, pad, pool_mode, layout)
        (gx,) = sn.grad(T.sum(T.sin(y)), [xs])
        outs.append(gx)
        if pool_mode == "max":
            outs.append(sn.grad(T.sum(gx * T.cos(xs)), xs))
    results = [sn.function([xs], outs, mode=mode)(x) for mode in MODES]
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ws": (0, 2)}, "ws must be >= 1"),
        ({"ws": (2, 2, 2)}, "ws must be an int or a pair"),
        ({"ws": (2, 2), "stride": (-1, 1)}, "stride must be >= 1"),
        ({"ws": (2, 2), "pad": (-1, 0)}, "pad must be >= 0"),
        ({"ws": (2, 2), "pad": (2, 0)}, "smaller than the window"),
        ({"ws": (2, 2), "pad": (1, 1), "ignore_border": False}, "needs ignore_border=True"),
        ({"ws": (2, 2), "mode": "min"}, "mode must be"),
        ({"ws": (2, 2), "layout": "CHW"}, "layout must be"),
    ],
)
def test_pool_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.nnet.max_pool_2d(T.dtensor4("x"), **kwargs)


def test_pool_nhwc_needs_4d_and_bad_gradient_shape():
    with pytest.raises(TypeError, match="NHWC"):
        T.nnet.max_pool_2d(T.dtensor3("x"), (2, 2), layout="NHWC")
    op = conv.Pool2DGrad((2, 2), (2, 2), (0, 0), True, "max", "NCHW")
    message = r"max_pool_2d_grad: the gradient has shape \(1, 1, 1, 1\)"
    with pytest.raises(ValueError, match=message):
        op.perform([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 1, 1))])


def test_pool_grad_numba_shape_error():
    x, g = tensor4(name="x"), tensor4(name="g")
    f = sn.function([x, g], conv.Pool2DGrad((2, 2), (2, 2), (0, 0), True, "max", "NHWC")(x, g),
                    mode="numba")
    with pytest.raises(ValueError, match="max_pool_2d_grad"):
        f(np.zeros((1, 4, 4, 2)), np.zeros((1, 2, 2, 1)))
