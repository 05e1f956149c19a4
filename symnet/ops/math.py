"""The elemwise family's math functions: ``add``, ``exp``, ``switch``, ``cast``, ``relu``, ...

Each builds one :class:`~symnet.ops.elemwise.Elemwise` node (or a few), after turning Python
scalars into constants of the dtype NumPy would give them next to the other operands.
``symnet.tensor`` exports them; other families call them through the function table
(``tensor_functions``) of the graph core.
"""

from __future__ import annotations

from numbers import Number

import numpy as np

from symnet.graph import (Variable, as_tensor, constant, normalize_dtype,
                          tensor_functions)
from symnet.ops import elemwise as _ew


def weak_operands(*args) -> list[Variable]:
    """Turn Python scalars into constants of the dtype NumPy 2 would give them next to the
    other operands (float32 + 2.0 stays float32), leaving variables and arrays as they are."""
    dtypes = []
    for a in args:
        if isinstance(a, Variable):
            dtypes.append(np.dtype(a.dtype))
        elif not isinstance(a, (Number, bool, np.bool_)) or isinstance(a, np.generic):
            dtypes.append(np.asarray(a).dtype)
    out = []
    for a in args:
        if isinstance(a, Variable):
            out.append(a)
        elif isinstance(a, (Number, bool)) and not isinstance(a, np.generic) and dtypes:
            if isinstance(a, complex):
                raise TypeError(f"complex value {a!r} is not supported")
            try:
                dtype = np.result_type(*dtypes, a)
            except OverflowError:
                dtype = np.result_type(*dtypes, np.asarray(a))
            out.append(constant(a, dtype=dtype))
        else:
            out.append(as_tensor(a))
    return out


# --- elementwise math --------------------------------------------------------------------------


def add(a, b):
    """Elementwise ``a + b`` with NumPy broadcasting."""
    return _ew.add(*weak_operands(a, b))


def sub(a, b):
    """Elementwise ``a - b``."""
    return _ew.sub(*weak_operands(a, b))


def mul(a, b):
    """Elementwise ``a * b``."""
    return _ew.mul(*weak_operands(a, b))


def true_div(a, b):
    """Elementwise ``a / b`` (true division; ints give float64)."""
    return _ew.true_div(*weak_operands(a, b))


def floor_div(a, b):
    """Elementwise ``a // b``."""
    return _ew.floor_div(*weak_operands(a, b))


def mod(a, b):
    """Elementwise ``a % b`` (the sign of ``b``, as NumPy)."""
    return _ew.mod(*weak_operands(a, b))


def pow(a, b):  # noqa: A001 - Theano's name
    """Elementwise ``a ** b``."""
    return _ew.pow_(*weak_operands(a, b))


def maximum(a, b):
    """Elementwise maximum (NaN propagates; at ties the gradient goes to ``a``)."""
    return _ew.maximum(*weak_operands(a, b))


def minimum(a, b):
    """Elementwise minimum (NaN propagates; at ties the gradient goes to ``a``)."""
    return _ew.minimum(*weak_operands(a, b))


def eq(a, b):
    """Elementwise ``a == b`` (a bool tensor; Python's ``==`` on variables is identity)."""
    return _ew.eq(*weak_operands(a, b))


def neq(a, b):
    """Elementwise ``a != b``."""
    return _ew.neq(*weak_operands(a, b))


def lt(a, b):
    """Elementwise ``a < b``."""
    return _ew.lt(*weak_operands(a, b))


def gt(a, b):
    """Elementwise ``a > b``."""
    return _ew.gt(*weak_operands(a, b))


def le(a, b):
    """Elementwise ``a <= b``."""
    return _ew.le(*weak_operands(a, b))


def ge(a, b):
    """Elementwise ``a >= b``."""
    return _ew.ge(*weak_operands(a, b))


def and_(a, b):
    """Elementwise bitwise/logical and (``a & b``)."""
    return _ew.and_(*weak_operands(a, b))


def or_(a, b):
    """Elementwise bitwise/logical or (``a | b``)."""
    return _ew.or_(*weak_operands(a, b))


def xor(a, b):
    """Elementwise bitwise/logical xor (``a ^ b``)."""
    return _ew.xor(*weak_operands(a, b))


def invert(a):
    """Elementwise logical not for bools, bitwise not for ints (``~a``)."""
    return _ew.invert(as_tensor(a))


bitwise_and, bitwise_or, bitwise_xor = and_, or_, xor


def switch(cond, a, b):
    """Elementwise ``a if cond else b`` (``np.where``); both branches are computed."""
    cond, a, b = weak_operands(cond, a, b)
    if cond.dtype != "bool":
        cond = neq(cond, 0)
    return _ew.switch(cond, a, b)


def where(cond, a, b):
    """Alias of :func:`switch` under NumPy's name."""
    return switch(cond, a, b)


def cast(x, dtype):
    """Convert ``x`` to ``dtype`` (``x.astype(dtype)``); a no-op when it already has it."""
    x = as_tensor(x)
    dtype = normalize_dtype(dtype)
    if x.dtype == dtype:
        return x
    return _ew.cast_op(dtype)(x)


