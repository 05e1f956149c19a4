"""Pipeline stage 1: FunctionGraph, the private, mutable copy of a graph that rewrites work on.

It holds the inputs (the user's inputs then the shared variables read), the outputs (the
user's outputs then the update expressions), and for every variable its clients (the nodes
that read it). Rewrites replace variables with :meth:`FunctionGraph.replace`; nothing else
mutates the graph.
"""

from __future__ import annotations

from collections import defaultdict

from symnet.graph import Apply, Constant, Variable, toposort


class FunctionGraph:
    def __init__(self, inputs: list[Variable], outputs: list[Variable], clone: bool = True):
        self.inputs = list(inputs)
        if clone:
            outputs = _clone_nodes(outputs, self.inputs)
        self.outputs = list(outputs)
        # clients[var] is an insertion-ordered set of (node or "output", input index): a dict,
        # so removing one client is O(1) even for a constant read by thousands of nodes
        self.clients: dict[Variable, dict[tuple[Apply | str, int], None]] = defaultdict(dict)
        self.nodes: set[Apply] = set()
        self._rebuild_clients()

    # --- structure ---------------------------------------------------------------------------
    def _rebuild_clients(self) -> None:
        self.clients.clear()
        self.nodes = set()
        for node in toposort(self.outputs, stop=self.inputs):
            self.nodes.add(node)
            for i, inp in enumerate(node.inputs):
                self.clients[inp][(node, i)] = None
        for i, out in enumerate(self.outputs):
            self.clients[out][("output", i)] = None

    def toposort(self) -> list[Apply]:
        return toposort(self.outputs, stop=self.inputs)

    def variables(self) -> list[Variable]:
        seen: dict[int, Variable] = {id(v): v for v in self.inputs}
        for node in self.toposort():
            for v in node.inputs + node.outputs:
                seen.setdefault(id(v), v)
        return list(seen.values())

    def replace(self, old: Variable, new: Variable, reason: str = "") -> None:
        """Make every client of ``old`` (nodes and outputs) use ``new`` instead.

        Client lists are updated incrementally: nodes ``new`` brings in are imported, nodes
        left without clients are pruned, so a rewrite costs time in what it touches only.
        """
        if old is new:
            return
        if old.type.dtype != new.type.dtype or old.ndim != new.ndim:
            raise TypeError(
                f"rewrite {reason or '?'} changed a type: {old.type} -> {new.type}"
            )
        if old.name is not None and new.name is None:
            new.name = old.name
        if old.tag.get("trace") and not new.tag.get("trace"):
            new.tag["trace"] = old.tag["trace"]
        self._import(new)
        for client, i in list(self.clients.get(old, [])):
            if client == "output":
                self.outputs[i] = new
            else:
                client.inputs[i] = new
            self.clients[new][(client, i)] = None
        self.clients[old] = {}
        self._prune(old)

    def _import(self, var: Variable) -> None:
        """Register the nodes between ``var`` and the nodes the graph already holds."""
        input_ids = {id(v) for v in self.inputs}
        new_nodes, seen, stack = [], set(), [var]
        while stack:
            node = stack.pop().owner
            if node is None or node in self.nodes or id(node) in seen:
                continue
            seen.add(id(node))
            new_nodes.append(node)
            stack.extend(i for i in node.inputs if id(i) not in input_ids)
        for node in new_nodes:
            self.nodes.add(node)
            for i, inp in enumerate(node.inputs):
                self.clients[inp][(node, i)] = None

    def _prune(self, var: Variable) -> None:
        """Drop the owner of ``var`` (and recursively its inputs' owners) once unused."""
        stack = [var]
        while stack:
            v = stack.pop()
            node = v.owner
            if node is None or node not in self.nodes:
                continue
            if any(self.clients.get(o) for o in node.outputs):
                continue
            self.nodes.discard(node)
            for i, inp in enumerate(node.inputs):
                entries = self.clients.get(inp)
                if entries:
                    entries.pop((node, i), None)
                    if not entries:
                        stack.append(inp)

    def replace_all(self, pairs, reason: str = "") -> None:
        for old, new in pairs:
            self.replace(old, new, reason)

    def validate(self) -> None:
        """Check types, clients and acyclicity (run after every pass when check_graph is on)."""
        order = self.toposort()  # raises on a cycle
        input_ids = {id(v) for v in self.inputs}
        for node in order:
            for inp in node.inputs:
                if inp.owner is None and id(inp) not in input_ids and not isinstance(inp, Constant):
                    raise ValueError(f"validate: {inp!r} is used but is not an input of the graph")
            for i, out in enumerate(node.outputs):
                if out.owner is not node or out.index != i:
                    raise ValueError(f"validate: output {i} of {node.op} has a wrong owner")

    def clients_of(self, var: Variable) -> list:
        return list(self.clients.get(var, ()))

    def as_networkx(self):
        """A networkx DiGraph of the nodes (edges follow data), for analysis only."""
        import networkx as nx  # deferred: 0.1 s to import, and only this analysis view needs it

        graph = nx.DiGraph()
        for node in self.toposort():
            graph.add_node(node)
            for inp in node.inputs:
                if inp.owner is not None and inp.owner in self.nodes:
                    graph.add_edge(inp.owner, node)
        return graph

    def __len__(self):
        return len(self.nodes)


def _clone_nodes(outputs: list[Variable], inputs: list[Variable]) -> list[Variable]:
    """Copy every Apply between ``inputs`` and ``outputs``; ownerless variables are shared."""
    memo: dict[int, Variable] = {}
    for node in toposort(outputs, stop=inputs):
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        new_outputs = [Variable(o.type, name=o.name) for o in node.outputs]
        for old, new in zip(node.outputs, new_outputs):
            new.tag["trace"] = old.tag.get("trace")
            memo[id(old)] = new
        Apply(node.op, new_inputs, new_outputs)
    return [memo.get(id(o), o) for o in outputs]
