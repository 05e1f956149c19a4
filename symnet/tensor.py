"""symnet.tensor: the user-facing constructors and math (Theano's ``theano.tensor``).

Everything here is a thin wrapper that builds graph nodes from ops; the ops themselves (and
their gradients and kernels) live in ``symnet.ops``. Function families whose wrappers live next
to their op (reductions, linear algebra, shape ops, indexing, nnet) are re-exported here, so
``T.sum``, ``T.dot`` and ``T.reshape`` all work.

Examples
--------
>>> import symnet
>>> import symnet.tensor as T
>>> x, y = T.dscalars('x', 'y')
>>> symnet.pp(x + y)
'(x + y)'
"""

from __future__ import annotations

import builtins
from numbers import Number

import numpy as np

from symnet.graph import Constant, SharedVariable, TensorType, Variable, normalize_dtype
from symnet.ops import elemwise as _ew

# --- constructors ------------------------------------------------------------------------------


def tensor(dtype="float64", shape=(None, None), name=None) -> Variable:
    """A symbolic input of ``dtype`` and static ``shape`` (None = any length).

    Examples
    --------
    >>> tensor('float32', shape=(None, 3), name='x').type
    TensorType(float32, (?, 3))
    """
    if isinstance(shape, int):
        shape = (None,) * shape
    return TensorType(dtype, shape)(name)


def _constructor(ndim: int, default_dtype: str | None):
    def make(name=None, dtype=None):
        dtype = dtype or default_dtype or "floatX"
        return TensorType(dtype, (None,) * ndim)(name)

    return make


def _plural(single):
    def make(*names, dtype=None):
        if len(names) == 1 and isinstance(names[0], int):
            names = [None] * names[0]
        return tuple(single(n, dtype=dtype) for n in names)

    return make


_RANKS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}
_PREFIXES = {"d": "float64", "f": "float32", "i": "int32", "l": "int64", "b": "int8"}
_PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "tensor3": "tensor3s",
            "tensor4": "tensor4s"}

scalar = _constructor(0, None)
vector = _constructor(1, None)
matrix = _constructor(2, None)
tensor3 = _constructor(3, None)
tensor4 = _constructor(4, None)
scalars, vectors, matrices = _plural(scalar), _plural(vector), _plural(matrix)

for _prefix, _dtype in _PREFIXES.items():
    for _kind, _ndim in _RANKS.items():
        _single = _constructor(_ndim, _dtype)
        _single.__name__ = _prefix + _kind
        _single.__doc__ = f"A symbolic {_dtype} {_kind} input (``{_prefix}{_kind}('name')``)."
        globals()[_prefix + _kind] = _single
        _many = _plural(_single)
        _many.__name__ = _prefix + _PLURALS[_kind]
        _many.__doc__ = f"Several {_dtype} {_kind} inputs: ``{_prefix}{_PLURALS[_kind]}('a', 'b')``."
        globals()[_prefix + _PLURALS[_kind]] = _many
del _prefix, _dtype, _kind, _ndim, _single, _many


def constant(value, name=None, dtype=None) -> Constant:
    """A constant tensor holding ``value`` (copied, read-only).

    Python floats become float64 and Python ints int64 unless ``dtype`` says otherwise.
    """
    if isinstance(value, Variable):
        raise TypeError(f"constant() needs a value, got the symbolic variable {value!r}")
    arr = np.asarray(value, dtype=dtype)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"constant: unsupported value of dtype {arr.dtype}")
    arr = arr.astype(normalize_dtype(arr.dtype), copy=False)
    return Constant(TensorType(arr.dtype, arr.shape), arr, name=name)


def as_tensor(value, name=None, ndim=None, dtype=None) -> Variable:
    """Return ``value`` as a symbolic variable: variables pass through, data becomes a constant."""
    if isinstance(value, Variable):
        var = value
        if dtype is not None and var.dtype != normalize_dtype(dtype):
            var = cast(var, dtype)
    elif isinstance(value, (list, tuple)) and builtins.any(isinstance(v, Variable) for v in _flatten_nested(value)):
        var = stack([as_tensor(v) for v in value])
        if dtype is not None:
            var = cast(var, dtype)
    else:
        var = constant(value, name=name, dtype=dtype)
    if ndim is not None and var.ndim != ndim:
        raise TypeError(f"expected a {ndim}-d tensor, got {var.ndim}-d {var!r}")
    return var


