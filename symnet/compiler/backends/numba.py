"""Backend "numba": the rewritten graph becomes one generated Python module whose
``@numba.njit`` function ``kernel`` computes it, one line per node under a comment naming it.
A node with large code (a fused loop over arrays, a scan's loop) is a function of its own in
the module, shared by equal nodes, and the kernel's line calls it (see ``_emit``).

The module is stored in the kernel cache (:mod:`symnet.compiler.cache`) under the hash of its
text and imported by name, so Numba's own disk cache serves later processes. Constants are
passed as arguments (the source holds no data); so are the float constants of fused loops
(a learning rate), so a graph that differs only in one reuses the kernel. Other scalar
constants in fused loops (integers, booleans, exponents) are literals.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

import numpy as np
from numba.core.dispatcher import Dispatcher

from symnet.compiler.allocator import tune_malloc
from symnet.compiler.cache import load_kernel
from symnet.compiler.fgraph import FunctionGraph
from symnet.compiler.rewrite.inplace import late_node
from symnet.graph import Constant
from symnet.ops.kernel import tolerate_broken_cache

FAMILIES = ("elemwise", "shape", "reduction", "linalg", "subtensor", "nnet", "conv", "pool",
            "control", "random", "vmath", "elemvm")


class MissingNumbaImplementation(TypeError):
    """An op in the graph has no Numba implementation (nothing falls back to object mode)."""


def _families() -> list[str]:
    import importlib.util

    return [f for f in FAMILIES if importlib.util.find_spec(f"symnet.ops.{f}") is not None]


def _comment(node) -> str:
    text = str(node.op)
    if len(text) > 90:
        text = text[:87] + "..."
    return text.replace("\n", " ")


# The kernel is called from Python only (no C entry point), the other functions of the module
# only from compiled code (neither a Python nor a C entry point: wrappers would be code to
# generate, optimise and emit for nothing).
_KERNEL_DECORATOR = ('@numba.njit(cache=True, nogil=True, error_model="numpy", '
                     'no_cfunc_wrapper=True)')
_DECORATOR = ('@numba.njit(cache=True, nogil=True, error_model="numpy", '
              'no_cpython_wrapper=True, no_cfunc_wrapper=True)')

# A node whose code has at least this many lines (a fused loop over arrays, a loop) is a
# function of the module rather than inline code (see _emit)
FUNCTION_LINES = 25
# ... and so is a smaller node whose code occurs more than once at the top level (the same
# update of many parameters): one function compiled once instead of copies in the kernel
SHARED_LINES = 8
_CALL = re.compile(r"\b([a-z]+_[0-9]+)\(")


class _Module:
    """The functions of the module being generated, shared by the nodes that render into it."""

    def __init__(self):
        self.functions: dict[str, str] = {}  # text after "def <name>" -> name
        self.repeated: set[str] = set()  # texts of top-level nodes that occur more than once
        self._texts: dict[int, tuple[str, int]] = {}  # id(node) -> _function_text(node)

    def text_of(self, node, n_inputs: int, n_data: int, has_data: bool) -> tuple[str, int]:
        """``_function_text`` of ``node``, rendered once."""
        found = self._texts.get(id(node))
        if found is None:
            found = _function_text(node, n_inputs, n_data, has_data)
            self._texts[id(node)] = found
        return found

    def calls_functions(self, text: str) -> bool:
        names = set(self.functions.values())
        return any(name in names for name in _CALL.findall(text))


_module: ContextVar[_Module | None] = ContextVar("symnet_numba_module", default=None)


def _node_lines(node, in_names: list[str], outs: list[str], data_names: list[str],
                has_data: bool) -> list[str]:
    """The source lines computing ``node``: its op's ``numba_lines`` or ``numba_impl``."""
    op = node.op
    if has_data:
        return op.numba_lines(node, in_names, outs, data_names)
    if hasattr(op, "numba_lines"):
        return op.numba_lines(node, in_names, outs)
    if hasattr(op, "numba_impl"):
        return [f"{', '.join(outs)} = {op.numba_impl(node, in_names)}"]
    raise MissingNumbaImplementation(
        f"numba backend: {op} has no numba_impl; use mode='python' or implement it"
    )


