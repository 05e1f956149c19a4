"""Linear algebra: :class:`Dot` (``np.dot`` of 1-d and 2-d operands), :class:`BatchedMatmul`
(``np.matmul`` over broadcast batch axes) and :class:`TensorDot`, with the user functions
``dot``, ``matmul``, ``outer`` and ``tensordot`` composed from them.

Float matrix products go to BLAS through :mod:`symnet.runtime.blas` (transposed operands by
flag, not copied), vector products through Numba's ``np.dot`` on contiguous arrays;
integer (and boolean) products use a plain loop, since BLAS has no integer kernels. Every
helper checks shapes before it computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from symnet.graph import Apply, Op, TensorType, Variable, as_tensor, normalize_dtype
from symnet.graph import tensor_functions
from symnet.runtime import blas
from symnet.ops.elemwise import _short_pp, broadcast_static_shapes, mul
from symnet.runtime.kernel import kernel
from symnet.ops.shape import dimshuffle, flatten, transpose


def _result_dtype(a: Variable, b: Variable) -> str:
    """NumPy's dtype for a product of ``a`` and ``b`` (int @ int stays int, and so on)."""
    return normalize_dtype(np.result_type(a.dtype, b.dtype))


def _is_float(var: Variable) -> bool:
    return np.dtype(var.dtype).kind == "f"


def _dims_text(shape) -> str:
    """A static shape for messages: (3, ?) for (3, None)."""
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner}{',' if len(shape) == 1 else ''})"


def _check_static_pair(opname: str, a: Variable, b: Variable, pairs) -> None:
    """Raise ValueError when a contracted pair of axes has two different known lengths."""
    for axis_a, axis_b in pairs:
        da, db = a.type.shape[axis_a], b.type.shape[axis_b]
        if da is not None and db is not None and da != db:
            raise ValueError(
                f"{opname}: shapes {_dims_text(a.type.shape)} of {_short_pp(a)} and "
                f"{_dims_text(b.type.shape)} of {_short_pp(b)} are not aligned: axis {axis_a} "
                f"has length {da} but axis {axis_b} has length {db}"
            )


def _cast_source(name: str, dtype: str, target: str) -> str:
    """Source converting input ``name`` to ``target`` in generated code, when needed."""
    if dtype == target:
        return name
    return f"{name}.astype(np.{target})"


def _swap_last(x: Variable) -> Variable:
    """``x`` with its last two axes exchanged (a view)."""
    order = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return dimshuffle(x, order)


def _outer_vectors(u: Variable, v: Variable) -> Variable:
    """``u[:, None] * v[None, :]`` for vectors (fused by the elementwise pass)."""
    return mul(dimshuffle(u, (0, "x")), dimshuffle(v, ("x", 0)))


# --- Numba helpers ------------------------------------------------------------------------------


@kernel
def dot_float(a, b):
    """Checked np.dot of 1-d/2-d float operands of one dtype through BLAS. The product of two
    vectors is a scalar; the caller wraps it."""
    if a.shape[a.ndim - 1] != b.shape[max(b.ndim - 2, 0)]:
        raise ValueError("dot: shapes of the operands are not aligned")
    return float_product(a, b)


def float_product(a, b):
    """np.dot of float operands of one dtype, shapes checked by the caller. In compiled code,
    matrix products go to :func:`symnet.runtime.blas.gemm`, the rest to Numba's np.dot."""
    return np.dot(a, b)


@numba.extending.overload(float_product)
def _float_product_numba(a, b):
    if a.ndim == 2 and b.ndim == 2:
        return lambda a, b: blas.gemm(a, b)
    return lambda a, b: np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b))


@kernel
def dot_int(a, b):
    """Checked matrix product of 2-d integer or boolean arrays of one dtype (a loop: BLAS has
    no integer kernels). Sums wrap around like NumPy's."""
    n, k = a.shape
    if b.shape[0] != k:
        raise ValueError("dot: shapes of the operands are not aligned")
    m = b.shape[1]
    out = np.zeros((n, m), dtype=a.dtype)
    for i in range(n):
        for p in range(k):
            a_ip = a[i, p]
            for j in range(m):
                out[i, j] += a_ip * b[p, j]
    return out


