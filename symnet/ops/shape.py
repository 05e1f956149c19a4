"""Shape ops: dimshuffle, shape, broadcasting (alloc) and un-broadcasting (sum_to_shape), reshape,
concatenate, stack, arange, eye and friends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Constant, Op, TensorType, Variable
from symnet.ops.kernel import kernel


def _as_tensor(x):
    from symnet.tensor import as_tensor

    return as_tensor(x)


def _static_vector(v: Variable):
    """The static values of an int vector variable: a tuple of int/None per entry, or None."""
    if isinstance(v, Constant):
        return tuple(int(i) for i in v.data.reshape(-1))
    owner = v.owner
    if owner is None:
        return None
    if isinstance(owner.op, Shape):
        return owner.inputs[0].type.shape
    if isinstance(owner.op, MakeVector):
        out = []
        for s in owner.inputs:
            if isinstance(s, Constant):
                out.append(int(s.data))
            elif s.owner is not None and isinstance(s.owner.op, ShapeI):
                out.append(s.owner.inputs[0].type.shape[s.owner.op.i])
            else:
                out.append(None)
        return tuple(out)
    return None


def _vector_length(v: Variable, opname: str) -> int:
    if v.ndim != 1:
        raise TypeError(f"{opname}: a shape must be a 1-d int vector, got {v.ndim}-d")
    n = v.type.shape[0]
    if n is None:
        raise TypeError(f"{opname}: the length of the shape vector must be known statically")
    return n


# --- dimshuffle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimShuffle(Op):
    """Permute axes, insert broadcast axes ('x'), drop length-1 axes (Theano's dimshuffle)."""

    new_order: tuple

    def make_node(self, x):
        x = _as_tensor(x)
        kept = [a for a in self.new_order if a != "x"]
        for a in kept:
            if not isinstance(a, (int, np.integer)) or not 0 <= a < x.ndim:
                raise ValueError(f"dimshuffle{self.new_order}: axis {a!r} is invalid for a {x.ndim}-d input")
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle{self.new_order}: an axis appears twice")
        for axis in range(x.ndim):
            if axis not in kept and x.type.shape[axis] != 1:
                raise ValueError(
                    f"dimshuffle{self.new_order}: cannot drop axis {axis} of an input with static "
                    f"shape {x.type.shape}: only axes known to have length 1 can be dropped"
                )
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, inputs):
        (x,) = inputs
        kept = [a for a in self.new_order if a != "x"]
        dropped = tuple(a for a in range(x.ndim) if a not in kept)
        if any(x.shape[a] != 1 for a in dropped):
            raise ValueError(f"dimshuffle{self.new_order}: dropped axes of shape {x.shape} are not length 1")
        y = x.reshape([s for a, s in enumerate(x.shape) if a not in dropped])
        # positions of kept axes after dropping
        remap = {a: i for i, a in enumerate(a for a in range(x.ndim) if a not in dropped)}
        y = y.transpose([remap[a] for a in kept])
        shape = []
        it = iter(y.shape)
        for a in self.new_order:
            shape.append(1 if a == "x" else next(it))
        return [y.reshape(shape)]

    def numba_impl(self, node, names):
        (x,) = names
        kept = [a for a in self.new_order if a != "x"]
        xin = node.inputs[0]
        dropped = [a for a in range(xin.ndim) if a not in kept]
        expr = x
        if dropped:
            # static length-1 axes: index them away (highest first so indices stay valid)
            index = ", ".join("0" if a in dropped else ":" for a in range(xin.ndim))
            expr = f"{expr}[{index}]"
        remap = {a: i for i, a in enumerate(a for a in range(xin.ndim) if a not in dropped)}
        perm = [remap[a] for a in kept]
        if perm != sorted(perm):
            expr = f"{expr}.transpose({tuple(perm)!r})"
        # numba cannot reshape a non-contiguous view; insert axes with np.expand_dims
        for axis, a in enumerate(self.new_order):
            if a == "x":
                expr = f"np.expand_dims({expr}, {axis})"
        return expr

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        kept = [a for a in self.new_order if a != "x"]
        # drop the inserted axes (length 1 in gz) and put x's axes back in order,
        # re-inserting x's dropped length-1 axes
        gz_kept_positions = {a: i for i, a in enumerate(self.new_order) if a != "x"}
        order = []
        for axis in range(x.ndim):
            order.append(gz_kept_positions[axis] if axis in kept else "x")
        drop = [i for i, a in enumerate(self.new_order) if a == "x"]
        if drop:
            from symnet.ops.reduction import sum as _sum

            gz = _sum(gz, axis=tuple(drop), keepdims=True)
        return [DimShuffle(tuple(order))(gz)]

    def name_for_pp(self):
        return "dimshuffle"

    def pp_args(self):
        return [repr(self.new_order)]

    def __str__(self):
        return f"DimShuffle{{{','.join(str(a) for a in self.new_order)}}}"


