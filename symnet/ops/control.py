"""Control flow: ``ifelse`` (lazy branches) and ``scan`` (loops), each an op holding inner graphs.

An :class:`InnerGraph` is a graph an op runs inside itself: a branch of an ifelse, the step of
a scan. Its inputs are placeholders the op binds when it runs. The python backend runs an
inner graph with the reference interpreter (rewritten and compiled once); the numba backend
renders it into the kernel of the graph holding the op
(:func:`symnet.compiler.backends.numba.render_inner`), rewritten and fused like any graph, so
an ifelse is a native ``if`` and a scan a native ``for`` loop in the kernel's module (inline,
or a function of the module that equal loops share): no Python runs per branch or per step.

Gradients are graphs like any other: the gradient of an ifelse is an ifelse of the branches'
gradients, the gradient of a scan is a scan running backwards over the stored states
(backpropagation through time).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from symnet.graph import (
    Apply,
    Constant,
    Op,
    SharedVariable,
    TensorType,
    Variable,
    clone_replace,
    graph_inputs,
    toposort,
)


def _tensor():
    """symnet.tensor, imported when a graph is built (tensor imports the op modules)."""
    from symnet import tensor

    return tensor


def _label(var: Variable) -> str:
    """Short text naming ``var`` in error messages."""
    from symnet.printing import pp

    try:
        text = pp(var, max_length=40)
    except Exception:  # noqa: BLE001 - a label must never fail
        text = var.name or var.type.short()
    return text if len(text) <= 40 else text[:37] + "..."


def _merge_static(a: tuple, b: tuple) -> tuple:
    """The static shape two values share: a length where both agree, else None."""
    return tuple(x if x == y else None for x, y in zip(a, b))


def _may_alias_input(var: Variable) -> bool:
    """True if ``var`` may be (a view of) an inner graph's input or constant."""
    while var.owner is not None:
        if not getattr(var.owner.op, "may_return_view", False):
            return False
        var = var.owner.inputs[0]
    return True


# --- inner graphs ------------------------------------------------------------------------------


class InnerGraph:
    """A graph an op runs inside itself: ``outputs`` computed from the placeholder ``inputs``
    (ownerless variables) and constants.

    Equality is structural (the same ops applied to the same inputs in the same order), so an
    op holding an inner graph compares by its props like any op: cse merges equal loops. It
    pickles flat, as graphs do. Never mutated: rewriting works on copies, cached here.
    """

    def __init__(self, inputs, outputs):
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        for var in self.inputs:
            if var.owner is not None or isinstance(var, Constant):
                raise TypeError(f"inner graph: input {var!r} must be a free variable")
        input_ids = {id(v) for v in self.inputs}
        for var in graph_inputs(self.outputs, stop=self.inputs):
            if id(var) not in input_ids and not isinstance(var, Constant):
                raise ValueError(f"inner graph: it reads {var!r}, which is not one of its inputs")
        self._key = None
        self._hash = None
        self._cache: dict = {}

    def nodes(self) -> list[Apply]:
        return toposort(self.outputs, stop=self.inputs)

    def key(self) -> tuple:
        """The structure: input types, (op, input references) per node, output references."""
        if self._key is None:
            index = {id(v): ("in", k) for k, v in enumerate(self.inputs)}

            def ref(var):
                found = index.get(id(var))
                return found if found is not None else ("const", var.signature())

            rows = []
            for n, node in enumerate(self.nodes()):
                rows.append((node.op, tuple(ref(i) for i in node.inputs)))
                for j, out in enumerate(node.outputs):
                    index[id(out)] = ("node", n, j)
            self._key = (tuple(v.type for v in self.inputs), tuple(rows),
                         tuple(ref(o) for o in self.outputs))
        return self._key

    def __eq__(self, other):
        return self is other or (isinstance(other, InnerGraph) and self.key() == other.key())

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self.key())
        return self._hash

    def __repr__(self):
        return f"InnerGraph({len(self.inputs)} inputs, {len(self.outputs)} outputs)"

    def __getstate__(self):
        index = {id(v): ("in", k) for k, v in enumerate(self.inputs)}

        def ref(var):
            found = index.get(id(var))
            return found if found is not None else ("const", var)

        nodes = []
        for n, node in enumerate(self.nodes()):
            nodes.append((node.op, [ref(i) for i in node.inputs],
                          [(o.type, o.name) for o in node.outputs]))
            for j, out in enumerate(node.outputs):
                index[id(out)] = ("node", n, j)
        return {"inputs": self.inputs, "nodes": nodes, "outputs": [ref(o) for o in self.outputs]}

    def __setstate__(self, state):
        inputs = state["inputs"]
        built: list[Apply] = []

        def var_of(ref):
            if ref[0] == "in":
                return inputs[ref[1]]
            if ref[0] == "const":
                return ref[1]
            return built[ref[1]].outputs[ref[2]]

        for op, refs, outs in state["nodes"]:
            built.append(Apply(op, [var_of(r) for r in refs], [t(name) for t, name in outs]))
        self.__init__(inputs, [var_of(r) for r in state["outputs"]])

    def python_function(self):
        """The inner graph rewritten for the reference backend and compiled once: a callable
        from input values to output values, and for each output whether it may be (a view
        of) an input or a constant."""
        compiled = self._cache.get("python")
        if compiled is None:
            from symnet.compiler.backends.python import compile_python

            fgraph = self._rewritten("python")
            compiled = (compile_python(fgraph), [_may_alias_input(v) for v in fgraph.outputs])
            self._cache["python"] = compiled
        return compiled

    def numba_fgraph(self):
        """The inner graph rewritten (and fused) for the numba backend; cached."""
        fgraph = self._cache.get("numba")
        if fgraph is None:
            fgraph = self._rewritten("numba")
            self._cache["numba"] = fgraph
        return fgraph

    def _rewritten(self, mode: str):
        from symnet.compiler.fgraph import FunctionGraph
        from symnet.compiler.rewrite.passes import rewrite_fgraph

        fgraph = FunctionGraph(list(self.inputs), list(self.outputs))
        # no in-place writes inside a loop body: a value hoisted out of the loop is computed
        # once and read by every step, so no step may write into it
        rewrite_fgraph(fgraph, mode=mode, exclude=("inplace",))
        return fgraph

    def loop_plan(self, n_variant: int):
        """Split the numba graph of a loop body: (hoisted, body). ``hoisted`` computes, once
        before the loop, what depends only on the inputs from ``n_variant`` on (the loop's
        invariants: non-sequences and constants); ``body`` reads those results as extra
        inputs after the graph's own. Random draws are never hoisted."""
        key = ("plan", n_variant)
        plan = self._cache.get(key)
        if plan is None:
            from symnet.compiler.fgraph import FunctionGraph

            fgraph = self.numba_fgraph()
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
            self._cache[key] = plan
        return plan


