"""Pass canonicalize: one normal form for equivalent graphs, so later passes match one pattern.

Sums and products become chains with their constants combined into one operand placed first
(``c + ((a + b) + d)``; elementwise ops stay binary), ``x - y`` becomes ``x + (-y)``,
negations inside products become the constant factor, and neutral operations (``x + 0``,
``x * 1``, ``x ** 1``, identity or doubled dimshuffles, reshapes to the same shape, gradient
bookkeeping that provably does not change a shape) disappear. A neutral operand is dropped
only where that keeps the result's dtype, rank and shape. The logistic function written by
hand (``1 / (1 + exp(-x))``, ``exp(x) / (1 + exp(x))``) becomes ``sigmoid``, also inside the
products its gradient is made of, and ``1 - sigmoid(x)`` becomes ``sigmoid(-x)`` where its
rounding to 0 would matter (a divisor, beside an exp, under a root).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from symnet.compiler.rewrite.passes import local_rewrite
from symnet.compiler.rewrite.utils import (
    MAX_CONSTANT_SIZE,
    chain,
    checked,
    collect_terms,
    constant_value,
    expandable,
    has_shape_of_vector,
    inside_tree,
    is_constant_value,
    is_op,
    keeps_shape,
    same_value,
    shape_info,
    single_client,
)
from symnet.graph import Constant, constant
from symnet.ops import elemwise as ew
from symnet.ops.elemwise import Elemwise
from symnet.ops.reduction import Reduce, Sum
from symnet.ops.shape import Alloc, DimShuffle, Reshape, Shape, ShapeI, SumToShape


def _constant(data: np.ndarray) -> Constant:
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


# --- the logistic function ---------------------------------------------------------------------
#
# The logistic function is often written by hand, as in Theano's tutorial: ``1 / (1 + exp(-x))``.
# For x = -800 that is 1 / inf = 0, and ``log`` of it is -inf; the gradient, built from the
# same graph, is a product of exp(-x) and powers of 1 / (1 + exp(-x)) that overflows to
# inf / inf = nan. Written as sigmoids, these products become sigmoids of x and -x, which the
# stabilize pass then handles (log of a sigmoid -> softplus, divisions by it cancelled).

#: the largest ``|k|`` of a factor ``b ** k`` counted as ``|k|`` factors ``b`` (or ``1 / b``)
MAX_EXPANDED_POWER = 4

#: how deep :func:`_split_sign` looks through sums for negated operands
_SIGN_DEPTH = 8


def _negative_constant(var) -> bool:
    return isinstance(var, Constant) and var.data.size > 0 and bool(np.all(var.data < 0))


def _split_sign(var, depth: int = _SIGN_DEPTH):
    """``(negated, core)`` with ``var == -core`` if ``negated`` else ``core``, seeing through
    the negations canonicalize leaves: ``-x``, ``-2 * x``, ``-x - b``, ``-x + -b``, ``-x + c``.

    Building every ``sigmoid(-y)`` from ``(negated, core)`` gives one structure for one value
    (``sigmoid(-(x + b))``, never also ``sigmoid(-x + -b)``), so equal factors are found equal.
    """
    if depth == 0 or np.dtype(var.dtype).kind not in "fi":
        return False, var  # unsigned and boolean values have no negation to look for
    if is_op(var, ew.neg):
        negated, core = _split_sign(var.owner.inputs[0], depth - 1)
        return not negated, core
    if is_op(var, ew.mul) and _negative_constant(var.owner.inputs[0]):
        c, rest = var.owner.inputs
        return _negated_core(var, ew.mul(_constant(np.negative(c.data)), rest))
    if is_op(var, ew.sub):
        a, b = var.owner.inputs
        negated_a, core_a = _split_sign(a, depth - 1)
        if negated_a:
            return _negated_core(var, ew.add(core_a, b))  # -a' - b == -(a' + b)
    if is_op(var, ew.add) and not all(isinstance(t, Constant) for t in var.owner.inputs):
        # a sum is negated when its variable operands are (its constant, first once
        # canonicalized, changes sign): c + -a' + -b' == -(-c + a' + b')
        cores = []
        for term in var.owner.inputs:
            if isinstance(term, Constant):
                cores.append(_constant(np.negative(term.data)))
                continue
            negated, core = _split_sign(term, depth - 1)
            if not negated:
                return False, var
            cores.append(core)
        return _negated_core(var, ew.add(*cores))
    return False, var


def _negated_core(var, core):
    """``(True, core)`` if ``core`` has ``var``'s dtype and rank, else ``(False, var)``."""
    if core.dtype == var.dtype and core.ndim == var.ndim:
        return True, core
    return False, var


