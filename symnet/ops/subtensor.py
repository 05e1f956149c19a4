"""Indexing: basic indexing (a view), advanced indexing (a gather), set_subtensor and
inc_subtensor.

:func:`getitem` normalises a key once into a tuple of entries, one per key item (Ellipsis
expanded, trailing full slices dropped). The entries are the ops' props:

- an ``int``: a constant index, baked into the op;
- ``"?"``: a symbolic integer scalar index (the next symbolic input);
- ``(start, stop, step)``: a slice whose bounds are ints, None, or ``"?"`` (the next input);
- ``"newaxis"``: ``None`` in the key; inserts a length-1 axis;
- ``"array"``: an integer index array (the next input; constant arrays are Constant inputs);
- ``"mask"``: a boolean mask (the next input) covering ``mask.ndim`` axes.

A key without arrays or masks is basic (:class:`BasicSubtensor`, a view of its input). Any
other key follows NumPy's advanced indexing (:class:`AdvancedSubtensor`): integers broadcast
with the index arrays, a mask acts as its ``nonzero()`` arrays (so the output length depends on
the data), and the broadcast index dimensions replace the indexed axes when the advanced
entries are adjacent, or come first when a slice or newaxis separates them.
:class:`IncSubtensor` writes into (a copy of) its input at a key of either kind.

Inputs of every op here are ``x`` (and ``v`` for IncSubtensor) followed by the key's symbolic
inputs in the order their entries appear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symnet.graph import Apply, Constant, Op, TensorType, Variable, as_tensor, constant
from symnet.graph import tensor_functions as T
from symnet.ops.elemwise import broadcast_static_shapes
from symnet.runtime.kernel import kernel
from symnet.ops.shape import Shape, shape_i

SYMBOLIC = "?"
NEWAXIS = "newaxis"
ARRAY = "array"
MASK = "mask"
FULL_SLICE = (None, None, None)


def _short_pp(var: Variable) -> str:
    text = T.pp(var, max_length=60)  # bounded per sub-expression: linear on shared subgraphs
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int_dtype(dtype: str) -> bool:
    return np.dtype(dtype).kind in "iu"


# --- keys --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One key entry with where it acts: the first axis of x it indexes (for a newaxis, the axis
    it is inserted before), how many axes of x it consumes, and its symbolic inputs."""

    entry: object
    axis: int
    width: int
    inputs: tuple


def _n_inputs(idx: tuple) -> int:
    count = 0
    for entry in idx:
        if isinstance(entry, tuple):
            count += sum(bound == SYMBOLIC for bound in entry)
        elif entry in (SYMBOLIC, ARRAY, MASK):
            count += 1
    return count


def _items(idx: tuple, input_ndims) -> list[_Item]:
    """The entries of ``idx`` with their axes; ``input_ndims`` are the ranks of the symbolic
    inputs (a mask covers as many axes as it has)."""
    items = []
    axis = 0
    k = 0
    for entry in idx:
        if isinstance(entry, tuple):
            n = sum(bound == SYMBOLIC for bound in entry)
            items.append(_Item(entry, axis, 1, tuple(range(k, k + n))))
            k += n
        elif entry == NEWAXIS:
            items.append(_Item(entry, axis, 0, ()))
        elif entry == MASK:
            items.append(_Item(entry, axis, input_ndims[k], (k,)))
            k += 1
        elif entry in (SYMBOLIC, ARRAY):
            items.append(_Item(entry, axis, 1, (k,)))
            k += 1
        else:
            items.append(_Item(entry, axis, 1, ()))
        axis += items[-1].width
    return items


def is_advanced(idx: tuple) -> bool:
    """True if the key holds an index array or a mask (NumPy's advanced indexing)."""
    return any(entry in (ARRAY, MASK) for entry in idx)


def _is_advanced_item(item: _Item) -> bool:
    """In an advanced key: index arrays, masks and integer scalars (which broadcast with them)."""
    return not isinstance(item.entry, tuple) and item.entry != NEWAXIS


def _slice_bound(bound, inputs: list, what: str):
    """A slice bound as a prop (int or None) or SYMBOLIC, appending symbolic ones to inputs."""
    if bound is None:
        return None
    if isinstance(bound, (bool, np.bool_)):
        raise TypeError(f"getitem: slice {what} must be an integer or None, got {bound!r}")
    if isinstance(bound, (int, np.integer)):
        return int(bound)
    var = as_tensor(bound) if not isinstance(bound, Variable) else bound
    if var.ndim != 0 or not _is_int_dtype(var.dtype):
        raise TypeError(
            f"getitem: slice {what} must be an integer scalar or None, got {_short_pp(var)} "
            f"of type {var.type.short()}"
        )
    if isinstance(var, Constant):
        return int(var.data)
    inputs.append(var)
    return SYMBOLIC


def _slice_entry(item: slice, inputs: list) -> tuple:
    start = _slice_bound(item.start, inputs, "start")
    stop = _slice_bound(item.stop, inputs, "stop")
    step = _slice_bound(item.step, inputs, "step")
    if step == 0:
        raise ValueError("getitem: slice step cannot be zero")
    if step == 1:
        step = None
    return (start, stop, step)


