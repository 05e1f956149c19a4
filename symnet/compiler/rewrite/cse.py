"""Pass cse: common subexpression elimination, the pass that keeps gradient graphs small.

First equal constants (same dtype, shape and bytes) become one; then, in topological order,
a node whose op equals an earlier node's op and whose inputs are the very same variables is
replaced by that earlier node. Hashing ``(op, input ids)`` makes this one linear sweep:
replacing a node rewires its clients to the survivor, so their keys are computed on merged
inputs when their turn comes. Ops marked ``nondeterministic`` (random draws) never merge.
"""

from __future__ import annotations

from collections import Counter

from symnet.compiler.rewrite.passes import global_pass
from symnet.graph import Constant


def _merge_constants(fgraph) -> int:
    survivors: dict = {}
    duplicates = []
    for var in list(fgraph.clients):
        if not isinstance(var, Constant) or not fgraph.clients.get(var):
            continue
        key = var.signature()
        kept = survivors.setdefault(key, var)
        if kept is not var:
            duplicates.append((var, kept))
    for old, new in duplicates:
        fgraph.replace(old, new, reason="cse_constants")
    return len(duplicates)


def _merge_nodes(fgraph) -> int:
    merged = 0
    seen: dict = {}
    for node in fgraph.toposort():
        if node not in fgraph.nodes or getattr(node.op, "nondeterministic", False):
            continue
        key = (node.op, tuple(id(inp) for inp in node.inputs))
        try:
            kept = seen.setdefault(key, node)
        except TypeError:  # an op with unhashable props cannot be compared: keep it
            continue
        if kept is node:
            continue
        for old, new in zip(node.outputs, kept.outputs):
            fgraph.replace(old, new, reason="cse_nodes")
        merged += 1
    return merged


@global_pass("cse")
def cse_pass(fgraph, exclude=()):
    """Merge equal constants, then nodes with equal ops on identical inputs."""
    fired = Counter()
    if "cse_constants" not in exclude:
        count = _merge_constants(fgraph)
        if count:
            fired["cse_constants"] = count
    if "cse_nodes" not in exclude:
        count = _merge_nodes(fgraph)
        if count:
            fired["cse_nodes"] = count
    return fired