def dimshuffle(x, *pattern):
    """Reorder axes and insert broadcastable ones: ``x.dimshuffle(1, 'x', 0)``.

    Accepts the pattern as varargs or as one tuple/list.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> m = T.dmatrix('m')
    >>> m.dimshuffle(1, 'x', 0).ndim
    3
    """
    if len(pattern) == 1 and isinstance(pattern[0], (tuple, list)):
        pattern = tuple(pattern[0])
    x = _as_tensor(x)
    pattern = tuple(a if a == "x" else int(a) for a in pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(pattern)(x)


def transpose(x, axes=None):
    """Permute axes (reverse them by default), like ``np.transpose``."""
    x = _as_tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(int(a) % x.ndim if x.ndim else int(a) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes")
    return dimshuffle(x, axes)


def expand_dims(x, axis):
    """Insert a length-1 axis at ``axis`` (int or tuple), like ``np.expand_dims``."""
    x = _as_tensor(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_ndim = x.ndim + len(axes)
    axes = sorted(a % out_ndim for a in axes)
    pattern = []
    it = iter(range(x.ndim))
    for i in range(out_ndim):
        pattern.append("x" if i in axes else next(it))
    return dimshuffle(x, tuple(pattern))


# --- shape --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape(Op):
    """The runtime shape of a tensor, as an int64 vector."""

    def make_node(self, x):
        x = _as_tensor(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))()])

    def perform(self, inputs):
        (x,) = inputs
        return [np.array(x.shape, dtype="int64")]

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
        x = _as_tensor(x)
        if not 0 <= self.i < x.ndim:
            raise IndexError(f"shape_i: axis {self.i} is out of range for a {x.ndim}-d input")
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
    """The symbolic shape of ``x`` (an int64 vector); ``x.shape[i]`` is a scalar."""
    x = _as_tensor(x)
    return Shape()(x)


def shape_i(x, i: int) -> Variable:
    """Length of axis ``i`` of ``x``; a constant when it is known statically."""
    x = _as_tensor(x)
    i = int(i)
    if i < 0:
        i += x.ndim
    static = x.type.shape[i] if 0 <= i < x.ndim else None
    if static is not None:
        from symnet.tensor import constant

        return constant(np.int64(static))
    return ShapeI(i)(x)


@dataclass(frozen=True)
class MakeVector(Op):
    """Stack scalars into a 1-d vector of ``dtype``."""

    dtype: str = "int64"

    def make_node(self, *scalars):
        scalars = [_as_tensor(s) for s in scalars]
        for s in scalars:
            if s.ndim != 0:
                raise TypeError(f"make_vector: expects scalars, got a {s.ndim}-d input")
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars),))()])

    def perform(self, inputs):
        return [np.array([np.asarray(s) for s in inputs], dtype=self.dtype).reshape(len(inputs))]

    def numba_impl(self, node, names):
        if not names:
            return f"np.empty(0, dtype=np.{self.dtype})"
        items = ", ".join(f"{n}.item()" for n in names)
        return f"np.array([{items}], dtype=np.{self.dtype})"

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        from symnet.tensor import getitem

        return [getitem(gz, i) if np.dtype(x.dtype).kind == "f" else None for i, x in enumerate(inputs)]


