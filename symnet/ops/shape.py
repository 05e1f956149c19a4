"""Shape ops: dimshuffle, shape, broadcasting (alloc) and un-broadcasting (sum_to_shape), reshape,
concatenate/split, stack, squeeze, arange, eye and friends.

Static shapes are inferred wherever the shape arguments are constants or come from other
variables' static shapes (``reshape(x, (x.shape[0], -1))`` keeps what is known). Ops whose
output may be a view of their first input declare ``may_return_view = True``. Numba code checks
every length it relies on before using it and raises ValueError naming the op; ``perform``
raises the same errors with both shapes in the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from symnet.graph import (Apply, Constant, Op, TensorType, Variable, as_tensor, constant,
                          normalize_dtype)
from symnet.graph import tensor_functions as T
from symnet.ops.elemwise import Elemwise
from symnet.runtime.kernel import kernel
from symnet.ops.reduction import normalize_axis


def _pp(x: Variable) -> str:
    text = T.pp(x, max_length=60)  # bounded per sub-expression: linear on shared subgraphs
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int_dtype(dtype: str) -> bool:
    return np.dtype(dtype).kind in "iu"


def _normalize_axis(axis, ndim: int, opname: str) -> int:
    """One axis (negative allowed) as an index in ``range(ndim)``, or ValueError."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{opname}: axis must be an int, got {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{opname}: axis {axis} is out of range for {ndim} dimensions")
    return axis % ndim


def _is_int_cast(op) -> bool:
    if not isinstance(op, Elemwise) or not op.rule.name.startswith("cast_"):
        return False
    return _is_int_dtype(op.rule.name[len("cast_") :])


def _static_int(s: Variable) -> int | None:
    """The value of an int scalar variable when it is known statically, else None."""
    if isinstance(s, Constant):
        return int(s.data.reshape(()))
    owner = s.owner
    if owner is None:
        return None
    if isinstance(owner.op, ShapeI):
        return owner.inputs[0].type.shape[owner.op.i]
    if _is_int_cast(owner.op) and _is_int_dtype(owner.inputs[0].dtype):
        return _static_int(owner.inputs[0])
    return None


def _static_vector(v: Variable):
    """The static values of an int vector variable: a tuple of int/None per entry, or None
    when even its length is unknown."""
    if isinstance(v, Constant):
        return tuple(int(i) for i in v.data.reshape(-1))
    owner = v.owner
    if owner is not None:
        op = owner.op
        if isinstance(op, Shape):
            return owner.inputs[0].type.shape
        if isinstance(op, MakeVector):
            return tuple(_static_int(s) for s in owner.inputs)
        if isinstance(op, Join) and v.ndim == 1:
            parts = [_static_vector(p) for p in owner.inputs]
            if all(p is not None for p in parts):
                return tuple(s for p in parts for s in p)
        if _is_int_cast(op) and _is_int_dtype(owner.inputs[0].dtype):
            return _static_vector(owner.inputs[0])
    if v.ndim == 1 and v.type.shape[0] is not None:
        return (None,) * v.type.shape[0]
    return None


def _vector_length(v: Variable, opname: str) -> int:
    if v.ndim != 1:
        raise TypeError(f"{opname}: a shape must be a 1-d int vector, got {v.ndim}-d")
    n = v.type.shape[0]
    if n is None:
        raise TypeError(f"{opname}: the length of the shape vector must be known statically")
    return n


def _tuple_source(vector: str, n: int) -> str:
    """Numba source of a tuple with the ``n`` entries of a runtime vector: ``(s[0], s[1], )``."""
    return "(" + "".join(f"{vector}[{i}], " for i in range(n)) + ")"


def _length1_checks(x: str, axes, opname: str) -> list[str]:
    """Numba source lines raising ValueError unless every axis in ``axes`` has length 1."""
    lines = []
    for a in axes:
        lines.append(f"if {x}.shape[{a}] != 1:")
        lines.append(f'    raise ValueError("{opname}: an axis to drop does not have length 1")')
    return lines


def _view_source(x: str, ndim: int, dropped, perm, inserted) -> str:
    """Numba source of a view of ``x``: length-1 ``dropped`` axes indexed away, the rest
    permuted by ``perm``, then length-1 axes inserted at the output positions ``inserted``."""
    expr = x
    if dropped:
        if len(dropped) == ndim:
            # indexing every axis gives a scalar; 0-d results must stay arrays
            expr = f"np.asarray({x}[{', '.join('0' for _ in range(ndim))}])"
        else:
            index = ", ".join("0" if a in dropped else ":" for a in range(ndim))
            expr = f"{x}[{index}]"
    if list(perm) != sorted(perm):
        expr = f"{expr}.transpose({tuple(perm)!r})"
    # numba cannot reshape a non-contiguous view; np.expand_dims works on any layout
    for axis in sorted(inserted):
        expr = f"np.expand_dims({expr}, {axis})"
    return expr


# --- dimshuffle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimShuffle(Op):
    """Permute axes, insert broadcast axes ('x'), drop length-1 axes (Theano's dimshuffle).

    An input axis missing from ``new_order`` is dropped; it must be known statically to have
    length 1 (and is checked again at run time).
    """

    new_order: tuple

    may_return_view = True

    def infer_shape(self, node, input_lengths, lengths):
        return [tuple(1 if a == "x" else input_lengths[0][a] for a in self.new_order)]

    def make_node(self, x):
        x = as_tensor(x)
        kept = self._kept()
        for a in self.new_order:
            if a == "x":
                continue
            if (
                isinstance(a, (bool, np.bool_))
                or not isinstance(a, (int, np.integer))
                or not 0 <= a < x.ndim
            ):
                raise ValueError(
                    f"dimshuffle{self.new_order}: {a!r} is not 'x' or an axis of the "
                    f"{x.ndim}-d input {_pp(x)}"
                )
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle{self.new_order}: an axis appears twice")
        for axis in range(x.ndim):
            if axis not in kept and x.type.shape[axis] != 1:
                raise ValueError(
                    f"dimshuffle{self.new_order}: cannot drop axis {axis} of {_pp(x)} with static "
                    f"shape {x.type.shape}: only axes known to have length 1 can be dropped"
                )
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, inputs):
        (x,) = inputs
        kept = self._kept()
        dropped = tuple(a for a in range(x.ndim) if a not in kept)
        for a in dropped:
            if x.shape[a] != 1:
                raise ValueError(
                    f"dimshuffle{self.new_order}: axis {a} of an input of shape {x.shape} has "
                    f"length {x.shape[a]}, not 1, and cannot be dropped"
                )
        y = np.squeeze(x, axis=dropped) if dropped else x
        remaining = [a for a in range(x.ndim) if a not in dropped]
        y = np.transpose(y, [remaining.index(a) for a in kept])
        inserted = [i for i, a in enumerate(self.new_order) if a == "x"]
        if inserted:
            y = np.expand_dims(y, inserted)
        return [np.asarray(y)]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        kept = self._kept()
        dropped = [a for a in range(ndim) if a not in kept]
        remaining = [a for a in range(ndim) if a not in dropped]
        perm = [remaining.index(a) for a in kept]
        inserted = [i for i, a in enumerate(self.new_order) if a == "x"]
        return _view_source(x, ndim, dropped, perm, inserted)

    def numba_lines(self, node, names, outs, data_names=()):
        (x,) = names
        kept = self._kept()
        dropped = [a for a in range(node.inputs[0].ndim) if a not in kept]
        lines = _length1_checks(x, dropped, "dimshuffle")
        lines.append(f"{outs[0]} = {self.numba_impl(node, names)}")
        return lines

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        # sum away the inserted axes (length 1 already, unless gz's static shape does not say
        # so), then put x's axes back in order, re-inserting the length-1 axes x lost
        inserted = tuple(i for i, a in enumerate(self.new_order) if a == "x")
        unsure = tuple(i for i in inserted if gz.type.shape[i] != 1)
        if unsure:
            gz = T.sum(gz, axis=unsure, keepdims=True)
        position = {a: i for i, a in enumerate(self.new_order) if a != "x"}
        order = tuple(position.get(axis, "x") for axis in range(x.ndim))
        return [dimshuffle(gz, order)]

    def _kept(self) -> list:
        return [a for a in self.new_order if a != "x"]

    def name_for_pp(self):
        return "dimshuffle"

    def pp_args(self):
        return [repr(self.new_order)]

    def __str__(self):
        return f"DimShuffle{{{','.join(str(a) for a in self.new_order)}}}"