def _index_entry(item, inputs: list):
    """An integer scalar, index array or mask key item as an entry (appending inputs)."""
    if isinstance(item, Variable):
        var = item
    elif isinstance(item, (list, tuple)) and any(isinstance(v, Variable) for v in item):
        var = as_tensor(list(item))
    else:
        arr = np.asarray(item)
        if arr.dtype.kind == "f" and arr.size == 0:
            arr = arr.astype("int64")  # x[[]] selects nothing, as in NumPy
        if arr.dtype.kind not in "biu":
            raise TypeError(
                f"getitem: only integers, slices, None, Ellipsis, integer arrays and boolean "
                f"masks are valid indices, got {item!r}"
            )
        var = as_tensor(arr)
    kind = np.dtype(var.dtype).kind
    if kind == "b":
        if var.ndim == 0:
            raise TypeError(
                f"getitem: a 0-d boolean index ({_short_pp(var)}) is not supported; "
                "use T.switch or sn.ifelse to select conditionally"
            )
        inputs.append(var)
        return MASK
    if kind not in "iu":
        raise TypeError(
            f"getitem: indices must be integers or booleans, got {_short_pp(var)} of type "
            f"{var.type.short()}"
        )
    if var.ndim == 0:
        if isinstance(var, Constant):
            return int(var.data)
        inputs.append(var)
        return SYMBOLIC
    inputs.append(var)
    return ARRAY


def _normalize_key(x: Variable, key: tuple) -> tuple[tuple, list]:
    """The entries and symbolic inputs of ``x[key]``."""
    entries: list = []
    inputs: list = []
    ellipsis_at = None
    for item in key:
        if item is Ellipsis:
            if ellipsis_at is not None:
                raise IndexError("getitem: an index can only have a single ellipsis ('...')")
            ellipsis_at = len(entries)
        elif item is None:
            entries.append(NEWAXIS)
        elif isinstance(item, slice):
            entries.append(_slice_entry(item, inputs))
        elif isinstance(item, (bool, np.bool_)):
            raise TypeError(
                f"getitem: a Python boolean ({item!r}) is not a valid index; "
                "use T.switch or sn.ifelse to select conditionally"
            )
        elif isinstance(item, (int, np.integer)):
            entries.append(int(item))
        else:
            entries.append(_index_entry(item, inputs))
    ndims = [v.ndim for v in inputs]
    consumed = sum(item.width for item in _items(tuple(entries), ndims))
    if consumed > x.ndim:
        raise IndexError(
            f"getitem: too many indices for {_short_pp(x)}: it is {x.ndim}-dimensional, "
            f"but {consumed} were indexed"
        )
    if ellipsis_at is not None:
        entries[ellipsis_at:ellipsis_at] = [FULL_SLICE] * (x.ndim - consumed)
    while entries and entries[-1] == FULL_SLICE:
        entries.pop()
    return tuple(entries), inputs


def _numpy_key(items: list[_Item], values) -> tuple:
    """The NumPy key for run-time values of the symbolic inputs."""
    key = []
    for item in items:
        entry = item.entry
        if isinstance(entry, tuple):
            it = iter(item.inputs)
            bounds = [int(values[next(it)]) if b == SYMBOLIC else b for b in entry]
            key.append(slice(*bounds))
        elif entry == NEWAXIS:
            key.append(None)
        elif entry == SYMBOLIC:
            key.append(int(values[item.inputs[0]]))
        elif entry in (ARRAY, MASK):
            key.append(values[item.inputs[0]])
        else:
            key.append(entry)
    return tuple(key)


def _index_error(index: int, axis: int, length: int) -> IndexError:
    return IndexError(
        f"subtensor: index {index} is out of bounds for axis {axis} with size {length}"
    )


def _mask_error(axis: int, length: int, mask_length: int) -> IndexError:
    return IndexError(
        f"subtensor: boolean index did not match indexed array along axis {axis}; size of "
        f"axis is {length} but size of corresponding boolean axis is {mask_length}"
    )


def _check_values(items: list[_Item], shape: tuple, values) -> None:
    """Raise IndexError for an out-of-range index or a mask of the wrong shape."""
    for item in items:
        entry = item.entry
        if isinstance(entry, tuple) or entry == NEWAXIS:
            continue
        length = shape[item.axis]
        if entry == MASK:
            mask = values[item.inputs[0]]
            for d in range(mask.ndim):
                if mask.shape[d] != shape[item.axis + d]:
                    raise _mask_error(item.axis + d, shape[item.axis + d], mask.shape[d])
            continue
        index = entry if isinstance(entry, int) else np.asarray(values[item.inputs[0]])
        bad = (index < -length) | (index >= length)
        if np.any(bad):
            raise _index_error(int(np.asarray(index)[bad].flat[0]), item.axis, length)


# --- static type inference ---------------------------------------------------------------------


def _slice_length(entry: tuple, length: int | None) -> int | None:
    if entry == FULL_SLICE:
        return length
    if length is None or SYMBOLIC in entry:
        return None
    return len(range(*slice(*entry).indices(length)))


