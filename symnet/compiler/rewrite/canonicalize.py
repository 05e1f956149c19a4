"""Pass canonicalize: one normal form for equivalent graphs, so later passes match one pattern.

Sums and products become chains with their constants combined into one operand placed first
(``c + ((a + b) + d)``; elementwise ops stay binary), ``x - y`` becomes ``x + (-y)``,
negations inside products become the constant factor, and neutral operations (``x + 0``,
``x * 1``, ``x ** 1``, identity or doubled dimshuffles, reshapes to the same shape, gradient
bookkeeping that provably does not change a shape) disappear. A neutral operand is dropped
only where that keeps the result's dtype, rank and shape.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from symnet.compiler.rewrite.passes import local_rewrite
from symnet.compiler.rewrite.utils import (
    MAX_CONSTANT_SIZE,
    chain,
    collect_terms,
    expandable,
    has_shape_of_vector,
    inside_tree,
    is_constant_value,
    is_op,
    keeps_shape,
    shape_info,
)
from symnet.graph import Constant
from symnet.ops import elemwise as ew
from symnet.ops.elemwise import Elemwise
from symnet.ops.reduction import Reduce, Sum
from symnet.ops.shape import Alloc, DimShuffle, Reshape, Shape, ShapeI, SumToShape


def _constant(data: np.ndarray) -> Constant:
    from symnet.tensor import constant

    return constant(data)


# --- subtraction and negation ------------------------------------------------------------------


@local_rewrite("canonicalize", tracks=[ew.sub])
def local_sub_to_add(fgraph, node):
    """x - y -> x + (-y)"""
    x, y = node.inputs
    if np.dtype(y.dtype).kind == "b":
        return None  # booleans have no negation (x - True is x + -1 only after promotion)
    if isinstance(y, Constant):
        with np.errstate(all="ignore"):
            neg_y = _constant(np.negative(y.data))
    else:
        neg_y = ew.neg(y)
    out = ew.add(x, neg_y)
    if out.dtype != node.outputs[0].dtype:
        return None
    return [out]


@local_rewrite("canonicalize", tracks=[ew.neg])
def local_neg_neg(fgraph, node):
    """-(-x) -> x"""
    (arg,) = node.inputs
    if is_op(arg, ew.neg):
        inner = arg.owner.inputs[0]
        if keeps_shape(fgraph, node.outputs[0], inner):
            return [inner]
    return None


# --- flattened sums and products ---------------------------------------------------------------


def _is_chain(fgraph, var, terms, op, dtype, root: bool) -> bool:
    """``var`` is exactly the left-nested chain ``op(op(t0, t1), t2)...`` of ``terms``."""
    for i in range(len(terms) - 1, 0, -1):
        ok = is_op(var, op) and var.dtype == dtype if root else expandable(fgraph, var, op, dtype)
        if not ok or var.owner.inputs[1] is not terms[i]:
            return False
        var = var.owner.inputs[0]
        root = False
    return var is terms[0]


def _combine(op, constants, dtype: str):
    """Fold constant operands into one array of ``dtype``, or None if it would be too large."""
    shape = np.broadcast_shapes(*(c.data.shape for c in constants))
    if int(np.prod(shape)) > MAX_CONSTANT_SIZE:
        return None
    with np.errstate(all="ignore"):
        data = constants[0].data.astype(dtype)
        for c in constants[1:]:
            data = op.rule.numpy_fn(data, c.data.astype(dtype))
    return np.asarray(data, dtype=dtype)


def _canonical_chain(fgraph, node, op, neutral, pull_neg: bool):
    """The normal form of the sum or product tree rooted at ``node``, or None if it is in it:
    one constant operand (all constants combined, with the sign of pulled-out negations)
    placed first, then the other operands as a left-nested chain in their original order."""
    out = node.outputs[0]
    dtype = out.dtype
    if inside_tree(fgraph, out, op, pull_neg):
        return None  # the root of the tree rewrites it whole
    terms, sign, pulled = collect_terms(fgraph, node, op, pull_neg)
    # operands of the result's dtype first, so every partial result has that dtype
    others = [t for t in terms if not isinstance(t, Constant) and t.dtype == dtype]
    others += [t for t in terms if not isinstance(t, Constant) and t.dtype != dtype]
    constants = [t for t in terms if isinstance(t, Constant)]

    changed = pulled > 0
    const = constants[0] if len(constants) == 1 else None
    if sign or len(constants) > 1:
        if sign:
            constants.append(_constant(np.full((1,) * out.ndim, -1, dtype=dtype)))
        data = _combine(op, constants, dtype)
        if data is None:
            return None
        const = _constant(data)
        changed = True
    if not others:
        return const if changed else None

    if not changed and const is None:
        in_form = _is_chain(fgraph, out, others, op, dtype, root=True)
    elif not changed:
        in_form = node.inputs[0] is const and _is_chain(fgraph, node.inputs[1], others, op,
                                                         dtype, root=False)
    else:
        in_form = False
    neutral_const = const is not None and is_constant_value(const, neutral)
    minus_one = const is not None and op == ew.mul and is_constant_value(const, -1)
    if in_form and not neutral_const and not minus_one:
        return None

    rest = chain(op, others)
    partial = rest
    while partial is not others[0]:
        if partial.dtype != dtype:
            return None  # mixed dtypes that would not promote step by step as before
        partial = partial.owner.inputs[0]
    if neutral_const and keeps_shape(fgraph, out, rest):
        return rest
    if minus_one:
        negated = ew.neg(rest)
        if keeps_shape(fgraph, out, negated):
            return negated
    if in_form:
        return None
    result = rest if const is None else op(const, rest)
    if result.dtype != dtype or result.ndim != out.ndim:
        return None
    return result


@local_rewrite("canonicalize", tracks=[ew.add])
def local_add_canonical(fgraph, node):
    """a + (c1 + (b + c2)) -> (c1 + c2) + (a + b); x + 0 -> x"""
    result = _canonical_chain(fgraph, node, ew.add, 0, pull_neg=False)
    return None if result is None else [result]


@local_rewrite("canonicalize", tracks=[ew.mul])
def local_mul_canonical(fgraph, node):
    """a * (c1 * (-b * c2)) -> (-c1 * c2) * (a * b); x * 1 -> x; x * -1 -> -x"""
    result = _canonical_chain(fgraph, node, ew.mul, 1, pull_neg=True)
    return None if result is None else [result]


@local_rewrite("canonicalize", tracks=[ew.pow_])
def local_pow_one(fgraph, node):
    """x ** 1 -> x"""
    x, exponent = node.inputs
    if is_constant_value(exponent, 1) and keeps_shape(fgraph, node.outputs[0], x):
        return [x]
    return None


# --- shapes ----------------------------------------------------------------------------------


@local_rewrite("canonicalize", tracks=[DimShuffle])
def local_dimshuffle_identity(fgraph, node):
    """dimshuffle(x, (0, 1, ...)) -> x"""
    (x,) = node.inputs
    if node.op.new_order == tuple(range(x.ndim)):
        return [x]
    return None


@local_rewrite("canonicalize", tracks=[DimShuffle])
def local_dimshuffle_dimshuffle(fgraph, node):
    """dimshuffle(dimshuffle(x, a), b) -> dimshuffle(x, a[b])"""
    (inner,) = node.inputs
    if inner.owner is None or not isinstance(inner.owner.op, DimShuffle):
        return None
    (x,) = inner.owner.inputs
    first = inner.owner.op.new_order
    order = tuple("x" if a == "x" else first[a] for a in node.op.new_order)
    if order == tuple(range(x.ndim)):
        return [x]
    return [DimShuffle(order)(x)]


@local_rewrite("canonicalize", tracks=[DimShuffle])
def local_dimshuffle_drop_kept_axes(fgraph, node):
    """dimshuffle(sum(x, axis, keepdims=True)) dropping those axes -> sum(x, axis)"""
    (reduced,) = node.inputs
    op = reduced.owner.op if reduced.owner is not None else None
    if not isinstance(op, Reduce) or not op.keepdims:
        return None
    if node.op.new_order != tuple(k for k in range(reduced.ndim) if k not in op.axis):
        return None
    return [replace(op, keepdims=False)(reduced.owner.inputs[0])]


@local_rewrite("canonicalize", tracks=[Sum])
def local_sum_no_axis(fgraph, node):
    """sum(x, axis=()) -> x"""
    (x,) = node.inputs
    out = node.outputs[0]
    if type(node.op) is Sum and node.op.axis == () and x.dtype == out.dtype:
        return [x]
    return None


@local_rewrite("canonicalize", tracks=[Reshape])
def local_reshape_same_shape(fgraph, node):
    """reshape(x, shape) -> x when x already has that shape"""
    x = node.inputs[0]
    out = node.outputs[0]
    if x.ndim != out.ndim or x.dtype != out.dtype:
        return None
    known = None not in x.type.shape and x.type.shape == out.type.shape
    if known or (len(node.inputs) > 1 and has_shape_of_vector(fgraph, x, node.inputs[1])):
        return [x]
    return None


@local_rewrite("canonicalize", tracks=[Shape])
def local_shape_constant(fgraph, node):
    """shape(x) -> constant when every length of x is known"""
    (x,) = node.inputs
    lengths = shape_info(fgraph).static(x)
    if None in lengths:
        return None
    return [_constant(np.array(lengths, dtype="int64").reshape(x.ndim))]


@local_rewrite("canonicalize", tracks=[ShapeI])
def local_shape_i_constant(fgraph, node):
    """shape_i(x, i) -> constant when the length of axis i is known"""
    (x,) = node.inputs
    length = shape_info(fgraph).static(x)[node.op.i]
    if length is None:
        return None
    return [_constant(np.array(length, dtype="int64"))]


@local_rewrite("canonicalize", tracks=[Shape])
def local_shape_of_input(fgraph, node):
    """shape(f(x)) -> shape(x) when f(x) provably has x's shape (x a graph input)"""
    (var,) = node.inputs
    if var.owner is None:
        return None
    source = shape_info(fgraph).input_with_shape(var)
    if source is None:
        return None
    return [Shape()(source)]