def dimshuffle(x, *pattern) -> Variable:
    """Reorder axes, insert broadcastable ones ('x') and drop length-1 ones (Theano's dimshuffle).

    Parameters
    ----------
    x : tensor-like
    *pattern : int or 'x'
        The input axis for each output axis, or 'x' for a new length-1 axis; given as varargs
        or as one tuple/list. Input axes not listed are dropped and must be known to have
        length 1.

    Returns
    -------
    Variable
        A view of ``x``; ``x`` itself when the pattern is the identity.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> m = T.tensor('float64', shape=(2, 3), name='m')
    >>> m.dimshuffle(1, 'x', 0).type.shape
    (3, 1, 2)
    >>> T.dimshuffle(m, (1, 0)).type.shape
    (3, 2)
    """
    if len(pattern) == 1 and isinstance(pattern[0], (tuple, list)):
        pattern = tuple(pattern[0])
    x = as_tensor(x)
    normalized = []
    for a in pattern:
        if isinstance(a, str):
            if a != "x":
                raise ValueError(f"dimshuffle: {a!r} is not 'x' or an axis")
            normalized.append(a)
        elif isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)):
            normalized.append(int(a))
        else:
            raise TypeError(f"dimshuffle: pattern entries must be ints or 'x', got {a!r}")
    pattern = tuple(normalized)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(pattern)(x)


def transpose(x, axes=None) -> Variable:
    """Permute axes (reverse them by default), like ``np.transpose``.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> x = T.tensor('float64', shape=(2, 3, 4))
    >>> T.transpose(x).type.shape
    (4, 3, 2)
    >>> T.transpose(x, (0, 2, 1)).type.shape
    (2, 4, 3)
    """
    x = as_tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(_normalize_axis(a, x.ndim, "transpose") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes")
    return dimshuffle(x, axes)


def expand_dims(x, axis) -> Variable:
    """Insert length-1 axes at ``axis`` (int or tuple; positions in the result), like
    ``np.expand_dims``.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> v = T.tensor('float64', shape=(3,))
    >>> T.expand_dims(v, 0).type.shape
    (1, 3)
    >>> T.expand_dims(v, (0, -1)).type.shape
    (1, 3, 1)
    """
    x = as_tensor(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_ndim = x.ndim + len(axes)
    axes = [_normalize_axis(a, out_ndim, "expand_dims") for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"expand_dims: repeated axis in {axis}")
    pattern = []
    source = iter(range(x.ndim))
    for i in range(out_ndim):
        pattern.append("x" if i in axes else next(source))
    return dimshuffle(x, tuple(pattern))


# --- shape --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape(Op):
    """The runtime shape of a tensor, as an int64 vector."""

    def make_node(self, x):
        x = as_tensor(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))()])

    def perform(self, inputs):
        (x,) = inputs
        return [np.array(x.shape, dtype="int64").reshape(x.ndim)]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        if ndim == 0:
            return "np.empty(0, dtype=np.int64)"
        items = ", ".join(f"{x}.shape[{i}]" for i in range(ndim))
        return f"np.array([{items}], dtype=np.int64)"

    def grad(self, inputs, output_grads):
        return [None]


@dataclass(frozen=True)
class ShapeI(Op):
    """The runtime length of axis ``i``, as an int64 scalar."""

    i: int

    def make_node(self, x):
        x = as_tensor(x)
        if not 0 <= self.i < x.ndim:
            raise IndexError(f"shape_i: axis {self.i} is out of range for the {x.ndim}-d {_pp(x)}")
        return Apply(self, [x], [TensorType("int64", ())()])

    def perform(self, inputs):
        (x,) = inputs
        return [np.array(x.shape[self.i], dtype="int64")]

    def numba_impl(self, node, names):
        (x,) = names
        return f"np.asarray(np.int64({x}.shape[{self.i}]))"

    def grad(self, inputs, output_grads):
        return [None]

    def name_for_pp(self):
        return "shape_i"

    def pp_args(self):
        return [str(self.i)]


def shape(x) -> Variable:
    """The symbolic shape of ``x`` (an int64 vector); ``x.shape[i]`` is a scalar.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.shape(x).eval({x: np.zeros((2, 3))})
    array([2, 3])
    """
    x = as_tensor(x)
    return Shape()(x)


def shape_i(x, i: int) -> Variable:
    """Length of axis ``i`` of ``x``: a constant when it is known statically.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> x = T.tensor('float64', shape=(None, 3))
    >>> T.shape_i(x, 1)
    3
    >>> T.shape_i(x, 0)
    shape_i(<float64(?, 3)>, 0)
    """
    x = as_tensor(x)
    i = int(i)
    if i < 0:
        i += x.ndim
    static = x.type.shape[i] if 0 <= i < x.ndim else None
    if static is not None:
        return constant(np.int64(static))
    return ShapeI(i)(x)


