"""f.explain() / debugprint(f, rewrites=True): rewrites fired, node counts and time per pass."""

import io

import symnet as sn
import symnet.tensor as T
from symnet.compiler.rewrite.passes import PASS_ORDER


def test_explain_reports_every_pass_the_rewrites_and_the_final_graph():
    x = T.dvector("x")
    f = sn.function([x], T.log(1 + T.exp(x)) * 2 - 1)
    text = f.explain(print_=False)
    lines = text.splitlines()
    for name in PASS_ORDER:
        assert any(line.startswith(name) for line in lines), name
    stabilize = next(line for line in lines if line.startswith("stabilize"))
    assert "local_log1p x1" in stabilize
    assert "5 -> 4" in stabilize  # node counts before and after the pass
    assert "final graph:" in text and "Fused{" in text
    assert f.report.passes[0].seconds >= 0.0


def test_debugprint_with_rewrites_includes_the_report():
    x = T.dvector("x")
    f = sn.function([x], T.exp(x) - 1)
    buf = io.StringIO()
    text = sn.debugprint(f, rewrites=True, file=buf)
    assert "local_expm1" in text
    assert buf.getvalue().strip() == text.strip()


def test_excluded_rewrite_does_not_fire():
    x = T.dvector("x")
    f = sn.function([x], T.log(1 + x), exclude=["local_log1p"])
    assert "local_log1p" not in f.explain(print_=False)
    assert any(getattr(n.op, "program", None) and any(s[0].name == "log" for s in n.op.program)
               for n in f.fgraph.toposort())
