"""The call path of a compiled function: one generated Python function per function and tier.

Every backend describes how its program is called with a :class:`Runner`; :func:`build_call`
turns that description and the function's inputs, shared variables and outputs into the
Python function users call. It is the only place where arguments are checked, scalars
unboxed, arrays made C-contiguous, outputs wrapped and shared-variable updates committed,
whichever backend or tier runs the graph:

- positional arguments of the exact dtype, rank and layout go straight through; anything
  else (keywords, defaults, lists, other dtypes) takes ``Function.bind``, which applies the
  defaults and checks and converts every value, and comes back here;
- the call reads the shared variables, runs the program and commits the updates holding
  the shared variables' locks, so calls touching the same variables are serialised (no
  update lost, none seen half written), while others run concurrently (kernels release the
  GIL); every new value exists before the first commit, so a failing call changes nothing;
- a failure is explained by the function (``Function.explain_failure``: the compiled kernel's
  error is replaced by the reference backend's, which names the op and the shapes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: up to this many locks the call path names each in one ``with`` (the fastest form); more
#: go through one LockGroup
INLINE_LOCKS = 4


@dataclass(frozen=True)
class Runner:
    """How a backend's program is called.

    ``entry(*inputs, *shared_values, *extra)`` returns the outputs, then the new values of
    the updated shared variables, in the function graph's output order.
    """

    #: the program: positional arguments in, a sequence of results out
    entry: Callable
    #: values passed after the inputs and shared values (the kernel's constants)
    extra: tuple = ()
    #: 0-d inputs and shared values pass as NumPy scalars rather than 0-d arrays
    unbox_scalars: bool = False
    #: the entry returns each output as an array of its dtype, 0-d outputs as scalars
    typed_results: bool = False


def _as_result(value, dtype):
    """An output or update as an array of ``dtype`` (backends that return anything)."""
    if type(value) is np.ndarray and value.dtype is dtype:
        return value
    return np.asarray(value, dtype)


def build_call(fn, runner: Runner, prologue: Callable | None = None) -> Callable:
    """The call path of ``fn`` (a :class:`symnet.compiler.function.Function`) on ``runner``.

    ``prologue``, when given, is called first on every call (tier 0 reports a pending notice
    through it).
    """
    env = {"np": np, "ndarray": np.ndarray, "entry": runner.entry, "bind": fn.bind,
           "filt": fn.filter_input, "failure": fn.failure, "asarray": np.asarray,
           "contiguous": np.ascontiguousarray, "as_result": _as_result}
    lines = ["def call(*args, **kwargs):"]
    if prologue is not None:
        env["prologue"] = prologue
        lines.append("    prologue()")
    lines += [f"    if kwargs or len(args) != {fn.n_inputs}:",
              "        return call(*bind(args, kwargs))"]
    names = [f"a{i}" for i in range(fn.n_inputs)]
    if names:
        lines.append(f"    {', '.join(names)}, = args")
    for pos, name in enumerate(names):
        ttype = fn.input_types[pos]
        if fn.trust_input:
            continue  # what the caller gave goes through as it is
        env[f"D{pos}"] = np.dtype(ttype.dtype)
        exact = f"type({name}) is ndarray and {name}.dtype is D{pos} and {name}.ndim == {ttype.ndim}"
        if ttype.ndim >= 1:
            # other layouts are copied to C order: one kernel specialisation, not one per layout
            exact += f" and {name}.flags.c_contiguous"
        if any(d is not None for d in ttype.shape):
            exact += f" and {name}.shape == {ttype.shape!r}"
        if ttype.ndim == 0 and runner.unbox_scalars:
            lines.append(f"    if {exact}:")
            lines.append(f"        {name} = {name}[()]")
            if ttype.dtype == "float64":
                lines.append(f"    elif type({name}) is not float:")
            else:
                lines.append("    else:")
            lines.append(f"        {name} = filt({pos}, {name})[()]")
        elif ttype.ndim == 0:
            lines.append(f"    if not ({exact}):")
            lines.append(f"        {name} = filt({pos}, {name})")
        else:
            lines.append(f"    if not ({exact}):")
            lines.append(f"        {name} = contiguous(filt({pos}, {name}))")
    call_args = list(names)
    for i, shared in enumerate(fn.shared_read):
        env[f"S{i}"] = shared.container
        unbox = shared.ndim == 0 and runner.unbox_scalars
        call_args.append(f"S{i}[0][()]" if unbox else f"S{i}[0]")
    for i, value in enumerate(runner.extra):
        env[f"K{i}"] = value
        call_args.append(f"K{i}")
    body = ["try:",
            f"    r = entry({', '.join(call_args)})",
            "except Exception as exc:",
            "    raise failure(args, exc) from None"]
    n = fn.n_outputs
    results = []
    for i, var in enumerate(fn.fgraph.outputs):
        env[f"O{i}"] = np.dtype(var.dtype)
        copy = fn.copy_output[i] if i < n else fn.copy_update[i - n]
        if runner.typed_results:
            value = f"asarray(r[{i}], O{i})" if var.ndim == 0 else f"r[{i}]"
        else:
            value = f"as_result(r[{i}], O{i})"
        if copy and (var.ndim > 0 or not runner.typed_results):  # a 0-d array may alias too
            value = f"{value}.copy()"
        body.append(f"r{i} = {value}")
        results.append(f"r{i}")
    for i, shared in enumerate(fn.updated):
        env[f"U{i}"] = shared.container
        body.append(f"U{i}[0] = r{n + i}")
    if len(fn.locks) > INLINE_LOCKS:
        env["LG"] = fn.lock_group
        lines.append("    with LG:")
        lines.extend("        " + line for line in body)
    elif fn.locks:
        for i, lock in enumerate(fn.locks):
            env[f"L{i}"] = lock
        lines.append("    with " + ", ".join(f"L{i}" for i in range(len(fn.locks))) + ":")
        lines.extend("        " + line for line in body)
    else:
        lines.extend("    " + line for line in body)
    if fn.single:
        lines.append(f"    return {results[0]}")
    else:
        lines.append(f"    return [{', '.join(results[:n])}]")
    namespace = dict(env)
    exec(compile("\n".join(lines) + "\n", f"<symnet call path of {fn.name}>", "exec"), namespace)
    return namespace["call"]