@dataclass(frozen=True)
class MakeVector(Op):
    """Stack scalars into a 1-d vector of ``dtype``."""

    dtype: str = "int64"

    def make_node(self, *scalars):
        scalars = [as_tensor(s) for s in scalars]
        for s in scalars:
            if s.ndim != 0:
                raise TypeError(f"make_vector: expects scalars, got the {s.ndim}-d {_pp(s)}")
        dtype = normalize_dtype(self.dtype)
        return Apply(self, scalars, [TensorType(dtype, (len(scalars),))()])

    def perform(self, inputs):
        return [
            np.array([np.asarray(s)[()] for s in inputs], dtype=self.dtype).reshape(len(inputs))
        ]

    def numba_impl(self, node, names):
        dtype = "bool_" if self.dtype == "bool" else self.dtype
        if not names:
            return f"np.empty(0, dtype=np.{dtype})"
        items = ", ".join(f"np.{dtype}({n}[()])" for n in names)
        return f"np.array([{items}], dtype=np.{dtype})"

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        floats = [np.dtype(x.dtype).kind == "f" for x in inputs]
        if not any(floats):
            return [None] * len(inputs)
        ones = constant(np.ones(len(inputs), dtype="int64"))
        pieces = Split(0, len(inputs)).make_node(gz, ones).outputs
        return [dimshuffle(p, ()) if f else None for p, f in zip(pieces, floats)]

    def name_for_pp(self):
        return "make_vector"

    def pp_args(self):
        return []


def as_shape_vector(shape) -> Variable:
    """A shape as an int64 vector variable.

    ``shape`` is an int, a tuple/list of ints and int scalars (symbolic or not), or an int
    vector variable. All-constant entries give a constant vector (so static shapes follow).
    """
    if isinstance(shape, Variable):
        if np.dtype(shape.dtype).kind not in "iu":
            raise TypeError(f"a shape must hold integers, got {shape.type.short()} {_pp(shape)}")
        if shape.ndim == 0:
            shape = [shape]
        else:
            return T.cast(shape, "int64")
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    items = list(shape)
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in items):
        return constant(np.array(items, dtype="int64").reshape(len(items)))
    parts = []
    for s in items:
        if isinstance(s, (float, np.floating, bool, np.bool_)):
            raise TypeError(f"shape entries must be integers, got {s!r}")
        s = as_tensor(s)
        if s.ndim != 0 or np.dtype(s.dtype).kind not in "iu":
            raise TypeError(f"shape entries must be int scalars, got {s.type.short()} {_pp(s)}")
        parts.append(T.cast(s, "int64"))
    if all(isinstance(p, Constant) for p in parts):
        return constant(np.array([int(p.data) for p in parts], dtype="int64").reshape(len(parts)))
    return MakeVector("int64")(*parts)


# --- broadcasting and its adjoint ---------------------------------------------------------------


@kernel
def alloc_fill(value, shape):
    """A new array of ``shape`` filled by broadcasting ``value`` (already of the same rank)."""
    for d in range(value.ndim):
        if shape[d] < 0:
            raise ValueError("alloc: negative dimension in the target shape")
        if value.shape[d] != 1 and value.shape[d] != shape[d]:
            raise ValueError("alloc: the value cannot be broadcast to the target shape")
    out = np.empty(shape, dtype=value.dtype)
    out[...] = value
    return out


@kernel
def alloc_scalar(value, shape):
    """A new array of ``shape`` filled with the 0-d ``value``."""
    for d in range(len(shape)):
        if shape[d] < 0:
            raise ValueError("alloc: negative dimension in the target shape")
    out = np.empty(shape, dtype=value.dtype)
    out.fill(value[()])
    return out


@dataclass(frozen=True)
class Alloc(Op):
    """Broadcast ``value`` to ``shape`` as a new array: ``np.broadcast_to(value, shape).copy()``."""

    def infer_shape(self, node, input_lengths, lengths):
        return [lengths.from_vector(node.inputs[1], node.outputs[0])]

    def make_node(self, value, shape):
        value = as_tensor(value)
        shape = as_shape_vector(shape)
        ndim = _vector_length(shape, "alloc")
        if value.ndim > ndim:
            raise ValueError(
                f"alloc: cannot broadcast the {value.ndim}-d {_pp(value)} to {ndim} dimensions"
            )
        static = _static_vector(shape)
        vshape = (1,) * (ndim - value.ndim) + value.type.shape
        out = []
        for s, v in zip(static, vshape):
            if s is not None and s < 0:
                raise ValueError(f"alloc: negative dimension {s} in shape {static}")
            if s is not None and v is not None and v != 1 and v != s:
                raise ValueError(
                    f"alloc: cannot broadcast {_pp(value)} of static shape {value.type.shape} "
                    f"to {static}"
                )
            # a valid broadcast of a non-1 length keeps it
            out.append(s if s is not None or v == 1 else v)
        return Apply(self, [value, shape], [TensorType(value.dtype, tuple(out))()])

    def perform(self, inputs):
        value, shape = inputs
        target = tuple(int(s) for s in shape)
        if any(s < 0 for s in target):
            raise ValueError(f"alloc: negative dimension in the target shape {target}")
        try:
            return [np.array(np.broadcast_to(value, target))]
        except ValueError:
            raise ValueError(
                f"alloc: cannot broadcast a value of shape {value.shape} to shape {target}"
            ) from None

    def numba_impl(self, node, names):
        value, shp = names
        ndim = node.outputs[0].ndim
        vndim = node.inputs[0].ndim
        if ndim == 0:
            return f"{value}.copy()"
        target = _tuple_source(shp, ndim)
        if vndim == 0:
            return f"shape.alloc_scalar({value}, {target})"
        padded = value
        for _ in range(ndim - vndim):
            padded = f"np.expand_dims({padded}, 0)"
        return f"shape.alloc_fill({padded}, {target})"

    def grad(self, inputs, output_grads):
        value, _ = inputs
        (gz,) = output_grads
        return [sum_to_shape(gz, value), None]

    def name_for_pp(self):
        return "alloc"


def broadcast_to(x, shape) -> Variable:
    """Broadcast ``x`` to ``shape`` (a tuple or an int vector variable), as a new array.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> v = T.tensor('float64', shape=(3,))
    >>> T.broadcast_to(v, (2, 3)).type.shape
    (2, 3)
    """
    return Alloc()(x, shape)


def alloc(value, *shape) -> Variable:
    """Theano's ``alloc(value, *shape)``: ``value`` broadcast to ``shape``, as a new array.

    The shape is given as varargs (ints or int scalars) or as one tuple or int vector.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> T.alloc(0.5, 2, 3).type
    TensorType(float64, (2, 3))
    >>> float(T.alloc(0.5, 2, 3).eval().sum())
    3.0
    """
    if len(shape) == 1 and (
        isinstance(shape[0], (tuple, list))
        or (isinstance(shape[0], Variable) and shape[0].ndim == 1)
    ):
        shape = shape[0]
    return Alloc()(value, shape)


