"""pp (one-line, fully parenthesised expressions) and debugprint (one node per line)."""

from __future__ import annotations

import sys

import numpy as np

from symnet.graph import (Constant, SharedVariable, Variable, as_variable_list, tensor_functions,
                          toposort)
from symnet.ops.elemwise import Elemwise
from symnet.ops.shape import DimShuffle


def _constant_text(data: np.ndarray) -> str:
    if data.ndim == 0:
        value = data.item()
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            if np.isfinite(value) and value == int(value) and abs(value) < 1e16:
                return str(int(value))
            return str(data[()])  # shortest text that round-trips in the constant's dtype
        return str(value)
    if data.size <= 8:
        return np.array2string(data, separator=", ").replace("\n", "")
    return f"constant{{{data.dtype}, shape={data.shape}}}"


def _leaf_text(var: Variable) -> str:
    if isinstance(var, Constant):
        return var.name if var.name is not None else _constant_text(var.data)
    if var.name is not None:
        return var.name
    if isinstance(var, SharedVariable):
        return f"<shared {var.type.short()}>"
    return f"<{var.type.short()}>"


def _is_anonymous_constant(var: Variable) -> bool:
    return isinstance(var, Constant) and var.name is None


def _strip_leading_ones(data: np.ndarray) -> np.ndarray:
    lead = 0
    while lead < data.ndim and data.shape[lead] == 1:
        lead += 1
    return data.reshape(data.shape[lead:])


def _is_rank_padding(node) -> bool:
    """The broadcast dimshuffle Elemwise inserts to align ranks: ('x', ..., 0, 1, ...)."""
    if not isinstance(node.op, DimShuffle):
        return False
    order = node.op.new_order
    n_new = len(order) - node.inputs[0].ndim
    return order == ("x",) * n_new + tuple(range(node.inputs[0].ndim))


def pp(var, max_length: int | None = None) -> str:
    """One-line text of an expression: infix operators fully parenthesised, functions as
    ``name(args)``, constants as their value, named variables by name.

    Examples
    --------
    >>> import symnet.tensor as T
    >>> x, y, w = T.dscalars('x', 'y', 'w')
    >>> pp((x + y) * w)
    '((x + y) * w)'
    >>> pp(1 / (1 + T.exp(-x)))
    '(1 / (1 + exp(-x)))'

    ``max_length`` truncates every sub-expression's text (with '...'), which keeps the cost
    linear in the graph size for graphs that reuse variables many times.
    """
    if hasattr(var, "maker") or hasattr(var, "fgraph"):
        return "\n".join(pp(o) for o in var.fgraph.outputs)
    if isinstance(var, (list, tuple)):
        return "[" + ", ".join(pp(v, max_length) for v in var) + "]"
    if not isinstance(var, Variable):
        raise TypeError(f"pp expects a symbolic variable, got {type(var).__name__}")
    texts: dict[int, str] = {}

    def text(v: Variable) -> str:
        if id(v) in texts:
            return texts[id(v)]
        return _leaf_text(v)

    for node in toposort([var]):
        op = node.op
        if isinstance(op, Elemwise):
            # Elemwise pads constants to the output's rank with leading length-1 axes; they
            # broadcast the same without them, so `x + 1` prints as written, not `x + [[1.]]`
            args = [_constant_text(_strip_leading_ones(i.data)) if _is_anonymous_constant(i)
                    else text(i) for i in node.inputs]
        else:
            args = [text(i) for i in node.inputs]
        named = node.outputs
        if _is_rank_padding(node):
            body = args[0]
        elif hasattr(op, "pp_text"):
            # ops with their own syntax, e.g. indexing: x[1:3]
            body = op.pp_text(args)
        else:
            infix = getattr(op, "infix", None)
            if infix and len(args) == 2:
                body = f"({args[0]} {infix} {args[1]})"
            elif infix and len(args) == 1:
                body = f"{infix}{args[0]}"
            else:
                extra = op.pp_args()
                body = f"{op.name_for_pp()}({', '.join(args + extra)})"
        if max_length is not None and len(body) > max_length:
            body = body[: max_length - 3] + "..."
        for i, out in enumerate(named):
            if out.name is not None and out is not var:
                texts[id(out)] = out.name
            else:
                texts[id(out)] = body if len(named) == 1 else f"{body}[{i}]"
    if var.owner is None:
        return _leaf_text(var)
    return texts[id(var)]


def _short_id(var: Variable, ids: dict[int, str]) -> str:
    if id(var) not in ids:
        n = len(ids)
        label = ""
        while True:
            label = chr(ord("A") + n % 26) + label
            n = n // 26 - 1
            if n < 0:
                break
        ids[id(var)] = label
    return ids[id(var)]


def debugprint(obj, file=None, print_type=True, source=False, rewrites=False) -> str:
    """Print (and return) a graph one node per line, indented by depth.

    Each line shows the op, a short id, the type and the name. A node reached again is shown
    as ``*** <id>`` rather than repeated. Accepts variables, lists of them, or a compiled
    function (its rewritten graph; ``source=True`` adds the generated kernel module and
    ``rewrites=True`` the rewrite report).
    """

    lines: list[str] = []
    ids: dict[int, str] = {}
    seen: set[int] = set()

    function = obj if hasattr(obj, "fgraph") else None
    if function is not None:
        outputs = list(function.fgraph.outputs)
    else:
        outputs = as_variable_list(obj) if not isinstance(obj, Variable) else [obj]

    def describe(var: Variable) -> str:
        parts = []
        if var.owner is not None:
            parts.append(str(var.owner.op))
        elif isinstance(var, Constant):
            parts.append(_constant_text(var.data))
        elif isinstance(var, SharedVariable):
            parts.append("shared")
        else:
            parts.append("input")
        parts.append(_short_id(var, ids))
        if print_type:
            parts.append(var.type.short())
        if var.name is not None:
            parts.append(f"'{var.name}'")
        return " ".join(parts)

    stack = [(o, 0) for o in reversed(outputs)]
    while stack:
        var, depth = stack.pop()
        indent = " |" * depth
        prefix = f"{indent}" if depth == 0 else f"{indent} "
        if var.owner is not None and id(var.owner) in seen:
            lines.append(f"{prefix}*** {_short_id(var, ids)}")
            continue
        lines.append(prefix + describe(var))
        if var.owner is not None:
            seen.add(id(var.owner))
            for inp in reversed(var.owner.inputs):
                stack.append((inp, depth + 1))

    if function is not None and rewrites:
        lines.append("")
        lines.append(function.explain(print_=False))
    if function is not None and source and getattr(function, "source", None):
        lines.append("")
        lines.append(function.source)
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text


tensor_functions.register(pp)
