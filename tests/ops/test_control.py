"""Tests for symnet/ops/control.py: scan (Theano's tutorial programs against NumPy loops, both
backends, gradients through sequences, initial states and non-sequences, random streams and
updates inside a step, errors), ifelse (values, gradients, laziness), the rewrites
local_scan_unused_outputs, local_scan_merge_stacking and local_ifelse_unused_outputs, and
jacobian/hessian (built on scan)."""

from __future__ import annotations

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.compiler.rewrite import rewrite_graph
from symnet.graph import toposort
from symnet.ops.control import IfElse, Scan

# --- helpers -----------------------------------------------------------------------------------


def _nodes(outputs, op_class) -> list:
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [node for node in toposort(list(outputs)) if isinstance(node.op, op_class)]


def _close(got, expected, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(np.asarray(got), expected, rtol=rtol, atol=atol)


# --- scan: Theano's tutorial programs ----------------------------------------------------------


def _power(A, k):
    result, updates = sn.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
                              non_sequences=A, n_steps=k)
    assert not updates
    return result


def test_scan_elementwise_power(mode, rng):
    A, k = T.dvector("A"), T.lscalar("k")
    result = _power(A, k)
    f = sn.function([A, k], [result, result[-1]], mode=mode)
    for steps in (1, 2, 5):
        value = rng.uniform(-2, 2, size=4)
        expected, prior = [], np.ones(4)
        for _ in range(steps):
            prior = prior * value
            expected.append(prior)
        everything, last = f(value, steps)
        _close(everything, np.array(expected))
        _close(last, value ** steps)


def test_scan_elementwise_power_only_last_value(mode):
    A, k = T.dvector("A"), T.lscalar("k")
    f = sn.function([A, k], _power(A, k)[-1], mode=mode)
    _close(f(np.array([1.0, 2.0, 3.0]), 3), [1.0, 8.0, 27.0])
    _close(f(np.array([0.5, -1.5]), 4), [0.5 ** 4, 1.5 ** 4])


def test_scan_elementwise_power_grad(mode, rng):
    # A is a non-sequence; the initial state is an input too
    def build(A, start):
        result, _ = sn.scan(lambda prior, A: prior * A, outputs_info=start, non_sequences=A,
                            n_steps=3)
        return result

    sn.verify_grad(lambda A: _power(A, 3), [rng.uniform(0.5, 1.5, size=3)], mode=mode)
    sn.verify_grad(build, [rng.uniform(0.5, 1.5, size=3), rng.uniform(-1, 1, size=3)], mode=mode)


def _polynomial(coefficients, x, max_power=100):
    components, _ = sn.scan(lambda c, power, x: c * x ** power, outputs_info=None,
                            sequences=[coefficients, T.arange(max_power)], non_sequences=x)
    return components.sum()


def test_scan_polynomial(mode, rng):
    coefficients, x = T.dvector("coefficients"), T.dscalar("x")
    f = sn.function([coefficients, x], _polynomial(coefficients, x), mode=mode)
    _close(f(np.array([1.0, 0.0, 2.0]), 3.0), 19.0)
    c = rng.normal(size=7)
    expected = 0.0
    for power, ci in enumerate(c):
        expected += ci * 1.3 ** power
    _close(f(c, 1.3), expected)


def test_scan_polynomial_grad(mode, rng):
    # the coefficients are a sequence, x a non-sequence
    sn.verify_grad(_polynomial, [rng.normal(size=5), np.array(1.3)], mode=mode)


def _cumulative_sum(X, start):
    result, _ = sn.scan(lambda row, total: total + row, sequences=X, outputs_info=start)
    return result