@kernel
def _batch_shape(a, b):
    """The broadcast batch shape of two same-rank stacks of matrices, checked."""
    nd = a.ndim
    if a.shape[nd - 1] != b.shape[nd - 2]:
        raise ValueError("matmul: the inner dimensions of the operands are not aligned")
    for axis in range(nd - 2):
        da = a.shape[axis]
        db = b.shape[axis]
        if da != db and da != 1 and db != 1:
            raise ValueError("matmul: the batch dimensions of the operands cannot broadcast")
    return np.broadcast_shapes(a.shape[:-2], b.shape[:-2])


@kernel
def matmul_float(a, b):
    """np.matmul of same-rank (>= 3) float stacks of matrices: one BLAS call per matrix."""
    batch = _batch_shape(a, b)
    nd = a.ndim
    out = np.empty(batch + (a.shape[nd - 2], b.shape[nd - 1]), dtype=a.dtype)
    a_full = np.broadcast_to(a, batch + a.shape[-2:])
    b_full = np.broadcast_to(b, batch + b.shape[-2:])
    for index in np.ndindex(batch):
        out[index] = dot_float(a_full[index], b_full[index])
    return out


@kernel
def matmul_int(a, b):
    """np.matmul of same-rank (>= 3) integer or boolean stacks of matrices."""
    batch = _batch_shape(a, b)
    nd = a.ndim
    out = np.empty(batch + (a.shape[nd - 2], b.shape[nd - 1]), dtype=a.dtype)
    a_full = np.broadcast_to(a, batch + a.shape[-2:])
    b_full = np.broadcast_to(b, batch + b.shape[-2:])
    for index in np.ndindex(batch):
        out[index] = dot_int(a_full[index], b_full[index])
    return out


@kernel
def tensordot_operands(a, b, perm_a, perm_b, n_axes):
    """The 2-d operands of a tensordot: ``a`` transposed by ``perm_a`` (free axes first) and
    ``b`` by ``perm_b`` (summed axes first), each flattened to a C-contiguous matrix."""
    n_free_a = a.ndim - n_axes
    for j in range(n_axes):
        if a.shape[perm_a[n_free_a + j]] != b.shape[perm_b[j]]:
            raise ValueError("tensordot: the lengths of the summed axes differ")
    free_a = 1
    summed = 1
    for i in range(a.ndim):
        if i < n_free_a:
            free_a *= a.shape[perm_a[i]]
        else:
            summed *= a.shape[perm_a[i]]
    free_b = 1
    for j in range(n_axes, b.ndim):
        free_b *= b.shape[perm_b[j]]
    a_matrix = np.ascontiguousarray(a.transpose(perm_a)).reshape((free_a, summed))
    b_matrix = np.ascontiguousarray(b.transpose(perm_b)).reshape((summed, free_b))
    return a_matrix, b_matrix