@local_rewrite("canonicalize", tracks=[ShapeI])
def local_shape_i_of_input(fgraph, node):
    """shape_i(f(x), i) -> shape_i(x, j) when those lengths are provably equal (x an input)"""
    (var,) = node.inputs
    if var.owner is None:
        return None
    found = shape_info(fgraph).input_with_length(var, node.op.i)
    if found is None:
        return None
    source, axis = found
    return [ShapeI(axis)(source)]


@local_rewrite("canonicalize", tracks=[SumToShape])
def local_useless_sum_to_shape(fgraph, node):
    """sum_to_shape(g, shape(x)) -> g when g already has x's shape"""
    g, vec = node.inputs
    if has_shape_of_vector(fgraph, g, vec):
        return [g]
    return None


@local_rewrite("canonicalize", tracks=[Alloc])
def local_useless_alloc(fgraph, node):
    """alloc(v, shape(x)) -> v when v already has x's shape"""
    value, vec = node.inputs
    out = node.outputs[0]
    if value.ndim != out.ndim or value.dtype != out.dtype:
        return None
    if has_shape_of_vector(fgraph, value, vec):
        return [value]
    return None


@local_rewrite("canonicalize", tracks=[Elemwise])
def local_elemwise_alloc(fgraph, node):
    """alloc(v, shape(x)) + x -> v + x: another operand already gives the broadcast shape"""
    out = node.outputs[0]
    for k, inp in enumerate(node.inputs):
        if inp.owner is None or not isinstance(inp.owner.op, Alloc):
            continue
        inputs = list(node.inputs)
        inputs[k] = inp.owner.inputs[0]
        try:
            new = node.op(*inputs)
        except (TypeError, ValueError):
            continue
        if keeps_shape(fgraph, out, new):
            return [new]
    return None
