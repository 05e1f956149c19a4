"""Elementwise math: one :class:`Elemwise` op over a table of :class:`ScalarRule` rows.

A rule carries everything about one scalar operation: the NumPy function (reference and
constant folding), a Numba template that renders one element (``{0}``, ``{1}`` are operand
expressions), the gradient, the output dtype rule and how pp prints it. Fusion substitutes
operand expressions into templates, so no elementwise op needs a kernel of its own; the
opcodes of the vector machine that runs very large fused groups are the same templates,
rendered when this module is imported, so a new row runs on the machine too.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numba.extending
import numpy as np

from symnet.graph import (Apply, Constant, Op, TensorType, Variable, as_tensor, constant,
                          normalize_dtype)
from symnet.graph import tensor_functions as T
from symnet.runtime import elemvm
from symnet.runtime.kernel import kernel, tolerate_broken_cache

# --- dtype rules -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def numpy_result_dtype(fn: Callable, dtypes: tuple[str, ...]) -> str:
    """The dtype NumPy gives for ``fn`` applied to arrays of ``dtypes`` (float16 -> float32)."""
    args = [np.ones(1, dtype=d) for d in dtypes]
    with np.errstate(all="ignore"):
        try:
            out = fn(*args)
        except TypeError as exc:
            raise TypeError(f"{getattr(fn, '__name__', fn)} does not accept {dtypes}: {exc}") from None
    return normalize_dtype(np.asarray(out).dtype)


#: a fused loop nests one Python loop per leading axis up to this many axes; beyond, one
#: loop walks them all (Python caps statically nested blocks at 20)
MAX_NESTED_AXES = 6

def bool_dtype(fn, dtypes):
    return "bool"


def float_dtype(fn, dtypes):
    """Float functions keep float inputs' dtype and send ints/bools to float64 (float32 for small ones)."""
    return numpy_result_dtype(fn, dtypes)


def upcast(fn, dtypes):
    return numpy_result_dtype(fn, dtypes)


# --- the rule table ---------------------------------------------------------------------------

RULES: dict[str, ScalarRule] = {}


def _rule_by_name(name: str) -> ScalarRule:
    if name.startswith("cast_") and name not in RULES:
        return cast_rule(name[len("cast_"):])
    return RULES[name]


@dataclass(frozen=True, eq=False)
class ScalarRule:
    """One scalar operation. Rules are singletons: equality is identity, pickling is by name."""

    name: str
    numpy_fn: Callable
    template: str | Callable  # str with {0}.., or (in_dtypes, out_dtype) -> str
    grad: Callable | None = None  # (inputs, gz) -> list of gradients (None = not differentiable)
    nin: int = 1
    infix: str | None = None
    dtype: Callable = upcast
    pp_name: str | None = None
    commutative: bool = False
    associative: bool = False
    #: with a docstring, the row is also the user's function ``T.<name>`` (symnet/ops/math.py
    #: builds it): adding an elementwise op is this one row
    doc: str | None = None

    def __post_init__(self):
        RULES[self.name] = self

    def __reduce__(self):
        return (_rule_by_name, (self.name,))

    def __repr__(self):
        return f"ScalarRule({self.name})"

    def out_dtype(self, dtypes: tuple[str, ...]) -> str:
        return self.dtype(self.numpy_fn, tuple(dtypes))

    def render(self, args: list[str], in_dtypes: tuple[str, ...], out_dtype: str) -> str:
        """Numba source for one element, given operand expressions."""
        template = self.template
        if callable(template):
            template = template(in_dtypes, out_dtype)
        return template.format(*args)


def _zero_grad(xs, gz):
    return [None] * len(xs)


def _piecewise_constant_grad(xs, gz):
    """floor, round, sign...: the gradient is 0 wherever it exists (as in Theano), so a cost
    built through them gets zeros rather than a disconnected-input error."""
    return [T.zeros_like(x) for x in xs]