def test_scan_cumulative_sum(mode, rng):
    X, start = T.dmatrix("X"), T.dvector("start")
    v = T.dvector("v")
    scalar_sum, _ = sn.scan(lambda a, total: total + a, sequences=v,
                            outputs_info=T.constant(0.0))
    f = sn.function([X, start, v], [_cumulative_sum(X, start), scalar_sum], mode=mode)
    Xv, startv, vv = rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=9)
    rows, totals = f(Xv, startv, vv)
    expected, total = [], startv
    for row in Xv:
        total = total + row
        expected.append(total)
    _close(rows, np.array(expected))
    _close(totals, np.cumsum(vv))
    assert totals.dtype == np.float64 and totals.shape == (9,)


def test_scan_cumulative_sum_grad(mode, rng):
    sn.verify_grad(_cumulative_sum, [rng.normal(size=(4, 3)), rng.normal(size=3)], mode=mode)


def _rnn(X, W, U, b, h0):
    def step(x_t, h, W, U, b):
        return T.tanh(T.dot(x_t, W) + T.dot(h, U) + b)

    hs, _ = sn.scan(step, sequences=X, outputs_info=h0, non_sequences=[W, U, b])
    return hs


def _rnn_numpy(X, W, U, b, h0):
    h, hs = h0, []
    for x_t in X:
        h = np.tanh(x_t @ W + h @ U + b)
        hs.append(h)
    return np.array(hs)


def _rnn_values(rng, steps):
    return [rng.normal(size=(steps, 2, 3)), rng.normal(size=(3, 4)) * 0.5,
            rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4) * 0.1, rng.normal(size=(2, 4))]


def test_scan_tanh_rnn_50_steps(mode, rng):
    X, b = T.dtensor3("X"), T.dvector("b")
    W, U, h0 = T.dmatrices("W", "U", "h0")
    f = sn.function([X, W, U, b, h0], _rnn(X, W, U, b, h0), mode=mode)
    for steps in (50, 1):
        values = _rnn_values(rng, steps)
        got = f(*values)
        assert got.shape == (steps, 2, 4)
        _close(got, _rnn_numpy(*values), rtol=1e-10, atol=1e-13)


def test_scan_tanh_rnn_grad(mode, rng):
    # gradients wrt the sequence, every non-sequence and the initial state, over 50 steps
    sn.verify_grad(_rnn, _rnn_values(rng, 50), mode=mode)


def test_scan_grad_of_the_last_state_reads_no_history_sized_gradient(mode, rng):
    # a cost on hs[-1] (an RNN classifier): the backward scan starts from the gradient of the
    # final state instead of reading a gradient of the whole history that is zero elsewhere
    X, b = T.dtensor3("X"), T.dvector("b")
    W, U, h0 = T.dmatrices("W", "U", "h0")
    hs = _rnn(X, W, U, b, h0)
    gW = sn.grad(T.sum(hs[-1] ** 2), W)
    (backward,) = [n for n in _nodes(rewrite_graph(gW), Scan) if n.op.reverse]
    assert backward.op.seq_names == ("X", "states 0 before each step", "history of state 0")
    # reading hs[-1] and the whole history: the gradient of the history is a sequence
    g_both = sn.grad(T.sum(hs[-1] ** 2) + T.sum(hs), W)
    (backward,) = [n for n in _nodes(rewrite_graph(g_both), Scan) if n.op.reverse]
    assert "gradient of state 0" in backward.op.seq_names
    sn.verify_grad(lambda *v: _rnn(*v)[-1], _rnn_values(rng, 6), mode=mode)


def _several(a, B, s0, m0):
    """Two sequences of different lengths; a recurrent scalar, an output that is not fed back,
    and a recurrent vector."""

    def step(a_t, b_t, s, m):
        return [s + a_t * b_t.sum(), 2.0 * a_t + s, m * b_t + a_t]

    outputs, _ = sn.scan(step, sequences=[a, B], outputs_info=[s0, None, m0])
    return outputs


def _several_numpy(a, B, s0, m0):
    steps = min(len(a), len(B))
    ss, doubled, ms = [], [], []
    s, m = s0, m0
    for t in range(steps):
        doubled.append(2.0 * a[t] + s)
        s, m = s + a[t] * B[t].sum(), m * B[t] + a[t]
        ss.append(s)
        ms.append(m)
    return [np.array(ss), np.array(doubled), np.array(ms)]