@kernel
def sum_to_shape_nd(g, shape):
    """Sum ``g`` over the axes where ``shape`` has length 1 and ``g`` does not (keepdims)."""
    ndim = g.ndim
    reduce = False
    for d in range(ndim):
        if shape[d] != g.shape[d]:
            if shape[d] != 1:
                raise ValueError("sum_to_shape: a target length is neither the gradient's nor 1")
            reduce = True
    if not reduce:
        return g
    out = np.zeros(shape, dtype=g.dtype)
    flat_out = out.reshape(-1)
    flat_g = np.ascontiguousarray(g).reshape(-1)
    # element strides of out, 0 along the summed axes
    stride = np.zeros(ndim, dtype=np.int64)
    step = 1
    for d in range(ndim - 1, -1, -1):
        if shape[d] != 1:
            stride[d] = step
        step *= shape[d]
    index = np.zeros(ndim, dtype=np.int64)
    j = 0
    for i in range(flat_g.size):
        flat_out[j] += flat_g[i]
        # advance the multi-index over g's shape (an odometer), keeping j in step
        d = ndim - 1
        while d >= 0:
            index[d] += 1
            j += stride[d]
            if index[d] < g.shape[d]:
                break
            j -= stride[d] * index[d]
            index[d] = 0
            d -= 1
    return out


@dataclass(frozen=True)
class SumToShape(Op):
    """Sum a gradient back to its input's runtime shape: the adjoint of broadcasting.

    ``g`` has the broadcast (output) rank; ``shape`` the input's shape vector (same length,
    since elementwise inputs are padded to the output rank). Axes where the input has length
    1 and ``g`` does not are summed with keepdims; any other mismatch is a ValueError.
    """

    may_return_view = True  # g itself when nothing needs summing

    def infer_shape(self, node, input_lengths, lengths):
        return [lengths.from_vector(node.inputs[1], node.outputs[0])]

    def make_node(self, g, shape):
        g = as_tensor(g)
        shape = as_shape_vector(shape)
        ndim = _vector_length(shape, "sum_to_shape")
        if ndim != g.ndim:
            raise ValueError(f"sum_to_shape: a {g.ndim}-d gradient for a {ndim}-d input")
        static = _static_vector(shape)
        return Apply(self, [g, shape], [TensorType(g.dtype, static)()])

    def perform(self, inputs):
        g, shape = inputs
        target = tuple(int(s) for s in shape)
        axes = []
        for axis, (s, gs) in enumerate(zip(target, g.shape)):
            if s != gs:
                if s != 1:
                    raise ValueError(
                        f"sum_to_shape: cannot reduce a gradient of shape {g.shape} to shape "
                        f"{target}: axis {axis} has length {gs}, the input {s}"
                    )
                axes.append(axis)
        if not axes:
            return [g]
        return [np.asarray(g.sum(axis=tuple(axes), keepdims=True))]

    def numba_impl(self, node, names):
        g, shp = names
        ndim = node.inputs[0].ndim
        if ndim == 0:
            return g
        return f"shape.sum_to_shape_nd({g}, {_tuple_source(shp, ndim)})"

    def grad(self, inputs, output_grads):
        g, _ = inputs
        (gz,) = output_grads
        return [Alloc()(gz, Shape()(g)), None]

    def name_for_pp(self):
        return "sum_to_shape"


def sum_to_shape(g: Variable, x: Variable) -> Variable:
    """Sum gradient ``g`` (broadcast output shape) back to the shape of ``x``.

    The one place gradients are un-broadcast. Leading axes ``x`` lacks and axes known to be 1
    in ``x`` but not in ``g`` are summed statically; axes where ``x`` may be 1 at run time go
    through :class:`SumToShape`.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> g = T.tensor('float64', shape=(None, 3))
    >>> b = T.tensor('float64', shape=(1, 3))
    >>> sum_to_shape(g, b).type.shape
    (1, 3)
    """
    if g.ndim > x.ndim:
        g = T.sum(g, axis=tuple(range(g.ndim - x.ndim)))
    if g.ndim != x.ndim:
        raise ValueError(f"sum_to_shape: gradient rank {g.ndim} below input rank {x.ndim}")
    pairs = list(zip(x.type.shape, g.type.shape))
    static_axes = tuple(a for a, (xs, gs) in enumerate(pairs) if xs == 1 and gs != 1)
    if static_axes:
        g = T.sum(g, axis=static_axes, keepdims=True)
        pairs = list(zip(x.type.shape, g.type.shape))
    # x may be 1 at run time where g is not; or x's static length is known where g's is not
    # (no sum, but the check and the static shape are worth having)
    unsure = any((xs is None and gs != 1) or (xs is not None and gs is None) for xs, gs in pairs)
    if unsure and not _same_shape_source(g, x):
        g = SumToShape()(g, Shape()(x))
    return g


def _same_shape_source(g: Variable, x: Variable) -> bool:
    """True when g's shape provably equals x's: g was allocated (or already reduced) to
    ``shape(x)``, as Sum's gradient is."""
    owner = g.owner
    if owner is None or not isinstance(owner.op, (Alloc, SumToShape)):
        return False
    shape_var = owner.inputs[1]
    return (
        shape_var.owner is not None
        and isinstance(shape_var.owner.op, Shape)
        and shape_var.owner.inputs[0] is x
    )


def zeros_like(x, dtype=None) -> Variable:
    """Zeros with the shape (and dtype, unless given) of ``x``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.dvector('x')
    >>> T.zeros_like(x, dtype='int32').eval({x: np.ones(3)})
    array([0, 0, 0], dtype=int32)
    """
    x = as_tensor(x)
    dtype = normalize_dtype(dtype or x.dtype)
    if x.ndim == 0:
        return constant(np.zeros((), dtype=dtype))
    return Alloc()(constant(np.zeros((), dtype=dtype)), Shape()(x))


def ones_like(x, dtype=None) -> Variable:
    """Ones with the shape (and dtype, unless given) of ``x``.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> T.ones_like(T.tensor('float32', shape=(2, None))).type
    TensorType(float32, (2, ?))
    """
    x = as_tensor(x)
    dtype = normalize_dtype(dtype or x.dtype)
    if x.ndim == 0:
        return constant(np.ones((), dtype=dtype))
    return Alloc()(constant(np.ones((), dtype=dtype)), Shape()(x))


def zeros(shape, dtype=None) -> Variable:
    """An array of zeros of ``shape`` (int, tuple of ints/int scalars, or int vector).

    ``dtype`` defaults to ``config.float_x`` (float64).

    Examples
    --------
    >>> import symnet.tensor as T
    >>> T.zeros((2, 3)).type
    TensorType(float64, (2, 3))
    >>> T.zeros(3, dtype='int32').eval()
    array([0, 0, 0], dtype=int32)
    """
    dtype = normalize_dtype(dtype or "floatX")
    return Alloc()(constant(np.zeros((), dtype=dtype)), shape)


