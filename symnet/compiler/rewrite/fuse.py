"""Pass fuse_elemwise: collapse elementwise subgraphs into FusedElemwise nodes, one loop each.

Nodes are visited in topological order. A group runs at its start, the place of its first
member in that order; a node in no group runs at its own place. An elementwise node joins the
group of one of its elementwise producers when every other value it reads is made by that
group or *computed before the group starts* (a value of another group: when that group
starts). Then every group reads only values that exist at its start, so the fused graph has
no cycle; and a group may export several values (a forward activation that the backward pass
reads, say). An earlier group whose values are read only by the chosen group or by what is
computed after the chosen group's start is merged into it (and runs there), which joins the
two branches of ``f(x) + g(x)``. Size-1 constants are inlined as literals.
"""

from __future__ import annotations

import heapq
from collections import Counter

from symnet.compiler.rewrite.passes import global_pass
from symnet.graph import Constant
from symnet.ops.elemwise import Elemwise, FusedElemwise


def _build_fused(fgraph, members: list):
    """The FusedElemwise op and its inputs for ``members`` (in topological order), and the
    member outputs it exports (read outside the group or outputs of the graph)."""
    member_set = set(members)
    inputs, input_index, step_index, program, exported = [], {}, {}, [], []
    for node in members:
        operands = []
        for inp in node.inputs:
            if inp.owner is not None and inp.owner in step_index:
                operands.append(("step", step_index[inp.owner]))
            elif isinstance(inp, Constant) and inp.data.size == 1:
                operands.append(("const", (inp.data.reshape(()).item(), inp.dtype)))
            else:
                if id(inp) not in input_index:
                    input_index[id(inp)] = len(inputs)
                    inputs.append(inp)
                operands.append(("in", input_index[id(inp)]))
        step_index[node] = len(program)
        out = node.outputs[0]
        program.append((node.op.rule, tuple(operands), out.dtype))
        if any(c == "output" or c not in member_set for c, _ in fgraph.clients.get(out, [])):
            exported.append(node)
    op = FusedElemwise(len(inputs), tuple(program), tuple(step_index[n] for n in exported))
    return op, inputs, exported


class _Groups:
    """The groups being formed, and when each value is computed in the fused graph: a group
    runs at its start (the place of its first member), a node in no group at its own place.

    A union-find over group ids (a group merged into a later one takes that one's id and
    start), and per group a heap of ``(time, position)`` of the nodes reading its members,
    for the earliest outside reader in amortised logarithmic time (walking a group's members
    at every check instead is quadratic on a long run of shared values). A reader's time only
    drops when it joins a group (pushed then); it rises when its group is merged into a later
    one, which the heap learns when that entry comes to the top.
    """

    def __init__(self, fgraph, order: list):
        self.fgraph = fgraph
        self.order = order
        self.position = {node: i for i, node in enumerate(order)}
        self.parent: list[int] = []
        self.starts: list[int] = []
        self.readers: list[list[tuple[int, int]]] = []
        self.group_of: dict = {}

    def new(self, node) -> int:
        """A new group, starting at ``node``."""
        self.parent.append(len(self.parent))
        self.starts.append(self.position[node])
        self.readers.append([])
        return len(self.parent) - 1

    def find(self, g: int) -> int:
        root = g
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[g] != root:
            self.parent[g], g = root, self.parent[g]
        return root

    def of(self, node) -> int | None:
        """The group of ``node``, None if it is in none (yet)."""
        g = self.group_of.get(node)
        return None if g is None else self.find(g)

    def time(self, node) -> int:
        """When ``node``'s value is computed: its group's start, or its own place."""
        g = self.of(node)
        return self.position[node] if g is None else self.starts[g]

    def available(self, var, g: int) -> bool:
        """Is ``var`` computed before group ``g`` starts (or inside it)?"""
        owner = var.owner
        if owner is None:
            return True
        h = self.of(owner)
        return h == g or self.time(owner) < self.starts[g]

    def add(self, node, g: int) -> None:
        self.group_of[node] = g
        own = self.position[node]
        for client, _ in self.fgraph.clients.get(node.outputs[0], ()):
            if client != "output":
                heapq.heappush(self.readers[g], (self.position[client], self.position[client]))
        # node is a reader of its inputs' groups, from now on at g's start
        for inp in node.inputs:
            h = self.of(inp.owner) if inp.owner is not None else None
            if h is not None and h != g:
                heapq.heappush(self.readers[h], (self.starts[g], own))

    def mergeable(self, g: int, target: int) -> bool:
        """Can the earlier group ``g`` run at ``target``'s start instead? Only if everything
        outside ``g`` that reads its values is computed after that start (``target`` itself
        is, at its start: it is the group that starts there)."""
        heap = self.readers[g]
        while heap:
            key, pos = heap[0]
            reader = self.order[pos]
            h = self.of(reader)
            if h == g:
                heapq.heappop(heap)  # a reader inside g stays in it: groups only merge
                continue
            now = self.time(reader)
            if now != key:
                heapq.heapreplace(heap, (now, pos))
                continue
            return key >= self.starts[target]
        return True

    def merge(self, g: int, target: int) -> None:
        """Move group ``g`` into ``target`` (which keeps its start)."""
        small, large = self.readers[g], self.readers[target]
        if len(small) > len(large):
            small, large = large, small
        for entry in small:
            heapq.heappush(large, entry)
        self.readers[target], self.readers[g] = large, []
        self.parent[g] = target


@global_pass("fuse_elemwise")
def fuse_elemwise_pass(fgraph, exclude=()):
    """Every elementwise node ends up in exactly one fused loop."""
    fired = Counter()
    order = fgraph.toposort()
    groups = _Groups(fgraph, order)

    for node in order:
        if not isinstance(node.op, Elemwise):
            continue
        chosen = None
        ndim = node.outputs[0].ndim
        for inp in node.inputs:
            g = groups.of(inp.owner) if inp.owner is not None else None
            if g is None or inp.ndim != ndim:
                continue
            if all(groups.available(x, g) for x in node.inputs):
                chosen = g
                break
        if chosen is None:
            chosen = groups.new(node)
        groups.add(node, chosen)
        for inp in node.inputs:
            other = groups.of(inp.owner) if inp.owner is not None else None
            if (other is not None and other != chosen
                    and groups.starts[other] < groups.starts[chosen]
                    and groups.mergeable(other, chosen)):
                groups.merge(other, chosen)

    members_of: dict[int, list] = {}
    for node in order:  # members in schedule order
        g = groups.of(node)
        if g is not None:
            members_of.setdefault(g, []).append(node)

    # Groups are built in schedule order, each reading the fused outputs of the groups before
    # it: replacing an exported value must never revive the nodes that made it.
    replacements = []
    fused_value: dict[int, object] = {}
    for g in sorted(members_of, key=groups.starts.__getitem__):
        op, inputs, exported = _build_fused(fgraph, members_of[g])
        inputs = [fused_value.get(id(v), v) for v in inputs]
        new_outputs = op.make_node(*inputs).outputs
        for node, new in zip(exported, new_outputs):
            fused_value[id(node.outputs[0])] = new
            replacements.append((node.outputs[0], new))
        fired["fuse_elemwise"] += 1
    for old, new in replacements:
        fgraph.replace(old, new, reason="fuse_elemwise")
    return fired
