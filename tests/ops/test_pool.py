"""Tests for symnet/ops/pool.py: max_pool_2d / pool_2d (and their gradient ops) against NumPy
references written with explicit loops, on both backends.

Numba compiles are shared: each forward test compiles one function per configuration that
returns every pooling variant at once. Gradients are checked by finite differences on the python
backend for a table of cases, and on the numba backend for a few.
"""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.ops import pool

MODES = ("python", "numba")

# --- NumPy references (explicit loops, independent of the ops' perform) ------------------------


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


def tensor4(dtype="float64", name=None):
    return T.tensor(dtype, shape=(None,) * 4, name=name)


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


def test_pool_pp():
    x = T.dtensor4("x")
    assert sn.pp(T.nnet.max_pool_2d(x, (2, 2))) == "max_pool_2d(x, ws=(2, 2))"
    text = sn.pp(T.nnet.pool_2d(x, (3, 3), stride=(1, 1), mode="average"))
    assert text == "pool_2d(x, ws=(3, 3), stride=(1, 1), mode='average_inc_pad')"


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
    sn.verify_grad(lambda g: pool.Pool2DGrad(*op.props())(x, g), [gz], mode="python")
    if pool_mode == "max":
        sn.verify_grad(lambda g: pool.MaxPool2DGradGrad(*op.props())(x, g), [x * 0.5 + 1],
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
    op = pool.Pool2DGrad((2, 2), (2, 2), (0, 0), True, "max", "NCHW")
    message = r"max_pool_2d_grad: the gradient has shape \(1, 1, 1, 1\)"
    with pytest.raises(ValueError, match=message):
        op.perform([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 1, 1))])


def test_pool_grad_numba_shape_error():
    x, g = tensor4(name="x"), tensor4(name="g")
    f = sn.function([x, g], pool.Pool2DGrad((2, 2), (2, 2), (0, 0), True, "max", "NHWC")(x, g),
                    mode="numba")
    with pytest.raises(ValueError, match="max_pool_2d_grad"):
        f(np.zeros((1, 4, 4, 2)), np.zeros((1, 2, 2, 1)))