def _check_inputs(items: list[_Item], x: Variable, inputs: list, opname: str) -> None:
    """Type-check the symbolic inputs and check constant indices against static lengths."""
    for item in items:
        entry = item.entry
        for k in item.inputs:
            var = inputs[k]
            if entry == MASK:
                ok = var.dtype == "bool" and var.ndim >= 1
                want = "a boolean mask"
            elif entry == ARRAY:
                ok = _is_int_dtype(var.dtype) and var.ndim >= 1
                want = "an integer array"
            else:
                ok = _is_int_dtype(var.dtype) and var.ndim == 0
                want = "an integer scalar"
            if not ok:
                raise TypeError(
                    f"{opname}: expected {want} for index input {k}, got {_short_pp(var)} "
                    f"of type {var.type.short()}"
                )
        if entry == NEWAXIS or isinstance(entry, tuple):
            continue
        static = x.type.shape[item.axis : item.axis + item.width]
        if isinstance(entry, int):
            if static[0] is not None and not -static[0] <= entry < static[0]:
                raise _index_error(entry, item.axis, static[0])
        elif (
            entry == ARRAY
            and static[0] is not None
            and isinstance(inputs[item.inputs[0]], Constant)
        ):
            constant = inputs[item.inputs[0]]
            _check_values([item], x.type.shape, {item.inputs[0]: constant.data})
        elif entry == MASK:
            mask_shape = inputs[item.inputs[0]].type.shape
            for d, (length, mask_length) in enumerate(zip(static, mask_shape)):
                if length is not None and mask_length is not None and length != mask_length:
                    raise _mask_error(item.axis + d, length, mask_length)


def _index_shape(item: _Item, inputs: list) -> tuple:
    """Static shape an advanced entry contributes to the broadcast of the index arrays."""
    if item.entry == ARRAY:
        return inputs[item.inputs[0]].type.shape
    if item.entry == MASK:
        mask = inputs[item.inputs[0]]
        if isinstance(mask, Constant):
            return (int(np.count_nonzero(mask.data)),)
        return (None,)
    return ()


def _adjacent(items: list[_Item]) -> bool:
    """True if the advanced entries sit next to each other (then their result dims stay there)."""
    positions = [i for i, item in enumerate(items) if _is_advanced_item(item)]
    return positions == list(range(positions[0], positions[0] + len(positions)))


def _indexed_shape(idx: tuple, x: Variable, inputs: list, opname: str) -> tuple:
    """Static shape of ``x[idx]`` (None where unknown); checks the inputs on the way."""
    items = _items(idx, [v.ndim for v in inputs])
    consumed = sum(item.width for item in items)
    if consumed > x.ndim:
        raise IndexError(f"{opname}: the key indexes {consumed} axes of a {x.ndim}-d input")
    _check_inputs(items, x, inputs, opname)
    advanced = is_advanced(idx)
    trailing = x.type.shape[consumed:]
    if not advanced:
        dims = []
        for item in items:
            if item.entry == NEWAXIS:
                dims.append(1)
            elif isinstance(item.entry, tuple):
                dims.append(_slice_length(item.entry, x.type.shape[item.axis]))
        return tuple(dims) + trailing
    shapes = [_index_shape(item, inputs) for item in items if _is_advanced_item(item)]
    try:
        broadcast = broadcast_static_shapes(shapes, opname)
    except ValueError:
        raise IndexError(
            f"{opname}: shape mismatch: indexing arrays could not be broadcast together with "
            f"shapes {', '.join(str(s) for s in shapes)}"
        ) from None
    before, after = [], []
    seen_advanced = False
    for item in items:
        if _is_advanced_item(item):
            seen_advanced = True
            continue
        if item.entry == NEWAXIS:
            dim = 1
        else:
            dim = _slice_length(item.entry, x.type.shape[item.axis])
        (after if seen_advanced else before).append(dim)
    if _adjacent(items):
        return tuple(before) + broadcast + tuple(after) + trailing
    return broadcast + tuple(before) + tuple(after) + trailing


# --- printing ----------------------------------------------------------------------------------


def _key_text(items: list[_Item], texts: list[str]) -> str:
    """The key as Python source: ``1:3, i, None``; ``texts`` are the symbolic inputs' texts."""
    parts = []
    for item in items:
        entry = item.entry
        if isinstance(entry, tuple):
            it = iter(item.inputs)
            bounds = [
                "" if b is None else texts[next(it)] if b == SYMBOLIC else str(b) for b in entry
            ]
            text = f"{bounds[0]}:{bounds[1]}"
            if entry[2] is not None:
                text += f":{bounds[2]}"
            parts.append(text)
        elif entry == NEWAXIS:
            parts.append("None")
        elif isinstance(entry, int):
            parts.append(str(entry))
        else:
            parts.append(texts[item.inputs[0]])
    return ", ".join(parts) if parts else "..."


def _subscripted(text: str) -> str:
    """Parenthesise a unary-operator expression before subscripting it: (-x)[0]."""
    return f"({text})" if text[:1] in "-~" else text


