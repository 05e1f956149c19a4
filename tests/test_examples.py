"""The example programs run (in-process) and print the numbers they promise."""

from __future__ import annotations

import itertools
import pathlib
import re
import runpy
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> dict:
    """The example's module namespace (its ``__main__`` block does not run)."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def _numbers(text: str) -> list[float]:
    return [float(s) for s in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", text)]


def test_theano_basics(mode, capsys):
    _load("theano_basics")["main"](mode)
    out = capsys.readouterr().out
    assert "f(2, 3) = 5.0" in out
    assert "f(16.3, 12.1) = 28.4" in out
    assert "pp(z) = (x + y)" in out
    assert "pp(s) = (1 / (1 + exp(-x)))" in out
    assert "f(23, 2) = 50.0" in out
    assert "f(23, 2, weight=4) = 100.0" in out
    assert "f(33) = 68.0" in out
    assert "returns 0 ; state is now 1" in out and "returns 1 ; state is now 301" in out
    assert "at 4 = 8.0" in out

    def block(title):
        """The printed array after a line starting with ``title``."""
        lines = out.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
        rows = []
        for line in lines[start:]:
            if not line.startswith((" [", "[")):
                break
            rows.append(_numbers(line.replace(".]", ".0]").replace(". ", ".0 ")))
        return np.array(rows)

    np.testing.assert_allclose(block("matrix addition"), [[11, 22], [33, 44]])
    logistic = 1 / (1 + np.exp(-np.array([[0.0, 1.0], [2.0, 3.0]])))
    np.testing.assert_allclose(block("logistic on [[0, 1], [2, 3]]"), logistic, rtol=1e-7)
    np.testing.assert_allclose(block("tanh form on [[0, 1], [2, 3]]"), logistic, rtol=1e-7)
    np.testing.assert_allclose(block("diff ="), [[1, 0], [-1, -2]])
    np.testing.assert_allclose(block("abs_diff ="), [[1, 0], [1, 2]])
    np.testing.assert_allclose(block("diff_squared ="), [[1, 0], [1, 4]])


def test_theano_basics_as_a_script(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["theano_basics.py", "--mode", "python"])
    runpy.run_path(str(EXAMPLES / "theano_basics.py"), run_name="__main__")
    assert "f(23, 2, weight=4) = 100.0" in capsys.readouterr().out


def test_scan_tutorial(mode, capsys):
    differences = _load("scan_tutorial")["main"](mode)
    out = capsys.readouterr().out
    assert list(differences) == ["power", "polynomial", "cumulative_sum", "tanh_rnn",
                                 "jacobian_and_hessian"]
    assert max(differences.values()) < 1e-12, differences
    lines = out.splitlines()
    assert lines[lines.index("                 the last step only =") + 1] == (
        "[ 0.  1.  4.  9. 16. 25. 36. 49. 64. 81.]")
    assert lines[lines.index("polynomial       1 + 0 x + 2 x ** 2 at x = 3 =") + 1] == "19.0"
    assert "[ 1.  3.  6. 10. 15. 21. 28. 36. 45. 55.]" in lines
    assert "tanh RNN         50 steps, 3 inputs, 4 units" in lines
    assert out.count("max |difference| from NumPy = ") == 9
    assert "largest difference from NumPy over all programs: " in lines[-1]


def test_scan_tutorial_as_a_script(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["scan_tutorial.py", "--mode", "python"])
    runpy.run_path(str(EXAMPLES / "scan_tutorial.py"), run_name="__main__")
    assert "hessian          of sum(x ** 2) =" in capsys.readouterr().out


def test_beans_data():
    beans = _load("beans")
    xs, ys = beans["get_beans"](200, seed=3)
    assert xs.shape == ys.shape == (200,)
    assert np.all(np.diff(xs) >= 0) and xs.min() >= 0 and xs.max() < 2
    assert set(np.unique(ys)) == {0.0, 1.0}
    # toxic beans are the middle-sized ones
    assert ys[xs < 0.2].sum() == 0 and ys[xs > 1.6].sum() == 0 and ys[(xs > 0.6) & (xs < 1.1)].all()
    again, _ = beans["get_beans"](200, seed=3)
    np.testing.assert_array_equal(xs, again)


def test_beans_hand_gradients_match_finite_differences():
    beans = _load("beans")
    xs, ys = beans["get_beans"](20, seed=1)
    rng = np.random.default_rng(0)
    params = [rng.normal(size=2), rng.normal(size=2), rng.normal(size=2), np.asarray(0.3)]

    def loss(ps):
        h = beans["sigmoid"](np.outer(xs, ps[0]) + ps[1])
        a = beans["sigmoid"](h @ ps[2] + ps[3])
        return np.mean((ys - a) ** 2)

    grads = beans["hand_gradients"](xs, ys, *params)
    eps = 1e-6
    for k, p in enumerate(params):
        for j in range(p.size):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[k].reshape(-1)[j] += eps
            minus[k].reshape(-1)[j] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            assert grads[k].reshape(-1)[j] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_beans_training(mode, capsys):
    result = _load("beans")["main"](epochs=300, mode=mode)
    out = capsys.readouterr().out
    assert result["grad_max_diff"] < 1e-10
    assert re.search(r"max \|difference\| = \d\.\d+e-\d+", out)
    losses = result["losses"]
    assert len(losses) == 300
    assert losses[-1] < 0.5 * losses[0]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(losses[:50]))
    assert "epoch     0" in out and "epoch   299" in out and "accuracy" in out


def test_beans_reaches_good_accuracy(capsys):
    result = _load("beans")["main"](epochs=3000, report_every=1000)
    assert result["accuracy"] >= 0.9 > result["chance"]
    assert result["losses"][-1] < 0.05


def test_beans_plot(tmp_path, capsys):
    beans = _load("beans")
    path = tmp_path / "beans.png"
    result = beans["main"](epochs=5, plot=str(path), mode="python")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not result["plotted"] and not path.exists()  # skipped quietly
        assert "plot" not in capsys.readouterr().out
    else:
        assert result["plotted"] and path.stat().st_size > 0
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_digits_cnn(tmp_path, monkeypatch, capsys):
    """The CNN example reaches its accuracy floor and writes its plot (when it can)."""
    monkeypatch.chdir(tmp_path)
    history, accuracy = _load("digits_cnn")["main"](plot=True, verbose=0)
    assert accuracy >= 0.95
    assert len(history.history["val_accuracy"]) == 20
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)
    out = capsys.readouterr().out
    assert re.search(r"held-out loss \d\.\d{4}, accuracy 0\.9\d{3}", out)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot" in out and not (tmp_path / "digits_cnn.png").exists()
    else:
        assert (tmp_path / "digits_cnn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lr_schedule(tmp_path, monkeypatch, capsys):
    """The schedule example learns the digits, and its plateau phase lowers the rate."""
    monkeypatch.chdir(tmp_path)
    history, second, accuracy = _load("lr_schedule")["main"](epochs=12, plot=True, verbose=0)
    assert accuracy >= 0.95
    rates = second.history["learning_rate"]
    assert rates[0] == pytest.approx(0.05) and min(rates) < 0.05  # the plateau divided it
    assert all(b <= a for a, b in zip(rates, rates[1:]))
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    out = capsys.readouterr().out
    assert re.search(r"after the plateau phase: held-out loss \d\.\d{4}, accuracy 0\.9\d{3}", out)
