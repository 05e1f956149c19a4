"""Tiered execution: tier 0 (node by node on shared kernels) against tier 1 (the whole-graph
kernel), bit for bit; the background switch; 'never' and 'wait'; timeouts, failures, fork and
exit. The suite itself runs with SYMNET_COMPILE=wait (tests/conftest.py); these tests set the
policy they exercise."""

import os
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.compiler import background
from symnet.compiler import function as function_module
from symnet.config import SymnetWarning


@pytest.fixture(autouse=True)
def _tier0_even_on_a_cold_cache(monkeypatch):
    """These tests exercise tier 0 under 'background' whatever the cache holds (on a cold
    cache such a function would compile its kernel instead; tested on its own below)."""
    monkeypatch.setattr(function_module, "TIER0_MAX_UNCOMPILED", 10**9)


def _exponent() -> float:
    """An exponent no earlier run used: a graph computing ``abs(x) ** _exponent()`` has a
    kernel not in the cache yet (exponents stay literals in the kernel's code; other float
    constants are its arguments, so a new value of those reuses a cached kernel)."""
    return 1.5 + float(np.random.default_rng().integers(1, 2**20)) * 2.0**-30


def _mlp_step(rng, lr: float, dtype="float64", exponent=None):
    """A two-layer tanh/softmax training step: (function, its shared weights)."""
    x = T.matrix("x", dtype=dtype)
    y = T.matrix("y", dtype=dtype)
    w1 = sn.shared(rng.normal(size=(6, 5)).astype(dtype), name="w1")
    b1 = sn.shared(np.zeros(5, dtype), name="b1")
    w2 = sn.shared(rng.normal(size=(5, 3)).astype(dtype), name="w2")
    h = T.tanh(T.dot(x, w1) + b1)
    p = T.nnet.softmax(T.dot(h, w2))
    cost = -T.mean(T.sum(y * T.log(p), axis=1)) + 1e-3 * T.sum(w1 ** 2)
    if exponent is not None:
        cost = cost + 1e-4 * T.sum(abs(w2) ** exponent)
    params = [w1, b1, w2]
    grads = sn.grad(cost, params)
    f = sn.function([x, y], cost, updates=[(w, w - lr * g) for w, g in zip(params, grads)])
    return f, params


def _batches(rng, n, dtype="float64"):
    out = []
    for _ in range(n):
        x = rng.normal(size=(7, 6)).astype(dtype)
        y = np.eye(3, dtype=dtype)[rng.integers(0, 3, size=7)]
        out.append((x, y))
    return out


def _train(policy, lr, batches, seed=0, dtype="float64", switch_after=None, exponent=None):
    with sn.config.override(compile=policy):
        f, params = _mlp_step(np.random.default_rng(seed), lr, dtype, exponent)
    costs, tiers = [], []
    for k, (x, y) in enumerate(batches):
        if switch_after is not None and k == switch_after:
            f.wait()
        costs.append(f(x, y))
        tiers.append(f.tier)
    return f, costs, [p.get_value() for p in params], tiers


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_gives_the_same_bits_on_either_tier(rng, dtype):
    lr = 0.05
    batches = _batches(rng, 6, dtype)
    _, costs1, weights1, tiers1 = _train("wait", lr, batches, dtype=dtype)
    _, costs0, weights0, tiers0 = _train("never", lr, batches, dtype=dtype)
    assert tiers1 == [1] * 6 and tiers0 == [0] * 6
    for a, b in zip(costs0 + weights0, costs1 + weights1):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    # and against NumPy's arithmetic, to within rounding
    f, _ = _mlp_step(np.random.default_rng(0), lr, dtype)
    with sn.config.override(mode="python"):
        fp, params = _mlp_step(np.random.default_rng(0), lr, dtype)
    for x, y in batches:
        fp(x, y)
    tol = 1e-10 if dtype == "float64" else 1e-4
    for got, want in zip(weights1, [p.get_value() for p in params]):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_kernel_landing_mid_loop_gives_the_same_weights(rng):
    lr, exponent = 0.05, _exponent()  # a graph not in the cache: it starts on tier 0
    batches = _batches(rng, 6)
    f, costs_b, weights_b, tiers = _train("background", lr, batches, switch_after=3,
                                          exponent=exponent)
    assert tiers[0] == 0 and tiers[3:] == [1, 1, 1]
    assert "background" in f.explain(print_=False)
    _, costs_1, weights_1, _ = _train("wait", lr, batches, exponent=exponent)
    for a, b in zip(costs_b + weights_b, costs_1 + weights_1):
        assert np.array_equal(a, b)