def _sigmoid_np(x):
    # exp(-x) overflows harmlessly to inf for very negative x, giving 0.
    x = np.asarray(x)
    one = np.ones((), dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    with np.errstate(over="ignore"):
        return one / (one + np.exp(-x))


def _erf_np(x):
    x = np.asarray(x)
    out = np.vectorize(math.erf, otypes=[np.float64])(x)
    return out.astype(x.dtype) if x.dtype.kind == "f" else out


def _softplus_np(x):
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _sqr_np(x):
    return np.multiply(x, x)


def _switch_np(c, a, b):
    return np.where(c, a, b)


def _vmath_template(name: str) -> Callable:
    """Template calling ``vmath.<name>``, the vectorizable float32/float64 version of a float
    function (libm calls would keep fused loops scalar); other inputs are cast to the result
    dtype first."""

    def template(in_dtypes, out_dtype):
        if in_dtypes[0] == out_dtype:
            return f"vmath.{name}({{0}})"
        return f"vmath.{name}(np.{out_dtype}({{0}}))"

    return template


def _invert_template(in_dtypes, out_dtype):
    return "(not {0})" if in_dtypes[0] == "bool" else "(~{0})"


def _ufunc2_template(name: str) -> Callable:
    """Template calling ``np.<name>`` on operands cast to the result dtype first: Numba types
    ``np.maximum(int32, float32)`` as float32 where NumPy gives float64."""

    def template(in_dtypes, out_dtype):
        args = [f"{{{i}}}" if d == out_dtype else f"np.{out_dtype}({{{i}}})"
                for i, d in enumerate(in_dtypes)]
        return f"np.{name}({', '.join(args)})"

    return template


def _true_div_template(in_dtypes, out_dtype):
    if all(d != "float32" for d in in_dtypes) or out_dtype != "float32":
        return "({0} / {1})"
    return "np.float32({0} / {1})"


ADD = ScalarRule("add", np.add, "({0} + {1})", grad=lambda xs, gz: [gz, gz], nin=2, infix="+",
                 commutative=True, associative=True)
SUB = ScalarRule("sub", np.subtract, "({0} - {1})", grad=lambda xs, gz: [gz, -gz], nin=2,
                 infix="-")
MUL = ScalarRule("mul", np.multiply, "({0} * {1})", grad=lambda xs, gz: [gz * xs[1], gz * xs[0]],
                 nin=2, infix="*", commutative=True, associative=True)
TRUE_DIV = ScalarRule("true_div", np.true_divide, _true_div_template,
                      grad=lambda xs, gz: [gz / xs[1], -gz * xs[0] / (xs[1] * xs[1])],
                      nin=2, infix="/")
FLOOR_DIV = ScalarRule("floor_div", np.floor_divide, "({0} // {1})",
                       grad=_piecewise_constant_grad, nin=2, infix="//")
MOD = ScalarRule("mod", np.mod, "({0} % {1})",
                 grad=lambda xs, gz: [gz, -gz * T.floor_div(xs[0], xs[1])], nin=2, infix="%")
POW = ScalarRule(
    "pow", np.power, "({0} ** {1})",
    grad=lambda xs, gz: [
        gz * xs[1] * xs[0] ** (xs[1] - 1),
        gz * T.switch(T.gt(xs[0], 0), T.log(T.switch(T.gt(xs[0], 0), xs[0], 1)), 0)
        * xs[0] ** xs[1],
    ],
    nin=2, infix="**",
)
MAXIMUM = ScalarRule(
    "maximum", np.maximum, _ufunc2_template("maximum"),
    # ties send the gradient to the first argument, deterministically
    grad=lambda xs, gz: [gz * T.cast(T.ge(xs[0], xs[1]), gz.dtype),
                         gz * T.cast(T.lt(xs[0], xs[1]), gz.dtype)],
    nin=2, commutative=True, associative=True,
)
MINIMUM = ScalarRule(
    "minimum", np.minimum, _ufunc2_template("minimum"),
    grad=lambda xs, gz: [gz * T.cast(T.le(xs[0], xs[1]), gz.dtype),
                         gz * T.cast(T.gt(xs[0], xs[1]), gz.dtype)],
    nin=2, commutative=True, associative=True,
)

NEG = ScalarRule("neg", np.negative, "(-{0})", grad=lambda xs, gz: [-gz], infix="-")
ABS = ScalarRule("abs", np.abs, "abs({0})", grad=lambda xs, gz: [gz * T.sign(xs[0])],
                 pp_name="abs")
SIGN = ScalarRule("sign", np.sign, "np.sign({0})", grad=_piecewise_constant_grad)
EXP = ScalarRule("exp", np.exp, _vmath_template("exp"),
                 grad=lambda xs, gz: [gz * T.exp(xs[0])], dtype=float_dtype)
EXP2 = ScalarRule("exp2", np.exp2, "np.exp2({0})",
                  grad=lambda xs, gz: [gz * T.exp2(xs[0]) * np.log(2.0)], dtype=float_dtype)
EXPM1 = ScalarRule("expm1", np.expm1, _vmath_template("expm1"),
                   grad=lambda xs, gz: [gz * T.exp(xs[0])], dtype=float_dtype)
LOG = ScalarRule("log", np.log, _vmath_template("log"), grad=lambda xs, gz: [gz / xs[0]],
                 dtype=float_dtype)
LOG2 = ScalarRule("log2", np.log2, "np.log2({0})",
                  grad=lambda xs, gz: [gz / (xs[0] * np.log(2.0))], dtype=float_dtype)
LOG10 = ScalarRule("log10", np.log10, "np.log10({0})",
                   grad=lambda xs, gz: [gz / (xs[0] * np.log(10.0))], dtype=float_dtype)
LOG1P = ScalarRule("log1p", np.log1p, _vmath_template("log1p"),
                   grad=lambda xs, gz: [gz / (1 + xs[0])], dtype=float_dtype)
SQRT = ScalarRule("sqrt", np.sqrt, "np.sqrt({0})",
                  grad=lambda xs, gz: [gz * 0.5 / T.sqrt(xs[0])], dtype=float_dtype)
SQR = ScalarRule("sqr", _sqr_np, "({0} * {0})", grad=lambda xs, gz: [gz * 2 * xs[0]])
SIN = ScalarRule("sin", np.sin, "np.sin({0})", grad=lambda xs, gz: [gz * T.cos(xs[0])],
                 dtype=float_dtype)
COS = ScalarRule("cos", np.cos, "np.cos({0})", grad=lambda xs, gz: [-gz * T.sin(xs[0])],
                 dtype=float_dtype)
TAN = ScalarRule("tan", np.tan, "np.tan({0})",
                 grad=lambda xs, gz: [gz / T.sqr(T.cos(xs[0]))], dtype=float_dtype)
ARCSIN = ScalarRule("arcsin", np.arcsin, "np.arcsin({0})",
                    grad=lambda xs, gz: [gz / T.sqrt(1 - T.sqr(xs[0]))], dtype=float_dtype)
ARCCOS = ScalarRule("arccos", np.arccos, "np.arccos({0})",
                    grad=lambda xs, gz: [-gz / T.sqrt(1 - T.sqr(xs[0]))], dtype=float_dtype)
ARCTAN = ScalarRule("arctan", np.arctan, "np.arctan({0})",
                    grad=lambda xs, gz: [gz / (1 + T.sqr(xs[0]))], dtype=float_dtype)
SINH = ScalarRule("sinh", np.sinh, "np.sinh({0})", grad=lambda xs, gz: [gz * T.cosh(xs[0])],
                  dtype=float_dtype)
COSH = ScalarRule("cosh", np.cosh, "np.cosh({0})", grad=lambda xs, gz: [gz * T.sinh(xs[0])],
                  dtype=float_dtype)
TANH = ScalarRule("tanh", np.tanh, _vmath_template("tanh"),
                  grad=lambda xs, gz: [gz * (1 - T.sqr(T.tanh(xs[0])))], dtype=float_dtype)
SIGMOID = ScalarRule(
    "sigmoid", _sigmoid_np, _vmath_template("sigmoid"),
    grad=lambda xs, gz: [gz * T.sigmoid(xs[0]) * (1 - T.sigmoid(xs[0]))],
    dtype=float_dtype,
)
SOFTPLUS = ScalarRule("softplus", _softplus_np, _vmath_template("softplus"),
                      grad=lambda xs, gz: [gz * T.sigmoid(xs[0])], dtype=float_dtype)
FLOOR = ScalarRule("floor", np.floor, "np.floor({0})", grad=_piecewise_constant_grad,
                   dtype=float_dtype)
CEIL = ScalarRule("ceil", np.ceil, "np.ceil({0})", grad=_piecewise_constant_grad,
                  dtype=float_dtype)
ROUND = ScalarRule("round", np.rint, "np.rint({0})", grad=_piecewise_constant_grad,
                   dtype=float_dtype, pp_name="round_")
ERF = ScalarRule("erf", _erf_np, _vmath_template("erf"), dtype=float_dtype,
                 grad=lambda xs, gz: [gz * (2 / math.sqrt(math.pi)) * T.exp(-T.sqr(xs[0]))],
                 doc="Elementwise error function ``2/sqrt(pi) * integral of exp(-t**2) from 0 "
                     "to x``.")

EQ = ScalarRule("eq", np.equal, "({0} == {1})", grad=_zero_grad, nin=2, dtype=bool_dtype,
                commutative=True)
NEQ = ScalarRule("neq", np.not_equal, "({0} != {1})", grad=_zero_grad, nin=2, dtype=bool_dtype,
                 commutative=True)
LT = ScalarRule("lt", np.less, "({0} < {1})", grad=_zero_grad, nin=2, infix="<", dtype=bool_dtype)
GT = ScalarRule("gt", np.greater, "({0} > {1})", grad=_zero_grad, nin=2, infix=">",
                dtype=bool_dtype)
LE = ScalarRule("le", np.less_equal, "({0} <= {1})", grad=_zero_grad, nin=2, infix="<=",
                dtype=bool_dtype)
GE = ScalarRule("ge", np.greater_equal, "({0} >= {1})", grad=_zero_grad, nin=2, infix=">=",
                dtype=bool_dtype)
AND = ScalarRule("and", np.bitwise_and, "({0} & {1})", grad=_zero_grad, nin=2, infix="&",
                 commutative=True, associative=True)
OR = ScalarRule("or", np.bitwise_or, "({0} | {1})", grad=_zero_grad, nin=2, infix="|",
                commutative=True, associative=True)
XOR = ScalarRule("xor", np.bitwise_xor, "({0} ^ {1})", grad=_zero_grad, nin=2, infix="^",
                 commutative=True, associative=True)
INVERT = ScalarRule("invert", np.invert, _invert_template, grad=_zero_grad, infix="~")
ISNAN = ScalarRule("isnan", np.isnan, "np.isnan({0})", grad=_zero_grad, dtype=bool_dtype)
ISINF = ScalarRule("isinf", np.isinf, "np.isinf({0})", grad=_zero_grad, dtype=bool_dtype)


def _switch_dtype(fn, dtypes):
    return normalize_dtype(np.result_type(np.dtype(dtypes[1]), np.dtype(dtypes[2])))


SWITCH = ScalarRule(
    "switch", _switch_np, "({1} if {0} else {2})",
    grad=lambda xs, gz: [
        None,
        T.switch(xs[0], gz, T.zeros_like(gz)),
        T.switch(xs[0], T.zeros_like(gz), gz),
    ],
    nin=3, dtype=_switch_dtype,
)
IDENTITY = ScalarRule("identity", lambda x: np.array(x, copy=True), "{0}",
                      grad=lambda xs, gz: [gz])


@functools.lru_cache(maxsize=None)
def cast_rule(dtype: str) -> ScalarRule:
    """The rule that casts to ``dtype`` (one row per target dtype, made on first use)."""
    dtype = normalize_dtype(dtype)
    name = f"cast_{dtype}"
    if name in RULES:
        return RULES[name]
    if dtype == "bool":
        template = "({0} != 0)"
    else:
        template = f"np.{dtype}({{0}})"

    def to_dtype(x):
        return np.asarray(x).astype(dtype)

    def cast_grad(xs, gz):
        (x,) = xs
        if np.dtype(x.dtype).kind != "f":
            return [None]
        return [T.cast(gz, x.dtype)]

    return ScalarRule(name, to_dtype, template, grad=cast_grad,
                      dtype=lambda fn, dtypes: dtype, pp_name=f"cast{{{dtype}}}")


# --- the op ------------------------------------------------------------------------------------


def broadcast_static_shapes(shapes: list[tuple], opname: str, inputs=None) -> tuple:
    """NumPy broadcasting of static shapes (None = unknown); raises ValueError on a clash,
    naming ``inputs`` (variables) when given."""
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for axis in range(ndim):
        dims = [s[axis] for s in padded]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            labels = [_short_pp(x) for x in inputs] if inputs else [f"input {i}" for i in range(len(shapes))]
            what = ", ".join(f"{p} with shape {s}" for p, s in zip(labels, shapes))
            raise ValueError(f"{opname}: shapes cannot broadcast on axis {axis}: {what}")
        if known:
            out.append(known.pop())
        elif all(d == 1 for d in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


@dataclass(frozen=True)
class Elemwise(Op):
    """Apply a scalar rule elementwise with NumPy broadcasting."""

    rule: ScalarRule

    def infer_shape(self, node, input_lengths, lengths):
        out = node.outputs[0]
        return [tuple(lengths.broadcast([d[k] for d in input_lengths], out, k)
                      for k in range(out.ndim))]

    def make_node(self, *inputs):
        rule = self.rule
        if len(inputs) != rule.nin:
            raise TypeError(f"{rule.name} takes {rule.nin} inputs, got {len(inputs)}")
        inputs = [as_tensor(x) for x in inputs]
        dtypes = tuple(x.dtype for x in inputs)
        try:
            out_dtype = rule.out_dtype(dtypes)
        except TypeError as exc:
            raise TypeError(f"{rule.name}: unsupported input dtypes {dtypes}: {exc}") from None
        shape = broadcast_static_shapes([x.type.shape for x in inputs], rule.name, inputs)
        # Every input gets the output's rank (left-padded with broadcast axes), as in Theano,
        # so fused loops index all operands with the same loop variables.
        inputs = [_pad_rank(x, len(shape)) for x in inputs]
        return Apply(self, inputs, [TensorType(out_dtype, shape)()])

    def perform(self, inputs):
        out_dtype = self.rule.out_dtype(tuple(x.dtype.name for x in inputs))
        with np.errstate(all="ignore"):
            out = self.rule.numpy_fn(*inputs)
        return [np.asarray(out, dtype=out_dtype)]

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        if self.rule.grad is None:
            raise TypeError(f"{self.rule.name} is not differentiable")
        grads = self.rule.grad(list(inputs), gz)
        result = []
        for x, g in zip(inputs, grads):
            if g is None or np.dtype(x.dtype).kind != "f":
                result.append(None)
            else:
                result.append(g)
        return result

    def numba_lines(self, node, names, outs, data_names=()):
        """An unfused node (fusion switched off) is a one-step fused loop."""
        step = (self.rule, tuple(("in", k) for k in range(len(node.inputs))), node.outputs[0].dtype)
        fused = FusedElemwise(len(node.inputs), (step,), (0,))
        return fused_loop_source(fused, node, names, outs)

    def name_for_pp(self):
        return self.rule.pp_name or self.rule.name

    @property
    def infix(self):
        return self.rule.infix

    def pp_args(self):
        return []

    def __str__(self):
        return f"Elemwise{{{self.rule.name}}}"


def _short_pp(x: Variable) -> str:
    try:
        return T.pp(x, max_length=60)
    except Exception:
        return x.name or "?"


def _pad_rank(x: Variable, ndim: int) -> Variable:
    if x.ndim == ndim:
        return x
    if isinstance(x, Constant):
        return constant(x.data.reshape((1,) * (ndim - x.ndim) + x.data.shape))
    return T.dimshuffle(x, *(("x",) * (ndim - x.ndim) + tuple(range(x.ndim))))


# Op instances, one per rule, for rewrites to match against (owner_op(v) == add).
add, sub, mul, true_div, floor_div, mod, pow_ = (Elemwise(r) for r in (ADD, SUB, MUL, TRUE_DIV, FLOOR_DIV, MOD, POW))
maximum, minimum, neg, abs_, sign, exp, exp2, expm1 = (
    Elemwise(r) for r in (MAXIMUM, MINIMUM, NEG, ABS, SIGN, EXP, EXP2, EXPM1)
)
log, log2, log10, log1p, sqrt, sqr = (Elemwise(r) for r in (LOG, LOG2, LOG10, LOG1P, SQRT, SQR))
sin, cos, tan, arcsin, arccos, arctan, sinh, cosh, tanh = (
    Elemwise(r) for r in (SIN, COS, TAN, ARCSIN, ARCCOS, ARCTAN, SINH, COSH, TANH)
)
sigmoid, softplus, floor, ceil, round_ = (Elemwise(r) for r in (SIGMOID, SOFTPLUS, FLOOR, CEIL, ROUND))
eq, neq, lt, gt, le, ge = (Elemwise(r) for r in (EQ, NEQ, LT, GT, LE, GE))
and_, or_, xor, invert, isnan, isinf = (Elemwise(r) for r in (AND, OR, XOR, INVERT, ISNAN, ISINF))
switch, identity = Elemwise(SWITCH), Elemwise(IDENTITY)


def cast_op(dtype: str) -> Elemwise:
    return Elemwise(cast_rule(dtype))


# --- fused elementwise loops -------------------------------------------------------------------


def scalar_literal(value, dtype: str) -> str:
    """Numba source for a scalar constant of ``dtype`` (inlined into fused loops)."""
    value = np.asarray(value, dtype=dtype).item()
    if dtype == "bool":
        return repr(bool(value))
    if np.dtype(dtype).kind == "f":
        if np.isnan(value):
            text = "np.nan"
        elif np.isinf(value):
            text = "np.inf" if value > 0 else "(-np.inf)"
        else:
            text = repr(float(value))
        return text if dtype == "float64" else f"np.{dtype}({text})"
    return f"np.{dtype}({int(value)})"


@dataclass(frozen=True)
class FusedElemwise(Op):
    """Several elementwise steps computed in one loop over the broadcast shape.

    ``program`` is a tuple of steps ``(rule, operands, dtype)``; an operand is ``("in", k)``
    (input k), ``("step", j)`` (an earlier step) or ``("const", (value, dtype))`` (a scalar
    constant, inlined as a literal). ``outputs`` lists the steps whose values leave the loop.
    Made only by the fuse_elemwise pass, so it never appears in user graphs or gradients.
    """

    n_inputs: int
    program: tuple
    outputs: tuple
    #: (output position, input position) pairs: that output is written into that input's
    #: buffer when their shapes agree (set by the inplace pass only)
    inplace: tuple = ()

    def make_node(self, *inputs):
        if len(inputs) != self.n_inputs:
            raise TypeError(f"fused elemwise takes {self.n_inputs} inputs, got {len(inputs)}")
        ndim = max((x.ndim for x in inputs), default=0)
        shapes = [x.type.shape for x in inputs]
        masks = self.input_masks()
        outs = []
        for j in self.outputs:
            deps = self.input_deps(j, masks)
            shape = broadcast_static_shapes([shapes[k] for k in deps], "fused elemwise") if deps else ()
            shape = (1,) * (ndim - len(shape)) + shape
            outs.append(TensorType(self.program[j][2], shape)())
        return Apply(self, list(inputs), outs)

    def step_deps(self, *steps: int) -> list[int]:
        """The steps that the steps ``steps`` need (themselves included), in program order."""
        needed, stack = set(), list(steps)
        while stack:
            j = stack.pop()
            if j not in needed:
                needed.add(j)
                stack.extend(ref for kind, ref in self.program[j][1] if kind == "step")
        return sorted(needed)

    def input_masks(self) -> list[int]:
        """For every step, the inputs it reads directly or through earlier steps, as a bit mask
        (bit k: input k). One walk of the program serves every output: walking each output's
        steps on its own costs outputs x steps, quadratic for a group exporting many values."""
        masks: list[int] = []
        for _, operands, _ in self.program:
            mask = 0
            for kind, ref in operands:
                if kind == "in":
                    mask |= 1 << ref
                elif kind == "step":
                    mask |= masks[ref]
            masks.append(mask)
        return masks

    def input_deps(self, step: int, masks: list[int] | None = None) -> list[int]:
        """The inputs that step ``step`` reads, directly or through earlier steps (``masks``:
        :meth:`input_masks`, when the caller asks for several steps)."""
        mask = (self.input_masks() if masks is None else masks)[step]
        return [k for k in range(self.n_inputs) if mask >> k & 1]

    def perform(self, inputs):
        values = []
        for rule, operands, dtype in self.program:
            args = []
            for kind, ref in operands:
                if kind == "in":
                    args.append(inputs[ref])
                elif kind == "step":
                    args.append(values[ref])
                else:
                    args.append(np.asarray(ref[0], dtype=ref[1]))
            with np.errstate(all="ignore"):
                values.append(np.asarray(rule.numpy_fn(*args), dtype=dtype))
        return [values[j] for j in self.outputs]

    def grad(self, inputs, output_grads):
        raise TypeError("fused elementwise nodes exist only inside compiled functions")

    def name_for_pp(self):
        return "fused"

    def pp_args(self):
        return [",".join(step[0].name for step in self.program)]

    def __str__(self):
        text = "Fused{" + ",".join(step[0].name for step in self.program) + "}"
        if self.inplace:
            text += "{inplace " + ",".join(f"{m}<-{k}" for m, k in self.inplace) + "}"
        return text

    def hoisted_constants(self) -> list:
        """The float constants of the program that the loop reads as arguments rather than
        literals (distinct, in program order): a kernel then serves every value of a learning
        rate or a loss weight, and equal loops with other constants share one function. The
        exponent of a power stays a literal (LLVM expands small integer powers)."""
        seen = {}
        for rule, operands, _ in self.program:
            for position, (kind, ref) in enumerate(operands):
                if (kind == "const" and np.dtype(ref[1]).kind == "f" and ref not in seen
                        and not (rule.name == "pow" and position == 1)):
                    seen[ref] = None
        return list(seen)

    def numba_data(self, node) -> list:
        """Values the kernel receives as arguments: the VM program of a very large group, or
        else the hoisted float constants (:meth:`hoisted_constants`) as scalars."""
        register = vm_register(self, node)
        if register is None:
            return [np.dtype(dtype).type(value) for value, dtype in self.hoisted_constants()]
        code, n_regs, consts, const_regs, in_regs, out_regs = _vm_program(self, register)
        return [code, np.int64(n_regs), consts, const_regs, in_regs, out_regs]

    def numba_lines(self, node, names, outs, data_names=()):
        return fused_loop_source(self, node, names, outs, data_names)


def _step_expr(fused: FusedElemwise, j: int, operand_source, input_dtypes,
               constants: dict | None = None) -> str:
    """Source of step ``j`` for one element; float32 and integer results are cast back to
    their dtype, since Numba's scalar arithmetic widens them. ``constants`` names the
    arguments holding hoisted constants (others are literals)."""
    rule, operands, dtype = fused.program[j]
    args, in_dtypes = [], []
    for kind, ref in operands:
        if kind == "const":
            name = constants.get(ref) if constants else None
            args.append(name if name is not None else scalar_literal(*ref))
            in_dtypes.append(ref[1])
            continue
        args.append(operand_source(kind, ref))
        in_dtypes.append(input_dtypes[ref] if kind == "in" else fused.program[ref][2])
    expr = rule.render(args, tuple(in_dtypes), dtype)
    if dtype not in ("float64", "bool"):
        expr = f"np.{dtype}({expr})"
    return expr


def is_c_layout(a) -> bool:
    """True when ``a`` is C-contiguous; in compiled code a constant of ``a``'s Numba type."""
    return bool(a.flags.c_contiguous)


def flat_view(a):
    """``a`` as a 1-d array; a view when ``a`` is C-contiguous."""
    return a.reshape(-1)


@numba.extending.overload(is_c_layout, inline="always")
def _is_c_layout_numba(a):
    # Only arrays typed with layout 'C' may be reshaped without a copy in Numba (typing is
    # static: a non-contiguous input, a transpose or a broadcast view is typed 'A' or 'F',
    # even if one particular value happens to be contiguous), so those take the strided loop.
    if a.layout == "C":
        return lambda a: True
    return lambda a: False


@numba.extending.overload(flat_view, inline="always")
def _flat_view_numba(a):
    if a.layout == "C":
        return lambda a: a.reshape(-1)
    return lambda a: a.ravel()  # typed for completeness; is_c_layout keeps it unused


@kernel
def broadcast_dim(current, length):
    """One step of NumPy's broadcasting of a dimension (1 stretches; other lengths must agree)."""
    if length == 1:
        return current
    if current != 1 and current != length:
        raise ValueError("fused elemwise: input shapes cannot broadcast")
    return length


def _loop_shape_lines(names, ndim: int, uid: str) -> tuple[list[str], list[str]]:
    """Lines computing the broadcast loop shape (checked), and the name of each dimension."""
    lines, dims = [], []
    for d in range(ndim):
        current = "1"
        for k, name in enumerate(names):
            lines.append(f"{uid}_n{d}_{k} = elemwise.broadcast_dim({current}, {name}.shape[{d}])")
            current = f"{uid}_n{d}_{k}"
        dims.append(current)
    return lines, dims


def fused_loop_source(fused: FusedElemwise, node, names, outs, data_names=()) -> list[str]:
    """Source lines computing a fused node: shape checks, output allocation, then one loop
    nest in which the steps appear once (:func:`_row_loop_lines`). Step values are assigned
    once each, which keeps Numba's SSA and type inference linear in the size of the loop
    body."""
    dtypes = tuple(x.dtype for x in node.inputs)
    ndim = node.outputs[0].ndim
    lines = []
    uid = outs[0]
    register = vm_register(fused, node) if data_names else None
    if register is not None:
        shape_lines, dims = _loop_shape_lines(names, ndim, uid)
        loop_shape = "(" + "".join(f"{d}, " for d in dims) + ")"
        return _vm_lines(node, names, outs, register, shape_lines, loop_shape, tuple(data_names))
    constants = dict(zip(fused.hoisted_constants(), data_names)) if data_names else None
    if ndim == 0:
        def operand(kind, ref):
            if kind == "in":
                return f"{names[ref]}[()]"
            return f"{uid}_v{ref}"

        for j in range(len(fused.program)):
            lines.append(f"{uid}_v{j} = {_step_expr(fused, j, operand, dtypes, constants)}")
        for out, j, var in zip(outs, fused.outputs, node.outputs):
            lines.append(f"{out} = np.empty((), dtype=np.{var.dtype})")
            lines.append(f"{out}[()] = {uid}_v{j}")
        return lines

    # loop shape: NumPy broadcasting over every input, checked before the loop
    shape_lines, dims = _loop_shape_lines(names, ndim, uid)
    lines.extend(shape_lines)
    loop_shape = "(" + "".join(f"{d}, " for d in dims) + ")"
    # each output's own shape: the broadcast of the inputs it depends on
    masks = fused.input_masks()
    shapes = _output_shape_lines(fused, masks, names, dims, uid, lines)
    for m, (out, j, var) in enumerate(zip(outs, fused.outputs, node.outputs)):
        shape = shapes[masks[j]]
        reuse = [k for m_, k in fused.inplace if m_ == m]
        if reuse:
            # only into a buffer of the loop's shape: an output smaller than the loop is
            # written again at each position it broadcasts over, and the input sharing its
            # buffer would be read back overwritten by the later iterations
            source = names[reuse[0]]
            # and contiguous: the loop writes through a flat view of the output, which for
            # another layout would be a copy
            fits = f"{source}.shape == {loop_shape} and {source}.flags.c_contiguous"
            if shape != loop_shape:
                fits += f" and {shape} == {loop_shape}"
            lines.append(f"{uid}_a{m} = {fits}")
            lines.append(f"{out} = {source} if {uid}_a{m} else "
                         f"np.empty({shape}, dtype=np.{var.dtype})")
        else:
            lines.append(f"{out} = np.empty({shape}, dtype=np.{var.dtype})")
    everything = (1 << len(names)) - 1
    partial = [m for m, j in enumerate(fused.outputs) if masks[j] != everything]
    # an input whose static shape is all ones (a 0-d value broadcast to the loop's rank: a
    # learning rate, a loss weight) is read once, as a scalar, and does not keep the loop off
    # its single-row path; an input whose buffer an output reuses stays an array
    reused_inputs = {k for _, k in fused.inplace}
    scalars = {k for k, var in enumerate(node.inputs)
               if var.type.shape == (1,) * ndim and k not in reused_inputs}
    lines.extend(_row_loop_lines(fused, names, outs, dims, dtypes, uid, partial, constants,
                                 scalars))
    return lines


def _output_shape_lines(fused, masks, names, dims, uid: str, lines: list[str]) -> dict:
    """The shape of every output, by the bit mask of the inputs it reads (the loop's shape
    for all of them); appends the lines computing the others. A step reading a new set of
    inputs gets its set's lengths from its operands' sets, one length per operand and axis:
    spelling out every input of every output instead is quadratic in a group that exports
    many values reading many inputs."""
    ndim = len(dims)
    everything = (1 << len(names)) - 1
    lengths = {1 << k: [f"{name}.shape[{d}]" for d in range(ndim)] for k, name in enumerate(names)}
    lengths[0] = ["1"] * ndim
    lengths[everything] = list(dims)
    shapes = {everything: "(" + "".join(f"{d}, " for d in dims) + ")"}
    wanted = {masks[j] for j in fused.outputs} - set(shapes)
    for j in fused.step_deps(*(j for j in fused.outputs if masks[j] in wanted)):
        if masks[j] in lengths:
            continue
        parts = []  # the operands' sets of inputs (constants read none)
        for kind, ref in fused.program[j][1]:
            if kind == "in" and 1 << ref not in parts:
                parts.append(1 << ref)
            elif kind == "step" and masks[ref] not in parts:
                parts.append(masks[ref])
        names_j = []
        for d in range(ndim):
            joined = ", ".join(lengths[mask][d] for mask in parts)
            # NumPy's broadcast of lengths already checked compatible: 0 wins, then the largest
            lines.append(f"{uid}_s{j}_{d} = max({joined}) if min({joined}) != 0 else 0")
            names_j.append(f"{uid}_s{j}_{d}")
        lengths[masks[j]] = names_j
    for mask in wanted:
        shapes[mask] = "(" + "".join(f"{d}, " for d in lengths[mask]) + ")"
    return shapes



def _inlined(fn):
    """:func:`kernel` whose machine code LLVM inlines into every caller (its ``alwaysinline``):
    for the helpers a fused loop calls once per row, where a call costs more than a short row.
    Numba types and lowers them once, not once per loop."""
    dispatcher = numba.njit(cache=True, nogil=True, error_model="numpy", forceinline=True)(fn)
    tolerate_broken_cache(dispatcher)
    return dispatcher


@_inlined
def loop_operand(a, fast, last, n):
    """(flat view of ``a``, the flat array the fused loop reads or writes for it, whether that
    is a buffer of length ``n``): a buffer when ``a`` is broadcast along the loop's last axis
    (length ``last``) or empty, unless the loop runs as one flat row (``fast``). The view is a
    copy only for an input that is not C-contiguous."""
    flat = np.ascontiguousarray(a).reshape(-1)
    buffered = not fast and (a.shape[-1] != last or a.size == 0)
    target = np.empty(n, a.dtype) if buffered else flat
    return flat, target, buffered


@_inlined
def fill_row(flat, target, start):
    """Fill an input's buffer with its value at ``start`` (ones for an empty input, read only
    by steps whose results are never stored); the loop reads the buffer from 0."""
    if flat.size == 0:
        target[:] = 1
    else:
        target[:] = flat[start]
    return np.uint64(0)


@_inlined
def copy_row(target, start, source, source_start, n):
    """The row of an input, into the output that is computed in its place."""
    for j in range(n):
        target[start + j] = source[source_start + j]


@_inlined
def store_row_value(flat, target, start):
    """An output broadcast along the last axis gets its row's one value (its buffer's last)."""
    if target.size != 0 and flat.size != 0:
        flat[start] = target[target.size - 1]


def _row_loop_lines(fused, names, outs, dims, dtypes, uid: str, partial: list[int],
                    constants: dict | None = None, scalars: frozenset | set = frozenset()
                    ) -> list[str]:
    """The loop of a fused node: the steps appear once, in an inner loop along the last axis,
    inside loops over the other axes ("rows"); a single row when every operand is C-contiguous
    with the loop's shape.

    Every operand is read or written as a flat C-ordered array at an offset that changes only
    from row to row (:func:`loop_operand`): its flat view or, for an operand broadcast along the
    last axis, a buffer of the row's length (an input's one value is copied along it; an
    output's value is stored after the row). So the inner loop reads and writes unit-stride
    memory only and LLVM vectorizes it without knowing which operands broadcast. Offsets are
    unsigned, so Numba adds no negative-index wraparound (a select per load, which LLVM could
    only vectorize as gathers). Arrays are chosen once per call, and a row costs a few integer
    operations: no view is made per row (each costs reference counting, which dominates
    short rows).

    A unit-stride copy of the steps next to a broadcasting one indexed ``i * (len != 1)`` cost
    more than twice the code: at level 3 LLVM unswitched the broadcasting loop on those flags,
    and in the copy where an input is constant along the inner axis the loop vectorizer's
    uniformity analysis took time exponential in the depth of the steps on it
    (softplus(sigmoid(x0)) + x1 did not compile in 15 minutes; issue 13).

    ``partial`` lists the outputs that read only some of the inputs. Their shape, the
    broadcast of those inputs, is larger than the loop's where a zero-length axis of another
    input meets a length-1 axis of theirs (NumPy: (0,) with (1,) is (0,), but the output alone
    is (1,)). Then the loop runs over its shape with the zero lengths taken as 1: a non-empty
    input has length 1 there, so every non-empty output broadcasts to that shape; an empty
    input reads as ones and an empty output is written to a buffer. Steps on those values
    compute results that are never stored (ones cannot trap: integer division and powers in
    Numba's NumPy error model do not raise).

    An output written into an input's buffer (``fused.inplace``) reads that input through the
    output's own array and offset, so that LLVM sees one array written where it is read: two
    views of the same memory would fail its runtime overlap check and run the scalar loop.
    When the input's buffer was not reused (another shape at run time), each row of the input
    is first copied to where the output's row goes.
    """
    ndim = len(dims)
    lead = range(ndim - 1)
    last = ndim - 1
    loop_shape = "(" + "".join(f"{d}, " for d in dims) + ")"
    size = " * ".join(dims)
    n = f"{uid}_n"
    full = " and ".join(
        [f"{name}.shape == {loop_shape} and {name}.flags.c_contiguous"
         for k, name in enumerate(names) if k not in scalars]
        + [f"{out}.shape == {loop_shape}" for out in outs]
    )
    lines = [f"{uid}_s{k} = {names[k]}[{', '.join(['0'] * ndim)}]" for k in sorted(scalars)]
    lines.append(f"{uid}_fast = {full}")
    if partial:
        nonempty = " or ".join(f"{outs[m]}.size != 0" for m in partial)
        lines.append(f"{uid}_z = {size} == 0 and ({nonempty})")
        extents = []
        for d in range(ndim):
            lines.append(f"{uid}_e{d} = 1 if {uid}_z and {dims[d]} == 0 else {dims[d]}")
            extents.append(f"{uid}_e{d}")
    else:
        extents = list(dims)
    lines.append(f"{n} = np.uint64({size} if {uid}_fast else {extents[last]})")
    for d in lead:
        lines.append(f"{uid}_l{d} = np.uint64(1 if {uid}_fast else {extents[d]})")

    def setup(array: str, flat: str, target: str, buffered: str, steps: str) -> None:
        lines.append(f"{flat}, {target}, {buffered} = elemwise.loop_operand({array}, {uid}_fast, "
                     f"{extents[last]}, {n})")
        # per leading axis, the flat distance between rows (0 where the length is 1)
        for d in lead:
            stride = " * ".join(f"{array}.shape[{e}]" for e in range(d + 1, ndim))
            lines.append(f"{steps}_{d} = np.uint64(0) if {array}.shape[{d}] == 1 "
                         f"else np.uint64({stride})")

    def row_start(steps: str) -> str:
        return " + ".join(f"{uid}_i{d} * {steps}_{d}" for d in lead) or "np.uint64(0)"

    arrays = [k for k in range(len(names)) if k not in scalars]
    for k in arrays:
        setup(names[k], f"{uid}_f{k}", f"{uid}_g{k}", f"{uid}_p{k}", f"{uid}_m{k}")
    for m, out in enumerate(outs):
        setup(out, f"{uid}_q{m}", f"{uid}_h{m}", f"{uid}_hs{m}", f"{uid}_c{m}")
    indent = ""
    if len(lead) <= MAX_NESTED_AXES:
        for d in lead:
            lines.append(f"{indent}for {uid}_i{d} in range({uid}_l{d}):")
            indent += "    "
    else:
        # Python compiles at most 20 nested blocks (and the loop may sit inside a scan's):
        # many leading axes are walked by one loop whose counter is unravelled per row
        rows = " * ".join(f"{uid}_l{d}" for d in lead)
        lines.append(f"for {uid}_j in range({rows}):")
        indent = "    "
        lines.append(f"{indent}{uid}_k = {uid}_j")
        for d in reversed(lead):
            lines.append(f"{indent}{uid}_i{d} = {uid}_k % {uid}_l{d}")
            lines.append(f"{indent}{uid}_k = {uid}_k // {uid}_l{d}")
    for k in arrays:
        lines.append(f"{indent}{uid}_u{k} = {row_start(f'{uid}_m{k}')}")
        lines.append(f"{indent}if {uid}_p{k}:")
        lines.append(f"{indent}    {uid}_u{k} = elemwise.fill_row({uid}_f{k}, {uid}_g{k}, "
                     f"{uid}_u{k})")
    reused = dict(fused.inplace)
    read_from = {k: (f"{uid}_g{k}", f"{uid}_u{k}") for k in arrays}
    for m in range(len(outs)):
        lines.append(f"{indent}{uid}_r{m} = {row_start(f'{uid}_c{m}')}")
        lines.append(f"{indent}{uid}_w{m} = np.uint64(0) if {uid}_hs{m} else {uid}_r{m}")
        if m in reused:
            k = reused[m]
            lines.append(f"{indent}if not {uid}_a{m} or {uid}_hs{m}:")
            lines.append(f"{indent}    elemwise.copy_row({uid}_h{m}, {uid}_w{m}, {uid}_g{k}, "
                         f"{uid}_u{k}, {n})")
            read_from[k] = (f"{uid}_h{m}", f"{uid}_w{m}")
    lines.append(f"{indent}for {uid}_i in range({n}):")
    body = indent + "    "
    for k in arrays:
        array, offset = read_from[k]
        lines.append(f"{body}{uid}_x{k} = {array}[{offset} + {uid}_i]")

    def operand(kind, ref):
        if kind == "in":
            return f"{uid}_s{ref}" if ref in scalars else f"{uid}_x{ref}"
        return f"{uid}_v{ref}"

    for j in range(len(fused.program)):
        lines.append(f"{body}{uid}_v{j} = {_step_expr(fused, j, operand, dtypes, constants)}")
    for m, j in enumerate(fused.outputs):
        lines.append(f"{body}{uid}_h{m}[{uid}_w{m} + {uid}_i] = {uid}_v{j}")
    for m in range(len(outs)):
        lines.append(f"{indent}if {uid}_hs{m}:")
        lines.append(f"{indent}    elemwise.store_row_value({uid}_q{m}, {uid}_h{m}, {uid}_r{m})")
    return lines


# --- the vector machine ------------------------------------------------------------------------
#
# A fused group of VM_MIN_STEPS steps or more, all floats (or booleans) of one dtype, runs on
# the vector machine (symnet/runtime/elemvm.py) instead of compiling as a loop of its own. Its
# opcodes are the rows of the table above: each rule's template rendered on register operands.

VM_MIN_STEPS = 96


def _vm_rules(register: str) -> tuple[ScalarRule, ...]:
    """The rules the machine runs on registers of dtype ``register``, in opcode order: every
    row of the table whose value on such operands is of that dtype or boolean (so not the
    bitwise rules), then the casts that keep a value in a register (to bool, to ``register``)."""
    rows = [rule for name, rule in RULES.items() if not name.startswith("cast_")]
    runs = []
    for rule in rows + [cast_rule("bool"), cast_rule(register)]:
        try:
            out_dtype = rule.out_dtype((register,) * rule.nin)
        except TypeError:
            continue  # not defined on floats
        if out_dtype in (register, "bool"):
            runs.append(rule)
    return tuple(runs)


def _vm_opcode(rule: ScalarRule, register: str) -> tuple[str, bool]:
    """``rule`` as an opcode of the machine (see :func:`symnet.runtime.elemvm.machine_source`):
    its template rendered on operands of dtype ``register``, and whether its value is boolean.
    The template is the fused loop's, so the machine computes every step with the same scalar
    code (a float32 value is rounded once, when it is stored into its register)."""
    dtypes = (register,) * rule.nin
    out_dtype = rule.out_dtype(dtypes)
    return rule.render(list(elemvm.OPERANDS[: rule.nin]), dtypes, out_dtype), out_dtype == "bool"


#: per register dtype, the rules the machine runs, by opcode
VM_RULES = {register: _vm_rules(register) for register in ("float64", "float32")}
VM_OPCODES = {register: {rule.name: k for k, rule in enumerate(rules)}
              for register, rules in VM_RULES.items()}
#: the machine's module, rendered from the table when this module is imported (its text does
#: not depend on which rules were used first) and loaded then too: a cached kernel that calls
#: the machine needs its module imported (Numba rebuilds the callee's globals by module name)
VM_SOURCE = elemvm.machine_source({register: [_vm_opcode(rule, register) for rule in rules]
                                   for register, rules in VM_RULES.items()})
_machine = elemvm.load_machine(VM_SOURCE)
#: the machine's interpreters, which the lines of very large fused groups call (_vm_lines)
vm_run_float64 = _machine.run_float64
vm_run_float32 = _machine.run_float32


def vm_register(fused: FusedElemwise, node) -> str | None:
    """The register dtype if ``fused`` (applied in ``node``) runs on the machine, else None."""
    if len(fused.program) < VM_MIN_STEPS:
        return None
    dtypes = {step[2] for step in fused.program} | {x.dtype for x in node.inputs}
    floats = dtypes - {"bool"}
    if len(floats) != 1:
        return None
    (register,) = floats
    opcodes = VM_OPCODES.get(register)
    if opcodes is None or any(step[0].name not in opcodes for step in fused.program):
        return None
    masks = fused.input_masks()
    everything = (1 << len(node.inputs)) - 1
    if any(masks[j] != everything for j in fused.outputs):
        return None  # every output must have the loop's shape
    return register


@functools.lru_cache(maxsize=256)
def _vm_program(fused: FusedElemwise, register: str):
    """The program arrays the machine runs: (code, n_registers, const values, const registers,
    input registers, output registers). A row of ``code`` is (opcode, destination register,
    operand registers)."""
    opcodes = VM_OPCODES[register]
    n_in = fused.n_inputs
    last_use = {}
    for j, (_, operands, _) in enumerate(fused.program):
        for kind, ref in operands:
            if kind == "step":
                last_use[ref] = j
    exported = set(fused.outputs)
    free: list[int] = []
    n_regs = n_in
    const_regs: dict = {}
    const_values: list = []
    step_reg: dict[int, int] = {}
    code = np.zeros((len(fused.program), 5), dtype=np.int64)
    for j, (rule, operands, _) in enumerate(fused.program):
        refs = []
        for kind, ref in operands:
            if kind == "in":
                refs.append(ref)
            elif kind == "step":
                refs.append(step_reg[ref])
            else:
                if ref not in const_regs:
                    const_regs[ref] = n_regs
                    const_values.append(float(np.asarray(ref[0], dtype=ref[1])))
                    n_regs += 1
                refs.append(const_regs[ref])
        # operands whose value dies here give their register back (after reading them)
        dying = [step_reg[ref] for kind, ref in operands
                 if kind == "step" and last_use.get(ref) == j and ref not in exported]
        if free:
            dest = free.pop()
        else:
            dest = n_regs
            n_regs += 1
        step_reg[j] = dest
        code[j, 0] = opcodes[rule.name]
        code[j, 1] = dest
        code[j, 2 : 2 + len(refs)] = refs
        for reg in set(dying):
            if reg != dest:
                free.append(reg)
        if j not in last_use and j not in exported and dest not in free:
            free.append(dest)  # computed but never read: only possible after rewrites off
    const_reg_array = np.array(list(const_regs.values()), dtype=np.int64)
    output_regs = np.array([step_reg[j] for j in fused.outputs], dtype=np.int64)
    return (code, n_regs, np.array(const_values, dtype=register), const_reg_array,
            np.arange(n_in, dtype=np.int64), output_regs)


def _vm_lines(node, names, outs, register: str, loop_lines: list[str], loop_shape: str,
              program_names: tuple[str, ...]) -> list[str]:
    """Lines that stack the inputs, run the machine and unpack its rows into the outputs.
    ``program_names`` are the kernel-argument names holding the program's arrays."""
    code, n_regs, consts, const_regs, in_regs, out_regs = program_names
    uid = outs[0]
    lines = list(loop_lines)
    size = " * ".join(f"{d}" for d in loop_shape.strip("()").split(",") if d.strip()) or "1"
    lines.append(f"{uid}_stack = np.empty(({len(names)}, {size}), dtype=np.{register})")
    for k, name in enumerate(names):
        lines.append(f"elemvm.fill_row({uid}_stack, {k}, {name}, {loop_shape})")
    lines.append(f"{uid}_rows = elemwise.vm_run_{register}({code}, {n_regs}, {consts}, "
                 f"{const_regs}, {uid}_stack, {in_regs}, {out_regs})")
    for m, (out, var) in enumerate(zip(outs, node.outputs)):
        row = f"{uid}_rows[{m}]"
        if var.dtype == "bool":
            row = f"({row} != 0)"
        lines.append(f"{out} = np.ascontiguousarray({row}).reshape({loop_shape})")
    return lines