def _signed(negated: bool, core):
    return ew.neg(core) if negated else core


def _sigmoid_of(x, negate: bool = False):
    """``sigmoid(x)`` (``sigmoid(-x)`` if ``negate``) with its argument in the normal form of
    :func:`_split_sign`."""
    negated, core = _split_sign(x)
    return ew.sigmoid(_signed(negated != negate, core))


def _same_signed(a, b, opposite: bool) -> bool:
    """``a == b`` (``a == -b`` if ``opposite``), up to the negations :func:`_split_sign` sees."""
    negated_a, core_a = _split_sign(a)
    negated_b, core_b = _split_sign(b)
    return (negated_a != negated_b) == opposite and same_value(core_a, core_b)


def _one_plus_exp(var):
    """The z of ``1 + exp(z)`` or ``exp(z) + 1`` (of the dtype of ``exp(z)``, and so of
    ``sigmoid(z)``), else None."""
    if not is_op(var, ew.add):
        return None
    for one, e in (var.owner.inputs, reversed(var.owner.inputs)):
        if is_constant_value(one, 1) and is_op(e, ew.exp) and e.dtype == var.dtype:
            return e.owner.inputs[0]
    return None


def _small_power(var):
    """``k`` if ``var`` is ``b ** k`` for an integer constant ``1 <= |k| <= MAX_EXPANDED_POWER``."""
    if not is_op(var, ew.pow_):
        return None
    exponent = var.owner.inputs[1]
    value = constant_value(exponent)
    # one element: an exponent of more would broadcast the base, which k factors do not
    if value is None or exponent.data.size != 1 or value.dtype.kind not in "iuf":
        return None
    if not np.isfinite(value):
        return None
    k = float(value)
    if k != round(k) or not 1 <= abs(k) <= MAX_EXPANDED_POWER:
        return None
    return int(k)


_PRODUCT_OPS = (ew.mul, ew.true_div, ew.pow_)


def _inside_product(fgraph, var) -> bool:
    """``var`` is a factor that :func:`_ratio` flattens into the product of its client, whose
    root then rewrites the whole product."""
    dtype = var.dtype
    while True:
        clients = fgraph.clients.get(var, ())
        if len(clients) != 1:
            return False
        client, _ = next(iter(clients))
        if client == "output" or client.outputs[0].dtype != dtype:
            return False
        if client.op in (ew.mul, ew.true_div):
            return True
        if client.op != ew.neg:
            return False  # a power's base stays one factor (repeated, not flattened)
        var = client.outputs[0]


def _ratio(fgraph, node):
    """The product rooted at ``node`` as ``(numerator, denominator, negated)``: lists of
    factors through ``*``, ``/`` and negations (expanding only nodes used by nothing else),
    with a small integer power ``b ** k`` counted as ``|k|`` factors ``b`` (``b ** -2`` puts
    ``b`` twice in the denominator)."""
    out = node.outputs[0]
    num, den, negated = [], [], False
    stack = [(out, False)]
    while stack:
        var, below = stack.pop()
        expand = var is out or (var.dtype == out.dtype and single_client(fgraph, var))
        # a power's base is a factor whether or not the power has other clients
        k = _small_power(var) if var.dtype == out.dtype else None
        if expand and is_op(var, ew.mul):
            a, b = var.owner.inputs
            stack.extend([(b, below), (a, below)])
        elif expand and is_op(var, ew.true_div):
            p, q = var.owner.inputs
            stack.extend([(q, not below), (p, below)])
        elif expand and is_op(var, ew.neg):
            negated = not negated
            stack.append((var.owner.inputs[0], below))
        elif k is not None:
            (den if below != (k < 0) else num).extend([var.owner.inputs[0]] * abs(k))
        else:
            (den if below else num).append(var)
    return num, den, negated