def test_never_stays_on_tier0_until_wait_compiles_here(rng):
    x = T.dmatrix("x")
    with sn.config.override(compile="never"):
        f = sn.function([x], [T.exp(x).sum(axis=0), T.maximum(x, 0.5) * 3.0])
    assert f.tier == 0
    text = f.explain(print_=False)
    assert "tier 0" in text and "'never'" in text
    xv = rng.normal(size=(4, 5))
    before = f(xv)
    f.wait()
    assert f.tier == 1 and "tier 1" in f.explain(print_=False)
    for a, b in zip(before, f(xv)):
        assert np.array_equal(a, b)
    np.testing.assert_allclose(before[0], np.exp(xv).sum(axis=0), rtol=1e-13)


def test_tier0_names_bad_input_like_tier1(rng):
    x, y = T.dvectors("x", "y")
    with sn.config.override(compile="never"):
        f = sn.function([x, y], x * y + 1.0)
    with pytest.raises(ValueError, match="shape"):
        f(np.ones(3), np.ones(4))


def _rnn_step(rng, policy):
    """An Elman RNN trained through scan (forward loop, backward loop in reverse) with an
    ifelse choosing the loss: (function, its weights)."""
    X, y = T.dtensor3("X"), T.dmatrix("y")
    flag = T.lscalar("flag")
    W = sn.shared(rng.normal(size=(3, 4)) * 0.5, name="W")
    U = sn.shared(rng.normal(size=(4, 4)) * 0.5, name="U")
    V = sn.shared(rng.normal(size=(4, 2)) * 0.5, name="V")
    h0 = T.zeros((X.shape[0], 4))
    hs, _ = sn.scan(lambda x_t, h, W, U: T.tanh(T.dot(x_t, W) + T.dot(h, U)),
                    sequences=[X.dimshuffle(1, 0, 2)], outputs_info=[h0], non_sequences=[W, U])
    out = T.dot(hs[-1], V)
    loss = sn.ifelse(T.gt(flag, 0), T.mean((out - y) ** 2), T.mean(abs(out - y)))
    params = [W, U, V]
    grads = sn.grad(loss, params)
    with sn.config.override(compile=policy):
        f = sn.function([X, y, flag], loss,
                        updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
    return f, params


def test_scan_and_ifelse_run_on_tier0_with_the_same_bits(rng):
    data = [(rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 2)), k % 2) for k in range(4)]
    runs = {}
    for policy in ("wait", "never"):
        f, params = _rnn_step(np.random.default_rng(5), policy)
        assert f.tier == (1 if policy == "wait" else 0)
        losses = [f(X, y, flag) for X, y, flag in data]
        runs[policy] = losses + [p.get_value() for p in params]
    for a, b in zip(runs["never"], runs["wait"]):
        assert np.array_equal(a, b)
    f, params = _rnn_step(np.random.default_rng(5), "wait")
    with sn.config.override(mode="python"):
        fp, params_p = _rnn_step(np.random.default_rng(5), "wait")
    for X, y, flag in data:
        fp(X, y, flag)
    for got, want in zip(runs["wait"][4:], [p.get_value() for p in params_p]):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_a_cold_cache_compiles_the_kernel_rather_than_many_shared_kernels(rng, monkeypatch):
    monkeypatch.setattr(function_module, "TIER0_MAX_UNCOMPILED", 4)
    from symnet.compiler.backends import tier0

    x, y = T.dmatrices("x", "y")
    e = _exponent()
    expr = T.tanh(T.dot(x, y)) * 2.0 + T.exp(x) - abs(y) ** e
    monkeypatch.setattr(tier0, "compiled_before", lambda text: False)  # as on a new machine
    with sn.config.override(compile="background"):
        f = sn.function([x, y], expr)
    assert f.tier == 1 and "cold cache" in f.tier_reason and f._job is None
    monkeypatch.undo()
    monkeypatch.setattr(function_module, "TIER0_MAX_UNCOMPILED", 4)
    with sn.config.override(compile="never"):  # 'never' means tier 0 all the same
        g = sn.function([x, y], expr)
    assert g.tier == 0
    xv, yv = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    assert np.array_equal(f(xv, yv), g(xv, yv))
    np.testing.assert_allclose(f(xv, yv), np.tanh(xv @ yv) * 2 + np.exp(xv) - np.abs(yv) ** e,
                               rtol=1e-12)