def _function_text(node, n_inputs: int, n_data: int, has_data: bool) -> tuple[str, int]:
    """``node``'s code as the parameters and body of a function of the module (inputs ``i<k>``,
    data ``d<k>``, returning the outputs as a tuple), and its number of lines. An op that
    splits its code into ``numba_checks`` (checks of its inputs, which may name them) and
    ``numba_body`` leaves the checks out: they run in the caller, so equal nodes reading
    differently named values share one function."""
    op = node.op
    params = [f"i{k}" for k in range(n_inputs)]
    data_params = [f"d{k}" for k in range(n_data)]
    results = [f"o{j}" for j in range(len(node.outputs))]
    if hasattr(op, "numba_body"):
        lines = op.numba_body(node, params, results, data_params)
    else:
        lines = _node_lines(node, params, results, data_params, has_data)
    text = "\n".join([f"({', '.join(params + data_params)}):",
                      *("    " + line for line in lines),
                      f"    return ({''.join(r + ', ' for r in results)})"])
    return text, len(lines)


def _emit(node, in_names: list[str], outs: list[str], data_names: list[str],
          has_data: bool) -> list[str]:
    """The lines computing ``node`` in the kernel or in an inner graph: inline code, or a call
    to a function of the module.

    Numba's passes over one function (SSA reconstruction, liveness, LLVM's optimisation and
    code generation) grow faster than linearly with its size, so large nodes compile much
    faster as functions of their own, and equal nodes (the same loop over two inputs) then
    share one function. But Numba links every function a function calls into it and
    optimises and emits them again there: a function calling functions of the module (a
    scan whose step calls its fused loops) costs their code once more, and pays only when
    equal nodes share it; alone it stays inline.
    """
    module = _module.get()
    if module is None:
        return _node_lines(node, in_names, outs, data_names, has_data)
    text, size = module.text_of(node, len(in_names), len(data_names), has_data)
    repeated = text in module.repeated
    if (size < FUNCTION_LINES and not (repeated and size >= SHARED_LINES)) or (
            module.calls_functions(text) and not repeated):
        return _node_lines(node, in_names, outs, data_names, has_data)
    name = module.functions.get(text)
    if name is None:
        name = f"{type(node.op).__name__.lower()}_{len(module.functions)}"
        module.functions[text] = name
    checks = node.op.numba_checks(node, in_names) if hasattr(node.op, "numba_body") else []
    call = f"{''.join(out + ', ' for out in outs)}= {name}({', '.join(in_names + data_names)})"
    return [*checks, call]


def generate_source(fgraph: FunctionGraph) -> tuple[str, list]:
    """The kernel module's text, and the values to pass after the inputs: graph constants
    (Constant) followed by arrays ops asked for (``Op.numba_data``)."""
    module = _Module()
    token = _module.set(module)
    try:
        return _generate(fgraph, module)
    finally:
        _module.reset(token)


