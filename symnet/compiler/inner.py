"""Pipeline stage 3, for ops holding inner graphs: a scan's step and an ifelse's branches,
rewritten, compiled and rendered for the backend that runs the op.

An op with inner graphs (:meth:`Op.inner_graphs`, here :class:`~symnet.ops.control.Scan` and
:class:`~symnet.ops.control.IfElse`) only describes them and says how it runs given programs
of them (``Scan.run_loop``, ``IfElse.run``). This module prepares those programs:

- :func:`rewritten`: an inner graph as a FunctionGraph, rewritten like any graph but without
  the in-place pass; :func:`loop_plan`: a loop body split into what is computed once before
  the loop and what each step computes;
- :func:`python_runner` and :func:`tier0_runner`: what the node-by-node backends call for
  the op: its ``run_loop`` or ``run`` with the inner graphs compiled by the backend;
- :class:`ScanRendering` and :class:`IfElseRendering`: the op's code in the numba kernel, a
  native ``for`` loop or ``if`` around the inner graphs rendered into the same module.

The backends call in with their own graph compiler (``compile_python``, ``Tier0Program``,
``render_inner``): an inner graph may hold a scan itself (the gradient of a loop inside a
loop), which the same backend compiles, so this module sits below the backends and imports
none of them. What it derives from an inner graph is cached on the graph
(``InnerGraph.cache``), so equal loops compile once.
"""

from __future__ import annotations

import numpy as np

from symnet.compiler.fgraph import FunctionGraph
from symnet.compiler.rewrite.passes import rewrite_fgraph
from symnet.graph import Constant
from symnet.ops.control import IfElse, InnerGraph, Scan, may_alias_input


# --- inner graphs as rewritten graphs ----------------------------------------------------------


def rewritten(graph: InnerGraph, mode: str) -> FunctionGraph:
    """``graph`` rewritten for the backend ``mode`` ("python" or "numba"; the latter fuses
    elementwise loops); cached on the graph."""
    key = ("rewritten", mode)
    fgraph = graph.cache.get(key)
    if fgraph is None:
        fgraph = FunctionGraph(list(graph.inputs), list(graph.outputs))
        # no in-place writes inside a loop body: a value hoisted out of the loop is computed
        # once and read by every step, so no step may write into it
        rewrite_fgraph(fgraph, mode=mode, exclude=("inplace",))
        graph.cache[key] = fgraph
    return fgraph


def loop_plan(graph: InnerGraph, n_variant: int) -> tuple[FunctionGraph, FunctionGraph]:
    """Split the numba graph of a loop body: (hoisted, body).

    ``hoisted`` computes, once before the loop, what depends only on the inputs from
    ``n_variant`` on (the loop's invariants: non-sequences and constants); ``body`` reads
    those results as extra inputs after the graph's own. Random draws are never hoisted.
    Cached on the graph.
    """
    key = ("plan", n_variant)
    plan = graph.cache.get(key)
    if plan is None:
        fgraph = rewritten(graph, "numba")
        invariant = {id(v) for v in fgraph.inputs[n_variant:]}
        body_nodes = []
        for node in fgraph.toposort():
            if (not getattr(node.op, "nondeterministic", False)
                    and all(id(i) in invariant or isinstance(i, Constant)
                            for i in node.inputs)):
                invariant.update(id(o) for o in node.outputs)
            else:
                body_nodes.append(node)
        boundary, seen = [], set()
        reads = [i for node in body_nodes for i in node.inputs] + list(fgraph.outputs)
        for var in reads:
            if var.owner is not None and id(var) in invariant and id(var) not in seen:
                seen.add(id(var))
                boundary.append(var)
        hoisted = FunctionGraph(list(fgraph.inputs[n_variant:]), boundary, clone=False)
        body = FunctionGraph(list(fgraph.inputs) + boundary, list(fgraph.outputs), clone=False)
        plan = (hoisted, body)
        graph.cache[key] = plan
    return plan


def _output_copies(fgraph: FunctionGraph) -> list[bool]:
    """For each output of a branch, whether it may be (a view of) an input or a constant:
    such an output is copied, since an op's output never shares memory with its inputs."""
    return [may_alias_input(v) for v in fgraph.outputs]


