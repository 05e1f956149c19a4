"""Reductions: sum, prod, max, min, argmax, argmin, logsumexp (axis/keepdims), and the
compositions mean, var, std, all, any.

Every reduction op carries ``axis``, a sorted tuple of distinct axes, and ``keepdims``. The
Numba implementations share one layout trick: the reduced axes are moved last and the array is
viewed as a C-contiguous ``(kept, reduced)`` matrix (:func:`as_2d`), a helper reduces each row,
and the generated code reshapes the result to the output shape (keepdims included). Sums over
leading axes (bias gradients) skip the transpose and accumulate whole rows instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Op, TensorType, Variable, as_tensor
from symnet.graph import tensor_functions as T
from symnet.ops.elemwise import scalar_literal
from symnet.runtime.kernel import kernel


# --- axes and dtypes ---------------------------------------------------------------------------


def normalize_axis(axis, ndim: int, opname: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple; negatives allowed) as a sorted tuple of axes.

    Raises TypeError for a non-integer axis and ValueError, naming the op, the axis and the
    input's rank, for an axis out of range or repeated.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        axes = (axis,)  # rejected below with the op's name
    out = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{opname}: axis must be None, an int or a tuple of ints, got {axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{opname}: axis {a} is out of range for a {ndim}-d input")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{opname}: repeated axis in {axis!r} for a {ndim}-d input")
    return tuple(sorted(out))


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _sum_dtype(dtype: str) -> str:
    """NumPy's accumulator dtype for sum and prod: small ints widen, float32 stays."""
    return np.sum(np.zeros(1, dtype=dtype)).dtype.name


def _float_dtype(dtype: str) -> str:
    """float32 and float64 stay; ints and bools give float64 (as ``np.mean``)."""
    return dtype if dtype in ("float32", "float64") else "float64"


def _accumulator(dtype: str) -> str:
    """The dtype Numba helpers accumulate in: float64 for float32 results."""
    return "float64" if dtype == "float32" else dtype


# --- numpy reference helpers -------------------------------------------------------------------


def _kept_axes(ndim: int, axes: tuple) -> list[int]:
    return [a for a in range(ndim) if a not in axes]


def _as_2d_np(x: np.ndarray, axes: tuple) -> np.ndarray:
    """``x`` with the reduced axes moved last, as a ``(kept, reduced)`` matrix."""
    kept = _kept_axes(x.ndim, axes)
    moved = np.transpose(x, kept + list(axes))
    n_kept = math.prod(x.shape[a] for a in kept)
    n_reduced = math.prod(x.shape[a] for a in axes)
    return moved.reshape(n_kept, n_reduced)


def _reduced_size(x: np.ndarray, axes: tuple) -> int:
    return math.prod(x.shape[a] for a in axes)


def _check_not_empty(x: np.ndarray, axes: tuple, opname: str, ufunc: str) -> None:
    if _reduced_size(x, axes) == 0:
        raise ValueError(f"{opname}: zero-size array to reduction operation {ufunc} which has no identity")


# --- Numba helpers -----------------------------------------------------------------------------
# All take C-contiguous 2-d arrays from as_2d, loop within their shapes, check emptiness before
# the loops, and return new 1-d (or, for masks, 2-d) arrays.


@kernel
def as_2d(x, split):
    """``x`` as a C-contiguous ``(prod(shape[:split]), prod(shape[split:]))`` matrix."""
    rows = 1
    for d in range(split):
        rows *= x.shape[d]
    cols = 1
    for d in range(split, x.ndim):
        cols *= x.shape[d]
    return np.ascontiguousarray(x).reshape((rows, cols))


@kernel
def sum_rows(a, zero):
    """Row sums, accumulated in the type of ``zero``."""
    out = np.full(a.shape[0], zero)
    for i in range(a.shape[0]):
        acc = zero
        for j in range(a.shape[1]):
            acc += a[i, j]
        out[i] = acc
    return out


@kernel
def sum_cols(a, zero):
    """Column sums (reading ``a`` row by row), accumulated in the type of ``zero``."""
    out = np.full(a.shape[1], zero)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j] += a[i, j]
    return out


