"""Reductions: sum, prod, max, min, argmax, argmin, logsumexp (axis/keepdims), and the
compositions mean, var, std, all, any."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Op, TensorType, Variable


def _as_tensor(x):
    from symnet.tensor import as_tensor

    return as_tensor(x)


def normalize_axis(axis, ndim: int, opname: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple; negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{opname}: axis {a} is out of range for a {ndim}-d input")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{opname}: repeated axis in {axis}")
    return tuple(sorted(out))


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


@dataclass(frozen=True)
class Sum(Op):
    """Sum over ``axis`` (a tuple of axes), optionally keeping them as length 1."""

    axis: tuple
    keepdims: bool = False

    def make_node(self, x):
        x = _as_tensor(x)
        out_dtype = np.sum(np.ones(1, dtype=x.dtype)).dtype.name if x.dtype != "float32" else "float32"
        shape = _reduced_shape(x.type.shape, self.axis, self.keepdims)
        return Apply(self, [x], [TensorType(out_dtype, shape)()])

    def perform(self, inputs):
        (x,) = inputs
        return [np.asarray(np.sum(x, axis=self.axis, keepdims=self.keepdims))]

    def grad(self, inputs, output_grads):
        from symnet.ops.shape import Shape, broadcast_to, expand_dims

        (x,) = inputs
        (gz,) = output_grads
        if not self.keepdims and self.axis:
            gz = expand_dims(gz, self.axis)
        return [broadcast_to(gz, Shape()(x))]

    def name_for_pp(self):
        return "sum"


def sum(x, axis=None, keepdims=False, dtype=None) -> Variable:  # noqa: A001
    """Sum of elements over ``axis`` (None: all), like ``np.sum``."""
    x = _as_tensor(x)
    if dtype is not None:
        from symnet.tensor import cast

        x = cast(x, dtype)
    axes = normalize_axis(axis, x.ndim, "sum")
    return Sum(axes, bool(keepdims))(x)


def _pending(name):
    def f(*args, **kwargs):
        raise NotImplementedError(name)
    f.__name__ = name
    return f


all = _pending("all")
any = _pending("any")
argmax = _pending("argmax")
argmin = _pending("argmin")
logsumexp = _pending("logsumexp")
max = _pending("max")
mean = _pending("mean")
min = _pending("min")
prod = _pending("prod")
std = _pending("std")
var = _pending("var")
