"""T.nnet.max_pool_2d (``pool_2d``): 2-d max and average pooling, with its gradient ops.

:class:`Pool2D` pools the last two axes (any leading axes) or, with ``layout='NHWC'``, axes 1
and 2 of a 4-d tensor, with Theano's modes ``max``, ``average_inc_pad`` and
``average_exc_pad``. :class:`Pool2DGrad` is its gradient (max pooling routes each output's
gradient to the first maximum of its window) and :class:`MaxPool2DGradGrad` gathers at those
maxima, the gradient of max pooling's gradient.

Numba helpers: pooling is a direct loop over a ``(batch, rows, cols, channels)`` array,
channels innermost; an NCHW tensor is pooled as ``(planes, rows, cols)`` with the output
columns innermost, or as ``(planes, rows, cols, 1)``. Every helper checks shapes before its
loops. Argument checks shared with convolution come from :mod:`symnet.ops.conv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Op, TensorType, Variable, as_tensor
from symnet.graph import tensor_functions as T
from symnet.ops.conv import _check_layout, _int_pair
from symnet.ops.elemwise import _short_pp
from symnet.runtime.kernel import kernel

__all__ = [
    "max_pool_2d",
    "pool_2d",
    "Pool2D",
    "Pool2DGrad",
    "MaxPool2DGradGrad",
]

POOL_MODES = ("max", "average_inc_pad", "average_exc_pad")
_POOL_MODE_CODES = {"max": 0, "average_inc_pad": 1, "average_exc_pad": 2}


def _is_float(dtype: str) -> bool:
    return np.dtype(dtype).kind == "f"


# --- argument validation (graph-build time) ----------------------------------------------------


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


# --- NumPy references (perform) -----------------------------------------------------------------


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
#
# Hence one kernel per layout, with NCHW tensors handed to the NHWC code as (planes, rows, cols,
# 1) only where no NCHW loop exists. Measured on (32, 32, 26, 26) float32 (issue 15): the NHWC
# code on (planes, rows, cols, 1) took 1.5x (average gradient, 2x2) to 110x (max gradient, 2x2)
# the time of the NCHW loops, 5x for max pooling 2x2; transposing to NHWC and back took 3.7x
# (max 2x2); one 2x2-tile loop over flat indices taking either layout's strides took 5-7x the
# time of each layout's own loop.


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
        x = as_tensor(x)
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
            return f"pool.max_pool_{suffix}({x}, {self._kernel_args()})"
        include_pad = self.mode == "average_inc_pad"
        return f"pool.average_pool_{suffix}({x}, {self._kernel_args()}, {include_pad})"

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if not _is_float(x.dtype):
            return [None]
        gz = T.cast(gz, x.dtype)
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
        return f"pool.{helper}({x}, {gz}, {self._kernel_args()}, {code})"

    def grad(self, inputs, output_grads):
        # linear in gz; piecewise constant in x (the windows' argmax), so zero there
        x, gz = inputs
        (g,) = output_grads
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
        return f"pool.{helper}({x}, {g}, {self._kernel_args()})"

    def grad(self, inputs, output_grads):
        x, g = inputs
        (gz,) = output_grads
        gg = Pool2DGrad(*self.props())(x, T.cast(gz, g.dtype))
        return [T.zeros_like(x) if _is_float(x.dtype) else None, gg]

    pp_name = "max_pool_2d_grad_grad"


# --- user functions -----------------------------------------------------------------------------


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
