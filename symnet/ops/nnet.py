"""T.nnet: softmax, log_softmax, the crossentropies, and the stable fused softmax-crossentropy ops.

``sigmoid``, ``relu`` and ``softplus`` are the elementwise functions of :mod:`symnet.tensor`,
re-exported under Theano's ``T.nnet`` names. ``softmax`` and ``log_softmax`` are dedicated ops
(the maximum is subtracted before ``exp``); ``binary_crossentropy`` and dense
``categorical_crossentropy`` are compositions. Integer labels go through small label ops
(:class:`CrossentropyCategorical1Hot`, :class:`GatherLabels`, :class:`ScatterLabels`) that check
every label before reading memory. :class:`CrossentropySoftmaxWithLogits` and
:class:`SparseCrossentropySoftmaxWithLogits` compute a crossentropy straight from logits; the
stabilize pass rewrites ``crossentropy(softmax(x), t)`` into them.

Axes: the user functions store a softmax axis as a negative number (``-1`` is the last axis), so
equal computations get equal ops whatever the rank, and ``pp`` shows ``softmax(x)`` for the
common case. The ops accept any in-range axis.

Every Numba helper works on the last axis of a C-contiguous array viewed as ``(rows, classes)``;
the op's ``numba_impl`` transposes the softmax axis to the end first when needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Constant, Op, TensorType, Variable, as_tensor
from symnet.graph import tensor_functions as T
from symnet.ops.elemwise import numpy_result_dtype
from symnet.runtime.kernel import kernel
from symnet.ops.conv import conv2d  # noqa: F401 - T.nnet.conv2d
from symnet.ops.math import relu, sigmoid, softplus  # noqa: F401 - T.nnet re-exports them
from symnet.ops.pool import max_pool_2d, pool_2d  # noqa: F401 - T.nnet.max_pool_2d, pool_2d

__all__ = [
    "sigmoid",
    "relu",
    "softplus",
    "softmax",
    "log_softmax",
    "binary_crossentropy",
    "categorical_crossentropy",
    "softmax_cross_entropy_with_logits",
    "sigmoid_binary_crossentropy_with_logits",
    "Softmax",
    "LogSoftmax",
    "GatherLabels",
    "ScatterLabels",
    "CrossentropyCategorical1Hot",
    "CrossentropySoftmaxWithLogits",
    "SparseCrossentropySoftmaxWithLogits",
]


def _is_float(dtype: str) -> bool:
    return np.dtype(dtype).kind == "f"


def _is_int(dtype: str) -> bool:
    return np.dtype(dtype).kind in "iu"


def _pp_short(x: Variable) -> str:
    try:
        text = T.pp(x, max_length=60)  # bounded per sub-expression: linear on shared subgraphs
    except Exception:  # printing must never hide the real error
        text = x.name or "?"
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(x: Variable) -> str:
    return f"{_pp_short(x)} ({x.type.short()})"


def _axis_in_range(opname: str, axis: int, x: Variable) -> int:
    """``axis`` of ``x`` as a non-negative int, or ValueError naming the op."""
    if x.ndim == 0:
        raise ValueError(f"{opname}: needs at least a 1-d input, got the 0-d {_describe(x)}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{opname}: axis {axis} is out of range for the {x.ndim}-d {_describe(x)}")
    return axis % x.ndim


def _negative_axis(opname: str, axis, x: Variable) -> int:
    """A user's axis as the canonical negative axis the ops are built with."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{opname}: axis must be an int, got {axis!r}")
    return _axis_in_range(opname, int(axis), x) - x.ndim


def _require_float(opname: str, what: str, x: Variable) -> None:
    if not _is_float(x.dtype):
        raise TypeError(f"{opname}: {what} must be a float tensor, got {_describe(x)}")


