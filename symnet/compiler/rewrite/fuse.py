"""Pass fuse_elemwise: collapse elementwise subgraphs into FusedElemwise nodes, one loop each.

Nodes are visited in topological order. An elementwise node joins the group of one of its
elementwise producers when every other value it reads is either made by that group or made
*before the group's first member*. Then every group can run at its first member's place in
the order, reading only values that exist there, so the fused graph has no cycle; and a
group may export several values (a forward activation that the backward pass reads, say).
An earlier group whose values are read only by the chosen group (or by nodes placed after the
chosen group's start) is merged into it, which joins the two branches of ``f(x) + g(x)``.
Size-1 constants are inlined as literals.
"""

from __future__ import annotations

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


def _mergeable(fgraph, members, target: int, target_start: int, group_of, position) -> bool:
    """Can an earlier group run at ``target``'s start instead? Only if nothing outside the two
    groups reads its values before that point."""
    for member in members:
        for client, _ in fgraph.clients.get(member.outputs[0], ()):
            if client == "output":
                continue
            g = group_of.get(client)
            if g == target or g == group_of[member]:
                continue
            if position[client] <= target_start:
                return False
    return True


@global_pass("fuse_elemwise")
def fuse_elemwise_pass(fgraph, exclude=()):
    """Every elementwise node ends up in exactly one fused loop."""
    fired = Counter()
    order = fgraph.toposort()
    position = {node: i for i, node in enumerate(order)}
    group_of: dict = {}
    groups: list[list] = []
    starts: list[int] = []

    def available(var, g: int) -> bool:
        owner = var.owner
        return owner is None or group_of.get(owner) == g or position[owner] < starts[g]

    for node in order:
        if not isinstance(node.op, Elemwise):
            continue
        chosen = None
        ndim = node.outputs[0].ndim
        for inp in node.inputs:
            g = group_of.get(inp.owner) if inp.owner is not None else None
            if g is None or inp.ndim != ndim:
                continue
            if all(available(x, g) for x in node.inputs):
                chosen = g
                break
        if chosen is None:
            chosen = len(groups)
            groups.append([])
            starts.append(position[node])
        group_of[node] = chosen
        groups[chosen].append(node)
        for inp in node.inputs:
            other = group_of.get(inp.owner) if inp.owner is not None else None
            if other is not None and other != chosen and starts[other] < starts[chosen]:
                if _mergeable(fgraph, groups[other], chosen, starts[chosen], group_of, position):
                    for member in groups[other]:
                        group_of[member] = chosen
                    groups[chosen].extend(groups[other])
                    groups[other] = []

    # Groups are built in schedule order, each reading the fused outputs of the groups before
    # it: replacing an exported value must never revive the nodes that made it.
    replacements = []
    fused_value: dict[int, object] = {}
    for g in sorted(range(len(groups)), key=starts.__getitem__):
        members = groups[g]
        if not members:
            continue
        members.sort(key=position.__getitem__)
        op, inputs, exported = _build_fused(fgraph, members)
        inputs = [fused_value.get(id(v), v) for v in inputs]
        new_outputs = op.make_node(*inputs).outputs
        for node, new in zip(exported, new_outputs):
            fused_value[id(node.outputs[0])] = new
            replacements.append((node.outputs[0], new))
        fired["fuse_elemwise"] += 1
    for old, new in replacements:
        fgraph.replace(old, new, reason="fuse_elemwise")
    return fired
