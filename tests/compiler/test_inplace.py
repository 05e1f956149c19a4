"""The inplace pass (symnet/compiler/rewrite/inplace.py): which loops write into an existing
buffer, and that doing so never changes a result, a caller's array or a failed call's state."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.ops.elemwise import FusedElemwise


def _inplace_nodes(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise) and n.op.inplace]


def _step(mode, exclude=()):
    """Two shared weights; V's update also reads V.T (a view of V), so it cannot be in place."""
    W = sn.shared(np.arange(6.0).reshape(2, 3) / 10, name="W", shape=(2, 3))
    V = sn.shared(np.arange(4.0).reshape(2, 2) / 10, name="V", shape=(2, 2))
    x = T.dmatrix("x")
    h = T.tanh(T.dot(x, W.T))  # tanh writes into the product's buffer
    cost = T.sum(h ** 2) + T.sum(T.dot(V, W) ** 2)
    gW, gV = sn.grad(cost, [W, V])
    f = sn.function([x], [cost, h], updates=[(W, W - 0.1 * gW), (V, V - 0.1 * gV + 0.01 * V.T)],
                    mode=mode, exclude=exclude)
    return f, W, V


@pytest.fixture(scope="module")
def steps():
    return _step("numba"), _step("python")


def test_updates_and_intermediates_are_written_in_place(steps):
    (f, W, V), _ = steps
    fired = {k: v for p in f.report.passes if p.name == "inplace" for k, v in p.fired.items()}
    assert fired.get("inplace_update") == 1, fired
    assert fired.get("inplace_intermediate", 0) >= 1, fired
    destroyed = [n.inputs[k] for n in _inplace_nodes(f) for _, k in n.op.inplace]
    assert any(v.owner is None and v.name == "W" for v in destroyed)
    assert not any(v.owner is None and v.name == "V" for v in destroyed)  # reads V.T
    assert "else np.empty" in f.source


def test_in_place_results_equal_the_reference(steps, rng):
    (f, W, V), (ref, W_ref, V_ref) = steps
    held = W.get_value(borrow=True)
    for _ in range(3):
        x = rng.standard_normal((4, 3))
        x_copy = x.copy()
        got, expected = f(x), ref(x)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-12)
        np.testing.assert_allclose(W.get_value(), W_ref.get_value(), rtol=1e-12)
        np.testing.assert_allclose(V.get_value(), V_ref.get_value(), rtol=1e-12)
        np.testing.assert_array_equal(x, x_copy)
    # the update went into W's own buffer (as in Theano, a borrowed value sees it)
    assert W.get_value(borrow=True) is held


def test_failed_call_leaves_in_place_targets_untouched(steps):
    (f, W, V), _ = steps
    before = W.get_value(), V.get_value()
    with pytest.raises(ValueError):
        f(np.ones((4, 2)))  # x @ W.T does not align
    np.testing.assert_array_equal(W.get_value(), before[0])
    np.testing.assert_array_equal(V.get_value(), before[1])


def test_inplace_can_be_switched_off():
    f, _, _ = _step("numba", exclude=("inplace",))
    assert not _inplace_nodes(f)


def test_no_in_place_write_to_inputs_outputs_or_unknown_shapes(rng):
    x = T.dmatrix("x")
    S = sn.shared(np.ones((2, 2)), name="S")  # no static shape: the update allocates
    f = sn.function([x], [T.exp(x), S * 1.0], updates=[(S, S * 2.0)])
    assert not [n for n in _inplace_nodes(f) if any(n.inputs[k].owner is None
                                                    for _, k in n.op.inplace)]
    value = rng.standard_normal((2, 2))
    copy = value.copy()
    e, s = f(value)
    np.testing.assert_array_equal(value, copy)
    np.testing.assert_allclose(e, np.exp(value))
    np.testing.assert_array_equal(s, np.ones((2, 2)))
    np.testing.assert_array_equal(S.get_value(), 2 * np.ones((2, 2)))


def test_shared_value_that_is_also_an_output_is_not_overwritten():
    W = sn.shared(np.ones(3), name="W", shape=(3,))
    f = sn.function([], W, updates=[(W, W + 1.0)])
    np.testing.assert_array_equal(f(), np.ones(3))
    np.testing.assert_array_equal(f(), 2 * np.ones(3))


def test_read_only_shared_values_are_copied_on_the_way_in():
    value = np.ones(3)
    value.flags.writeable = False
    W = sn.shared(value, name="W", shape=(3,), borrow=True)
    W.set_value(value, borrow=True)
    f = sn.function([], [], updates=[(W, W * 2.0)])
    f()
    np.testing.assert_array_equal(value, np.ones(3))
    np.testing.assert_array_equal(W.get_value(), 2 * np.ones(3))


@pytest.mark.parametrize("mode", ["numba", "python"])
def test_loop_invariant_values_are_never_overwritten_inside_scan(mode):
    """dot(A, B) is hoisted out of the loop and read by every step: a step writing its sum with
    the state into that buffer would change what the next step reads."""
    A, B, h0 = T.dmatrix("A"), T.dmatrix("B"), T.dmatrix("h0")
    hs, _ = sn.scan(lambda h, a, b: h + T.dot(a, b), outputs_info=h0, non_sequences=[A, B],
                    n_steps=3)
    f = sn.function([A, B, h0], hs[-1], mode=mode)
    a, b, h = np.eye(2) * 2.0, np.ones((2, 2)), np.zeros((2, 2))
    np.testing.assert_allclose(f(a, b, h), 3 * (a @ b))


def test_output_smaller_than_its_loop_is_not_written_over_its_input():
    """exp(k) and exp(k) + x in one loop, k a fresh (1, 1) product: exp(k) went into k's buffer
    and, written at every position of the (3, 3) loop, was computed again from the value
    written before (inf came out)."""
    A, B, x = T.dmatrix("A"), T.dmatrix("B"), T.dmatrix("x")
    k = T.dot(A, B)
    f = sn.function([A, B, x], [T.exp(k), T.exp(k) + x])
    assert _inplace_nodes(f)  # planned; the loop checks the shapes at run time
    a, b = np.array([[0.3, -0.1]]), np.array([[1.0], [2.0]])
    for xv in (np.ones((3, 3)), np.ones((0, 3)), np.full((1, 1), 2.0)):
        got = f(a, b, xv)
        np.testing.assert_allclose(got[0], np.exp(a @ b), rtol=1e-12)
        np.testing.assert_allclose(got[1], np.exp(a @ b) + xv, rtol=1e-12)