def ones(shape, dtype=None) -> Variable:
    """An array of ones of ``shape``; ``dtype`` defaults to ``config.float_x``.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> n = T.lscalar('n')
    >>> T.ones((n, 2)).type
    TensorType(float64, (?, 2))
    >>> T.ones((n, 2)).eval({n: 2})
    array([[1., 1.],
           [1., 1.]])
    """
    dtype = normalize_dtype(dtype or "floatX")
    return Alloc()(constant(np.ones((), dtype=dtype)), shape)


# --- reshape, flatten -----------------------------------------------------------------------------


def _check_reshape(xshape: tuple, requested: tuple, what: str = "an array") -> None:
    """Raise ValueError unless an array of ``xshape`` can take the fully known ``requested``
    shape (with at most one -1), as ``np.reshape`` requires."""
    for s in requested:
        if s < -1:
            raise ValueError(f"reshape: invalid dimension {s} in the target shape {requested}")
    if list(requested).count(-1) > 1:
        raise ValueError(f"reshape: only one dimension of the target shape {requested} can be -1")
    size = math.prod(xshape)
    known = math.prod(s for s in requested if s != -1)
    if -1 in requested:
        ok = known != 0 and size % known == 0
    else:
        ok = known == size
    if not ok:
        raise ValueError(f"reshape: cannot reshape {what} of shape {xshape} into shape {requested}")


def _infer_reshape(xshape: tuple, requested: tuple) -> tuple:
    """The static output shape of a reshape: known entries, plus the one unknown (or -1)
    entry when the input's size is known. Raises for requests that can never succeed."""
    for s in requested:
        if s is not None and s < -1:
            raise ValueError(f"reshape: invalid dimension {s} in the target shape {requested}")
    if list(requested).count(-1) > 1:
        raise ValueError(f"reshape: only one dimension of the target shape {requested} can be -1")
    out = [None if s is None or s == -1 else s for s in requested]
    if any(s is None for s in xshape):
        return tuple(out)
    unknown = [i for i, s in enumerate(out) if s is None]
    if not unknown or (len(unknown) == 1 and requested[unknown[0]] == -1):
        _check_reshape(xshape, requested, "an input")
    if len(unknown) == 1:
        size = math.prod(xshape)
        known = math.prod(s for s in out if s is not None)
        if known != 0 and size % known == 0:
            out[unknown[0]] = size // known
    return tuple(out)


@kernel
def reshape_checked(x, shape):
    """``x`` (C-contiguous) reshaped to ``shape`` (at most one -1), after checking the sizes."""
    known = 1
    unknown = 0
    for d in range(len(shape)):
        if shape[d] == -1:
            unknown += 1
        elif shape[d] < 0:
            raise ValueError("reshape: negative dimension in the target shape")
        else:
            known *= shape[d]
    if unknown > 1:
        raise ValueError("reshape: only one dimension of the target shape can be -1")
    if unknown == 1:
        if known == 0 or x.size % known != 0:
            raise ValueError("reshape: the input's size does not fit the target shape")
    elif known != x.size:
        raise ValueError("reshape: the input's size differs from the target shape's")
    return x.reshape(shape)


@kernel
def reshape_0d(x):
    """``x`` (C-contiguous, size 1) as a 0-d array."""
    if x.size != 1:
        raise ValueError("reshape: only an input of size 1 can become 0-d")
    return x.reshape(())


@dataclass(frozen=True)
class Reshape(Op):
    """Give ``x`` the shape held by an int vector of length ``ndim`` (one entry may be -1),
    like ``np.reshape``; a view when ``x`` is contiguous."""

    ndim: int

    may_return_view = True

    def infer_shape(self, node, input_lengths, lengths):
        return [lengths.from_vector(node.inputs[1], node.outputs[0])]

    def make_node(self, x, shape):
        x = as_tensor(x)
        shape = as_shape_vector(shape)
        if shape.ndim != 1:
            raise TypeError(f"reshape: the shape must be a 1-d int vector, got {shape.ndim}-d")
        length = shape.type.shape[0]
        if length is not None and length != self.ndim:
            raise ValueError(
                f"reshape: a shape vector of length {length} for a {self.ndim}-d result"
            )
        requested = _static_vector(shape) or (None,) * self.ndim
        static = _infer_reshape(x.type.shape, requested)
        return Apply(self, [x, shape], [TensorType(x.dtype, static)()])

    def perform(self, inputs):
        x, shape = inputs
        requested = tuple(int(s) for s in shape)
        if len(requested) != self.ndim:
            raise ValueError(
                f"reshape: the shape vector {requested} has length {len(requested)}, "
                f"expected {self.ndim}"
            )
        _check_reshape(x.shape, requested)
        return [x.reshape(requested)]

    def numba_impl(self, node, names):
        x, shp = names
        if self.ndim == 0:
            return f"shape.reshape_0d(np.ascontiguousarray({x}))"
        return f"shape.reshape_checked(np.ascontiguousarray({x}), {_tuple_source(shp, self.ndim)})"

    def numba_lines(self, node, names, outs, data_names=()):
        _, shp = names
        lines = []
        if node.inputs[1].type.shape[0] is None:
            # the tuple below reads ndim entries: make sure they exist
            lines.append(f"if {shp}.shape[0] != {self.ndim}:")
            lines.append('    raise ValueError("reshape: the shape vector has the wrong length")')
        lines.append(f"{outs[0]} = {self.numba_impl(node, names)}")
        return lines

    def grad(self, inputs, output_grads):
        x, _ = inputs
        (gz,) = output_grads
        return [Reshape(x.ndim)(gz, Shape()(x)), None]

    def name_for_pp(self):
        return "reshape"

    def pp_args(self):
        return []


def reshape(x, shape, ndim: int | None = None) -> Variable:
    """``x`` with a new shape holding the same elements, like ``np.reshape``.

    Parameters
    ----------
    x : tensor-like
    shape : int, tuple or int vector variable
        Entries are ints or symbolic int scalars; one may be -1 (inferred from the size).
    ndim : int, optional
        The result's rank; needed only when ``shape`` is a vector whose length is not known
        statically.

    Returns
    -------
    Variable
        Its static shape holds every entry known at build time.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x = T.tensor('float64', shape=(2, 6), name='x')
    >>> T.reshape(x, (3, -1)).type.shape
    (3, 4)
    >>> x.reshape(4, 3).eval({x: np.arange(12.0).reshape(2, 6)})[3]
    array([ 9., 10., 11.])
    """
    x = as_tensor(x)
    vector = as_shape_vector(shape)
    if vector.ndim != 1:
        raise TypeError(f"reshape: the shape must be a 1-d int vector, got {vector.ndim}-d")
    length = vector.type.shape[0]
    if length is None:
        if ndim is None:
            raise TypeError(
                f"reshape: the length of the shape vector {_pp(vector)} is not known "
                f"statically; pass ndim"
            )
    elif ndim is not None and int(ndim) != length:
        raise ValueError(f"reshape: ndim={ndim} but the shape vector has length {length}")
    else:
        ndim = length
    return Reshape(int(ndim))(x, vector)