as_tensor_variable = as_tensor


def _flatten_nested(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten_nested(item)
        else:
            yield item


def _weak_operands(*args) -> list[Variable]:
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
    return _ew.add(*_weak_operands(a, b))


def sub(a, b):
    """Elementwise ``a - b``."""
    return _ew.sub(*_weak_operands(a, b))


def mul(a, b):
    """Elementwise ``a * b``."""
    return _ew.mul(*_weak_operands(a, b))


def true_div(a, b):
    """Elementwise ``a / b`` (true division; ints give float64)."""
    return _ew.true_div(*_weak_operands(a, b))


def floor_div(a, b):
    """Elementwise ``a // b``."""
    return _ew.floor_div(*_weak_operands(a, b))


def mod(a, b):
    """Elementwise ``a % b`` (the sign of ``b``, as NumPy)."""
    return _ew.mod(*_weak_operands(a, b))


def pow(a, b):  # noqa: A001 - Theano's name
    """Elementwise ``a ** b``."""
    return _ew.pow_(*_weak_operands(a, b))


def maximum(a, b):
    """Elementwise maximum (NaN propagates; at ties the gradient goes to ``a``)."""
    return _ew.maximum(*_weak_operands(a, b))


def minimum(a, b):
    """Elementwise minimum (NaN propagates; at ties the gradient goes to ``a``)."""
    return _ew.minimum(*_weak_operands(a, b))


def eq(a, b):
    """Elementwise ``a == b`` (a bool tensor; Python's ``==`` on variables is identity)."""
    return _ew.eq(*_weak_operands(a, b))


def neq(a, b):
    """Elementwise ``a != b``."""
    return _ew.neq(*_weak_operands(a, b))


def lt(a, b):
    """Elementwise ``a < b``."""
    return _ew.lt(*_weak_operands(a, b))


def gt(a, b):
    """Elementwise ``a > b``."""
    return _ew.gt(*_weak_operands(a, b))


def le(a, b):
    """Elementwise ``a <= b``."""
    return _ew.le(*_weak_operands(a, b))


def ge(a, b):
    """Elementwise ``a >= b``."""
    return _ew.ge(*_weak_operands(a, b))


def and_(a, b):
    """Elementwise bitwise/logical and (``a & b``)."""
    return _ew.and_(*_weak_operands(a, b))


def or_(a, b):
    """Elementwise bitwise/logical or (``a | b``)."""
    return _ew.or_(*_weak_operands(a, b))


def xor(a, b):
    """Elementwise bitwise/logical xor (``a ^ b``)."""
    return _ew.xor(*_weak_operands(a, b))


def invert(a):
    """Elementwise logical not for bools, bitwise not for ints (``~a``)."""
    return _ew.invert(as_tensor(a))


bitwise_and, bitwise_or, bitwise_xor = and_, or_, xor


def switch(cond, a, b):
    """Elementwise ``a if cond else b`` (``np.where``); both branches are computed."""
    cond, a, b = _weak_operands(cond, a, b)
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


# --- families re-exported from their op modules ------------------------------------------------

from symnet.ops.shape import (  # noqa: E402
    broadcast_to,
    dimshuffle,
    expand_dims,
    shape,
    shape_i,
    transpose,
)
from symnet.ops.shape import (  # noqa: E402
    alloc,
    arange,
    concatenate,
    eye,
    flatten,
    ones,
    ones_like,
    reshape,
    squeeze,
    stack,
    zeros,
    zeros_like,
)
from symnet.ops.reduction import (  # noqa: E402
    all,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from symnet.ops.linalg import dot, matmul, outer, tensordot  # noqa: E402
from symnet.ops.subtensor import getitem, inc_subtensor, set_subtensor  # noqa: E402
from symnet.ops import nnet  # noqa: E402

__all__ = [n for n in dir() if not n.startswith("_") and n not in {"annotations", "builtins", "np", "Number"}]