# --- node-by-node backends: the python backend and tier 0 ------------------------------------


class ScanLoop:
    """A scan run from Python: ``Scan.run_loop`` stepping with ``body``, a compiled program of
    its step (values of the step's inputs -> values of its outputs).

    With ``hoisted`` (tier 0, which runs the graphs the kernel renders), the loop's invariant
    part runs once, after the loop's checks and before the first step, as in the kernel, and
    ``body`` reads its results after the step's own inputs.
    """

    def __init__(self, op: Scan, body, hoisted=None):
        self.op = op
        self.body = body
        self.hoisted = hoisted

    def programs(self) -> list:
        return [p for p in (self.hoisted, self.body) if p is not None]

    def perform(self, inputs) -> list:
        """The scan's outputs, like ``Op.perform``."""
        if self.hoisted is None:
            return self.op.run_loop(inputs, self.body)
        nonseqs = list(inputs[1 + self.op.n_seqs + self.op.n_states:])
        hoisted = None

        def step(values):
            nonlocal hoisted
            if hoisted is None:  # after the loop's checks, as in the kernel
                # the loop reads hoisted values every step: views made contiguous once
                hoisted = [np.ascontiguousarray(v) if v.ndim > 0 else v
                           for v in self.hoisted(nonseqs)]
            return self.body(values + hoisted)

        return self.op.run_loop(inputs, step)

    def __call__(self, *inputs):
        return self.perform(list(inputs))


class Branches:
    """An ifelse run from Python: ``IfElse.run`` with compiled programs of its branches, each
    a (program, copies) pair: an output whose ``copies`` entry is True is copied, as the
    kernel copies it."""

    def __init__(self, op: IfElse, branches: list):
        self.op = op
        self.branches = branches
        self._runs = [_copying(program, copies) for program, copies in branches]

    def programs(self) -> list:
        return [program for program, _ in self.branches]

    def perform(self, inputs) -> list:
        """The ifelse's outputs, like ``Op.perform``."""
        return self.op.run(inputs, self._runs)

    def __call__(self, *inputs):
        return self.perform(list(inputs))


def _copying(program, copies: list[bool]):
    """``program`` with the outputs marked in ``copies`` copied."""

    def run(values):
        return [np.copy(r) if copy else r for r, copy in zip(program(values), copies)]

    return run


def python_runner(op, compile_graph):
    """What the python backend runs for ``op`` (a :class:`ScanLoop` or :class:`Branches`): its
    inner graphs rewritten for the python backend and compiled with ``compile_graph``
    (``compile_python``), once per inner graph."""
    programs = [_python_program(graph, compile_graph) for graph in op.inner_graphs()]
    if isinstance(op, Scan):
        ((step, _),) = programs
        return ScanLoop(op, step)
    if isinstance(op, IfElse):
        return Branches(op, programs)
    raise TypeError(f"python backend: no runner for {op}, which holds inner graphs")


def _python_program(graph: InnerGraph, compile_graph) -> tuple:
    """(program, output copies) of ``graph`` on the python backend; cached on the graph."""
    found = graph.cache.get("python")
    if found is None:
        fgraph = rewritten(graph, "python")
        found = (compile_graph(fgraph), _output_copies(fgraph))
        graph.cache["python"] = found
    return found


def tier0_runner(op, compile_graph):
    """What tier 0 runs for ``op`` (a :class:`ScanLoop` or :class:`Branches`): programs built
    by ``compile_graph`` (``Tier0Program``) of the graphs the kernel renders, so that every
    value is computed by the same code as in the kernel: a scan's loop plan (the hoisted part
    and the body), an ifelse's branches rewritten for numba."""
    if isinstance(op, Scan):
        hoisted, body = loop_plan(op.step, op.n_seqs + op.n_states)
        return ScanLoop(op, compile_graph(body), compile_graph(hoisted))
    if isinstance(op, IfElse):
        branches = []
        for graph in op.inner_graphs():
            fgraph = rewritten(graph, "numba")
            branches.append((compile_graph(fgraph), _output_copies(fgraph)))
        return Branches(op, branches)
    raise TypeError(f"tier 0: no runner for {op}, which holds inner graphs")


