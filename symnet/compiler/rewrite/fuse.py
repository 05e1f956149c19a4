"""Pass fuse_elemwise: collapse connected elementwise subgraphs into one FusedElemwise node.

Growing a group backwards from a consumer, a producer joins only when every client of its
output is already in the group, so no value leaves a group except through its root, and no
cycle through an outside node can form. Size-1 constants are inlined as literals.
"""

from __future__ import annotations

from collections import Counter

from symnet.compiler.rewrite.passes import global_pass
from symnet.graph import Constant
from symnet.ops.elemwise import Elemwise, FusedElemwise


def _group_from(fgraph, root, grouped: set) -> list:
    members = {root}
    candidates = [root]
    changed = True
    while changed:
        changed = False
        for node in list(candidates):
            for inp in node.inputs:
                producer = inp.owner
                if (producer is None or producer in members or producer in grouped
                        or not isinstance(producer.op, Elemwise) or producer not in fgraph.nodes):
                    continue
                clients = fgraph.clients.get(inp, [])
                if clients and all(c != "output" and c in members for c, _ in clients):
                    members.add(producer)
                    candidates.append(producer)
                    changed = True
        candidates = [n for n in candidates if n in members]
    return list(members)


def _build_fused(members_in_order: list, root):
    inputs, input_index, step_index, program = [], {}, {}, []
    for node in members_in_order:
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
        program.append((node.op.rule, tuple(operands), node.outputs[0].dtype))
    op = FusedElemwise(len(inputs), tuple(program), (step_index[root],))
    return op, inputs


@global_pass("fuse_elemwise")
def fuse_elemwise_pass(fgraph, exclude=()):
    """Every elementwise node ends up in exactly one fused loop."""
    fired = Counter()
    order = fgraph.toposort()
    position = {node: i for i, node in enumerate(order)}
    grouped: set = set()
    replacements = []
    for node in reversed(order):
        if node in grouped or not isinstance(node.op, Elemwise):
            continue
        members = _group_from(fgraph, node, grouped)
        grouped.update(members)
        members.sort(key=position.__getitem__)
        op, inputs = _build_fused(members, node)
        new = op.make_node(*inputs).outputs[0]
        replacements.append((node.outputs[0], new))
        fired["fuse_elemwise"] += 1
    for old, new in replacements:
        fgraph.replace(old, new, reason="fuse_elemwise")
    return fired
