"""The layers of symnet, read from its source: no import cycle, no import of a layer above.

The module import graph is built from the module-level imports of every file under symnet/
(``import a.b``, ``from a import b``, relative forms; ``from pkg import name`` counts as an
import of the submodule ``pkg.name`` when there is one, else of ``pkg``). The layers, bottom
up (docs/architecture.md draws them):

    settings  symnet.config
    runtime   symnet.runtime.*         what generated kernel modules import at run time
    core      symnet.graph, symnet.shared
    ops       symnet.ops.*             op families; each imports core, the runtime, and
                                       families below it (other families' functions through
                                       the core's function table)
    namespace symnet.tensor, symnet.printing
    grad      symnet.grad
    compiler  symnet.compiler.*
    nn        symnet.nn.*
    top       symnet (the package), symnet.warmup_run

A module may import its own layer (acyclically) and the layers below. Imports inside
functions are allowed only for modules outside symnet, each with a comment saying why it is
deferred (an optional dependency, or a cost paid only by the code that needs it).
"""

from __future__ import annotations

import ast
import pathlib

import networkx as nx

ROOT = pathlib.Path(__file__).resolve().parent.parent / "symnet"

LAYERS = ["settings", "runtime", "core", "ops", "namespace", "grad", "compiler", "nn", "top"]


def layer_of(module: str) -> str:
    if module == "symnet.config":
        return "settings"
    if module.startswith("symnet.runtime"):
        return "runtime"
    if module in ("symnet.graph", "symnet.shared"):
        return "core"
    if module.startswith("symnet.ops"):
        return "ops"
    if module in ("symnet.tensor", "symnet.printing"):
        return "namespace"
    if module == "symnet.grad":
        return "grad"
    if module.startswith("symnet.compiler"):
        return "compiler"
    if module.startswith("symnet.nn"):
        return "nn"
    if module in ("symnet", "symnet.warmup_run"):
        return "top"
    raise AssertionError(f"{module} is in no layer: add it to layer_of and to the docstring")


def _modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every module of the package at ``root``."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules(ROOT)


def _targets(module: str, node, modules: dict) -> list[str]:
    """The modules of ``modules`` an import statement of ``module`` loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            package = module if modules[module].name == "__init__.py" else module.rsplit(".", 1)[0]
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module
        subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
        plain = len(subs) < len(node.names)
        names = subs + ([target] if plain else [])
    out = []
    for name in names:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in modules and name != module:
            out.append(name)
    return out


def _module_level_imports(tree: ast.Module):
    """Import statements that run when the module is loaded (also under if/try blocks)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            stack.extend(ast.iter_child_nodes(node))
        elif isinstance(node, (ast.ExceptHandler,)):
            stack.extend(node.body)


def _function_level_imports(tree: ast.Module):
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def import_graph(modules: dict = MODULES) -> nx.DiGraph:
    """Module -> module for each module-level import, with the line of the import."""
    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module)
        for node in _module_level_imports(ast.parse(path.read_text())):
            for target in _targets(module, node, modules):
                graph.add_edge(module, target, line=node.lineno)
    return graph


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_module_imports_form_no_cycle():
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for a, b, data in import_graph().edges(data=True):
        if LAYERS.index(layer_of(b)) > LAYERS.index(layer_of(a)):
            upward.append(f"{a}:{data['line']} ({layer_of(a)}) imports {b} ({layer_of(b)})")
    assert not upward, "\n".join(upward)


def test_imports_inside_functions_are_outside_symnet_and_say_why():
    bad = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node in _function_level_imports(ast.parse("\n".join(lines))):
            text = lines[node.lineno - 1]
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                "." * node.level + (node.module or "")]
            if any(n.startswith((".", "symnet")) for n in names):
                bad.append(f"{module}:{node.lineno}: {text.strip()} (a symnet module)")
            elif "#" not in text and "#" not in lines[node.lineno - 2]:
                bad.append(f"{module}:{node.lineno}: {text.strip()} (no comment saying why)")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_cycles_and_upward_imports(tmp_path):
    """The checks above can fail: a made-up package with a cycle, an upward import and an
    import inside a function."""
    pkg = tmp_path / "symnet"
    (pkg / "ops").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "graph.py").write_text("from symnet.ops import a\n")
    (pkg / "ops" / "__init__.py").write_text("")
    (pkg / "ops" / "a.py").write_text("import symnet.ops.b\n")
    (pkg / "ops" / "b.py").write_text("from . import a\n\n\ndef f():\n    import symnet.graph\n")
    graph = import_graph(_modules(pkg))
    assert {"symnet.ops.a", "symnet.ops.b"} in [set(c) for c in
                                                 nx.strongly_connected_components(graph)]
    assert graph.has_edge("symnet.graph", "symnet.ops.a")
    assert LAYERS.index(layer_of("symnet.ops.a")) > LAYERS.index(layer_of("symnet.graph"))
    assert not graph.has_edge("symnet.ops.b", "symnet.graph")  # inside a function: not here
    assert len(list(_function_level_imports(ast.parse((pkg / "ops" / "b.py").read_text())))) == 1