@kernel
def prod_rows(a, one):
    """Row products, accumulated in the type of ``one``."""
    out = np.full(a.shape[0], one)
    for i in range(a.shape[0]):
        acc = one
        for j in range(a.shape[1]):
            acc *= a[i, j]
        out[i] = acc
    return out


@kernel
def argmax_rows(a):
    """Index of the first maximum of each row (the first NaN wins, as in NumPy)."""
    out = np.zeros(a.shape[0], dtype=np.int64)
    for i in range(a.shape[0]):
        best = a[i, 0]
        if best != best:
            continue
        for j in range(1, a.shape[1]):
            v = a[i, j]
            if v != v:
                out[i] = j
                break
            if v > best:
                best = v
                out[i] = j
    return out


@kernel
def argmin_rows(a):
    """Index of the first minimum of each row (the first NaN wins, as in NumPy)."""
    out = np.zeros(a.shape[0], dtype=np.int64)
    for i in range(a.shape[0]):
        best = a[i, 0]
        if best != best:
            continue
        for j in range(1, a.shape[1]):
            v = a[i, j]
            if v != v:
                out[i] = j
                break
            if v < best:
                best = v
                out[i] = j
    return out


@kernel
def take_rows(a, index):
    """``a[i, index[i]]`` for every row."""
    out = np.empty(a.shape[0], dtype=a.dtype)
    for i in range(a.shape[0]):
        out[i] = a[i, index[i]]
    return out


@kernel
def max_rows_index(a):
    """argmax_rows, raising NumPy's error for empty rows (max has no identity)."""
    if a.shape[1] == 0:
        raise ValueError("max: zero-size array to reduction operation maximum which has no identity")
    return argmax_rows(a)


@kernel
def min_rows_index(a):
    """argmin_rows, raising NumPy's error for empty rows (min has no identity)."""
    if a.shape[1] == 0:
        raise ValueError("min: zero-size array to reduction operation minimum which has no identity")
    return argmin_rows(a)


@kernel
def max_rows(a):
    return take_rows(a, max_rows_index(a))


@kernel
def min_rows(a):
    return take_rows(a, min_rows_index(a))


@kernel
def checked_argmax_rows(a):
    if a.shape[1] == 0:
        raise ValueError("argmax: attempt to get argmax of an empty sequence")
    return argmax_rows(a)


@kernel
def checked_argmin_rows(a):
    if a.shape[1] == 0:
        raise ValueError("argmin: attempt to get argmin of an empty sequence")
    return argmin_rows(a)


@kernel
def one_hot_rows(index, n):
    """A bool ``(len(index), n)`` matrix, True at ``[i, index[i]]`` only."""
    out = np.zeros((index.shape[0], n), dtype=np.bool_)
    for i in range(index.shape[0]):
        out[i, index[i]] = True
    return out


@kernel
def max_mask_rows(a):
    """True at the first maximum of each row."""
    return one_hot_rows(max_rows_index(a), a.shape[1])


@kernel
def min_mask_rows(a):
    """True at the first minimum of each row."""
    return one_hot_rows(min_rows_index(a), a.shape[1])


@kernel
def logsumexp_rows(a):
    """``log(sum(exp(row)))`` per row in float64, shifted by the row's maximum.

    A row whose maximum is infinite or NaN gives that maximum (all -inf or empty: -inf).
    """
    out = np.empty(a.shape[0], dtype=np.float64)
    for i in range(a.shape[0]):
        m = -np.inf
        for j in range(a.shape[1]):
            v = np.float64(a[i, j])
            if v != v:
                m = v
                break
            if v > m:
                m = v
        if np.isfinite(m):
            total = 0.0
            for j in range(a.shape[1]):
                total += np.exp(np.float64(a[i, j]) - m)
            out[i] = m + np.log(total)
        else:
            out[i] = m
    return out


# --- Numba source builders ---------------------------------------------------------------------


def _tuple_source(items) -> str:
    return "(" + "".join(f"{item}, " for item in items) + ")"


