"""Tests for symnet/printing.py: pp (one line, fully parenthesised) and debugprint."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T

x, y, w = T.dscalars("x", "y", "w")
v = T.dvector("v")
m = T.dmatrix("m")

# --- pp ----------------------------------------------------------------------------------------

PP = [
    (lambda: x + y, "(x + y)"),
    (lambda: (x + y) * w, "((x + y) * w)"),
    (lambda: x + y * w, "(x + (y * w))"),
    (lambda: 1 / (1 + T.exp(-x)), "(1 / (1 + exp(-x)))"),
    (lambda: x - y - w, "((x - y) - w)"),
    (lambda: x - (y - w), "(x - (y - w))"),
    (lambda: x / y, "(x / y)"),
    (lambda: x // y, "(x // y)"),
    (lambda: x % y, "(x % y)"),
    (lambda: x ** 2, "(x ** 2)"),
    (lambda: 2 ** x, "(2 ** x)"),
    (lambda: -x, "-x"),
    (lambda: -(x + y), "-(x + y)"),
    (lambda: -T.exp(x), "-exp(x)"),
    (lambda: x * -y, "(x * -y)"),
    (lambda: x < y, "(x < y)"),
    (lambda: x >= y, "(x >= y)"),
    (lambda: (x < y) & (y < w), "((x < y) & (y < w))"),
    (lambda: ~(x < y), "~(x < y)"),
    (lambda: T.exp(x), "exp(x)"),
    (lambda: T.log(T.exp(x) + 1), "log((exp(x) + 1))"),
    (lambda: T.sin(x) * T.cos(y), "(sin(x) * cos(y))"),
    (lambda: T.maximum(x, y), "maximum(x, y)"),
    (lambda: T.eq(x, y), "eq(x, y)"),
    (lambda: abs(x), "abs(x)"),
    (lambda: T.sigmoid(x), "sigmoid(x)"),
    (lambda: T.round_(x), "round_(x)"),
    (lambda: T.switch(x < 0, x, 0), "switch((x < 0), x, 0)"),
    (lambda: T.relu(x), "switch((x > 0), x, 0)"),
    (lambda: T.cast(x, "int32"), "cast{int32}(x)"),
    (lambda: x * 2.5, "(x * 2.5)"),
    (lambda: x * 0.1, "(x * 0.1)"),
    (lambda: T.fscalar("f") * 0.1, "(f * 0.1)"),
    (lambda: x + 1.0, "(x + 1)"),
    (lambda: x + 10**20, "(x + 1e+20)"),
    (lambda: x * np.inf, "(x * inf)"),
    (lambda: T.ivector("i") + 3, "(i + 3)"),
    (lambda: v + 1, "(v + 1)"),
    (lambda: m * v, "(m * v)"),
    (lambda: m + np.array([1.0, 2.0]), "(m + [1., 2.])"),
    (lambda: x * T.constant(2.0, name="two"), "(x * two)"),
    (lambda: T.sum(m, axis=1), "sum(m, axis=1)"),
]


@pytest.mark.parametrize("build, expected", PP, ids=[e for _, e in PP])
def test_pp(build, expected):
    assert sn.pp(build()) == expected


def test_pp_of_leaves():
    assert sn.pp(x) == "x"
    assert sn.pp(T.constant(2.0)) == "2"
    assert sn.pp(T.constant([1, 2])) == "[1, 2]"
    assert sn.pp(T.dvector()) == "<float64(?)>"
    assert sn.pp(sn.shared(np.zeros(2), name="W")) == "W"
    assert sn.pp(sn.shared(np.zeros(2)) * 2) == "(<shared float64(?)> * 2)"
    assert "shape=(10, 10)" in sn.pp(T.constant(np.zeros((10, 10))))


def test_pp_named_intermediate_variables():
    h = x + y
    h.name = "h"
    assert sn.pp(h * w) == "(h * w)"
    assert sn.pp(T.exp(h) / h) == "(exp(h) / h)"
    assert sn.pp(h) == "(x + y)"  # the variable itself is expanded


def test_pp_repeated_subexpression_is_written_out():
    h = x + y
    assert sn.pp(h * h) == "((x + y) * (x + y))"


def test_pp_of_gradient():
    g = sn.grad(x * x, x)
    text = sn.pp(g)
    assert "x" in text and "\n" not in text


def test_pp_of_lists_and_functions():
    assert sn.pp([x + y, x * y]) == "[(x + y), (x * y)]"
    f = sn.function([x, y], (x + y) * 2, mode="python")
    assert "(x + y)" in sn.pp(f)


def test_pp_max_length():
    deep = x
    for _ in range(10):
        deep = deep + y
    text = sn.pp(deep, max_length=20)
    assert len(text) <= 20 and text.endswith("...")


def test_pp_rejects_non_variables():
    with pytest.raises(TypeError, match="pp expects a symbolic variable"):
        sn.pp(3.0)


def test_pp_of_deep_graph_does_not_recurse():
    out = x
    for _ in range(5000):
        out = out * 1.5
    assert sn.pp(out, max_length=50).startswith("(")


def test_repr_of_variables_is_pp():
    assert repr(x + y) == "(x + y)"
    assert str(x) == "x"


# --- debugprint ----------------------------------------------------------------------------------


def _lines(text):
    return text.splitlines()


def test_debugprint_format_and_return_value(capsys):
    z = (x + y) * w
    text = sn.debugprint(z)
    printed = capsys.readouterr().out
    assert printed.rstrip("\n") == text
    assert _lines(text) == [
        "Elemwise{mul} A float64()",
        " | Elemwise{add} B float64()",
        " | | input C float64() 'x'",
        " | | input D float64() 'y'",
        " | input E float64() 'w'",
    ]


def test_debugprint_one_node_per_line_indented_by_depth():
    z = T.exp(T.sin(x) + y)
    lines = _lines(sn.debugprint(z, file=io.StringIO()))
    depths = [len(re.match(r"^( \|)*", line).group(0)) // 2 for line in lines]
    assert depths == [0, 1, 2, 3, 2]
    assert lines[0].startswith("Elemwise{exp}")
    assert lines[2].startswith(" | | Elemwise{sin}")


def test_debugprint_marks_repeated_nodes():
    h = x + y
    h.name = "h"
    z = h * h
    lines = _lines(sn.debugprint(z, file=io.StringIO()))
    assert lines[1] == " | Elemwise{add} B float64() 'h'"
    assert lines[-1] == " | *** B"
    assert sum("Elemwise{add}" in line for line in lines) == 1


def test_debugprint_repeats_across_outputs():
    h = x + y
    text = sn.debugprint([h * w, h], file=io.StringIO())
    lines = _lines(text)
    assert lines[0].startswith("Elemwise{mul} A")
    assert lines[-1] == "*** B"


def test_debugprint_shows_constants_shared_and_types():
    s = sn.shared(np.zeros((2, 3), dtype="float32"), name="W")
    out = s * 2
    lines = _lines(sn.debugprint(out, file=io.StringIO()))
    assert lines[0].startswith("Elemwise{mul} A float32(?, ?)")
    assert any(line.strip(" |").startswith("shared") and "'W'" in line for line in lines)
    assert any(re.match(r"^ \| \[\[2\.\]\] [A-Z]+ float32\(1, 1\)$", line) for line in lines)


def test_debugprint_without_types():
    lines = _lines(sn.debugprint(x + y, file=io.StringIO(), print_type=False))
    assert lines == ["Elemwise{add} A", " | input B 'x'", " | input C 'y'"]


def test_debugprint_of_a_function_shows_the_compiled_graph():
    f = sn.function([x, y], (x + y) * 2, mode="python")
    text = sn.debugprint(f, file=io.StringIO())
    assert "Elemwise{add}" in text and "'x'" in text


def test_debugprint_short_ids_go_past_z():
    out = x
    for _ in range(30):
        out = out + 1.0
    lines = _lines(sn.debugprint(out, file=io.StringIO()))
    ids = [line.strip(" |").split()[1] for line in lines if not line.strip(" |").startswith("***")]
    assert "Z" in ids and "AA" in ids
    assert len(set(ids)) == len(ids)


def test_debugprint_deep_graph_does_not_recurse():
    out = x
    for _ in range(3000):
        out = out + 1.0
    text = sn.debugprint(out, file=io.StringIO())
    assert len(_lines(text)) == 6001