def _broadcast_lengths(fgraph, terms, ndim: int):
    """Per axis of a rank-``ndim`` result (axes aligned on the right), the set of lengths
    that ``terms`` broadcast together, leaving out the length 1."""
    info = shape_info(fgraph)
    axes = [set() for _ in range(ndim)]
    for term in terms:
        dims = info.of(term)
        for axis, d in zip(range(ndim - len(dims), ndim), dims):
            length = info.find(d)
            if not (isinstance(length, int) and length == 1):
                axes[axis].add(length)
    return axes


def _rebuild(fgraph, out, old_terms, num, den, negated):
    """``[num[0] * num[1] ... / (den[0] * ...)]`` (negated) if it may replace ``out``, the
    product of ``old_terms``."""
    dtype = out.dtype
    for drop_ones in (True, False):
        top = [t for t in num if not (drop_ones and is_constant_value(t, 1))]
        bottom = [t for t in den if not (drop_ones and is_constant_value(t, 1))]
        if any(t.dtype != dtype for t in top + bottom if not isinstance(t, Constant)):
            return None  # regrouping would promote partial products differently
        new = chain(ew.mul, top) if top else _constant(np.ones((), dtype=dtype))
        if bottom:
            new = ew.true_div(new, chain(ew.mul, bottom))
        new = ew.neg(new) if negated else new
        if new.dtype != dtype or new.ndim != out.ndim:
            continue
        if keeps_shape(fgraph, out, new):
            return [new]
        # A product's shape is the broadcast of its factors' shapes, whatever their order:
        # the same lengths on every axis give the same shape, also where the shape analysis
        # (which names a broadcast of broadcasts anew) cannot follow a regrouping.
        before = _broadcast_lengths(fgraph, old_terms, out.ndim)
        if before == _broadcast_lengths(fgraph, top + bottom, out.ndim):
            return [new]
    return None


def _product_rewrite(fgraph, node, change):
    """Run ``change(num, den) -> bool`` on the flattened product at ``node`` (a float product,
    not part of a larger one) and rebuild it if it changed anything."""
    out = node.outputs[0]
    if not out.dtype.startswith("float") or _inside_product(fgraph, out):
        return None
    num, den, negated = _ratio(fgraph, node)
    old_terms = num + den
    if not change(num, den):
        return None
    return _rebuild(fgraph, out, old_terms, num, den, negated)


# --- 1 - sigmoid(x) ----------------------------------------------------------------------------
#
# ``1 - sigmoid(x)`` rounds to 0 once sigmoid(x) rounds to 1 (x > 37 in float64), where
# ``sigmoid(-x)`` keeps every digit. The absolute error is an ulp of 1 at most (1.1e-16), which
# a plain product such as a sigmoid's own gradient ``s * (1 - s)`` keeps small; there the
# complement reuses s, and writing it as sigmoid(-x) would compute a second sigmoid for every
# element. So the complement becomes sigmoid(-x) only where its relative error is amplified:
# as a divisor, beside a factor that can be huge (then it cancels or merges with it), and
# under a logarithm or a root. The stabilize pass converts the rest where that costs nothing
# (a graph output, a sigmoid read by nothing else, sigmoid(-x) already computed), and turns
# log(1 - sigmoid(x)) into a softplus.

#: functions whose slope is unbounded at 0: they amplify the error of an argument near 0
_STEEP_AT_ZERO = (ew.log2, ew.log10, ew.sqrt)

#: factors that can be huge in a numerator (exp(x) beside 1 - sigmoid(x) for large x)
_HUGE_FACTORS = (ew.exp, ew.exp2, ew.expm1, ew.sinh, ew.cosh)

#: factors that can be tiny in a denominator
_TINY_DIVISORS = (ew.exp, ew.exp2, ew.sigmoid)