def _generate(fgraph: FunctionGraph, module: _Module) -> tuple[str, list]:
    names: dict[int, str] = {}
    args: list[str] = []
    prologue: list[str] = []
    constants: list[Constant] = []
    extra_args: list = []
    body: list[str] = []
    order = fgraph.toposort()
    # loops that overwrite a shared value in place run after every other node (pass inplace)
    late = [node for node in order if late_node(node)]
    if late:
        order = [node for node in order if not late_node(node)] + late

    def add_argument(var, name: str) -> None:
        # 0-d values cross the kernel boundary as scalars (cheap to unbox), arrays inside
        names[id(var)] = name
        if var.ndim == 0:
            args.append(name + "s")
            prologue.append(f"{name} = np.asarray({name}s)")
        else:
            args.append(name)

    for i, var in enumerate(fgraph.inputs):
        add_argument(var, f"a{i}")

    def name_of(var) -> str:
        key = id(var)
        if key not in names:
            if isinstance(var, Constant):
                constants.append(var)
                add_argument(var, f"k{len(constants) - 1}")
            else:
                raise ValueError(f"numba backend: {var!r} is not an input of the graph")
        return names[key]

    datas = [node.op.numba_data(node) if hasattr(node.op, "numba_data") else [] for node in order]
    # which node texts occur more than once (see _emit)
    seen: set[str] = set()
    for node, data in zip(order, datas):
        text, size = module.text_of(node, len(node.inputs), len(data), len(data) > 0)
        if size >= SHARED_LINES:
            (module.repeated if text in seen else seen).add(text)

    for n, (node, data) in enumerate(zip(order, datas)):
        outs = [f"t{n}_{j}" if len(node.outputs) > 1 else f"t{n}" for j in range(len(node.outputs))]
        in_names = [name_of(inp) for inp in node.inputs]
        body.append(f"# {', '.join(outs)} = {_comment(node)}")
        data_names = []
        for j, value in enumerate(data):
            # arrays an op needs at run time travel as kernel arguments, like constants
            name = f"d{n}_{j}"
            data_names.append(name)
            extra_args.append((name, value))
        body.extend(_emit(node, in_names, outs, data_names, len(data) > 0))
        for out, var in zip(outs, node.outputs):
            names[id(var)] = out
    results = [name_of(v) + ("[()]" if v.ndim == 0 else "") for v in fgraph.outputs]
    for name, value in extra_args:
        args.append(name)
        constants.append(value)
    header = [
        "# Generated by symnet: one kernel for the whole graph.",
        "import numba",
        "import numpy as np",
        *(f"from symnet.ops import {f}" for f in _families()),
        "",
        "",
        *(line for text, name in module.functions.items()
          for line in (_DECORATOR, f"def {name}{text}", "", "")),
        _KERNEL_DECORATOR,
        f"def kernel({', '.join(args)}):",
    ]
    lines = header + ["    " + line for line in prologue + body]
    lines.append("    return (" + "".join(f"{r}, " for r in results) + ")")
    return "\n".join(lines) + "\n", constants


def render_inner(fgraph, input_names: list[str], prefix: str) -> tuple[list[str], list[str], list]:
    """Source lines computing an op's inner graph (a scan step, an ifelse branch) inside the
    kernel of the graph that holds the op, one line (or fused loop) per node as above.

    ``input_names`` name ``fgraph.inputs`` in the generated code; every name the lines assign
    starts with ``prefix``. Returns ``(lines, output_names, data)``: ``data`` lists the
    ``(name, value)`` pairs the lines read but do not assign (the inner graph's constants and
    the arrays its ops ask for through ``numba_data``). The module holds no data, so the op
    returns those values from its own ``numba_data`` and binds each name to its argument.
    """
    names: dict[int, str] = {id(v): n for v, n in zip(fgraph.inputs, input_names)}
    data: list = []
    lines: list[str] = []

    def name_of(var) -> str:
        key = id(var)
        if key not in names:
            if not isinstance(var, Constant):
                raise ValueError(f"numba backend: {var!r} is not an input of the inner graph")
            name = f"{prefix}k{len(data)}"
            data.append((name, np.array(var.data)))  # a writable copy, like outer constants
            names[key] = name
        return names[key]

    for n, node in enumerate(fgraph.toposort()):
        op = node.op
        outs = [f"{prefix}t{n}_{j}" if len(node.outputs) > 1 else f"{prefix}t{n}"
                for j in range(len(node.outputs))]
        in_names = [name_of(inp) for inp in node.inputs]
        lines.append(f"# {', '.join(outs)} = {_comment(node)}")
        node_data = op.numba_data(node) if hasattr(op, "numba_data") else []
        data_names = [f"{prefix}d{n}_{j}" for j in range(len(node_data))]
        data.extend(zip(data_names, node_data))
        lines.extend(_emit(node, in_names, outs, data_names, len(node_data) > 0))
        for out, var in zip(outs, node.outputs):
            names[id(var)] = out
    return lines, [name_of(v) for v in fgraph.outputs], data