def _inner_from(outputs, free: list[Variable]) -> tuple[InnerGraph, list[Variable]]:
    """An inner graph computing ``outputs`` with a placeholder for each variable of ``free``
    (the outer values it reads); returns the graph and the placeholders."""
    placeholders = [v.type(v.name) for v in free]
    inner_outputs = clone_replace(list(outputs), dict(zip(free, placeholders)))
    return InnerGraph(placeholders, inner_outputs), placeholders


def _render(fgraph, input_names, prefix):
    from symnet.compiler.backends.numba import render_inner

    return render_inner(fgraph, input_names, prefix)


def _bind_data(data: list, data_names) -> list[str]:
    """Lines binding the names inner code reads to the kernel arguments carrying the data."""
    return [f"{name} = {arg}" for (name, _), arg in zip(data, data_names)]


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]


def _raise_line(cls: str, message: str) -> str:
    return f"raise {cls}({message!r})"


# --- ifelse ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IfElse(Op):
    """Lazy conditional: the outputs of ``then_graph`` if the condition is true, else those of
    ``else_graph``; only the chosen branch runs.

    Inputs: the condition (0-d), then the values the branches read; ``then_inputs`` and
    ``else_inputs`` give, for each placeholder of a branch, the position of its value among
    those (after the condition). Its gradient is built by :mod:`symnet.grad`.
    """

    then_graph: InnerGraph
    else_graph: InnerGraph
    then_inputs: tuple
    else_inputs: tuple

    def make_node(self, condition, *values):
        T = _tensor()
        condition = T.as_tensor(condition)
        if condition.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar, got {condition.type.short()}")
        values = [T.as_tensor(v) for v in values]
        for graph, positions in ((self.then_graph, self.then_inputs),
                                 (self.else_graph, self.else_inputs)):
            for placeholder, k in zip(graph.inputs, positions):
                if values[k].dtype != placeholder.dtype or values[k].ndim != placeholder.ndim:
                    raise TypeError(f"ifelse: {_label(values[k])} is {values[k].type.short()}, "
                                    f"the branch reads {placeholder.type.short()}")
        outputs = []
        for a, b in zip(self.then_graph.outputs, self.else_graph.outputs):
            outputs.append(TensorType(a.dtype, _merge_static(a.type.shape, b.type.shape))())
        return Apply(self, [condition, *values], outputs)

    def perform(self, inputs):
        condition, values = inputs[0], inputs[1:]
        if condition:
            graph, positions = self.then_graph, self.then_inputs
        else:
            graph, positions = self.else_graph, self.else_inputs
        run, aliased = graph.python_function()
        results = run([values[k] for k in positions])
        return [np.array(r) if copy else r for r, copy in zip(results, aliased)]

    def numba_data(self, node) -> list:
        data = []
        for graph, positions in ((self.then_graph, self.then_inputs),
                                 (self.else_graph, self.else_inputs)):
            names = [f"v{k}" for k in positions]
            data.extend(value for _, value in _render(graph.numba_fgraph(), names, "p")[2])
        return data

    def numba_lines(self, node, names, outs, data_names=()):
        prefix = outs[0] + "_"
        values = names[1:]
        branches, data = [], []
        for tag, graph, positions in (("a", self.then_graph, self.then_inputs),
                                      ("b", self.else_graph, self.else_inputs)):
            fgraph = graph.numba_fgraph()
            lines, results, branch_data = _render(fgraph, [values[k] for k in positions],
                                                  prefix + tag)
            for out, result, var in zip(outs, results, fgraph.outputs):
                # an output never shares memory with an input of the kernel
                copy = _may_alias_input(var)
                lines.append(f"{out} = np.copy({result})" if copy else f"{out} = {result}")
            branches.append(lines)
            data.extend(branch_data)
        lines = _bind_data(data, data_names)
        lines.append(f"if {names[0]}[()]:")
        lines.extend(_indent(branches[0]))
        lines.append("else:")
        lines.extend(_indent(branches[1]))
        return lines

    pp_name = "ifelse"

    def pp_args(self):
        return []

    def pp_text(self, args: list[str]) -> str:
        """``ifelse(cond, then, else)`` with the branches written out."""
        from symnet.printing import pp

        values = args[1:]
        texts = []
        for graph, positions in ((self.then_graph, self.then_inputs),
                                 (self.else_graph, self.else_inputs)):
            named = {ph: Variable(ph.type, name=values[k]) for ph, k in zip(graph.inputs, positions)}
            outs = clone_replace(list(graph.outputs), named)
            parts = [pp(o, max_length=200) for o in outs]
            texts.append(parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]")
        return f"ifelse({args[0]}, {texts[0]}, {texts[1]})"

    def __str__(self):
        return f"IfElse{{{len(self.then_graph.outputs)} outputs}}"


