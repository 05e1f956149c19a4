"""symnet/runtime/ imports nothing from the compiler or the op families (only NumPy, Numba,
SciPy, symnet.config and itself), so that the modules a generated kernel imports at run time
never form an import cycle with the code that generates it."""

import ast
import pathlib

import pytest

RUNTIME = pathlib.Path(__file__).resolve().parents[2] / "symnet" / "runtime"


def _symnet_imports(path: pathlib.Path) -> list[str]:
    """The symnet modules ``path`` imports, at module level or inside functions."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "symnet":
                names.extend(f"symnet.{alias.name}" for alias in node.names)
            else:
                names.append(node.module)
    return [name for name in names if name == "symnet" or name.startswith("symnet.")]


@pytest.mark.parametrize("path", sorted(RUNTIME.glob("*.py")), ids=lambda p: p.name)
def test_runtime_imports_only_config_and_itself(path):
    bad = [name for name in _symnet_imports(path)
           if name != "symnet.config" and name != "symnet.runtime"
           and not name.startswith("symnet.runtime.")]
    assert not bad, f"{path.name} imports {bad}"