def _rows_source(x: str, ndim: int, axes: tuple) -> str:
    """Source of ``x`` as a ``(kept, reduced)`` C-contiguous matrix."""
    kept = _kept_axes(ndim, axes)
    perm = kept + list(axes)
    moved = x if perm == list(range(ndim)) else f"{x}.transpose({tuple(perm)!r})"
    return f"reduction.as_2d({moved}, {len(kept)})"


def _out_shape_source(x: str, ndim: int, axes: tuple, keepdims: bool) -> str:
    dims = []
    for a in range(ndim):
        if a not in axes:
            dims.append(f"{x}.shape[{a}]")
        elif keepdims:
            dims.append("1")
    return _tuple_source(dims)


def _finish_source(flat: str, acc_dtype: str, out_dtype: str, shape: str) -> str:
    """Cast a helper's 1-d result to the output dtype and reshape it to the output shape."""
    if acc_dtype != out_dtype:
        flat = f"{flat}.astype(np.{out_dtype})"
    return f"{flat}.reshape({shape})"


def _is_leading(axes: tuple, ndim: int) -> bool:
    """True when ``axes`` are the first axes, but not all of them."""
    return 0 < len(axes) < ndim and axes == tuple(range(len(axes)))


# --- ops ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reduce(Op):
    """Shared fields, type inference and printing of the reductions (not used directly)."""

    axis: tuple
    keepdims: bool = False

    def infer_shape(self, node, input_lengths, lengths):
        (x,) = input_lengths
        if self.keepdims:
            return [tuple(1 if k in self.axis else d for k, d in enumerate(x))]
        return [tuple(d for k, d in enumerate(x) if k not in self.axis)]

    def make_node(self, x):
        x = as_tensor(x)
        self.check_axes(x)
        shape = _reduced_shape(x.type.shape, self.axis, self.keepdims)
        return Apply(self, [x], [TensorType(self.output_dtype(x.dtype), shape)()])

    def check_axes(self, x: Variable) -> None:
        name = self.name_for_pp()
        if not isinstance(self.axis, tuple):
            raise TypeError(f"{name}: the op's axis must be a tuple, got {self.axis!r}")
        if normalize_axis(self.axis, x.ndim, name) != self.axis:
            raise ValueError(f"{name}: the op's axes {self.axis} must be sorted and distinct")

    def output_dtype(self, dtype: str) -> str:
        return dtype

    def expand(self, gz: Variable) -> Variable:
        """``gz`` (the output's shape) with the reduced axes back as length 1."""
        if self.keepdims or not self.axis:
            return gz
        return T.expand_dims(gz, self.axis)

    def pp_args(self):
        if len(self.axis) == 1:
            args = [f"axis={self.axis[0]}"]
        else:
            args = [f"axis={self.axis!r}"]
        if self.keepdims:
            args.append("keepdims=True")
        return args


@dataclass(frozen=True)
class Sum(Reduce):
    """Sum over ``axis`` (a tuple of axes), optionally keeping them as length 1."""

    def output_dtype(self, dtype):
        return _sum_dtype(dtype)

    def perform(self, inputs):
        (x,) = inputs
        out = np.sum(x, axis=self.axis, keepdims=self.keepdims)
        return [np.asarray(out, dtype=_sum_dtype(x.dtype.name))]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        out_dtype = node.outputs[0].dtype
        acc = _accumulator(out_dtype)
        zero = scalar_literal(0, acc)
        if _is_leading(self.axis, ndim):
            flat = f"reduction.sum_cols(reduction.as_2d({x}, {len(self.axis)}), {zero})"
        else:
            flat = f"reduction.sum_rows({_rows_source(x, ndim, self.axis)}, {zero})"
        shape = _out_shape_source(x, ndim, self.axis, self.keepdims)
        return _finish_source(flat, acc, out_dtype, shape)

    def grad(self, inputs, output_grads):

        (x,) = inputs
        (gz,) = output_grads
        return [T.broadcast_to(self.expand(gz), T.shape(x))]

    def name_for_pp(self):
        return "sum"


