"""Pass constant_fold: a node whose inputs are all constants is computed once, at compile time,
with the op's reference implementation (``Op.perform``), and becomes a Constant.

Bounded: a result with more than ``MAX_CONSTANT_SIZE`` elements stays a node (it would bloat
the graph and the kernel's arguments), and ops marked ``nondeterministic`` (random draws) are
never folded. A perform that raises leaves the node alone, so the error surfaces at run time
with the usual message.
"""

from __future__ import annotations

import numpy as np

from symnet.compiler.rewrite.passes import local_rewrite
from symnet.compiler.rewrite.utils import MAX_CONSTANT_SIZE
from symnet.graph import Constant, TensorType


@local_rewrite("constant_fold")
def local_constant_fold(fgraph, node):
    """op(constants...) -> constant"""
    if getattr(node.op, "nondeterministic", False):
        return None
    if not all(isinstance(inp, Constant) for inp in node.inputs):
        return None
    # an output's static shape that is fully known and too large: do not even compute it
    for out in node.outputs:
        if None not in out.type.shape and int(np.prod(out.type.shape)) > MAX_CONSTANT_SIZE:
            return None
    try:
        with np.errstate(all="ignore"):
            values = node.op.perform([inp.data for inp in node.inputs])
    except Exception:  # noqa: BLE001 - the run-time error names the node; keep it for then
        return None
    if len(values) != len(node.outputs):
        return None
    folded = []
    for out, value in zip(node.outputs, values):
        value = np.asarray(value)
        if value.size > MAX_CONSTANT_SIZE or value.ndim != out.ndim:
            return None
        if value.dtype.name != out.dtype:
            value = value.astype(out.dtype)
        folded.append(Constant(TensorType(out.dtype, value.shape), value))
    return folded