def ifelse(condition, then_branch, else_branch, name: str | None = None):
    """``then_branch`` if ``condition`` is true, else ``else_branch``, computing only the
    branch taken (unlike ``switch``, which computes both, elementwise).

    Parameters
    ----------
    condition : scalar Variable or value
        Tested once (nonzero is true).
    then_branch, else_branch : Variable or list of Variable
        The values to choose from: one each, or lists of the same length; pairs must have
        the same rank, and their dtypes are promoted to a common one.
    name : str, optional
        Name of the output variable(s).

    Returns
    -------
    Variable, or list of Variable when the branches are lists.

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> x, i = T.dvector('x'), T.lscalar('i')
    >>> f = sn.function([x, i], sn.ifelse(T.lt(i, x.shape[0]), x[i], -1.0))
    >>> float(f(np.array([5.0, 6.0]), 1)), float(f(np.array([5.0, 6.0]), 7))
    (6.0, -1.0)
    """
    T = _tensor()
    single = not isinstance(then_branch, (list, tuple))
    if single == isinstance(else_branch, (list, tuple)):
        raise TypeError("ifelse: give one value per branch, or a list for each branch")
    thens = [then_branch] if single else list(then_branch)
    elses = [else_branch] if single else list(else_branch)
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: the then branch has {len(thens)} outputs, the else branch "
                         f"{len(elses)}")
    if not thens:
        raise ValueError("ifelse: the branches have no outputs")
    condition = T.as_tensor(condition)
    if condition.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got {_label(condition)} "
                        f"({condition.type.short()})")
    pairs = []
    for k, (a, b) in enumerate(zip(thens, elses)):
        a, b = T._weak_operands(a, b)
        if a.ndim != b.ndim:
            raise TypeError(f"ifelse: output {k} is {a.ndim}-d in the then branch ({_label(a)}) "
                            f"but {b.ndim}-d in the else branch ({_label(b)})")
        dtype = np.result_type(np.dtype(a.dtype), np.dtype(b.dtype)).name
        pairs.append((T.cast(a, dtype) if a.dtype != dtype else a,
                      T.cast(b, dtype) if b.dtype != dtype else b))
    thens = [a for a, _ in pairs]
    elses = [b for _, b in pairs]
    # what both branches compute is needed whichever runs: it stays outside, the rest is lazy
    then_nodes = {id(node) for node in toposort(thens)}
    shared = [out for node in toposort(elses) if id(node) in then_nodes for out in node.outputs]
    values: list[Variable] = []
    position: dict[int, int] = {}
    graphs = []
    for outputs in (thens, elses):
        free = [v for v in graph_inputs(outputs, stop=shared) if not isinstance(v, Constant)]
        graph, _ = _inner_from(outputs, free)
        for v in free:
            if id(v) not in position:
                position[id(v)] = len(values)
                values.append(v)
        graphs.append((graph, tuple(position[id(v)] for v in free)))
    (then_graph, then_inputs), (else_graph, else_inputs) = graphs
    op = IfElse(then_graph, else_graph, then_inputs, else_inputs)
    outputs = op.make_node(condition, *values).outputs
    if name is not None:
        for k, out in enumerate(outputs):
            out.name = name if single else f"{name}[{k}]"
    return outputs[0] if single else list(outputs)