def as_shape_vector(shape) -> Variable:
    """A tuple of ints / int scalars, or an int vector variable, as an int64 vector variable."""
    from symnet.tensor import cast, constant

    if isinstance(shape, Variable):
        if shape.ndim == 0:
            shape = [shape]
        else:
            if shape.dtype != "int64":
                shape = cast(shape, "int64")
            return shape
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    items = list(shape)
    if all(isinstance(s, (int, np.integer)) for s in items):
        return constant(np.array(items, dtype="int64").reshape(len(items)))
    parts = []
    for s in items:
        s = _as_tensor(s)
        if s.ndim != 0 or np.dtype(s.dtype).kind not in "iu":
            raise TypeError(f"shape entries must be int scalars, got {s.type.short()}")
        parts.append(cast(s, "int64") if s.dtype != "int64" else s)
    return MakeVector("int64")(*parts)


# --- broadcasting and its adjoint ---------------------------------------------------------------


@kernel
def broadcast_copy(value, shape):
    out = np.empty(shape, dtype=value.dtype)
    out[...] = value
    return out


@dataclass(frozen=True)
class Alloc(Op):
    """Broadcast ``value`` to ``shape`` (a new array), like ``np.broadcast_to(value, shape).copy()``."""

    def make_node(self, value, shape):
        value = _as_tensor(value)
        shape = as_shape_vector(shape)
        ndim = _vector_length(shape, "alloc")
        if value.ndim > ndim:
            raise ValueError(f"alloc: cannot broadcast a {value.ndim}-d value to {ndim} dimensions")
        static = _static_vector(shape) or (None,) * ndim
        vshape = (1,) * (ndim - value.ndim) + value.type.shape
        out = []
        for s, v in zip(static, vshape):
            if s is not None and s < 0:
                raise ValueError(f"alloc: negative dimension {s} in shape {static}")
            if s is not None and v is not None and v != 1 and v != s:
                raise ValueError(f"alloc: cannot broadcast value of shape {value.type.shape} to {static}")
            out.append(s)
        return Apply(self, [value, shape], [TensorType(value.dtype, tuple(out))()])

    def perform(self, inputs):
        value, shape = inputs
        try:
            return [np.array(np.broadcast_to(value, tuple(int(s) for s in shape)))]
        except ValueError:
            raise ValueError(f"alloc: cannot broadcast value of shape {value.shape} to {tuple(shape)}") from None

    def numba_impl(self, node, names):
        value, shape = names
        ndim = node.outputs[0].ndim
        shape_tuple = "(" + "".join(f"{shape}[{i}], " for i in range(ndim)) + ")"
        vnd = node.inputs[0].ndim
        v = value if vnd == ndim else f"{value}.reshape({(1,) * (ndim - vnd)!r}[:{ndim - vnd}] + {value}.shape)"
        if vnd == 0:
            v = value
        return f"shape.broadcast_copy({v}, {shape_tuple})"

    def grad(self, inputs, output_grads):
        value, shape_vec = inputs
        (gz,) = output_grads
        return [sum_to_shape(gz, value), None]

    def name_for_pp(self):
        return "alloc"


def broadcast_to(x, shape) -> Variable:
    """Broadcast ``x`` to ``shape`` (a tuple or int vector variable)."""
    return Alloc()(x, shape)