def _op_key_text(idx: tuple) -> str:
    """The key for str(op), with symbolic pieces shown by kind: ``1:?, <array>``."""
    kinds = []
    for entry in idx:
        if isinstance(entry, tuple):
            kinds.extend("?" for b in entry if b == SYMBOLIC)
        elif entry == SYMBOLIC:
            kinds.append("?")
        elif entry in (ARRAY, MASK):
            kinds.append(f"<{entry}>")
    return _key_text(_items(idx, [1] * len(kinds)), kinds)


# --- Numba helpers -----------------------------------------------------------------------------


@kernel
def check_index(index, length, axis):
    """``index`` normalised to [0, length), or IndexError naming the index, axis and length."""
    if index < -length or index >= length:
        raise IndexError(
            "subtensor: index "
            + str(index)
            + " is out of bounds for axis "
            + str(axis)
            + " with size "
            + str(length)
        )
    if index < 0:
        return index + length
    return index


@kernel
def check_mask(mask, lengths, first_axis):
    """``mask`` itself, after checking its shape against the lengths of the axes it indexes."""
    for d in range(mask.ndim):
        if mask.shape[d] != lengths[d]:
            raise IndexError(
                "subtensor: boolean index did not match indexed array along axis "
                + str(first_axis + d)
                + "; size of axis is "
                + str(lengths[d])
                + " but size of corresponding boolean axis is "
                + str(mask.shape[d])
            )
    return mask


@kernel
def flat_positions(indices, lengths, axes):
    """Broadcast the index arrays (int64, C-contiguous, all of one rank), check every index
    against the length of its axis, and return the row-major positions into the indexed axes
    (one per element of the broadcast shape, flattened) and the broadcast shape."""
    nb = indices[0].ndim
    bshape = np.ones(nb, np.int64)
    for j in range(len(indices)):
        for d in range(nb):
            n = indices[j].shape[d]
            if n != 1:
                if bshape[d] != 1 and bshape[d] != n:
                    raise IndexError(
                        "subtensor: shape mismatch: indexing arrays could not be broadcast together"
                    )
                bshape[d] = n
    total = 1
    for d in range(nb):
        total *= bshape[d]
    positions = np.zeros(total, np.int64)
    counter = np.zeros(nb, np.int64)
    strides = np.zeros(nb, np.int64)
    for j in range(len(indices)):
        flat = indices[j].ravel()
        step = 1
        for d in range(nb - 1, -1, -1):
            n = indices[j].shape[d]
            strides[d] = step if n != 1 else 0
            step *= n
        length = lengths[j]
        counter[:] = 0
        offset = 0
        for p in range(total):
            index = flat[offset]
            if index < -length or index >= length:
                raise IndexError(
                    "subtensor: index "
                    + str(index)
                    + " is out of bounds for axis "
                    + str(axes[j])
                    + " with size "
                    + str(length)
                )
            if index < 0:
                index += length
            positions[p] = positions[p] * length + index
            d = nb - 1
            while d >= 0:
                counter[d] += 1
                offset += strides[d]
                if counter[d] < bshape[d]:
                    break
                offset -= strides[d] * bshape[d]
                counter[d] = 0
                d -= 1
    return positions, bshape


@kernel
def scatter(out_flat, positions, values, set_values):
    """Write (or add) ``values``, broadcast to ``positions``' shape, at ``out_flat[positions]``
    in C order: a repeated position keeps the last value (set) or accumulates (inc)."""
    broadcast = np.broadcast_to(values, positions.shape)
    for index in np.ndindex(positions.shape):
        if set_values:
            out_flat[positions[index]] = broadcast[index]
        else:
            out_flat[positions[index]] += broadcast[index]


# --- Numba code generation ---------------------------------------------------------------------


def _tuple_text(parts: list[str]) -> str:
    return "(" + "".join(f"{p}, " for p in parts) + ")"


def _slice_text(item: _Item, names: list[str]) -> str:
    it = iter(item.inputs)
    bounds = []
    for b in item.entry:
        if b is None:
            bounds.append("")
        elif b == SYMBOLIC:
            bounds.append(f"{names[next(it)]}.item()")
        else:
            bounds.append(str(b))
    text = f"{bounds[0]}:{bounds[1]}"
    if item.entry[2] is not None:
        text += f":{bounds[2]}"
    return text


def _basic_index_text(items: list[_Item], x: str, static_shape: tuple, names: list[str]) -> str:
    """Source of a basic key over ``x``; integer indices are checked unless static shapes
    prove them in range."""
    parts = []
    for item in items:
        entry = item.entry
        if entry == NEWAXIS:
            parts.append("None")
        elif isinstance(entry, tuple):
            parts.append(_slice_text(item, names))
        elif entry == SYMBOLIC:
            name = names[item.inputs[0]]
            parts.append(
                f"subtensor.check_index({name}.item(), {x}.shape[{item.axis}], {item.axis})"
            )
        else:
            length = static_shape[item.axis]
            if length is not None and -length <= entry < length:
                parts.append(str(entry % length))
            else:
                parts.append(f"subtensor.check_index({entry}, {x}.shape[{item.axis}], {item.axis})")
    return ", ".join(parts)


