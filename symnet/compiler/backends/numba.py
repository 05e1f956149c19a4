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
from numba import from_dtype, typeof
from numba.core import types
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher

from symnet.compiler import inner
from symnet.runtime.allocator import tune_malloc
from symnet.compiler.cache import load_kernel
from symnet.compiler.callpath import Runner
from symnet.compiler.fgraph import FunctionGraph
from symnet.compiler.rewrite.inplace import late_node
from symnet.graph import Constant, MissingNumbaImplementation  # noqa: F401 - raised by Op
from symnet.runtime.kernel import FAMILIES, tolerate_broken_cache

#: the modules of :mod:`symnet.runtime` that generated code calls by name (templates of scalar
#: rules call ``vmath``; the vector machine's lines call ``elemvm``)
RUNTIME_MODULES = ("vmath", "elemvm")


def import_lines() -> list[str]:
    """The imports at the top of a generated module: numba, numpy, the op families and the
    runtime modules its lines call."""
    return ["import numba", "import numpy as np",
            *(f"from symnet.ops import {m.rsplit('.', 1)[1]}" for m in sorted(FAMILIES)),
            *(f"from symnet.runtime import {m}" for m in RUNTIME_MODULES)]


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

    def text_of(self, node, n_inputs: int, n_data: int) -> tuple[str, int]:
        """``_function_text`` of ``node``, rendered once."""
        found = self._texts.get(id(node))
        if found is None:
            found = _function_text(node, n_inputs, n_data)
            self._texts[id(node)] = found
        return found

    def calls_functions(self, text: str) -> bool:
        names = set(self.functions.values())
        return any(name in names for name in _CALL.findall(text))


_module: ContextVar[_Module | None] = ContextVar("symnet_numba_module", default=None)


def _code(op):
    """What gives ``op``'s code (``numba_lines``, ``numba_data``, ...): the op itself, or for an
    op holding inner graphs (scan, ifelse) its rendering by :mod:`symnet.compiler.inner`, which
    renders the inner graphs with :func:`render_inner`."""
    if op.inner_graphs():
        return inner.numba_rendering(op, render_inner)
    return op


def node_data(node) -> list:
    """The values ``node``'s code reads at run time, passed as kernel arguments
    (``numba_data``)."""
    return _code(node.op).numba_data(node)


def _function_text(node, n_inputs: int, n_data: int) -> tuple[str, int]:
    """``node``'s code as the parameters and body of a function of the module (inputs ``i<k>``,
    data ``d<k>``, returning the outputs as a tuple), and its number of lines. An op that
    splits its code into ``numba_checks`` (checks of its inputs, which may name them) and
    ``numba_body`` leaves the checks out: they run in the caller, so equal nodes reading
    differently named values share one function."""
    op = _code(node.op)
    params = [f"i{k}" for k in range(n_inputs)]
    data_params = [f"d{k}" for k in range(n_data)]
    results = [f"o{j}" for j in range(len(node.outputs))]
    lines = op.numba_body(node, params, results, data_params)
    text = "\n".join([f"({', '.join(params + data_params)}):",
                      *("    " + line for line in lines),
                      f"    return ({''.join(r + ', ' for r in results)})"])
    return text, len(lines)


def _emit(node, in_names: list[str], outs: list[str], data_names: list[str]) -> list[str]:
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
        return _code(node.op).numba_lines(node, in_names, outs, data_names)
    text, size = module.text_of(node, len(in_names), len(data_names))
    repeated = text in module.repeated
    if (size < FUNCTION_LINES and not (repeated and size >= SHARED_LINES)) or (
            module.calls_functions(text) and not repeated):
        return _code(node.op).numba_lines(node, in_names, outs, data_names)
    name = module.functions.get(text)
    if name is None:
        name = f"{type(node.op).__name__.lower()}_{len(module.functions)}"
        module.functions[text] = name
    checks = _code(node.op).numba_checks(node, in_names)
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

    datas = [node_data(node) for node in order]
    # which node texts occur more than once (see _emit)
    seen: set[str] = set()
    for node, data in zip(order, datas):
        text, size = module.text_of(node, len(node.inputs), len(data))
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
        body.extend(_emit(node, in_names, outs, data_names))
        for out, var in zip(outs, node.outputs):
            names[id(var)] = out
    results = [name_of(v) + ("[()]" if v.ndim == 0 else "") for v in fgraph.outputs]
    for name, value in extra_args:
        args.append(name)
        constants.append(value)
    header = [
        "# Generated by symnet: one kernel for the whole graph.",
        *import_lines(),
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
    holding the inner graph returns those values from its ``numba_data`` and binds each name
    to its argument (:mod:`symnet.compiler.inner`).
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
        outs = [f"{prefix}t{n}_{j}" if len(node.outputs) > 1 else f"{prefix}t{n}"
                for j in range(len(node.outputs))]
        in_names = [name_of(inp) for inp in node.inputs]
        lines.append(f"# {', '.join(outs)} = {_comment(node)}")
        values = node_data(node)
        data_names = [f"{prefix}d{n}_{j}" for j in range(len(values))]
        data.extend(zip(data_names, values))
        lines.extend(_emit(node, in_names, outs, data_names))
        for out, var in zip(outs, node.outputs):
            names[id(var)] = out
    return lines, [name_of(v) for v in fgraph.outputs], data


def _tolerate_broken_caches(kernel) -> None:
    """A broken Numba cache file of a function of the kernel's module is a miss, as the
    kernel's own is (:func:`symnet.runtime.kernel.tolerate_broken_cache`): compiling the kernel
    again loads the functions it calls from the same directory."""
    module = kernel.py_func.__module__
    for value in list(kernel.py_func.__globals__.values()):
        if (isinstance(value, Dispatcher) and value is not kernel
                and value.py_func.__module__ == module
                and not getattr(value, "_symnet_tolerant", False)):
            tolerate_broken_cache(value)
            value._symnet_tolerant = True


class NumbaKernel:
    """The compiled kernel: its module's source, its dispatcher and the constants it takes."""

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

    @property
    def runner(self) -> Runner:
        """How the call path calls the kernel: 0-d values unboxed, the constants last, 0-d
        outputs back as scalars."""
        return Runner(entry=self.dispatcher, extra=tuple(self.const_values), unbox_scalars=True,
                      typed_results=True)

    @property
    def module_path(self) -> str:
        return self.dispatcher.py_func.__globals__["__file__"]

    @property
    def module_name(self) -> str:
        return self.dispatcher.py_func.__module__

    def signature(self, fgraph: FunctionGraph, shared_values: list) -> tuple:
        """The Numba types of the arguments the call path passes: user inputs (C-contiguous
        arrays, scalars unboxed), then the shared values read (as they are), then constants."""
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


def compile_numba(fgraph: FunctionGraph):
    """Return (kernel, source) for ``fgraph``."""
    tune_malloc()
    kernel = NumbaKernel(fgraph)
    return kernel, kernel.source