def flatten(x, ndim: int = 1) -> Variable:
    """Keep the first ``ndim - 1`` axes of ``x`` and flatten the rest into one (Theano's flatten).

    Examples
    --------
    >>> import symnet.tensor as T
    >>> x = T.tensor('float64', shape=(None, 3, 4))
    >>> T.flatten(x).type.shape
    (None,)
    >>> T.flatten(x, 2).type.shape
    (None, 12)
    """
    x = as_tensor(x)
    ndim = int(ndim)
    if ndim < 1 or (ndim > 1 and ndim > x.ndim):
        raise ValueError(f"flatten: ndim={ndim} is invalid for the {x.ndim}-d {_pp(x)}")
    lead = [shape_i(x, i) for i in range(ndim - 1)]
    trailing = x.type.shape[ndim - 1 :]
    last = math.prod(trailing) if all(s is not None for s in trailing) else -1
    return reshape(x, [*lead, last], ndim=ndim)


# --- squeeze ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Squeeze(Op):
    """Drop the axes in ``axis`` after checking at run time that they have length 1 (for axes
    whose length is not known statically; otherwise dimshuffle does it)."""

    axis: tuple

    may_return_view = True

    def make_node(self, x):
        x = as_tensor(x)
        for a in self.axis:
            if not 0 <= a < x.ndim:
                raise ValueError(f"squeeze: axis {a} is out of range for the {x.ndim}-d {_pp(x)}")
            if x.type.shape[a] not in (None, 1):
                raise ValueError(
                    f"squeeze: axis {a} of {_pp(x)} has static length {x.type.shape[a]}, not 1"
                )
        shape = tuple(s for a, s in enumerate(x.type.shape) if a not in self.axis)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, inputs):
        (x,) = inputs
        for a in self.axis:
            if x.shape[a] != 1:
                raise ValueError(
                    f"squeeze: cannot squeeze axis {a} of an input of shape {x.shape}: its "
                    f"length is {x.shape[a]}, not 1"
                )
        return [np.asarray(np.squeeze(x, axis=self.axis))]

    def numba_impl(self, node, names):
        (x,) = names
        ndim = node.inputs[0].ndim
        perm = list(range(ndim - len(self.axis)))
        return _view_source(x, ndim, list(self.axis), perm, [])

    def numba_lines(self, node, names, outs, data_names=()):
        (x,) = names
        lines = _length1_checks(x, self.axis, "squeeze")
        lines.append(f"{outs[0]} = {self.numba_impl(node, names)}")
        return lines

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        return [expand_dims(gz, self.axis)]

    def name_for_pp(self):
        return "squeeze"

    def pp_args(self):
        return [f"axis={self.axis}"]


def squeeze(x, axis=None) -> Variable:
    """Drop length-1 axes, like ``np.squeeze``.

    Without ``axis``, every axis whose length is statically known to be 1 is dropped (the
    static shape is all that is known when the graph is built). An ``axis`` (int or tuple)
    whose length is not known statically is checked at run time: ValueError unless it is 1.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> x = T.tensor('float64', shape=(1, None, 1))
    >>> T.squeeze(x).type.shape
    (None,)
    >>> T.squeeze(x, 1).type.shape
    (1, 1)
    """
    x = as_tensor(x)
    if axis is None:
        axes = tuple(a for a, s in enumerate(x.type.shape) if s == 1)
    else:
        axes = normalize_axis(axis, x.ndim, "squeeze")
    for a in axes:
        if x.type.shape[a] not in (None, 1):
            raise ValueError(
                f"squeeze: axis {a} of {_pp(x)} has static length {x.type.shape[a]}, not 1"
            )
    if not axes:
        return x
    if all(x.type.shape[a] == 1 for a in axes):
        return dimshuffle(x, tuple(a for a in range(x.ndim) if a not in axes))
    return Squeeze(tuple(axes))(x)


# --- concatenate, split, stack ------------------------------------------------------------------


@dataclass(frozen=True)
class Join(Op):
    """Concatenate tensors of one rank along ``axis`` (inputs are cast to a common dtype)."""

    axis: int

    def make_node(self, *tensors):
        if not tensors:
            raise ValueError("concatenate: needs at least one tensor")
        tensors = [as_tensor(t) for t in tensors]
        ndim = tensors[0].ndim
        if ndim == 0:
            raise ValueError("concatenate: 0-d tensors cannot be concatenated (use stack)")
        if any(t.ndim != ndim for t in tensors):
            ranks = ", ".join(f"{_pp(t)} is {t.ndim}-d" for t in tensors)
            raise ValueError(f"concatenate: all inputs must have the same rank: {ranks}")
        if not 0 <= self.axis < ndim:
            raise ValueError(f"concatenate: axis {self.axis} is out of range for {ndim}-d inputs")
        dtype = normalize_dtype(np.result_type(*[np.dtype(t.dtype) for t in tensors]))
        tensors = [T.cast(t, dtype) for t in tensors]
        shape = []
        for d in range(ndim):
            dims = [t.type.shape[d] for t in tensors]
            if d == self.axis:
                shape.append(sum(dims) if all(s is not None for s in dims) else None)
                continue
            known = {s for s in dims if s is not None}
            if len(known) > 1:
                shapes = ", ".join(f"{_pp(t)} {t.type.shape}" for t in tensors)
                raise ValueError(
                    f"concatenate: static shapes differ on axis {d} (joining on axis "
                    f"{self.axis}): {shapes}"
                )
            shape.append(known.pop() if known else None)
        return Apply(self, tensors, [TensorType(dtype, tuple(shape))()])

    def perform(self, inputs):
        first = inputs[0].shape
        for x in inputs[1:]:
            if any(x.shape[d] != first[d] for d in range(len(first)) if d != self.axis):
                shapes = ", ".join(str(v.shape) for v in inputs)
                raise ValueError(
                    f"concatenate: input shapes {shapes} differ on an axis other than the "
                    f"joined axis {self.axis}"
                )
        return [np.concatenate(inputs, axis=self.axis)]

    def numba_impl(self, node, names):
        return f"np.concatenate(({''.join(n + ', ' for n in names)}), axis={self.axis})"

    def numba_lines(self, node, names, outs, data_names=()):
        ndim = node.outputs[0].ndim
        first = names[0]
        lines = []
        for name in names[1:]:
            for d in range(ndim):
                if d == self.axis:
                    continue
                lines.append(f"if {name}.shape[{d}] != {first}.shape[{d}]:")
                lines.append(
                    '    raise ValueError("concatenate: input shapes differ on an axis other '
                    'than the joined one")'
                )
        lines.append(f"{outs[0]} = {self.numba_impl(node, names)}")
        return lines

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        sizes = as_shape_vector([shape_i(x, self.axis) for x in inputs])
        pieces = Split(self.axis, len(inputs)).make_node(gz, sizes).outputs
        return [p if np.dtype(x.dtype).kind == "f" else None for x, p in zip(inputs, pieces)]

    def name_for_pp(self):
        return "concatenate"

    def pp_args(self):
        return [f"axis={self.axis}"]