def test_scan_several_sequences_and_outputs(mode, rng):
    a, B, s0, m0 = T.dvector("a"), T.dmatrix("B"), T.dscalar("s0"), T.dvector("m0")
    outputs = _several(a, B, s0, m0)
    assert [o.ndim for o in outputs] == [1, 1, 2]
    f = sn.function([a, B, s0, m0], outputs, mode=mode)
    for n_a, n_b in ((5, 6), (4, 4), (7, 3)):
        values = [rng.normal(size=n_a), rng.normal(size=(n_b, 3)), rng.normal(), rng.normal(size=3)]
        for got, expected in zip(f(*values), _several_numpy(*values)):
            _close(got, expected)


def test_scan_several_sequences_and_outputs_grad(mode, rng):
    def build(a, B, s0, m0):
        ss, doubled, ms = _several(a, B, s0, m0)
        return T.concatenate([ss, doubled, T.flatten(ms)])

    values = [rng.normal(size=4), rng.normal(size=(5, 3)), np.array(0.3), rng.normal(size=3)]
    sn.verify_grad(build, values, mode=mode)


def _backwards(v, start):
    result, _ = sn.scan(lambda x, s: 0.5 * s + x, sequences=v, outputs_info=start,
                        go_backwards=True)
    return result


def test_scan_go_backwards(mode, rng):
    v, start = T.dvector("v"), T.dscalar("start")
    f = sn.function([v, start], _backwards(v, start), mode=mode)
    _close(f(np.arange(4.0), 0.0), [3.0, 3.5, 2.75, 1.375])
    values = rng.normal(size=6)
    s, expected = 1.5, []
    for x in values[::-1]:
        s = 0.5 * s + x
        expected.append(s)
    _close(f(values, 1.5), expected)


def test_scan_go_backwards_grad(mode, rng):
    sn.verify_grad(_backwards, [rng.normal(size=5), np.array(0.7)], mode=mode)


def _affine_recurrence(start, a, c, n_steps):
    result, _ = sn.scan(lambda x, a, c: a * x + c, outputs_info=start, non_sequences=[a, c],
                        n_steps=n_steps)
    return result


def test_scan_n_steps_without_sequences(mode, rng):
    n = T.lscalar("n")
    (fib, _), _ = sn.scan(lambda x, y: [y, x + y], n_steps=n,
                          outputs_info=[T.constant(np.int64(0)), T.constant(np.int64(1))])
    start, a, c = T.dvector("start"), T.dvector("a"), T.dscalar("c")
    f = sn.function([n, start, a, c], [fib, _affine_recurrence(start, a, c, n)], mode=mode)
    startv, av = rng.normal(size=3), rng.uniform(-1, 1, size=3)
    for steps in (1, 3, 10):
        numbers, xs = f(steps, startv, av, 0.25)
        assert numbers.dtype == np.int64
        np.testing.assert_array_equal(numbers, [1, 1, 2, 3, 5, 8, 13, 21, 34, 55][:steps])
        x, expected = startv, []
        for _ in range(steps):
            x = av * x + 0.25
            expected.append(x)
        _close(xs, np.array(expected))


def test_scan_n_steps_without_sequences_grad(mode, rng):
    sn.verify_grad(lambda start, a, c: _affine_recurrence(start, a, c, 4),
                   [rng.normal(size=3), rng.uniform(-1, 1, size=3), np.array(0.25)], mode=mode)


def _random_walk(seed, steps=3):
    srng = sn.RandomStream(seed)
    walk, updates = sn.scan(lambda total: total + srng.uniform(size=(2,)),
                            outputs_info=T.zeros((2,)), n_steps=steps)
    return walk, updates


