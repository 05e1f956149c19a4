"""T.nnet.conv2d and T.nnet.max_pool_2d: 2-d convolution and pooling, with their gradient ops.

:class:`Conv2D` is Theano's ``conv2d``: input ``(batch, channels, rows, cols)``, filters
``(out_channels, in_channels, rows, cols)`` and a true convolution (flipped filters) unless
``filter_flip=False``. ``layout='NHWC'`` is the channels-last form the Keras layers use: input
``(batch, rows, cols, channels)`` and filters ``(rows, cols, in, out)``. Its gradients are the ops
:class:`Conv2DGradInput` and :class:`Conv2DGradFilters`, which take the shape of the tensor they
differentiate as an int vector (with a stride, the output shape does not determine it). The three
ops are bilinear maps of one another, so each one's gradient is built from the other two.

:class:`Pool2D` pools the last two axes (any leading axes) or, with ``layout='NHWC'``, axes 1
and 2 of a 4-d tensor, with Theano's modes ``max``, ``average_inc_pad`` and
``average_exc_pad``. :class:`Pool2DGrad` is its gradient (max pooling routes each output's
gradient to the first maximum of its window) and :class:`MaxPool2DGradGrad` gathers at those
maxima, the gradient of max pooling's gradient.

Numba helpers: convolutions build an im2col matrix (the filter flip is folded into its
indexing) and multiply it with the filters through BLAS ``np.dot``; pooling is a direct loop
over a ``(batch, rows, cols, channels)`` array, channels innermost. An NCHW tensor is pooled as
``(planes, rows, cols, 1)``. Every helper checks shapes before its loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Op, TensorType, Variable
from symnet.ops.elemwise import _short_pp
from symnet.runtime.kernel import kernel

__all__ = [
    "conv2d",
    "max_pool_2d",
    "pool_2d",
    "Conv2D",
    "Conv2DGradInput",
    "Conv2DGradFilters",
    "Pool2D",
    "Pool2DGrad",
    "MaxPool2DGradGrad",
]

LAYOUTS = ("NCHW", "NHWC")
BORDER_MODES = ("valid", "full", "half")
POOL_MODES = ("max", "average_inc_pad", "average_exc_pad")
_POOL_MODE_CODES = {"max": 0, "average_inc_pad": 1, "average_exc_pad": 2}


def _T():
    """symnet.tensor (imported when a graph is built: tensor re-exports this module)."""
    from symnet import tensor

    return tensor


def _dims_text(shape) -> str:
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner}{',' if len(shape) == 1 else ''})"


def _is_float(dtype: str) -> bool:
    return np.dtype(dtype).kind == "f"


# --- argument validation (graph-build time) ----------------------------------------------------


def _int_pair(opname: str, what: str, value, minimum: int) -> tuple[int, int]:
    """``value`` (an int or a pair of ints) as a pair of Python ints ``>= minimum``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        raise ValueError(f"{opname}: {what} must be an int or a pair of ints, got {value!r}")
    for v in pair:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise ValueError(f"{opname}: {what} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{opname}: {what} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_layout(opname: str, layout) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"{opname}: layout must be 'NCHW' or 'NHWC', got {layout!r}")
    return layout


def _normalize_border_mode(border_mode):
    """'valid', 'full', 'half', or a pair of non-negative ints (an int means both)."""
    if isinstance(border_mode, str):
        if border_mode not in BORDER_MODES:
            raise ValueError(
                f"conv2d: border_mode must be 'valid', 'full', 'half', an int or a pair of ints, "
                f"got {border_mode!r}"
            )
        return border_mode
    return _int_pair("conv2d", "border_mode", border_mode, 0)


def _normalize_pool_mode(mode) -> str:
    if mode == "average":
        return "average_inc_pad"
    if mode not in POOL_MODES:
        raise ValueError(
            f"max_pool_2d: mode must be 'max', 'average', 'average_inc_pad' or "
            f"'average_exc_pad', got {mode!r}"
        )
    return mode


# --- shapes -------------------------------------------------------------------------------------


def _conv_dims(layout: str, xshape, wshape):
    """``(batch, channels, rows, cols)`` of the input and ``(out, in, rows, cols)`` of the
    filters, whatever the layout."""
    if layout == "NCHW":
        return tuple(xshape), tuple(wshape)
    n, h, w, c = xshape
    kh, kw, cin, o = wshape
    return (n, c, h, w), (o, cin, kh, kw)


def _conv_output_shape(layout: str, n, o, oh, ow) -> tuple:
    return (n, o, oh, ow) if layout == "NCHW" else (n, oh, ow, o)


def _padding(border_mode, kh, kw):
    """The zero padding ``(ph, pw)``; None entries where the filter size is unknown."""
    if border_mode == "valid":
        return 0, 0
    if border_mode == "full":
        return (None if kh is None else kh - 1), (None if kw is None else kw - 1)
    if border_mode == "half":
        return (None if kh is None else kh // 2), (None if kw is None else kw // 2)
    return border_mode


def _conv_length(size, k, pad, stride):
    if size is None or k is None or pad is None:
        return None
    return (size + 2 * pad - k) // stride + 1


def _check_conv_shapes(opname: str, layout: str, border_mode, xshape, wshape) -> tuple:
    """Check an input and a filter shape (ints, or None where unknown) against each other and
    return the padding. ValueError names the op and both shapes."""
    (_, c, h, w), (_, cin, kh, kw) = _conv_dims(layout, xshape, wshape)
    ph, pw = _padding(border_mode, kh, kw)
    where = (
        f"input of shape {_dims_text(xshape)} and filters of shape {_dims_text(wshape)} "
        f"(layout {layout})"
    )
    if c is not None and cin is not None and c != cin:
        raise ValueError(
            f"{opname}: {where}: the input has {c} channels but the filters expect {cin}"
        )
    for k in (kh, kw):
        if k is not None and k < 1:
            raise ValueError(f"{opname}: {where}: the filters are empty")
    for size, k, pad, axis in ((h, kh, ph, "rows"), (w, kw, pw, "columns")):
        if size is not None and k is not None and pad is not None and size + 2 * pad < k:
            raise ValueError(
                f"{opname}: {where}: the filters ({k} {axis}) are larger than the padded "
                f"input ({size} + 2 * {pad} {axis})"
            )
    return ph, pw


def _conv_static_output(layout, border_mode, subsample, xshape, wshape) -> tuple:
    (n, _, h, w), (o, _, kh, kw) = _conv_dims(layout, xshape, wshape)
    ph, pw = _padding(border_mode, kh, kw)
    oh = _conv_length(h, kh, ph, subsample[0])
    ow = _conv_length(w, kw, pw, subsample[1])
    return _conv_output_shape(layout, n, o, oh, ow)


def _pool_length(size, ws, stride, pad, ignore_border):
    """Theano's pooled length of an axis of ``size`` (None when unknown)."""
    if size is None:
        return None
    if size == 0:
        return 0
    padded = size + 2 * pad
    if ignore_border:
        return max((padded - ws) // stride + 1, 0)
    if stride >= ws:
        return (padded - 1) // stride + 1
    return max(0, (padded - 1 - ws + stride) // stride) + 1


def _pool_axes(layout: str, ndim: int) -> tuple[int, int]:
    return (ndim - 2, ndim - 1) if layout == "NCHW" else (1, 2)


def _static_shape_vector(v: Variable, n: int):
    from symnet.ops.shape import _static_vector

    values = _static_vector(v)
    return (None,) * n if values is None else tuple(values)


def _as_shape_input(opname: str, shape) -> Variable:
    """An int vector of length 4 (a shape) as a variable."""
    v = _T().as_tensor(shape)
    if v.ndim != 1 or np.dtype(v.dtype).kind not in "iu" or v.type.shape[0] not in (None, 4):
        raise TypeError(f"{opname}: the shape must be an int vector of length 4, got {v.type}")
    return v


def _shape_value(opname: str, shape: np.ndarray) -> tuple:
    shape = tuple(int(s) for s in np.asarray(shape).reshape(-1))
    if len(shape) != 4 or any(s < 0 for s in shape):
        raise ValueError(f"{opname}: {shape} is not the shape of a 4-d tensor")
    return shape


# --- NumPy references (perform) -----------------------------------------------------------------


def _to_nchw(x: np.ndarray, w: np.ndarray, layout: str):
    """Input and filters in Theano's layout (views)."""
    if layout == "NCHW":
        return x, w
    return x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)


def _output_from_nchw(out: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NHWC":
        out = out.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(out)


def _filters_from_nchw(gw: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NHWC":
        gw = gw.transpose(2, 3, 1, 0)
    return np.ascontiguousarray(gw)


def _windows_np(x: np.ndarray, kh: int, kw: int, ph: int, pw: int, sh: int, sw: int):
    """``(batch, channels, out_rows, out_cols, kh, kw)``: the zero-padded input under each
    filter position (a view of the padded copy)."""
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return windows[:, :, ::sh, ::sw]


def _conv_np(x, w, ph, pw, sh, sw, flip):
    """NCHW convolution: ``out[n, o, i, j] = sum(window(n, i, j) * w[o])``."""
    if flip:
        w = w[:, :, ::-1, ::-1]
    windows = _windows_np(x, w.shape[2], w.shape[3], ph, pw, sh, sw)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))  # (n, oh, ow, o)
    return out.transpose(0, 3, 1, 2)


def _conv_grad_filters_np(x, gz, kh, kw, ph, pw, sh, sw, flip):
    """NCHW: the gradient of :func:`_conv_np` with respect to the filters."""
    windows = _windows_np(x, kh, kw, ph, pw, sh, sw)
    gw = np.tensordot(gz, windows, axes=([0, 2, 3], [0, 2, 3]))  # (o, c, kh, kw)
    if flip:
        gw = gw[:, :, ::-1, ::-1]
    return gw


def _conv_grad_input_np(w, gz, h, wd, ph, pw, sh, sw, flip):
    """NCHW: the gradient of :func:`_conv_np` with respect to its input of ``(h, wd)`` rows
    and columns: every filter tap scatters ``gz`` back onto the (padded) input positions it
    read."""
    if flip:
        w = w[:, :, ::-1, ::-1]
    n, _, oh, ow = gz.shape
    c, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    gxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=gz.dtype)
    for p in range(kh):
        for q in range(kw):
            tap = np.tensordot(gz, w[:, :, p, q], axes=([1], [0]))  # (n, oh, ow, c)
            rows = slice(p, p + sh * (oh - 1) + 1, sh)
            cols = slice(q, q + sw * (ow - 1) + 1, sw)
            gxp[:, :, rows, cols] += tap.transpose(0, 3, 1, 2)
    return gxp[:, :, ph : ph + h, pw : pw + wd]


def _pool_planes(x: np.ndarray, layout: str) -> np.ndarray:
    """The pooled axes last, everything else flattened first: ``(planes, rows, cols)``."""
    if layout == "NHWC":
        x = x.transpose(0, 3, 1, 2)
    return x.reshape((-1,) + x.shape[-2:])


def _pool_unplanes(p: np.ndarray, shape: tuple, layout: str) -> np.ndarray:
    """Inverse of :func:`_pool_planes` for planes of ``p.shape[1:]``, ``shape`` being the
    shape of the tensor the planes came from."""
    if layout == "NHWC":
        n, _, _, c = shape
        return np.ascontiguousarray(p.reshape((n, c) + p.shape[1:]).transpose(0, 2, 3, 1))
    return p.reshape(shape[:-2] + p.shape[1:])


@dataclass(frozen=True)
class _PoolGeometry:
    """Window placement of one pooling configuration on planes of ``(rows, cols)``."""

    ws: tuple
    stride: tuple
    pad: tuple
    ignore_border: bool
    rows: int
    cols: int

    @property
    def out(self) -> tuple[int, int]:
        return (
            _pool_length(self.rows, self.ws[0], self.stride[0], self.pad[0], self.ignore_border),
            _pool_length(self.cols, self.ws[1], self.stride[1], self.pad[1], self.ignore_border),
        )

    def extended(self) -> tuple[int, int]:
        """Rows and columns of the padded input, extended past its end where the last
        windows overhang it (ignore_border=False)."""
        oh, ow = self.out
        return (
            max(self.rows + 2 * self.pad[0], (oh - 1) * self.stride[0] + self.ws[0]),
            max(self.cols + 2 * self.pad[1], (ow - 1) * self.stride[1] + self.ws[1]),
        )

    def windows(self, planes: np.ndarray) -> np.ndarray:
        """``(planes, oh, ow, ws0, ws1)`` views of planes laid out as the extended input."""
        oh, ow = self.out
        win = np.lib.stride_tricks.sliding_window_view(planes, self.ws, axis=(1, 2))
        return win[:, :: self.stride[0], :: self.stride[1]][:, :oh, :ow]

    def embed(self, planes: np.ndarray, fill) -> np.ndarray:
        """``planes`` placed in the extended input (at the padding offset), ``fill`` elsewhere."""
        eh, ew = self.extended()
        ph, pw = self.pad
        out = np.full((planes.shape[0], eh, ew), fill, dtype=planes.dtype)
        out[:, ph : ph + self.rows, pw : pw + self.cols] = planes
        return out

    def real_mask(self) -> np.ndarray:
        """1 on the input's own cells of the extended input, 0 on padding and overhang."""
        return self.embed(np.ones((1, self.rows, self.cols), dtype=bool), False)

    def padded_mask(self) -> np.ndarray:
        """1 on the padded input (input and padding), 0 on the overhang."""
        eh, ew = self.extended()
        mask = np.zeros((1, eh, ew), dtype=bool)
        mask[:, : self.rows + 2 * self.pad[0], : self.cols + 2 * self.pad[1]] = True
        return mask

    def argmax(self, planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns (input coordinates) of the first maximum of every window, in
        row-major window order."""
        oh, ow = self.out
        valid = self.windows(self.real_mask())[0].reshape(oh, ow, -1)
        win = self.windows(self.embed(planes, 0))
        values = win.reshape(win.shape[:3] + (-1,))
        # the scan the Numba loops do: from the window's first input cell, row-major, take a
        # cell when it is greater (so a NaN is taken only as the first cell, and ties keep the
        # earlier cell); every window holds an input cell (pool_check_args)
        start = np.argmax(valid, axis=-1)  # (oh, ow)
        first = np.broadcast_to(start, values.shape[:3]).copy()  # (planes, oh, ow)
        best = np.take_along_axis(values, first[..., None], axis=-1)[..., 0]
        for t in range(values.shape[-1]):
            v = values[..., t]
            take = valid[:, :, t] & (v > best)
            best = np.where(take, v, best)
            first = np.where(take, t, first)
        i = np.arange(oh)[None, :, None]
        j = np.arange(ow)[None, None, :]
        rows = i * self.stride[0] + first // self.ws[1] - self.pad[0]
        cols = j * self.stride[1] + first % self.ws[1] - self.pad[1]
        return rows, cols

    def counts(self, mode: str) -> np.ndarray:
        """``(oh, ow)`` divisors of average pooling."""
        mask = self.real_mask() if mode == "average_exc_pad" else self.padded_mask()
        return self.windows(mask)[0].sum(axis=(-2, -1))


def _pool_np(x, geometry: _PoolGeometry, mode: str):
    if mode == "max":
        rows, cols = geometry.argmax(x)
        return np.take_along_axis(
            x.reshape(x.shape[0], -1), (rows * geometry.cols + cols).reshape(x.shape[0], -1), 1
        ).reshape(rows.shape)
    sums = geometry.windows(geometry.embed(x, 0)).sum(axis=(-2, -1))
    return (sums / geometry.counts(mode)).astype(x.dtype)


def _pool_grad_np(x, gz, geometry: _PoolGeometry, mode: str):
    gx = np.zeros(x.shape, dtype=gz.dtype)
    if mode == "max":
        rows, cols = geometry.argmax(x)
        planes = np.broadcast_to(np.arange(x.shape[0])[:, None, None], rows.shape)
        np.add.at(gx, (planes, rows, cols), gz)
        return gx
    # every input cell of a window receives gz / count; padding and overhang are cut off
    share = gz / geometry.counts(mode)
    eh, ew = geometry.extended()
    gxe = np.zeros((x.shape[0], eh, ew), dtype=gz.dtype)
    oh, ow = geometry.out
    for p in range(geometry.ws[0]):
        for q in range(geometry.ws[1]):
            rows = slice(p, p + geometry.stride[0] * (oh - 1) + 1, geometry.stride[0])
            cols = slice(q, q + geometry.stride[1] * (ow - 1) + 1, geometry.stride[1])
            gxe[:, rows, cols] += share
    ph, pw = geometry.pad
    return gxe[:, ph : ph + geometry.rows, pw : pw + geometry.cols].astype(gz.dtype)


def _max_pool_gather_np(x, g, geometry: _PoolGeometry):
    rows, cols = geometry.argmax(x)
    planes = np.broadcast_to(np.arange(x.shape[0])[:, None, None], rows.shape)
    return g[planes, rows, cols]


# --- Numba helpers: convolution -----------------------------------------------------------------


@kernel
def conv_output_size(c, h, w, cin, kh, kw, ph, pw, sh, sw):
    """Shape checks shared by the convolution helpers, then the output's rows and columns."""
    if c != cin:
        raise ValueError("conv2d: the input's channels differ from the filters' input channels")
    if kh < 1 or kw < 1:
        raise ValueError("conv2d: the filters are empty")
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError("conv2d: the filters are larger than the padded input")
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


# im2col here is the transposed (Caffe) form: per image a ``(k, oh * ow)`` matrix whose row for
# one filter tap holds the input under that tap at every output position. Its inner loop runs
# along an output row, so it copies a stretch of one input row (contiguous for NCHW and for
# one-channel NHWC) instead of a few values per output position. Both layouts share the loops
# through element strides; only the order of the taps (the filters' layout) differs. The
# filter flip is applied to the (small) filter array.


@kernel
def tap_range(q, pad, stride, size, count):
    """The output positions ``[lo, hi)`` of ``range(count)`` at which tap ``q`` reads inside
    an axis of ``size`` (``0 <= j * stride - pad + q < size``)."""
    lo = 0
    if q < pad:
        lo = (pad - q + stride - 1) // stride
    last = size - 1 + pad - q
    hi = 0 if last < 0 else min(count, last // stride + 1)
    lo = min(lo, count)
    return lo, max(hi, lo)


@kernel
def tap_index(ch, p, q, c, kh, kw, channels_last):
    """Row of tap ``(ch, p, q)`` in the im2col matrix: ``(p, q, ch)`` order for Keras's
    filters, ``(ch, p, q)`` for Theano's."""
    if channels_last:
        return (p * kw + q) * c + ch
    return (ch * kh + p) * kw + q


@kernel
def im2col(x, strides, n, c, h, w, kh, kw, ph, pw, sh, sw, oh, ow, channels_last):
    """``(n, c * kh * kw, oh * ow)`` columns of the flat image batch ``x`` whose element
    strides for (image, channel, row, col) are ``strides``; zero where a tap reads padding."""
    k = c * kh * kw
    pos = oh * ow
    sb, sc, sr, ss = strides
    col = np.empty(n * k * pos, dtype=x.dtype)
    for b in range(n):
        for ch in range(c):
            for q in range(kw):
                lo, hi = tap_range(q, pw, sw, w, ow)
                for p in range(kh):
                    row = b * k + tap_index(ch, p, q, c, kh, kw, channels_last)
                    for i in range(oh):
                        dst = row * pos + i * ow
                        r = i * sh - ph + p
                        if r < 0 or r >= h:
                            for j in range(ow):
                                col[dst + j] = 0
                            continue
                        for j in range(lo):
                            col[dst + j] = 0
                        at = b * sb + ch * sc + r * sr + (lo * sw - pw + q) * ss
                        step = sw * ss
                        for j in range(lo, hi):
                            col[dst + j] = x[at]
                            at += step
                        for j in range(hi, ow):
                            col[dst + j] = 0
    return col.reshape((n, k, pos))


@kernel
def col2im(dcol, strides, n, c, h, w, kh, kw, ph, pw, sh, sw, oh, ow, channels_last):
    """The adjoint of :func:`im2col`: a flat image batch (laid out by ``strides``) holding
    the sum of the column entries read from each cell."""
    k = c * kh * kw
    pos = oh * ow
    sb, sc, sr, ss = strides
    src = np.ascontiguousarray(dcol).reshape(n * k * pos)
    gx = np.zeros(n * c * h * w, dtype=dcol.dtype)
    for b in range(n):
        for ch in range(c):
            for q in range(kw):
                lo, hi = tap_range(q, pw, sw, w, ow)
                for p in range(kh):
                    row = b * k + tap_index(ch, p, q, c, kh, kw, channels_last)
                    for i in range(oh):
                        r = i * sh - ph + p
                        if r < 0 or r >= h:
                            continue
                        at = row * pos + i * ow
                        dst = b * sb + ch * sc + r * sr + (lo * sw - pw + q) * ss
                        step = sw * ss
                        for j in range(lo, hi):
                            gx[dst] += src[at + j]
                            dst += step
    return gx


@kernel
def columns_nhwc(x, kh, kw, ph, pw, sh, sw, oh, ow):
    n, h, w, c = x.shape
    flat = np.ascontiguousarray(x).reshape(x.size)
    strides = (h * w * c, 1, w * c, c)
    return im2col(flat, strides, n, c, h, w, kh, kw, ph, pw, sh, sw, oh, ow, True)


@kernel
def columns_nchw(x, kh, kw, ph, pw, sh, sw, oh, ow):
    n, c, h, w = x.shape
    flat = np.ascontiguousarray(x).reshape(x.size)
    strides = (c * h * w, h * w, w, 1)
    return im2col(flat, strides, n, c, h, w, kh, kw, ph, pw, sh, sw, oh, ow, False)


@kernel
def flipped_hw(w):
    """Filters ``(kh, kw, c, o)`` with both spatial axes reversed (a C-contiguous copy)."""
    return np.ascontiguousarray(w[::-1, ::-1])


@kernel
def flipped_chw(w):
    """Filters ``(o, c, kh, kw)`` with both spatial axes reversed (a C-contiguous copy)."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1])


@kernel
def conv2d_nhwc(x, w, ph, pw, sh, sw, flip):
    """Convolution of ``x (n, h, w, c)`` with filters ``(kh, kw, c, o)``: per image, one
    BLAS product of the transposed im2col matrix with the filters (small products stay on
    one thread, which matters on a shared machine)."""
    n, h, wd, c = x.shape
    kh, kw, cin, o = w.shape
    oh, ow = conv_output_size(c, h, wd, cin, kh, kw, ph, pw, sh, sw)
    col = columns_nhwc(x, kh, kw, ph, pw, sh, sw, oh, ow)
    wk = flipped_hw(w) if flip else np.ascontiguousarray(w)
    wmat = wk.reshape((kh * kw * cin, o))
    out = np.empty((n, oh * ow, o), dtype=x.dtype)
    for b in range(n):
        np.dot(col[b].T, wmat, out[b])
    return out.reshape((n, oh, ow, o))


@kernel
def conv2d_grad_filters_nhwc(x, gz, shape, ph, pw, sh, sw, flip):
    """Gradient of :func:`conv2d_nhwc` with respect to filters of ``shape (kh, kw, c, o)``."""
    n, h, wd, c = x.shape
    kh, kw = shape[0], shape[1]
    if shape[2] != c or shape[3] != gz.shape[3]:
        raise ValueError("conv2d_grad_filters: the filter shape does not match the other inputs")
    oh, ow = conv_output_size(c, h, wd, c, kh, kw, ph, pw, sh, sw)
    if gz.shape[0] != n or gz.shape[1] != oh or gz.shape[2] != ow:
        raise ValueError("conv2d_grad_filters: the output gradient's shape does not match")
    o = gz.shape[3]
    col = columns_nhwc(x, kh, kw, ph, pw, sh, sw, oh, ow)
    g = np.ascontiguousarray(gz).reshape((n, oh * ow, o))
    gw = np.zeros((kh * kw * c, o), dtype=x.dtype)
    for b in range(n):
        gw += np.dot(col[b], g[b])
    gw4 = gw.reshape((kh, kw, c, o))
    return flipped_hw(gw4) if flip else gw4


@kernel
def conv2d_grad_input_nhwc(w, gz, shape, ph, pw, sh, sw, flip):
    """Gradient of :func:`conv2d_nhwc` with respect to an input of ``shape (n, h, wd, c)``."""
    kh, kw, c, o = w.shape
    n, h, wd = shape[0], shape[1], shape[2]
    if shape[3] != c:
        raise ValueError("conv2d_grad_input: the input's channels differ from the filters'")
    oh, ow = conv_output_size(c, h, wd, c, kh, kw, ph, pw, sh, sw)
    if gz.shape[0] != n or gz.shape[1] != oh or gz.shape[2] != ow or gz.shape[3] != o:
        raise ValueError("conv2d_grad_input: the output gradient's shape does not match")
    wk = flipped_hw(w) if flip else np.ascontiguousarray(w)
    wmat = wk.reshape((kh * kw * c, o))
    g = np.ascontiguousarray(gz).reshape((n, oh * ow, o))
    dcol = np.empty((n, kh * kw * c, oh * ow), dtype=w.dtype)
    for b in range(n):
        np.dot(wmat, g[b].T, dcol[b])
    strides = (h * wd * c, 1, wd * c, c)
    gx = col2im(dcol, strides, n, c, h, wd, kh, kw, ph, pw, sh, sw, oh, ow, True)
    return gx.reshape((n, h, wd, c))


@kernel
def conv2d_nchw(x, w, ph, pw, sh, sw, flip):
    """Convolution of ``x (n, c, h, w)`` with filters ``(o, c, kh, kw)``: one BLAS product
    per image, written straight into the ``(o, oh * ow)`` output plane."""
    n, c, h, wd = x.shape
    o, cin, kh, kw = w.shape
    oh, ow = conv_output_size(c, h, wd, cin, kh, kw, ph, pw, sh, sw)
    col = columns_nchw(x, kh, kw, ph, pw, sh, sw, oh, ow)
    wk = flipped_chw(w) if flip else np.ascontiguousarray(w)
    wmat = wk.reshape((o, cin * kh * kw))
    out = np.empty((n, o, oh * ow), dtype=x.dtype)
    for b in range(n):
        np.dot(wmat, col[b], out[b])
    return out.reshape((n, o, oh, ow))


@kernel
def conv2d_grad_filters_nchw(x, gz, shape, ph, pw, sh, sw, flip):
    """Gradient of :func:`conv2d_nchw` with respect to filters of ``shape (o, c, kh, kw)``."""
    n, c, h, wd = x.shape
    kh, kw = shape[2], shape[3]
    if shape[1] != c or shape[0] != gz.shape[1]:
        raise ValueError("conv2d_grad_filters: the filter shape does not match the other inputs")
    oh, ow = conv_output_size(c, h, wd, c, kh, kw, ph, pw, sh, sw)
    if gz.shape[0] != n or gz.shape[2] != oh or gz.shape[3] != ow:
        raise ValueError("conv2d_grad_filters: the output gradient's shape does not match")
    o = gz.shape[1]
    col = columns_nchw(x, kh, kw, ph, pw, sh, sw, oh, ow)
    g = np.ascontiguousarray(gz).reshape((n, o, oh * ow))
    gw = np.zeros((o, c * kh * kw), dtype=x.dtype)
    for b in range(n):
        gw += np.dot(g[b], col[b].T)
    gw4 = gw.reshape((o, c, kh, kw))
    return flipped_chw(gw4) if flip else gw4


@kernel
def conv2d_grad_input_nchw(w, gz, shape, ph, pw, sh, sw, flip):
    """Gradient of :func:`conv2d_nchw` with respect to an input of ``shape (n, c, h, wd)``."""
    o, c, kh, kw = w.shape
    n, h, wd = shape[0], shape[2], shape[3]
    if shape[1] != c:
        raise ValueError("conv2d_grad_input: the input's channels differ from the filters'")
    oh, ow = conv_output_size(c, h, wd, c, kh, kw, ph, pw, sh, sw)
    if gz.shape[0] != n or gz.shape[1] != o or gz.shape[2] != oh or gz.shape[3] != ow:
        raise ValueError("conv2d_grad_input: the output gradient's shape does not match")
    wk = flipped_chw(w) if flip else np.ascontiguousarray(w)
    wmat_t = wk.reshape((o, c * kh * kw)).T
    g = np.ascontiguousarray(gz).reshape((n, o, oh * ow))
    dcol = np.empty((n, c * kh * kw, oh * ow), dtype=w.dtype)
    for b in range(n):
        np.dot(wmat_t, g[b], dcol[b])
    strides = (c * h * wd, h * wd, wd, 1)
    gx = col2im(dcol, strides, n, c, h, wd, kh, kw, ph, pw, sh, sw, oh, ow, False)
    return gx.reshape((n, c, h, wd))


@kernel
def check_shape_vector(shape, opname):
    if shape.shape[0] != 4:
        raise ValueError(opname + ": the shape vector does not have 4 entries")
    for d in range(4):
        if shape[d] < 0:
            raise ValueError(opname + ": the shape vector has a negative entry")
    return shape


# --- Numba helpers: pooling ---------------------------------------------------------------------


@kernel
def pool_length(size, ws, stride, pad, ignore_border):
    """Theano's pooled length of an axis (see ``_pool_length``)."""
    if size == 0:
        return 0
    padded = size + 2 * pad
    if ignore_border:
        return max((padded - ws) // stride + 1, 0)
    if stride >= ws:
        return (padded - 1) // stride + 1
    return max(0, (padded - 1 - ws + stride) // stride) + 1


@kernel
def pool_window(j, ws, stride, pad, size):
    """Window ``j`` along one axis: its first and one-past-last input index (padding cut
    off) and its length over the padded input (the average_inc_pad divisor)."""
    start = j * stride - pad
    end = min(start + ws, size + pad)
    return max(start, 0), min(end, size), end - start


@kernel
def pool_check_args(wh, ww, ph, pw, ignore_border):
    """max_pool_2d's rules on padding, under which every window holds an input cell (the
    loops read each window's first cell unchecked)."""
    if ph >= wh or pw >= ww or (not ignore_border and (ph > 0 or pw > 0)):
        raise ValueError("max_pool_2d: the padding must be smaller than the window, and only "
                         "with ignore_border=True")


@kernel
def pool_tiles(h, w, oh, ow, wh, ww, sh, sw, ph, pw):
    """Whether the windows are 2x2 tiles of the image: stride 2, no padding, none partial."""
    return (wh == 2 and ww == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0
            and 2 * oh <= h and 2 * ow <= w)


@kernel
def tile_argmax(x00, x01, x10, x11):
    """Which cell of a 2x2 tile holds its first maximum in row-major order (0 to 3), as the
    window scan of ``max_pool_argmax_nhwc`` finds it (a NaN first cell stays); branch-free
    selects, so the loops that call it still vectorize."""
    m = x00
    k = 0
    k = 1 if x01 > m else k
    m = x01 if x01 > m else m  # noqa: FURB136 (NaN order)
    k = 2 if x10 > m else k
    m = x10 if x10 > m else m  # noqa: FURB136 (NaN order)
    return 3 if x11 > m else k


@kernel
def column_range(s, sw, pw, w, ow):
    """The output columns ``j`` whose window holds input column ``j * sw - pw + s``, for a
    column offset ``0 <= s < ww`` inside the window: ``range(lo, hi)``."""
    lo = 0
    if pw - s > 0:
        lo = (pw - s + sw - 1) // sw
    top = w - 1 + pw - s
    hi = 0
    if top >= 0:
        hi = min(ow, top // sw + 1)
    return lo, max(lo, hi)


@kernel
def as_pool_planes(x):
    """A tensor pooled on its last two axes as a C-contiguous ``(planes, rows, cols)``."""
    planes = 1
    for d in range(x.ndim - 2):
        planes *= x.shape[d]
    rows = x.shape[x.ndim - 2]
    cols = x.shape[x.ndim - 1]
    return np.ascontiguousarray(x).reshape((planes, rows, cols))


# How the pooling loops are laid out (max_pool_argmax_nhwc, behind both gradients of max pooling
# outside 2x2 tiles, is still a window-innermost scan). The innermost loop runs over the
# contiguous axis (channels for NHWC, output columns for NCHW), the window's rows and columns
# outside it, and the running values of the windows it covers live in a row buffer (allocated
# once per call) updated without a branch: `v if v > m else m` is one MAXPS, and it gives the
# scalar scan's answer with NaNs too (the first maximum in row-major window order; a NaN first
# cell stays; `max` does not promise that, hence the noqa). Arrays are indexed through row
# views by loop counters: Numba wraps negative indices, and a computed flat index
# (`src[at + ch]`) keeps that select in the loop, which stops LLVM vectorizing it (10x slower
# at the bench shape (32, 26, 26, 32) float32, 2x2). 2x2 tiles (stride 2, no padding, no partial
# window) keep the maximum of a channel or column in a local variable; their gradients find the
# winning cell of a whole row of channels or columns first (tile_argmax), then store it with one
# loop per cell (several stores in one loop stopped LLVM vectorizing: 9x slower).


@kernel
def max_pool_argmax_nhwc(x, wh, ww, sh, sw, ph, pw, ignore_border):
    """``(n * oh * ow * c)`` flat indices into ``x`` of the first maximum of every window
    (row-major window order)."""
    n, h, w, c = x.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    src = np.ascontiguousarray(x).reshape(x.size)
    where = np.empty(n * oh * ow * c, dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            r0, r1, _ = pool_window(i, wh, sh, ph, h)
            for j in range(ow):
                s0, s1, _ = pool_window(j, ww, sw, pw, w)
                dst = ((b * oh + i) * ow + j) * c
                first = ((b * h + r0) * w + s0) * c
                for ch in range(c):
                    pos = first + ch
                    m = src[pos]
                    for r in range(r0, r1):
                        for s in range(s0, s1):
                            at = ((b * h + r) * w + s) * c + ch
                            if src[at] > m:
                                m = src[at]
                                pos = at
                    where[dst + ch] = pos
    return where


@kernel
def max_pool_nhwc(x, wh, ww, sh, sw, ph, pw, ignore_border):
    """Max-pool axes 1 and 2 of ``x (n, h, w, c)``."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    n, h, w, c = x.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    x = np.ascontiguousarray(x)
    out = np.empty((n, oh, ow, c), dtype=x.dtype)
    if pool_tiles(h, w, oh, ow, wh, ww, sh, sw, ph, pw):
        for b in range(n):
            for i in range(oh):
                for j in range(ow):
                    x00 = x[b, 2 * i, 2 * j]
                    x01 = x[b, 2 * i, 2 * j + 1]
                    x10 = x[b, 2 * i + 1, 2 * j]
                    x11 = x[b, 2 * i + 1, 2 * j + 1]
                    o = out[b, i, j]
                    for ch in range(c):
                        m = x00[ch]
                        v = x01[ch]
                        m = v if v > m else m  # noqa: FURB136 (NaN order)
                        v = x10[ch]
                        m = v if v > m else m  # noqa: FURB136 (NaN order)
                        v = x11[ch]
                        o[ch] = v if v > m else m  # noqa: FURB136 (NaN order)
        return out
    for b in range(n):
        for i in range(oh):
            r0, r1, _ = pool_window(i, wh, sh, ph, h)
            for j in range(ow):
                s0, s1, _ = pool_window(j, ww, sw, pw, w)
                o = out[b, i, j]
                first = x[b, r0, s0]
                for ch in range(c):
                    o[ch] = first[ch]
                for r in range(r0, r1):
                    for s in range(s0, s1):
                        cell = x[b, r, s]
                        for ch in range(c):
                            v = cell[ch]
                            m = o[ch]
                            o[ch] = v if v > m else m  # noqa: FURB136 (NaN order)
    return out


@kernel
def average_pool_nhwc(x, wh, ww, sh, sw, ph, pw, ignore_border, include_pad):
    """Average-pool axes 1 and 2 of ``x (n, h, w, c)``; the divisor counts the padding when
    ``include_pad``."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    n, h, w, c = x.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    x = np.ascontiguousarray(x)
    out = np.empty((n, oh, ow, c), dtype=x.dtype)
    total = np.empty(c, dtype=np.float64)
    for b in range(n):
        for i in range(oh):
            r0, r1, rspan = pool_window(i, wh, sh, ph, h)
            for j in range(ow):
                s0, s1, sspan = pool_window(j, ww, sw, pw, w)
                count = rspan * sspan if include_pad else (r1 - r0) * (s1 - s0)
                total[:] = 0.0
                for r in range(r0, r1):
                    for s in range(s0, s1):
                        cell = x[b, r, s]
                        for ch in range(c):
                            total[ch] += cell[ch]
                o = out[b, i, j]
                for ch in range(c):
                    o[ch] = total[ch] / count
    return out


@kernel
def pool_check_grad(x, gz, wh, ww, sh, sw, ph, pw, ignore_border, opname):
    n, h, w, c = x.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    if gz.shape[0] != n or gz.shape[1] != oh or gz.shape[2] != ow or gz.shape[3] != c:
        raise ValueError(opname + ": the gradient's shape does not match the pooled shape")


@kernel
def pool_grad_nhwc(x, gz, wh, ww, sh, sw, ph, pw, ignore_border, mode):
    """Gradient of the pooling of ``x (n, h, w, c)`` (mode 0 max, 1 average_inc_pad,
    2 average_exc_pad) with respect to ``x``."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    pool_check_grad(x, gz, wh, ww, sh, sw, ph, pw, ignore_border, "max_pool_2d_grad")
    n, h, w, c = x.shape
    oh = gz.shape[1]
    ow = gz.shape[2]
    x = np.ascontiguousarray(x)
    gz = np.ascontiguousarray(gz)
    gx = np.zeros((n, h, w, c), dtype=gz.dtype)
    if mode == 0 and pool_tiles(h, w, oh, ow, wh, ww, sh, sw, ph, pw):
        # the winning cell of each channel first, then one store loop per cell of the tile
        # (four stores in one loop are not vectorized: 9x slower at the bench shape)
        zero = gx.dtype.type(0)
        won = np.empty(c, dtype=np.int64)
        for b in range(n):
            for i in range(oh):
                for j in range(ow):
                    x00 = x[b, 2 * i, 2 * j]
                    x01 = x[b, 2 * i, 2 * j + 1]
                    x10 = x[b, 2 * i + 1, 2 * j]
                    x11 = x[b, 2 * i + 1, 2 * j + 1]
                    for ch in range(c):
                        won[ch] = tile_argmax(x00[ch], x01[ch], x10[ch], x11[ch])
                    g = gz[b, i, j]
                    for q in range(4):
                        cell = gx[b, 2 * i + q // 2, 2 * j + q % 2]
                        for ch in range(c):
                            cell[ch] = g[ch] if won[ch] == q else zero
        return gx
    if mode == 0:
        where = max_pool_argmax_nhwc(x, wh, ww, sh, sw, ph, pw, ignore_border)
        flat = gx.reshape(gx.size)
        g = gz.reshape(gz.size)
        for k in range(where.shape[0]):
            flat[where[k]] += g[k]
        return gx
    for b in range(n):
        for i in range(oh):
            r0, r1, rspan = pool_window(i, wh, sh, ph, h)
            for j in range(ow):
                s0, s1, sspan = pool_window(j, ww, sw, pw, w)
                g = gz[b, i, j]
                count = rspan * sspan if mode == 1 else (r1 - r0) * (s1 - s0)
                for r in range(r0, r1):
                    for s in range(s0, s1):
                        cell = gx[b, r, s]
                        for ch in range(c):
                            cell[ch] += g[ch] / count
    return gx


@kernel
def max_pool_gather_nhwc(x, g, wh, ww, sh, sw, ph, pw, ignore_border):
    """``g`` at the first maximum of every window of ``x``: pooled shape."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    if g.shape != x.shape:
        raise ValueError("max_pool_2d_grad_grad: the two inputs differ in shape")
    n, h, w, c = x.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    if pool_tiles(h, w, oh, ow, wh, ww, sh, sw, ph, pw):
        x = np.ascontiguousarray(x)
        g = np.ascontiguousarray(g)
        picked = np.empty((n, oh, ow, c), dtype=g.dtype)
        for b in range(n):
            for i in range(oh):
                for j in range(ow):
                    x00 = x[b, 2 * i, 2 * j]
                    x01 = x[b, 2 * i, 2 * j + 1]
                    x10 = x[b, 2 * i + 1, 2 * j]
                    x11 = x[b, 2 * i + 1, 2 * j + 1]
                    g00 = g[b, 2 * i, 2 * j]
                    g01 = g[b, 2 * i, 2 * j + 1]
                    g10 = g[b, 2 * i + 1, 2 * j]
                    g11 = g[b, 2 * i + 1, 2 * j + 1]
                    o = picked[b, i, j]
                    for ch in range(c):
                        k = tile_argmax(x00[ch], x01[ch], x10[ch], x11[ch])
                        v = g00[ch] if k == 0 else g01[ch]
                        v = g10[ch] if k == 2 else v
                        o[ch] = g11[ch] if k == 3 else v
        return picked
    where = max_pool_argmax_nhwc(x, wh, ww, sh, sw, ph, pw, ignore_border)
    src = np.ascontiguousarray(g).reshape(g.size)
    out = np.empty(where.shape[0], dtype=g.dtype)
    for k in range(where.shape[0]):
        out[k] = src[where[k]]
    return out.reshape((n, oh, ow, c))


@kernel
def max_pool_nchw(x, wh, ww, sh, sw, ph, pw, ignore_border):
    """Max-pool the last two axes of ``x`` (any leading axes)."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    planes = as_pool_planes(x)
    count, h, w = planes.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    out = np.empty((count, oh, ow), dtype=x.dtype)
    if pool_tiles(h, w, oh, ow, wh, ww, sh, sw, ph, pw):
        for p in range(count):
            for i in range(oh):
                top = planes[p, 2 * i]
                bottom = planes[p, 2 * i + 1]
                o = out[p, i]
                for j in range(ow):
                    m = top[2 * j]
                    v = top[2 * j + 1]
                    m = v if v > m else m  # noqa: FURB136 (NaN order)
                    v = bottom[2 * j]
                    m = v if v > m else m  # noqa: FURB136 (NaN order)
                    v = bottom[2 * j + 1]
                    o[j] = v if v > m else m  # noqa: FURB136 (NaN order)
        return out.reshape(x.shape[:-2] + (oh, ow))
    # other windows: one channel per plane (a computed column index is not vectorized)
    out4 = max_pool_nhwc(planes.reshape((count, h, w, 1)), wh, ww, sh, sw, ph, pw,
                         ignore_border)
    return out4.reshape(x.shape[:-2] + (oh, ow))


@kernel
def average_pool_nchw(x, wh, ww, sh, sw, ph, pw, ignore_border, include_pad):
    """Average-pool the last two axes of ``x`` (any leading axes); the divisor counts the
    padding when ``include_pad``."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    planes = as_pool_planes(x)
    count, h, w = planes.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    out = np.empty((count, oh, ow), dtype=x.dtype)
    total = np.empty(ow, dtype=np.float64)
    for p in range(count):
        for i in range(oh):
            r0, r1, rspan = pool_window(i, wh, sh, ph, h)
            total[:] = 0.0
            for r in range(r0, r1):
                row = planes[p, r]
                for s in range(ww):
                    lo, hi = column_range(s, sw, pw, w, ow)
                    for j in range(lo, hi):
                        total[j] += row[j * sw + s - pw]
            o = out[p, i]
            for j in range(ow):
                s0, s1, sspan = pool_window(j, ww, sw, pw, w)
                cells = rspan * sspan if include_pad else (r1 - r0) * (s1 - s0)
                o[j] = total[j] / cells
    return out.reshape(x.shape[:-2] + (oh, ow))


@kernel
def pool_grad_nchw(x, gz, wh, ww, sh, sw, ph, pw, ignore_border, mode):
    """:func:`pool_grad_nhwc` for pooling the last two axes of ``x`` (any leading axes)."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    if gz.shape[:-2] != x.shape[:-2]:
        raise ValueError("pool_2d_grad: the gradient's shape does not match the pooled shape")
    planes = as_pool_planes(x)
    g = as_pool_planes(gz)
    count, h, w = planes.shape
    oh = pool_length(h, wh, sh, ph, ignore_border)
    ow = pool_length(w, ww, sw, pw, ignore_border)
    if g.shape[1] != oh or g.shape[2] != ow:
        raise ValueError("max_pool_2d_grad: the gradient's shape does not match the pooled shape")
    gx = np.zeros((count, h, w), dtype=gz.dtype)
    if mode == 0 and pool_tiles(h, w, oh, ow, wh, ww, sh, sw, ph, pw):
        zero = gx.dtype.type(0)
        won = np.empty(ow, dtype=np.int64)
        for p in range(count):
            for i in range(oh):
                top = planes[p, 2 * i]
                bottom = planes[p, 2 * i + 1]
                for j in range(ow):
                    won[j] = tile_argmax(top[2 * j], top[2 * j + 1], bottom[2 * j],
                                         bottom[2 * j + 1])
                gi = g[p, i]
                for r in range(2):
                    row = gx[p, 2 * i + r]
                    for j in range(ow):
                        v = gi[j]
                        k = won[j] - 2 * r
                        row[2 * j] = v if k == 0 else zero
                        row[2 * j + 1] = v if k == 1 else zero
        return gx.reshape(x.shape)
    if mode == 0:
        gx4 = pool_grad_nhwc(planes.reshape((count, h, w, 1)), g.reshape((count, oh, ow, 1)),
                             wh, ww, sh, sw, ph, pw, ignore_border, 0)
        return gx4.reshape(x.shape)
    cells = np.empty(ow, dtype=np.int64)
    for p in range(count):
        for i in range(oh):
            gi = g[p, i]
            r0, r1, rspan = pool_window(i, wh, sh, ph, h)
            for j in range(ow):
                s0, s1, sspan = pool_window(j, ww, sw, pw, w)
                cells[j] = rspan * sspan if mode == 1 else (r1 - r0) * (s1 - s0)
            for r in range(r0, r1):
                row = gx[p, r]
                # s descending adds the windows overlapping a cell in increasing j, the
                # order of a loop over windows
                for s in range(ww - 1, -1, -1):
                    lo, hi = column_range(s, sw, pw, w, ow)
                    for j in range(lo, hi):
                        row[j * sw + s - pw] += gi[j] / cells[j]
    return gx.reshape(x.shape)


@kernel
def max_pool_gather_nchw(x, g, wh, ww, sh, sw, ph, pw, ignore_border):
    """:func:`max_pool_gather_nhwc` for pooling the last two axes of ``x``."""
    pool_check_args(wh, ww, ph, pw, ignore_border)
    if g.shape != x.shape:
        raise ValueError("max_pool_2d_grad_grad: the two inputs differ in shape")
    out = max_pool_gather_nhwc(as_pool_planes(x)[..., np.newaxis],
                               as_pool_planes(g)[..., np.newaxis], wh, ww, sh, sw, ph, pw,
                               ignore_border)
    return out.reshape(x.shape[:-2] + (out.shape[1], out.shape[2]))


# --- convolution ops ----------------------------------------------------------------------------


def _pad_sources(border_mode, kh: str, kw: str) -> tuple[str, str]:
    """Source of the padding in generated code, for filter taps whose sources are ``kh`` and
    ``kw``."""
    if border_mode == "valid":
        return "0", "0"
    if border_mode == "full":
        return f"({kh} - 1)", f"({kw} - 1)"
    if border_mode == "half":
        return f"({kh} // 2)", f"({kw} // 2)"
    return str(border_mode[0]), str(border_mode[1])


def _filter_taps(layout: str, shape) -> tuple:
    return (shape[2], shape[3]) if layout == "NCHW" else (shape[0], shape[1])


@dataclass(frozen=True)
class _ConvBase(Op):
    """The props every convolution op carries, and how they print."""

    border_mode: str | tuple = "valid"
    subsample: tuple = (1, 1)
    filter_flip: bool = True
    layout: str = "NCHW"

    def _float_pair(self, opname: str, a: Variable, b: Variable, what: tuple[str, str]):
        for var, name in zip((a, b), what):
            if var.ndim != 4:
                raise TypeError(
                    f"{opname}: {name} must be 4-d, got the {var.ndim}-d {_short_pp(var)} "
                    f"({var.type.short()})"
                )
            if var.dtype not in ("float32", "float64"):
                raise TypeError(
                    f"{opname}: {name} must be float32 or float64, got {_short_pp(var)} "
                    f"({var.type.short()})"
                )
        if a.dtype != b.dtype:
            raise TypeError(
                f"{opname}: {what[0]} and {what[1]} differ in dtype ({a.dtype}, {b.dtype}); "
                f"conv2d casts them to one"
            )

    def _runtime_padding(self, opname, xshape, wshape) -> tuple[int, int]:
        return _check_conv_shapes(opname, self.layout, self.border_mode, xshape, wshape)

    def _check_gz(self, opname, xshape, wshape, gz_shape) -> None:
        expected = _conv_static_output(self.layout, self.border_mode, self.subsample, xshape,
                                       wshape)
        if tuple(gz_shape) != tuple(expected):
            raise ValueError(
                f"{opname}: the output gradient has shape {tuple(gz_shape)}, but input of shape "
                f"{tuple(xshape)} and filters of shape {tuple(wshape)} (layout {self.layout}) "
                f"give outputs of shape {tuple(expected)}"
            )

    def _kernel_args(self, w: str) -> str:
        """Padding, strides and flip as arguments of a helper, for filters named ``w``."""
        taps = _filter_taps(self.layout, [f"{w}.shape[{d}]" for d in range(4)])
        ph, pw = _pad_sources(self.border_mode, *taps)
        sh, sw = self.subsample
        return f"{ph}, {pw}, {sh}, {sw}, {self.filter_flip}"

    def pp_args(self) -> list[str]:
        out = []
        if self.border_mode != "valid":
            out.append(f"border_mode={self.border_mode!r}")
        if self.subsample != (1, 1):
            out.append(f"subsample={self.subsample!r}")
        if not self.filter_flip:
            out.append("filter_flip=False")
        if self.layout != "NCHW":
            out.append(f"layout={self.layout!r}")
        return out


@dataclass(frozen=True)
class Conv2D(_ConvBase):
    """2-d convolution of a batch of images with a bank of filters (see :func:`conv2d`)."""

    def make_node(self, x, w):
        T = _T()
        x, w = T.as_tensor(x), T.as_tensor(w)
        self._float_pair("conv2d", x, w, ("the input", "the filters"))
        _check_conv_shapes("conv2d", self.layout, self.border_mode, x.type.shape, w.type.shape)
        shape = _conv_static_output(self.layout, self.border_mode, self.subsample, x.type.shape,
                                    w.type.shape)
        return Apply(self, [x, w], [TensorType(x.dtype, shape)()])

    def perform(self, inputs):
        x, w = inputs
        ph, pw = self._runtime_padding("conv2d", x.shape, w.shape)
        xc, wc = _to_nchw(x, w, self.layout)
        out = _conv_np(xc, wc, ph, pw, *self.subsample, self.filter_flip)
        return [_output_from_nchw(out, self.layout).astype(x.dtype, copy=False)]

    def numba_impl(self, node, names):
        x, w = names
        helper = "conv2d_nchw" if self.layout == "NCHW" else "conv2d_nhwc"
        return f"conv.{helper}({x}, {w}, {self._kernel_args(w)})"

    def grad(self, inputs, output_grads):
        x, w = inputs
        (gz,) = output_grads
        T = _T()
        gz = T.cast(gz, x.dtype)
        props = (self.border_mode, self.subsample, self.filter_flip, self.layout)
        gx = Conv2DGradInput(*props)(w, gz, T.shape(x))
        gw = Conv2DGradFilters(*props)(x, gz, T.shape(w))
        return [gx, gw]

    pp_name = "conv2d"


@dataclass(frozen=True)
class Conv2DGradInput(_ConvBase):
    """The gradient of :class:`Conv2D` with respect to its input, from the filters, the
    output gradient and the input's shape (a length-4 int vector)."""

    def make_node(self, w, gz, input_shape):
        T = _T()
        w, gz = T.as_tensor(w), T.as_tensor(gz)
        self._float_pair("conv2d_grad_input", w, gz, ("the filters", "the output gradient"))
        shape_var = _as_shape_input("conv2d_grad_input", input_shape)
        xshape = _static_shape_vector(shape_var, 4)
        _check_conv_shapes("conv2d_grad_input", self.layout, self.border_mode, xshape,
                           w.type.shape)
        return Apply(self, [w, gz, shape_var], [TensorType(w.dtype, xshape)()])

    def perform(self, inputs):
        w, gz, input_shape = inputs
        xshape = _shape_value("conv2d_grad_input", input_shape)
        ph, pw = self._runtime_padding("conv2d_grad_input", xshape, w.shape)
        self._check_gz("conv2d_grad_input", xshape, w.shape, gz.shape)
        (_, _, h, wd), _ = _conv_dims(self.layout, xshape, w.shape)
        _, wc = _to_nchw(np.empty(xshape, dtype=w.dtype), w, self.layout)
        gzc = gz if self.layout == "NCHW" else gz.transpose(0, 3, 1, 2)
        gx = _conv_grad_input_np(wc, gzc, h, wd, ph, pw, *self.subsample, self.filter_flip)
        return [_output_from_nchw(gx, self.layout).astype(w.dtype, copy=False)]

    def numba_lines(self, node, names, outs, data_names=()):
        w, gz, shape = names
        (out,) = outs
        helper = "conv2d_grad_input_nchw" if self.layout == "NCHW" else "conv2d_grad_input_nhwc"
        return [
            f"conv.check_shape_vector({shape}, 'conv2d_grad_input')",
            f"{out} = conv.{helper}({w}, {gz}, {shape}, {self._kernel_args(w)})",
        ]

    def grad(self, inputs, output_grads):
        # gx = B(., w)^T gz is bilinear in (w, gz): <g, gx> = <conv2d(g, w), gz>
        w, gz, _ = inputs
        (g,) = output_grads
        T = _T()
        g = T.cast(g, w.dtype)
        props = (self.border_mode, self.subsample, self.filter_flip, self.layout)
        gw = Conv2DGradFilters(*props)(g, gz, T.shape(w))
        ggz = Conv2D(*props)(g, w)
        return [gw, ggz, None]

    pp_name = "conv2d_grad_input"


@dataclass(frozen=True)
class Conv2DGradFilters(_ConvBase):
    """The gradient of :class:`Conv2D` with respect to its filters, from the input, the
    output gradient and the filters' shape (a length-4 int vector)."""

    def make_node(self, x, gz, filter_shape):
        T = _T()
        x, gz = T.as_tensor(x), T.as_tensor(gz)
        self._float_pair("conv2d_grad_filters", x, gz, ("the input", "the output gradient"))
        shape_var = _as_shape_input("conv2d_grad_filters", filter_shape)
        wshape = _static_shape_vector(shape_var, 4)
        _check_conv_shapes("conv2d_grad_filters", self.layout, self.border_mode, x.type.shape,
                           wshape)
        return Apply(self, [x, gz, shape_var], [TensorType(x.dtype, wshape)()])

    def perform(self, inputs):
        x, gz, filter_shape = inputs
        wshape = _shape_value("conv2d_grad_filters", filter_shape)
        ph, pw = self._runtime_padding("conv2d_grad_filters", x.shape, wshape)
        self._check_gz("conv2d_grad_filters", x.shape, wshape, gz.shape)
        xc, _ = _to_nchw(x, np.empty(wshape, dtype=x.dtype), self.layout)
        gzc = gz if self.layout == "NCHW" else gz.transpose(0, 3, 1, 2)
        kh, kw = _filter_taps(self.layout, wshape)
        gw = _conv_grad_filters_np(xc, gzc, kh, kw, ph, pw, *self.subsample, self.filter_flip)
        return [_filters_from_nchw(gw, self.layout).astype(x.dtype, copy=False)]

    def numba_lines(self, node, names, outs, data_names=()):
        # the padding of 'full' and 'half' reads the filter shape: check the vector first
        x, gz, shape = names
        (out,) = outs
        helper = (
            "conv2d_grad_filters_nchw" if self.layout == "NCHW" else "conv2d_grad_filters_nhwc"
        )
        taps = _filter_taps(self.layout, [f"{shape}[{d}]" for d in range(4)])
        pads = _pad_sources(self.border_mode, *taps)
        sh, sw = self.subsample
        call = (
            f"{out} = conv.{helper}({x}, {gz}, {shape}, {pads[0]}, {pads[1]}, {sh}, {sw}, "
            f"{self.filter_flip})"
        )
        return [f"conv.check_shape_vector({shape}, 'conv2d_grad_filters')", call]

    def grad(self, inputs, output_grads):
        # gw is bilinear in (x, gz): <g, gw> = <conv2d(x, g), gz>
        x, gz, _ = inputs
        (g,) = output_grads
        T = _T()
        g = T.cast(g, x.dtype)
        props = (self.border_mode, self.subsample, self.filter_flip, self.layout)
        gx = Conv2DGradInput(*props)(g, gz, T.shape(x))
        ggz = Conv2D(*props)(x, g)
        return [gx, ggz, None]

    pp_name = "conv2d_grad_filters"


# --- pooling ops --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PoolBase(Op):
    """The props every pooling op carries, shape checks and how they print."""

    ws: tuple = (2, 2)
    stride: tuple = (2, 2)
    pad: tuple = (0, 0)
    ignore_border: bool = True
    mode: str = "max"
    layout: str = "NCHW"

    def _check_input(self, opname: str, x: Variable) -> None:
        if self.layout == "NHWC" and x.ndim != 4:
            raise TypeError(
                f"{opname}: layout 'NHWC' needs a 4-d input, got the {x.ndim}-d {_short_pp(x)} "
                f"({x.type.short()})"
            )
        if x.ndim < 2:
            raise TypeError(
                f"{opname}: needs at least a 2-d input, got the {x.ndim}-d {_short_pp(x)}"
            )

    def _static_output(self, shape: tuple) -> tuple:
        ra, ca = _pool_axes(self.layout, len(shape))
        out = list(shape)
        out[ra] = _pool_length(shape[ra], self.ws[0], self.stride[0], self.pad[0],
                               self.ignore_border)
        out[ca] = _pool_length(shape[ca], self.ws[1], self.stride[1], self.pad[1],
                               self.ignore_border)
        return tuple(out)

    def _geometry(self, shape: tuple) -> _PoolGeometry:
        ra, ca = _pool_axes(self.layout, len(shape))
        return _PoolGeometry(self.ws, self.stride, self.pad, self.ignore_border, shape[ra],
                             shape[ca])

    def _kernel_args(self) -> str:
        wh, ww = self.ws
        sh, sw = self.stride
        ph, pw = self.pad
        return f"{wh}, {ww}, {sh}, {sw}, {ph}, {pw}, {self.ignore_border}"

    def _check_gz(self, opname: str, x: np.ndarray, gz: np.ndarray) -> None:
        expected = self._static_output(x.shape)
        if gz.shape != expected:
            raise ValueError(
                f"{opname}: the gradient has shape {gz.shape}, but pooling an input of shape "
                f"{x.shape} with ws={self.ws}, stride={self.stride}, pad={self.pad} gives "
                f"{expected}"
            )

    def pp_args(self) -> list[str]:
        out = [f"ws={self.ws!r}"]
        if self.stride != self.ws:
            out.append(f"stride={self.stride!r}")
        if self.pad != (0, 0):
            out.append(f"pad={self.pad!r}")
        if not self.ignore_border:
            out.append("ignore_border=False")
        if self.mode != "max":
            out.append(f"mode={self.mode!r}")
        if self.layout != "NCHW":
            out.append(f"layout={self.layout!r}")
        return out


@dataclass(frozen=True)
class Pool2D(_PoolBase):
    """Max or average pooling of two axes (see :func:`max_pool_2d`)."""

    def make_node(self, x):
        x = _T().as_tensor(x)
        self._check_input("max_pool_2d", x)
        kind = np.dtype(x.dtype).kind
        if kind not in "iuf" or (self.mode != "max" and kind != "f"):
            raise TypeError(
                f"max_pool_2d: mode {self.mode!r} needs a "
                f"{'numeric' if self.mode == 'max' else 'float'} input, got {_short_pp(x)} "
                f"({x.type.short()})"
            )
        return Apply(self, [x], [TensorType(x.dtype, self._static_output(x.type.shape))()])

    def perform(self, inputs):
        (x,) = inputs
        planes = _pool_planes(x, self.layout)
        out = _pool_np(planes, self._geometry(x.shape), self.mode)
        return [_pool_unplanes(out, x.shape, self.layout)]

    def numba_impl(self, node, names):
        (x,) = names
        suffix = "nchw" if self.layout == "NCHW" else "nhwc"
        if self.mode == "max":
            return f"conv.max_pool_{suffix}({x}, {self._kernel_args()})"
        include_pad = self.mode == "average_inc_pad"
        return f"conv.average_pool_{suffix}({x}, {self._kernel_args()}, {include_pad})"

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if not _is_float(x.dtype):
            return [None]
        gz = _T().cast(gz, x.dtype)
        return [Pool2DGrad(*self.props())(x, gz)]

    pp_name = "pool_2d"

    def name_for_pp(self) -> str:
        return "max_pool_2d" if self.mode == "max" else "pool_2d"

    def pp_args(self) -> list[str]:
        args = super().pp_args()
        return [a for a in args if a != "mode='max'"]


@dataclass(frozen=True)
class Pool2DGrad(_PoolBase):
    """The gradient of :class:`Pool2D` with respect to its input ``x``, given the output
    gradient ``gz``. Max pooling routes each entry of ``gz`` to the first maximum of its
    window; average pooling spreads it evenly over the window's input cells."""

    def make_node(self, x, gz):
        T = _T()
        x, gz = T.as_tensor(x), T.as_tensor(gz)
        self._check_input("max_pool_2d_grad", x)
        if not _is_float(gz.dtype) or gz.ndim != x.ndim or np.dtype(x.dtype).kind not in "iuf":
            raise TypeError(
                f"max_pool_2d_grad: needs a numeric input and a float gradient of the same rank, "
                f"got {x.type.short()} and {gz.type.short()}"
            )
        return Apply(self, [x, gz], [TensorType(gz.dtype, x.type.shape)()])

    def perform(self, inputs):
        x, gz = inputs
        self._check_gz("max_pool_2d_grad", x, gz)
        gx = _pool_grad_np(_pool_planes(x, self.layout), _pool_planes(gz, self.layout),
                           self._geometry(x.shape), self.mode)
        return [_pool_unplanes(gx, x.shape, self.layout)]

    def numba_impl(self, node, names):
        x, gz = names
        helper = "pool_grad_nchw" if self.layout == "NCHW" else "pool_grad_nhwc"
        code = _POOL_MODE_CODES[self.mode]
        return f"conv.{helper}({x}, {gz}, {self._kernel_args()}, {code})"

    def grad(self, inputs, output_grads):
        # linear in gz; piecewise constant in x (the windows' argmax), so zero there
        x, gz = inputs
        (g,) = output_grads
        T = _T()
        g = T.cast(g, gz.dtype)
        if self.mode == "max":
            ggz = MaxPool2DGradGrad(*self.props())(x, g)
        else:
            ggz = Pool2D(*self.props())(g)
        gx = T.zeros_like(x) if _is_float(x.dtype) else None
        return [gx, ggz]

    def name_for_pp(self) -> str:
        return "max_pool_2d_grad" if self.mode == "max" else "pool_2d_grad"


@dataclass(frozen=True)
class MaxPool2DGradGrad(_PoolBase):
    """``g`` (shaped like ``x``) read at the first maximum of every max-pooling window of
    ``x``: the gradient of :class:`Pool2DGrad` (max) with respect to its output gradient."""

    def make_node(self, x, g):
        T = _T()
        x, g = T.as_tensor(x), T.as_tensor(g)
        self._check_input("max_pool_2d_grad_grad", x)
        if self.mode != "max":
            raise ValueError(f"max_pool_2d_grad_grad: only for mode 'max', not {self.mode!r}")
        if not _is_float(g.dtype) or g.ndim != x.ndim:
            raise TypeError(
                f"max_pool_2d_grad_grad: needs a float tensor of the input's rank, got "
                f"{x.type.short()} and {g.type.short()}"
            )
        return Apply(self, [x, g], [TensorType(g.dtype, self._static_output(x.type.shape))()])

    def perform(self, inputs):
        x, g = inputs
        if g.shape != x.shape:
            raise ValueError(
                f"max_pool_2d_grad_grad: the input has shape {x.shape} but the gradient "
                f"{g.shape}"
            )
        out = _max_pool_gather_np(_pool_planes(x, self.layout), _pool_planes(g, self.layout),
                                  self._geometry(x.shape))
        return [_pool_unplanes(out, x.shape, self.layout)]

    def numba_impl(self, node, names):
        x, g = names
        helper = "max_pool_gather_nchw" if self.layout == "NCHW" else "max_pool_gather_nhwc"
        return f"conv.{helper}({x}, {g}, {self._kernel_args()})"

    def grad(self, inputs, output_grads):
        x, g = inputs
        (gz,) = output_grads
        T = _T()
        gg = Pool2DGrad(*self.props())(x, T.cast(gz, g.dtype))
        return [T.zeros_like(x) if _is_float(x.dtype) else None, gg]

    pp_name = "max_pool_2d_grad_grad"


# --- user functions -----------------------------------------------------------------------------


def _conv_float_dtype(x: Variable, w: Variable) -> str:
    """The float dtype both operands are cast to: NumPy's promotion, float64 for non-floats
    and at least float32."""
    dtype = np.result_type(np.dtype(x.dtype), np.dtype(w.dtype))
    if dtype.kind != "f":
        return "float64"
    return "float32" if dtype.itemsize < 4 else dtype.name


def conv2d(input, filters, border_mode="valid", subsample=(1, 1), filter_flip: bool = True,
           layout: str = "NCHW") -> Variable:
    """2-d convolution of a batch of multi-channel images with a bank of filters (Theano's
    ``T.nnet.conv2d``).

    Parameters
    ----------
    input : tensor_like
        4-d: ``(batch, channels, rows, cols)``, or ``(batch, rows, cols, channels)`` with
        ``layout='NHWC'``.
    filters : tensor_like
        4-d: ``(out_channels, in_channels, rows, cols)``, or ``(rows, cols, in_channels,
        out_channels)`` (Keras's kernel layout) with ``layout='NHWC'``.
    border_mode : {'valid', 'full', 'half'}, int or (int, int)
        Zero padding of the input: none ('valid'), ``filter size - 1`` ('full'),
        ``filter size // 2`` ('half', the same size for odd filters), or explicit
        ``(rows, cols)`` padding.
    subsample : (int, int)
        Strides over rows and columns.
    filter_flip : bool
        True (default) convolves (the filters are flipped, as Theano); False computes a
        cross-correlation (as Keras).
    layout : {'NCHW', 'NHWC'}
        Channels first (Theano) or channels last (Keras).

    Returns
    -------
    Variable
        ``(batch, out_channels, out_rows, out_cols)`` (or channels last), with
        ``out_rows = (rows + 2 * pad - filter_rows) // stride + 1``, in the float dtype of
        the operands (NumPy promotion; integers give float64).

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x, w = T.dtensor4('x'), T.dtensor4('w')
    >>> y = T.nnet.conv2d(x, w, border_mode='half')
    >>> image = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> y.eval({x: image, w: np.ones((1, 1, 3, 3))})[0, 0]
    array([[ 8., 15., 12.],
           [21., 36., 27.],
           [20., 33., 24.]])
    >>> T.nnet.conv2d(x, w, subsample=(2, 2)).eval({x: np.ones((1, 1, 5, 5)),
    ...                                             w: np.ones((1, 1, 3, 3))}).shape
    (1, 1, 2, 2)
    """
    T = _T()
    border_mode = _normalize_border_mode(border_mode)
    subsample = _int_pair("conv2d", "subsample", subsample, 1)
    if not isinstance(filter_flip, (bool, np.bool_)):
        raise ValueError(f"conv2d: filter_flip must be True or False, got {filter_flip!r}")
    layout = _check_layout("conv2d", layout)
    x, w = T.as_tensor(input), T.as_tensor(filters)
    dtype = _conv_float_dtype(x, w)
    op = Conv2D(border_mode, subsample, bool(filter_flip), layout)
    return op(T.cast(x, dtype), T.cast(w, dtype))


def max_pool_2d(input, ws, ignore_border: bool = True, stride=None, pad=(0, 0), mode="max",
                layout: str = "NCHW") -> Variable:
    """Pool windows of two axes: the last two (any leading axes), or axes 1 and 2 of a 4-d
    channels-last tensor with ``layout='NHWC'`` (Theano's ``pool_2d``).

    Parameters
    ----------
    input : tensor_like
        At least 2-d (exactly 4-d for ``layout='NHWC'``).
    ws : int or (int, int)
        Window rows and columns.
    ignore_border : bool
        True drops the partial windows at the end of an axis; False keeps them (Theano's
        semantics: an axis of ``n`` gives ``(n - 1) // stride + 1`` windows when
        ``stride >= ws``).
    stride : int or (int, int), optional
        Step between windows (default: ``ws``).
    pad : int or (int, int)
        Padding on both sides of each axis, smaller than ``ws``; only with
        ``ignore_border=True``. Max pooling never picks it; 'average_inc_pad' counts it in
        the divisor, 'average_exc_pad' does not.
    mode : {'max', 'average', 'average_inc_pad', 'average_exc_pad'}
        'average' means 'average_inc_pad', as in Theano.
    layout : {'NCHW', 'NHWC'}

    Returns
    -------
    Variable
        The pooled tensor. Max pooling keeps the dtype; average pooling gives floats. The
        gradient of max pooling goes to the first maximum of each window.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.nnet.max_pool_2d(x, (2, 2)).eval({x: np.arange(16.0).reshape(4, 4)})
    array([[ 5.,  7.],
           [13., 15.]])
    >>> T.nnet.max_pool_2d(x, (2, 2), ignore_border=False, mode='average').eval(
    ...     {x: np.arange(9.0).reshape(3, 3)})
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    T = _T()
    ws = _int_pair("max_pool_2d", "ws", ws, 1)
    stride = ws if stride is None else _int_pair("max_pool_2d", "stride", stride, 1)
    pad = _int_pair("max_pool_2d", "pad", pad, 0)
    mode = _normalize_pool_mode(mode)
    layout = _check_layout("max_pool_2d", layout)
    if not isinstance(ignore_border, (bool, np.bool_)):
        raise ValueError(f"max_pool_2d: ignore_border must be True or False, got {ignore_border!r}")
    if pad != (0, 0) and not ignore_border:
        raise ValueError(f"max_pool_2d: padding {pad} needs ignore_border=True")
    if pad[0] >= ws[0] or pad[1] >= ws[1]:
        raise ValueError(f"max_pool_2d: padding {pad} must be smaller than the window {ws}")
    x = T.as_tensor(input)
    if mode != "max" and not _is_float(x.dtype):
        x = T.cast(x, "float64")
    return Pool2D(ws, stride, pad, bool(ignore_border), mode, layout)(x)


pool_2d = max_pool_2d
