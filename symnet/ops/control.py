"""Control flow: ``ifelse`` (lazy branches) and ``scan`` (loops), each an op holding inner graphs.

An :class:`InnerGraph` is a graph an op runs inside itself: a branch of an ifelse, the step of
a scan. Its inputs are placeholders the op binds when it runs. The ops describe their inner
graphs (``inner_graphs``) and run them given programs of them (``Scan.run_loop``,
``IfElse.run``); ``perform``, the reference, evaluates them node by node as built. The
compiler prepares the programs (:mod:`symnet.compiler.inner`): the python backend and tier 0
run an op's inner graphs rewritten and compiled once, and the numba backend renders them into
the kernel of the graph holding the op, rewritten and fused like any graph, so an ifelse is a
native ``if`` and a scan a native ``for`` loop in the kernel's module (inline, or a function
of the module that equal loops share): no Python runs per branch or per step.

Gradients are graphs like any other: the gradient of an ifelse is an ifelse of the branches'
gradients, the gradient of a scan is a scan running backwards over the stored states
(backpropagation through time). Both differentiate inner graphs with ``grad`` itself, so
:mod:`symnet.grad` builds them; the rewrites that simplify these ops after differentiation
live in :mod:`symnet.compiler.rewrite.control`.
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
from symnet.graph import tensor_functions as T
from symnet.ops.math import weak_operands


def _label(var: Variable) -> str:
    """Short text naming ``var`` in error messages."""
    try:
        text = T.pp(var, max_length=40)
    except Exception:  # noqa: BLE001 - a label must never fail
        text = var.name or var.type.short()
    return text if len(text) <= 40 else text[:37] + "..."


def _merge_static(a: tuple, b: tuple) -> tuple:
    """The static shape two values share: a length where both agree, else None."""
    return tuple(x if x == y else None for x, y in zip(a, b))


def may_alias_input(var: Variable) -> bool:
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
    pickles flat, as graphs do. Never mutated: the compiler rewrites copies, and keeps what it
    derives from the graph (rewritten graphs, programs) in ``cache``, which the graph never
    reads.
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
        self.cache: dict = {}

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

    def evaluate(self, values: list) -> list:
        """The outputs' values for ``values`` of the inputs, node by node with each op's
        ``perform`` on the graph as built: the reference the compiled programs are checked
        against. An output may be one of ``values`` or a constant's data."""
        storage = {id(v): value for v, value in zip(self.inputs, values)}
        for var in self.outputs:
            if isinstance(var, Constant):
                storage[id(var)] = var.data
        for node in self.nodes():
            args = [inp.data if isinstance(inp, Constant) else storage[id(inp)]
                    for inp in node.inputs]
            for var, value in zip(node.outputs, node.op.perform(args)):
                value = np.asarray(value)
                if value.dtype.name != var.dtype:
                    value = value.astype(var.dtype)
                storage[id(var)] = value
        return [storage[id(v)] for v in self.outputs]


def _reference(graph: InnerGraph):
    """A program of ``graph`` for ``IfElse.run``: :meth:`InnerGraph.evaluate`, copying the
    outputs that may be (views of) an input or a constant."""
    copies = [may_alias_input(v) for v in graph.outputs]

    def run(values):
        return [np.array(r) if copy else r for r, copy in zip(graph.evaluate(values), copies)]

    return run


