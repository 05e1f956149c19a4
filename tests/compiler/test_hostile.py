"""Hostile inputs: every case must end in a clear exception (TypeError/ValueError/IndexError
whose message names the input or the op) or in NumPy's answer, and never modify the caller's
arrays.

All cases run in ONE subprocess (so a segfault fails the cases it reached, it does not take
pytest down), in both backends, sharing a few compiled functions; the subprocess prints one
JSON line per (case, mode). Each case is then its own pytest test reading that result.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODES = ("numba", "python")
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# --- helpers run inside the subprocess ------------------------------------------------------------

_functions = {}


def compiled(key, mode):
    """One compiled function per (key, mode), shared by the cases."""
    import symnet as sn
    import symnet.tensor as T

    if (key, mode) in _functions:
        return _functions[key, mode]
    if key == "mul_add":
        x, y = T.dmatrices("x", "y")
        f = sn.function([x, y], x * y + 1.0, mode=mode)
    elif key == "f32":
        x = T.fvector("x")
        f = sn.function([x], T.exp(x) * 2, mode=mode)
    elif key == "int":
        i = T.lvector("i")
        f = sn.function([i], i * 2, mode=mode)
    elif key == "index":
        x, i = T.dvector("x"), T.lscalar("i")
        f = sn.function([x, i], x[i] * 1.0, mode=mode)
    elif key == "take":
        x, idx = T.dmatrix("x"), T.lvector("idx")
        f = sn.function([x, idx], x[idx], mode=mode)
    elif key == "inc":
        x, idx = T.dvector("x"), T.lvector("idx")
        f = sn.function([x, idx], T.inc_subtensor(x[idx], 1.0), mode=mode)
    elif key == "slice":
        x, a, b = T.dvector("x"), T.lscalar("a"), T.lscalar("b")
        f = sn.function([x, a, b], x[a:b] + 0.0, mode=mode)
    elif key == "dot":
        a, b = T.dmatrices("a", "b")
        f = sn.function([a, b], T.dot(a, b), mode=mode)
    elif key == "reduce":
        x = T.dmatrix("x")
        f = sn.function([x], [T.sum(x, axis=0), T.max(x, axis=1), T.argmax(x, axis=1),
                              T.mean(x)], mode=mode)
    elif key == "reshape":
        x, n = T.dvector("x"), T.lscalar("n")
        f = sn.function([x, n], T.reshape(x, (n, -1)), mode=mode)
    elif key == "concat":
        a, b = T.dmatrices("a", "b")
        f = sn.function([a, b], T.concatenate([a, b], axis=0), mode=mode)
    elif key == "rank8":
        x = T.tensor("float64", shape=(None,) * 8, name="x")
        f = sn.function([x], T.sum(T.exp(x) + x, axis=(1, 5)), mode=mode)
    elif key == "matrix_1d":
        x, y = T.dmatrix("x"), T.dvector("y")
        f = sn.function([x, y], x - y, mode=mode)
    else:
        raise KeyError(key)
    _functions[key, mode] = f
    return f


def _call(f, args):
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        return f(*args), None
    except Exception as exc:  # noqa: BLE001 - the case decides what is acceptable
        return None, exc
    finally:
        for original, copy in zip(args, copies):
            if isinstance(original, np.ndarray):
                assert original.shape == copy.shape and np.array_equal(
                    original, copy, equal_nan=original.dtype.kind in "fc"
                ), "the caller's array was modified"


def expect_error(f, args, types, *words):
    result, exc = _call(f, args)
    assert exc is not None, f"expected {types}, got a result {result!r}"
    assert isinstance(exc, types), f"expected {types}, got {type(exc).__name__}: {exc}"
    message = str(exc).lower()
    for word in words:
        assert word.lower() in message, f"{word!r} not in the message: {exc}"


def expect_numpy(f, args, want):
    result, exc = _call(f, args)
    assert exc is None, f"raised {type(exc).__name__}: {exc}"
    results = result if isinstance(result, list) else [result]
    wants = want if isinstance(want, list) else [want]
    for got, w in zip(results, wants):
        w = np.asarray(w)
        assert isinstance(got, np.ndarray), type(got)
        assert got.shape == w.shape, (got.shape, w.shape)
        assert got.dtype == w.dtype or w.dtype.kind not in "f", (got.dtype, w.dtype)
        rtol = 1e-6 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, w, rtol=rtol, equal_nan=True)


# --- the cases ----------------------------------------------------------------------------------


@case
def index_out_of_range(mode):
    f = compiled("index", mode)
    x = np.arange(4.0)
    for i in (4, 5, -5, 2**40, -(2**40)):
        expect_error(f, [x, i], IndexError, "4")


@case
def index_negative_in_range(mode):
    f = compiled("index", mode)
    x = np.arange(4.0)
    for i in (-1, -4, 0, 3):
        expect_numpy(f, [x, i], x[i])


@case
def index_into_empty(mode):
    expect_error(compiled("index", mode), [np.zeros(0), 0], IndexError)


@case
def index_array_out_of_range(mode):
    f = compiled("take", mode)
    x = np.arange(6.0).reshape(3, 2)
    for idx in ([0, 3], [-4], [1, 2**40]):
        expect_error(f, [x, np.array(idx)], IndexError, "3")


@case
def index_array_negative_and_repeated(mode):
    f = compiled("take", mode)
    x = np.arange(6.0).reshape(3, 2)
    idx = np.array([-1, 0, -3, 2, 2])
    expect_numpy(f, [x, idx], x[idx])
    expect_numpy(f, [x, np.zeros(0, "int64")], x[np.zeros(0, "int64")])


@case
def inc_subtensor_out_of_range_leaves_inputs(mode):
    f = compiled("inc", mode)
    x = np.arange(3.0)
    expect_error(f, [x, np.array([0, 3])], IndexError)
    want = x.copy()
    np.add.at(want, np.array([0, -1, 0]), 1.0)
    expect_numpy(f, [x, np.array([0, -1, 0])], want)


@case
def slice_bounds_beyond_the_ends(mode):
    f = compiled("slice", mode)
    x = np.arange(5.0)
    for a, b in ((-100, 100), (3, 1), (7, 9), (-2, -1), (0, 0)):
        expect_numpy(f, [x, a, b], x[a:b])


@case
def shapes_that_do_not_broadcast(mode):
    f = compiled("mul_add", mode)
    expect_error(f, [np.ones((2, 3)), np.ones((3, 2))], ValueError, "(2, 3)", "(3, 2)")
    expect_error(f, [np.ones((2, 3)), np.ones((2, 0))], ValueError)
    expect_error(compiled("matrix_1d", mode), [np.ones((2, 3)), np.ones(2)], ValueError)


@case
def broadcasting_length_one_and_zero(mode):
    f = compiled("mul_add", mode)
    for a, b in (((1, 3), (4, 1)), ((0, 3), (1, 3)), ((0, 1), (1, 0)), ((1, 1), (1, 1))):
        x, y = np.full(a, 2.0), np.full(b, 3.0)
        expect_numpy(f, [x, y], x * y + 1)


@case
def dot_shape_mismatch(mode):
    f = compiled("dot", mode)
    expect_error(f, [np.ones((2, 3)), np.ones((2, 3))], ValueError, "(2, 3)")
    expect_numpy(f, [np.ones((2, 0)), np.ones((0, 4))], np.zeros((2, 4)))


@case
def concatenate_mismatch(mode):
    f = compiled("concat", mode)
    expect_error(f, [np.ones((2, 3)), np.ones((2, 4))], ValueError, "concatenate")
    a, b = np.ones((0, 3)), np.arange(3.0).reshape(1, 3)
    expect_numpy(f, [a, b], np.concatenate([a, b]))


@case
def reshape_impossible(mode):
    f = compiled("reshape", mode)
    expect_error(f, [np.arange(6.0), 4], ValueError, "reshape")
    expect_error(f, [np.arange(6.0), 0], ValueError, "reshape")
    expect_numpy(f, [np.arange(6.0), 3], np.arange(6.0).reshape(3, -1))
    expect_error(f, [np.arange(6.0), -1], ValueError, "reshape")  # two unknown lengths
    expect_numpy(f, [np.zeros(0), 5], np.zeros((5, 0)))


@case
def reductions_of_empty_arrays(mode):
    f = compiled("reduce", mode)
    expect_error(f, [np.zeros((3, 0))], ValueError)  # max over an empty axis, like NumPy
    x = np.zeros((0, 2))
    with np.errstate(all="ignore"):
        want = [x.sum(axis=0), x.max(axis=1), x.argmax(axis=1), np.mean(x)]
    expect_numpy(f, [x], want)


@case
def nan_and_inf(mode):
    x = np.array([[np.nan, 1.0, np.inf], [-np.inf, 2.0, 0.0]])
    y = np.array([[1.0, np.nan, -np.inf], [0.0, np.inf, -0.0]])
    with np.errstate(all="ignore"):
        expect_numpy(compiled("mul_add", mode), [x, y], x * y + 1)
    z = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, -np.inf]])
    with np.errstate(all="ignore"):
        want = [z.sum(axis=0), z.max(axis=1), z.argmax(axis=1), np.mean(z)]
    expect_numpy(compiled("reduce", mode), [z], want)


@case
def non_contiguous_and_negative_strides(mode):
    f = compiled("mul_add", mode)
    base = np.arange(48.0).reshape(6, 8)
    views = [base.T, base[::2, ::-3], base[:, 1:5], base[::-1], base[:, ::-1][1:4, 2:]]
    for x in views:
        y = np.flip(x) * 0.5 if x.shape[0] % 2 else x[::-1]
        expect_numpy(f, [x, y], x * y + 1)
    a, b = base[::2, ::-1], base.T[::-1, ::-2]
    expect_numpy(compiled("dot", mode), [a, b], a @ b)


@case
def fortran_order(mode):
    x = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    y = np.asfortranarray(np.ones((3, 4)))
    expect_numpy(compiled("mul_add", mode), [x, y], x * y + 1)
    expect_numpy(compiled("dot", mode), [x, x.T], x @ x.T)


@case
def read_only_arrays(mode):
    x = np.arange(6.0).reshape(2, 3)
    x.setflags(write=False)
    expect_numpy(compiled("mul_add", mode), [x, x], x * x + 1)
    idx = np.array([0, 0, 2])
    idx.setflags(write=False)
    v = np.arange(3.0)
    v.setflags(write=False)
    want = v.copy()
    np.add.at(want, idx, 1.0)
    expect_numpy(compiled("inc", mode), [v, idx], want)
    assert not v.flags.writeable


@case
def object_string_complex_into_float(mode):
    f = compiled("mul_add", mode)
    good = np.ones((2, 2))
    for bad in (np.array([[1, "a"], [2, 3]], dtype=object), np.array([["a", "b"], ["c", "d"]]),
                np.ones((2, 2), dtype=complex), np.array([[None, None], [None, None]])):
        expect_error(f, [bad, good], TypeError, "input 0", "'x'")
        expect_error(f, [good, bad], TypeError, "input 1", "'y'")


@case
def lossy_and_wrong_dtypes(mode):
    expect_error(compiled("f32", mode), [np.ones(3)], TypeError, "'x'", "float64")
    expect_error(compiled("int", mode), [np.ones(3)], TypeError, "'i'")
    expect_error(compiled("int", mode), [[1.5, 2.0]], TypeError, "'i'")
    expect_error(compiled("int", mode), [np.array([2**70], dtype=object)], TypeError, "'i'")
    expect_numpy(compiled("f32", mode), [[1, 2]], np.exp(np.array([1, 2], "float32")) * 2)
    expect_numpy(compiled("mul_add", mode), [np.ones((2, 2), bool), np.ones((2, 2), "int32")],
                 np.full((2, 2), 2.0))


@case
def wrong_and_huge_ranks(mode):
    f = compiled("mul_add", mode)
    expect_error(f, [np.ones(3), np.ones((3, 3))], TypeError, "input 0", "1-d")
    expect_error(f, [np.ones((1,) * 32), np.ones((1, 1))], TypeError, "input 0", "32-d")
    expect_error(f, [np.float64(1.0), np.ones((1, 1))], TypeError, "input 0")
    g = compiled("rank8", mode)
    x = np.linspace(-1, 1, 2 * 3 * 1 * 2 * 1 * 2 * 1 * 2).reshape(2, 3, 1, 2, 1, 2, 1, 2)
    expect_numpy(g, [x], np.sum(np.exp(x) + x, axis=(1, 5)))
    expect_numpy(g, [np.zeros((0, 1, 2, 1, 1, 1, 1, 3))], np.zeros((0, 2, 1, 1, 1, 3)))


@case
def python_lists_and_scalars(mode):
    f = compiled("mul_add", mode)
    expect_numpy(f, [[[1.0, 2.0]], [[3], [4]]], np.array([[1.0, 2.0]]) * np.array([[3], [4]]) + 1)
    expect_error(f, [[[1.0, 2.0], [3.0]], [[1.0]]], TypeError, "input 0")
    expect_error(f, [3.0, [[1.0]]], TypeError, "input 0")
    g = compiled("index", mode)
    expect_numpy(g, [[1.0, 2.0, 3.0], 1], 2.0)
    expect_numpy(g, [(1.0, 2.0, 3.0), np.int32(-1)], 3.0)
    expect_error(g, [[1.0, 2.0], 1.5], TypeError, "'i'")
    expect_error(g, [[1.0, 2.0], "1"], TypeError, "'i'")


@case
def arity_and_keywords(mode):
    f = compiled("mul_add", mode)
    expect_error(f, [np.ones((1, 1))], TypeError, "'y'")
    expect_error(f, [np.ones((1, 1))] * 3, TypeError, "3")

    def with_unknown_keyword():
        return f(np.ones((1, 1)), z=np.ones((1, 1)))

    expect_error(with_unknown_keyword, [], TypeError, "'z'")


def main() -> None:
    """Run every case in both modes, one JSON line each (flushed, so a crash loses nothing)."""
    names = sys.argv[1:] or list(CASES)
    for name in names:
        for mode in MODES:
            try:
                CASES[name](mode)
                record = {"case": name, "mode": mode, "ok": True, "detail": ""}
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                record = {"case": name, "mode": mode, "ok": False,
                          "detail": f"{type(exc).__name__}: {exc}"}
            print("RESULT " + json.dumps(record), flush=True)


# --- the pytest side ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", "from tests.compiler.test_hostile import main; main()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    found = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            record = json.loads(line[len("RESULT "):])
            found[record["case"], record["mode"]] = record
    return found, proc


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(results, name, mode):
    found, proc = results
    record = found.get((name, mode))
    if record is None:
        pytest.fail(f"the subprocess ended (return code {proc.returncode}) before case {name} "
                    f"[{mode}]:\n{proc.stderr[-3000:]}")
    assert record["ok"], record["detail"]