# --- dot -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dot(Op):
    """``np.dot`` of 1-d and 2-d operands: inner product, matrix-vector, vector-matrix and
    matrix-matrix products. Higher ranks go through :class:`TensorDot` or
    :class:`BatchedMatmul`; scalars through elementwise multiplication."""

    pp_name = "dot"

    def infer_shape(self, node, input_lengths, lengths):
        a, b = input_lengths
        lengths.assume_equal(a[-1], b[0])
        return [a[:-1] + b[1:]]

    def make_node(self, a, b):
        a, b = as_tensor(a), as_tensor(b)
        for position, x in enumerate((a, b)):
            if x.ndim not in (1, 2):
                raise TypeError(
                    f"Dot: operand {position} ({_short_pp(x)}) is {x.ndim}-d; the op takes 1-d "
                    f"or 2-d operands (use dot, matmul or tensordot for other ranks)"
                )
        _check_static_pair("dot", a, b, [(a.ndim - 1, max(b.ndim - 2, 0))])
        shape = a.type.shape[:-1] + b.type.shape[1:]
        return Apply(self, [a, b], [TensorType(_result_dtype(a, b), shape)()])

    def perform(self, inputs):
        a, b = inputs
        inner_b = max(b.ndim - 2, 0)
        if a.shape[-1] != b.shape[inner_b]:
            raise ValueError(
                f"dot: shapes {a.shape} and {b.shape} are not aligned: axis {a.ndim - 1} has "
                f"length {a.shape[-1]} but axis {inner_b} has length {b.shape[inner_b]}"
            )
        return [np.asarray(np.dot(a, b))]

    def numba_impl(self, node, names):
        a_var, b_var = node.inputs
        out = node.outputs[0]
        a = _cast_source(names[0], a_var.dtype, out.dtype)
        b = _cast_source(names[1], b_var.dtype, out.dtype)
        if np.dtype(out.dtype).kind == "f":
            expr = f"linalg.dot_float({a}, {b})"
            return f"np.asarray({expr})" if out.ndim == 0 else expr
        # integer and boolean products: vectors become one-row / one-column matrices
        a2 = a if a_var.ndim == 2 else f"np.expand_dims({a}, 0)"
        b2 = b if b_var.ndim == 2 else f"np.expand_dims({b}, 1)"
        expr = f"linalg.dot_int({a2}, {b2})"
        if a_var.ndim == 1 and b_var.ndim == 1:
            return f"np.asarray({expr}[0, 0])"
        if a_var.ndim == 1:
            return f"{expr}[0]"
        if b_var.ndim == 1:
            return f"{expr}[:, 0]"
        return expr

    def grad(self, inputs, output_grads):
        a, b = inputs
        (gz,) = output_grads
        if a.ndim == 1 and b.ndim == 1:
            ga, gb = mul(gz, b), mul(gz, a)
        elif a.ndim == 2 and b.ndim == 1:
            ga, gb = _outer_vectors(gz, b), Dot()(transpose(a), gz)
        elif a.ndim == 1 and b.ndim == 2:
            ga, gb = Dot()(b, gz), _outer_vectors(a, gz)
        else:
            ga, gb = Dot()(gz, transpose(b)), Dot()(transpose(a), gz)
        return [ga if _is_float(a) else None, gb if _is_float(b) else None]


# --- batched matmul ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchedMatmul(Op):
    """``np.matmul`` of two stacks of matrices of the same rank (>= 3): ``(..., n, k) @
    (..., k, m) -> (..., n, m)`` with NumPy broadcasting over the batch axes. The
    :func:`matmul` function pads ranks and promotes vectors before it applies this op."""

    pp_name = "matmul"

    def make_node(self, a, b):
        a, b = as_tensor(a), as_tensor(b)
        if a.ndim != b.ndim or a.ndim < 3:
            raise TypeError(
                f"BatchedMatmul: operands must have the same rank, at least 3; got "
                f"{a.ndim}-d {_short_pp(a)} and {b.ndim}-d {_short_pp(b)} (use matmul)"
            )
        _check_static_pair("matmul", a, b, [(a.ndim - 1, b.ndim - 2)])
        try:
            batch = broadcast_static_shapes([a.type.shape[:-2], b.type.shape[:-2]], "matmul")
        except ValueError:
            raise ValueError(
                f"matmul: the batch dimensions of {_dims_text(a.type.shape)} ({_short_pp(a)}) "
                f"and {_dims_text(b.type.shape)} ({_short_pp(b)}) cannot broadcast"
            ) from None
        shape = batch + (a.type.shape[-2], b.type.shape[-1])
        return Apply(self, [a, b], [TensorType(_result_dtype(a, b), shape)()])

    def perform(self, inputs):
        a, b = inputs
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last axis of the "
                f"first has length {a.shape[-1]}, the second-to-last of the second {b.shape[-2]}"
            )
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} cannot broadcast"
            ) from None
        return [np.matmul(a, b)]

    def numba_impl(self, node, names):
        a_var, b_var = node.inputs
        out = node.outputs[0]
        a = _cast_source(names[0], a_var.dtype, out.dtype)
        b = _cast_source(names[1], b_var.dtype, out.dtype)
        helper = "matmul_float" if np.dtype(out.dtype).kind == "f" else "matmul_int"
        return f"linalg.{helper}({a}, {b})"

    def grad(self, inputs, output_grads):
        a, b = inputs
        (gz,) = output_grads
        # in the broadcast batch shape; the grad driver sums them back to each input's shape
        ga = BatchedMatmul()(gz, _swap_last(b)) if _is_float(a) else None
        gb = BatchedMatmul()(_swap_last(a), gz) if _is_float(b) else None
        return [ga, gb]