def _inner_from(outputs, free: list[Variable]) -> tuple[InnerGraph, list[Variable]]:
    """An inner graph computing ``outputs`` with a placeholder for each variable of ``free``
    (the outer values it reads); returns the graph and the placeholders."""
    placeholders = [v.type(v.name) for v in free]
    inner_outputs = clone_replace(list(outputs), dict(zip(free, placeholders)))
    return InnerGraph(placeholders, inner_outputs), placeholders


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
        return self.run(inputs, [_reference(graph) for graph in self.inner_graphs()])

    def run(self, inputs, branches) -> list:
        """The outputs, computed by the branch the condition chooses: ``branches`` holds a
        program of each inner graph (then, else), mapping the values the branch reads to its
        outputs, which must not share memory with those values."""
        condition, values = inputs[0], inputs[1:]
        if condition:
            run, positions = branches[0], self.then_inputs
        else:
            run, positions = branches[1], self.else_inputs
        return list(run([values[k] for k in positions]))

    def grad(self, inputs, output_grads):
        """An ifelse choosing between the gradients of the branches (built in ``symnet.grad``, which sits above the ops, through the
        function table)."""
        return T.ifelse_gradient(self, inputs, output_grads)

    def inner_graphs(self) -> tuple:
        return (self.then_graph, self.else_graph)

    pp_name = "ifelse"

    def pp_args(self):
        return []

    def pp_text(self, args: list[str]) -> str:
        """``ifelse(cond, then, else)`` with the branches written out."""
        values = args[1:]
        texts = []
        for graph, positions in ((self.then_graph, self.then_inputs),
                                 (self.else_graph, self.else_inputs)):
            named = {ph: Variable(ph.type, name=values[k]) for ph, k in zip(graph.inputs, positions)}
            outs = clone_replace(list(graph.outputs), named)
            parts = [T.pp(o, max_length=200) for o in outs]
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
        a, b = weak_operands(a, b)
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

    def seq_label(self, k: int) -> str:
        """The label of sequence ``k`` in error messages."""
        return self.seq_names[k] if k < len(self.seq_names) else f"#{k}"

    def perform(self, inputs):
        return self.run_loop(inputs, self.step.evaluate)

    def run_loop(self, inputs, step) -> list:
        """The loop in Python: ``step`` maps one step's input values (sequence elements,
        states, non-sequences) to its outputs. ``perform`` steps with the step as built
        (:meth:`InnerGraph.evaluate`); the python backend and tier 0 with the programs
        :mod:`symnet.compiler.inner` compiles."""
        S, R, M = self.n_seqs, self.n_states, self.n_outs
        n = int(inputs[0])
        seqs, inits, nonseqs = inputs[1:1 + S], inputs[1 + S:1 + S + R], inputs[1 + S + R:]
        if n < 1:
            raise ValueError(f"scan: n_steps is {n}; a scan runs at least one step")
        for k, seq in enumerate(seqs):
            if seq.shape[0] < n:
                raise ValueError(f"scan: sequence {k} ({self.seq_label(k)}) has {seq.shape[0]} "
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

    def grad(self, inputs, output_grads):
        """Backpropagation through time: a scan over the steps in reverse order (built in ``symnet.grad``, which sits above the ops, through the
        function table)."""
        return T.scan_gradient(self, inputs, output_grads)

    def inner_graphs(self) -> tuple:
        return (self.step,)

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
    seq_values, seq_names = _sequences(sequences, go_backwards)
    n = _n_steps(seq_values, n_steps)
    infos = _outputs_info(outputs_info)
    inits = [v for v in infos or [] if v is not None]
    step = _call_step(fn, seq_values, seq_names, inits, non_sequences)
    if infos is None:
        infos = [None] * len(step.outputs)
    if len(step.outputs) != len(infos):
        raise ValueError(f"scan: fn returned {len(step.outputs)} outputs but outputs_info has "
                         f"{len(infos)} entries")
    recurrent, others = _recurrent_outputs(step.outputs, infos)
    updates = _checked_updates(step.update_pairs)
    defaulted = _add_default_updates(updates, step.outputs, step.start)

    # the step reads placeholders: of the elements, states and updated shared variables, and
    # of every other value it reads (the non-sequences)
    roots = recurrent + [e for _, e in updates] + others
    updated = {id(t): t.type(t.name) for t, _ in updates}
    free = _non_sequences(roots, step, updated, strict)
    nonseq_placeholders = [v.type(v.name) for v in free]
    replace = dict(zip(free, nonseq_placeholders))
    replace.update((t, updated[id(t)]) for t, _ in updates)
    roots = clone_replace(roots, replace) if replace else roots
    n_rec, n_upd = len(recurrent), len(updates)

    results = build_scan(
        n,
        list(zip(seq_values, step.seq_placeholders)),
        list(zip(inits, step.state_placeholders)) + [(t, updated[id(t)]) for t, _ in updates],
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
        if target.id >= step.start:
            # a generator state the step made (a random draw): only this loop reads it, so
            # compiled functions advance it past the loop's draws without explicit updates
            target.default_update = new_values[target]
    if len(final) == 1 and not return_list:
        return final[0], new_values
    return final, new_values


def _sequences(sequences, go_backwards: bool) -> tuple[list[Variable], list[str]]:
    """The sequences the step reads (one per tap of each entry of ``sequences``) and their
    labels."""
    slices = []
    for entry in _as_list(sequences):
        slices.extend(_sequence_slices(entry, go_backwards))
    return [s for s, _ in slices], [label for _, label in slices]


def _n_steps(seq_values: list[Variable], n_steps) -> Variable:
    """The number of steps: ``n_steps`` checked, or by default the length of the shortest
    sequence."""
    if n_steps is None:
        if not seq_values:
            raise ValueError("scan: give sequences or n_steps, so the number of steps is known")
        lengths = [T.shape_i(s, 0) for s in seq_values]
        n = lengths[0]
        for length in lengths[1:]:
            if length is not n:
                n = T.minimum(n, length)
        return n
    n = T.as_tensor(n_steps)
    if n.ndim != 0 or np.dtype(n.dtype).kind not in "iu":
        raise TypeError(f"scan: n_steps must be an integer scalar, got {_label(n)} "
                        f"({n.type.short()})")
    return n


def _outputs_info(outputs_info) -> list | None:
    """For each output of the step, its initial state if it is fed back, else None; None when
    ``outputs_info`` is not given (no output is fed back)."""
    if outputs_info is None:
        return None
    infos = []
    for k, info in enumerate(_as_list(outputs_info)):
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
    return infos


@dataclass
class _Step:
    """What calling the step function gave: the placeholders it was called on, the
    non-sequences passed as they are, ``start`` (the ``Variable.id`` from which variables
    belong to the step: older ones are values it reads), its outputs and its updates."""

    seq_placeholders: list
    state_placeholders: list
    explicit: list
    start: int
    outputs: list
    update_pairs: list


def _call_step(fn, seq_values, seq_names, inits, non_sequences) -> _Step:
    """Call ``fn`` on placeholders of the sequences' elements and of the states ``inits``,
    then on the non-sequences."""
    seq_placeholders = [TensorType(s.dtype, s.type.shape[1:])(f"{label}[t]")
                        for s, label in zip(seq_values, seq_names)]
    state_placeholders = [v.type(v.name) for v in inits]
    explicit = [T.as_tensor(v) for v in _as_list(non_sequences)]
    # variables made from here on belong to the step; older ones are values it reads
    start = TensorType("int8", ())().id
    result = fn(*seq_placeholders, *state_placeholders, *explicit)
    raw_outputs, update_pairs = _step_results(result)
    outputs = [T.as_tensor(o) for o in raw_outputs]
    return _Step(seq_placeholders, state_placeholders, explicit, start, outputs, update_pairs)


def _recurrent_outputs(outputs: list[Variable], infos: list) -> tuple[list, list]:
    """(the outputs fed back, cast to their initial state's dtype; the others), each in the
    order of the Scan's outputs. Raises if a fed-back output does not fit its initial state."""
    recurrent, others = [], []
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
    return recurrent, others


def _checked_updates(update_pairs) -> list[tuple[SharedVariable, Variable]]:
    """The updates the step returned, as (shared variable, expression of its dtype) pairs.

    A shared variable the step updates becomes a state of the loop: its value after the last
    step is the update."""
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
    return updates


def _add_default_updates(updates: list, outputs: list[Variable], start: int) -> list:
    """Add to ``updates`` the default updates of the shared variables the step reads (random
    streams: each step draws anew), and of those the added updates read; returns the shared
    variables added."""
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
    return defaulted


def _non_sequences(roots: list[Variable], step: _Step, updated: dict, strict: bool) -> list:
    """The values ``roots`` read other than the step's placeholders, the shared variables it
    updates (``updated``, by id) and constants: the Scan's non-sequences. With ``strict``,
    each must be among the non-sequences passed to the step function."""
    own = {id(v) for v in step.seq_placeholders + step.state_placeholders}
    free = []
    for var in _step_reads(roots, step.start):
        if id(var) in own or id(var) in updated or isinstance(var, Constant):
            continue
        if strict and not any(var is e for e in step.explicit):
            raise ValueError(f"scan: fn reads {_label(var)}, which is not among its arguments "
                             f"(strict=True: pass it in non_sequences)")
        free.append(var)
    return free