def test_updates_from_threads_are_not_lost_across_the_switch():
    count = sn.shared(np.float64(0.0), name="count")
    x = T.dscalar("x")  # called with 0: the counter stays an integer, exact in float64
    with sn.config.override(compile="background"):
        f = sn.function([x], count, updates=[(count, count + 1.0 + abs(x) ** _exponent())])
    assert f.tier == 0

    def work():
        for _ in range(150):
            f(0.0)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    f.wait()
    for t in threads:
        t.join()
    assert f.tier == 1
    assert count.get_value() == 450.0


def test_timeout_leaves_tier0_warns_once_and_is_remembered(rng):
    x = T.dvector("x")
    e = _exponent()
    expr = T.tanh(x) + abs(x) ** e
    with sn.config.override(compile="background", compile_timeout=0.05):
        f = sn.function([x], expr)
        f._job.done.wait(120)
    assert f.tier == 0 and "compile_timeout" in f.tier_reason
    marker = f._job.marker
    assert os.path.exists(marker)
    xv = rng.normal(size=5)
    with pytest.warns(SymnetWarning, match="compile_timeout"):
        got = f(xv)
    np.testing.assert_allclose(got, np.tanh(xv) + np.abs(xv) ** e, rtol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(xv)  # said once
    # the next function of that graph does not try again: tier 0 at once, and says why
    with sn.config.override(compile="background"):
        g = sn.function([x], expr)
    assert g.tier == 0 and g._job is None and "ran out of time" in g.tier_reason
    with pytest.warns(SymnetWarning, match="ran out of time"):
        assert np.array_equal(g(xv), got)
    g.wait()  # compiles here
    assert g.tier == 1 and np.array_equal(g(xv), got)
    os.unlink(marker)


def test_failed_compile_is_reported_once_and_keeps_tier0(rng, monkeypatch):
    monkeypatch.setattr(background._Worker, "run", lambda self, job: ("error", "LoweringError: boom"))
    x = T.dvector("x")
    e = _exponent()
    with sn.config.override(compile="background"):
        f = sn.function([x], T.sin(x) + abs(x) ** e)
        f._job.done.wait(120)
    assert f.tier == 0 and "boom" in f.tier_reason
    xv = rng.normal(size=4)
    with pytest.warns(SymnetWarning, match="boom"):
        f(xv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(f(xv), np.sin(xv) + np.abs(xv) ** e, rtol=1e-13)


def test_worker_reports_a_kernel_that_does_not_compile(tmp_path):
    import numba

    path = tmp_path / "k_broken.py"
    path.write_text(textwrap.dedent("""
        import numba

        @numba.njit(cache=True)
        def kernel(x):
            return no_such_function(x)
    """))
    done = []
    job = background.CompileJob(str(path), "symnet_test_broken_kernel", (numba.float64,),
                                done.append, timeout=300)
    background.submit(job)
    assert job.done.wait(300)
    assert done == [job] and not job.timed_out
    assert "no_such_function" in job.error


def test_forked_child_keeps_tier0_and_compiles_on_wait(rng):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    x = T.dvector("x")
    e = _exponent()
    with sn.config.override(compile="background"):
        f = sn.function([x], T.cos(x) + abs(x) ** e)
    xv = rng.normal(size=6)
    want = np.cos(xv) + np.abs(xv) ** e
    pid = os.fork()
    if pid == 0:  # the child: no compile of the parent's is in flight here
        code = 1
        try:
            ok = np.allclose(f(xv), want, rtol=1e-13)
            f.wait()
            ok = ok and f.tier == 1 and np.allclose(f(xv), want, rtol=1e-13)
            code = 0 if ok else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    f.wait()
    assert f.tier == 1 and np.allclose(f(xv), want, rtol=1e-13)


def test_exit_during_a_compile_leaves_no_worker(tmp_path):
    e = _exponent()
    token = f"symnet-exit-test-{os.getpid()}-{np.random.default_rng().integers(1 << 30)}"
    script = textwrap.dedent(f"""
        import numpy as np, symnet as sn, symnet.tensor as T
        from symnet.compiler import function
        function.TIER0_MAX_UNCOMPILED = 10**9  # tier 0 whatever the cache holds
        x = T.dmatrix("x")
        with sn.config.override(compile="background"):
            f = sn.function([x], T.tanh(T.dot(x, x.T)) + abs(x) ** {e!r})
        print(float(f(np.eye(3)).sum()), f.tier)
    """)
    env = dict(os.environ, SYMNET_TEST_TOKEN=token, SYMNET_COMPILE="background")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    value, tier = out.stdout.split()
    np.testing.assert_allclose(float(value), np.tanh(np.eye(3)).sum() + 3.0, rtol=1e-13)
    assert tier == "0"  # it exited before its kernel was ready

    def workers():
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        if token.encode() in f.read():
                            found.append(pid)
                except OSError:
                    pass
        return found

    import time

    deadline = time.monotonic() + 30
    while workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers() == []


@pytest.mark.slow
def test_warmup_compiles_the_shared_kernels_a_keras_model_needs(tmp_path):
    env = dict(os.environ, SYMNET_CACHE_DIR=str(tmp_path), SYMNET_WARMUP="1")
    # the first tier-0 function of a process starts the warm-up (which never blocks it)
    started = textwrap.dedent("""
        import os, time, numpy as np, symnet as sn, symnet.tensor as T
        from symnet.compiler import warmup
        x = T.dvector("x")
        f = sn.function([x], T.exp(x) + 1.0)
        print(f.tier, float(f(np.zeros(2)).sum()))
        done, lock = warmup.paths()
        deadline = time.monotonic() + 60
        while not (os.path.exists(lock) or os.path.exists(done)) and time.monotonic() < deadline:
            time.sleep(0.05)
        print(os.path.exists(lock) or os.path.exists(done))
    """)
    out = subprocess.run([sys.executable, "-c", started], env=dict(env, SYMNET_COMPILE="never"),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "4.0", "True"]
    # the warm-up run to its end, then a Keras program finds every kernel it needs compiled
    subprocess.run([sys.executable, "-c", "from symnet import warmup_run; warmup_run.run()"],
                   env=env, check=True, timeout=1200)
    program = textwrap.dedent("""
        import os, numpy as np, symnet as sn
        from symnet.compiler import warmup
        from symnet.compiler.backends import tier0
        from symnet.nn import Dense, Sequential
        rng = np.random.default_rng(3)
        x = rng.normal(size=(32, 7)).astype("float32")
        y = (rng.random((32, 1)) > 0.5).astype("float32")
        model = Sequential([Dense(9, activation="relu", input_shape=(7,)),
                            Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        functions = list(tier0._functions.values())
        misses = sum(sum(f._cache_misses.values()) for f in functions)
        hits = sum(sum(f._cache_hits.values()) for f in functions)
        print(misses, hits, os.path.exists(warmup.paths()[0]), history.history["loss"][-1])
    """)
    out = subprocess.run([sys.executable, "-c", program], env=dict(env, SYMNET_COMPILE="never"),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    misses, hits, done, loss = out.stdout.split()
    assert misses == "0" and int(hits) >= 10 and done == "True"
    assert 0.0 < float(loss) < 5.0