def _gather_lines(
    items: list[_Item], x: str, x_ndim: int, names: list[str], ndims: list[int], out: str
) -> list[str]:
    """Source lines assigning ``out = x[key]`` for an advanced key, with NumPy's semantics.

    The slices and newaxes apply first (a view ``v``); every advanced entry becomes int64 index
    arrays of one rank (a mask becomes its ``nonzero()`` arrays), which ``flat_positions``
    broadcasts and checks. One index array gathers along its axis directly; several gather
    from ``v`` with the indexed axes moved first and flattened, and the broadcast dims move back
    to where the advanced entries were if those are adjacent.
    """
    lines: list[str] = []
    basic: list[str] = []
    index_exprs: list[tuple[str, int]] = []  # (expression, its rank)
    adv_axes: list[int] = []  # axes of v that the index arrays index
    x_axes: list[int] = []  # the same axes of x, for error messages
    n = 0
    for item in items:
        entry = item.entry
        if entry == NEWAXIS:
            basic.append("None")
            n += 1
            continue
        if isinstance(entry, tuple):
            basic.append(_slice_text(item, names))
            n += 1
            continue
        if entry == MASK:
            mask = names[item.inputs[0]]
            lengths = _tuple_text([f"{x}.shape[{item.axis + d}]" for d in range(item.width)])
            nz = f"{out}_nz{len(index_exprs)}"
            lines.append(f"{nz} = np.nonzero(subtensor.check_mask({mask}, {lengths}, {item.axis}))")
            for d in range(item.width):
                index_exprs.append((f"{nz}[{d}]", 1))
                adv_axes.append(n)
                x_axes.append(item.axis + d)
                basic.append(":")
                n += 1
            continue
        if entry == ARRAY:
            index_exprs.append((names[item.inputs[0]], ndims[item.inputs[0]]))
        elif entry == SYMBOLIC:
            index_exprs.append((names[item.inputs[0]], 0))
        else:
            index_exprs.append((f"np.array({entry}, dtype=np.int64)", 0))
        adv_axes.append(n)
        x_axes.append(item.axis)
        basic.append(":")
        n += 1
    n += x_ndim - sum(item.width for item in items)

    v = x
    if any(b != ":" for b in basic):
        v = f"{out}_v"
        lines.append(f"{v} = {x}[{', '.join(basic)}]")
    return lines + _gather_from_view(v, n, index_exprs, adv_axes, x_axes, _adjacent(items), out)


def _gather_from_view(v, n, index_exprs, adv_axes, x_axes, adjacent, out) -> list[str]:
    """The gather part of :func:`_gather_lines` (``v`` has ``n`` axes)."""
    lines = []
    nb = max(rank for _, rank in index_exprs)
    arrays = []
    for j, (expr, rank) in enumerate(index_exprs):
        name = f"{out}_i{j}"
        lines.append(f"{name} = {expr}.astype(np.int64)")
        if rank < nb:
            padded = f"{out}_p{j}"
            lines.append(f"{padded} = {name}.reshape({(1,) * (nb - rank)!r} + {name}.shape)")
            name = padded
        arrays.append(name)
    lengths = _tuple_text([f"{v}.shape[{a}]" for a in adv_axes])
    pos, bs = f"{out}_pos", f"{out}_bs"
    lines.append(
        f"{pos}, {bs} = subtensor.flat_positions({_tuple_text(arrays)}, {lengths}, "
        f"{_tuple_text([str(a) for a in x_axes])})"
    )
    bshape = [f"{bs}[{d}]" for d in range(nb)]
    rest = [a for a in range(n) if a not in adv_axes]
    if len(adv_axes) == 1:
        (a,) = adv_axes
        gathered = f"{v}[{':, ' * a}{pos}]"
        if nb == 1:
            lines.append(f"{out} = {gathered}")
        else:
            shape = [f"{v}.shape[{r}]" for r in range(a)] + bshape
            shape += [f"{v}.shape[{r}]" for r in range(a + 1, n)]
            lines.append(f"{out} = {gathered}.reshape({_tuple_text(shape)})")
        return lines
    perm = adv_axes + rest
    moved = v if perm == list(range(n)) else f"{v}.transpose({tuple(perm)!r})"
    rows = " * ".join(f"{v}.shape[{a}]" for a in adv_axes)
    cols = " * ".join(f"{v}.shape[{r}]" for r in rest) or "1"
    shape = bshape + [f"{v}.shape[{r}]" for r in rest]
    flat = f"np.ascontiguousarray({moved}).reshape(({rows}, {cols}))"
    a0 = adv_axes[0]
    if adjacent and a0 > 0:
        lines.append(f"{out}_g = {flat}[{pos}].reshape({_tuple_text(shape)})")
        order = (
            [nb + i for i in range(a0)] + list(range(nb)) + [nb + i for i in range(a0, len(rest))]
        )
        lines.append(f"{out} = {out}_g.transpose({tuple(order)!r})")
    else:
        lines.append(f"{out} = {flat}[{pos}].reshape({_tuple_text(shape)})")
    return lines