@dataclass(frozen=True)
class Prod(Reduce):
    """Product over ``axis``; its gradient is exact when inputs contain zeros."""

    def output_dtype(self, dtype):
        return _sum_dtype(dtype)

    def perform(self, inputs):
        (x,) = inputs
        out = np.prod(x, axis=self.axis, keepdims=self.keepdims)
        return [np.asarray(out, dtype=_sum_dtype(x.dtype.name))]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        out_dtype = node.outputs[0].dtype
        acc = _accumulator(out_dtype)
        flat = f"reduction.prod_rows({_rows_source(x, ndim, self.axis)}, {scalar_literal(1, acc)})"
        shape = _out_shape_source(x, ndim, self.axis, self.keepdims)
        return _finish_source(flat, acc, out_dtype, shape)

    def grad(self, inputs, output_grads):
        """d prod / d x_i is the product of the other entries. Dividing the product by x_i
        fails at zeros, so zeros are replaced by ones and counted: with no zero the gradient
        is prod / x_i; with exactly one, the zero entry gets the product of the others and
        the rest get 0; with two or more, every entry gets 0."""
        (x,) = inputs
        (gz,) = output_grads
        if np.dtype(x.dtype).kind != "f":
            return [None]
        is_zero = T.eq(x, 0)
        n_zeros = sum(is_zero, axis=self.axis, keepdims=True)
        safe_x = T.switch(is_zero, 1, x)
        prod_nonzero = prod(safe_x, axis=self.axis, keepdims=True)
        at_zero = T.switch(T.eq(n_zeros, 1), prod_nonzero, 0)
        elsewhere = T.switch(T.eq(n_zeros, 0), prod_nonzero / safe_x, 0)
        return [self.expand(gz) * T.switch(is_zero, at_zero, elsewhere)]

    def name_for_pp(self):
        return "prod"


class _Extremum(Reduce):
    """Max and Min: ``which`` names the reduction ("max"/"min"), ``ufunc`` NumPy's ufunc in
    its empty-slice error ("maximum"/"minimum")."""

    which = ""
    ufunc = ""

    def perform(self, inputs):
        (x,) = inputs
        _check_not_empty(x, self.axis, self.which, self.ufunc)
        return [np.asarray(getattr(np, self.which)(x, axis=self.axis, keepdims=self.keepdims))]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        flat = f"reduction.{self.which}_rows({_rows_source(x, ndim, self.axis)})"
        return f"{flat}.reshape({_out_shape_source(x, ndim, self.axis, self.keepdims)})"

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        mask = ExtremumMask(self.axis, self.which)(x)
        return [self.expand(gz) * T.cast(mask, gz.dtype)]

    def name_for_pp(self):
        return self.which


@dataclass(frozen=True)
class Max(_Extremum):
    """Maximum over ``axis`` (NaN propagates). The gradient goes to the first maximal element
    of each reduced slice (C order over the reduced axes), so at ties exactly one element
    gets it."""

    which = "max"
    ufunc = "maximum"


@dataclass(frozen=True)
class Min(_Extremum):
    """Minimum over ``axis`` (NaN propagates); the gradient goes to the first minimal element
    of each reduced slice (see :class:`Max`)."""

    which = "min"
    ufunc = "minimum"


class _ArgExtremum(Reduce):
    """Argmax and Argmin: ``which`` names the reduction ("argmax"/"argmin")."""

    which = ""

    def output_dtype(self, dtype):
        return "int64"

    def perform(self, inputs):
        (x,) = inputs
        if _reduced_size(x, self.axis) == 0:
            raise ValueError(f"{self.which}: attempt to get {self.which} of an empty sequence")
        index = getattr(np, self.which)(_as_2d_np(x, self.axis), axis=1)
        return [index.astype("int64").reshape(_reduced_shape(x.shape, self.axis, self.keepdims))]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        flat = f"reduction.checked_{self.which}_rows({_rows_source(x, ndim, self.axis)})"
        return f"{flat}.reshape({_out_shape_source(x, ndim, self.axis, self.keepdims)})"

    def grad(self, inputs, output_grads):
        return [None]

    def name_for_pp(self):
        return self.which