# --- tensordot -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorDot(Op):
    """``np.tensordot(a, b, axes=(axes_a, axes_b))``: sum over the paired axes; the result
    has ``a``'s remaining axes, then ``b``'s. Axes are non-negative; at least one pair."""

    axes_a: tuple
    axes_b: tuple

    pp_name = "tensordot"

    def make_node(self, a, b):
        a, b = as_tensor(a), as_tensor(b)
        if len(self.axes_a) != len(self.axes_b) or not self.axes_a:
            raise ValueError(
                f"tensordot: axes {self.axes_a} and {self.axes_b} must pair at least one axis of "
                f"each operand, the same number on both sides"
            )
        for x, axes in ((a, self.axes_a), (b, self.axes_b)):
            if len(set(axes)) != len(axes) or any(not 0 <= i < x.ndim for i in axes):
                raise ValueError(
                    f"tensordot: axes {axes} are invalid (repeated or out of range) for the "
                    f"{x.ndim}-d {_short_pp(x)}"
                )
        _check_static_pair("tensordot", a, b, zip(self.axes_a, self.axes_b))
        free_a, free_b = self._free_axes(a.ndim, b.ndim)
        shape = tuple(a.type.shape[i] for i in free_a) + tuple(b.type.shape[j] for j in free_b)
        return Apply(self, [a, b], [TensorType(_result_dtype(a, b), shape)()])

    def _free_axes(self, ndim_a: int, ndim_b: int) -> tuple[list[int], list[int]]:
        free_a = [i for i in range(ndim_a) if i not in self.axes_a]
        free_b = [j for j in range(ndim_b) if j not in self.axes_b]
        return free_a, free_b

    def perform(self, inputs):
        a, b = inputs
        for i, j in zip(self.axes_a, self.axes_b):
            if a.shape[i] != b.shape[j]:
                raise ValueError(
                    f"tensordot: shapes {a.shape} and {b.shape} are not aligned: axis {i} has "
                    f"length {a.shape[i]} but axis {j} has length {b.shape[j]}"
                )
        return [np.asarray(np.tensordot(a, b, axes=(list(self.axes_a), list(self.axes_b))))]

    def numba_lines(self, node, names, outs, data_names=()):
        a_var, b_var = node.inputs
        out = node.outputs[0]
        (result,) = outs
        a = _cast_source(names[0], a_var.dtype, out.dtype)
        b = _cast_source(names[1], b_var.dtype, out.dtype)
        free_a, free_b = self._free_axes(a_var.ndim, b_var.ndim)
        perm_a = tuple(free_a) + self.axes_a
        perm_b = self.axes_b + tuple(free_b)
        helper = "dot_float" if np.dtype(out.dtype).kind == "f" else "dot_int"
        dims = [f"{names[0]}.shape[{i}]" for i in free_a] + [f"{names[1]}.shape[{j}]" for j in free_b]
        shape = "(" + "".join(f"{d}, " for d in dims) + ")"
        return [
            f"{result}_a, {result}_b = linalg.tensordot_operands({a}, {b}, {perm_a!r}, "
            f"{perm_b!r}, {len(self.axes_a)})",
            f"{result} = linalg.{helper}({result}_a, {result}_b).reshape({shape})",
        ]

    def grad(self, inputs, output_grads):
        a, b = inputs
        (gz,) = output_grads
        free_a, free_b = self._free_axes(a.ndim, b.ndim)
        n_free_a = len(free_a)
        ga = gb = None
        if _is_float(a):
            # gz's b-axes contracted with b leave (free_a..., b's summed axes in b's order)
            g = tensordot(gz, b, axes=(list(range(n_free_a, gz.ndim)), free_b))
            pair_of_b = dict(zip(self.axes_b, self.axes_a))
            order = free_a + [pair_of_b[j] for j in sorted(self.axes_b)]
            ga = transpose(g, tuple(order.index(i) for i in range(a.ndim)))
        if _is_float(b):
            # a's free axes contracted with gz leave (a's summed axes in a's order, free_b...)
            g = tensordot(a, gz, axes=(free_a, list(range(n_free_a))))
            pair_of_a = dict(zip(self.axes_a, self.axes_b))
            order = [pair_of_a[i] for i in sorted(self.axes_a)] + free_b
            gb = transpose(g, tuple(order.index(j) for j in range(b.ndim)))
        return [ga, gb]

    def pp_args(self):
        return [f"axes=({list(self.axes_a)}, {list(self.axes_b)})"]


