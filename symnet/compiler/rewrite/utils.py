"""Pipeline stage 2 helpers: small questions rewrites ask about a graph.

Which scalar value a constant holds, which op made a variable, how sums and products
flatten, and whether two variables provably have the same runtime shape (:class:`ShapeInfo`,
a small version of Theano's shape feature: enough to see that a gradient already has the
shape ``sum_to_shape`` or ``alloc`` would give it).
"""

from __future__ import annotations

import weakref

import numpy as np

from symnet.graph import Constant, Variable, constant
from symnet.ops import elemwise as ew
from symnet.ops.shape import DimShuffle, MakeVector, Shape, ShapeI

#: constants (and constant folds) larger than this many elements are not created
MAX_CONSTANT_SIZE = 1_000_000


def is_op(var: Variable, op) -> bool:
    """True if ``var`` is the output of ``op`` (an op instance, compared by props)."""
    return var.owner is not None and var.owner.op == op


def is_op_class(var: Variable, cls) -> bool:
    """True if ``var`` is the output of an op of class ``cls``."""
    return var.owner is not None and isinstance(var.owner.op, cls)


def constant_value(var: Variable):
    """The one value every element of the Constant ``var`` holds, as a 0-d array, or None."""
    if not isinstance(var, Constant) or var.data.size == 0:
        return None
    flat = var.data.reshape(-1)
    first = flat[0]
    if var.data.size > 1 and not np.all(flat == first):
        return None
    return np.asarray(first)


def is_constant_value(var: Variable, value) -> bool:
    """True if ``var`` is a non-empty Constant whose elements all equal ``value``."""
    data = constant_value(var)
    if data is None:
        return False
    return bool(data == value)


def constant_like(value, dtype: str, ndim: int) -> Constant:
    """A Constant of ``dtype`` holding ``value`` with ``ndim`` length-1 axes."""
    return constant(np.full((1,) * ndim, value, dtype=dtype))


def same_value(a: Variable, b: Variable, depth: int = 4) -> bool:
    """True when ``a`` and ``b`` are provably the same value: the same variable, equal
    constants, or outputs of equal ops on inputs that are (recursively, ``depth`` levels)."""
    if a is b:
        return True
    if isinstance(a, Constant) and isinstance(b, Constant):
        return a.signature() == b.signature()
    if depth == 0 or a.owner is None or b.owner is None or a.index != b.index:
        return False
    if getattr(a.owner.op, "nondeterministic", False) or a.owner.op != b.owner.op:
        return False
    return len(a.owner.inputs) == len(b.owner.inputs) and all(
        same_value(x, y, depth - 1) for x, y in zip(a.owner.inputs, b.owner.inputs)
    )


def dimshuffle(var: Variable, order: tuple) -> Variable:
    """``var`` dimshuffled by ``order``; a constant is rearranged here rather than by a node."""
    if isinstance(var, Constant):
        return constant(DimShuffle(tuple(order)).perform([var.data])[0])
    return DimShuffle(tuple(order))(var)


def negate(var: Variable) -> Variable:
    """``-var``, removing a double negation instead of adding one."""
    if is_op(var, ew.neg):
        return var.owner.inputs[0]
    return ew.neg(var)


# --- sums and products -------------------------------------------------------------------------


def single_client(fgraph, var) -> bool:
    """``var`` is read by exactly one node (and is not a graph output)."""
    clients = fgraph.clients.get(var, ())
    return len(clients) == 1 and next(iter(clients))[0] != "output"


def expandable(fgraph, var, op, dtype) -> bool:
    """``var`` is an ``op`` node of ``dtype`` used only by the tree being flattened."""
    return is_op(var, op) and var.dtype == dtype and single_client(fgraph, var)


def collect_terms(fgraph, node, op, pull_neg: bool):
    """Leaves of the tree of ``op`` nodes under ``node`` (left to right), whether an odd number
    of negations was pulled out of it, and how many were."""
    dtype = node.outputs[0].dtype
    terms, sign, pulled = [], False, 0
    stack = list(reversed(node.inputs))
    while stack:
        var = stack.pop()
        if expandable(fgraph, var, op, dtype):
            stack.extend(reversed(var.owner.inputs))
        elif pull_neg and expandable(fgraph, var, ew.neg, dtype):
            sign = not sign
            pulled += 1
            stack.append(var.owner.inputs[0])
        else:
            terms.append(var)
    return terms, sign, pulled