def _unary(op, doc):
    def apply(x):
        return op(as_tensor(x))

    apply.__name__ = op.rule.pp_name or op.rule.name
    apply.__doc__ = doc
    return apply


neg = _unary(_ew.neg, "Elementwise ``-x``.")
abs_ = _unary(_ew.abs_, "Elementwise absolute value.")
abs = abs_  # noqa: A001
sign = _unary(_ew.sign, "Elementwise sign (-1, 0, 1).")
exp = _unary(_ew.exp, "Elementwise exponential.")
exp2 = _unary(_ew.exp2, "Elementwise ``2 ** x``.")
expm1 = _unary(_ew.expm1, "Elementwise ``exp(x) - 1``, accurate near 0.")
log = _unary(_ew.log, "Elementwise natural logarithm.")
log2 = _unary(_ew.log2, "Elementwise base-2 logarithm.")
log10 = _unary(_ew.log10, "Elementwise base-10 logarithm.")
log1p = _unary(_ew.log1p, "Elementwise ``log(1 + x)``, accurate near 0.")
sqrt = _unary(_ew.sqrt, "Elementwise square root.")
sqr = _unary(_ew.sqr, "Elementwise square ``x * x``.")
square = sqr
sin = _unary(_ew.sin, "Elementwise sine.")
cos = _unary(_ew.cos, "Elementwise cosine.")
tan = _unary(_ew.tan, "Elementwise tangent.")
arcsin = _unary(_ew.arcsin, "Elementwise inverse sine.")
arccos = _unary(_ew.arccos, "Elementwise inverse cosine.")
arctan = _unary(_ew.arctan, "Elementwise inverse tangent.")
sinh = _unary(_ew.sinh, "Elementwise hyperbolic sine.")
cosh = _unary(_ew.cosh, "Elementwise hyperbolic cosine.")
tanh = _unary(_ew.tanh, "Elementwise hyperbolic tangent.")
sigmoid = _unary(_ew.sigmoid, "Elementwise logistic function ``1 / (1 + exp(-x))``.")
softplus = _unary(_ew.softplus, "Elementwise ``log(1 + exp(x))``, computed stably.")
floor = _unary(_ew.floor, "Elementwise floor.")
ceil = _unary(_ew.ceil, "Elementwise ceiling.")
round_ = _unary(_ew.round_, "Elementwise rounding, half to even (as NumPy).")
isnan = _unary(_ew.isnan, "Elementwise NaN test.")
isinf = _unary(_ew.isinf, "Elementwise infinity test.")


def relu(x, alpha=0):
    """Rectified linear unit ``switch(x > 0, x, alpha * x)``; the gradient at 0 is 0 (alpha)."""
    x = as_tensor(x)
    if alpha == 0:
        return switch(gt(x, 0), x, 0)
    return switch(gt(x, 0), x, mul(alpha, x))


def clip(x, a_min, a_max):
    """Limit values to ``[a_min, a_max]`` (gradient 1 inside, 0 outside)."""
    return minimum(maximum(x, a_min), a_max)


def identity(x):
    """A copy of ``x`` (an explicit node; mostly for tests and naming)."""
    return _ew.identity(as_tensor(x))


def _from_row(rule):
    """``T.<name>`` of a rule that carries its docstring: unary on a tensor, binary with
    NumPy's promotion of Python scalars."""
    op = _ew.Elemwise(rule)
    if rule.nin == 1:
        return _unary(op, rule.doc)

    def apply(*args):
        return op(*weak_operands(*args))

    apply.__name__ = apply.__qualname__ = rule.name
    apply.__doc__ = rule.doc
    return apply


#: the functions of the rows that carry a docstring (``ScalarRule.doc``)
FROM_TABLE = {rule.name: _from_row(rule) for rule in _ew.RULES.values() if rule.doc}
globals().update(FROM_TABLE)

tensor_functions.register(**FROM_TABLE)
tensor_functions.register(
    add, sub, mul, true_div, floor_div, mod, pow, maximum, minimum, eq, neq, lt, gt, le, ge,
    weak_operands, and_, or_, xor, invert, switch, where, cast, neg, abs_, sign, exp, exp2, expm1, log, log2,
    log10, log1p, sqrt, sqr, sin, cos, tan, arcsin, arccos, arctan, sinh, cosh, tanh, sigmoid,
    softplus, floor, ceil, round_, isnan, isinf, relu, clip, identity,
    abs=abs_, square=sqr, bitwise_and=and_, bitwise_or=or_, bitwise_xor=xor,
)

__all__ = [
    "add", "sub", "mul", "true_div", "floor_div", "mod", "pow", "maximum",
    "minimum", "eq", "neq", "lt", "gt", "le", "ge", "and_", "or_", "xor", "invert", "switch",
    "where", "cast", "neg", "abs_", "abs", "sign", "exp", "exp2", "expm1", "log", "log2", "log10",
    "log1p", "sqrt", "sqr", "square", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh",
    "cosh", "tanh", "sigmoid", "softplus", "floor", "ceil", "round_", "isnan", "isinf", "relu",
    "clip", "identity", "bitwise_and", "bitwise_or", "bitwise_xor", *FROM_TABLE,
]