def test_scan_random_stream_in_the_step(mode):
    walk, updates = _random_walk(42)
    assert len(updates) == 1
    f = sn.function([], walk, updates=updates, mode=mode)
    first, second = f(), f()
    # the same stream outside a loop draws the same numbers, one row per step
    draws = sn.function([], sn.RandomStream(42).uniform(size=(6, 2)), mode="python")()
    _close(first, np.cumsum(draws[:3], axis=0))
    _close(second, np.cumsum(draws[3:], axis=0))
    # another function from the same seed agrees, on the other backend too
    other_walk, other_updates = _random_walk(42)
    other_mode = "python" if mode == "numba" else "numba"
    again = sn.function([], other_walk, updates=other_updates, mode=other_mode)
    _close(again(), first)
    _close(again(), second)


def test_scan_random_stream_advances_without_explicit_updates(mode):
    walk, _ = _random_walk(5)
    f = sn.function([], walk, mode=mode)
    assert not np.array_equal(f(), f())


def test_scan_step_returning_updates(mode):
    count = sn.shared(np.int64(0), name="count")
    x = T.dvector("x")

    def step(x_t, total):
        return total + x_t, {count: count + 1}

    totals, updates = sn.scan(step, sequences=x, outputs_info=T.constant(0.0))
    assert list(updates) == [count]
    f = sn.function([x], totals, updates=updates, mode=mode)
    _close(f(np.array([1.0, 2.0, 3.0])), [1.0, 3.0, 6.0])
    assert int(count.get_value()) == 3
    f(np.arange(5.0))
    assert int(count.get_value()) == 8


# --- scan: errors ------------------------------------------------------------------------------


def test_scan_bad_n_steps_and_short_sequences_raise(mode):
    v, n = T.dvector("v"), T.lscalar("n")
    totals, _ = sn.scan(lambda x, s: s + x, sequences=v, outputs_info=T.constant(0.0), n_steps=n)
    f = sn.function([v, n], totals, mode=mode)
    _close(f(np.arange(4.0), 2), [0.0, 1.0])
    for steps in (0, -3):
        with pytest.raises(ValueError, match=f"n_steps is {steps}; a scan runs at least one step"):
            f(np.arange(4.0), steps)
    with pytest.raises(ValueError, match=r"sequence 0 \(v\) has 4 elements but n_steps is 5"):
        f(np.arange(4.0), 5)
    _close(f(np.arange(4.0), 4), [0.0, 1.0, 3.0, 6.0])  # the function still works afterwards


def test_scan_state_of_the_wrong_rank_raises_when_built():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"output 0 .* is 0-d but its initial state .* is 1-d"):
        sn.scan(lambda s: s.sum(), outputs_info=x, n_steps=3)
    with pytest.raises(TypeError, match=r"output 0 .* is 2-d but its initial state .* is 1-d"):
        sn.scan(lambda s: T.outer(s, s), outputs_info=x, n_steps=3)


def test_scan_state_of_the_wrong_dtype_raises_when_built():
    with pytest.raises(TypeError, match=r"output 0 .* is float64 but its initial state is int64"):
        sn.scan(lambda s: s * 0.5, outputs_info=T.lscalar("i"), n_steps=3)
    with pytest.raises(TypeError, match=r"is float64 but its initial state is float32"):
        sn.scan(lambda s: T.cast(s, "float64") + 1.0, outputs_info=T.fvector("f"), n_steps=3)
    # a lossless change is cast back to the state's dtype
    result, _ = sn.scan(lambda s: T.cast(s, "int32"), outputs_info=T.dscalar("d"), n_steps=3)
    assert result.dtype == "float64"


def test_scan_state_of_the_wrong_static_shape_raises_when_built():
    start = T.tensor("float64", shape=(3,), name="start")
    with pytest.raises(ValueError, match="length 4 on axis 0 but its initial state has length 3"):
        sn.scan(lambda s: T.concatenate([s, s[:1]]), outputs_info=start, n_steps=2)


def test_scan_wrong_number_of_outputs_raises_when_built():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="fn returned 2 outputs but outputs_info has 1 entries"):
        sn.scan(lambda s: [s, s], outputs_info=[x], n_steps=3)
    with pytest.raises(ValueError, match="give sequences or n_steps"):
        sn.scan(lambda s: s, outputs_info=[x])


