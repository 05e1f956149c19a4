"""Fixtures shared by the nn tests."""

import pytest

from symnet.compiler import function as function_module


@pytest.fixture
def count_builds(monkeypatch):
    """The function graphs function() compiles a kernel for from here on (a list that grows)."""
    built = []
    original = function_module.compile_numba

    def counting(fgraph):
        built.append(fgraph)
        return original(fgraph)

    monkeypatch.setattr(function_module, "compile_numba", counting)
    return built