@dataclass(frozen=True)
class Argmax(_ArgExtremum):
    """Index (int64) of the first maximum over ``axis``. Over several axes, the index counts
    through the reduced axes flattened in C order (all axes: NumPy's ``argmax(axis=None)``)."""

    which = "argmax"


@dataclass(frozen=True)
class Argmin(_ArgExtremum):
    """Index (int64) of the first minimum over ``axis`` (see :class:`Argmax`)."""

    which = "argmin"


@dataclass(frozen=True)
class LogSumExp(Reduce):
    """``log(sum(exp(x)))`` over ``axis``, computed as ``m + log(sum(exp(x - m)))`` with ``m``
    the maximum, so large inputs do not overflow. A slice whose maximum is infinite or NaN
    gives that maximum (all -inf: -inf; any +inf: inf; any NaN: NaN); empty slices give -inf.
    Ints and bools give float64."""

    def output_dtype(self, dtype):
        return _float_dtype(dtype)

    def perform(self, inputs):
        (x,) = inputs
        out_dtype = _float_dtype(x.dtype.name)
        x64 = x.astype("float64")
        m = np.max(x64, axis=self.axis, keepdims=True, initial=-np.inf)
        shift = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(all="ignore"):
            out = np.log(np.sum(np.exp(x64 - shift), axis=self.axis, keepdims=True)) + shift
        if not self.keepdims:
            out = out.reshape(_reduced_shape(x.shape, self.axis, False))
        return [np.asarray(out, dtype=out_dtype)]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        flat = f"reduction.logsumexp_rows({_rows_source(x, ndim, self.axis)})"
        shape = _out_shape_source(x, ndim, self.axis, self.keepdims)
        return _finish_source(flat, "float64", node.outputs[0].dtype, shape)

    def grad(self, inputs, output_grads):
        """``gz * exp(x - logsumexp(x))``: the softmax over the reduced axes."""
        (x,) = inputs
        (gz,) = output_grads
        if np.dtype(x.dtype).kind != "f":
            return [None]
        lse = self.expand(self(x))
        return [self.expand(gz) * T.exp(x - lse)]

    def name_for_pp(self):
        return "logsumexp"


@dataclass(frozen=True)
class ExtremumMask(Op):
    """A bool tensor shaped like the input, True at the first maximum (``kind='max'``) or
    minimum (``'min'``) of each slice over ``axis``: where the gradient of max/min goes."""

    axis: tuple
    kind: str = "max"

    def make_node(self, x):
        x = as_tensor(x)
        if self.kind not in ("max", "min"):
            raise ValueError(f"extremum_mask: kind must be 'max' or 'min', got {self.kind!r}")
        if normalize_axis(self.axis, x.ndim, f"{self.kind}_mask") != self.axis:
            raise ValueError(f"{self.kind}_mask: the op's axes {self.axis} must be sorted and distinct")
        return Apply(self, [x], [TensorType("bool", x.type.shape)()])

    def perform(self, inputs):
        (x,) = inputs
        ufunc = "maximum" if self.kind == "max" else "minimum"
        _check_not_empty(x, self.axis, self.kind, ufunc)
        rows = _as_2d_np(x, self.axis)
        pick = np.argmax if self.kind == "max" else np.argmin
        mask = np.zeros(rows.shape, dtype=bool)
        mask[np.arange(rows.shape[0]), pick(rows, axis=1)] = True
        kept = _kept_axes(x.ndim, self.axis)
        perm = kept + list(self.axis)
        moved = mask.reshape([x.shape[a] for a in perm])
        inverse = [perm.index(a) for a in range(x.ndim)]
        return [np.transpose(moved, inverse).copy(order="C")]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        kept = _kept_axes(ndim, self.axis)
        perm = kept + list(self.axis)
        moved_shape = _tuple_source(f"{x}.shape[{a}]" for a in perm)
        mask = f"reduction.{self.kind}_mask_rows({_rows_source(x, ndim, self.axis)}).reshape({moved_shape})"
        if perm == list(range(ndim)):
            return mask
        inverse = tuple(perm.index(a) for a in range(ndim))
        return f"np.ascontiguousarray({mask}.transpose({inverse!r}))"

    def grad(self, inputs, output_grads):
        return [None]

    def name_for_pp(self):
        return f"{self.kind}_mask"

    def pp_args(self):
        return [f"axis={self.axis[0]}" if len(self.axis) == 1 else f"axis={self.axis!r}"]