def _require_labels(opname: str, labels: Variable, x: Variable) -> None:
    """Integer labels indexing the last axis of ``x``: shape ``x.shape[:-1]``."""
    if not _is_int(labels.dtype):
        raise TypeError(
            f"{opname}: labels must be an integer tensor, got {_describe(labels)}; "
            f"use a one-hot/probability tensor of the same rank as {_pp_short(x)} for float targets"
        )
    if x.ndim == 0:
        raise ValueError(f"{opname}: needs at least a 1-d input, got the 0-d {_describe(x)}")
    if labels.ndim != x.ndim - 1:
        raise ValueError(
            f"{opname}: labels must have one axis fewer than {_describe(x)}, got "
            f"{labels.ndim}-d {_describe(labels)}"
        )
    for axis, (a, b) in enumerate(zip(x.type.shape[:-1], labels.type.shape)):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"{opname}: labels of shape {labels.type.shape} do not match {_pp_short(x)} of "
                f"shape {x.type.shape} (None = any) on axis {axis}"
            )


def _leading_shape(x: Variable, labels: Variable | None = None) -> tuple:
    """Static shape of ``x`` without its last axis, refined by ``labels``' static shape."""
    shape = list(x.type.shape[:-1])
    if labels is not None:
        for i, s in enumerate(labels.type.shape):
            if shape[i] is None:
                shape[i] = s
    return tuple(shape)


def _check_runtime_labels(opname: str, labels: np.ndarray, leading: tuple, n_classes: int) -> None:
    """NumPy-side label checks: shape ``leading`` and every label in ``[0, n_classes)``."""
    if labels.shape != tuple(leading):
        raise ValueError(
            f"{opname}: labels of shape {labels.shape} do not match the leading shape "
            f"{tuple(leading)} of the class scores"
        )
    if labels.size == 0:
        return
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        position = np.unravel_index(int(np.argmax(bad)), labels.shape)
        label = labels[position]
        raise IndexError(
            f"{opname}: label {label} at position {tuple(int(p) for p in position)} is out of "
            f"range for axis -1 with {n_classes} classes (labels must be in [0, {n_classes}))"
        )


def _row_max(x: np.ndarray, axis: int) -> np.ndarray:
    """The shift softmax subtracts: the max over ``axis`` (keepdims), or 0 where that max is
    not finite (empty rows, infinite or NaN entries)."""
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    # a row whose max is +-inf would give inf - inf = nan in every entry; shift by 0 instead,
    # so exp() sees the raw values (an all -inf row then gives 0/0 = nan, as a plain softmax)
    return np.where(np.isfinite(m), m, 0).astype(x.dtype)


