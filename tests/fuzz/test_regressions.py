"""Minimal cases of the bugs the fuzzer (tests/fuzz/test_fuzz.py) found, each checked on both
backends against NumPy."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T


def check(inputs, output, values, want, mode):
    got = sn.function(inputs, output, mode=mode, on_unused_input="ignore")(*values)
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_float_minus_bool(mode):
    """canonicalize rewrote x - b into x + (-b), and booleans have no negation."""
    x = T.dscalar("x")
    check([x], x - T.eq(x, x), [np.float64(1.0)], np.float64(1.0) - True, mode)
    v = T.dvector("v")
    check([v], v - T.gt(v, 0), [np.array([-1.0, 2.0])], np.array([-1.0, 1.0]), mode)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_maximum_of_int32_and_float32_is_float64(mode):
    """Numba typed np.maximum(int32, float32) as float32 inside fused loops, so the float64
    product after it was computed in float32."""
    i, f = T.tensor("int32", shape=(), name="i"), T.tensor("float32", shape=(), name="f")
    a, b = np.int32(0), np.float32(1.8018547)
    check([i, f], i + f * T.maximum(i, f), [a, b], a + b * np.maximum(a, b), mode)
    big = np.int32(16777217)  # not a float32
    check([i, f], T.minimum(i, f) * 1.0, [big, np.float32(3e7)], np.minimum(big, np.float32(3e7)),
          mode)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_set_subtensor_gradient_with_repeated_indices(mode):
    """Only the last of several writes to one position reaches the output; the gradient of
    the written values gave every write the output's gradient."""
    sn.verify_grad(lambda x, v: T.set_subtensor(x[[2, 0, 2, 1, 0]], v),
                   [np.arange(4.0), np.array([1.0, 2, 3, 4, 5])], mode=mode)
    if mode == "python":  # the same op in numba; each verify_grad there compiles 3 kernels
        sn.verify_grad(lambda x: T.set_subtensor(x[[0, 0]], x), [np.array([0.54784675])],
                       mode=mode)
        sn.verify_grad(lambda x, v: T.set_subtensor(x[[1, 1], [2, 2]], v),
                       [np.ones((2, 3)), np.array([1.0, 2])], mode=mode)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_fused_output_of_some_inputs_when_another_input_is_empty(mode):
    """A fused loop with an output that reads only some of its inputs ran over the broadcast
    of all of them: (0,) with (1,) is an empty loop, so that output, of shape (1,) by itself,
    was never written (uninitialised memory came back)."""
    x = T.tensor("float64", shape=(1,), name="x")
    empty = x[x > 2.0]
    value = np.array([-1.25915452])
    outs = [T.switch(T.eq(empty, x), x, ~T.eq(x, x)), T.switch(T.eq(x, x), x, x * 3.0)]
    f = sn.function([x], outs, mode=mode)
    got = f(value)
    assert got[0].shape == (0,)
    np.testing.assert_array_equal(got[1], value)
    if mode == "numba":
        assert sum("Fused" in line and "#" in line for line in f.source.splitlines()) == 2
    # two dimensions, with broadcasting inside the output's own inputs
    a, b, c = T.dmatrix("a"), T.dmatrix("b"), T.dmatrix("c")
    av, bv, cv = np.zeros((0, 3)), np.array([[0.5, -1.0, 2.0]]), np.array([[1.5]])
    shared_step = T.exp(b) * c
    f = sn.function([a, b, c], [a + shared_step, shared_step * 2.0 + b], mode=mode)
    if mode == "numba":  # one loop with both outputs
        assert [line for line in f.source.splitlines() if "Fused" in line and "#" in line] == [
            "    # t0_0, t0_1 = Fused{exp,mul,add,mul,add}"]
    got = f(av, bv, cv)
    assert got[0].shape == (0, 3)
    np.testing.assert_allclose(got[1], np.exp(bv) * cv * 2.0 + bv, rtol=1e-12)