# --- scan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan(Op):
    """A loop of ``n_steps`` steps, each running the inner graph ``step``.

    Inputs: ``n_steps`` (int64 scalar), the sequences (step t reads element t of each), the
    initial states, the non-sequences (read by every step). ``step`` has one placeholder per
    sequence element, state and non-sequence, in that order, and computes the new states and
    then ``n_outs`` further outputs. Outputs: for each state its history, shape
    ``(n_steps,) + state shape`` (or, where ``stacked`` is False, only its final value), then
    each further output stacked over the steps. With ``reverse`` the steps run from
    ``n_steps - 1`` down to 0 (what backpropagation through time needs); results are still
    stored at the step's index. ``seq_names`` label the sequences in error messages. Its
    gradient is built by :mod:`symnet.grad`.
    """

    step: InnerGraph
    n_seqs: int
    n_states: int
    n_outs: int
    stacked: tuple
    reverse: bool = False
    seq_names: tuple = ()

    @property
    def n_nonseqs(self) -> int:
        return len(self.step.inputs) - self.n_seqs - self.n_states

    def make_node(self, n_steps, *outer):
        T = _tensor()
        n_steps = T.as_tensor(n_steps)
        if n_steps.ndim != 0 or np.dtype(n_steps.dtype).kind not in "iu":
            raise TypeError(f"scan: n_steps must be an integer scalar, got {_label(n_steps)} "
                            f"({n_steps.type.short()})")
        if n_steps.dtype != "int64":
            n_steps = T.cast(n_steps, "int64")
        outer = [T.as_tensor(v) for v in outer]
        if len(outer) != len(self.step.inputs):
            raise TypeError(f"scan: expected {len(self.step.inputs)} inputs after n_steps, got "
                            f"{len(outer)}")
        S, R = self.n_seqs, self.n_states
        for k, (value, placeholder) in enumerate(zip(outer, self.step.inputs)):
            kind = "sequence" if k < S else "initial state" if k < S + R else "non-sequence"
            ndim = placeholder.ndim + (1 if k < S else 0)
            if value.ndim != ndim or value.dtype != placeholder.dtype:
                raise TypeError(f"scan: {kind} {_label(value)} is {value.type.short()}, the step "
                                f"expects {ndim}-d {placeholder.dtype}")
        steps = int(n_steps.data) if isinstance(n_steps, Constant) else None
        outputs = []
        for j in range(R):
            init, new = outer[S + j], self.step.outputs[j]
            shape = tuple(a if a is not None else b
                          for a, b in zip(init.type.shape, new.type.shape))
            outputs.append(TensorType(init.dtype, (steps, *shape) if self.stacked[j] else shape)())
        for out in self.step.outputs[R:]:
            outputs.append(TensorType(out.dtype, (steps, *out.type.shape))())
        return Apply(self, [n_steps, *outer], outputs)

    def _seq_label(self, k: int) -> str:
        return self.seq_names[k] if k < len(self.seq_names) else f"#{k}"

    def perform(self, inputs):
        run, _ = self.step.python_function()
        return self.run_loop(inputs, run)

    def run_loop(self, inputs, step) -> list:
        """The loop in Python: ``step`` maps one step's input values (sequence elements,
        states, non-sequences) to its outputs. The reference backend steps with the inner
        graph's interpreter, tier 0 with its programs of the kernel's inner graphs."""
        S, R, M = self.n_seqs, self.n_states, self.n_outs
        n = int(inputs[0])
        seqs, inits, nonseqs = inputs[1:1 + S], inputs[1 + S:1 + S + R], inputs[1 + S + R:]
        if n < 1:
            raise ValueError(f"scan: n_steps is {n}; a scan runs at least one step")
        for k, seq in enumerate(seqs):
            if seq.shape[0] < n:
                raise ValueError(f"scan: sequence {k} ({self._seq_label(k)}) has {seq.shape[0]} "
                                 f"elements but n_steps is {n}")
        states = [np.asarray(v) for v in inits]
        histories = [np.empty((n, *s.shape), dtype=s.dtype) if self.stacked[j] else None
                     for j, s in enumerate(states)]
        outs = [None] * M
        order = range(n - 1, -1, -1) if self.reverse else range(n)
        for i, t in enumerate(order):
            results = step([np.asarray(seq[t]) for seq in seqs] + states + list(nonseqs))
            for j in range(R):
                new = results[j]
                if new.shape != inits[j].shape:
                    raise ValueError(f"scan: step {t} gives state {j} the shape {new.shape}, but "
                                     f"its initial value has shape {inits[j].shape}; a state keeps "
                                     f"its shape")
                if histories[j] is not None:
                    histories[j][t] = new
            states = list(results[:R])
            for m in range(M):
                value = results[R + m]
                if i == 0:
                    outs[m] = np.empty((n, *value.shape), dtype=self.step.outputs[R + m].dtype)
                elif value.shape != outs[m].shape[1:]:
                    raise ValueError(f"scan: output {m} has shape {value.shape} at step {t} but "
                                     f"{outs[m].shape[1:]} at the first step")
                outs[m][t] = value
        finals = [h if h is not None else np.array(s, copy=True)
                  for h, s in zip(histories, states)]
        return finals + outs

    def numba_data(self, node) -> list:
        S, R = self.n_seqs, self.n_states
        hoisted, body = self.step.loop_plan(S + R)
        outer = [f"v{k}" for k in range(len(self.step.inputs))]
        _, hoisted_names, hoisted_data = _render(hoisted, outer[S + R:], "p")
        body_data = _render(body, outer + hoisted_names, "q")[2]
        return [value for _, value in hoisted_data + body_data]

    def numba_lines(self, node, names, outs, data_names=()):
        return self.numba_checks(node, names) + self.numba_body(node, names, outs, data_names)

    def numba_checks(self, node, names) -> list[str]:
        """Lines checking n_steps and the sequences' lengths. The backend runs them where the
        scan's inputs are, before calling the scan's own function: they name the sequences,
        and equal loops over differently named sequences share one function."""
        steps = f"{names[0]}[()]"
        lines = [f"if {steps} < 1:",
                 "    " + _raise_line("ValueError", "scan: n_steps must be at least 1")]
        for k, seq in enumerate(names[1:1 + self.n_seqs]):
            lines.append(f"if {seq}.shape[0] < {steps}:")
            message = f"scan: sequence {k} ({self._seq_label(k)}) is shorter than n_steps"
            lines.append("    " + _raise_line("ValueError", message))
        return lines

    def numba_body(self, node, names, outs, data_names=()) -> list[str]:
        """The loop, for inputs that passed :meth:`numba_checks`."""
        S, R, M = self.n_seqs, self.n_states, self.n_outs
        p = outs[0] + "_"
        n = p + "n"
        seqs, inits = names[1:1 + S], names[1 + S:1 + S + R]
        nonseqs = names[1 + S + R:]
        hoisted, body = self.step.loop_plan(S + R)
        hoisted_lines, hoisted_names, hoisted_data = _render(hoisted, list(nonseqs), p + "h")
        # the loop reads hoisted values every step: make views (transposes) contiguous once,
        # rather than letting each step's BLAS call copy them
        contiguous = [f"{name}_c" if var.ndim > 0 else name
                      for name, var in zip(hoisted_names, hoisted.outputs)]
        hoisted_lines += [f"{c} = np.ascontiguousarray({name})"
                          for name, c in zip(hoisted_names, contiguous) if c != name]
        elements = [f"{p}x{k}" for k in range(S)]
        states = [f"{p}s{j}" for j in range(R)]
        body_lines, results, body_data = _render(body, elements + states + list(nonseqs)
                                                 + contiguous, p + "b")
        lines = [f"{n} = np.int64({names[0]}[()])"]
        lines.extend(_bind_data(hoisted_data + body_data, data_names))
        lines.extend(hoisted_lines)
        for j in range(R):
            dtype = node.outputs[j].dtype
            lines.append(f"{states[j]} = {inits[j]}")
            if self.stacked[j]:
                lines.append(f"{outs[j]} = np.empty(({n},) + {inits[j]}.shape, dtype=np.{dtype})")
        for m in range(M):
            var = node.outputs[R + m]
            zeros = "".join(", 0" for _ in range(var.ndim - 1))
            lines.append(f"{outs[R + m]} = np.empty(({n}{zeros},), dtype=np.{var.dtype})")
        lines.append(f"for {p}i in range({n}):")
        loop = [f"{p}t = {n} - 1 - {p}i" if self.reverse else f"{p}t = {p}i"]
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
            if self.stacked[j]:
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
            if not self.stacked[j]:
                # a copy: the final state may be a view of an input
                lines.append(f"{outs[j]} = np.copy({states[j]})")
        return lines

    pp_name = "scan"

    def pp_args(self):
        return []

    def __str__(self):
        text = f"Scan{{seqs={self.n_seqs}, states={self.n_states}, outs={self.n_outs}"
        return text + (", reverse}" if self.reverse else "}")