@dataclass(frozen=True)
class SumToShape(Op):
    """Sum a gradient back to its input's runtime shape: the adjoint of broadcasting.

    ``g`` has the broadcast (output) rank; ``shape`` the input's shape vector (same length,
    since elementwise inputs are padded to the output rank). Axes where the input has length
    1 and ``g`` does not are summed with keepdims.
    """

    def make_node(self, g, shape):
        g = _as_tensor(g)
        shape = as_shape_vector(shape)
        ndim = _vector_length(shape, "sum_to_shape")
        if ndim != g.ndim:
            raise ValueError(f"sum_to_shape: a {g.ndim}-d gradient for a {ndim}-d input")
        static = _static_vector(shape) or (None,) * ndim
        return Apply(self, [g, shape], [TensorType(g.dtype, tuple(static))()])

    def perform(self, inputs):
        g, shape = inputs
        shape = tuple(int(s) for s in shape)
        axes = []
        for axis, (s, gs) in enumerate(zip(shape, g.shape)):
            if s != gs:
                if s != 1:
                    raise ValueError(f"sum_to_shape: cannot reduce gradient of shape {g.shape} to {shape}")
                axes.append(axis)
        if not axes:
            return [g]
        return [g.sum(axis=tuple(axes), keepdims=True)]

    def grad(self, inputs, output_grads):
        g, shape_vec = inputs
        (gz,) = output_grads
        return [Alloc()(gz, Shape()(g)), None]

    def name_for_pp(self):
        return "sum_to_shape"


def sum_to_shape(g: Variable, x: Variable) -> Variable:
    """Sum gradient ``g`` (broadcast output shape) back to the shape of ``x``.

    The one place gradients are un-broadcast. Leading axes ``x`` lacks are summed away
    statically; axes where ``x`` may be 1 at run time go through :class:`SumToShape`.
    """
    from symnet.ops.reduction import sum as _sum

    if g.ndim > x.ndim:
        g = _sum(g, axis=tuple(range(g.ndim - x.ndim)))
    if g.ndim != x.ndim:
        raise ValueError(f"sum_to_shape: gradient rank {g.ndim} below input rank {x.ndim}")
    static_axes = tuple(
        a for a, (xs, gs) in enumerate(zip(x.type.shape, g.type.shape)) if xs == 1 and gs != 1
    )
    if static_axes:
        g = _sum(g, axis=static_axes, keepdims=True)
    # Axes whose length is unknown on either side may still differ at run time.
    if any(xs is None and gs != 1 for xs, gs in zip(x.type.shape, g.type.shape)) or any(
        xs is not None and xs != 1 and gs is None for xs, gs in zip(x.type.shape, g.type.shape)
    ):
        if _same_shape_source(g, x):
            return g
        g = SumToShape()(g, Shape()(x))
    return g


def _same_shape_source(g: Variable, x: Variable) -> bool:
    """True when g's shape provably equals x's (g is x's own gradient seed, say)."""
    return g.type.shape == x.type.shape and all(s is not None for s in x.type.shape)


def zeros_like(x, dtype=None) -> Variable:
    """Zeros with the shape (and dtype, unless given) of ``x``."""
    from symnet.tensor import constant

    x = _as_tensor(x)
    dtype = dtype or x.dtype
    if x.ndim == 0:
        return constant(np.zeros((), dtype=dtype))
    return Alloc()(constant(np.zeros((), dtype=dtype)), Shape()(x))


def ones_like(x, dtype=None) -> Variable:
    """Ones with the shape (and dtype, unless given) of ``x``."""
    from symnet.tensor import constant

    x = _as_tensor(x)
    dtype = dtype or x.dtype
    if x.ndim == 0:
        return constant(np.ones((), dtype=dtype))
    return Alloc()(constant(np.ones((), dtype=dtype)), Shape()(x))


# --- being written (placeholders replaced by the shape-ops work) ---------------------------------
def _pending(name):
    def f(*args, **kwargs):
        raise NotImplementedError(name)
    f.__name__ = name
    return f


alloc = broadcast_to
arange = _pending("arange")
concatenate = _pending("concatenate")
eye = _pending("eye")
flatten = _pending("flatten")
ones = _pending("ones")
reshape = _pending("reshape")
squeeze = _pending("squeeze")
stack = _pending("stack")
zeros = _pending("zeros")
