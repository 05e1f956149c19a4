"""Reverse-mode differentiation: grad, jacobian, hessian, verify_grad.

``grad`` is pure and graph-to-graph: it walks the cost's graph once in reverse topological
order, asks each op for the gradients of its inputs (``Op.grad``), accumulates gradients of
variables used more than once, and is the only place that un-broadcasts
(:func:`symnet.ops.shape.sum_to_shape`). The result is an ordinary graph that pp prints,
rewrites simplify, the backends compile and ``grad`` differentiates again.
"""

from __future__ import annotations

import warnings

import numpy as np

from symnet.config import SymnetWarning
from symnet.graph import Variable, as_variable_list, tensor_functions, toposort, without_gc
from symnet import tensor as T
from symnet.ops.control import scan
from symnet.ops.shape import sum_to_shape
from symnet.printing import pp


class DisconnectedInputError(ValueError):
    """Raised when a ``wrt`` variable is not part of the cost's graph."""


class NullGradError(TypeError):
    """Raised when a gradient is asked for through an op that has none."""


def _is_float(var: Variable) -> bool:
    return np.dtype(var.dtype).kind == "f"


@without_gc
def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", known_grads=None):
    """Symbolic gradient of a scalar ``cost`` with respect to ``wrt``.

    Parameters
    ----------
    cost : Variable
        A 0-d float expression.
    wrt : Variable or list of Variable
        What to differentiate with respect to (inputs, shared variables or intermediate
        variables); the result has the same structure.
    consider_constant : list of Variable, optional
        Variables whose gradient is not propagated further (treated as constants).
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when ``cost`` does not depend on an element of ``wrt``; with 'warn' and
        'ignore' its gradient is zeros.
    known_grads : dict, optional
        Extra gradient seeds {variable: gradient}, added to the cost's.

    Returns
    -------
    Variable or list of Variable

    Examples
    --------
    >>> import symnet as sn
    >>> import symnet.tensor as T
    >>> x = T.dscalar('x')
    >>> g = sn.grad(x ** 2, x)
    >>> float(g.eval({x: 3.0}))
    6.0
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise', 'warn' or 'ignore', got {disconnected_inputs!r}")
    single = isinstance(wrt, Variable)
    wrt_list = as_variable_list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {type(w).__name__}")
    if cost is not None:
        cost = T.as_tensor(cost)
        if cost.ndim != 0:
            raise TypeError(
                f"grad: the cost must be a scalar (0-d), got a {cost.ndim}-d {cost.type.short()} "
                f"expression; sum or mean it first, or use jacobian"
            )
        if not _is_float(cost):
            raise TypeError(f"grad: the cost must be a float, got {cost.dtype}")

    grads: dict[Variable, Variable] = {}
    seeds = []
    if cost is not None:
        grads[cost] = T.ones_like(cost)
        seeds.append(cost)
    for var, g in (known_grads or {}).items():
        g = T.as_tensor(g)
        grads[var] = grads[var] + g if var in grads else g
        seeds.append(var)

    constants = {id(v) for v in (consider_constant or [])}
    wrt_ids = {id(w) for w in wrt_list}
    nodes = toposort(seeds)
    # Only nodes on a path to some wrt matter: mark which variables lead to a wrt.
    leads = set(wrt_ids)
    for node in nodes:
        if any(id(i) in leads for i in node.inputs if id(i) not in constants):
            for out in node.outputs:
                leads.add(id(out))
    for node in reversed(nodes):
        if not any(id(o) in leads for o in node.outputs):
            continue
        gzs = [grads.get(out) for out in node.outputs]
        if all(g is None for g in gzs):
            continue
        gzs = [T.zeros_like(out) if g is None else g for out, g in zip(node.outputs, gzs)]
        needed = [id(i) in leads and id(i) not in constants for i in node.inputs]
        if not any(needed):
            continue
        input_grads = node.op.grad(list(node.inputs), gzs)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(f"{node.op}.grad returned {len(input_grads)} gradients for {len(node.inputs)} inputs")
        for x, gx, need in zip(node.inputs, input_grads, needed):
            if gx is None or not need or not _is_float(x):
                continue
            gx = T.as_tensor(gx)
            if gx.dtype != x.dtype:
                gx = T.cast(gx, x.dtype)
            gx = _sum_to_shape(gx, x)
            grads[x] = grads[x] + gx if x in grads else gx

    results = []
    for w in wrt_list:
        g = grads.get(w)
        if g is None:
            message = (
                f"grad: the cost does not depend on {_describe(w)}"
                if _is_float(w)
                else f"grad: {_describe(w)} is an integer/boolean input and has no gradient"
            )
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(
                    message + " (pass disconnected_inputs='ignore' to get zeros)"
                )
            if disconnected_inputs == "warn":
                warnings.warn(message, SymnetWarning, stacklevel=2)
            g = T.zeros_like(w) if _is_float(w) else T.zeros_like(w, dtype="float64")
        results.append(g)
    return results[0] if single else results


def _sum_to_shape(gx: Variable, x: Variable) -> Variable:
    return sum_to_shape(gx, x)


def _describe(var: Variable) -> str:
    kind = "shared variable" if var.owner is None and hasattr(var, "get_value") else "variable"
    return f"{kind} {pp(var, max_length=80)!r} ({var.type.short()})"


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Jacobian of a vector (or scalar) ``expression`` with respect to ``wrt``.

    Row ``i`` is the gradient of ``expression[i]``; the result has shape
    ``expression.shape + wrt.shape``. Built on :func:`grad` and :func:`symnet.scan`.
    """
    single = isinstance(wrt, Variable)
    wrt_list = as_variable_list(wrt)
    expression = T.as_tensor(expression)
    if expression.ndim == 0:
        out = grad(expression, wrt_list, consider_constant, disconnected_inputs)
        return out[0] if single else out
    if expression.ndim != 1:
        raise TypeError(f"jacobian: expression must be a scalar or a vector, got {expression.ndim}-d")

    results = []
    for w in wrt_list:
        def row(i, expr, w=w):
            return grad(expr[i], w, consider_constant, disconnected_inputs)

        rows, _ = scan(row, sequences=T.arange(expression.shape[0]), non_sequences=[expression])
        results.append(rows)
    return results[0] if single else results


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Hessian of a scalar ``cost``: the jacobian of its gradient (vector or matrix ``wrt``)."""
    single = isinstance(wrt, Variable)
    wrt_list = as_variable_list(wrt)
    results = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant, disconnected_inputs)
        flat = T.flatten(g) if g.ndim != 1 else g
        # a gradient that does not depend on w (a cost linear in w) has a zero jacobian: the
        # cost's own dependence on w was checked above
        h = jacobian(flat, w, consider_constant, disconnected_inputs="ignore")
        if w.ndim != 1:
            h = T.reshape(h, T.concatenate([T.shape(w), T.shape(w)]), ndim=2 * w.ndim)
        results.append(h)
    return results[0] if single else results


def verify_grad(fn, points, rng=None, eps=1e-6, rtol=1e-5, atol=None, mode=None):
    """Check ``grad`` of ``fn`` against central finite differences, or raise AssertionError.

    ``fn`` maps symbolic inputs (one per point) to a symbolic output. The output is projected
    onto a random tensor in [0.5, 1.5] (seeded), so one scalar cost exercises every output
    element. Points are converted to float64. The message names the worst input, its position,
    the symbolic and the numeric value.

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> sn.verify_grad(lambda x: T.exp(x) * x, [np.array([0.5, 1.0])])
    """
    if rng is None:
        rng = np.random.default_rng(42)
    elif isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(int(rng))
    points = [np.array(p, dtype="float64") for p in points]
    sym = [T.tensor("float64", shape=(None,) * p.ndim, name=f"input{i}") for i, p in enumerate(points)]
    out = T.as_tensor(fn(*sym))
    out_value_fn = tensor_functions.function(sym, out, mode=mode, on_unused_input="ignore")
    out_shape = np.asarray(out_value_fn(*[p.copy() for p in points])).shape
    projection = rng.uniform(0.5, 1.5, size=out_shape)
    proj = T.constant(projection)
    cost = T.sum(T.cast(out, "float64") * proj)
    grads = grad(cost, sym, disconnected_inputs="ignore")
    f = tensor_functions.function(sym, [cost, *grads], mode=mode, on_unused_input="ignore")
    results = f(*[p.copy() for p in points])
    symbolic = [np.asarray(g) for g in results[1:]]

    cost_only = tensor_functions.function(sym, cost, mode=mode, on_unused_input="ignore")
    abs_tol = rtol if atol is None else atol
    worst = None
    for k, p in enumerate(points):
        numeric = np.zeros_like(p)
        flat = numeric.reshape(-1)
        for j in range(p.size):
            plus = [q.copy() for q in points]
            minus = [q.copy() for q in points]
            plus[k].reshape(-1)[j] += eps
            minus[k].reshape(-1)[j] -= eps
            flat[j] = (float(cost_only(*plus)) - float(cost_only(*minus))) / (2 * eps)
        if not p.size:
            continue
        abs_err = np.abs(symbolic[k] - numeric)
        rel_err = abs_err / np.maximum(np.abs(symbolic[k]) + np.abs(numeric), 1e-300)
        # an element fails when both its absolute and its relative error are too large
        badness = np.minimum(abs_err / abs_tol, rel_err / rtol)
        pos = np.unravel_index(int(np.nanargmax(np.where(np.isnan(badness), np.inf, badness))), p.shape)
        score = float(badness[pos]) if not np.isnan(badness[pos]) else np.inf
        if worst is None or score > worst[0]:
            worst = (score, k, pos, symbolic[k][pos], numeric[pos])
    if worst is not None and worst[0] > 1.0:
        _, k, pos, sym_value, num_value = worst
        raise AssertionError(
            f"verify_grad: gradient of input {k} (shape {points[k].shape}) is wrong at position "
            f"{tuple(int(i) for i in pos)}: symbolic {sym_value!r}, finite differences {num_value!r} "
            f"(rtol={rtol}, atol={abs_tol}, eps={eps})"
        )