# --- user functions ------------------------------------------------------------------------------


def dot(a, b) -> Variable:
    """Dot product with ``np.dot`` semantics.

    Scalars multiply elementwise; two vectors give their inner product (a scalar); a matrix
    and a vector, or two matrices, give the matrix product. For N-d operands the last axis of
    ``a`` is summed against the second-to-last of ``b`` (the last if ``b`` is 1-d), as NumPy
    does; that case is computed by :func:`tensordot`.

    Parameters
    ----------
    a, b : Variable or array_like
        The operands. The result dtype is NumPy's (int @ int stays int, float32 @ float32
        stays float32, mixed dtypes promote).

    Returns
    -------
    Variable

    Raises
    ------
    ValueError
        When the summed axes have different known lengths (at build time) or different
        lengths at run time; the message shows both shapes.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x, w = T.fmatrix('x'), T.fmatrix('w')
    >>> y = T.dot(x, w)
    >>> y.dtype, y.ndim
    ('float32', 2)
    >>> v = T.dvector('v')
    >>> float(T.dot(v, v).eval({v: np.array([1.0, 2.0, 3.0])}))
    14.0
    """
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    axis_b = max(b.ndim - 2, 0)
    _check_static_pair("dot", a, b, [(a.ndim - 1, axis_b)])
    return tensordot(a, b, axes=([a.ndim - 1], [axis_b]))


def matmul(a, b) -> Variable:
    """Matrix product with ``np.matmul`` semantics (the ``@`` operator).

    2-d operands multiply as matrices. A 1-d first operand is treated as one row and a 1-d
    second operand as one column, the added axis being removed from the result. Operands with
    more than 2 axes are stacks of matrices in their last two axes; the leading (batch) axes
    broadcast as in NumPy.

    Parameters
    ----------
    a, b : Variable or array_like
        At least 1-d operands.

    Returns
    -------
    Variable

    Raises
    ------
    ValueError
        For a 0-d operand (use ``*``), when the inner dimensions have different known lengths
        or the batch axes cannot broadcast; at run time, when the shapes do not align.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> a = T.tensor('float64', shape=(None, 2, 3), name='a')
    >>> b = T.tensor('float64', shape=(3, 4), name='b')
    >>> (a @ b).type
    TensorType(float64, (?, 2, 4))
    >>> T.matmul(T.dvector('v'), T.dtensor3('s')).ndim
    2
    """
    a, b = as_tensor(a), as_tensor(b)
    for position, x in enumerate((a, b)):
        if x.ndim == 0:
            raise ValueError(
                f"matmul: operand {position} ({_short_pp(x)}) is 0-d; matmul needs at least "
                f"1-d operands (multiply scalars with *)"
            )
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    _check_static_pair("matmul", a, b, [(a.ndim - 1, max(b.ndim - 2, 0))])
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    if a_vector:
        a = dimshuffle(a, ("x", 0))
    if b_vector:
        b = dimshuffle(b, (0, "x"))
    ndim = max(a.ndim, b.ndim)
    a = dimshuffle(a, ("x",) * (ndim - a.ndim) + tuple(range(a.ndim)))
    b = dimshuffle(b, ("x",) * (ndim - b.ndim) + tuple(range(b.ndim)))
    out = BatchedMatmul()(a, b)
    if a_vector:
        out = dimshuffle(out, tuple(range(ndim - 2)) + (ndim - 1,))
        ndim -= 1
    if b_vector:
        out = dimshuffle(out, tuple(range(ndim - 1)))
    return out