# --- ops ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasicSubtensor(Op):
    """``x[key]`` for a key of integers, slices and newaxes: a view of ``x``."""

    idx: tuple

    may_return_view = True

    def make_node(self, x, *inputs):
        x = as_tensor(x)
        inputs = [as_tensor(i) for i in inputs]
        if is_advanced(self.idx) or len(inputs) != _n_inputs(self.idx):
            raise TypeError(
                f"{self}: expected {_n_inputs(self.idx)} scalar index inputs, got {len(inputs)}"
            )
        shape = _indexed_shape(self.idx, x, inputs, "subtensor")
        return Apply(self, [x, *inputs], [TensorType(x.dtype, shape)()])

    def perform(self, inputs):
        x, *values = inputs
        items = _items(self.idx, [np.ndim(v) for v in values])
        _check_values(items, x.shape, values)
        return [np.asarray(x[_numpy_key(items, values)])]

    def numba_impl(self, node, names):
        x, *syms = names
        xvar = node.inputs[0]
        items = _items(self.idx, [v.ndim for v in node.inputs[1:]])
        if not items:
            return x
        expr = f"{x}[{_basic_index_text(items, x, xvar.type.shape, syms)}]"
        if node.outputs[0].ndim == 0:
            return f"np.asarray({expr})"
        return expr

    def grad(self, inputs, output_grads):
        x, *syms = inputs
        (gz,) = output_grads
        if np.dtype(x.dtype).kind != "f":
            return [None] * len(inputs)
        return [IncSubtensor(self.idx, False)(T.zeros_like(x), gz, *syms)] + [None] * len(syms)

    def pp_text(self, input_texts: list[str]) -> str:
        x, *texts = input_texts
        items = _items(self.idx, [1] * len(texts))
        return f"{_subscripted(x)}[{_key_text(items, texts)}]"

    def __str__(self):
        return f"BasicSubtensor{{{_op_key_text(self.idx)}}}"


@dataclass(frozen=True)
class AdvancedSubtensor(Op):
    """``x[key]`` for a key with integer index arrays or boolean masks (NumPy's advanced
    indexing): a new array."""

    idx: tuple

    def make_node(self, x, *inputs):
        x = as_tensor(x)
        inputs = [as_tensor(i) for i in inputs]
        if not is_advanced(self.idx) or len(inputs) != _n_inputs(self.idx):
            raise TypeError(
                f"{self}: expected {_n_inputs(self.idx)} index inputs, got {len(inputs)}"
            )
        shape = _indexed_shape(self.idx, x, inputs, "advanced_subtensor")
        return Apply(self, [x, *inputs], [TensorType(x.dtype, shape)()])

    def perform(self, inputs):
        x, *values = inputs
        items = _items(self.idx, [np.ndim(v) for v in values])
        _check_values(items, x.shape, values)
        return [np.asarray(x[_numpy_key(items, values)])]

    def numba_lines(self, node, names, outs, data_names=()):
        x, *syms = names
        ndims = [v.ndim for v in node.inputs[1:]]
        return _gather_lines(_items(self.idx, ndims), x, node.inputs[0].ndim, syms, ndims, outs[0])

    def grad(self, inputs, output_grads):
        x, *syms = inputs
        (gz,) = output_grads
        if np.dtype(x.dtype).kind != "f":
            return [None] * len(inputs)
        return [IncSubtensor(self.idx, False)(T.zeros_like(x), gz, *syms)] + [None] * len(syms)

    def pp_text(self, input_texts: list[str]) -> str:
        x, *texts = input_texts
        items = _items(self.idx, [1] * len(texts))
        return f"{_subscripted(x)}[{_key_text(items, texts)}]"

    def __str__(self):
        return f"AdvancedSubtensor{{{_op_key_text(self.idx)}}}"


def _subtensor_op(idx: tuple) -> Op:
    return AdvancedSubtensor(idx) if is_advanced(idx) else BasicSubtensor(idx)


def _check_broadcast(value_shape: tuple, target: tuple, opname: str) -> None:
    """Raise ValueError unless a value of ``value_shape`` broadcasts to ``target``."""
    ok = len(value_shape) <= len(target)
    for v, t in zip(reversed(value_shape), reversed(target)):
        if v is not None and t is not None and v != 1 and v != t:
            ok = False
    if not ok:
        raise ValueError(
            f"{opname}: cannot broadcast a value of shape {value_shape} to the indexed shape {target}"
        )