def test_scan_state_changing_shape_at_run_time_raises(mode):
    x = T.dvector("x")
    grown, _ = sn.scan(lambda s: T.concatenate([s, s[:1]]), outputs_info=x, n_steps=2)
    f = sn.function([x], grown, mode=mode)
    with pytest.raises(ValueError, match="a state keeps its shape"):
        f(np.ones(3))


# --- ifelse ------------------------------------------------------------------------------------


def test_ifelse_values(mode, rng):
    c, x, y = T.lscalar("c"), T.dvector("x"), T.dvector("y")
    f = sn.function([c, x, y], sn.ifelse(c, x * 2.0, y + 1.0), mode=mode)
    xv, yv = rng.normal(size=3), rng.normal(size=5)
    _close(f(1, xv, yv), xv * 2.0)
    _close(f(0, xv, yv), yv + 1.0)
    _close(f(-4, xv, yv), xv * 2.0)  # any nonzero is true


def _branchy(x, y):
    return sn.ifelse(T.gt(x.sum(), 0.0), x ** 2 * y, T.exp(y) - x)


def test_ifelse_grad(mode, rng):
    y = rng.normal(size=3)
    sn.verify_grad(_branchy, [np.array([0.5, 1.0, 0.2]), y], mode=mode)  # the then branch
    sn.verify_grad(_branchy, [np.array([-0.5, 0.1, -0.3]), y], mode=mode)  # the else branch


def test_ifelse_gradient_of_the_branch_not_taken_is_zero(mode):
    x, y = T.dvector("x"), T.dvector("y")
    cost = sn.ifelse(T.gt(x.sum(), 0.0), T.sum(x ** 2), T.sum(y ** 3))
    f = sn.function([x, y], sn.grad(cost, [x, y]), mode=mode)
    gx, gy = f(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    _close(gx, [2.0, 4.0])
    _close(gy, [0.0, 0.0])
    gx, gy = f(np.array([-1.0, -2.0]), np.array([3.0, 4.0]))
    _close(gx, [0.0, 0.0])
    _close(gy, [27.0, 48.0])


def _shared_value_branches(x, w):
    # both branches read t, computed before the ifelse (t has an owner: the dot)
    t = T.dot(x, w)
    return sn.ifelse(T.gt(T.sum(x), 0.0), T.sum(T.tanh(t)), T.sum(t ** 2) * 0.5)


def test_ifelse_gradient_through_a_value_both_branches_read(mode, rng):
    # the branches' common value was taken for a leaf: grad raised DisconnectedInputError
    w = rng.normal(size=(3, 2))
    sn.verify_grad(_shared_value_branches, [np.array([[0.5, 1.0, 0.2]]), w], mode=mode)
    sn.verify_grad(_shared_value_branches, [np.array([[-0.5, 0.1, -0.3]]), w], mode=mode)


def test_ifelse_is_lazy(mode):
    x, i, n = T.dvector("x"), T.lscalar("i"), T.lscalar("n")
    # the then branch indexes out of range when i is too large; the else branch runs a scan
    # that raises when n < 1
    steps, _ = sn.scan(lambda s: s * 2.0, outputs_info=T.constant(1.0), n_steps=n)
    indexed = sn.ifelse(T.lt(i, x.shape[0]), x[i], -1.0)
    looped = sn.ifelse(T.lt(n, 1), 0.0, steps[-1])
    f = sn.function([x, i, n], [indexed, looped], mode=mode)
    values = np.array([5.0, 6.0])
    got = f(values, 7, 0)
    assert float(got[0]) == -1.0 and float(got[1]) == 0.0
    got = f(values, 1, 3)
    assert float(got[0]) == 6.0 and float(got[1]) == 8.0
    # the branches not taken above raise when they are computed
    eager = sn.function([x, i, n], [x[i], steps[-1]], mode=mode)
    with pytest.raises(IndexError, match="out of bounds"):
        eager(values, 7, 3)
    with pytest.raises(ValueError, match="n_steps"):
        eager(values, 1, 0)


def test_ifelse_several_outputs(mode, rng):
    c, x, y = T.bscalar("c"), T.dvector("x"), T.dvector("y")
    outs = sn.ifelse(c, [x + y, x * y, x.sum()], [x - y, y, T.constant(3.0)])
    assert isinstance(outs, list) and len(outs) == 3
    assert len(_nodes(outs, IfElse)) == 1
    f = sn.function([c, x, y], outs, mode=mode)
    xv, yv = rng.normal(size=4), rng.normal(size=4)
    for got, expected in zip(f(1, xv, yv), [xv + yv, xv * yv, xv.sum()]):
        _close(got, expected)
    for got, expected in zip(f(0, xv, yv), [xv - yv, yv, 3.0]):
        _close(got, expected)

    def build(x, y):
        a, b, s = sn.ifelse(T.gt(x[0], 0.0), [x + y, x * y, x.sum()], [x - y, y, T.sum(y ** 2)])
        return T.concatenate([a, b, T.stack([s])])

    sn.verify_grad(build, [np.array([0.5, -1.0]), yv[:2]], mode=mode)
    sn.verify_grad(build, [np.array([-0.5, -1.0]), yv[:2]], mode=mode)


def test_ifelse_mismatched_branches_raise():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="1-d in the then branch .* but 2-d in the else branch"):
        sn.ifelse(T.constant(1), x, T.outer(x, x))
    with pytest.raises(ValueError, match="the then branch has 2 outputs, the else branch 1"):
        sn.ifelse(T.constant(1), [x, x], [x])
    with pytest.raises(TypeError, match="the condition must be a scalar"):
        sn.ifelse(x, x, x)