def inside_tree(fgraph, var, op, pull_neg: bool = False) -> bool:
    """``var`` (an ``op`` result) is flattened into the tree of its client, whose root then
    rewrites the whole tree: rewriting ``var`` on its own would only repeat that work."""
    dtype = var.dtype
    while True:
        clients = fgraph.clients.get(var, ())
        if len(clients) != 1:
            return False
        client = next(iter(clients))[0]
        if client == "output":
            return False
        if client.outputs[0].dtype != dtype:
            return False
        if client.op == op:
            return True
        if not (pull_neg and client.op == ew.neg):
            return False
        var = client.outputs[0]


def term_key(var):
    """Equal keys mean equal values: the same variable, equal constants, or outputs of equal
    ops on the very same inputs (what cse would merge)."""
    if isinstance(var, Constant):
        return ("constant", var.signature())
    owner = var.owner
    if owner is None or getattr(owner.op, "nondeterministic", False):
        return ("variable", id(var))
    return ("node", owner.op, var.index, tuple(id(i) for i in owner.inputs))


class TermIndex:
    """Positions of terms by :func:`term_key`, to find an equal term in constant time."""

    def __init__(self, terms):
        self.positions: dict = {}
        for k, term in enumerate(terms):
            self.positions.setdefault(term_key(term), []).append(k)

    def find(self, var, exclude=()):
        """The first position holding a term equal to ``var``, skipping ``exclude``."""
        for k in self.positions.get(term_key(var), ()):
            if k not in exclude:
                return k
        return None


def chain(op, terms):
    """The left-nested chain ``op(op(t0, t1), t2)...`` of ``terms``."""
    out = terms[0]
    for term in terms[1:]:
        out = op(out, term)
    return out


# --- shapes -------------------------------------------------------------------------------------


class Dim:
    """A length not known statically. Dims that unify (see :class:`ShapeInfo`) are equal.

    ``origin`` describes where the length comes from; ``label`` is the short name other Dims
    use for it in their own ``origin`` (the same text unless given).
    """

    __slots__ = ("origin", "label")

    def __init__(self, origin: str, label: str | None = None):
        self.origin = origin
        self.label = origin if label is None else label

    def __repr__(self):
        return f"Dim({self.origin})"


