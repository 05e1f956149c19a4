"""Tier 0: a function's rewritten graph run node by node on small kernels that graphs share.

A new graph's whole-graph kernel (tier 1, :mod:`symnet.compiler.backends.numba`) takes Numba
seconds to tens of seconds to compile. Tier 0 answers before that: it calls, node after node
and from Python, one small compiled function per node whose code does not depend on the rest of
the graph, so that another graph, or another process, finds it already compiled:

- an elementwise group (``FusedElemwise``) runs step by step: each scalar step is a one-step
  fused loop over arrays, whose code depends only on the rule, the operands' dtypes and the
  rank (scalar constants become operands of shape ``(1,) * ndim`` instead of literals); a
  group of the vector machine's size runs as tier 1 runs it, on ``elemvm.run``;
- every other node runs the code tier 1 gives it (``_function_text``: the same lines, as a
  function of its inputs), keyed by that text: a matrix product, a sum over an axis, a
  reshape compile once per machine and dtype, whatever graph they come from;
- a scan runs its loop in Python over tier-0 programs of its hoisted part and its step (the
  inner graphs the kernel renders), an ifelse the tier-0 program of the chosen branch.

Bit for bit: each step computes in its own dtype in both tiers (fused loops cast every step's
value to its dtype, see ``elemwise._step_expr``), elementwise values do not depend on the
order they are computed in, and every other node runs the same source, the same BLAS calls and
the same loop and reduction order. Numba compiles without fast-math, so LLVM neither reorders
nor contracts floating-point operations, inlined or not.

The small functions are modules of the kernel cache like tier-1 kernels (their machine code
on disk through Numba's cache), loaded once per process.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from symnet.compiler.backends.numba import _families, _function_text
from symnet.compiler.cache import load_kernel
from symnet.compiler.rewrite.inplace import late_node
from symnet.graph import Constant, TensorType
from symnet.ops import elemvm
from symnet.ops.elemwise import Elemwise, FusedElemwise

# A node's function is called from Python: it gets a Python wrapper, no C one.
_DECORATOR = ('@numba.njit(cache=True, nogil=True, error_model="numpy", '
              'no_cfunc_wrapper=True)')

_functions: dict[str, object] = {}  # function text -> dispatcher, for this process
_lock = threading.Lock()


class Tier0Unsupported(Exception):
    """The graph holds a node tier 0 cannot run; the message says which and why."""


def unsupported(fgraph) -> str | None:
    """Why ``fgraph`` has no tier 0, or None if it has one: an op holding an inner graph other
    than scan and ifelse (which tier 0 runs with programs of their own, see below)."""
    from symnet.ops.control import IfElse, InnerGraph, Scan

    for node in fgraph.toposort():
        if isinstance(node.op, (Scan, IfElse)):
            continue
        fields = vars(node.op).values() if hasattr(node.op, "__dict__") else ()
        if any(isinstance(value, InnerGraph) for value in fields):
            return (f"{type(node.op).__name__} runs an inner graph (its code is its own and "
                    f"compiles with the kernel)")
    return None


class _ScanLoop:
    """A scan on tier 0: the loop of ``Scan.numba_body`` in Python, its hoisted part and its
    step each a tier-0 program of the same inner graphs (``InnerGraph.loop_plan``), so every
    value is computed by the same code as in the kernel."""

    def __init__(self, op, node):
        self.op = op
        self.node = node
        S, R = op.n_seqs, op.n_states
        hoisted, body = op.step.loop_plan(S + R)
        self.hoisted = Tier0Program(hoisted)
        self.body = Tier0Program(body)
        self.state_dtypes = [v.dtype for v in node.outputs[:R]]
        self.out_vars = node.outputs[R:]

    def programs(self) -> list:
        return [self.hoisted, self.body]

    def __call__(self, *inputs):
        op = self.op
        S, R, M = op.n_seqs, op.n_states, op.n_outs
        n = int(inputs[0][()])
        if n < 1:
            raise ValueError("scan: n_steps must be at least 1")
        seqs, inits = inputs[1:1 + S], inputs[1 + S:1 + S + R]
        nonseqs = list(inputs[1 + S + R:])
        for k, seq in enumerate(seqs):
            if seq.shape[0] < n:
                raise ValueError(f"scan: sequence {k} ({op._seq_label(k)}) is shorter than "
                                 f"n_steps")
        hoisted = [np.ascontiguousarray(v) if v.ndim > 0 else v
                   for v in self.hoisted(nonseqs)]
        states = list(inits)
        histories = [np.empty((n, *init.shape), dtype=dtype) if op.stacked[j] else None
                     for j, (init, dtype) in enumerate(zip(inits, self.state_dtypes))]
        outs = [None] * M
        for i in range(n):
            t = n - 1 - i if op.reverse else i
            elements = [np.asarray(seq[t]) for seq in seqs]
            results = self.body(elements + states + nonseqs + hoisted)
            for j in range(R):
                new = results[j]
                if inits[j].ndim > 0 and new.shape != inits[j].shape:
                    raise ValueError(f"scan: state {j} changed shape in a step")
                if histories[j] is not None:
                    histories[j][t] = new
            for m in range(M):
                value = results[R + m]
                if i == 0:
                    outs[m] = np.empty((n, *value.shape), dtype=self.out_vars[m].dtype)
                elif value.shape != outs[m].shape[1:]:
                    raise ValueError(f"scan: output {m} changed shape in a step")
                outs[m][t] = value
            states = list(results[:R])
        finals = [h if h is not None else np.copy(s) for h, s in zip(histories, states)]
        return tuple(finals + outs)


class _Branches:
    """An ifelse on tier 0: the chosen branch's tier-0 program (of the graph the kernel
    renders), its outputs copied where they may be an input, as in ``IfElse.numba_lines``."""

    def __init__(self, op):
        from symnet.ops.control import _may_alias_input

        self.branches = []
        for graph, positions in ((op.then_graph, op.then_inputs),
                                 (op.else_graph, op.else_inputs)):
            fgraph = graph.numba_fgraph()
            copies = [_may_alias_input(v) for v in fgraph.outputs]
            self.branches.append((Tier0Program(fgraph), positions, copies))

    def programs(self) -> list:
        return [program for program, _, _ in self.branches]

    def __call__(self, condition, *values):
        program, positions, copies = self.branches[0 if condition[()] else 1]
        results = program([values[k] for k in positions])
        return tuple(np.copy(r) if copy else r for r, copy in zip(results, copies))


def _module_source(text: str) -> str:
    return "\n".join([
        "# Generated by symnet: one node of tier 0 (shared by every graph).",
        "import numba",
        "import numpy as np",
        *(f"from symnet.ops import {f}" for f in _families()),
        "",
        "",
        _DECORATOR,
        f"def node{text}",
    ]) + "\n"


def compiled_before(text: str) -> bool:
    """True if the function of ``text`` was compiled in this process or Numba's disk cache
    holds machine code of it (wherever ``NUMBA_CACHE_DIR`` puts it): calling it compiles
    nothing, for the argument types it was built for."""
    function = node_function(text)  # imports its module: no compile
    if function.overloads:
        return True
    index = getattr(getattr(getattr(function, "_cache", None), "_cache_file", None),
                    "_index_path", None)
    return index is not None and os.path.exists(index)


def node_function(text: str):
    """The compiled function ``node`` defined by ``text`` (parameters, body and return of
    :func:`_function_text`), from this process's memo or the kernel cache."""
    found = _functions.get(text)
    if found is not None:
        return found
    with _lock:
        found = _functions.get(text)
        if found is None:
            found = load_kernel(_module_source(text), "node")
            _functions[text] = found
    return found


