"""Pickling across processes (graphs, compiled functions with shared state and random streams,
fitted nn models) and determinism (same graph and seed: bit-identical results in two processes).

Three subprocesses: two run MAKE (concurrently) in separate directories, each computing
results and pickling its objects; one runs LOAD on the first directory's pickles in a fresh
interpreter and continues from there.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T

ROOT = pathlib.Path(__file__).resolve().parents[1]

MAKE = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    import symnet as sn, symnet.tensor as T
    from symnet.nn import Dense, Sequential

    out = {}
    # a compiled function with a shared accumulator and a random stream
    x = T.dvector("x")
    w = sn.shared(np.arange(3.0), "w")
    srng = sn.RandomStream(seed=123)
    noise = srng.normal((3,))
    f = sn.function([x], [T.sum(w * x) + noise, noise], updates=[(w, w * 0.5 + x)])
    xv = np.array([0.25, -1.0, 2.0])
    out["f_first"] = np.stack(f(xv))
    out["f_second"] = np.stack(f(xv))
    expr = T.exp(w) @ x + 1.0  # a graph sharing w with f
    blob = pickle.dumps((f, expr, w, x))
    out["f_after_pickle"] = np.stack(f(xv))  # what the unpickled copy must give next
    out["w_after_pickle"] = w.get_value().copy()
    out["expr_after_pickle"] = np.asarray(expr.eval({x: xv}))
    out["uniform"] = sn.function([], sn.RandomStream(seed=7).uniform((4, 5)))()
    out["binomial"] = sn.function([], sn.RandomStream(seed=7).binomial((6,), n=5, p=0.3))()

    # a small model, fitted one epoch from NumPy's global seed
    np.random.seed(0)
    data = np.random.uniform(-1, 1, size=(64, 4)).astype("float32")
    target = (data @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    model = Sequential([Dense(8, activation="tanh", input_dim=4), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(data, target, epochs=1, batch_size=16, verbose=0)
    out["loss"] = np.array(history.history["loss"])
    out["predict"] = model.predict(data)
    model_blob = pickle.dumps(model)
    np.random.seed(1)
    model.fit(data, target, epochs=1, batch_size=16, verbose=0)
    out["predict_refit"] = model.predict(data)

    directory = sys.argv[1]
    with open(directory + "/objects.pkl", "wb") as fh:
        fh.write(blob)
    with open(directory + "/model.pkl", "wb") as fh:
        fh.write(model_blob)
    np.savez(directory + "/made.npz", data=data, target=target, xv=xv, **out)
    print("MADE")
    """
)

LOAD = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np

    directory = sys.argv[1]
    made = np.load(directory + "/made.npz")
    with open(directory + "/objects.pkl", "rb") as fh:
        f, expr, w, x = pickle.load(fh)  # unpickled before symnet is imported by hand
    import symnet as sn

    out = {}
    out["w_at_load"] = w.get_value().copy()
    out["expr_at_load"] = np.asarray(expr.eval({x: made["xv"]}))
    out["f_after_pickle"] = np.stack(f(made["xv"]))
    out["w_after_call"] = w.get_value().copy()  # the function updates the same shared variable
    out["mode"] = np.array(f.mode)
    with open(directory + "/model.pkl", "rb") as fh:
        model = pickle.load(fh)
    out["predict"] = model.predict(made["data"])
    np.random.seed(1)
    model.fit(made["data"], made["target"], epochs=1, batch_size=16, verbose=0)
    out["predict_refit"] = model.predict(made["data"])
    np.savez(directory + "/loaded.npz", **out)
    print("LOADED")
    """
)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    dirs = [tmp_path_factory.mktemp(name) for name in ("make_a", "make_b")]
    procs = [subprocess.Popen([sys.executable, "-c", MAKE, str(d)], env=_env(), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in dirs]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0 and "MADE" in stdout, stderr[-3000:]
    load = subprocess.run([sys.executable, "-c", LOAD, str(dirs[0])], env=_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=900, check=False)
    assert load.returncode == 0 and "LOADED" in load.stdout, load.stderr[-3000:]
    made = [dict(np.load(d / "made.npz")) for d in dirs]
    return made[0], made[1], dict(np.load(dirs[0] / "loaded.npz"))


@pytest.mark.slow
def test_same_seed_gives_bit_identical_results_in_two_processes(runs):
    a, b, _ = runs
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert a[key].tobytes() == b[key].tobytes(), key  # bit for bit, not approximately


@pytest.mark.slow
def test_random_draws_advance_and_are_reproducible(runs):
    a, _, _ = runs
    assert not np.array_equal(a["f_first"][1], a["f_second"][1])  # the stream advanced
    assert np.all((0 <= a["uniform"]) & (a["uniform"] < 1))
    assert a["binomial"].dtype == np.int64 and np.all((0 <= a["binomial"]) & (a["binomial"] <= 5))


@pytest.mark.slow
def test_unpickled_function_continues_where_the_original_was(runs):
    a, _, loaded = runs
    # the value at pickling time travels (the original then made one more call)
    xv = np.array([0.25, -1.0, 2.0])
    np.testing.assert_array_equal(a["w_after_pickle"], loaded["w_at_load"] * 0.5 + xv)
    # same next output (random state included) and same update as the original's next call
    assert loaded["f_after_pickle"].tobytes() == a["f_after_pickle"].tobytes()
    np.testing.assert_array_equal(loaded["w_after_call"], a["w_after_pickle"])
    np.testing.assert_array_equal(loaded["expr_at_load"],
                                  np.exp(loaded["w_at_load"]) @ xv + 1.0)
    assert str(loaded["mode"]) == "numba"


@pytest.mark.slow
def test_unpickled_model_predicts_and_trains_identically(runs):
    a, _, loaded = runs
    assert loaded["predict"].tobytes() == a["predict"].tobytes()
    assert loaded["predict_refit"].tobytes() == a["predict_refit"].tobytes()
    assert np.isfinite(a["loss"]).all()


def test_function_pickles_in_process_with_its_options(mode):
    x = T.dvector("x")
    y = sn.In(T.dscalar("y"), value=2.0, name="scale")
    acc = sn.shared(0.0, "acc")
    f = sn.function([x, y], T.sum(x) * y.variable, updates=[(acc, acc + 1)], mode=mode, name="scaled")
    f(np.ones(2))
    g, acc2 = pickle.loads(pickle.dumps((f, acc)))
    assert acc2.get_value() == 1.0 and g.mode == mode and g.name == "scaled"
    assert float(g(np.ones(3), scale=3.0)) == 9.0
    assert acc2.get_value() == 2.0 and acc.get_value() == 1.0  # a copy, not the original