# --- rewrites ----------------------------------------------------------------------------------


def test_local_scan_unused_outputs_drops_unread_outputs(rng):
    a, B, s0, m0 = T.dvector("a"), T.dmatrix("B"), T.dscalar("s0"), T.dvector("m0")
    _, doubled, ms = _several(a, B, s0, m0)
    (before,) = _nodes(doubled, Scan)
    assert len(before.outputs) == 3
    # `doubled` reads the state s, not m: m goes, s stays as a state without its history
    after = rewrite_graph(doubled, passes=("canonicalize",))
    (node,) = _nodes(after, Scan)
    assert len(node.outputs) == 2
    assert (node.op.n_states, node.op.n_outs, node.op.stacked) == (1, 1, (False,))
    # `ms` alone reads neither s nor `doubled`
    (node,) = _nodes(rewrite_graph(ms, passes=("canonicalize",)), Scan)
    assert (len(node.outputs), node.op.n_states, node.op.n_outs) == (1, 1, 0)
    # the values are those of the scan as built, on both backends
    values = [rng.normal(size=5), rng.normal(size=(5, 3)), rng.normal(), rng.normal(size=3)]
    expected = _several_numpy(*values)
    for mode in ("python", "numba"):
        f = sn.function([a, B, s0, m0], [doubled, ms], mode=mode)
        # one loop for both; the history of s is not read
        (node,) = _nodes(f.fgraph.outputs, Scan)
        assert (node.op.n_states, node.op.n_outs, node.op.stacked) == (2, 1, (False, True))
        got = f(*values)
        _close(got[0], expected[1])
        _close(got[1], expected[2])


