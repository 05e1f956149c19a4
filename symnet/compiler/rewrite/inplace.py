"""Pass inplace: fused elementwise loops that write their result into a buffer nobody needs
any more, instead of allocating a new one.

Two cases, both only for a fused loop (FusedElemwise) and an operand of the result's dtype:

- a dying intermediate: an operand made by a fused loop or a float matrix product (ops that
  always return a fresh array) that this loop is the only reader of. Any schedule is safe.
- a shared variable's update (``W - lr * g`` written into ``W``): the update is the loop's
  only use, nothing else among the outputs is ``W``, and every shape involved is known
  statically (so the loop cannot fail once it has started writing). The backend runs these
  loops after every other node (:func:`late_node`), so every other reader of ``W`` has read
  the old value first, and a failing call never gets as far as changing ``W``.

On a shared variable this saves allocating a new array per step: measured on the MLP training
step of bench/mlp.py, where the new weights were 784 x 256 fresh arrays every step. Users who
hold a shared value obtained with ``get_value(borrow=True)`` see it change in place, as in
Theano.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from symnet.compiler.rewrite.passes import global_pass
from symnet.ops.elemwise import FusedElemwise, vm_register
from symnet.ops.linalg import Dot


def _fresh(var) -> bool:
    """True when ``var``'s value is always a new C-ordered array that no other value shares."""
    owner = var.owner
    if owner is None:
        return False
    if isinstance(owner.op, FusedElemwise):
        return var.ndim > 0
    return (isinstance(owner.op, Dot) and var.ndim == 2 and owner.inputs[0].ndim == 2
            and owner.inputs[1].ndim == 2 and np.dtype(var.dtype).kind == "f")


def _view_root(var):
    """The variable whose memory ``var`` may share (itself unless made by view ops)."""
    while var.owner is not None and getattr(var.owner.op, "may_return_view", False):
        var = var.owner.inputs[0]
    return var


def _static(shape) -> bool:
    return all(d is not None for d in shape)


def _vm_loop(node) -> bool:
    return vm_register(node.op, node) is not None


@global_pass("inplace")
def inplace_pass(fgraph, exclude=()):
    fired = Counter()
    targets = getattr(fgraph, "update_targets", {})  # output index -> input index
    output_ids = {id(v) for v in fgraph.outputs}
    update_of = {}  # id(update expression) -> the shared variable it overwrites
    for out_index, in_index in targets.items():
        expr, shared = fgraph.outputs[out_index], fgraph.inputs[in_index]
        if sum(v is expr for v in fgraph.outputs) == 1 and id(shared) not in output_ids:
            update_of[id(expr)] = shared
    plans = []
    for node in fgraph.toposort():
        op = node.op
        if not isinstance(op, FusedElemwise) or op.inplace or node.outputs[0].ndim == 0:
            continue
        if _vm_loop(node):
            continue
        pairs, used = [], set()
        for m, out in enumerate(node.outputs):
            candidates = []
            shared = update_of.get(id(out))
            clients = fgraph.clients.get(out, {})
            if (shared is not None and len(clients) == 1 and _static(shared.type.shape)
                    and shared.type.shape == out.type.shape
                    and all(_static(x.type.shape) for x in node.inputs)):
                candidates = [k for k, x in enumerate(node.inputs) if x is shared]
                if any(x is not shared and _view_root(x) is shared for x in node.inputs):
                    candidates = []  # W - W.T: a view of W read after W was overwritten
            if not candidates:
                candidates = [
                    k for k, x in enumerate(node.inputs)
                    if _fresh(x) and id(x) not in output_ids and len(fgraph.clients.get(x, {})) == 1
                ]
            for k in candidates:
                x = node.inputs[k]
                if k not in used and x.dtype == out.dtype and x.ndim == out.ndim:
                    pairs.append((m, k))
                    used.add(k)
                    break
        if pairs:
            plans.append((node, pairs))
    # Loops that overwrite a shared value run last, in schedule order: one that reads a value
    # another of them overwrites would read it too late, so it allocates instead.
    written = {id(node.inputs[k]) for node, pairs in plans for _, k in pairs
               if node.inputs[k].owner is None}
    for node, pairs in plans:
        own = {id(node.inputs[k]) for _, k in pairs}
        if any(id(x) in written and id(x) not in own for x in node.inputs):
            pairs = [(m, k) for m, k in pairs if node.inputs[k].owner is not None]
            if not pairs:
                continue
        new_op = replace(node.op, inplace=tuple(pairs))
        new_outputs = new_op.make_node(*node.inputs).outputs
        for old, new in zip(node.outputs, new_outputs):
            fgraph.replace(old, new, reason="inplace")
        kind = "update" if any(node.inputs[k].owner is None for _, k in pairs) else "intermediate"
        fired[f"inplace_{kind}"] += 1
    return fired


def late_node(node) -> bool:
    """True for the fused loops that overwrite a kernel input (a shared value): the backend
    schedules them after every other node."""
    op = node.op
    return isinstance(op, FusedElemwise) and any(node.inputs[k].owner is None for _, k in op.inplace)
