"""T.nnet.conv2d: 2-d convolution, with its gradient ops.

:class:`Conv2D` is Theano's ``conv2d``: input ``(batch, channels, rows, cols)``, filters
``(out_channels, in_channels, rows, cols)`` and a true convolution (flipped filters) unless
``filter_flip=False``. ``layout='NHWC'`` is the channels-last form the Keras layers use: input
``(batch, rows, cols, channels)`` and filters ``(rows, cols, in, out)``. Its gradients are the ops
:class:`Conv2DGradInput` and :class:`Conv2DGradFilters`, which take the shape of the tensor they
differentiate as an int vector (with a stride, the output shape does not determine it). The three
ops are bilinear maps of one another, so each one's gradient is built from the other two.

Numba helpers: convolutions build an im2col matrix (the filter flip is folded into its
indexing) and multiply it with the filters through BLAS ``np.dot``. Every helper checks shapes
before its loops.

The argument checks shared with pooling (:mod:`symnet.ops.pool`) live here: ``_int_pair``,
``_check_layout`` and ``_T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Op, TensorType, Variable, as_tensor
from symnet.graph import tensor_functions as T
from symnet.ops.elemwise import _short_pp
from symnet.ops.shape import _static_vector
from symnet.runtime.kernel import kernel

__all__ = [
    "conv2d",
    "Conv2D",
    "Conv2DGradInput",
    "Conv2DGradFilters",
]

LAYOUTS = ("NCHW", "NHWC")
BORDER_MODES = ("valid", "full", "half")


def _dims_text(shape) -> str:
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner}{',' if len(shape) == 1 else ''})"


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


def _static_shape_vector(v: Variable, n: int):
    values = _static_vector(v)
    return (None,) * n if values is None else tuple(values)


def _as_shape_input(opname: str, shape) -> Variable:
    """An int vector of length 4 (a shape) as a variable."""
    v = as_tensor(shape)
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
def image_dims(shape, channels_last):
    """``(batch, channels, rows, cols)`` of the shape of an image batch in either layout."""
    if channels_last:
        return shape[0], shape[3], shape[1], shape[2]
    return shape[0], shape[1], shape[2], shape[3]


@kernel
def filter_dims(shape, channels_last):
    """``(out, in, rows, cols)`` of the shape of filters ``(kh, kw, in, out)`` (channels last)
    or ``(out, in, kh, kw)``."""
    if channels_last:
        return shape[3], shape[2], shape[0], shape[1]
    return shape[0], shape[1], shape[2], shape[3]


@kernel
def image_strides(c, h, w, channels_last):
    """Element strides for (image, channel, row, col) of a C-contiguous image batch."""
    if channels_last:
        return (h * w * c, 1, w * c, c)
    return (c * h * w, h * w, w, 1)


@kernel
def columns(x, kh, kw, ph, pw, sh, sw, oh, ow, channels_last):
    """The im2col matrices of the image batch ``x``."""
    n, c, h, w = image_dims(x.shape, channels_last)
    flat = np.ascontiguousarray(x).reshape(x.size)
    strides = image_strides(c, h, w, channels_last)
    return im2col(flat, strides, n, c, h, w, kh, kw, ph, pw, sh, sw, oh, ow, channels_last)


@kernel
def flipped(w, channels_last):
    """Filters with both spatial axes reversed (a C-contiguous copy)."""
    if channels_last:
        return np.ascontiguousarray(w[::-1, ::-1])
    return np.ascontiguousarray(w[:, :, ::-1, ::-1])


# The three convolution helpers serve both layouts: the shapes, checks, im2col/col2im and flip
# above take ``channels_last``. Only the BLAS products stay per layout, each oriented so that
# its result is already in the layout's order (``(oh * ow, o)`` per image channels-last,
# ``(o, oh * ow)`` channels-first) and needs no transposing copy.


@kernel
def conv2d_forward(x, w, ph, pw, sh, sw, flip, channels_last):
    """Convolution of ``x (n, h, w, c)`` with filters ``(kh, kw, c, o)`` (channels last) or of
    ``x (n, c, h, w)`` with filters ``(o, c, kh, kw)``: per image, one BLAS product of the
    im2col matrix with the filters, written straight into the output (small products stay on
    one thread, which matters on a shared machine)."""
    n, c, h, wd = image_dims(x.shape, channels_last)
    o, cin, kh, kw = filter_dims(w.shape, channels_last)
    oh, ow = conv_output_size(c, h, wd, cin, kh, kw, ph, pw, sh, sw)
    col = columns(x, kh, kw, ph, pw, sh, sw, oh, ow, channels_last)
    wk = flipped(w, channels_last) if flip else np.ascontiguousarray(w)
    if channels_last:
        wmat = wk.reshape((kh * kw * cin, o))
        out = np.empty((n, oh * ow, o), dtype=x.dtype)
        for b in range(n):
            np.dot(col[b].T, wmat, out[b])
        return out.reshape((n, oh, ow, o))
    wmat = wk.reshape((o, cin * kh * kw))
    out = np.empty((n, o, oh * ow), dtype=x.dtype)
    for b in range(n):
        np.dot(wmat, col[b], out[b])
    return out.reshape((n, o, oh, ow))


@kernel
def conv2d_grad_filters(x, gz, shape, ph, pw, sh, sw, flip, channels_last):
    """Gradient of :func:`conv2d_forward` with respect to filters of ``shape`` (int vector)."""
    n, c, h, wd = image_dims(x.shape, channels_last)
    o, cin, kh, kw = filter_dims(shape, channels_last)
    gn, go, goh, gow = image_dims(gz.shape, channels_last)
    if cin != c or o != go:
        raise ValueError("conv2d_grad_filters: the filter shape does not match the other inputs")
    oh, ow = conv_output_size(c, h, wd, c, kh, kw, ph, pw, sh, sw)
    if gn != n or goh != oh or gow != ow:
        raise ValueError("conv2d_grad_filters: the output gradient's shape does not match")
    col = columns(x, kh, kw, ph, pw, sh, sw, oh, ow, channels_last)
    if channels_last:
        g = np.ascontiguousarray(gz).reshape((n, oh * ow, go))
        gw = np.zeros((kh * kw * c, go), dtype=x.dtype)
        for b in range(n):
            gw += np.dot(col[b], g[b])
        gw4 = gw.reshape((kh, kw, c, go))
    else:
        g = np.ascontiguousarray(gz).reshape((n, go, oh * ow))
        gw = np.zeros((go, c * kh * kw), dtype=x.dtype)
        for b in range(n):
            gw += np.dot(g[b], col[b].T)
        gw4 = gw.reshape((go, c, kh, kw))
    return flipped(gw4, channels_last) if flip else gw4


@kernel
def conv2d_grad_input(w, gz, shape, ph, pw, sh, sw, flip, channels_last):
    """Gradient of :func:`conv2d_forward` with respect to an input of ``shape`` (int vector)."""
    o, c, kh, kw = filter_dims(w.shape, channels_last)
    n, xc, h, wd = image_dims(shape, channels_last)
    if xc != c:
        raise ValueError("conv2d_grad_input: the input's channels differ from the filters'")
    oh, ow = conv_output_size(c, h, wd, c, kh, kw, ph, pw, sh, sw)
    gn, go, goh, gow = image_dims(gz.shape, channels_last)
    if gn != n or goh != oh or gow != ow or go != o:
        raise ValueError("conv2d_grad_input: the output gradient's shape does not match")
    wk = flipped(w, channels_last) if flip else np.ascontiguousarray(w)
    dcol = np.empty((n, c * kh * kw, oh * ow), dtype=w.dtype)
    if channels_last:
        wmat = wk.reshape((kh * kw * c, o))
        g = np.ascontiguousarray(gz).reshape((n, oh * ow, o))
        for b in range(n):
            np.dot(wmat, g[b].T, dcol[b])
    else:
        wmat_t = wk.reshape((o, c * kh * kw)).T
        g = np.ascontiguousarray(gz).reshape((n, o, oh * ow))
        for b in range(n):
            np.dot(wmat_t, g[b], dcol[b])
    strides = image_strides(c, h, wd, channels_last)
    gx = col2im(dcol, strides, n, c, h, wd, kh, kw, ph, pw, sh, sw, oh, ow, channels_last)
    if channels_last:
        return gx.reshape((n, h, wd, c))
    return gx.reshape((n, c, h, wd))


@kernel
def check_shape_vector(shape, opname):
    if shape.shape[0] != 4:
        raise ValueError(opname + ": the shape vector does not have 4 entries")
    for d in range(4):
        if shape[d] < 0:
            raise ValueError(opname + ": the shape vector has a negative entry")
    return shape


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
        """Padding, strides, flip and layout as arguments of a helper, for filters named
        ``w``."""
        taps = _filter_taps(self.layout, [f"{w}.shape[{d}]" for d in range(4)])
        ph, pw = _pad_sources(self.border_mode, *taps)
        sh, sw = self.subsample
        return f"{ph}, {pw}, {sh}, {sw}, {self.filter_flip}, {self.layout == 'NHWC'}"

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
        return f"conv.conv2d_forward({x}, {w}, {self._kernel_args(w)})"

    def grad(self, inputs, output_grads):
        x, w = inputs
        (gz,) = output_grads
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
        return [
            f"conv.check_shape_vector({shape}, 'conv2d_grad_input')",
            f"{out} = conv.conv2d_grad_input({w}, {gz}, {shape}, {self._kernel_args(w)})",
        ]

    def grad(self, inputs, output_grads):
        # gx = B(., w)^T gz is bilinear in (w, gz): <g, gx> = <conv2d(g, w), gz>
        w, gz, _ = inputs
        (g,) = output_grads
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
        taps = _filter_taps(self.layout, [f"{shape}[{d}]" for d in range(4)])
        pads = _pad_sources(self.border_mode, *taps)
        sh, sw = self.subsample
        call = (
            f"{out} = conv.conv2d_grad_filters({x}, {gz}, {shape}, {pads[0]}, {pads[1]}, {sh}, "
            f"{sw}, {self.filter_flip}, {self.layout == 'NHWC'})"
        )
        return [f"conv.check_shape_vector({shape}, 'conv2d_grad_filters')", call]

    def grad(self, inputs, output_grads):
        # gw is bilinear in (x, gz): <g, gw> = <conv2d(x, g), gz>
        x, gz, _ = inputs
        (g,) = output_grads
        g = T.cast(g, x.dtype)
        props = (self.border_mode, self.subsample, self.filter_flip, self.layout)
        gx = Conv2DGradInput(*props)(g, gz, T.shape(x))
        ggz = Conv2D(*props)(x, g)
        return [gx, ggz, None]

    pp_name = "conv2d_grad_filters"


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
    border_mode = _normalize_border_mode(border_mode)
    subsample = _int_pair("conv2d", "subsample", subsample, 1)
    if not isinstance(filter_flip, (bool, np.bool_)):
        raise ValueError(f"conv2d: filter_flip must be True or False, got {filter_flip!r}")
    layout = _check_layout("conv2d", layout)
    x, w = T.as_tensor(input), T.as_tensor(filters)
    dtype = _conv_float_dtype(x, w)
    op = Conv2D(border_mode, subsample, bool(filter_flip), layout)
    return op(T.cast(x, dtype), T.cast(w, dtype))