@kernel
def split_offsets(length, sizes, n):
    """Start offsets of ``n`` pieces of the given ``sizes`` (plus the end), checked to tile
    an axis of ``length``."""
    if sizes.shape[0] != n:
        raise ValueError("split: the number of sizes differs from the number of pieces")
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        if sizes[i] < 0:
            raise ValueError("split: negative piece size")
        offsets[i + 1] = offsets[i] + sizes[i]
    if offsets[n] != length:
        raise ValueError("split: the piece sizes do not add up to the length of the axis")
    return offsets


@dataclass(frozen=True)
class Split(Op):
    """Cut ``x`` along ``axis`` into ``n`` consecutive pieces of the given sizes (views);
    the adjoint of :class:`Join`."""

    axis: int
    n: int

    may_return_view = True

    def make_node(self, x, sizes):
        x = as_tensor(x)
        sizes = as_shape_vector(sizes)
        if _vector_length(sizes, "split") != self.n:
            raise ValueError(f"split: {sizes.type.shape[0]} sizes for {self.n} pieces")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"split: axis {self.axis} is out of range for the {x.ndim}-d {_pp(x)}")
        static = _static_vector(sizes)
        if any(s is not None and s < 0 for s in static):
            raise ValueError(f"split: negative piece size in {static}")
        length = x.type.shape[self.axis]
        if length is not None and all(s is not None for s in static) and sum(static) != length:
            raise ValueError(
                f"split: sizes {static} do not add up to the length {length} of axis "
                f"{self.axis} of {_pp(x)}"
            )
        outputs = []
        for s in static:
            shape = list(x.type.shape)
            shape[self.axis] = s
            outputs.append(TensorType(x.dtype, shape)())
        return Apply(self, [x, sizes], outputs)

    def perform(self, inputs):
        x, sizes = inputs
        sizes = [int(s) for s in sizes]
        if len(sizes) != self.n or any(s < 0 for s in sizes) or sum(sizes) != x.shape[self.axis]:
            raise ValueError(
                f"split: sizes {sizes} do not cut axis {self.axis} of an input of shape "
                f"{x.shape} into {self.n} pieces"
            )
        offsets = np.cumsum([0, *sizes])
        index = [slice(None)] * x.ndim
        pieces = []
        for k in range(self.n):
            index[self.axis] = slice(int(offsets[k]), int(offsets[k + 1]))
            pieces.append(x[tuple(index)])
        return pieces

    def numba_lines(self, node, names, outs, data_names=()):
        x, sizes = names
        offsets = f"{outs[0]}_offsets"
        lines = [
            f"{offsets} = shape.split_offsets(np.int64({x}.shape[{self.axis}]), {sizes}, {self.n})"
        ]
        for k, out in enumerate(outs):
            index = [":"] * self.axis + [f"{offsets}[{k}]:{offsets}[{k + 1}]"]
            lines.append(f"{out} = {x}[{', '.join(index)}]")
        return lines

    def grad(self, inputs, output_grads):
        return [Join(self.axis)(*output_grads), None]

    def name_for_pp(self):
        return "split"

    def pp_args(self):
        return [f"axis={self.axis}"]


def concatenate(tensors, axis: int = 0) -> Variable:
    """Join tensors of one rank along an existing ``axis``, like ``np.concatenate``.

    Inputs of different dtypes are cast to NumPy's common dtype. Lengths on the other axes
    must agree: statically known ones are checked when the graph is built, the rest at run
    time (ValueError).

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> a = T.tensor('float64', shape=(2, 3), name='a')
    >>> b = T.tensor('float64', shape=(None, 3), name='b')
    >>> T.concatenate([a, b]).type.shape
    (None, 3)
    >>> T.concatenate([a, a], axis=1).eval({a: np.ones((2, 3))}).shape
    (2, 6)
    """
    if isinstance(tensors, Variable) or not isinstance(tensors, (list, tuple)):
        raise TypeError("concatenate: expects a list or tuple of tensors")
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    tensors = [as_tensor(t) for t in tensors]
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: 0-d tensors cannot be concatenated (use stack)")
    axis = _normalize_axis(axis, ndim, "concatenate")
    if len(tensors) == 1:
        return tensors[0]
    return Join(axis)(*tensors)


def split(x, sizes, axis: int = 0) -> list[Variable]:
    """Cut ``x`` along ``axis`` into consecutive pieces of the given ``sizes`` (ints or int
    scalars, or an int vector of static length); their sum must be the axis length.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> from symnet.ops.shape import split
    >>> a, b = split(T.tensor('float64', shape=(5, None)), (2, 3))
    >>> a.type.shape, b.type.shape
    ((2, None), (3, None))
    """
    x = as_tensor(x)
    axis = _normalize_axis(axis, x.ndim, "split")
    vector = as_shape_vector(sizes)
    n = _vector_length(vector, "split")
    return list(Split(axis, n).make_node(x, vector).outputs)


def stack(tensors, axis: int = 0) -> Variable:
    """Join tensors of one shape along a new ``axis``, like ``np.stack``.

    Examples
    --------
    >>> import numpy as np, symnet.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> T.stack([x, y]).type.shape
    (2,)
    >>> T.stack([x, y]).eval({x: 1.0, y: 2.0})
    array([1., 2.])
    """
    if isinstance(tensors, Variable) or not isinstance(tensors, (list, tuple)):
        raise TypeError("stack: expects a list or tuple of tensors")
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    tensors = [as_tensor(t) for t in tensors]
    ndim = tensors[0].ndim
    if any(t.ndim != ndim for t in tensors):
        ranks = ", ".join(f"{_pp(t)} is {t.ndim}-d" for t in tensors)
        raise ValueError(f"stack: all inputs must have the same rank: {ranks}")
    axis = _normalize_axis(axis, ndim + 1, "stack")
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


# --- arange, eye --------------------------------------------------------------------------------