# --- user functions ----------------------------------------------------------------------------


def sum(x, axis=None, keepdims=False, dtype=None) -> Variable:  # noqa: A001
    """Sum of elements over ``axis``, like ``np.sum``.

    Parameters
    ----------
    x : tensor-like
    axis : None, int or tuple of ints
        Axes to reduce (negative counts from the end); None reduces all of them.
    keepdims : bool
        Keep the reduced axes as length 1.
    dtype : str, optional
        Cast ``x`` to this dtype first. Otherwise ints and bools sum to int64 (uint to uint64)
        and floats keep their dtype, as in NumPy.

    Returns
    -------
    Variable

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.sum(x, axis=1).eval({x: np.array([[1., 2.], [3., 4.]])})
    array([3., 7.])
    >>> import symnet
    >>> symnet.pp(T.sum(x, axis=-1, keepdims=True))
    'sum(x, axis=1, keepdims=True)'
    """
    x = as_tensor(x)
    if dtype is not None:
        x = T.cast(x, dtype)
    return Sum(normalize_axis(axis, x.ndim, "sum"), bool(keepdims))(x)


def prod(x, axis=None, keepdims=False, dtype=None) -> Variable:
    """Product of elements over ``axis``, like ``np.prod`` (dtypes as :func:`sum`).

    The gradient is exact with zeros in the input: a lone zero gets the product of the other
    entries.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> float(T.prod(x).eval({x: np.array([2., 3., 4.])}))
    24.0
    """
    x = as_tensor(x)
    if dtype is not None:
        x = T.cast(x, dtype)
    return Prod(normalize_axis(axis, x.ndim, "prod"), bool(keepdims))(x)


def max(x, axis=None, keepdims=False) -> Variable:  # noqa: A001
    """Maximum over ``axis``, like ``np.max`` (NaN propagates; empty slices raise ValueError).

    The gradient goes to the first maximal element of each slice (C order over the reduced
    axes): at ties exactly one element receives it.

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> float(T.max(x).eval({x: np.array([1., 3., 3.])}))
    3.0
    >>> sn.grad(T.max(x), x).eval({x: np.array([1., 3., 3.])})
    array([0., 1., 0.])
    """
    x = as_tensor(x)
    return Max(normalize_axis(axis, x.ndim, "max"), bool(keepdims))(x)


def min(x, axis=None, keepdims=False) -> Variable:  # noqa: A001
    """Minimum over ``axis``, like ``np.min``; the gradient goes to the first minimal element.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.min(x, axis=0).eval({x: np.array([[1., 5.], [3., 2.]])})
    array([1., 2.])
    """
    x = as_tensor(x)
    return Min(normalize_axis(axis, x.ndim, "min"), bool(keepdims))(x)


def argmax(x, axis=None, keepdims=False) -> Variable:
    """Index (int64) of the first maximum, like ``np.argmax``.

    ``axis=None`` indexes the flattened array; a tuple of axes indexes those axes flattened
    in C order. No gradient.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.argmax(x, axis=1).eval({x: np.array([[1., 5.], [3., 2.]])})
    array([1, 0])
    >>> int(T.argmax(x).eval({x: np.array([[1., 5.], [3., 2.]])}))
    1
    """
    x = as_tensor(x)
    return Argmax(normalize_axis(axis, x.ndim, "argmax"), bool(keepdims))(x)