class ShapeInfo:
    """What a graph says about shapes, one symbolic length per axis (Theano's shape feature,
    small): static lengths are ints, other lengths :class:`Dim` objects.

    Lengths are derived op by op (elementwise ops broadcast, dimshuffle permutes, dot keeps
    the outer axes, ``alloc`` and ``sum_to_shape`` take their shape vector, ...) and made
    equal where an op requires equality at run time: the summed axes of a dot, labels and
    class scores. Such a requirement is trusted once seen in the graph, as Theano does: a
    rewrite may drop a check that only invalid inputs would have failed.
    """

    MAX_ROUNDS = 10

    def __init__(self, fgraph):
        self.parent: dict = {}
        self.fresh: dict = {}
        self.bcast: dict = {}
        self.dims: dict = {}
        self.inputs = list(fgraph.inputs)
        self._assumed: list = []
        for _ in range(self.MAX_ROUNDS):
            # a later equality can merge what an earlier broadcast kept apart: redo until stable
            self.dims = {}
            changed = False
            for node in fgraph.toposort():
                changed |= self._visit(node)
            if not changed:
                break

    # --- union-find over lengths ---------------------------------------------------------
    def find(self, d):
        if isinstance(d, int):
            return d
        root = d
        while not isinstance(root, int) and root in self.parent:
            root = self.parent[root]
        while d is not root and not isinstance(d, int) and d in self.parent:
            self.parent[d], d = root, self.parent[d]
        return root

    def unify(self, a, b) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra is rb or (isinstance(ra, int) and isinstance(rb, int)):
            return False  # equal already, or two different ints: the run-time check will fail
        if isinstance(ra, int):
            self.parent[rb] = ra
        else:
            self.parent[ra] = rb
        return True

    def equal(self, a, b) -> bool:
        ra, rb = self.find(a), self.find(b)
        if isinstance(ra, int) or isinstance(rb, int):
            return ra == rb
        return ra is rb

    # --- what Op.infer_shape calls ---------------------------------------------------------
    def assume_equal(self, a, b) -> None:
        """Record that lengths ``a`` and ``b`` are equal (the op checks it at run time)."""
        self._assumed.append((a, b))

    def fresh(self, var, axis: int):
        """The length of ``var``'s ``axis`` when nothing else determines it."""
        return self._fresh(var, axis)

    def broadcast(self, column: list, out, axis: int):
        """The length of ``out``'s ``axis`` broadcast from the inputs' lengths ``column``."""
        return self._broadcast(column, out, axis)

    def from_vector(self, vec, out) -> tuple:
        """The lengths of ``out``'s axes as held by the shape vector ``vec``."""
        return self._from_vector(vec, out)

    def scalar(self, s):
        """The length the 0-d int variable ``s`` holds, or None if it is not one we can name."""
        return self._scalar(s)

    def _fresh(self, var, axis: int):
        static = var.type.shape[axis]
        if static is not None:
            return static
        per_var = self.fresh.setdefault(var, {})
        if axis not in per_var:
            per_var[axis] = Dim(f"{var.name or var.type.short()}[{axis}]")
        return per_var[axis]

    def _own(self, var) -> tuple:
        return tuple(self._fresh(var, k) for k in range(var.ndim))

    # --- derivation -----------------------------------------------------------------------
    def of(self, var) -> tuple:
        """The lengths of ``var``'s axes (computing them for new variables on demand)."""
        if var in self.dims:
            return self.dims[var]
        stack = [var]
        while stack:
            top = stack[-1]
            if top in self.dims:
                stack.pop()
                continue
            node = top.owner
            if node is None:
                self.dims[top] = self._own(top)
                stack.pop()
                continue
            missing = [i for i in self._needed(node) if i not in self.dims]
            if missing:
                stack.extend(missing)
                continue
            self._visit(node)
            stack.pop()
        return self.dims[var]

    def _needed(self, node) -> list:
        """The variables whose lengths the rule for ``node`` reads."""
        needed = list(node.inputs)
        for inp in node.inputs:
            owner = inp.owner
            if owner is not None and isinstance(owner.op, (Shape, MakeVector)):
                needed.extend(owner.inputs)
                for part in owner.inputs:
                    if part.owner is not None and isinstance(part.owner.op, ShapeI):
                        needed.extend(part.owner.inputs)
            elif owner is not None and isinstance(owner.op, ShapeI):
                needed.extend(owner.inputs)
        return needed

    def _dims_now(self, var) -> tuple:
        if var not in self.dims:
            self.dims[var] = self._own(var) if var.owner is None else self.of(var)
        return self.dims[var]

    def length(self, s):
        """The length a 0-d int variable holds (an int or a Dim), or None if not a length."""
        if s.owner is not None and isinstance(s.owner.op, ShapeI):
            self.of(s.owner.inputs[0])
        return self._scalar(s)

    def _scalar(self, s):
        """The length a 0-d int variable holds, if it is one we can name."""
        if isinstance(s, Constant) and s.ndim == 0 and s.dtype.startswith(("int", "uint")):
            return int(s.data)
        if s.owner is not None and isinstance(s.owner.op, ShapeI):
            return self._dims_now(s.owner.inputs[0])[s.owner.op.i]
        return None

    def vector(self, vec) -> tuple | None:
        """The lengths a shape vector holds (None entries where unknown), or None."""
        if vec.ndim != 1 or vec.type.shape[0] is None:
            return None
        if isinstance(vec, Constant):
            return tuple(int(s) if s >= 0 else None for s in vec.data)
        owner = vec.owner
        if owner is not None and isinstance(owner.op, Shape):
            return self._dims_now(owner.inputs[0])
        if owner is not None and isinstance(owner.op, MakeVector):
            return tuple(self._scalar(p) for p in owner.inputs)
        return (None,) * vec.type.shape[0]

    def _from_vector(self, vec, out) -> tuple:
        found = self.vector(vec) or (None,) * out.ndim
        return tuple(self._fresh(out, k) if d is None else d for k, d in enumerate(found))

    def _broadcast(self, column: list, out, axis: int):
        roots = []
        for d in column:
            r = self.find(d)
            if r == 1 or any(r is s or (isinstance(r, int) and r == s) for s in roots):
                continue
            roots.append(r)
        if not roots:
            return 1
        if len(roots) == 1:
            return roots[0]
        known = [r for r in roots if isinstance(r, int)]
        if known:
            return known[0]
        key = frozenset(roots)
        if key not in self.bcast:
            # name the parts by label, not by origin: a broadcast of broadcasts spelling out
            # its parts' origins doubles the text at every level, and a running value that
            # feeds several branches step after step made that text exponential in the steps
            label = f"broadcast#{len(self.bcast)}"
            parts = ", ".join(sorted(r.label for r in roots))
            self.bcast[key] = Dim(f"{label}[{parts}]", label)
        return self.bcast[key]

    def _visit(self, node) -> bool:
        """Derive the lengths of ``node``'s outputs (``Op.infer_shape``); True if an equality
        was learned."""
        ins = [self._dims_now(i) for i in node.inputs]
        outs = node.outputs
        outer, self._assumed = self._assumed, []  # infer_shape may visit other nodes
        try:
            result = node.op.infer_shape(node, ins, self)
            equal = self._assumed
        finally:
            self._assumed = outer
        if result is None:
            result = [self._own(out) for out in outs]
        changed = False
        for out, dims in zip(outs, result):
            if len(dims) != out.ndim:
                dims = self._own(out)
            for d, static in zip(dims, out.type.shape):
                if static is not None:
                    changed |= self.unify(d, static)
            self.dims[out] = dims
        for a, b in equal:
            changed |= self.unify(a, b)
        return changed

    # --- questions ------------------------------------------------------------------------
    def same(self, a, b) -> bool:
        da, db = self.of(a), self.of(b)
        return len(da) == len(db) and all(self.equal(x, y) for x, y in zip(da, db))

    def static(self, var) -> tuple:
        """``var``'s lengths that are known ints (None elsewhere)."""
        return tuple(r if isinstance(r, int) else None for r in map(self.find, self.of(var)))

    def matches_vector(self, var, vec) -> bool:
        found = self.vector(vec)
        if found is None or len(found) != var.ndim or any(d is None for d in found):
            return False
        return all(self.equal(x, y) for x, y in zip(self.of(var), found))

    def input_with_shape(self, var):
        """A graph input (or shared variable) with exactly ``var``'s lengths, or None."""
        for inp in self.inputs:
            if inp is not var and inp.ndim == var.ndim and self.same(inp, var):
                return inp
        return None

    def input_with_length(self, var, axis: int):
        """``(input, axis)`` of a graph input whose length equals ``var``'s on ``axis``."""
        target = self.of(var)[axis]
        for inp in self.inputs:
            if inp is var:
                continue
            dims = self.of(inp)
            order = [axis] if axis < len(dims) else []
            order += [k for k in range(len(dims)) if k != axis]
            for k in order:
                if self.equal(dims[k], target):
                    return inp, k
        return None


