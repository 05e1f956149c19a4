"""Reverse-mode differentiation: grad, jacobian, hessian, verify_grad.

``grad`` is pure and graph-to-graph: it walks the cost's graph once in reverse topological
order, asks each op for the gradients of its inputs (``Op.grad``), accumulates gradients of
variables used more than once, and is the only place that un-broadcasts
(:func:`symnet.ops.shape.sum_to_shape`). The result is an ordinary graph that pp prints,
rewrites simplify, the backends compile and ``grad`` differentiates again.

The gradients of scan and ifelse are built here too (:func:`_scan_grad`, :func:`_ifelse_grad`):
they differentiate the ops' inner graphs with ``grad`` itself, and ops sit below grad.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from symnet import tensor as T
from symnet.config import SymnetWarning
from symnet.graph import (
    Apply,
    Constant,
    TensorType,
    Variable,
    as_variable_list,
    clone_replace,
    graph_inputs,
    tensor_functions,
    toposort,
    without_gc,
)
from symnet.ops.control import IfElse, Scan, build_scan, ifelse, scan
from symnet.ops.shape import (Alloc, Shape, ShapeI, SumToShape, as_shape_vector,
                              sum_to_shape)
from symnet.ops.subtensor import IncSubtensor
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
        input_grads = _input_grads(node, gzs)
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


# --- gradients of ops holding inner graphs -----------------------------------------------------
# The gradient of a scan or an ifelse differentiates its inner graphs with grad itself, and ops
# sit below grad: those gradients are built here, and the driver asks for them (_input_grads)
# instead of the op's grad.


def _input_grads(node, output_grads) -> list:
    """The gradients of ``node``'s inputs: its op's ``grad`` (scan's and ifelse's reach the
    builders below through the function table)."""
    return node.op.grad(list(node.inputs), output_grads)


def _is_zero(var: Variable) -> bool:
    """True for gradients the driver fills in for unused outputs (zeros_like) and zero
    constants: a scan or ifelse need not propagate them."""
    if isinstance(var, Constant):
        return var.data.size > 0 and not np.any(var.data)
    owner = var.owner
    return (owner is not None and isinstance(owner.op, Alloc)
            and isinstance(owner.inputs[0], Constant) and not np.any(owner.inputs[0].data))


def _ifelse_grad(op: IfElse, inputs, output_grads) -> list:
    """The gradient of an ifelse: an ifelse choosing between the gradients of the two
    branches (zeros for a value the chosen branch does not read)."""
    condition, values = inputs[0], inputs[1:]
    wanted = [k for k, v in enumerate(values) if _is_float(v) and not isinstance(v, Constant)]
    per_branch = []
    for graph, positions in ((op.then_graph, op.then_inputs), (op.else_graph, op.else_inputs)):
        outer = {ph: values[k] for ph, k in zip(graph.inputs, positions)}
        outs = clone_replace(list(graph.outputs), outer)
        # the branch's own inputs, computed outside it or not (a value both branches
        # read is computed before the ifelse: its owner must not hide it)
        reached = {id(v) for v in graph_inputs(outs, stop=[values[k] for k in positions])}
        seeds: dict = {}
        for out, g in zip(outs, output_grads):
            if _is_float(out) and not _is_zero(g):
                seeds[out] = seeds[out] + g if out in seeds else g
        wrt = [k for k in wanted if k in positions and id(values[k]) in reached]
        found = {}
        if seeds and wrt:
            grads = grad(None, [values[k] for k in wrt], known_grads=seeds,
                         disconnected_inputs="ignore")
            found = dict(zip(wrt, grads))
        per_branch.append(found)
    then_grads, else_grads = per_branch
    connected = [k for k in wanted if k in then_grads or k in else_grads]
    result = [None] * len(inputs)
    if not connected:
        return result
    a = [then_grads.get(k, None) for k in connected]
    b = [else_grads.get(k, None) for k in connected]
    a = [T.zeros_like(values[k]) if g is None else g for k, g in zip(connected, a)]
    b = [T.zeros_like(values[k]) if g is None else g for k, g in zip(connected, b)]
    chosen = ifelse(condition, a, b)
    for k, g in zip(connected, chosen):
        result[1 + k] = g
    return result


def _scan_grad(op: Scan, inputs, output_grads) -> list:
    """Backpropagation through time: a scan over the steps in reverse order.

    With ``h`` the states, step t maps (x_t, h_t, w) to (h_{t+1}, y_t). The backward step t
    receives the adjoint ``c`` of h_{t+1} from step t+1 (plus the gradient of the stored
    h_{t+1} itself), applies the step's vector-Jacobian product and passes the adjoint of h_t
    on; the gradients of the non-sequences accumulate in states, those of the sequence
    elements are stacked. The forward states are read back from the forward scan's history.
    """
    S, R = op.n_seqs, op.n_states
    n_steps = inputs[0]
    seqs, inits, nonseqs = inputs[1:1 + S], inputs[1 + S:1 + S + R], inputs[1 + S + R:]
    # every state's history: the same scan with every state stacked (cse merges the two
    # when the forward scan already stacks them all)
    full = dataclasses.replace(op, stacked=(True,) * R).make_node(*inputs).outputs
    histories, stacked_outs = full[:R], full[R:]
    seeds = _ScanSeeds.of(op, inits, stacked_outs, output_grads)
    forward = _ForwardStep.of(op, seqs, inits, nonseqs, seeds)
    if not seeds.any():
        return forward.zero_grads(len(inputs), seqs, inits, nonseqs)

    backward = _BackwardStep.of(op, forward, histories, stacked_outs, seeds)
    sequences, names = _backward_sequences(op, seqs, inits, histories, stacked_outs, seeds,
                                           forward, backward)
    states = [(seeds.final[j] if seeds.final[j] is not None else T.zeros_like(inits[j]),
               backward.carries[j]) for j in forward.carried]
    states += [(T.zeros_like(nonseqs[k]), backward.sums[k]) for k in forward.want_w]
    nonseq_pairs = [(nonseqs[k], forward.ws[k]) for k in range(len(nonseqs))
                    if id(forward.ws[k]) in backward.used]
    n_states = len(forward.carried) + len(forward.want_w)
    outs = build_scan(n_steps, sequences, states, nonseq_pairs, backward.outputs[:n_states],
                      backward.outputs[n_states:], stacked=(False,) * n_states,
                      reverse=not op.reverse, seq_names=names)

    result = [None] * len(inputs)
    for j, g in zip(forward.carried, outs[:len(forward.carried)]):
        if id(forward.hs[j]) in forward.reached:
            result[1 + S + j] = g
    for k, g in zip(forward.want_w, outs[len(forward.carried):n_states]):
        result[1 + S + R + k] = g
    for k, g in zip(forward.want_x, outs[n_states:]):
        if not _length_of(n_steps, seqs[k]):
            # steps past n_steps did not run: their elements get zeros
            g = T.concatenate([g, T.zeros_like(seqs[k][n_steps:])])
        result[1 + k] = g
    return result


@dataclass
class _ScanSeeds:
    """The gradients a scan's outputs receive, by how the backward scan reads them: for each
    state, the gradient of its history (``stacked``, a sequence of the backward scan) or of
    its final value only (``final``, the backward scan's initial adjoint); for each further
    output, the gradient of its stack (``outs``). None where there is none."""

    stacked: list
    final: list
    outs: list

    @classmethod
    def of(cls, op: Scan, inits, stacked_outs, output_grads) -> _ScanSeeds:
        R, M = op.n_states, op.n_outs
        stacked, final = [None] * R, [None] * R
        for j in range(R):
            g = output_grads[j]
            if _is_float(inits[j]) and g is not None and not _is_zero(g):
                last = _last_step_gradient(g) if op.stacked[j] and not op.reverse else None
                if last is not None:
                    # only history[-1] (the final state) is read: seed the backward scan with
                    # its gradient rather than reading a history-sized gradient that is zero
                    # elsewhere
                    g = last + T.zeros_like(inits[j])
                g = T.cast(g, inits[j].dtype) if g.dtype != inits[j].dtype else g
                if op.stacked[j] and last is None:
                    stacked[j] = g
                else:
                    final[j] = g
        outs = [None] * M
        for m in range(M):
            g = output_grads[R + m]
            if _is_float(stacked_outs[m]) and g is not None and not _is_zero(g):
                dtype = stacked_outs[m].dtype
                outs[m] = T.cast(g, dtype) if g.dtype != dtype else g
        return cls(stacked, final, outs)

    def any(self) -> bool:
        return any(g is not None for g in self.stacked + self.final + self.outs)


def _last_step_gradient(g: Variable):
    """``v`` when ``g``, the gradient of a state's history, is ``v`` at the last step and zero
    elsewhere (the gradient the driver builds for ``history[-1]``); else None."""
    if g.owner is not None and isinstance(g.owner.op, SumToShape):
        g = g.owner.inputs[0]
    node = g.owner
    if (node is None or not isinstance(node.op, IncSubtensor) or node.op.idx != (-1,)
            or not _is_zero(node.inputs[0])):
        return None
    return node.inputs[1]


@dataclass
class _ForwardStep:
    """The forward step on fresh placeholders (``xs`` the sequence elements, ``hs`` the
    states, ``ws`` the non-sequences) computing ``outputs``; ``reached`` holds the ids of the
    placeholders they read. ``want_x`` and ``want_w`` index the sequences and non-sequences
    that get a gradient, ``carried`` the states whose adjoint the backward scan carries."""

    xs: list
    hs: list
    ws: list
    outputs: list
    reached: set
    want_x: list
    want_w: list
    carried: list

    @classmethod
    def of(cls, op: Scan, seqs, inits, nonseqs, seeds: _ScanSeeds) -> _ForwardStep:
        S, R = op.n_seqs, op.n_states
        step = op.step
        xs = [v.type(v.name) for v in step.inputs[:S]]
        hs = [v.type(v.name) for v in step.inputs[S:S + R]]
        ws = [v.type(v.name) for v in step.inputs[S + R:]]
        outputs = clone_replace(list(step.outputs), dict(zip(step.inputs, xs + hs + ws)))
        reached = {id(v) for v in graph_inputs(outputs)}

        def wanted(outer, placeholder):
            return (_is_float(outer) and not isinstance(outer, Constant)
                    and id(placeholder) in reached)

        want_x = [k for k in range(S) if wanted(seqs[k], xs[k])]
        want_w = [k for k in range(len(nonseqs)) if wanted(nonseqs[k], ws[k])]
        carried = [j for j in range(R) if _is_float(inits[j])
                   and (id(hs[j]) in reached or seeds.final[j] is not None)]
        return cls(xs, hs, ws, outputs, reached, want_x, want_w, carried)

    def zero_grads(self, n_inputs: int, seqs, inits, nonseqs) -> list:
        """The scan's input gradients when no output has one: zeros for every input the step
        reads."""
        S, R = len(seqs), len(inits)
        result = [None] * n_inputs
        for k in self.want_x:
            result[1 + k] = T.zeros_like(seqs[k])
        for j in self.carried:
            result[1 + S + j] = T.zeros_like(inits[j]) if id(self.hs[j]) in self.reached else None
        for k in self.want_w:
            result[1 + S + R + k] = T.zeros_like(nonseqs[k])
        return result


@dataclass
class _BackwardStep:
    """The backward step: its placeholders (the stored forward values ``stored_h`` and
    ``stored_y``, the gradients ``gh`` of state histories and ``gy`` of outputs at the step,
    the adjoints ``carries`` and gradient sums ``sums`` it carries as states, each dict keyed
    by state, output or non-sequence index) besides the forward step's, and its ``outputs``:
    the new adjoints, the new sums, then the gradients of the sequence elements. ``used``
    holds the ids of the placeholders the outputs read."""

    stored_h: list
    stored_y: list
    gh: dict
    gy: dict
    carries: dict
    sums: dict
    outputs: list
    used: set

    @classmethod
    def of(cls, op: Scan, forward: _ForwardStep, histories, stacked_outs,
           seeds: _ScanSeeds) -> _BackwardStep:
        R, M = op.n_states, op.n_outs
        stored_h = [TensorType(h.dtype, h.type.shape[1:])(f"{h.name or 'h'}_next")
                    for h in histories]
        stored_y = [TensorType(y.dtype, y.type.shape[1:])() for y in stacked_outs]
        gh = {j: TensorType(g.dtype, g.type.shape[1:])("g_state")
              for j, g in enumerate(seeds.stacked) if g is not None}
        gy = {m: TensorType(g.dtype, g.type.shape[1:])("g_out")
              for m, g in enumerate(seeds.outs) if g is not None}
        carries = {j: forward.hs[j].type("adjoint") for j in forward.carried}
        sums = {k: forward.ws[k].type("grad_sum") for k in forward.want_w}

        # the step's vector-Jacobian product, seeded with the adjoints and the gradients of
        # the stored values at this step
        known: dict = {}

        def seed(var, g):
            known[var] = known[var] + g if var in known else g

        for j in range(R):
            total = carries.get(j)
            if j in gh:
                total = gh[j] if total is None else total + gh[j]
            if total is not None and _is_float(forward.outputs[j]):
                seed(forward.outputs[j], total)
        for m, g in gy.items():
            seed(forward.outputs[R + m], g)
        carried, want_x, want_w = forward.carried, forward.want_x, forward.want_w
        wrt = ([forward.xs[k] for k in want_x] + [forward.hs[j] for j in carried]
               + [forward.ws[k] for k in want_w])
        grads = grad(None, wrt, known_grads=known, disconnected_inputs="ignore") if wrt else []
        dx = grads[:len(want_x)]
        dh = grads[len(want_x):len(want_x) + len(carried)]
        dw = grads[len(want_x) + len(carried):]
        dtypes = [forward.hs[j].dtype for j in carried]
        new_carries = [T.cast(g, dtype) if g.dtype != dtype else g for g, dtype in zip(dh, dtypes)]
        new_sums = [sums[k] + g for k, g in zip(want_w, dw)]

        stored = [(forward.outputs[j], stored_h[j]) for j in range(R)]
        stored += [(forward.outputs[R + m], stored_y[m]) for m in range(M)]
        outputs = _reuse_forward(new_carries + new_sums + dx, stored)
        used = {id(v) for v in graph_inputs(outputs)}
        return cls(stored_h, stored_y, gh, gy, carries, sums, outputs, used)


def _backward_sequences(op: Scan, seqs, inits, histories, stacked_outs, seeds: _ScanSeeds,
                        forward: _ForwardStep, backward: _BackwardStep) -> tuple[list, list]:
    """The backward scan's sequences, as (outer value, placeholder) pairs, and their labels:
    of the values the backward step reads, those that change from step to step."""
    sequences, names = [], []

    def add_sequence(value, placeholder, label):
        if id(placeholder) in backward.used:
            sequences.append((value, placeholder))
            names.append(label)

    for k in range(op.n_seqs):
        add_sequence(seqs[k], forward.xs[k], op.seq_label(k))
    for j in range(op.n_states):
        if id(forward.hs[j]) in backward.used:
            # the state before each step: the initial state, then the history of the steps
            # before (which, in a reverse scan, are the steps of higher index)
            first = T.expand_dims(inits[j], 0)
            if op.reverse:
                before = T.concatenate([histories[j][1:], first])
            else:
                before = T.concatenate([first, histories[j][:-1]])
            add_sequence(before, forward.hs[j], f"states {j} before each step")
        add_sequence(histories[j], backward.stored_h[j], f"history of state {j}")
    for m in range(op.n_outs):
        add_sequence(stacked_outs[m], backward.stored_y[m], f"output {m}")
    for j, placeholder in backward.gh.items():
        add_sequence(seeds.stacked[j], placeholder, f"gradient of state {j}")
    for m, placeholder in backward.gy.items():
        add_sequence(seeds.outs[m], placeholder, f"gradient of output {m}")
    return sequences, names


def _length_of(n_steps: Variable, seq: Variable) -> bool:
    """True when ``n_steps`` is, by construction, the length of ``seq``."""
    if isinstance(n_steps, Constant) and seq.type.shape[0] is not None:
        return int(n_steps.data) == seq.type.shape[0]
    owner = n_steps.owner
    return (owner is not None and isinstance(owner.op, ShapeI) and owner.op.i == 0
            and owner.inputs[0] is seq)


def _reuse_forward(outputs, stored) -> list[Variable]:
    """``outputs`` with every recomputation of a forward value replaced by its stored copy.

    A gradient rebuilds what it needs from the forward step (``tanh(z)`` for tanh's
    derivative, say); ``stored`` pairs each forward output with a placeholder of its stored
    value. Merging equal nodes makes each rebuilt value the forward output itself, which is
    then replaced, so the backward step recomputes only what was not stored.
    """
    outputs = list(outputs)
    merged = _merge_equal_nodes(outputs + [f for f, _ in stored])
    backward, forward = merged[:len(outputs)], merged[len(outputs):]
    replace = {}
    # The gradient also asks for shapes of forward values (to un-broadcast): derive those
    # from the shapes of the step's inputs and stored values, so that a forward value needed
    # only for its shape is not recomputed.
    forward_ids = {id(o) for node in toposort(forward) for o in node.outputs}
    leaves = {id(var): placeholder for (_, placeholder), var in zip(stored, forward)
              if var.owner is not None}
    memo: dict = {}
    for node in toposort(backward):
        if not isinstance(node.op, (Shape, ShapeI)) or id(node.inputs[0]) not in forward_ids:
            continue
        dims = _shape_of(node.inputs[0], leaves, memo)
        if dims is None:
            continue
        if isinstance(node.op, Shape):
            new = as_shape_vector(dims) if dims else None
        else:
            new = dims[node.op.i]
        if new is not None and new.dtype == node.outputs[0].dtype:
            replace[node.outputs[0]] = new
    for (_, placeholder), var in zip(stored, forward):
        if var.owner is not None:
            replace[var] = placeholder
    return clone_replace(backward, replace)


def _merge_equal_nodes(outputs: list[Variable]) -> list[Variable]:
    """``outputs`` with equal constants made one and equal nodes (equal op on the same inputs,
    random draws excepted) made one, as the compiler's cse pass merges them; for a gradient
    still being built (grad sits below the compiler). The given graph is not modified."""
    memo: dict[int, Variable] = {}
    constants: dict = {}
    seen: dict = {}

    def merged(var):
        var = memo.get(id(var), var)
        if isinstance(var, Constant):
            var = constants.setdefault(var.signature(), var)
        return var

    for node in toposort(outputs):
        inputs = [merged(i) for i in node.inputs]
        key = None
        if not getattr(node.op, "nondeterministic", False):
            key = (node.op, tuple(id(i) for i in inputs))
        kept = None
        if key is not None:
            try:
                kept = seen.get(key)
            except TypeError:  # an op with unhashable props cannot be compared: keep it
                key = None
        if kept is None:
            kept = node
            if any(a is not b for a, b in zip(inputs, node.inputs)):
                kept = Apply(node.op, inputs, [_copy_variable(o) for o in node.outputs])
            if key is not None:
                seen[key] = kept
        for old, new in zip(node.outputs, kept.outputs):
            memo[id(old)] = new
    return [merged(o) for o in outputs]


def _copy_variable(var: Variable) -> Variable:
    """A new variable of ``var``'s type, name and creation site."""
    new = Variable(var.type, name=var.name)
    new.tag["trace"] = var.tag.get("trace")
    return new


class _UnknownLength(Exception):
    """A length :class:`_SymbolicLengths` cannot write as a graph of the leaves' shapes."""


class _SymbolicLengths:
    """The ``lengths`` of :meth:`Op.infer_shape` over int64 scalar graphs: inputs broadcast to
    the first length that is not 1; a length read from a computed value (a shape vector, an
    int scalar) or that nothing names is unknown."""

    def broadcast(self, column, out, axis):
        return _broadcast_length(column)

    def assume_equal(self, a, b) -> None:
        pass  # the forward step checked it

    def fresh(self, var, axis):
        raise _UnknownLength

    def scalar(self, s):
        raise _UnknownLength

    def from_vector(self, vec, out):
        raise _UnknownLength


def _shape_of(var: Variable, leaves: dict, memo: dict):
    """The lengths of ``var``'s axes as int64 scalar graphs that do not compute ``var``:
    from the shapes of ownerless variables and of ``leaves`` (variables whose stored copy,
    the value of ``leaves[id(var)]``, has their shape), through each op's ``infer_shape``.
    None where an op says nothing or a length depends on computed values."""
    key = id(var)
    if key in memo:
        return memo[key]
    node = var.owner
    dims = None
    if node is None or key in leaves:
        source = leaves.get(key, var)
        dims = [T.cast(T.shape_i(source, k), "int64") for k in range(var.ndim)]
    else:
        parts = [_shape_of(i, leaves, memo) for i in node.inputs]
        if all(p is not None for p in parts):
            try:
                result = node.op.infer_shape(node, parts, _SymbolicLengths())
            except _UnknownLength:
                result = None
            if result is not None:
                out = result[node.outputs.index(var)]
                dims = [T.constant(np.int64(d)) if isinstance(d, int) else d for d in out]
    memo[key] = dims
    return dims


def _broadcast_length(lengths: list[Variable]) -> Variable:
    """NumPy's broadcast of axis lengths already known to be compatible: the first that is
    not 1 (or 1)."""
    result = None
    for length in lengths:
        if isinstance(length, Constant) and int(length.data) == 1:
            continue
        if result is None or length is result:
            result = length
        elif isinstance(result, Constant) and isinstance(length, Constant):
            continue  # two known lengths: equal, since the forward step ran
        else:
            result = T.switch(T.eq(result, 1), length, result)
    return result if result is not None else T.constant(np.int64(1))


# Scan.grad and IfElse.grad (ops sit below this module) call these by name
tensor_functions.register(ifelse_gradient=_ifelse_grad, scan_gradient=_scan_grad)