def outer(a, b) -> Variable:
    """Outer product ``a[:, None] * b[None, :]``, like ``np.outer``.

    Operands are flattened first (a scalar counts as a 1-element vector).

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> u, v = T.dvectors('u', 'v')
    >>> T.outer(u, v).eval({u: np.array([1.0, 2.0]), v: np.array([3.0, 4.0, 5.0])})
    array([[ 3.,  4.,  5.],
           [ 6.,  8., 10.]])
    """
    def as_vector(x):
        x = as_tensor(x)
        if x.ndim == 0:
            return dimshuffle(x, ("x",))
        if x.ndim == 1:
            return x
        return flatten(x)

    return _outer_vectors(as_vector(a), as_vector(b))


def _normalize_axes(axes, a: Variable, b: Variable) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """tensordot's ``axes`` (an int, or a pair of ints / int sequences) as two tuples of
    non-negative axes."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(
                f"tensordot: axes={n} needs 0 <= axes <= the rank of each operand; got a "
                f"{a.ndim}-d and a {b.ndim}-d operand"
            )
        return tuple(range(a.ndim - n, a.ndim)), tuple(range(n))
    try:
        axes_a, axes_b = axes
    except (TypeError, ValueError):
        raise TypeError(
            f"tensordot: axes must be an int or a pair (axes_a, axes_b), got {axes!r}"
        ) from None
    result = []
    for x, side in ((a, axes_a), (b, axes_b)):
        side = [side] if isinstance(side, (int, np.integer)) else list(side)
        normalized = []
        for i in side:
            if not isinstance(i, (int, np.integer)):
                raise TypeError(f"tensordot: axes must be ints, got {i!r} in {axes!r}")
            if not -x.ndim <= i < x.ndim:
                raise ValueError(
                    f"tensordot: axis {i} is out of range for the {x.ndim}-d {_short_pp(x)}"
                )
            normalized.append(int(i) % x.ndim)
        if len(set(normalized)) != len(normalized):
            raise ValueError(f"tensordot: repeated axis in {side!r}")
        result.append(tuple(normalized))
    if len(result[0]) != len(result[1]):
        raise ValueError(
            f"tensordot: {len(result[0])} axes of the first operand cannot pair with "
            f"{len(result[1])} axes of the second ({axes!r})"
        )
    return result[0], result[1]


def tensordot(a, b, axes=2) -> Variable:
    """Sum products over chosen axes, like ``np.tensordot``.

    Parameters
    ----------
    a, b : Variable or array_like
    axes : int or (sequence of int, sequence of int)
        An int ``n`` pairs the last ``n`` axes of ``a`` with the first ``n`` of ``b``, in
        order; a pair lists the axes of ``a`` and of ``b`` to sum over, matched by position
        (negative axes count from the end). ``axes=0`` is the outer product.

    Returns
    -------
    Variable
        The remaining axes of ``a`` followed by the remaining axes of ``b``.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> a = T.tensor('float64', shape=(2, 3, 4), name='a')
    >>> b = T.tensor('float64', shape=(4, 3, 5), name='b')
    >>> T.tensordot(a, b, axes=([1, 2], [1, 0])).type
    TensorType(float64, (2, 5))
    >>> T.tensordot(a, b, axes=1).type
    TensorType(float64, (2, 3, 3, 5))
    """
    a, b = as_tensor(a), as_tensor(b)
    axes_a, axes_b = _normalize_axes(axes, a, b)
    _check_static_pair("tensordot", a, b, zip(axes_a, axes_b))
    if not axes_a:
        return mul(dimshuffle(a, tuple(range(a.ndim)) + ("x",) * b.ndim), b)
    if a.ndim <= 2 and b.ndim <= 2 and axes_a == (a.ndim - 1,) and axes_b == (0,):
        return Dot()(a, b)
    return TensorDot(axes_a, axes_b)(a, b)


tensor_functions.register(
    dot, matmul, outer, tensordot,
)