def argmin(x, axis=None, keepdims=False) -> Variable:
    """Index (int64) of the first minimum, like ``np.argmin`` (see :func:`argmax`).

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> int(T.argmin(x).eval({x: np.array([3., 1., 1.])}))
    1
    """
    x = as_tensor(x)
    return Argmin(normalize_axis(axis, x.ndim, "argmin"), bool(keepdims))(x)


def logsumexp(x, axis=None, keepdims=False) -> Variable:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow.

    Slices of -inf give -inf, a +inf gives inf and NaN propagates. Ints give float64. The
    gradient is the softmax of ``x`` over the reduced axes.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> float(T.logsumexp(x).eval({x: np.array([1000., 1000.])}))  # 1000 + log(2)
    1000.6931471805599
    """
    x = as_tensor(x)
    return LogSumExp(normalize_axis(axis, x.ndim, "logsumexp"), bool(keepdims))(x)


def _count(x: Variable, axes: tuple, dtype: str) -> Variable:
    """The number of elements reduced over ``axes``, as a ``dtype`` scalar."""
    static = [x.type.shape[a] for a in axes]
    if None not in static:
        return T.constant(np.asarray(math.prod(static), dtype=dtype))
    count = T.constant(np.int64(1))
    for a in axes:
        count = count * T.shape_i(x, a)
    return T.cast(count, dtype)


def _as_float(x: Variable) -> Variable:
    return x if x.dtype in ("float32", "float64") else T.cast(x, "float64")


def mean(x, axis=None, keepdims=False, dtype=None) -> Variable:
    """Arithmetic mean over ``axis``: ``sum / count``, like ``np.mean``.

    Ints and bools give float64, floats keep their dtype (``dtype`` casts ``x`` first).
    An empty slice gives NaN.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.imatrix('x')
    >>> T.mean(x, axis=0).eval({x: np.array([[1, 2], [4, 4]], dtype='int32')})
    array([2.5, 3. ])
    """
    x = as_tensor(x)
    if dtype is not None:
        x = T.cast(x, dtype)
    x = _as_float(x)
    axes = normalize_axis(axis, x.ndim, "mean")
    return sum(x, axis=axes, keepdims=keepdims) / _count(x, axes, x.dtype)


def var(x, axis=None, keepdims=False, ddof=0) -> Variable:
    """Variance over ``axis``: ``sum((x - mean) ** 2) / (count - ddof)``, like ``np.var``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> float(T.var(x).eval({x: np.array([1., 2., 3., 4.])}))
    1.25
    """
    x = _as_float(as_tensor(x))
    axes = normalize_axis(axis, x.ndim, "var")
    deviation = x - mean(x, axis=axes, keepdims=True)
    count = _count(x, axes, x.dtype)
    if ddof:
        count = count - ddof
    return sum(T.sqr(deviation), axis=axes, keepdims=keepdims) / count


def std(x, axis=None, keepdims=False, ddof=0) -> Variable:
    """Standard deviation over ``axis``: ``sqrt(var(x))``, like ``np.std``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> float(T.std(x).eval({x: np.array([1., 3.])}))
    1.0
    """
    x = as_tensor(x)
    if axis is not None:
        normalize_axis(axis, x.ndim, "std")
    return T.sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


def _truth(x: Variable) -> Variable:
    return x if x.dtype == "bool" else T.neq(x, 0)


def all(x, axis=None, keepdims=False) -> Variable:  # noqa: A001
    """True where every element over ``axis`` is nonzero, like ``np.all`` (empty: True).

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.all(x, axis=1).eval({x: np.array([[1., 2.], [0., 3.]])})
    array([ True, False])
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "all")
    n_false = sum(T.invert(_truth(x)), axis=axes, keepdims=keepdims)
    return T.eq(n_false, 0)


def any(x, axis=None, keepdims=False) -> Variable:  # noqa: A001
    """True where some element over ``axis`` is nonzero, like ``np.any`` (empty: False).

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.any(x, axis=1).eval({x: np.array([[0., 2.], [0., 0.]])})
    array([ True, False])
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "any")
    return T.gt(sum(_truth(x), axis=axes, keepdims=keepdims), 0)


T.register(
    all, any, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var,
)