def _step_text(rule, dtypes: tuple[str, ...], out_dtype: str, ndim: int) -> str:
    """The text of the one-step fused loop applying ``rule`` to arrays of ``dtypes`` (all of
    rank ``ndim``)."""
    from symnet.graph import Apply

    step = (rule, tuple(("in", k) for k in range(len(dtypes))), out_dtype)
    fused = FusedElemwise(len(dtypes), (step,), (0,))
    inputs = [TensorType(dtype, (None,) * ndim)() for dtype in dtypes]
    node = Apply(fused, inputs, [TensorType(out_dtype, (None,) * ndim)()])
    return _function_text(node, len(dtypes), 0, False)[0]


def _step_function(rule, dtypes: tuple[str, ...], out_dtype: str, ndim: int):
    """The compiled one-step fused loop (see :func:`_step_text`)."""
    return node_function(_step_text(rule, dtypes, out_dtype, ndim))


def _write_into(out, target, *operands):
    """``out`` copied into ``target`` where tier 1's loop would have written it there: same
    shape as the output and the loop (the broadcast of ``operands``), C-contiguous."""
    if (target.shape == out.shape and target.dtype == out.dtype and target.flags.c_contiguous
            and target.flags.writeable
            and out.shape == np.broadcast_shapes(*(a.shape for a in operands))):
        target[...] = out
        return (target,)
    return (out,)


def _order(fgraph) -> list:
    """Nodes in the order tier 1 runs them (in-place loops over kernel inputs last)."""
    order = fgraph.toposort()
    late = [node for node in order if late_node(node)]
    if late:
        order = [node for node in order if not late_node(node)] + late
    return order