@dataclass(frozen=True)
class IncSubtensor(Op):
    """A copy of ``x`` with ``v`` added at ``x[key]`` (repeated indices accumulate), or
    written there when ``set_instead_of_inc`` (a repeated index keeps the last value). ``v``
    broadcasts to the indexed shape. The key is basic or advanced, as in the subtensor ops."""

    idx: tuple
    set_instead_of_inc: bool = False

    def make_node(self, x, v, *inputs):
        x = as_tensor(x)
        v = as_tensor(v)
        inputs = [as_tensor(i) for i in inputs]
        if len(inputs) != _n_inputs(self.idx):
            raise TypeError(
                f"{self}: expected {_n_inputs(self.idx)} index inputs, got {len(inputs)}"
            )
        if v.dtype != x.dtype:
            if not np.can_cast(v.dtype, x.dtype, casting="same_kind"):
                raise TypeError(
                    f"{self._name()}: cannot write a {v.dtype} value ({_short_pp(v)}) into "
                    f"a {x.dtype} tensor; cast it first"
                )
            v = T.cast(v, x.dtype)
        target = _indexed_shape(self.idx, x, inputs, self._name())
        _check_broadcast(v.type.shape, target, self._name())
        return Apply(self, [x, v, *inputs], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, inputs):
        x, v, *values = inputs
        items = _items(self.idx, [np.ndim(i) for i in values])
        _check_values(items, x.shape, values)
        key = _numpy_key(items, values)
        out = x.copy()
        if not is_advanced(self.idx):
            _check_broadcast(v.shape, np.shape(out[key]), self._name())
            if self.set_instead_of_inc:
                out[key] = v
            else:
                out[key] += v
            return [out]
        # positions of the indexed elements in out.flat: C-order writes, so a repeated
        # position accumulates (np.add.at) or keeps the last value, exactly as the kernel
        positions = np.arange(x.size).reshape(x.shape)[key]
        _check_broadcast(v.shape, positions.shape, self._name())
        values_flat = np.broadcast_to(v, positions.shape).ravel()
        flat = out.reshape(-1)
        if self.set_instead_of_inc:
            flat[positions.ravel()] = values_flat
        else:
            np.add.at(flat, positions.ravel(), values_flat)
        return [out]

    def numba_lines(self, node, names, outs, data_names=()):
        x, v, *syms = names
        (out,) = outs
        xvar = node.inputs[0]
        ndims = [i.ndim for i in node.inputs[2:]]
        items = _items(self.idx, ndims)
        set_ = self.set_instead_of_inc
        if is_advanced(self.idx):
            ids = f"{out}_ids"
            lines = [f"{ids} = np.arange({x}.size).reshape({x}.shape)"]
            lines += _gather_lines(items, ids, xvar.ndim, syms, ndims, f"{out}_at")
            lines.append(f"{out} = {x}.copy()")
            lines.append(f"subtensor.scatter({out}.reshape({x}.size), {out}_at, {v}, {set_})")
            return lines
        lines = [f"{out} = {x}.copy()"]
        index = _basic_index_text(items, out, xvar.type.shape, syms)
        target_ndim = len(_indexed_shape(self.idx, xvar, node.inputs[2:], self._name()))
        if target_ndim == 0 and items:
            # integers only: out[i, j] is an element, not a view
            operator = "=" if set_ else "+="
            lines.append(f"{out}[{index}] {operator} {v}.item()")
            return lines
        view = f"{out}_view"
        lines.append(f"{view} = {out}[{index}]" if items else f"{view} = {out}")
        if set_:
            lines.append(f"{view}[...] = {v}")
        else:
            # view + v checks the shapes (an in-place += on a view would not)
            lines.append(f"{view}[...] = {view} + {v}")
        return lines

    def grad(self, inputs, output_grads):
        x, syms = inputs[0], inputs[2:]
        (gz,) = output_grads
        none = [None] * len(syms)
        if np.dtype(x.dtype).kind != "f":
            return [None, None, *none]
        gv = _subtensor_op(self.idx)(gz, *syms)
        if self.set_instead_of_inc and is_advanced(self.idx):
            gv = gv * self._surviving_writes(x, syms, gz.dtype)
        if self.set_instead_of_inc:
            zero = constant(np.zeros((), dtype=gz.dtype))
            gx = IncSubtensor(self.idx, True)(gz, zero, *syms)
        else:
            gx = gz
        return [gx, gv, *none]

    def _surviving_writes(self, x, syms, dtype):
        """1 where a written element survives, 0 where a later write to the same position
        (a repeated index) replaced it: only the last write reaches the output, so only it
        gets a gradient. Found by writing each element's own position number with this op."""
        written = _subtensor_op(self.idx)(x, *syms)
        positions = T.reshape(T.arange(T.prod(T.shape(written))), T.shape(written),
                              ndim=written.ndim)
        claims = IncSubtensor(self.idx, True)(T.zeros_like(x, dtype="int64") - 1, positions,
                                              *syms)
        kept = T.eq(_subtensor_op(self.idx)(claims, *syms), positions)
        return T.cast(kept, dtype)

    def _name(self) -> str:
        return "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"

    def pp_text(self, input_texts: list[str]) -> str:
        x, v, *texts = input_texts
        items = _items(self.idx, [1] * len(texts))
        return f"{self._name()}({_subscripted(x)}[{_key_text(items, texts)}], {v})"

    def __str__(self):
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{kind}Subtensor{{{_op_key_text(self.idx)}}}"


# --- user functions ----------------------------------------------------------------------------