# --- the numba backend: code in the kernel -----------------------------------------------------
#
# ``render(fgraph, input_names, prefix) -> (lines, output_names, data)`` is the numba backend's
# render_inner: the lines computing an inner graph inside the kernel, every name they assign
# starting with ``prefix``, and the (name, value) pairs of the data they read (constants,
# arrays ops ask for). The kernel's module holds no data: the op's numba_data returns those
# values, the backend passes them as kernel arguments, and the op's lines bind each name to
# its argument.


def numba_rendering(op, render):
    """What gives ``op``'s code in the numba kernel: an object with the methods the numba
    backend asks an op for (``numba_data``, ``numba_lines``, and for a scan ``numba_checks``
    and ``numba_body``), rendering the inner graphs with ``render``."""
    if isinstance(op, Scan):
        return ScanRendering(op, render)
    if isinstance(op, IfElse):
        return IfElseRendering(op, render)
    raise TypeError(f"numba backend: no rendering for {op}, which holds inner graphs")


def _bind_data(data: list, data_names) -> list[str]:
    """Lines binding the names inner code reads to the kernel arguments carrying the data."""
    return [f"{name} = {arg}" for (name, _), arg in zip(data, data_names)]


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]


def _raise_line(cls: str, message: str) -> str:
    return f"raise {cls}({message!r})"


class IfElseRendering:
    """An ifelse in the kernel: a native ``if`` whose branches are the branch graphs,
    rewritten and fused for numba; only the branch taken runs."""

    def __init__(self, op: IfElse, render):
        self.op = op
        self.render = render

    def _branches(self):
        op = self.op
        return (("a", op.then_graph, op.then_inputs), ("b", op.else_graph, op.else_inputs))

    def numba_data(self, node) -> list:
        data = []
        for _, graph, positions in self._branches():
            names = [f"v{k}" for k in positions]
            data.extend(value for _, value in self.render(rewritten(graph, "numba"), names,
                                                          "p")[2])
        return data

    def numba_lines(self, node, names, outs, data_names=()) -> list[str]:
        prefix = outs[0] + "_"
        values = names[1:]
        branches, data = [], []
        for tag, graph, positions in self._branches():
            fgraph = rewritten(graph, "numba")
            lines, results, branch_data = self.render(fgraph, [values[k] for k in positions],
                                                      prefix + tag)
            for out, result, copy in zip(outs, results, _output_copies(fgraph)):
                # an output never shares memory with an input of the kernel
                lines.append(f"{out} = np.copy({result})" if copy else f"{out} = {result}")
            branches.append(lines)
            data.extend(branch_data)
        lines = _bind_data(data, data_names)
        lines.append(f"if {names[0]}[()]:")
        lines.extend(_indent(branches[0]))
        lines.append("else:")
        lines.extend(_indent(branches[1]))
        return lines

    def numba_checks(self, node, names) -> list[str]:
        return []  # the branches check their own inputs

    def numba_body(self, node, names, outs, data_names=()) -> list[str]:
        return self.numba_lines(node, names, outs, data_names)