class Tier0Program:
    """``fgraph`` as a list of calls: ``program(values)`` maps input values (``fgraph.inputs``
    order) to output values, like the other backends' callables."""

    def __init__(self, fgraph):
        reason = unsupported(fgraph)
        if reason is not None:
            raise Tier0Unsupported(reason)
        self.n_inputs = len(fgraph.inputs)
        slots: dict[int, int] = {id(v): k for k, v in enumerate(fgraph.inputs)}
        self.constants: list = []  # (slot, value): graph constants and scalar literals
        self.steps: list = []  # (function, input slots, output slots)
        self.functions: set = set()
        #: texts of the functions no process compiled before: the first call compiles them
        self.uncompiled: set = set()

        def slot_of(var) -> int:
            key = id(var)
            if key not in slots:
                if not isinstance(var, Constant):
                    raise ValueError(f"tier 0: {var!r} is not an input of the graph")
                slots[key] = self._constant(np.array(var.data))  # writable, like tier 1's
            return slots[key]

        self._n_slots = self.n_inputs
        for node in _order(fgraph):
            in_slots = [slot_of(v) for v in node.inputs]
            out_slots = []
            for var in node.outputs:
                slots[id(var)] = self._new_slot()
                out_slots.append(slots[id(var)])
            self._add_node(node, in_slots, out_slots)
        self.output_slots = [slot_of(v) for v in fgraph.outputs]
        self.input_scalar = [v.ndim == 0 for v in fgraph.inputs]

    def _new_slot(self) -> int:
        self._n_slots += 1
        return self._n_slots - 1

    def _constant(self, value) -> int:
        slot = self._new_slot()
        self.constants.append((slot, value))
        return slot

    def _call(self, function, in_slots, out_slots) -> None:
        self.steps.append((function, tuple(in_slots), tuple(out_slots)))
        self.functions.add(function)
        if isinstance(function, (_ScanLoop, _Branches)):
            for program in function.programs():
                self.uncompiled |= program.uncompiled

    def _node(self, text: str):
        if not compiled_before(text):
            self.uncompiled.add(text)
        return node_function(text)

    def _add_node(self, node, in_slots, out_slots) -> None:
        from symnet.ops.control import IfElse, Scan

        op = node.op
        if isinstance(op, Scan):
            self._call(_ScanLoop(op, node), in_slots, out_slots)
            return
        if isinstance(op, IfElse):
            self._call(_Branches(op), in_slots, out_slots)
            return
        if isinstance(op, Elemwise):
            step = (op.rule, tuple(("in", k) for k in range(len(node.inputs))),
                    node.outputs[0].dtype)
            op = FusedElemwise(len(node.inputs), (step,), (0,))
        if isinstance(op, FusedElemwise) and elemvm.eligible(op, node) is None:
            self._add_fused(op, node, in_slots, out_slots)
            return
        data = op.numba_data(node) if hasattr(op, "numba_data") else []
        text, _ = _function_text(node, len(node.inputs), len(data), len(data) > 0)
        data_slots = [self._constant(value) for value in data]
        self._call(self._node(text), list(in_slots) + data_slots, out_slots)

    def _add_fused(self, fused, node, in_slots, out_slots) -> None:
        """One call per step of an elementwise group, in program order."""
        ndim = node.outputs[0].ndim
        in_dtypes = [v.dtype for v in node.inputs]
        step_slots: list[int] = []
        exported = {j: out_slots[m] for m, j in enumerate(fused.outputs)}
        literals: dict = {}
        for j, (rule, operands, dtype) in enumerate(fused.program):
            args, dtypes = [], []
            for kind, ref in operands:
                if kind == "in":
                    args.append(in_slots[ref])
                    dtypes.append(in_dtypes[ref])
                elif kind == "step":
                    args.append(step_slots[ref])
                    dtypes.append(fused.program[ref][2])
                else:
                    if ref not in literals:
                        value = np.full((1,) * ndim, ref[0], dtype=ref[1])
                        literals[ref] = self._constant(value)
                    args.append(literals[ref])
                    dtypes.append(ref[1])
            out = exported.get(j)
            if out is None:
                out = self._new_slot()
            step_slots.append(out)
            self._call(self._node(_step_text(rule, tuple(dtypes), dtype, ndim)), args, [out])
        # an update tier 1 writes into the shared variable's own array is written there too,
        # so that an array obtained with get_value(borrow=True) changes the same way
        for m, k in fused.inplace:
            if node.inputs[k].owner is None and not isinstance(node.inputs[k], Constant):
                self._call(_write_into, [out_slots[m], in_slots[k], *in_slots], [out_slots[m]])

    def __call__(self, values):
        storage = [None] * self._n_slots
        for k, (value, scalar) in enumerate(zip(values, self.input_scalar)):
            if type(value) is not np.ndarray:
                value = np.asarray(value)  # trust_input passes what the caller gave
            if not scalar and not value.flags.c_contiguous:
                value = np.ascontiguousarray(value)  # as tier 1 receives it
            storage[k] = value
        for slot, value in self.constants:
            storage[slot] = value
        for function, in_slots, out_slots in self.steps:
            results = function(*[storage[k] for k in in_slots])
            for slot, value in zip(out_slots, results):
                storage[slot] = value
        return [storage[k] for k in self.output_slots]


def compile_tier0(fgraph) -> Tier0Program:
    """Tier 0 for ``fgraph``; raises :class:`Tier0Unsupported` for a graph it cannot run."""
    return Tier0Program(fgraph)