def _tolerate_broken_caches(kernel) -> None:
    """A broken Numba cache file of a function of the kernel's module is a miss, as the
    kernel's own is (:func:`symnet.ops.kernel.tolerate_broken_cache`): compiling the kernel
    again loads the functions it calls from the same directory."""
    module = kernel.py_func.__module__
    for value in list(kernel.py_func.__globals__.values()):
        if (isinstance(value, Dispatcher) and value is not kernel
                and value.py_func.__module__ == module
                and not getattr(value, "_symnet_tolerant", False)):
            tolerate_broken_cache(value)
            value._symnet_tolerant = True


class NumbaKernel:
    """The compiled kernel plus how to call it: which arguments and results are scalars."""

    def __init__(self, fgraph: FunctionGraph):
        self.source, constants = generate_source(fgraph)
        self.dispatcher = load_kernel(self.source)
        _tolerate_broken_caches(self.dispatcher)
        # 0-d constants go in as scalars; arrays as writable copies (Numba types read-only
        # arrays differently, and the kernel never writes its arguments)
        self.const_values = [
            (c.data[()] if c.ndim == 0 else np.array(c.data)) if isinstance(c, Constant) else c
            for c in constants
        ]
        self.scalar_inputs = [v.ndim == 0 for v in fgraph.inputs]
        self.output_dtypes = [np.dtype(v.dtype) for v in fgraph.outputs]
        self.scalar_outputs = [v.ndim == 0 for v in fgraph.outputs]

    @property
    def module_path(self) -> str:
        return self.dispatcher.py_func.__globals__["__file__"]

    @property
    def module_name(self) -> str:
        return self.dispatcher.py_func.__module__

    def signature(self, fgraph: FunctionGraph, shared_values: list) -> tuple:
        """The Numba types of the arguments the call path passes: user inputs (C-contiguous
        arrays, scalars unboxed), then the shared values read (as they are), then constants."""
        from numba import from_dtype, typeof
        from numba.core import types

        n_user = len(fgraph.inputs) - len(shared_values)
        sig = []
        for var in fgraph.inputs[:n_user]:
            dtype = from_dtype(np.dtype(var.dtype))
            sig.append(dtype if var.ndim == 0 else types.Array(dtype, var.ndim, "C"))
        for value in shared_values:
            sig.append(typeof(value[()] if value.ndim == 0 else value))
        sig.extend(typeof(value) for value in self.const_values)
        return tuple(sig)

    def load_cached(self, signature: tuple) -> bool:
        """Make the kernel for ``signature`` ready if it is compiled in this process or in
        Numba's disk cache (without compiling); True if it is then ready."""
        from numba.core.compiler_lock import global_compiler_lock

        dispatcher = self.dispatcher
        if signature in dispatcher.overloads:
            return True
        with global_compiler_lock:
            if signature in dispatcher.overloads:
                return True
            # what Dispatcher.compile does before compiling
            result = dispatcher._cache.load_overload(signature, dispatcher.targetctx)
            if result is None:
                return False
            dispatcher._cache_hits[signature] += 1
            if not result.objectmode:
                dispatcher.targetctx.insert_user_function(result.entry_point, result.fndesc,
                                                          [result.library])
            dispatcher.add_overload(result)
            return True

    def compile(self, signature: tuple) -> None:
        """Compile (or load) the kernel for ``signature`` in this process."""
        self.dispatcher.compile(signature)

    def __call__(self, values):
        """Run on input arrays (fgraph.inputs order); returns ndarrays."""
        # one memory layout (C order) for every array argument: one kernel specialisation
        args = [v[()] if scalar else v if v.flags.c_contiguous else np.ascontiguousarray(v)
                for v, scalar in zip(values, self.scalar_inputs)]
        results = self.dispatcher(*args, *self.const_values)
        return [np.asarray(r, dtype) if scalar else r
                for r, dtype, scalar in zip(results, self.output_dtypes, self.scalar_outputs)]


def compile_numba(fgraph: FunctionGraph):
    """Return (kernel, source) for ``fgraph``."""
    tune_malloc()
    kernel = NumbaKernel(fgraph)
    return kernel, kernel.source
