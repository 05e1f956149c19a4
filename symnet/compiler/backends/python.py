"""Backend "python": the reference interpreter. It runs each node's ``Op.perform`` in
topological order; every numba result is tested against it. An op holding inner graphs (scan,
ifelse) runs them compiled by this backend too (:func:`symnet.compiler.inner.python_runner`),
rewritten like the graph holding it."""

from __future__ import annotations

import numpy as np

from symnet.compiler import inner
from symnet.compiler.fgraph import FunctionGraph
from symnet.graph import Constant
from symnet.printing import pp


def node_error(node, values, exc: Exception) -> Exception:
    """Re-raise ``exc`` from ``node.op.perform`` naming the op, its inputs and where it was built."""
    parts = []
    for var, value in zip(node.inputs, values):
        text = pp(var, max_length=60)
        if len(text) > 60:
            text = text[:57] + "..."
        arr = np.asarray(value)
        parts.append(f"{text}: shape {arr.shape} {arr.dtype}")
    out = node.outputs[0]
    trace = out.tag.get("trace")
    where = f"\n  created at {trace}" if trace else ""
    message = f"{exc}\n  in {node.op} with inputs: " + "; ".join(parts) + where
    cls = type(exc) if isinstance(exc, (ValueError, IndexError, TypeError, ZeroDivisionError,
                                         FloatingPointError, OverflowError)) else RuntimeError
    try:
        new = cls(message)
    except Exception:
        new = RuntimeError(message)
    new.symnet_node = node
    return new


class NanGuardError(FloatingPointError):
    """mode='nan_guard': a node produced NaN or inf."""


def _nan_guard_error(node, out, value) -> NanGuardError:
    bad = "NaN" if np.isnan(value).any() else "inf"
    trace = out.tag.get("trace")
    where = f"\n  created at {trace}" if trace else ""
    return NanGuardError(
        f"nan_guard: {node.op} produced {bad} (output shape {value.shape}, {value.dtype})\n"
        f"  expression: {pp(out, max_length=200)}{where}"
    )


def compile_python(fgraph: FunctionGraph, nan_guard: bool = False):
    """A callable mapping input values (fgraph.inputs order) to output values. With
    ``nan_guard`` it stops at the first node whose float output holds a NaN or inf."""
    order = fgraph.toposort()
    inputs = list(fgraph.inputs)
    outputs = list(fgraph.outputs)
    constants = {}
    for node in order:
        for inp in node.inputs:
            if isinstance(inp, Constant):
                constants[id(inp)] = inp.data
    for out in outputs:
        if isinstance(out, Constant):
            constants[id(out)] = out.data
    input_ids = [id(v) for v in inputs]
    steps = [(node, _perform(node), [id(i) for i in node.inputs], [id(o) for o in node.outputs])
             for node in order]
    output_ids = [id(o) for o in outputs]

    def run(values):
        storage = dict(constants)
        for key, value in zip(input_ids, values):
            storage[key] = value
        for node, perform, in_ids, out_ids in steps:
            args = [storage[i] for i in in_ids]
            try:
                results = perform(args)
            except Exception as exc:  # name the failing node for the user
                if getattr(exc, "symnet_node", None) is not None:
                    raise
                raise node_error(node, args, exc) from None
            for key, value, var in zip(out_ids, results, node.outputs):
                value = np.asarray(value)
                if value.dtype.name != var.dtype:
                    value = value.astype(var.dtype)
                if nan_guard and value.dtype.kind == "f" and not np.isfinite(value).all():
                    raise _nan_guard_error(node, var, value)
                storage[key] = value
        return [storage[i] for i in output_ids]

    return run


def _perform(node):
    """What computes ``node`` from its input values: its op's ``perform``, or for an op
    holding inner graphs the op run on programs of them compiled by this backend."""
    if node.op.inner_graphs():
        return inner.python_runner(node.op, compile_python).perform
    return node.op.perform