_SHAPE_INFO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def shape_info(fgraph) -> ShapeInfo:
    """The :class:`ShapeInfo` of ``fgraph``, built on first use."""
    info = _SHAPE_INFO.get(fgraph)
    if info is None:
        info = ShapeInfo(fgraph)
        _SHAPE_INFO[fgraph] = info
    return info


def forget_shapes(fgraph) -> None:
    """Drop the :class:`ShapeInfo` of ``fgraph`` (rewriting is over)."""
    _SHAPE_INFO.pop(fgraph, None)


def same_shape(fgraph, a: Variable, b: Variable) -> bool:
    """True when ``a`` and ``b`` provably have the same runtime shape."""
    if a is b:
        return True
    if a.ndim != b.ndim:
        return False
    if None not in a.type.shape and a.type.shape == b.type.shape:
        return True
    return shape_info(fgraph).same(a, b)


def has_shape_of_vector(fgraph, var: Variable, vec: Variable) -> bool:
    """True when ``var``'s runtime shape provably equals the shape vector ``vec``."""
    return shape_info(fgraph).matches_vector(var, vec)


def keeps_shape(fgraph, old: Variable, new: Variable) -> bool:
    """True when ``new`` may replace ``old``: same dtype, rank and (provably) shape."""
    return old.dtype == new.dtype and old.ndim == new.ndim and same_shape(fgraph, old, new)


def checked(fgraph, old: Variable, new: Variable):
    """``[new]`` if it may replace ``old`` (see :func:`keeps_shape`), else None."""
    if keeps_shape(fgraph, old, new):
        return [new]
    return None