class ScanRendering:
    """A scan in the kernel: a native ``for`` loop over the step's loop plan (the invariant
    part hoisted before the loop, the body inside it), results stored at the step's index."""

    def __init__(self, op: Scan, render):
        self.op = op
        self.render = render

    def numba_data(self, node) -> list:
        op = self.op
        S, R = op.n_seqs, op.n_states
        hoisted, body = loop_plan(op.step, S + R)
        outer = [f"v{k}" for k in range(len(op.step.inputs))]
        _, hoisted_names, hoisted_data = self.render(hoisted, outer[S + R:], "p")
        body_data = self.render(body, outer + hoisted_names, "q")[2]
        return [value for _, value in hoisted_data + body_data]

    def numba_lines(self, node, names, outs, data_names=()) -> list[str]:
        return self.numba_checks(node, names) + self.numba_body(node, names, outs, data_names)

    def numba_checks(self, node, names) -> list[str]:
        """Lines checking n_steps and the sequences' lengths. The backend runs them where the
        scan's inputs are, before calling the scan's own function: they name the sequences,
        and equal loops over differently named sequences share one function."""
        op = self.op
        steps = f"{names[0]}[()]"
        lines = [f"if {steps} < 1:",
                 "    " + _raise_line("ValueError", "scan: n_steps must be at least 1")]
        for k, seq in enumerate(names[1:1 + op.n_seqs]):
            lines.append(f"if {seq}.shape[0] < {steps}:")
            message = f"scan: sequence {k} ({op.seq_label(k)}) is shorter than n_steps"
            lines.append("    " + _raise_line("ValueError", message))
        return lines

    def numba_body(self, node, names, outs, data_names=()) -> list[str]:
        """The loop, for inputs that passed :meth:`numba_checks`."""
        op = self.op
        S, R, M = op.n_seqs, op.n_states, op.n_outs
        p = outs[0] + "_"
        n = p + "n"
        seqs, inits = names[1:1 + S], names[1 + S:1 + S + R]
        nonseqs = names[1 + S + R:]
        hoisted, body = loop_plan(op.step, S + R)
        hoisted_lines, hoisted_names, hoisted_data = self.render(hoisted, list(nonseqs), p + "h")
        # the loop reads hoisted values every step: make views (transposes) contiguous once,
        # rather than letting each step's BLAS call copy them
        contiguous = [f"{name}_c" if var.ndim > 0 else name
                      for name, var in zip(hoisted_names, hoisted.outputs)]
        hoisted_lines += [f"{c} = np.ascontiguousarray({name})"
                          for name, c in zip(hoisted_names, contiguous) if c != name]
        elements = [f"{p}x{k}" for k in range(S)]
        states = [f"{p}s{j}" for j in range(R)]
        body_lines, results, body_data = self.render(body, elements + states + list(nonseqs)
                                                     + contiguous, p + "b")
        lines = [f"{n} = np.int64({names[0]}[()])"]
        lines.extend(_bind_data(hoisted_data + body_data, data_names))
        lines.extend(hoisted_lines)
        for j in range(R):
            dtype = node.outputs[j].dtype
            lines.append(f"{states[j]} = {inits[j]}")
            if op.stacked[j]:
                lines.append(f"{outs[j]} = np.empty(({n},) + {inits[j]}.shape, dtype=np.{dtype})")
        for m in range(M):
            var = node.outputs[R + m]
            zeros = "".join(", 0" for _ in range(var.ndim - 1))
            lines.append(f"{outs[R + m]} = np.empty(({n}{zeros},), dtype=np.{var.dtype})")
        lines.append(f"for {p}i in range({n}):")
        loop = [f"{p}t = {n} - 1 - {p}i" if op.reverse else f"{p}t = {p}i"]
        for k, seq in enumerate(seqs):
            if node.inputs[1 + k].ndim == 1:
                loop.append(f"{elements[k]} = np.asarray({seq}[{p}t])")
            else:
                loop.append(f"{elements[k]} = {seq}[{p}t]")
        loop.extend(body_lines)
        for j in range(R):
            new = results[j]
            if node.inputs[1 + S + j].ndim > 0:
                loop.append(f"if {new}.shape != {inits[j]}.shape:")
                loop.append("    " + _raise_line(
                    "ValueError", f"scan: state {j} changed shape in a step"))
            if op.stacked[j]:
                scalar = "[()]" if node.inputs[1 + S + j].ndim == 0 else ""
                loop.append(f"{outs[j]}[{p}t] = {new}{scalar}")
        for m in range(M):
            value, out = results[R + m], outs[R + m]
            loop.append(f"if {p}i == 0:")
            loop.append(f"    {out} = np.empty(({n},) + {value}.shape, "
                        f"dtype=np.{node.outputs[R + m].dtype})")
            loop.append(f"elif {value}.shape != {out}.shape[1:]:")
            loop.append("    " + _raise_line(
                "ValueError", f"scan: output {m} changed shape in a step"))
            scalar = "[()]" if node.outputs[R + m].ndim == 1 else ""
            loop.append(f"{out}[{p}t] = {value}{scalar}")
        # new states through temporaries: a state may take another state's old value
        loop.extend(f"{p}u{j} = {results[j]}" for j in range(R))
        loop.extend(f"{states[j]} = {p}u{j}" for j in range(R))
        lines.extend(_indent(loop))
        for j in range(R):
            if not op.stacked[j]:
                # a copy: the final state may be a view of an input
                lines.append(f"{outs[j]} = np.copy({states[j]})")
        return lines