def build_scan(n_steps, sequences, states, nonseqs, state_outputs, outputs, *, stacked,
               reverse=False, seq_names=()) -> list[Variable]:
    """Apply a Scan (for :func:`scan` and the gradient of a scan).

    ``sequences``, ``states`` and ``nonseqs`` are (outer value, placeholder) pairs; the step
    computes ``state_outputs`` (one per state) and ``outputs`` from the placeholders.
    ``stacked``, ``reverse`` and ``seq_names`` are the Scan's fields. Returns the Scan's
    outputs.
    """
    placeholders = [ph for _, ph in [*sequences, *states, *nonseqs]]
    step = InnerGraph(placeholders, [*state_outputs, *outputs])
    op = Scan(step, len(sequences), len(states), len(outputs), tuple(stacked), reverse,
              tuple(seq_names))
    outer = [v for v, _ in [*sequences, *states, *nonseqs]]
    return op.make_node(n_steps, *outer).outputs


def _step_reads(roots, start: int) -> list[Variable]:
    """The values a step reads: ownerless variables, and variables made before the step
    function ran (``Variable.id`` below ``start``), which are computed outside the loop."""
    found, seen = [], set()
    stack = list(reversed(roots))
    while stack:
        var = stack.pop()
        if id(var) in seen:
            continue
        seen.add(id(var))
        if var.owner is None or var.id < start:
            found.append(var)
        else:
            stack.extend(reversed(var.owner.inputs))
    return found


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _is_update_list(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(p, (list, tuple)) and len(p) == 2
                    and isinstance(p[0], SharedVariable) for p in value))