@kernel
def arange_float(start, stop, step, proto):
    """``np.arange(start, stop, step)`` into ``proto``'s float dtype, filled as NumPy does
    (first, first + delta, first + i * delta with delta computed in the dtype)."""
    if step == 0:
        raise ValueError("arange: step must not be zero")
    n = max(int(np.ceil((stop - start) / step)), 0)
    out = np.empty(n, dtype=proto.dtype)
    if n > 0:
        out[0] = start
    if n > 1:
        out[1] = start + step
        first = out[0]
        delta = out[1] - first
        index = np.empty(1, dtype=proto.dtype)
        for i in range(2, n):
            index[0] = i
            out[i] = first + index[0] * delta
    return out


@kernel
def arange_int(start, stop, step, proto):
    """``np.arange(start, stop, step)`` into ``proto``'s integer dtype."""
    if step == 0:
        raise ValueError("arange: step must not be zero")
    n = max(int(np.ceil((stop - start) / step)), 0)
    out = np.empty(n, dtype=proto.dtype)
    if n > 0:
        out[0] = start
    if n > 1:
        out[1] = start + step
        first = out[0]
        delta = out[1] - first
        for i in range(2, n):
            out[i] = first + i * delta
    return out


@dataclass(frozen=True)
class Arange(Op):
    """``np.arange(start, stop, step, dtype)`` from three int or float scalars."""

    dtype: str

    def make_node(self, start, stop, step):
        bounds = [as_tensor(v) for v in (start, stop, step)]
        for name, v in zip(("start", "stop", "step"), bounds):
            if v.ndim != 0 or np.dtype(v.dtype).kind not in "iuf":
                raise TypeError(
                    f"arange: {name} must be an int or float scalar, got {v.type.short()} {_pp(v)}"
                )
        length = None
        if all(isinstance(v, Constant) for v in bounds):
            values = [v.data[()] for v in bounds]
            if values[2] == 0:
                raise ValueError("arange: step must not be zero")
            length = len(np.arange(*values, dtype=self.dtype))
        dtype = normalize_dtype(self.dtype)
        return Apply(self, bounds, [TensorType(dtype, (length,))()])

    def perform(self, inputs):
        start, stop, step = (v[()] for v in inputs)
        if step == 0:
            raise ValueError("arange: step must not be zero")
        return [np.arange(start, stop, step, dtype=self.dtype)]

    def numba_impl(self, node, names):
        start, stop, step = names
        helper = "arange_float" if np.dtype(self.dtype).kind == "f" else "arange_int"
        return (
            f"shape.{helper}({start}[()], {stop}[()], {step}[()], "
            f"np.empty(0, dtype=np.{self.dtype}))"
        )

    def grad(self, inputs, output_grads):
        return [None, None, None]

    def name_for_pp(self):
        return "arange"


def _sample(value):
    """A stand-in with ``value``'s type for NumPy's dtype rules: Python numbers stay Python
    numbers (weak), variables and arrays become NumPy scalars of their dtype."""
    if isinstance(value, Variable):
        return np.ones((), dtype=value.dtype)[()]
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        return type(value)(1)
    return np.ones((), dtype=np.asarray(value).dtype)[()]


def arange(start, stop=None, step=1, dtype=None) -> Variable:
    """Evenly spaced values in ``[start, stop)``, like ``np.arange`` (symbolic or constant
    bounds; with one bound it is ``stop``).

    The dtype follows NumPy's rules for the bounds' types (int bounds give int64, any float
    bound float64) unless ``dtype`` is given. The length is static when every bound is a
    constant.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> T.arange(5).type
    TensorType(int64, (5,))
    >>> T.arange(1.0, 2.0, 0.25).eval()
    array([1.  , 1.25, 1.5 , 1.75])
    >>> n = T.lscalar('n')
    >>> T.arange(n, dtype='float32').eval({n: 3})
    array([0., 1., 2.], dtype=float32)
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        samples = [_sample(v) for v in (start, stop, step)]
        dtype = np.arange(*samples).dtype
    dtype = normalize_dtype(dtype)
    if dtype == "bool":
        raise TypeError("arange: a bool dtype is not supported")
    return Arange(dtype)(start, stop, step)


@kernel
def eye_fill(n, m, k, proto):
    """An ``(n, m)`` array of ``proto``'s dtype with ones on diagonal ``k``."""
    if n < 0 or m < 0:
        raise ValueError("eye: negative dimension")
    out = np.zeros((n, m), dtype=proto.dtype)
    for i in range(max(0, -k), min(n, m - k)):
        out[i, i + k] = 1
    return out


@dataclass(frozen=True)
class Eye(Op):
    """An ``(n, m)`` matrix with ones on diagonal ``k`` and zeros elsewhere (``np.eye``)."""

    dtype: str

    def make_node(self, n, m, k):
        args = [as_tensor(v) for v in (n, m, k)]
        for name, v in zip(("n", "m", "k"), args):
            if v.ndim != 0 or not _is_int_dtype(v.dtype):
                raise TypeError(f"eye: {name} must be an int scalar, got {v.type.short()} {_pp(v)}")
        rows, cols = _static_int(args[0]), _static_int(args[1])
        for s in (rows, cols):
            if s is not None and s < 0:
                raise ValueError(f"eye: negative dimension {s}")
        return Apply(self, args, [TensorType(normalize_dtype(self.dtype), (rows, cols))()])

    def perform(self, inputs):
        n, m, k = (int(v) for v in inputs)
        if n < 0 or m < 0:
            raise ValueError(f"eye: negative dimension in ({n}, {m})")
        return [np.eye(n, m, k, dtype=self.dtype)]

    def numba_impl(self, node, names):
        n, m, k = names
        dtype = "bool_" if self.dtype == "bool" else self.dtype
        return f"shape.eye_fill({n}[()], {m}[()], {k}[()], np.empty(0, dtype=np.{dtype}))"

    def grad(self, inputs, output_grads):
        return [None, None, None]

    def name_for_pp(self):
        return "eye"


def eye(n, m=None, k=0, dtype=None) -> Variable:
    """A 2-d array with ones on diagonal ``k`` and zeros elsewhere, like ``np.eye``.

    ``n``, ``m`` (default ``n``) and ``k`` are ints or symbolic int scalars; ``dtype``
    defaults to ``config.float_x`` (float64).

    Examples
    --------
    >>> import symnet.tensor as T
    >>> T.eye(2, 3, k=1).eval()
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """
    if m is None:
        m = n
    dtype = normalize_dtype(dtype or "floatX")
    return Eye(dtype)(n, m, k)


T.register(
    broadcast_to, dimshuffle, expand_dims, shape, shape_i, transpose, alloc, arange,
    concatenate, eye, flatten, ones, ones_like, reshape, squeeze, stack, zeros, zeros_like,
    sum_to_shape,
)
