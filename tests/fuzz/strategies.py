"""Hypothesis strategies for random well-typed symnet programs.

A :class:`Program` is a few typed inputs with concrete values and a list of output
expressions. Every expression is built twice as it is drawn: as a symnet graph and, eagerly,
as the same NumPy computation on the input values, so the strategy only ever picks operands
whose shapes and dtypes NumPy accepts, and the NumPy value is the reference the test compares
against.

Each :class:`Node` also carries what the checks need to avoid false alarms:

- ``level``: how reproducible the value is bit for bit. 2 for inputs and exact moves (shape ops,
  indexing, max, comparisons), 1 after one IEEE operation on level-2 operands, 0 after anything
  whose rounding a backend may change (transcendentals, sums, rewritten arithmetic).
  Discontinuous ops (comparisons, floor, casts to int, argmax) only take operands of level >= 1,
  so a last-bit difference between backends never flips a branch.
- ``smooth``: differentiable without kinks with respect to the float64 inputs it depends on
  (``f64``), so finite differences can check its gradient.

Values stay small: a step whose NumPy value is not finite or exceeds ``LIMIT`` in magnitude is
replaced by its first operand, which keeps overflow and cancellation out of the comparisons.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import symnet.tensor as T

LIMIT = 1e3
DTYPES = ("float64", "float32", "int32", "int64")


class Node:
    """One expression: its symnet variable, its NumPy value and how it was built."""

    def __init__(self, sym, value, text, level, smooth, f64, is_input=False, loose=False):
        self.sym = sym
        # a float32 value somewhere in its computation: float32 tolerance, whatever its dtype
        self.loose = loose or value.dtype == np.float32
        self.value = value
        self.text = text
        self.level = level
        self.smooth = smooth
        self.f64 = f64  # depends on a float64 input
        self.is_input = is_input

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    @property
    def shape(self) -> tuple:
        return self.value.shape

    @property
    def is_float(self) -> bool:
        return self.value.dtype.kind == "f"

    def __repr__(self):
        return self.text

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.text)


class Program:
    """Inputs (nodes holding the symbolic inputs), their values, the output nodes, and whether
    float values were drawn from a continuous range (no ties)."""

    def __init__(self, inputs, values, outputs, continuous):
        self.inputs = inputs
        self.values = values
        self.outputs = outputs
        self.continuous = continuous

    def _repr_pretty_(self, printer, cycle):  # how Hypothesis prints a falsifying example
        printer.text(repr(self))

    def __repr__(self):
        lines = ["Program("]
        for node, value in zip(self.inputs, self.values):
            sym = node.sym
            lines.append(f"  {sym.name}: {sym.type.short()} = np.{np.asarray(value)!r},")
        for i, out in enumerate(self.outputs):
            lines.append(f"  out{i} = {out.text},")
        lines.append(f"  continuous={self.continuous})")
        return "\n".join(lines)


def _is_ok(value: np.ndarray) -> bool:
    if value.dtype.kind not in "biuf":
        return False
    if value.size == 0 or value.dtype.kind == "b":
        return True
    as_float = value.astype("float64")
    return bool(np.all(np.isfinite(as_float)) and np.max(np.abs(as_float)) <= LIMIT)


def _numpy(fn, *args):
    with np.errstate(all="ignore"):
        return np.asarray(fn(*args))


# --- the op table --------------------------------------------------------------------------------
# name: (symnet function, numpy function, smooth, kind); kind says what the result's level is:
# "exact" keeps the operands' level, "ieee" is one rounding (level 1 from level-2 floats),
# "inexact" is level 0 for floats.

UNARY = {
    "neg": (T.neg, np.negative, True, "exact"),
    "abs": (T.abs_, np.abs, False, "exact"),
    "sqr": (T.sqr, np.square, True, "ieee"),
    "exp": (T.exp, np.exp, True, "inexact"),
    "tanh": (T.tanh, np.tanh, True, "inexact"),
    "sin": (T.sin, np.sin, True, "inexact"),
    "cos": (T.cos, np.cos, True, "inexact"),
    "sigmoid": (T.sigmoid, lambda a: 1 / (1 + np.exp(-a)), True, "inexact"),
    "softplus": (T.softplus, lambda a: np.logaddexp(0, a), True, "inexact"),
    "expm1": (T.expm1, np.expm1, True, "inexact"),
    "arctan": (T.arctan, np.arctan, True, "inexact"),
}
# unary ops with a restricted domain, applied to a guarded operand: (guard text, guard)
GUARDED = {
    "log": (lambda s: T.log(1 + T.sqr(s)), lambda a: np.log(1 + np.square(a)), "log((1 + sqr({})))"),
    "log1p": (lambda s: T.log1p(T.sqr(s)), lambda a: np.log1p(np.square(a)), "log1p(sqr({}))"),
    "sqrt": (lambda s: T.sqrt(T.abs_(s) + 0.5), lambda a: np.sqrt(np.abs(a) + 0.5),
             "sqrt((abs({}) + 0.5))"),
    "arcsin": (lambda s: T.arcsin(T.tanh(s) * 0.5), lambda a: np.arcsin(np.tanh(a) * 0.5),
               "arcsin((tanh({}) * 0.5))"),
}
# discontinuous unary ops: operands must be reproducible (level >= 1)
STEP = {
    "sign": (T.sign, np.sign),
    "floor": (T.floor, np.floor),
    "ceil": (T.ceil, np.ceil),
    "round_": (T.round_, np.round),
}
BINARY = {
    "add": (T.add, np.add, True, "ieee", "+"),
    "sub": (T.sub, np.subtract, True, "ieee", "-"),
    "mul": (T.mul, np.multiply, True, "ieee", "*"),
    "true_div": (T.true_div, np.true_divide, True, "inexact", "/"),
    "maximum": (T.maximum, np.maximum, False, "exact", None),
    "minimum": (T.minimum, np.minimum, False, "exact", None),
}
COMPARE = {
    "lt": (T.lt, np.less, "<"),
    "gt": (T.gt, np.greater, ">"),
    "le": (T.le, np.less_equal, "<="),
    "ge": (T.ge, np.greater_equal, ">="),
    "eq": (T.eq, np.equal, None),
    "neq": (T.neq, np.not_equal, None),
}
INT_BINARY = {
    "floor_div": (T.floor_div, np.floor_divide, "//"),
    "mod": (T.mod, np.mod, "%"),
}
BOOL_BINARY = {
    "and_": (T.and_, np.logical_and, "&"),
    "or_": (T.or_, np.logical_or, "|"),
    "xor": (T.xor, np.logical_xor, "^"),
}
REDUCE = {
    "sum": (T.sum, np.sum, True, "inexact"),
    "prod": (T.prod, np.prod, True, "inexact"),
    "mean": (T.mean, np.mean, True, "inexact"),
    "max": (T.max, np.max, False, "exact"),
    "min": (T.min, np.min, False, "exact"),
}


def _level(kind: str, args: list) -> int:
    low = min(a.level for a in args)
    if kind == "exact":
        return low
    floats = any(a.is_float for a in args)
    if not floats:
        return low  # integer arithmetic is exact (values stay far from overflow)
    if kind == "ieee":
        return 1 if low == 2 else 0
    return 0


def _smooth(op_smooth: bool, args: list) -> bool:
    return op_smooth and all(a.smooth or not a.f64 for a in args)


class Builder:
    """Draws one program step by step from a Hypothesis ``draw``."""

    def __init__(self, draw, continuous: bool):
        self.draw = draw
        self.continuous = continuous
        self.pool: list[Node] = []

    # small helpers -----------------------------------------------------------------------------
    def pick(self, candidates=None) -> Node:
        candidates = self.pool if candidates is None else candidates
        return candidates[self.draw(st.integers(0, len(candidates) - 1))]

    def make(self, sym, value, text, level, smooth, args, fallback=None) -> Node:
        value = np.asarray(value)
        if not _is_ok(value):
            return fallback if fallback is not None else args[0]
        assert sym.dtype == value.dtype.name, (text, sym.dtype, value.dtype)
        assert sym.ndim == value.ndim, (text, sym.ndim, value.shape)
        f64 = any(a.f64 for a in args)
        node = Node(sym, value, text, level, smooth and (value.dtype.name == "float64" or not f64),
                    f64, loose=any(a.loose for a in args))
        self.pool.append(node)
        return node

    def scalar_constant(self, like: Node):
        """A Python number that NumPy treats as a weak scalar."""
        if like.is_float:
            return self.draw(st.sampled_from([2.0, 0.5, -1.5, 3.0, 0.0, 1.0]))
        return self.draw(st.sampled_from([2, -1, 3, 0, 1]))

    # the steps ---------------------------------------------------------------------------------
    def step(self) -> Node:
        kind = self.draw(st.sampled_from([
            "binary", "unary", "reduce", "binary", "index", "shape", "compare_switch", "guarded",
            "scalar", "dot", "concat", "step", "advanced", "set_inc", "int_binary", "argmax",
            "cast", "logsumexp", "bool",
        ]))
        return getattr(self, "step_" + kind)()

    def step_unary(self) -> Node:
        name = self.draw(st.sampled_from(sorted(UNARY)))
        fn, ref, smooth, kind = UNARY[name]
        a = self.pick()
        if name not in ("neg", "abs", "sqr") and not a.is_float:
            name, (fn, ref, smooth, kind) = "neg", UNARY["neg"]
        if a.dtype.kind == "b":
            return a
        return self.make(fn(a.sym), _numpy(ref, a.value), f"{name}({a})", _level(kind, [a]),
                         _smooth(smooth, [a]), [a])

    def step_guarded(self) -> Node:
        name = self.draw(st.sampled_from(sorted(GUARDED)))
        fn, ref, text = GUARDED[name]
        a = self.pick([n for n in self.pool if n.is_float] or self.pool)
        if not a.is_float:
            return a
        return self.make(fn(a.sym), _numpy(ref, a.value), text.format(a), 0, _smooth(name != "sqrt", [a]), [a])

    def step_step(self) -> Node:
        name = self.draw(st.sampled_from(sorted(STEP)))
        fn, ref = STEP[name]
        a = self.pick([n for n in self.pool if n.level >= 1 and n.dtype.kind != "b"] or self.pool)
        if a.level < 1 or a.dtype.kind == "b" or (name != "sign" and not a.is_float):
            return a
        return self.make(fn(a.sym), _numpy(ref, a.value), f"{name}({a})", a.level, False, [a])

    def _broadcast_partner(self, a: Node, pred=lambda n: True) -> Node | None:
        partners = []
        for n in self.pool:
            try:
                np.broadcast_shapes(a.shape, n.shape)
            except ValueError:
                continue
            if pred(n):
                partners.append(n)
        return self.pick(partners) if partners else None

    def step_binary(self) -> Node:
        name = self.draw(st.sampled_from(sorted(BINARY)))
        fn, ref, smooth, kind, infix = BINARY[name]
        a = self.pick()
        b = self._broadcast_partner(a)
        if b is None or (a.dtype.kind == "b" and b.dtype.kind == "b"):
            return a
        text = f"({a} {infix} {b})" if infix else f"{name}({a}, {b})"
        return self.make(fn(a.sym, b.sym), _numpy(ref, a.value, b.value), text,
                         _level(kind, [a, b]), _smooth(smooth, [a, b]), [a, b])

    def step_scalar(self) -> Node:
        name = self.draw(st.sampled_from(["add", "sub", "mul", "true_div", "maximum"]))
        fn, ref, smooth, kind, infix = BINARY[name]
        a = self.pick([n for n in self.pool if n.dtype.kind != "b"] or self.pool)
        if a.dtype.kind == "b":
            return a
        c = self.scalar_constant(a)
        if name == "true_div" and c == 0:
            c = 2
        if self.draw(st.booleans()):
            sym, value = fn(a.sym, c), _numpy(ref, a.value, c)
            text = f"({a} {infix} {c!r})" if infix else f"{name}({a}, {c!r})"
        else:
            sym, value = fn(c, a.sym), _numpy(ref, c, a.value)
            text = f"({c!r} {infix} {a})" if infix else f"{name}({c!r}, {a})"
        return self.make(sym, value, text, _level(kind, [a]), _smooth(smooth, [a]), [a])

    def step_int_binary(self) -> Node:
        name = self.draw(st.sampled_from(sorted(INT_BINARY)))
        fn, ref, infix = INT_BINARY[name]
        exact = [n for n in self.pool if n.level >= 1 and n.dtype.kind != "b"]
        if not exact:
            return self.pool[-1]
        a = self.pick(exact)
        b = self._broadcast_partner(a, lambda n: n.level >= 1 and n.dtype.kind != "b")
        if b is None:
            return a
        if self.draw(st.booleans()):
            c = self.draw(st.sampled_from([2, 3, -2]))
            return self.make(fn(a.sym, c), _numpy(ref, a.value, c), f"({a} {infix} {c})", a.level,
                             False, [a])
        return self.make(fn(a.sym, b.sym), _numpy(ref, a.value, b.value), f"({a} {infix} {b})",
                         min(a.level, b.level), False, [a, b])

    def step_compare_switch(self) -> Node:
        name = self.draw(st.sampled_from(sorted(COMPARE)))
        fn, ref, infix = COMPARE[name]
        exact = [n for n in self.pool if n.level >= 1]
        if not exact:
            return self.pool[-1]
        a = self.pick(exact)
        b = self._broadcast_partner(a, lambda n: n.level >= 1)
        if b is None:
            return a
        text = f"({a} {infix} {b})" if infix else f"{name}({a}, {b})"
        cond = self.make(fn(a.sym, b.sym), _numpy(ref, a.value, b.value), text, 2, True, [a, b])
        if not self.draw(st.booleans()):
            return cond
        x = self._broadcast_partner(cond)
        y = self._broadcast_partner(cond) if x is not None else None
        if x is None or y is None:
            return cond
        try:
            np.broadcast_shapes(cond.shape, x.shape, y.shape)
        except ValueError:
            return cond
        cond_node = Node(cond.sym, cond.value, cond.text, 2, True, False,  # no gradient path
                         loose=cond.loose)
        return self.make(T.switch(cond.sym, x.sym, y.sym), _numpy(np.where, cond.value, x.value, y.value),
                         f"switch({cond}, {x}, {y})", _level("exact", [x, y]),
                         _smooth(True, [x, y]), [x, y, cond_node])

    def step_bool(self) -> Node:
        bools = [n for n in self.pool if n.dtype.kind == "b"]
        if not bools:
            return self.step_compare_switch()
        a = self.pick(bools)
        if self.draw(st.booleans()):
            return self.make(T.invert(a.sym), _numpy(np.logical_not, a.value), f"~{a}", 2, False, [a])
        name = self.draw(st.sampled_from(sorted(BOOL_BINARY)))
        fn, ref, infix = BOOL_BINARY[name]
        b = self._broadcast_partner(a, lambda n: n.dtype.kind == "b")
        if b is None:
            return a
        return self.make(fn(a.sym, b.sym), _numpy(ref, a.value, b.value), f"({a} {infix} {b})", 2,
                         False, [a, b])

    def step_cast(self) -> Node:
        a = self.pick()
        dtype = self.draw(st.sampled_from(DTYPES))
        if np.dtype(dtype).kind in "iu" and a.is_float and a.level < 1:
            return a
        smooth = dtype == "float64" and a.dtype.name == "float64"
        return self.make(T.cast(a.sym, dtype), a.value.astype(dtype), f"cast({a}, {dtype!r})",
                         a.level if dtype != "float32" or a.dtype.name == "float32" else min(a.level, 1),
                         _smooth(smooth, [a]), [a])

    def _axes(self, ndim: int, multiple: bool = True):
        if ndim == 0 or self.draw(st.integers(0, 3)) == 0:
            return None
        if multiple and self.draw(st.booleans()):
            axes = sorted(set(self.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim))))
            return tuple(a - ndim if self.draw(st.booleans()) else a for a in axes)
        axis = self.draw(st.integers(0, ndim - 1))
        return axis - ndim if self.draw(st.booleans()) else axis

    @staticmethod
    def _reduced_size(shape, axis) -> int:
        if axis is None:
            return int(np.prod(shape))
        axes = axis if isinstance(axis, tuple) else (axis,)
        return int(np.prod([shape[a] for a in axes]))

    def step_reduce(self) -> Node:
        name = self.draw(st.sampled_from(sorted(REDUCE)))
        fn, ref, smooth, kind = REDUCE[name]
        a = self.pick()
        axis = self._axes(a.value.ndim)
        keepdims = self.draw(st.booleans())
        if name in ("max", "min", "mean") and self._reduced_size(a.shape, axis) == 0:
            name, (fn, ref, smooth, kind) = "sum", REDUCE["sum"]
        value = _numpy(lambda v: ref(v, axis=axis, keepdims=keepdims), a.value)
        return self.make(fn(a.sym, axis=axis, keepdims=keepdims), value,
                         f"{name}({a}, axis={axis}, keepdims={keepdims})", _level(kind, [a]),
                         _smooth(smooth, [a]), [a])

    def step_logsumexp(self) -> Node:
        a = self.pick([n for n in self.pool if n.is_float] or self.pool)
        axis = self._axes(a.value.ndim)
        keepdims = self.draw(st.booleans())
        if not a.is_float or self._reduced_size(a.shape, axis) == 0:
            return a

        def ref(v):
            m = np.max(v, axis=axis, keepdims=True)
            out = np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)) + m
            return out if keepdims else np.squeeze(out, axis=axis)

        return self.make(T.logsumexp(a.sym, axis=axis, keepdims=keepdims), _numpy(ref, a.value),
                         f"logsumexp({a}, axis={axis}, keepdims={keepdims})", 0,
                         _smooth(True, [a]), [a])

    def step_argmax(self) -> Node:
        exact = [n for n in self.pool if n.level >= 1 and n.dtype.kind != "b" and n.value.ndim >= 1]
        if not exact:
            return self.pool[-1]
        a = self.pick(exact)
        axis = self._axes(a.value.ndim, multiple=False)
        if self._reduced_size(a.shape, axis) == 0:
            return a
        name = self.draw(st.sampled_from(["argmax", "argmin"]))
        fn, ref = (T.argmax, np.argmax) if name == "argmax" else (T.argmin, np.argmin)
        keepdims = self.draw(st.booleans())
        value = _numpy(lambda v: ref(v, axis=axis, keepdims=keepdims), a.value)
        return self.make(fn(a.sym, axis=axis, keepdims=keepdims), value,
                         f"{name}({a}, axis={axis}, keepdims={keepdims})", 2, False, [a])

    def step_dot(self) -> Node:
        candidates = [n for n in self.pool if 1 <= n.value.ndim <= 2 and n.dtype.kind != "b"]
        if not candidates:
            return self.pool[-1]
        a = self.pick(candidates)
        k = a.shape[-1]
        partners = [n for n in candidates if n.shape[0] == k]
        use_matmul = self.draw(st.booleans())
        if partners and self.draw(st.booleans()):
            b = self.pick(partners)
            b_sym, b_val, b_text = b.sym, b.value, b.text
        else:
            b = a  # a with itself: a . a (vector) or a . a.T (matrix)
            if a.value.ndim == 2:
                b_sym, b_val, b_text = T.transpose(a.sym), a.value.T, f"transpose({a})"
            else:
                b_sym, b_val, b_text = a.sym, a.value, a.text
        if use_matmul:
            sym, value, text = T.matmul(a.sym, b_sym), _numpy(np.matmul, a.value, b_val), f"({a} @ {b_text})"
        else:
            sym, value, text = T.dot(a.sym, b_sym), _numpy(np.dot, a.value, b_val), f"dot({a}, {b_text})"
        return self.make(sym, value, text, _level("inexact", [a, b]), _smooth(True, [a, b]), [a, b])

    def step_shape(self) -> Node:
        kind = self.draw(st.sampled_from(["transpose", "dimshuffle", "reshape", "flatten",
                                          "expand_dims", "squeeze"]))
        a = self.pick()
        ndim = a.value.ndim
        if kind == "transpose":
            perm = tuple(self.draw(st.permutations(range(ndim))))
            return self.make(T.transpose(a.sym, perm), np.transpose(a.value, perm),
                             f"transpose({a}, {perm})", a.level, _smooth(True, [a]), [a])
        if kind == "dimshuffle":
            static = a.sym.type.shape
            kept = [d for d in range(ndim) if static[d] != 1 or self.draw(st.booleans())]
            pattern = list(self.draw(st.permutations(kept)))
            for _ in range(self.draw(st.integers(0, 2))):
                pattern.insert(self.draw(st.integers(0, len(pattern))), "x")
            dropped = [d for d in range(ndim) if d not in kept]
            value = np.squeeze(a.value, axis=tuple(dropped)) if dropped else a.value
            remaining = sorted(kept)  # the axes of ``value`` after the squeeze
            value = np.transpose(value, [remaining.index(p) for p in pattern if p != "x"])
            for pos, p in enumerate(pattern):
                if p == "x":
                    value = np.expand_dims(value, pos)
            return self.make(a.sym.dimshuffle(*pattern), value, f"{a}.dimshuffle{tuple(pattern)}",
                             a.level, _smooth(True, [a]), [a])
        if kind == "reshape":
            shape = self._new_shape(a.value.size)
            return self.make(T.reshape(a.sym, shape), np.reshape(a.value, shape),
                             f"reshape({a}, {shape})", a.level, _smooth(True, [a]), [a])
        if kind == "flatten":
            return self.make(T.flatten(a.sym), a.value.reshape(-1), f"flatten({a})", a.level,
                             _smooth(True, [a]), [a])
        if kind == "expand_dims":
            axis = self.draw(st.integers(-ndim - 1, ndim))
            return self.make(T.expand_dims(a.sym, axis), np.expand_dims(a.value, axis),
                             f"expand_dims({a}, {axis})", a.level, _smooth(True, [a]), [a])
        ones = [d for d in range(ndim) if a.shape[d] == 1]
        if not ones:
            return a
        axis = self.draw(st.sampled_from(ones))
        return self.make(T.squeeze(a.sym, axis), np.squeeze(a.value, axis), f"squeeze({a}, {axis})",
                         a.level, _smooth(True, [a]), [a])

    def _new_shape(self, size: int) -> tuple:
        ndim = self.draw(st.integers(0 if size == 1 else 1, 3))
        if ndim == 0:
            return ()
        if size == 0:
            dims = [self.draw(st.integers(0, 3)) for _ in range(ndim)]
            dims[self.draw(st.integers(0, ndim - 1))] = 0
            return tuple(dims)
        factors = []
        n, p = size, 2
        while n > 1:
            while n % p == 0:
                factors.append(p)
                n //= p
            p += 1
        dims = [1] * ndim
        for f in factors:
            dims[self.draw(st.integers(0, ndim - 1))] *= f
        if self.draw(st.booleans()):
            dims[self.draw(st.integers(0, ndim - 1))] = -1
        return tuple(dims)

    def step_concat(self) -> Node:
        a = self.pick([n for n in self.pool if n.value.ndim >= 1] or self.pool)
        ndim = a.value.ndim
        if ndim == 0:
            return a
        axis = self.draw(st.integers(0, ndim - 1))
        same = [n for n in self.pool if n.value.ndim == ndim
                and all(n.shape[d] == a.shape[d] for d in range(ndim) if d != axis)]
        parts = [a] + [self.pick(same) for _ in range(self.draw(st.integers(1, 2)))]
        value = _numpy(lambda *vs: np.concatenate(vs, axis=axis), *[p.value for p in parts])
        return self.make(T.concatenate([p.sym for p in parts], axis=axis), value,
                         f"concatenate([{', '.join(map(str, parts))}], axis={axis})",
                         _level("exact", parts), _smooth(True, parts), parts)

    def _basic_key(self, shape: tuple) -> tuple:
        key = []
        n_items = self.draw(st.integers(1, max(1, len(shape))))
        axis = 0
        for _ in range(n_items):
            choice = self.draw(st.sampled_from(["slice", "int", "full", "newaxis"]))
            if choice == "newaxis":
                key.append(None)
                continue
            if axis >= len(shape):
                break
            n = shape[axis]
            if choice == "int" and n > 0:
                key.append(self.draw(st.integers(-n, n - 1)))
            elif choice == "slice":
                bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
                step = self.draw(st.sampled_from([None, 1, 2, -1, -2, 3]))
                key.append(slice(self.draw(bound), self.draw(bound), step))
            else:
                key.append(slice(None))
            axis += 1
        return tuple(key)

    @staticmethod
    def _key_text(key) -> str:
        parts = []
        for k in key:
            if k is None:
                parts.append("None")
            elif isinstance(k, slice):
                parts.append(":".join("" if v is None else str(v) for v in (k.start, k.stop))
                             + ("" if k.step is None else f":{k.step}"))
            else:
                parts.append(repr(k) if not isinstance(k, np.ndarray) else repr(k.tolist()))
        return ", ".join(parts) if parts else "()"

    def step_index(self) -> Node:
        a = self.pick([n for n in self.pool if n.value.ndim >= 1] or self.pool)
        if a.value.ndim == 0:
            return a
        key = self._basic_key(a.shape)
        return self.make(a.sym[key], a.value[key], f"{a}[{self._key_text(key)}]", a.level,
                         _smooth(True, [a]), [a])

    def _advanced_key(self, shape: tuple):
        axis = self.draw(st.integers(0, len(shape) - 1))
        n = shape[axis]
        if n == 0:
            return None
        idx = np.array(self.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)), "int64")
        return (slice(None),) * axis + (idx,)

    def step_advanced(self) -> Node:
        a = self.pick([n for n in self.pool if n.value.ndim >= 1] or self.pool)
        if a.value.ndim == 0:
            return a
        if self.draw(st.booleans()):
            key = self._advanced_key(a.shape)
            if key is None:
                return a
            return self.make(a.sym[key], a.value[key], f"{a}[{self._key_text(key)}]", a.level,
                             _smooth(True, [a]), [a])
        # a boolean mask from a comparison of a reproducible value with a constant
        if a.level < 1 or a.dtype.kind == "b":
            return a
        c = self.scalar_constant(a)
        mask_sym, mask = T.gt(a.sym, c), a.value > c
        return self.make(a.sym[mask_sym], a.value[mask], f"{a}[({a} > {c!r})]", a.level,
                         _smooth(True, [a]), [a])

    def step_set_inc(self) -> Node:
        a = self.pick([n for n in self.pool if n.value.ndim >= 1 and n.dtype.kind != "b"]
                      or self.pool)
        if a.value.ndim == 0 or a.dtype.kind == "b":
            return a
        if self.draw(st.booleans()):
            key = self._basic_key(a.shape)
        else:
            key = self._advanced_key(a.shape)
            if key is None:
                return a
        target_shape = a.value[key].shape
        values = [n for n in self.pool if n.value.ndim <= len(target_shape)
                  and np.can_cast(n.dtype, a.dtype, "same_kind") and n.dtype.kind != "b"
                  and _broadcasts_to(n.shape, target_shape)]
        set_ = self.draw(st.booleans())
        if values and self.draw(st.integers(0, 3)):
            v = self.pick(values)
            v_sym, v_val, v_text, v_args = v.sym, v.value, v.text, [v]
        else:
            c = self.scalar_constant(a)
            v_sym, v_val, v_text, v_args = c, np.asarray(c, a.dtype), repr(c), []
        out = a.value.copy()
        with np.errstate(all="ignore"):
            if set_:
                out[key] = v_val
            else:
                np.add.at(out, key, np.broadcast_to(v_val, target_shape).astype(a.dtype))
        fn = T.set_subtensor if set_ else T.inc_subtensor
        name = "set_subtensor" if set_ else "inc_subtensor"
        level = _level("exact" if set_ else "ieee", [a] + v_args)
        return self.make(fn(a.sym[key], v_sym), out, f"{name}({a}[{self._key_text(key)}], {v_text})",
                         level, _smooth(True, [a] + v_args), [a] + v_args)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _draw_values(rng: np.random.Generator, dtype: str, shape: tuple, continuous: bool) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        if continuous:
            return rng.uniform(-2, 2, size=shape).astype(dtype)
        return rng.integers(-3, 4, size=shape).astype(dtype) / 2
    return rng.integers(-4, 5, size=shape).astype(dtype)


@st.composite
def programs(draw, max_steps: int = 10, max_outputs: int = 4, dtypes=DTYPES) -> Program:
    """A random program: 1-4 inputs derived from one base shape (so most pairs broadcast),
    up to ``max_steps`` operations, up to ``max_outputs`` outputs."""
    base_rank = draw(st.integers(0, 3))
    base = tuple(draw(st.sampled_from([2, 3, 1, 4, 0])) for _ in range(base_rank))
    continuous = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    builder = Builder(draw, continuous)
    n_inputs = draw(st.integers(1, 4))
    inputs, values = [], []
    for i in range(n_inputs):
        dtype = draw(st.sampled_from(dtypes))
        rank = draw(st.integers(0, base_rank))
        shape = tuple(d if draw(st.integers(0, 3)) else 1 for d in base[base_rank - rank:])
        static = tuple(d if draw(st.integers(0, 3)) == 0 else None for d in shape)
        sym = T.tensor(dtype, shape=static, name=f"x{i}")
        value = np.asarray(_draw_values(rng, dtype, shape, continuous))
        node = Node(sym, value, sym.name, 2, True, dtype == "float64", is_input=True)
        builder.pool.append(node)
        inputs.append(node)
        values.append(value)
    made = []
    for _ in range(draw(st.integers(1, max_steps))):
        node = builder.step()
        if not node.is_input:
            made.append(node)
    if not made:
        made = [builder.pool[-1]]
    n_out = draw(st.integers(1, min(max_outputs, len(made))))
    outputs = [made[-1]] + [made[draw(st.integers(0, len(made) - 1))] for _ in range(n_out - 1)]
    return Program(inputs, values, outputs, continuous)


def tolerance(dtype: np.dtype, loose: bool = False) -> float:
    """Relative tolerance for comparing two computations of one expression of ``dtype``
    (``loose``: float32 values took part in it)."""
    if np.dtype(dtype).kind != "f":
        return 0.0
    return 2e-4 if loose or np.dtype(dtype) == np.float32 else 1e-9


def close(got, want, loose: bool = False) -> tuple[bool, str]:
    """Equal dtype and shape, values within the tolerance (scaled by the magnitude)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype:
        return False, f"dtype {got.dtype} != {want.dtype}"
    if got.shape != want.shape:
        return False, f"shape {got.shape} != {want.shape}"
    tol = tolerance(want.dtype, loose)
    if tol == 0.0:
        if np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
            return True, ""
        return False, f"values differ:\n got {got!r}\nwant {want!r}"
    scale = 1.0 + (float(np.max(np.abs(want))) if want.size else 0.0)
    if np.allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True):
        return True, ""
    return False, f"values differ (rtol {tol}):\n got {got!r}\nwant {want!r}"