def _softmax_np(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        e = np.exp(x - _row_max(x, axis))
        return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_np(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        shifted = x - _row_max(x, axis)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _gather_np(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    index = labels.astype(np.intp)[..., None]
    return np.take_along_axis(x, index, axis=-1)[..., 0]


# --- Numba helpers -----------------------------------------------------------------------------
# Each works on the last axis, checks shapes and labels before its loops, accumulates in
# float64 and never writes into its inputs.


@kernel
def as_rows(x):
    """``x`` as a C-contiguous ``(rows, last axis)`` array (a view when already contiguous)."""
    rows = 1
    for d in range(x.ndim - 1):
        rows *= x.shape[d]
    return np.ascontiguousarray(x).reshape((rows, x.shape[-1]))


@kernel
def row_shift(row):
    """The row's maximum, or 0 when it is infinite or the row is empty (see ``_row_max``)."""
    m = -np.inf
    for j in range(row.shape[0]):
        v = np.float64(row[j])
        if v > m:
            m = v
    if np.isinf(m):
        return 0.0
    return m


@kernel
def row_logsumexp(row, shift):
    s = 0.0
    for j in range(row.shape[0]):
        s += np.exp(np.float64(row[j]) - shift)
    return np.log(s)


@kernel
def check_labels(labels, leading_shape, n_classes, opname):
    """Labels must have shape ``leading_shape`` and lie in ``[0, n_classes)``."""
    if labels.shape != leading_shape:
        raise ValueError(
            opname + ": the labels' shape does not match the leading shape of the class scores"
        )
    flat = np.ascontiguousarray(labels).reshape(labels.size)
    for i in range(flat.shape[0]):
        label = np.int64(flat[i])  # huge unsigned labels wrap to negative and are caught
        if label < 0 or label >= n_classes:
            raise IndexError(
                opname + ": label " + str(label) + " is out of range for axis -1 with "
                + str(n_classes) + " classes"
            )
    return flat


@kernel
def softmax_last(x):
    """Softmax over the last axis."""
    rows = as_rows(x)
    out = np.empty(rows.shape, dtype=x.dtype)
    for i in range(rows.shape[0]):
        shift = row_shift(rows[i])
        total = 0.0
        for j in range(rows.shape[1]):
            total += np.exp(np.float64(rows[i, j]) - shift)
        for j in range(rows.shape[1]):
            out[i, j] = np.exp(np.float64(rows[i, j]) - shift) / total
    return out.reshape(x.shape)


@kernel
def log_softmax_last(x):
    """log(softmax) over the last axis: ``x - max - log(sum(exp(x - max)))``."""
    rows = as_rows(x)
    out = np.empty(rows.shape, dtype=x.dtype)
    for i in range(rows.shape[0]):
        shift = row_shift(rows[i])
        lse = row_logsumexp(rows[i], shift)
        for j in range(rows.shape[1]):
            out[i, j] = np.float64(rows[i, j]) - shift - lse
    return out.reshape(x.shape)


@kernel
def gather_labels(x, labels):
    """``x[..., labels]``: one entry of the last axis per label."""
    flat = check_labels(labels, x.shape[:-1], x.shape[-1], "gather_labels")
    rows = as_rows(x)
    out = np.empty(flat.shape[0], dtype=x.dtype)
    for i in range(flat.shape[0]):
        out[i] = rows[i, np.int64(flat[i])]
    return out.reshape(labels.shape)


@kernel
def scatter_labels(g, labels, n_classes):
    """Zeros of shape ``labels.shape + (n_classes,)`` holding ``g`` at ``[..., labels]``."""
    if g.shape != labels.shape:
        raise ValueError("scatter_labels: the values' shape does not match the labels' shape")
    if n_classes < 0:
        raise ValueError("scatter_labels: negative number of classes")
    flat = check_labels(labels, labels.shape, n_classes, "scatter_labels")
    values = np.ascontiguousarray(g).reshape(flat.shape[0])
    out = np.zeros((flat.shape[0], n_classes), dtype=g.dtype)
    for i in range(flat.shape[0]):
        out[i, np.int64(flat[i])] = values[i]
    return out.reshape(labels.shape + (n_classes,))


@kernel
def crossentropy_1hot(p, labels):
    """``-log(p[..., labels])``."""
    flat = check_labels(labels, p.shape[:-1], p.shape[-1], "crossentropy_categorical_1hot")
    rows = as_rows(p)
    out = np.empty(flat.shape[0], dtype=p.dtype)
    for i in range(flat.shape[0]):
        out[i] = -np.log(np.float64(rows[i, np.int64(flat[i])]))
    return out.reshape(labels.shape)


@kernel
def crossentropy_softmax_last(x, t):
    """``-sum(t * log_softmax(x))`` over the last axis, in float64."""
    if x.shape != t.shape:
        raise ValueError("crossentropy_softmax_with_logits: logits and targets differ in shape")
    rows = as_rows(x)
    targets = as_rows(t)
    out = np.empty(rows.shape[0], dtype=np.float64)
    for i in range(rows.shape[0]):
        shift = row_shift(rows[i])
        lse = row_logsumexp(rows[i], shift)
        total = 0.0
        for j in range(rows.shape[1]):
            total += np.float64(targets[i, j]) * (shift + lse - np.float64(rows[i, j]))
        out[i] = total
    return out.reshape(x.shape[:-1])


@kernel
def sparse_crossentropy_softmax_last(x, labels):
    """``logsumexp(x) - x[..., labels]`` over the last axis."""
    opname = "sparse_crossentropy_softmax_with_logits"
    flat = check_labels(labels, x.shape[:-1], x.shape[-1], opname)
    rows = as_rows(x)
    out = np.empty(flat.shape[0], dtype=x.dtype)
    for i in range(flat.shape[0]):
        shift = row_shift(rows[i])
        lse = row_logsumexp(rows[i], shift)
        out[i] = shift + lse - np.float64(rows[i, np.int64(flat[i])])
    return out.reshape(labels.shape)


def _last_axis_source(helper: str, x: str, axis: int, ndim: int) -> str:
    """Call ``nnet.<helper>`` on ``x`` with ``axis`` moved last, and move it back."""
    if axis == ndim - 1:
        return f"nnet.{helper}({x})"
    perm = [a for a in range(ndim) if a != axis] + [axis]
    inverse = [perm.index(a) for a in range(ndim)]
    moved = f"nnet.{helper}({x}.transpose({tuple(perm)!r}))"
    return f"np.ascontiguousarray({moved}.transpose({tuple(inverse)!r}))"


def _moved_last_source(x: str, axis: int, ndim: int) -> str:
    if axis == ndim - 1:
        return x
    perm = [a for a in range(ndim) if a != axis] + [axis]
    return f"{x}.transpose({tuple(perm)!r})"


def _cast_source(expr: str, dtype: str) -> str:
    return expr if dtype == "float64" else f"{expr}.astype(np.{dtype})"


# --- softmax and log_softmax -------------------------------------------------------------------


@dataclass(frozen=True)
class Softmax(Op):
    """``exp(x - max) / sum(exp(x - max))`` over ``axis`` (stable for large inputs)."""

    axis: int = -1

    def infer_shape(self, node, input_lengths, lengths):
        return [input_lengths[0]]

    def make_node(self, x):
        x = as_tensor(x)
        _require_float("softmax", "the input", x)
        _axis_in_range("softmax", self.axis, x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, inputs):
        (x,) = inputs
        return [_softmax_np(x, self.axis % x.ndim)]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        return _last_axis_source("softmax_last", x, self.axis % ndim, ndim)

    def grad(self, inputs, output_grads):
        # d softmax: (gz - sum(gz * sm, axis, keepdims)) * sm
        (x,) = inputs
        (gz,) = output_grads
        sm = self(x)
        return [(gz - T.sum(gz * sm, axis=self.axis, keepdims=True)) * sm]

    pp_name = "softmax"


@dataclass(frozen=True)
class LogSoftmax(Op):
    """``x - max - log(sum(exp(x - max)))`` over ``axis``: log(softmax(x)) without underflow."""

    axis: int = -1

    def infer_shape(self, node, input_lengths, lengths):
        return [input_lengths[0]]

    def make_node(self, x):
        x = as_tensor(x)
        _require_float("log_softmax", "the input", x)
        _axis_in_range("log_softmax", self.axis, x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, inputs):
        (x,) = inputs
        return [_log_softmax_np(x, self.axis % x.ndim)]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        return _last_axis_source("log_softmax_last", x, self.axis % ndim, ndim)

    def grad(self, inputs, output_grads):
        # d log_softmax: gz - exp(lsm) * sum(gz, axis, keepdims)
        (x,) = inputs
        (gz,) = output_grads
        lsm = self(x)
        return [gz - T.exp(lsm) * T.sum(gz, axis=self.axis, keepdims=True)]

    pp_name = "log_softmax"


def _float_input(x):
    """``x`` as a tensor; integer and bool inputs become floats as ``exp`` would make them."""
    x = as_tensor(x)
    if not _is_float(x.dtype):
        x = T.cast(x, numpy_result_dtype(np.exp, (x.dtype,)))
    return x


def _targets_like(t: Variable, ref: Variable) -> Variable:
    """Bool and integer targets (0/1 labels, one-hot rows) in the float dtype of ``ref``."""
    if _is_float(t.dtype) or not _is_float(ref.dtype):
        return t
    return T.cast(t, ref.dtype)


def softmax(x, axis: int = -1) -> Variable:
    """Softmax over ``axis``: ``exp(x) / sum(exp(x), axis)``, computed with the maximum
    subtracted so large inputs do not overflow.

    Parameters
    ----------
    x : tensor_like
        At least 1-d; integer inputs are converted to float.
    axis : int
        The axis the probabilities sum over (default: the last).

    Returns
    -------
    Variable
        Same shape and float dtype as ``x``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.nnet.softmax(x).eval({x: np.array([[0.0, np.log(3.0)]])})
    array([[0.25, 0.75]])
    """
    x = _float_input(x)
    return Softmax(_negative_axis("softmax", axis, x))(x)


def log_softmax(x, axis: int = -1) -> Variable:
    """``log(softmax(x, axis))`` computed directly (``x - logsumexp(x, axis)``), so it stays
    finite where ``softmax`` underflows to 0.

    Parameters
    ----------
    x : tensor_like
        At least 1-d; integer inputs are converted to float.
    axis : int
        The normalized axis (default: the last).

    Returns
    -------
    Variable
        Same shape and float dtype as ``x``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> T.nnet.log_softmax(x).eval({x: np.array([0.0, 1000.0])})
    array([-1000.,     0.])
    """
    x = _float_input(x)
    return LogSoftmax(_negative_axis("log_softmax", axis, x))(x)


# --- label ops ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatherLabels(Op):
    """``x[..., labels]``: for every position of ``labels``, the entry of ``x``'s last axis it
    names (``x[arange(n), labels]`` for a matrix). Labels are checked: 0 <= label < classes."""

    def infer_shape(self, node, input_lengths, lengths):
        x, labels = input_lengths
        for a, b in zip(labels, x[:-1]):
            lengths.assume_equal(a, b)
        return [labels]

    def make_node(self, x, labels):
        x, labels = as_tensor(x), as_tensor(labels)
        _require_labels("gather_labels", labels, x)
        return Apply(self, [x, labels], [TensorType(x.dtype, _leading_shape(x, labels))()])

    def perform(self, inputs):
        x, labels = inputs
        _check_runtime_labels("gather_labels", labels, x.shape[:-1], x.shape[-1])
        return [np.asarray(_gather_np(x, labels))]

    def numba_impl(self, node, names):
        x, labels = names
        return f"nnet.gather_labels({x}, {labels})"

    def grad(self, inputs, output_grads):
        x, labels = inputs
        (gz,) = output_grads
        return [ScatterLabels()(gz, labels, _n_classes(x)), None]

    pp_name = "gather_labels"


@dataclass(frozen=True)
class ScatterLabels(Op):
    """The adjoint of :class:`GatherLabels`: zeros of shape ``labels.shape + (n_classes,)``
    holding ``g`` at ``[..., labels]`` (``g`` has the labels' shape)."""

    def infer_shape(self, node, input_lengths, lengths):
        g, labels, _ = input_lengths
        for a, b in zip(g, labels):
            lengths.assume_equal(a, b)
        out = node.outputs[0]
        n = lengths.scalar(node.inputs[2])
        return [labels + (lengths.fresh(out, out.ndim - 1) if n is None else n,)]

    def make_node(self, g, labels, n_classes):
        g, labels, n_classes = as_tensor(g), as_tensor(labels), as_tensor(n_classes)
        if not _is_int(labels.dtype):
            raise TypeError(
                f"scatter_labels: labels must be an integer tensor, got {_describe(labels)}"
            )
        if n_classes.ndim != 0 or not _is_int(n_classes.dtype):
            raise TypeError(
                f"scatter_labels: the number of classes must be an integer scalar, got "
                f"{_describe(n_classes)}"
            )
        if g.ndim != labels.ndim:
            raise ValueError(
                f"scatter_labels: values {_describe(g)} and labels {_describe(labels)} differ "
                f"in rank"
            )
        shape = []
        for axis, (a, b) in enumerate(zip(g.type.shape, labels.type.shape)):
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"scatter_labels: values of shape {g.type.shape} and labels of shape "
                    f"{labels.type.shape} (None = any) differ on axis {axis}"
                )
            shape.append(a if a is not None else b)
        static_classes = int(n_classes.data) if isinstance(n_classes, Constant) else None
        out = TensorType(g.dtype, (*shape, static_classes))()
        return Apply(self, [g, labels, n_classes], [out])

    def perform(self, inputs):
        g, labels, n_classes = inputs
        n_classes = int(n_classes)
        if g.shape != labels.shape:
            raise ValueError(
                f"scatter_labels: values of shape {g.shape} and labels of shape {labels.shape} "
                f"differ"
            )
        if n_classes < 0:
            raise ValueError(f"scatter_labels: negative number of classes {n_classes}")
        _check_runtime_labels("scatter_labels", labels, labels.shape, n_classes)
        out = np.zeros(labels.shape + (n_classes,), dtype=g.dtype)
        np.put_along_axis(out, labels.astype(np.intp)[..., None], g[..., None], axis=-1)
        return [out]

    def numba_impl(self, node, names):
        g, labels, n_classes = names
        return f"nnet.scatter_labels({g}, {labels}, {n_classes}.item())"

    def grad(self, inputs, output_grads):
        _, labels, _ = inputs
        (gz,) = output_grads
        return [GatherLabels()(gz, labels), None, None]

    pp_name = "scatter_labels"


def _n_classes(x: Variable) -> Variable:
    """The length of ``x``'s last axis (a constant when known statically)."""
    return T.shape_i(x, x.ndim - 1)


@dataclass(frozen=True)
class CrossentropyCategorical1Hot(Op):
    """``-log(coding_dist[..., labels])``: the crossentropy of a probability tensor against
    integer labels of its last axis (Theano's ``crossentropy_categorical_1hot``)."""

    def infer_shape(self, node, input_lengths, lengths):
        x, labels = input_lengths
        for a, b in zip(labels, x[:-1]):
            lengths.assume_equal(a, b)
        return [labels]

    def make_node(self, coding_dist, labels):
        p, labels = as_tensor(coding_dist), as_tensor(labels)
        _require_float("crossentropy_categorical_1hot", "coding_dist", p)
        _require_labels("crossentropy_categorical_1hot", labels, p)
        return Apply(self, [p, labels], [TensorType(p.dtype, _leading_shape(p, labels))()])

    def perform(self, inputs):
        p, labels = inputs
        _check_runtime_labels("crossentropy_categorical_1hot", labels, p.shape[:-1], p.shape[-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            return [np.asarray(-np.log(_gather_np(p, labels)))]

    def numba_impl(self, node, names):
        p, labels = names
        return f"nnet.crossentropy_1hot({p}, {labels})"

    def grad(self, inputs, output_grads):
        # d(-log p[l]) / dp = -1 / p[l] at the label, 0 elsewhere
        p, labels = inputs
        (gz,) = output_grads
        picked = GatherLabels()(p, labels)
        return [ScatterLabels()(-gz / picked, labels, _n_classes(p)), None]

    pp_name = "crossentropy_categorical_1hot"


# --- fused softmax + crossentropy --------------------------------------------------------------


@dataclass(frozen=True)
class CrossentropySoftmaxWithLogits(Op):
    """``-sum(targets * log_softmax(logits, axis), axis)``: the crossentropy of one-hot or
    probability ``targets`` against ``softmax(logits)``, finite for any finite logits.

    The output drops ``axis``; its dtype is NumPy's for ``targets * logits``.
    """

    axis: int = -1

    def infer_shape(self, node, input_lengths, lengths):
        x, t = input_lengths
        for a, b in zip(x, t):
            lengths.assume_equal(a, b)
        axis = self.axis % len(x)
        return [x[:axis] + x[axis + 1:]]

    def make_node(self, logits, targets):
        x, t = as_tensor(logits), as_tensor(targets)
        opname = "crossentropy_softmax_with_logits"
        _require_float(opname, "logits", x)
        if np.dtype(t.dtype).kind not in "biuf":
            raise TypeError(f"{opname}: targets must be numeric, got {_describe(t)}")
        axis = _axis_in_range(opname, self.axis, x)
        if t.ndim != x.ndim:
            raise ValueError(
                f"{opname}: targets {_describe(t)} must have the rank of logits {_describe(x)} "
                f"(use sparse_crossentropy_softmax_with_logits for integer labels)"
            )
        shape = []
        for d, (a, b) in enumerate(zip(x.type.shape, t.type.shape)):
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"{opname}: logits of shape {x.type.shape} and targets of shape "
                    f"{t.type.shape} (None = any) differ on axis {d}"
                )
            shape.append(a if a is not None else b)
        del shape[axis]
        dtype = np.result_type(np.dtype(x.dtype), np.dtype(t.dtype)).name
        return Apply(self, [x, t], [TensorType(dtype, tuple(shape))()])

    def perform(self, inputs):
        x, t = inputs
        if x.shape != t.shape:
            raise ValueError(
                f"crossentropy_softmax_with_logits: logits of shape {x.shape} and targets of "
                f"shape {t.shape} differ"
            )
        axis = self.axis % x.ndim
        with np.errstate(all="ignore"):
            return [np.asarray(-np.sum(t * _log_softmax_np(x, axis), axis=axis))]

    def numba_impl(self, node, names):
        x, t = names
        ndim = node.inputs[0].ndim
        axis = self.axis % ndim
        expr = (
            f"nnet.crossentropy_softmax_last({_moved_last_source(x, axis, ndim)}, "
            f"{_moved_last_source(t, axis, ndim)})"
        )
        return _cast_source(expr, node.outputs[0].dtype)

    def grad(self, inputs, output_grads):
        # d/dx = softmax(x) * sum(t) - t  (softmax - onehot for one-hot targets);
        # d/dt = -log_softmax(x); both times gz broadcast back over the axis
        x, t = inputs
        (gz,) = output_grads
        axis = self.axis % x.ndim
        gz = T.expand_dims(gz, axis)
        gx = (Softmax(self.axis)(x) * T.sum(t, axis=axis, keepdims=True) - t) * gz
        gt = -LogSoftmax(self.axis)(x) * gz if _is_float(t.dtype) else None
        return [gx, gt]

    pp_name = "crossentropy_softmax_with_logits"


@dataclass(frozen=True)
class SparseCrossentropySoftmaxWithLogits(Op):
    """``logsumexp(logits) - logits[..., labels]`` over the last axis: the crossentropy of
    integer ``labels`` against ``softmax(logits)``, finite for any finite logits."""

    def infer_shape(self, node, input_lengths, lengths):
        x, labels = input_lengths
        for a, b in zip(labels, x[:-1]):
            lengths.assume_equal(a, b)
        return [labels]

    def make_node(self, logits, labels):
        x, labels = as_tensor(logits), as_tensor(labels)
        opname = "sparse_crossentropy_softmax_with_logits"
        _require_float(opname, "logits", x)
        _require_labels(opname, labels, x)
        return Apply(self, [x, labels], [TensorType(x.dtype, _leading_shape(x, labels))()])

    def perform(self, inputs):
        x, labels = inputs
        opname = "sparse_crossentropy_softmax_with_logits"
        _check_runtime_labels(opname, labels, x.shape[:-1], x.shape[-1])
        with np.errstate(all="ignore"):
            return [np.asarray(-_gather_np(_log_softmax_np(x, x.ndim - 1), labels))]

    def numba_impl(self, node, names):
        x, labels = names
        return f"nnet.sparse_crossentropy_softmax_last({x}, {labels})"

    def grad(self, inputs, output_grads):
        # d/dx = (softmax(x) - onehot(labels)) * gz
        x, labels = inputs
        (gz,) = output_grads
        gx = Softmax(-1)(x) * T.expand_dims(gz, -1) - ScatterLabels()(gz, labels, _n_classes(x))
        return [gx, None]

    pp_name = "sparse_crossentropy_softmax_with_logits"


# --- user functions ----------------------------------------------------------------------------


def binary_crossentropy(output, target) -> Variable:
    """Elementwise ``-(target * log(output) + (1 - target) * log(1 - output))``.

    Theano's argument order: ``output`` holds probabilities (e.g. a sigmoid), ``target`` the
    0/1 (or soft) labels; they broadcast. Bool and integer targets take the output's float
    dtype. Nothing is reduced: take the mean yourself. For logits use
    :func:`sigmoid_binary_crossentropy_with_logits`, which stays finite.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> p, t = T.dvectors('p', 't')
    >>> T.nnet.binary_crossentropy(p, t).eval({p: np.array([0.5, 0.9]), t: np.array([1.0, 1.0])})
    array([0.69314718, 0.10536052])
    """
    o = as_tensor(output)
    t = _targets_like(as_tensor(target), o)
    return -(t * T.log(o) + (1 - t) * T.log(1 - o))


def categorical_crossentropy(coding_dist, true_dist) -> Variable:
    """Crossentropy between predicted class probabilities and the true classes, per row.

    Parameters
    ----------
    coding_dist : tensor_like
        Probabilities over the last axis (e.g. a softmax), shape ``(..., classes)``.
    true_dist : tensor_like
        Either a one-hot/probability tensor of the same shape (bool and integer ones take
        ``coding_dist``'s float dtype), giving ``-sum(true_dist * log(coding_dist), axis=-1)``,
        or integer labels of shape ``(...)``,
        giving ``-log(coding_dist[..., labels])`` (labels out of range raise IndexError).

    Returns
    -------
    Variable
        One value per row: shape ``coding_dist.shape[:-1]``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> p = T.dmatrix('p')
    >>> y = T.lvector('y')
    >>> probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> T.nnet.categorical_crossentropy(p, y).eval({p: probs, y: np.array([0, 2])})
    array([0.69314718, 0.22314355])
    """
    p, t = as_tensor(coding_dist), as_tensor(true_dist)
    opname = "categorical_crossentropy"
    if p.ndim == 0:
        raise ValueError(f"{opname}: coding_dist must be at least 1-d, got the 0-d {_describe(p)}")
    if t.ndim == p.ndim:
        return -T.sum(_targets_like(t, p) * T.log(p), axis=-1)
    if t.ndim == p.ndim - 1:
        if not _is_int(t.dtype):
            raise TypeError(
                f"{opname}: true_dist {_describe(t)} has one axis fewer than coding_dist "
                f"{_describe(p)}, so it must hold integer labels"
            )
        return CrossentropyCategorical1Hot()(_float_input(p), t)
    raise ValueError(
        f"{opname}: true_dist {_describe(t)} must have the rank of coding_dist {_describe(p)} "
        f"(one-hot/probabilities) or one axis fewer (integer labels)"
    )


def softmax_cross_entropy_with_logits(logits, targets) -> Variable:
    """``categorical_crossentropy(softmax(logits), targets)`` computed from the logits in one
    stable step: finite values and gradients even for logits of 1e4.

    Parameters
    ----------
    logits : tensor_like
        Unnormalized scores, shape ``(..., classes)``.
    targets : tensor_like
        One-hot/probability tensor of the same shape, or integer labels of shape ``(...)``.

    Returns
    -------
    Variable
        One loss per row: shape ``logits.shape[:-1]``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x, y = T.dmatrix('x'), T.lvector('y')
    >>> loss = T.nnet.softmax_cross_entropy_with_logits(x, y)
    >>> loss.eval({x: np.array([[1e4, 0.0], [0.0, 0.0]]), y: np.array([1, 0])})
    array([1.00000000e+04, 6.93147181e-01])
    """
    x, t = _float_input(logits), as_tensor(targets)
    opname = "softmax_cross_entropy_with_logits"
    if x.ndim == 0:
        raise ValueError(f"{opname}: logits must be at least 1-d, got the 0-d {_describe(x)}")
    if t.ndim == x.ndim:
        return CrossentropySoftmaxWithLogits(-1)(x, _targets_like(t, x))
    if t.ndim == x.ndim - 1:
        if not _is_int(t.dtype):
            raise TypeError(
                f"{opname}: targets {_describe(t)} have one axis fewer than logits "
                f"{_describe(x)}, so they must be integer labels"
            )
        return SparseCrossentropySoftmaxWithLogits()(x, t)
    raise ValueError(
        f"{opname}: targets {_describe(t)} must have the rank of logits {_describe(x)} "
        f"(one-hot/probabilities) or one axis fewer (integer labels)"
    )


def sigmoid_binary_crossentropy_with_logits(logits, targets) -> Variable:
    """``binary_crossentropy(sigmoid(logits), targets)`` computed stably, elementwise:
    ``softplus(x) - t * x`` (``max(x, 0) - x * t + log1p(exp(-|x|))``).

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x, t = T.dvectors('x', 't')
    >>> loss = T.nnet.sigmoid_binary_crossentropy_with_logits(x, t)
    >>> loss.eval({x: np.array([0.0, 1000.0, -1000.0]), t: np.array([1.0, 0.0, 0.0])})
    array([6.93147181e-01, 1.00000000e+03, 0.00000000e+00])
    """
    x = _float_input(logits)
    t = _targets_like(as_tensor(targets), x)
    return T.softplus(x) - t * x