def _is_updates(value) -> bool:
    return isinstance(value, Mapping) or _is_update_list(value)


def _step_results(result) -> tuple[list, list]:
    """(outputs, update pairs) from what a step function returned: outputs, updates (a dict
    or a list of (shared, expression) pairs), or both as a pair in either order."""
    if _is_updates(result):
        outputs, updates = [], result
    elif isinstance(result, tuple) and len(result) == 2 and _is_updates(result[1]):
        outputs, updates = result
    elif isinstance(result, tuple) and len(result) == 2 and _is_updates(result[0]):
        updates, outputs = result
    else:
        outputs, updates = result, []
    pairs = list(updates.items()) if isinstance(updates, Mapping) else [tuple(p) for p in updates]
    return _as_list(outputs), pairs


def _sequence_slices(entry, go_backwards: bool) -> list[tuple[Variable, str]]:
    """The sequences one ``sequences`` entry gives the step, one per tap, with labels.

    As in Theano, ``dict(input=x, taps=[-1, 0])`` gives step t the elements t-1 and t: each
    tap is a slice of ``x`` cut so that all of them have the same length.
    """
    T = _tensor()
    if isinstance(entry, Mapping):
        unknown = set(entry) - {"input", "taps"}
        if "input" not in entry or unknown:
            raise TypeError(f"scan: a sequence given as a dict needs 'input' (and optionally "
                            f"'taps'), got keys {sorted(entry)}")
        value, taps = entry["input"], entry.get("taps", [0])
    else:
        value, taps = entry, [0]
    seq = T.as_tensor(value)
    if seq.ndim == 0:
        raise TypeError(f"scan: sequence {_label(seq)} is a scalar; sequences are iterated over "
                        f"their first axis")
    taps = [0] if taps is None else list(taps)
    if not taps or not all(isinstance(t, (int, np.integer)) for t in taps):
        raise TypeError(f"scan: sequence taps must be a non-empty list of ints, got {taps!r}")
    label = _label(seq)
    low, high = min(min(taps), 0), max(max(taps), 0)
    slices = []
    for tap in taps:
        start = int(tap) - low
        end = int(tap) - high
        if start == 0 and end == 0:
            part = seq
        else:
            part = seq[start:] if end == 0 else seq[start:end]
        if go_backwards:
            part = part[::-1]
        slices.append((part, label if tap == 0 else f"{label} tap {tap}"))
    return slices


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         go_backwards: bool = False, name: str | None = None, strict: bool = False,
         return_list: bool = False):
    """Repeat ``fn`` over sequences and recurrent states (Theano's ``scan``).

    Step t calls ``fn(*sequence elements, *previous states, *non_sequences)``: first element
    t of each sequence, then the previous value of each recurrent output (the entries of
    ``outputs_info`` that are not None), then the non-sequences themselves. ``fn`` returns
    its outputs (one, or a list in the order of ``outputs_info``), or an updates dict
    ``{shared: new value}``, or both as ``(outputs, updates)``. The loop compiles to a native
    loop inside the function's one kernel; its gradient is backpropagation through time.

    Parameters
    ----------
    fn : callable
        Builds one step from symbolic arguments.
    sequences : Variable, dict or list of them, optional
        Iterated over their first axis. ``dict(input=x, taps=[-1, 0])`` passes the elements
        t-1 and t (the steps start where every tap exists).
    outputs_info : list, optional
        One entry per output of ``fn``: None for an output that is not fed back, an initial
        state (or ``dict(initial=x, taps=[-1])``) for one whose previous value the next step
        reads. Omitted: no output is fed back.
    non_sequences : list, optional
        Values every step reads, passed to ``fn`` as they are. Other variables ``fn`` uses
        are found and passed automatically (unless ``strict``).
    n_steps : int or int scalar, optional
        Number of steps; by default the length of the shortest sequence. Every sequence must
        have at least ``n_steps`` elements, and a scan runs at least one step.
    go_backwards : bool
        Iterate the sequences from their end.
    name : str, optional
        Name of the outputs.
    strict : bool
        Raise if ``fn`` reads a variable that is not among its arguments.
    return_list : bool
        Return a list even for a single output.

    Returns
    -------
    (outputs, updates)
        ``outputs``: one variable per output of ``fn`` (a list unless there is exactly one),
        each stacking the steps: shape ``(n_steps,) + step output shape``. ``updates``: an
        OrderedDict ``{shared variable: value after the last step}`` for the updates ``fn``
        returned (and the default updates of shared variables it reads, as for random
        streams); pass it to ``function(..., updates=updates)``.

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> k, A = T.lscalar('k'), T.dvector('A')
    >>> powers, _ = sn.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
    ...                     non_sequences=A, n_steps=k)
    >>> f = sn.function([A, k], powers[-1])
    >>> f(np.array([1.0, 2.0, 3.0]), 3)
    array([ 1.,  8., 27.])
    """
    T = _tensor()
    # sequences (one per tap)
    slices = []
    for entry in _as_list(sequences):
        slices.extend(_sequence_slices(entry, go_backwards))
    seq_values = [s for s, _ in slices]
    seq_names = [label for _, label in slices]
    if n_steps is None:
        if not seq_values:
            raise ValueError("scan: give sequences or n_steps, so the number of steps is known")
        lengths = [T.shape_i(s, 0) for s in seq_values]
        n = lengths[0]
        for length in lengths[1:]:
            if length is not n:
                n = T.minimum(n, length)
    else:
        n = T.as_tensor(n_steps)
        if n.ndim != 0 or np.dtype(n.dtype).kind not in "iu":
            raise TypeError(f"scan: n_steps must be an integer scalar, got {_label(n)} "
                            f"({n.type.short()})")

    # outputs_info: which outputs are recurrent, and their initial states
    given_info = outputs_info is not None
    infos = []
    for k, info in enumerate(_as_list(outputs_info) if given_info else []):
        if isinstance(info, Mapping):
            unknown = set(info) - {"initial", "taps"}
            if unknown:
                raise TypeError(f"scan: outputs_info entry {k} has unknown keys {sorted(unknown)}")
            taps = list(info.get("taps", [-1]) or [])
            initial = info.get("initial")
            if initial is None:
                if taps:
                    raise ValueError(f"scan: outputs_info entry {k} has taps but no initial value")
                infos.append(None)
                continue
            if taps != [-1]:
                raise ValueError(f"scan: outputs_info entry {k} asks for taps {taps}; symnet's "
                                 f"scan feeds back the previous step only (taps=[-1])")
            info = initial
        infos.append(None if info is None else T.as_tensor(info))

    seq_placeholders = [TensorType(s.dtype, s.type.shape[1:])(f"{label}[t]")
                        for s, label in zip(seq_values, seq_names)]
    inits = [v for v in infos if v is not None]
    state_placeholders = [v.type(v.name) for v in inits]
    explicit = [T.as_tensor(v) for v in _as_list(non_sequences)]
    # variables made from here on belong to the step; older ones are values it reads
    start = TensorType("int8", ())().id
    result = fn(*seq_placeholders, *state_placeholders, *explicit)
    raw_outputs, update_pairs = _step_results(result)
    outputs = [T.as_tensor(o) for o in raw_outputs]
    if not given_info:
        infos = [None] * len(outputs)
    if len(outputs) != len(infos):
        raise ValueError(f"scan: fn returned {len(outputs)} outputs but outputs_info has "
                         f"{len(infos)} entries")

    recurrent, others = [], []  # step outputs, in the order of the Scan's outputs
    for k, (out, init) in enumerate(zip(outputs, infos)):
        if init is None:
            others.append(out)
            continue
        if out.ndim != init.ndim:
            raise TypeError(f"scan: output {k} ({_label(out)}) is {out.ndim}-d but its initial "
                            f"state ({_label(init)}) is {init.ndim}-d; a recurrent output keeps "
                            f"the rank of its initial state")
        if out.dtype != init.dtype:
            if not np.can_cast(out.dtype, init.dtype, casting="safe"):
                raise TypeError(f"scan: output {k} ({_label(out)}) is {out.dtype} but its initial "
                                f"state is {init.dtype}; give an initial state of dtype "
                                f"{out.dtype} (e.g. T.cast(init, '{out.dtype}'))")
            out = T.cast(out, init.dtype)
        for axis, (a, b) in enumerate(zip(init.type.shape, out.type.shape)):
            if a is not None and b is not None and a != b:
                raise ValueError(f"scan: output {k} has length {b} on axis {axis} but its "
                                 f"initial state has length {a}")
        recurrent.append(out)

    # shared variables the step updates become states too (their value after the last step
    # is the update); the default updates of shared variables it reads count (random streams)
    updates: list[tuple[SharedVariable, Variable]] = []
    for target, expr in update_pairs:
        if not isinstance(target, SharedVariable):
            raise TypeError(f"scan: updates must be for shared variables, got {target!r}")
        if any(target is t for t, _ in updates):
            raise ValueError(f"scan: {target!r} is updated twice in the step")
        expr = T.as_tensor(expr)
        if expr.ndim != target.ndim:
            raise TypeError(f"scan: the update of {target!r} is {expr.ndim}-d, the shared variable "
                            f"{target.ndim}-d")
        if expr.dtype != target.dtype:
            expr = T.cast(expr, target.dtype)
        updates.append((target, expr))
    defaulted = []
    pending = outputs + [e for _, e in updates]
    while pending:
        added = []
        for var in _step_reads(pending, start):
            default = getattr(var, "default_update", None)
            if (isinstance(var, SharedVariable) and default is not None
                    and not any(var is t for t, _ in updates)):
                updates.append((var, T.as_tensor(default)))
                defaulted.append(var)
                added.append(updates[-1][1])
        pending = added

    # every other variable the step reads is a non-sequence
    roots = recurrent + [e for _, e in updates] + others
    own = {id(v) for v in seq_placeholders + state_placeholders}
    updated = {id(t): t.type(t.name) for t, _ in updates}
    free = []
    for var in _step_reads(roots, start):
        if id(var) in own or id(var) in updated or isinstance(var, Constant):
            continue
        if strict and not any(var is e for e in explicit):
            raise ValueError(f"scan: fn reads {_label(var)}, which is not among its arguments "
                             f"(strict=True: pass it in non_sequences)")
        free.append(var)
    nonseq_placeholders = [v.type(v.name) for v in free]
    replace = dict(zip(free, nonseq_placeholders))
    replace.update((t, updated[id(t)]) for t, _ in updates)
    roots = clone_replace(roots, replace) if replace else roots
    n_rec, n_upd = len(recurrent), len(updates)

    results = build_scan(
        n,
        list(zip(seq_values, seq_placeholders)),
        list(zip(inits, state_placeholders)) + [(t, updated[id(t)]) for t, _ in updates],
        list(zip(free, nonseq_placeholders)),
        roots[:n_rec + n_upd],
        roots[n_rec + n_upd:],
        stacked=(True,) * n_rec + (False,) * n_upd,
        seq_names=seq_names,
    )
    # back to the order of fn's outputs
    rec_iter = iter(results[:n_rec])
    other_iter = iter(results[n_rec + n_upd:])
    final = [next(other_iter) if init is None else next(rec_iter) for init in infos]
    if name is not None:
        for k, out in enumerate(final):
            out.name = name if len(final) == 1 else f"{name}[{k}]"
    new_values = OrderedDict(
        (target, value) for (target, _), value in zip(updates, results[n_rec:n_rec + n_upd]))
    for target in defaulted:
        if target.id >= start:
            # a generator state the step made (a random draw): only this loop reads it, so
            # compiled functions advance it past the loop's draws without explicit updates
            target.default_update = new_values[target]
    if len(final) == 1 and not return_list:
        return final[0], new_values
    return final, new_values