def test_local_scan_unused_outputs_in_a_gradient(rng):
    # grad wrt the weights only: the backward scan's gradient of the sequence is not read
    X, b = T.dtensor3("X"), T.dvector("b")
    W, U, h0 = T.dmatrices("W", "U", "h0")
    cost = T.sum(_rnn(X, W, U, b, h0)[-1] ** 2)
    gW = sn.grad(cost, W)
    # as built: the adjoint of h and the gradients of W, U, b (states), dX (stacked)
    (before,) = [n for n in _nodes(gW, Scan) if n.op.reverse]
    assert (before.op.n_states, before.op.n_outs) == (4, 1)
    # after: only the adjoint of h (which dW needs) and dW
    after = rewrite_graph(gW, passes=("canonicalize",))
    (backward,) = [n for n in _nodes(after, Scan) if n.op.reverse]
    assert (backward.op.n_states, backward.op.n_outs, len(backward.outputs)) == (2, 0, 2)
    values = _rnn_values(rng, 6)
    expected = sn.function([X, W, U, b, h0], gW, mode="python", on_unused_input="ignore",
                           exclude=("local_scan_unused_outputs",))(*values)
    got = sn.function([X, W, U, b, h0], gW, mode="python", on_unused_input="ignore")(*values)
    _close(got, expected)


def _two_states(X, W, h0, c0):
    """An LSTM-like loop: the cost reads the history of h only, c is a state nothing reads."""

    def step(x_t, h, c, W):
        new_c = 0.5 * c + T.tanh(T.dot(x_t, W) + h)
        return [0.9 * T.tanh(new_c), new_c]

    (hs, _), _ = sn.scan(step, sequences=X, outputs_info=[h0, c0], non_sequences=[W])
    return hs


def test_local_scan_merge_stacking_runs_the_forward_loop_once(rng):
    # the forward scan keeps c's final value only; its gradient needs a scan stacking every
    # state: the loop ran (and compiled) twice, now once, reading c's last step from the other
    X, W, h0, c0 = T.dtensor3("X"), T.dmatrix("W"), T.dmatrix("h0"), T.dmatrix("c0")
    cost = T.sum(_two_states(X, W, h0, c0)[-1] ** 2)
    outputs = [cost, *sn.grad(cost, [W, X, c0])]
    merged = sn.function([X, W, h0, c0], outputs, mode="python")
    separate = sn.function([X, W, h0, c0], outputs, mode="python",
                           exclude=("local_scan_merge_stacking",))
    forward = [n for n in _nodes(merged.fgraph.outputs, Scan) if not n.op.reverse]
    assert [n.op.stacked for n in forward] == [(True, True)]
    forward = [n for n in _nodes(separate.fgraph.outputs, Scan) if not n.op.reverse]
    assert sorted(n.op.stacked for n in forward) == [(True, False), (True, True)]
    values = [rng.normal(size=(5, 2, 3)), rng.normal(size=(3, 4)) * 0.5,
              rng.normal(size=(2, 4)), rng.normal(size=(2, 4))]
    expected = separate(*values)
    for f in (merged, sn.function([X, W, h0, c0], outputs)):
        for got, want in zip(f(*values), expected):
            _close(got, want)


def test_local_scan_merge_stacking_of_a_reverse_scan(rng):
    # a second-order gradient differentiates the backward (reverse) scan, whose gradient sums
    # are final states the first-order gradients read: they become the stacked loop's values
    # at index 0, where a reverse scan stores its last step
    X, b = T.dtensor3("X"), T.dvector("b")
    W, U, h0 = T.dmatrices("W", "U", "h0")
    grads = sn.grad(T.sum(_rnn(X, W, U, b, h0)[-1] ** 2), [W, U, b, h0])
    outputs = [*grads, sn.grad(sum(T.sum(g ** 2) for g in grads), W)]
    merged = sn.function([X, W, U, b, h0], outputs, mode="python")
    separate = sn.function([X, W, U, b, h0], outputs, mode="python",
                           exclude=("local_scan_merge_stacking",))

    def backward_scans(f):
        return sorted(n.op.stacked for n in _nodes(f.fgraph.outputs, Scan)
                      if n.op.reverse and n.op.n_states == 4)

    assert backward_scans(separate) == [(False,) * 4, (True,) * 4]
    assert backward_scans(merged) == [(True,) * 4]
    values = _rnn_values(rng, 4)
    for got, want in zip(merged(*values), separate(*values)):
        _close(got, want)


