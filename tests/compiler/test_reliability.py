"""Threads, nan_guard, and errors that point at user code."""

import threading

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.compiler.backends.python import NanGuardError


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_concurrent_calls_lose_no_update(mode):
    x = T.dscalar("x")
    total = sn.shared(0.0, "total")
    f = sn.function([x], total, updates=[(total, total + x)], mode=mode)
    n_threads, calls = 4, 300

    def work():
        for _ in range(calls):
            f(1.0)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert total.get_value() == n_threads * calls


def test_readers_never_see_an_in_place_update_half_written():
    """A training function writes w + 1 into w's own array (the inplace pass); functions
    reading w and get_value, in other threads at the same time, always see every element
    updated the same number of times."""
    n = 400_000
    w = sn.shared(np.zeros(n), "w", shape=(n,))
    step = sn.function([], [], updates=[(w, w + 1.0)])
    assert "inplace" in step.source  # the update is written in place
    spread = sn.function([], T.max(w) - T.min(w))
    seen = []

    def write():
        for _ in range(150):
            step()

    def read():
        for _ in range(150):
            seen.append(float(spread()))
            value = w.get_value()
            seen.append(float(value.max() - value.min()))

    threads = [threading.Thread(target=write) for _ in range(2)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 600 and set(seen) == {0.0}
    np.testing.assert_array_equal(w.get_value(), np.full(n, 300.0))


def test_functions_sharing_variables_in_opposite_orders_do_not_deadlock():
    a = sn.shared(0.0, "a")
    b = sn.shared(0.0, "b")
    f = sn.function([], [], updates=[(a, a + b + 1.0), (b, b + 1.0)])
    g = sn.function([], [], updates=[(b, b + a * 0.0 + 1.0), (a, a + 1.0)])

    def run(fn):
        for _ in range(300):
            fn()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in (f, g, f, g)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert b.get_value() == 1200.0


def test_concurrent_calls_without_updates_match_serial_results():
    x = T.dmatrix("x")
    f = sn.function([x], T.tanh(x) @ x.T + 1.0)
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(20, 20)) for _ in range(8)]
    expected = [f(d) for d in data]
    results = [None] * len(data)

    def work(i):
        for _ in range(20):
            results[i] = f(data[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(data))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_nan_guard_names_the_first_bad_node_and_the_user_line():
    x = T.dvector("x")
    y = T.sqrt(x)  # the first node that can produce NaN
    z = T.sum(y * 2)
    f = sn.function([x], z, mode="nan_guard")
    assert float(f(np.array([1.0, 4.0]))) == 6.0
    with pytest.raises(NanGuardError, match=r"sqrt.*NaN") as info:
        f(np.array([1.0, -4.0]))
    assert "test_reliability.py" in str(info.value)
    assert "sqrt(x)" in str(info.value)


def test_run_time_error_names_the_op_the_shapes_and_the_user_line():
    a, b = T.dvectors("a", "b")
    f = sn.function([a, b], T.exp(a) + b)
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    message = str(info.value)
    assert "(3,)" in message and "(4,)" in message
    assert "test_reliability.py" in message


def test_failed_call_leaves_shared_variables_bit_identical():
    x = T.dvector("x")
    w = sn.shared(np.arange(3.0), "w")
    count = sn.shared(np.int64(0), "count")
    f = sn.function([x], T.sum(w), updates=[(w, w + x), (count, count + 1)])
    before = (w.get_value().copy(), count.get_value().copy())
    with pytest.raises(ValueError):
        f(np.ones(5))
    np.testing.assert_array_equal(w.get_value(), before[0])
    assert count.get_value() == before[1]
    f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), before[0] + 1)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_two_updates_of_one_shared_variable_are_rejected_at_compile_time(mode):
    """Which of two new values would win is undefined: function() refuses, whatever the
    expressions (even equal ones), and the variable keeps its value."""
    w = sn.shared(np.arange(3.0), "w")
    x = T.dvector("x")
    for updates in ([(w, w + x), (w, w * 2)], [(w, w + 1), (w, w + 1)],
                    [(w, w + 1), (sn.shared(0.0, "other"), 1.0), (w, x)]):
        with pytest.raises(ValueError, match="w is updated twice"):
            sn.function([x], T.sum(w), updates=updates, mode=mode, on_unused_input="ignore")
    np.testing.assert_array_equal(w.get_value(), np.arange(3.0))


def test_explicit_update_of_a_random_state_replaces_its_default_update():
    srng = sn.RandomStream(seed=3)
    u = srng.uniform((2,))
    (state, _), = srng.state_updates
    frozen = state.get_value()
    f = sn.function([], u, updates=[(state, state)], mode="python")
    np.testing.assert_array_equal(f(), f())  # the explicit update won; no duplicate raised
    assert state.get_value() is not None and type(state.get_value()) is type(frozen)


def _many_shared_step(n, mode):
    """A step over ``n`` shared scalars: the output reads them all, each is updated."""
    ws = [sn.shared(float(i), f"w{i}") for i in range(n)]
    x = T.dscalar("x")
    cost = sum((w * x for w in ws), T.constant(0.0))
    step = sn.function([x], cost, updates=[(w, w + x) for w in ws], mode=mode)
    return ws, step


def _run_in_threads(fn, n_threads, calls):
    threads = [threading.Thread(target=lambda: [fn(1.0) for _ in range(calls)])
               for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("mode, n, compile", [("numba", 40, "wait"), ("python", 1000, "wait"),
                                              ("numba", 1000, "never")])
def test_functions_over_many_shared_variables_compile_and_lose_no_update(mode, n, compile):
    # one `with` naming every lock nested a block per lock: Python compiles at most 20, so
    # 19 shared variables (a 3-layer model with Adam) failed with a SyntaxError. A kernel of
    # 1,000 arguments takes Numba many minutes; tier 0 answers at once (its kernel would
    # compile in the background under the default policy)
    with sn.config.override(compile=compile):
        ws, step = _many_shared_step(n, mode)
    assert step.tier == (0 if compile == "never" else None if mode == "python" else 1)
    assert len(step.locks) == n
    assert float(step(2.0)) == 2.0 * sum(range(n))
    _run_in_threads(step, n_threads=3, calls=20)
    np.testing.assert_array_equal([w.get_value() for w in ws], np.arange(n) + 2.0 + 60.0)


def test_lock_group_takes_locks_in_order_and_gives_back_on_failure():
    from symnet.compiler.function import LockGroup

    locks = [threading.Lock() for _ in range(1000)]
    group = LockGroup(locks)
    with group:
        assert all(lock.locked() for lock in locks)
    assert not any(lock.locked() for lock in locks)
    with pytest.raises(RuntimeError, match="inside"):
        with group:
            raise RuntimeError("inside")
    assert not any(lock.locked() for lock in locks)

    class Interrupted(Exception):
        pass

    class Failing:
        def acquire(self):
            raise Interrupted

        def release(self):
            raise AssertionError("never taken, never released")

    partial = LockGroup(locks[:5] + [Failing()] + locks[5:10])
    with pytest.raises(Interrupted):
        with partial:
            pass
    assert not any(lock.locked() for lock in locks)  # the five taken were given back