def sigmoid_of_complement(var):
    """The ``sigmoid`` variable of ``1 - sigmoid(x)`` (also written ``1 + -sigmoid(x)`` or
    ``-sigmoid(x) + 1``) of the sigmoid's dtype, else None."""
    if is_op(var, ew.sub):
        one, s = var.owner.inputs
    elif is_op(var, ew.add):
        a, b = var.owner.inputs
        one, minus = (a, b) if isinstance(a, Constant) else (b, a)
        if not is_op(minus, ew.neg):
            return None
        s = minus.owner.inputs[0]
    else:
        return None
    if not is_op(s, ew.sigmoid) or s.dtype != var.dtype or not is_constant_value(one, 1):
        return None
    return s


def complement_as_sigmoid(var):
    """``sigmoid(-x)`` if ``var`` is ``1 - sigmoid(x)`` (see :func:`sigmoid_of_complement`),
    else None; its argument is in the normal form of :func:`_split_sign`, the form every
    logistic rewrite builds."""
    s = sigmoid_of_complement(var)
    if s is None:
        return None
    return _sigmoid_of(s.owner.inputs[0], negate=True)


def _is_op_in(var, ops) -> bool:
    return var.owner is not None and any(var.owner.op == op for op in ops)


#: how deep :func:`_reads` looks for one value inside another
_READS_DEPTH = 4


def _reads(var, target, depth: int = _READS_DEPTH) -> bool:
    """``var`` is ``target`` or is computed from it (within ``depth`` levels)."""
    if same_value(var, target):
        return True
    if depth == 0 or var.owner is None:
        return False
    return any(_reads(i, target, depth - 1) for i in var.owner.inputs)


def _related(term, x) -> bool:
    """``term`` (an exp, a sigmoid or ``1 + exp``) has an argument that grows with ``x``, or
    from which ``x`` is computed: ``exp(-x)``, ``exp(2 * x)``, ``sigmoid(x + b)``."""
    inner = term.owner.inputs[0] if _one_plus_exp(term) is None else _one_plus_exp(term)
    _, core = _split_sign(inner)
    _, x_core = _split_sign(x)
    return _reads(core, x_core) or _reads(x_core, core)


def _amplified(x, num, den) -> bool:
    """Beside ``1 - sigmoid(x)``, the product holds a factor of ``x`` that is huge where the
    complement is tiny: an exponential (or ``1 + exp``) above the line, an exponential or a
    sigmoid below it. A factor of something else (``exp(-abs(c))``) is not: the complement
    keeps its small absolute error there."""
    above = [t for t in num if _is_op_in(t, _HUGE_FACTORS) or _one_plus_exp(t) is not None]
    below = [t for t in den if _is_op_in(t, _TINY_DIVISORS)]
    return any(_related(t, x) for t in above + below)


def _complements_to_sigmoids(num, den) -> bool:
    changed = False
    for k, q in enumerate(den):
        replacement = complement_as_sigmoid(q)
        if replacement is not None:
            den[k] = replacement  # y / (1 - sigmoid(x)) is inf where sigmoid(x) rounds to 1
            changed = True
    for k, p in enumerate(num):
        s = sigmoid_of_complement(p)
        # s * (1 - s) and the like: an error of an ulp of 1 stays that small
        if s is not None and _amplified(s.owner.inputs[0], num, den):
            num[k] = _sigmoid_of(s.owner.inputs[0], negate=True)
            changed = True
    return changed


@local_rewrite("canonicalize", tracks=_PRODUCT_OPS)
def local_one_minus_sigmoid_factor(fgraph, node):
    """y / (1 - sigmoid(x)) -> y / sigmoid(-x); also times exp(x) or over a sigmoid"""
    # divided by, or multiplied with something huge, 1 - sigmoid(x) = 0 gives inf or 0 * inf;
    # as sigmoid(-x) it cancels (local_sigmoid_div_sigmoid) or merges with the exp
    # (local_sigmoid_times_exp). Registered before those: in y / s * s * (1 - s), the gradient
    # of log(sigmoid(x)), the s below the line must be seen before s / s cancels.
    return _product_rewrite(fgraph, node, _complements_to_sigmoids)