def test_local_ifelse_unused_outputs_drops_unread_outputs(rng):
    c, x, y, z = T.lscalar("c"), T.dvector("x"), T.dvector("y"), T.dvector("z")
    outs = sn.ifelse(c, [x + y, T.exp(z), x * 2.0], [x - y, z, T.log(y ** 2)])
    (node,) = _nodes(outs, IfElse)
    assert len(node.outputs) == 3 and len(node.inputs) == 4
    after = rewrite_graph(outs[2], passes=("canonicalize",))
    (node,) = _nodes(after, IfElse)
    # only x (then) and y (else) are read now
    assert len(node.outputs) == 1 and len(node.inputs) == 3
    xv, yv, zv = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    for mode in ("python", "numba"):
        f = sn.function([c, x, y, z], outs[2], mode=mode, on_unused_input="ignore")
        (node,) = _nodes(f.fgraph.outputs, IfElse)
        assert len(node.outputs) == 1
        _close(f(1, xv, yv, zv), xv * 2.0)
        _close(f(0, xv, yv, zv), np.log(yv ** 2))


# --- jacobian and hessian ----------------------------------------------------------------------
# (tests/test_grad.py checks the jacobian of x ** 2 and the hessian of a quadratic form)


def test_jacobian_of_an_intermediate_vector_wrt_a_vector_and_a_matrix(mode, rng):
    W, x = T.dmatrix("W"), T.dvector("x")
    y = T.dot(W, x)
    J_x, J_W = sn.jacobian(y ** 2, [x, W])
    f = sn.function([W, x], [J_x, J_W], mode=mode)
    Wv, xv = rng.normal(size=(3, 4)), rng.normal(size=4)
    got_x, got_W = f(Wv, xv)
    yv = Wv @ xv
    _close(got_x, 2.0 * np.diag(yv) @ Wv)
    expected = np.zeros((3, 3, 4))
    for i in range(3):
        expected[i, i] = 2.0 * yv[i] * xv
    assert got_W.shape == (3, 3, 4)
    _close(got_W, expected)


def test_hessian_of_sum_of_squares_and_of_logsumexp(mode, rng):
    x = T.dvector("x")
    H_squares = sn.hessian(T.sum(x ** 2), x)
    H_lse = sn.hessian(T.logsumexp(x), x)
    f = sn.function([x], [H_squares, H_lse], mode=mode)
    xv = rng.normal(size=4)
    squares, lse = f(xv)
    _close(squares, 2.0 * np.eye(4))
    p = np.exp(xv - xv.max())
    p /= p.sum()
    _close(lse, np.diag(p) - np.outer(p, p), atol=1e-15)


def test_hessian_wrt_a_matrix(mode, rng):
    W = T.dmatrix("W")
    H = sn.hessian(T.sum(W ** 3), W)
    Wv = rng.normal(size=(2, 3))
    got = sn.function([W], H, mode=mode)(Wv)
    expected = np.zeros((2, 3, 2, 3))
    for i in range(2):
        for j in range(3):
            expected[i, j, i, j] = 6.0 * Wv[i, j]
    _close(got, expected)


def test_hessian_of_a_cost_linear_in_an_input_is_zero(mode):
    # regression: the jacobian of the gradient raised DisconnectedInputError when the gradient
    # does not depend on the input (here the gradient wrt y is x ** 2)
    x, y = T.dvector("x"), T.dvector("y")
    H_x, H_y = sn.hessian(T.sum(x ** 2 * y), [x, y])
    H_linear = sn.hessian(T.sum(3.0 * y), y)
    f = sn.function([x, y], [H_x, H_y, H_linear], mode=mode)
    got_x, got_y, got_linear = f(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    _close(got_x, np.diag([6.0, 8.0]))
    _close(got_y, np.zeros((2, 2)))
    _close(got_linear, np.zeros((2, 2)))
    # a cost that does not depend on the input at all still raises
    with pytest.raises(sn.DisconnectedInputError, match="does not depend on variable 'y'"):
        sn.hessian(T.sum(x ** 2), y)
