"""Tests for symnet/grad.py: the reverse-mode driver (structure, accumulation, un-broadcasting,
disconnected and integer inputs, consider_constant, shared variables, higher derivatives) and
verify_grad itself."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.graph import Apply, Op, TensorType

# --- structure -----------------------------------------------------------------------------------


def test_grad_of_one_variable_returns_a_variable(mode):
    x = T.dscalar("x")
    g = sn.grad(x ** 2, x)
    assert isinstance(g, sn.Variable) and g.dtype == "float64" and g.ndim == 0
    assert sn.function([x], g, mode=mode)(3.0) == 6.0


def test_grad_of_a_list_returns_a_list(mode):
    x, y = T.dscalars("x", "y")
    grads = sn.grad(x * y + y, [x, y])
    assert isinstance(grads, list) and len(grads) == 2
    gx, gy = sn.function([x, y], grads, mode=mode)(2.0, 5.0)
    assert gx == 5.0 and gy == 3.0
    (only,) = sn.grad(x * y, [x])
    assert isinstance(only, sn.Variable)
    assert sn.grad(x * y, (x, y)).__class__ is list


def test_gradients_have_the_shape_and_dtype_of_wrt(mode):
    x = T.dmatrix("x")
    f = T.fvector("f")
    gx, gf = sn.grad(T.sum(T.exp(x)) + T.sum(T.cast(f, "float64") ** 2), [x, f])
    assert gx.dtype == "float64" and gx.ndim == 2
    assert gf.dtype == "float32" and gf.ndim == 1
    vx, vf = sn.function([x, f], [gx, gf], mode=mode)(np.zeros((2, 3)),
                                                      np.array([1.0, 2.0], dtype="float32"))
    np.testing.assert_allclose(vx, np.ones((2, 3)))
    assert vf.dtype == np.float32
    np.testing.assert_allclose(vf, [2.0, 4.0])


def test_grad_is_pure():
    x = T.dvector("x")
    cost = T.sum(T.tanh(x) * x)
    assert sn.pp(sn.grad(cost, x)) == sn.pp(sn.grad(cost, x))


def test_non_scalar_cost_raises_naming_the_ndim():
    x = T.dmatrix("x")
    with pytest.raises(TypeError, match=r"scalar \(0-d\), got a 2-d float64\(\?, \?\)"):
        sn.grad(x * 2, x)
    v = T.dvector("v")
    with pytest.raises(TypeError, match="got a 1-d"):
        sn.grad(v, v)


def test_integer_cost_raises():
    i = T.iscalar("i")
    with pytest.raises(TypeError, match="cost must be a float"):
        sn.grad(i * 2, i)


def test_wrt_must_be_variables():
    x = T.dscalar("x")
    with pytest.raises(TypeError, match="wrt must be symbolic variables"):
        sn.grad(x * 2, [x, 3.0])


# --- accumulation and un-broadcasting -----------------------------------------------------------


def test_variable_used_twice_accumulates(mode):
    x = T.dscalar("x")
    cost = x * x + T.sin(x) * x + 3 * x
    g = sn.grad(cost, x)
    value = 0.7
    expected = 2 * value + np.cos(value) * value + np.sin(value) + 3
    assert sn.function([x], g, mode=mode)(value) == pytest.approx(expected)


def test_variable_used_by_many_nodes(mode):
    x = T.dvector("x")
    cost = T.sum(x)
    for k in range(1, 6):
        cost = cost + T.sum(x * k)
    g = sn.grad(cost, x)
    np.testing.assert_allclose(sn.function([x], g, mode=mode)(np.zeros(3)), np.full(3, 16.0))


def test_static_broadcasting_is_summed_back(mode):
    a = T.tensor("float64", shape=(3, 1), name="a")
    b = T.tensor("float64", shape=(1, 4), name="b")
    ga, gb = sn.grad(T.sum((a + b) * b), [a, b])
    assert ga.type.shape == (3, 1) and gb.type.shape == (1, 4)
    av = np.arange(3.0).reshape(3, 1)
    bv = np.arange(4.0).reshape(1, 4) + 1
    got_a, got_b = sn.function([a, b], [ga, gb], mode=mode)(av, bv)
    np.testing.assert_allclose(got_a, np.full((3, 1), bv.sum()))
    np.testing.assert_allclose(got_b, (av + 2 * bv).sum(axis=0, keepdims=True))


def test_runtime_broadcasting_is_summed_back(mode):
    """Shapes unknown at build time: (3, 1) and (1, 4) values fed to (None, None) inputs."""
    a, b = T.dmatrices("a", "b")
    ga, gb = sn.grad(T.sum((a * b) ** 2), [a, b])
    f = sn.function([a, b], [ga, gb], mode=mode)
    av = np.array([[1.0], [2.0], [3.0]])
    bv = np.array([[0.5, 1.0, 1.5, 2.0]])
    got_a, got_b = f(av, bv)
    assert got_a.shape == (3, 1) and got_b.shape == (1, 4)
    np.testing.assert_allclose(got_a, (2 * av * bv ** 2).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(got_b, (2 * av ** 2 * bv).sum(axis=0, keepdims=True))
    # the same compiled function without broadcasting
    got_a, got_b = f(np.ones((2, 2)), np.full((2, 2), 3.0))
    np.testing.assert_allclose(got_a, np.full((2, 2), 18.0))
    np.testing.assert_allclose(got_b, np.full((2, 2), 6.0))


def test_rank_broadcasting_is_summed_back(mode):
    v = T.dvector("v")
    m = T.dmatrix("m")
    s = T.dscalar("s")
    gv, gs = sn.grad(T.sum(m * v + s), [v, s])
    got_v, got_s = sn.function([m, v, s], [gv, gs], mode=mode)(np.arange(6.0).reshape(2, 3),
                                                               np.ones(3), 0.0)
    np.testing.assert_allclose(got_v, [3.0, 5.0, 7.0])
    assert got_s.shape == () and got_s == 6.0


def test_gradient_wrt_an_intermediate_variable(mode):
    x = T.dvector("x")
    h = T.exp(x)
    cost = T.sum(h * 3.0)
    gh, gx = sn.grad(cost, [h, x])
    got_h, got_x = sn.function([x], [gh, gx], mode=mode)(np.zeros(2))
    np.testing.assert_allclose(got_h, [3.0, 3.0])
    np.testing.assert_allclose(got_x, [3.0, 3.0])


# --- disconnected and integer inputs --------------------------------------------------------------


def test_disconnected_input_raises():
    x, y = T.dvectors("x", "y")
    with pytest.raises(sn.DisconnectedInputError, match=r"does not depend on variable 'y'"):
        sn.grad(T.sum(x), [x, y])
    assert issubclass(sn.DisconnectedInputError, ValueError)


def test_disconnected_input_ignore_gives_zeros(mode):
    x, y = T.dvectors("x", "y")
    gx, gy = sn.grad(T.sum(x * 2), [x, y], disconnected_inputs="ignore")
    got_x, got_y = sn.function([x, y], [gx, gy], mode=mode)(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(got_x, [2.0, 2.0])
    np.testing.assert_array_equal(got_y, np.zeros(3))


def test_disconnected_input_warn_gives_zeros(mode):
    x, y = T.dscalars("x", "y")
    with pytest.warns(sn.SymnetWarning, match="does not depend on variable 'y'"):
        gy = sn.grad(x * 2, y, disconnected_inputs="warn")
    assert sn.function([y], gy, mode=mode, on_unused_input="ignore")(5.0) == 0.0


def test_disconnected_inputs_value_is_checked():
    x = T.dscalar("x")
    with pytest.raises(ValueError, match="disconnected_inputs must be"):
        sn.grad(x, x, disconnected_inputs="maybe")


def test_integer_inputs_get_no_gradient(mode):
    x = T.dvector("x")
    i = T.ivector("i")
    cost = T.sum(x * i)
    with pytest.raises(sn.DisconnectedInputError, match="'i' .*integer"):
        sn.grad(cost, i)
    gx, gi = sn.grad(cost, [x, i], disconnected_inputs="ignore")
    got_x, got_i = sn.function([x, i], [gx, gi], mode=mode)(np.ones(2), np.array([3, 4], "int32"))
    np.testing.assert_array_equal(got_x, [3.0, 4.0])
    np.testing.assert_array_equal(got_i, [0.0, 0.0])


def test_gradient_flows_around_integer_paths(mode):
    x = T.dvector("x")
    k = T.cast(T.floor(x), "int32")  # an integer intermediate: no gradient through it
    cost = T.sum(x * k)
    g = sn.grad(cost, x)
    np.testing.assert_array_equal(sn.function([x], g, mode=mode)(np.array([1.5, 2.5])), [1.0, 2.0])


def test_op_without_gradient_raises():
    @dataclass(frozen=True)
    class NoGrad(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type()])

        def perform(self, inputs):
            return [inputs[0].copy()]

    x = T.dscalar("x")
    with pytest.raises(TypeError, match="has no gradient"):
        sn.grad(NoGrad()(x) * 2, x)


# --- consider_constant and known_grads ------------------------------------------------------------


def test_consider_constant(mode):
    x = T.dscalar("x")
    h = x * x
    cost = h * x
    assert sn.function([x], sn.grad(cost, x), mode=mode)(2.0) == 12.0
    g = sn.grad(cost, x, consider_constant=[h])
    assert sn.function([x], g, mode=mode)(2.0) == 4.0  # d(h * x)/dx with h fixed


def test_consider_constant_input_cuts_everything():
    x = T.dscalar("x")
    with pytest.raises(sn.DisconnectedInputError):
        sn.grad(T.exp(x), x, consider_constant=[x])


def test_known_grads(mode):
    x = T.dvector("x")
    h = x * 3.0
    g = sn.grad(None, x, known_grads={h: T.constant(np.array([1.0, 2.0]))})
    np.testing.assert_array_equal(sn.function([x], g, mode=mode)(np.zeros(2)), [3.0, 6.0])


# --- shared variables ----------------------------------------------------------------------------


def test_shared_variables_as_wrt_with_sgd_update(mode):
    rng = np.random.default_rng(0)
    true_w = np.array([2.0, -3.0])
    xs = rng.normal(size=(50, 2))
    ys = xs @ true_w + 0.5
    w = sn.shared(np.zeros(2), name="w")
    b = sn.shared(0.0, name="b")
    x = T.dmatrix("x")
    y = T.dvector("y")
    prediction = T.sum(x * w, axis=1) + b
    loss = T.mean((prediction - y) ** 2)
    gw, gb = sn.grad(loss, [w, b])
    assert gw.ndim == 1 and gb.ndim == 0
    lr = 0.1
    train = sn.function([x, y], loss, updates=[(w, w - lr * gw), (b, b - lr * gb)], mode=mode)
    first = float(train(xs, ys))
    # the first step is exactly the hand-computed gradient step
    residual = -ys
    np.testing.assert_allclose(w.get_value(), -lr * 2 * xs.T @ residual / 50)
    np.testing.assert_allclose(b.get_value(), -lr * 2 * residual.mean())
    for _ in range(200):
        last = float(train(xs, ys))
    assert last < first * 1e-6
    np.testing.assert_allclose(w.get_value(), true_w, atol=1e-4)
    np.testing.assert_allclose(b.get_value(), 0.5, atol=1e-4)


# --- higher derivatives ------------------------------------------------------------------------


def test_second_derivative_of_sin(mode):
    x = T.dscalar("x")
    d2 = sn.grad(sn.grad(T.sin(x), x), x)
    f = sn.function([x], d2, mode=mode)
    for value in (-1.0, 0.3, 2.0):
        assert f(value) == pytest.approx(-np.sin(value), rel=1e-12)


def test_third_derivative_of_a_polynomial(mode):
    x = T.dscalar("x")
    d = x ** 4 + 2 * x ** 3
    for _ in range(3):
        d = sn.grad(d, x)
    assert sn.function([x], d, mode=mode)(2.0) == pytest.approx(24 * 2.0 + 12)


def test_hessian_vector_product_of_a_quadratic_form(mode):
    x = T.dvector("x")
    v = T.dvector("v")
    A = T.dmatrix("A")
    f = 0.5 * T.dot(x, T.dot(A, x))
    g = sn.grad(f, x)
    hv = sn.grad(T.dot(g, v), x)
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    a = a + a.T  # symmetric: the Hessian of 0.5 x'Ax is A
    xv, vv = rng.normal(size=4), rng.normal(size=4)
    got_g, got_hv = sn.function([x, A, v], [g, hv], mode=mode)(xv, a, vv)
    np.testing.assert_allclose(got_g, a @ xv)
    np.testing.assert_allclose(got_hv, a @ vv)


def test_grad_of_grad_verifies():
    sn.verify_grad(lambda x: sn.grad(T.sum(T.tanh(x) ** 2), x), [np.array([0.3, -0.7, 1.1])],
                   mode="python")


# --- verify_grad -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Square(Op):
    """x ** 2 with a selectable (possibly wrong) gradient, to test verify_grad."""

    wrong: bool = False

    def make_node(self, x):
        x = T.as_tensor(x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, inputs):
        (x,) = inputs
        return [np.asarray(x * x)]

    def numba_impl(self, node, names):
        (x,) = names
        return f"({x} * {x})"

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        if self.wrong:
            return [gz * x]  # missing the factor 2
        return [gz * 2 * x]


def test_verify_grad_accepts_a_right_gradient(mode):
    sn.verify_grad(lambda x: Square()(x), [np.array([0.5, -1.0, 2.0])], mode=mode)


def test_verify_grad_catches_a_wrong_gradient(mode):
    with pytest.raises(AssertionError, match=r"gradient of input 0 .* is wrong at position"):
        sn.verify_grad(lambda x: Square(wrong=True)(x), [np.array([0.5, -1.0, 2.0])], mode=mode)


def test_verify_grad_names_the_wrong_input():
    def build(a, b):
        return a * 3.0 + Square(wrong=True)(b)

    with pytest.raises(AssertionError, match=r"input 1 \(shape \(2,\)\)"):
        sn.verify_grad(build, [np.array([1.0, 2.0]), np.array([1.0, 2.0])], mode="python")


def test_verify_grad_several_inputs_and_shapes():
    sn.verify_grad(lambda a, b, c: T.sum(a * b, axis=1) * c,
                   [np.ones((2, 3)), np.arange(3.0), np.float64(0.5)], mode="python")


def test_verify_grad_is_seeded():
    # the same random projection each time: deterministic pass/fail
    def build(x):
        return T.exp(x)

    sn.verify_grad(build, [np.array([0.1, 0.2])], rng=7, mode="python")
    sn.verify_grad(build, [np.array([0.1, 0.2])], rng=np.random.default_rng(7), mode="python")


# --- jacobian and hessian (built on scan) ---------------------------------------------------------


def test_jacobian(mode):
    x = T.dvector("x")
    J = sn.jacobian(x ** 2, x)
    value = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(sn.function([x], J, mode=mode)(value), np.diag(2 * value))


def test_hessian(mode):
    x = T.dvector("x")
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    H = sn.hessian(0.5 * T.dot(x, T.dot(T.constant(A), x)), x)
    np.testing.assert_allclose(sn.function([x], H, mode=mode)(np.ones(2)), A)


def test_no_warnings_from_plain_grad():
    x = T.dscalar("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sn.grad(x ** 2, x)