@local_rewrite("canonicalize", tracks=[*_STEEP_AT_ZERO, ew.pow_])
def local_one_minus_sigmoid_steep(fgraph, node):
    """sqrt(1 - sigmoid(x)) -> sqrt(sigmoid(-x)); also log2, log10 and powers below 1"""
    # log itself is left to stabilize (log(1 - sigmoid(x)) -> -softplus(x))
    arg = node.inputs[0]
    if node.op == ew.pow_:
        exponent = node.inputs[1]
        if isinstance(exponent, Constant) and not np.all(exponent.data < 1):
            return None  # (1 - s) ** 2 keeps the small absolute error small
    replacement = complement_as_sigmoid(arg)
    if replacement is None:
        return None
    return checked(fgraph, node.outputs[0], node.op(replacement, *node.inputs[1:]))


# --- the logistic function in products ---------------------------------------------------------


def _inv_1_plus_exp(num, den) -> bool:
    changed = False
    for q in list(den):
        z = _one_plus_exp(q)
        if z is not None:
            den.remove(q)
            num.append(_sigmoid_of(z, negate=True))
            changed = True
    return changed


@local_rewrite("canonicalize", tracks=_PRODUCT_OPS)
def local_inv_1_plus_exp(fgraph, node):
    """c / (1 + exp(-x)) -> c * sigmoid(x); also (1 + exp(-x)) ** -2 and inside products"""
    return _product_rewrite(fgraph, node, _inv_1_plus_exp)


def _exp_partner(s, same, other):
    """Where the ``exp`` that turns sigmoid ``s`` into the other sigmoid is: ``(list, index,
    sigmoid)`` for ``exp(-x)`` beside ``sigmoid(x)`` or ``exp(x)`` across the fraction from it."""
    (x,) = s.owner.inputs
    for terms, opposite in ((same, True), (other, False)):
        for k, e in enumerate(terms):
            if e is s or not is_op(e, ew.exp) or e.dtype != s.dtype:
                continue
            if _same_signed(e.owner.inputs[0], x, opposite):
                return terms, k, _sigmoid_of(x, negate=True)
    return None


def _sigmoid_times_exp(num, den) -> bool:
    changed = False
    for same, other in ((num, den), (den, num)):
        k = 0
        while k < len(same):
            s = same[k]
            found = _exp_partner(s, same, other) if is_op(s, ew.sigmoid) else None
            if found is None:
                k += 1
                continue
            terms, j, replacement = found
            same[k] = replacement
            del terms[j]
            changed = True
            k = 0 if terms is same else k  # a deletion before k moved the sigmoids
    return changed


@local_rewrite("canonicalize", tracks=_PRODUCT_OPS)
def local_sigmoid_times_exp(fgraph, node):
    """sigmoid(x) * exp(-x) -> sigmoid(-x); sigmoid(x) / exp(x) -> sigmoid(-x)"""
    return _product_rewrite(fgraph, node, _sigmoid_times_exp)


def _index(terms, match):
    """The position of the first term ``match`` accepts, else None."""
    for k, term in enumerate(terms):
        if match(term):
            return k
    return None


def _cancel_sigmoids(num, den) -> bool:
    changed = False
    for q in list(den):
        if not is_op(q, ew.sigmoid):
            continue
        k = _index(num, lambda p: is_op(p, ew.sigmoid) and p.dtype == q.dtype and same_value(p, q))
        if k is not None:
            del num[k]
            den.remove(q)
            changed = True
    for q in list(num):
        z = _one_plus_exp(q)
        if z is None:
            continue
        # (1 + exp(z)) * sigmoid(-z) == 1
        k = _index(num, lambda p: is_op(p, ew.sigmoid) and p.dtype == q.dtype
                   and _same_signed(p.owner.inputs[0], z, opposite=True))
        if k is not None:
            del num[k]
            num.remove(q)
            changed = True
    return changed


@local_rewrite("canonicalize", tracks=_PRODUCT_OPS)
def local_sigmoid_div_sigmoid(fgraph, node):
    """(y / sigmoid(x)) * sigmoid(x) -> y; (1 + exp(-x)) * sigmoid(x) -> 1"""
    # sigmoid(x) underflows to 0 for very negative x: 0 / 0 in a gradient is nan
    return _product_rewrite(fgraph, node, _cancel_sigmoids)


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