def getitem(x, key) -> Variable:
    """``x[key]`` with NumPy's semantics; what ``Variable.__getitem__`` calls.

    Integers, slices (bounds may be symbolic integer scalars), ``None``/``np.newaxis`` and
    ``...`` give a view (basic indexing). Integer arrays (symbolic, lists or ndarrays) and
    boolean masks give a new array (advanced indexing: arrays broadcast together, and a mask
    selects where it is True, so its output length is only known at run time). An index out
    of range raises IndexError when the function runs; slices clip. ``x.shape[i]`` with a
    Python int is ``shape_i(x, i)``, a constant when the length is known statically.

    Parameters
    ----------
    x : Variable or array_like
    key : index or tuple of indices

    Returns
    -------
    Variable

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> x = T.dmatrix('x')
    >>> i = T.lscalar('i')
    >>> sn.pp(x[1:3, i])
    'x[1:3, i]'
    >>> f = sn.function([x, i], x[:, i])
    >>> f(np.arange(6.0).reshape(2, 3), 2)
    array([2., 5.])
    >>> labels = T.lvector('labels')
    >>> g = sn.function([x, labels], x[T.arange(2), labels])
    >>> g(np.arange(6.0).reshape(2, 3), [2, 0])
    array([2., 3.])
    """
    x = as_tensor(x)
    if not isinstance(key, tuple):
        key = (key,)
    if (
        x.owner is not None
        and isinstance(x.owner.op, Shape)
        and len(key) == 1
        and isinstance(key[0], (int, np.integer))
        and not isinstance(key[0], (bool, np.bool_))
    ):
        ndim = x.owner.inputs[0].ndim
        if not -ndim <= key[0] < ndim:
            raise IndexError(
                f"getitem: index {int(key[0])} is out of bounds for axis 0 with size {ndim} "
                f"(the shape of a {ndim}-d tensor)"
            )
        return shape_i(x.owner.inputs[0], int(key[0]))
    idx, inputs = _normalize_key(x, key)
    return _subtensor_op(idx)(x, *inputs)


def _inc_or_set(indexed, value, set_instead_of_inc: bool, name: str) -> Variable:
    owner = indexed.owner if isinstance(indexed, Variable) else None
    if owner is None or not isinstance(owner.op, (BasicSubtensor, AdvancedSubtensor)):
        text = _short_pp(indexed) if isinstance(indexed, Variable) else repr(indexed)[:60]
        raise TypeError(
            f"{name}: the first argument must be an indexing expression such as x[1:3] or "
            f"x[idx], got {text}"
        )
    x, *inputs = owner.inputs
    if not isinstance(value, Variable):
        value = _constant_value(value, x.dtype, name)
    return IncSubtensor(owner.op.idx, set_instead_of_inc)(x, value, *inputs)


def _constant_value(value, dtype: str, name: str) -> Variable:
    """A Python/NumPy value as a constant of ``dtype``, or TypeError if that would lose
    information (a float into an int tensor, an int that overflows)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or not np.can_cast(arr.dtype, dtype, casting="same_kind"):
        raise TypeError(f"{name}: cannot write {value!r} (dtype {arr.dtype}) into a {dtype} tensor")
    converted = arr.astype(dtype)
    if np.dtype(dtype).kind in "biu" and not np.array_equal(converted.astype(arr.dtype), arr):
        raise TypeError(f"{name}: {value!r} does not fit in a {dtype} tensor")
    return constant(converted)


def set_subtensor(x, y) -> Variable:
    """A copy of the tensor indexed by ``x`` with ``y`` written at that index.

    ``x`` must be an indexing expression (``a[1:3]``, ``a[idx]``, ``a[rows, cols]``); ``y``
    broadcasts to its shape. With repeated indices the last write wins. Inputs are never
    modified.

    Parameters
    ----------
    x : Variable
        The result of indexing a tensor, e.g. ``a[1:3]``.
    y : Variable or array_like
        The values to write.

    Returns
    -------
    Variable
        Like the indexed tensor ``a``.

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> a = T.dvector('a')
    >>> sn.pp(T.set_subtensor(a[1:3], 0.0))
    'set_subtensor(a[1:3], 0)'
    >>> T.set_subtensor(a[1:3], 0.0).eval({a: np.ones(4)})
    array([1., 0., 0., 1.])
    """
    return _inc_or_set(x, y, True, "set_subtensor")


def inc_subtensor(x, y) -> Variable:
    """A copy of the tensor indexed by ``x`` with ``y`` added at that index.

    ``x`` must be an indexing expression; ``y`` broadcasts to its shape. Repeated indices
    accumulate (like ``np.add.at``). Inputs are never modified.

    Parameters
    ----------
    x : Variable
        The result of indexing a tensor, e.g. ``a[idx]``.
    y : Variable or array_like
        The values to add.

    Returns
    -------
    Variable
        Like the indexed tensor.

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> a = T.dvector('a')
    >>> idx = T.lvector('idx')
    >>> f = sn.function([a, idx], T.inc_subtensor(a[idx], 1.0))
    >>> f(np.zeros(3), [0, 2, 2])
    array([1., 0., 2.])
    """
    return _inc_or_set(x, y, False, "inc_subtensor")


T.register(
    getitem, inc_subtensor, set_subtensor,
)
