"""Tests for symnet/compiler/function.py: the whole call contract of ``function()`` (API.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.compiler.function import MissingInputError, UnusedInputError

# --- arguments ---------------------------------------------------------------------------------


def test_theano_in_defaults_example(mode):
    x, y, w = T.dscalars("x", "y", "w")
    z = (x + y) * w
    f = sn.function([x, sn.In(y, value=1), sn.In(w, value=2, name="weight")], z, mode=mode)
    assert f(23, 2) == 50.0
    assert f(23, 2, weight=4) == 100.0
    assert f(33) == 68.0
    assert f(33, 0, 1) == 33.0
    assert f(x=1, y=2, weight=3) == 9.0
    assert f(2, weight=10) == 30.0
    result = f(23, 2)
    assert isinstance(result, np.ndarray) and result.shape == () and result.dtype == np.float64


def test_positional_and_keyword_arguments(mode):
    a, b = T.dvectors("a", "b")
    f = sn.function([a, b], a - b, mode=mode)
    av, bv = np.array([5.0, 6.0]), np.array([1.0, 2.0])
    expected = av - bv
    np.testing.assert_array_equal(f(av, bv), expected)
    np.testing.assert_array_equal(f(av, b=bv), expected)
    np.testing.assert_array_equal(f(a=av, b=bv), expected)
    np.testing.assert_array_equal(f(b=bv, a=av), expected)


def test_in_name_replaces_the_variable_name_as_keyword():
    x = T.dscalar("x")
    f = sn.function([sn.In(x, name="first")], x * 2, mode="python")
    assert f(first=2.0) == 4.0
    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        f(x=2.0)


def test_unnamed_inputs_are_positional_only():
    x = T.dscalar()
    f = sn.function([x], x + 1, mode="python")
    assert f(1.0) == 2.0
    with pytest.raises(TypeError, match="unexpected keyword"):
        f(x=1.0)


def test_in_default_vectors_are_not_shared_with_outputs(mode):
    v = T.dvector("v")
    f = sn.function([sn.In(v, value=np.array([1.0, 2.0]))], v, mode=mode)
    first = f()
    first[0] = 100.0
    np.testing.assert_array_equal(f(), [1.0, 2.0])


def test_in_default_is_checked_at_compile_time():
    i = T.iscalar("i")
    with pytest.raises(TypeError, match="may lose information"):
        sn.function([sn.In(i, value=1.5)], i * 2, mode="python")


def test_in_rejects_non_variables():
    with pytest.raises(TypeError, match="symbolic variable"):
        sn.In(3.0)


# --- outputs ---------------------------------------------------------------------------------


def test_one_output_or_a_list(mode):
    x = T.dvector("x")
    single = sn.function([x], x * 2, mode=mode)(np.array([1.0]))
    assert isinstance(single, np.ndarray)
    np.testing.assert_array_equal(single, [2.0])
    listed = sn.function([x], [x * 2], mode=mode)(np.array([1.0]))
    assert isinstance(listed, list) and len(listed) == 1
    both = sn.function([x], [x * 2, x.sum()], mode=mode)(np.array([1.0, 2.0]))
    assert isinstance(both, list) and len(both) == 2
    np.testing.assert_array_equal(both[0], [2.0, 4.0])
    assert both[1] == 3.0


def test_scalar_outputs_are_0d_arrays(mode):
    x = T.dscalar("x")
    i = T.iscalar("i")
    f = sn.function([x, i], [x * 2, i + 1, x > 1, x.astype("float32")], mode=mode)
    results = f(1.5, 3)
    for value, dtype in zip(results, ["float64", "int32", "bool", "float32"]):
        assert type(value) is np.ndarray and value.shape == () and value.dtype == dtype
    assert results[0] == 3.0 and results[1] == 4 and results[2]


def test_function_without_inputs(mode):
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    f = sn.function([], w * 2, mode=mode)
    np.testing.assert_array_equal(f(), [2.0, 4.0])
    c = sn.function([], T.constant(3.0), mode=mode)()
    assert isinstance(c, np.ndarray) and c == 3.0


def test_constant_output_is_writable_copy(mode):
    f = sn.function([], T.constant(np.array([1.0, 2.0])), mode=mode)
    out = f()
    out[0] = 10.0
    np.testing.assert_array_equal(f(), [1.0, 2.0])


def test_same_output_twice_gives_independent_arrays(mode):
    x = T.dvector("x")
    y = x * 2
    a, b = sn.function([x], [y, y], mode=mode)(np.array([1.0]))
    a[0] = 7.0
    assert b[0] == 2.0


def test_output_that_is_an_input_is_a_copy(mode):
    x = T.dvector("x")
    value = np.array([1.0, 2.0])
    out = sn.function([x], x, mode=mode)(value)
    assert out is not value and not np.shares_memory(out, value)
    out[0] = 5.0
    assert value[0] == 1.0


def test_view_outputs_do_not_alias_inputs(mode):
    x = T.dmatrix("x")
    value = np.arange(6.0).reshape(2, 3)
    out_t, out_r = sn.function([x], [x.T, x.reshape((3, 2))], mode=mode)(value)
    assert not np.shares_memory(out_t, value) and not np.shares_memory(out_r, value)
    out_t[0, 0] = -1.0
    assert value[0, 0] == 0.0


# --- shared variables and updates -----------------------------------------------------------------


def test_accumulator_example(mode):
    state = sn.shared(0, name="state")
    inc = T.iscalar("inc")
    accumulator = sn.function([inc], state, updates=[(state, state + inc)], mode=mode)
    assert accumulator(1) == 0  # outputs see the value before the update
    assert state.get_value() == 1
    assert accumulator(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    assert accumulator(3) == -1
    assert state.get_value() == 2
    decrementor = sn.function([inc], state, updates=[(state, state - inc)], mode=mode)
    assert decrementor(2) == 2
    assert state.get_value() == 0


def test_updates_as_dict(mode):
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = sn.function([x], w.sum(), updates={w: w + x}, mode=mode)
    assert f(np.array([1.0, 1.0])) == 3.0
    np.testing.assert_array_equal(w.get_value(), [2.0, 3.0])


def test_several_updates_see_old_values(mode):
    a = sn.shared(1.0, name="a")
    b = sn.shared(10.0, name="b")
    swap = sn.function([], [], updates=[(a, b), (b, a)], mode=mode)
    assert swap() == []
    assert a.get_value() == 10.0 and b.get_value() == 1.0


def test_update_casts_same_kind(mode):
    w = sn.shared(np.zeros(2, dtype="float32"), name="w")
    x = T.dvector("x")
    f = sn.function([x], [], updates=[(w, w + x)], mode=mode)  # float64 expression
    f(np.array([0.5, 1.5]))
    assert w.get_value().dtype == np.float32
    np.testing.assert_array_equal(w.get_value(), [0.5, 1.5])


def test_returned_arrays_never_alias_shared_values(mode):
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    f = sn.function([], [w, w.T, w * 1], mode=mode)
    for out in f():
        out[0] = 100.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    g = sn.function([], w, updates=[(w, w * 2)], mode=mode)
    old = g()
    old[:] = -5.0
    np.testing.assert_array_equal(w.get_value(), [2.0, 4.0])
    out = g()
    assert not np.shares_memory(out, w.get_value(borrow=True))
    out[:] = 0.0
    np.testing.assert_array_equal(w.get_value(), [4.0, 8.0])


def test_update_to_an_input_value_does_not_alias_it(mode):
    w = sn.shared(np.zeros(2), name="w")
    x = T.dvector("x")
    f = sn.function([x], [], updates=[(w, x)], mode=mode)
    value = np.array([1.0, 2.0])
    f(value)
    value[0] = 50.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])


def test_failed_call_leaves_shared_values_untouched(mode):
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    m = sn.shared(np.zeros(3), name="m")
    x = T.dvector("x")
    f = sn.function([x], w.sum(), updates=[(w, w + 1), (m, m + x)], mode=mode)
    with pytest.raises(ValueError):
        f(np.ones(2))  # m + x cannot broadcast (3,) with (2,)
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(m.get_value(), np.zeros(3))
    f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), [2.0, 3.0])
    np.testing.assert_array_equal(m.get_value(), np.ones(3))


def test_bad_argument_leaves_shared_values_untouched(mode):
    w = sn.shared(1.0, name="w")
    x = T.dscalar("x")
    f = sn.function([x], w, updates=[(w, w + x)], mode=mode)
    with pytest.raises(TypeError):
        f("a")
    with pytest.raises(TypeError):
        f()
    assert w.get_value() == 1.0


def test_shared_value_replaced_with_a_new_shape(mode):
    w = sn.shared(np.zeros(2), name="w")
    f = sn.function([], w + 1, mode=mode)
    np.testing.assert_array_equal(f(), [1.0, 1.0])
    w.set_value(np.zeros(4))
    np.testing.assert_array_equal(f(), np.ones(4))


def test_updated_shared_used_by_two_functions(mode):
    counter = sn.shared(0, name="counter")
    step = sn.function([], [], updates=[(counter, counter + 1)], mode=mode)
    read = sn.function([], counter * 10, mode=mode)
    step()
    step()
    assert read() == 20


# --- givens -------------------------------------------------------------------------------------


def test_givens(mode):
    x, y = T.dvectors("x", "y")
    out = x * 2
    f = sn.function([y], out, givens={x: y + 1}, mode=mode)
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [4.0, 6.0])
    g = sn.function([y], out, givens=[(x, y + 1)], mode=mode)
    np.testing.assert_array_equal(g(np.array([1.0])), [4.0])


def test_givens_replace_a_shared_variable(mode):
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = sn.function([x], w * 3, givens={w: x}, mode=mode)
    np.testing.assert_array_equal(f(np.array([5.0, 6.0])), [15.0, 18.0])
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])


def test_givens_leave_the_user_graph_untouched():
    x, y = T.dscalars("x", "y")
    out = x + 1
    sn.function([y], out, givens={x: y * 2}, mode="python")
    assert sn.pp(out) == "(x + 1)"
    assert float(sn.function([x], out, mode="python")(1.0)) == 2.0


def test_givens_errors():
    x, y = T.dvector("x"), T.dmatrix("y")
    with pytest.raises(TypeError, match="1-d but its replacement is 2-d"):
        sn.function([y], x * 2, givens={x: y}, mode="python")
    with pytest.raises(TypeError, match="dict or a list of"):
        sn.function([y], y, givens=[x], mode="python")


# --- unused and missing inputs -------------------------------------------------------------------


def test_unused_input_raises_by_default():
    x, y = T.dscalars("x", "y")
    with pytest.raises(UnusedInputError, match=r"input 1 \(y\) is not used"):
        sn.function([x, y], x * 2, mode="python")
    assert issubclass(UnusedInputError, ValueError)


def test_unused_input_warn_and_ignore(mode):
    x, y = T.dscalars("x", "y")
    with pytest.warns(sn.SymnetWarning, match=r"input 1 \(y\) is not used"):
        f = sn.function([x, y], x * 2, on_unused_input="warn", mode=mode)
    assert f(1.0, 5.0) == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = sn.function([x, y], x * 2, on_unused_input="ignore", mode=mode)
    assert g(1.0, 5.0) == 2.0
    with pytest.raises(TypeError):
        g(1.0)  # an unused input is still an argument


def test_input_used_only_by_an_update_is_used():
    x = T.dscalar("x")
    w = sn.shared(0.0, name="w")
    f = sn.function([x], [], updates=[(w, x)], mode="python")
    f(3.0)
    assert w.get_value() == 3.0


def test_on_unused_input_value_is_checked():
    x = T.dscalar("x")
    with pytest.raises(ValueError, match="on_unused_input must be"):
        sn.function([x], x, on_unused_input="sometimes")


def test_missing_input_variable():
    x, y = T.dscalars("x", "y")
    with pytest.raises(MissingInputError, match=r"y.*is needed.*not among the inputs"):
        sn.function([x], x + y, mode="python")
    assert issubclass(MissingInputError, ValueError)


def test_input_must_be_a_root_variable():
    x = T.dscalar("x")
    w = sn.shared(1.0, name="w")
    with pytest.raises(TypeError, match=r"input 0 \(\(x \+ 1\)\) is computed from other variables"):
        sn.function([x + 1], x, mode="python")
    with pytest.raises(TypeError, match="is a shared variable"):
        sn.function([w], w * 2, mode="python")
    with pytest.raises(TypeError, match="is a constant"):
        sn.function([T.constant(1.0)], x, mode="python")


def test_input_given_twice():
    x = T.dscalar("x")
    with pytest.raises(ValueError, match="given twice"):
        sn.function([x, x], x, mode="python")


def test_unknown_mode():
    x = T.dscalar("x")
    with pytest.raises(ValueError, match="unknown mode"):
        sn.function([x], x, mode="c")


# --- call errors --------------------------------------------------------------------------------


@pytest.fixture
def xyz_function(mode):
    x, y = T.dvectors("x", "y")
    z = T.dscalar("z")
    return sn.function([x, y, sn.In(z, value=1.0)], (x + y) * z, mode=mode)


def test_too_many_arguments(xyz_function):
    with pytest.raises(TypeError, match="takes 3 arguments but 4 were given"):
        xyz_function([1.0], [2.0], 3.0, 4.0)


def test_unknown_keyword(xyz_function):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'w'.*\['x', 'y', 'z'\]"):
        xyz_function([1.0], [2.0], w=3.0)


def test_duplicate_value_for_an_argument(xyz_function):
    with pytest.raises(TypeError, match=r"multiple values for argument 'x' \(input 0\)"):
        xyz_function([1.0], [2.0], x=[3.0])


def test_missing_argument(xyz_function):
    with pytest.raises(TypeError, match=r"missing a value for input 1 \('y'\) \(float64\(\?\)\)"):
        xyz_function([1.0])
    with pytest.raises(TypeError, match=r"missing a value for input 0 \('x'\)"):
        xyz_function(y=[1.0])


def test_wrong_rank(xyz_function):
    with pytest.raises(TypeError, match=r"input 1 \('y'\): expected 1-d float64\(\?\), got 2-d array of shape \(1, 1\)"):
        xyz_function([1.0], [[2.0]])
    with pytest.raises(TypeError, match=r"input 2 \('z'\): expected 0-d"):
        xyz_function([1.0], [2.0], [3.0])
    with pytest.raises(TypeError, match=r"input 0 \('x'\): expected 1-d"):
        xyz_function(1.0, [2.0])


def test_runtime_shape_mismatch_names_the_shapes(xyz_function):
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)|\(3,\).*\(2,\)|broadcast"):
        xyz_function(np.ones(2), np.ones(3))


def test_non_numeric_argument(xyz_function):
    with pytest.raises(TypeError, match=r"input 0 \('x'\).*dtype <U1|input 0 \('x'\)"):
        xyz_function(["a"], [1.0])
    with pytest.raises(TypeError, match=r"input 0 \('x'\)"):
        xyz_function([[1.0], [2.0, 3.0]], [1.0])


LOSSY = [
    ("int32", 0, 1.5, "float64 to int32"),
    ("int32", 1, np.array([1.0, 2.0]), "float64 to int32"),
    ("int32", 1, [1.0, 2.0], "float64 to int32"),
    ("int32", 1, np.array([1, 2], dtype="int64"), "int64 to int32"),
    ("float32", 1, np.array([1.0, 2.0]), "float64 to float32"),
    ("float32", 1, np.array([1, 2], dtype="int64"), "int64 to float32"),
    ("int8", 0, 300, "int64 to int8"),
    ("bool", 1, np.array([0, 1]), "int64 to bool"),
]


@pytest.mark.parametrize("dtype, ndim, value, what", LOSSY, ids=[f"{v[0]}-{v[3]}" for v in LOSSY])
def test_lossy_cast_raises_type_error(dtype, ndim, value, what, mode):
    x = T.tensor(dtype, shape=(None,) * ndim, name="data")
    y = T.dscalar("y")
    f = sn.function([y, x], x * y, mode=mode)
    with pytest.raises(TypeError, match=rf"input 1 \('data'\): expected {dtype}.*{what}.*allow_input_downcast"):
        f(1.0, value)


LOSSLESS = [
    ("float64", 0, 3, 3.0),
    ("float64", 0, True, 1.0),
    ("float64", 1, [1, 2], [1.0, 2.0]),
    ("float64", 1, np.array([1.5, 2.5], dtype="float32"), [1.5, 2.5]),
    ("float64", 1, np.array([1, 2], dtype="int32"), [1.0, 2.0]),
    ("float64", 2, [[1, 2], [3, 4]], [[1.0, 2.0], [3.0, 4.0]]),
    ("float32", 1, [1.5, 2.0], [1.5, 2.0]),
    ("float32", 1, np.array([1, 2], dtype="int8"), [1.0, 2.0]),
    ("float32", 0, 2, 2.0),
    ("int32", 0, 7, 7),
    ("int32", 1, [1, 2], [1, 2]),
    ("int32", 1, np.array([1, 2], dtype="int16"), [1, 2]),
    ("int64", 1, np.array([True, False]), [1, 0]),
    ("int8", 0, 100, 100),
]


@pytest.mark.parametrize("dtype, ndim, value, expected", LOSSLESS,
                         ids=[f"{v[0]}-{type(v[2]).__name__}-{i}" for i, v in enumerate(LOSSLESS)])
def test_lossless_conversions_are_accepted(dtype, ndim, value, expected, mode):
    x = T.tensor(dtype, shape=(None,) * ndim, name="x")
    out = sn.function([x], x, mode=mode)(value)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


def test_allow_input_downcast(mode):
    x = T.fvector("x")
    i = T.iscalar("i")
    f = sn.function([x, i], x * 2, allow_input_downcast=True, on_unused_input="ignore", mode=mode)
    out = f(np.array([0.1, 0.2]), 2.7)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.array([0.2, 0.4], dtype="float32"))


def test_non_contiguous_and_broadcast_inputs(mode):
    x = T.dmatrix("x")
    f = sn.function([x], x * 2 + 1, mode=mode)
    base = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(base.T), base.T * 2 + 1)
    np.testing.assert_array_equal(f(base[::2, ::3]), base[::2, ::3] * 2 + 1)
    np.testing.assert_array_equal(f(np.broadcast_to(np.arange(4.0), (3, 4))),
                                  np.broadcast_to(np.arange(4.0), (3, 4)) * 2 + 1)


def test_static_shape_is_checked():
    x = T.tensor("float64", shape=(None, 3), name="x")
    f = sn.function([x], x * 2, mode="python")
    with pytest.raises(ValueError, match=r"input 0 \('x'\).*axis 1 has length 2, not 3"):
        f(np.ones((4, 2)))


def test_inputs_are_never_modified(mode):
    x = T.dvector("x")
    f = sn.function([x], [x * 2, T.exp(x) + x], mode=mode)
    value = np.array([1.0, 2.0])
    f(value)
    np.testing.assert_array_equal(value, [1.0, 2.0])


# --- update errors ------------------------------------------------------------------------------


def test_update_with_wrong_ndim():
    w = sn.shared(np.zeros(2), name="w")
    with pytest.raises(TypeError, match=r"updates: the new value of w is 0-d \(float64\(\)\) but the shared variable is 1-d"):
        sn.function([], [], updates=[(w, w.sum())], mode="python")


def test_update_with_wrong_dtype():
    w = sn.shared(np.zeros(2, dtype="int32"), name="w")
    x = T.dvector("x")
    with pytest.raises(TypeError, match="updates: the new value of w has dtype float64, the shared variable int32"):
        sn.function([x], [], updates=[(w, w + x)], mode="python")


def test_update_downcast_allowed_with_allow_input_downcast():
    w = sn.shared(np.zeros(2, dtype="int32"), name="w")
    x = T.dvector("x")
    f = sn.function([x], [], updates=[(w, w + x)], allow_input_downcast=True, mode="python")
    f(np.array([1.7, 2.2]))
    assert w.get_value().dtype == np.int32
    np.testing.assert_array_equal(w.get_value(), [1, 2])


def test_same_shared_updated_twice():
    w = sn.shared(np.zeros(2), name="w")
    with pytest.raises(ValueError, match="w is updated twice"):
        sn.function([], [], updates=[(w, w + 1), (w, w - 1)], mode="python")


def test_update_target_must_be_shared():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="not a shared variable"):
        sn.function([x], x, updates=[(x, x + 1)], mode="python")
    w = sn.shared(np.zeros(2), name="w")
    with pytest.raises(TypeError, match="list of .* pairs"):
        sn.function([], [], updates=[(w, w + 1, 3)], mode="python")


# --- introspection ------------------------------------------------------------------------------


def test_function_introspection():
    x, y = T.dscalars("x", "y")
    f = sn.function([x, y], x + y, name="adder", mode="python")
    assert f.inputs == [x, y]
    assert len(f.outputs) == 1
    assert "adder" in repr(f) and "mode=python" in repr(f)
    with pytest.raises(TypeError, match=r"adder\(\) takes 2 arguments"):
        f(1.0, 2.0, 3.0)


def test_function_accepts_a_single_input_variable():
    x = T.dscalar("x")
    f = sn.function(x, x * 2, mode="python")
    assert f(2.0) == 4.0


def test_default_mode_is_numba():
    x = T.dscalar("x")
    f = sn.function([x], x * 2)
    assert f.mode == sn.config.mode == "numba"
    assert f(2.0) == 4.0
    with sn.config.override(mode="python"):
        assert sn.function([x], x * 2).mode == "python"


def test_function_pickles(mode):
    import pickle

    x, y, w = T.dscalars("x", "y", "w")
    s = sn.shared(np.array([1.0, 2.0]), name="s")
    f = sn.function([x, sn.In(y, value=1), sn.In(w, value=2, name="weight")],
                    [(x + y) * w, s.sum()], updates=[(s, s * 2)], mode=mode)
    f(0.0)  # s is now [2, 4]; the pickle carries that value
    g = pickle.loads(pickle.dumps(f))
    assert g.mode == mode and [v.name for v in g.inputs] == ["x", "y", "w"]
    out, total = g(23, 2, weight=4)
    assert out == 100.0 and total == 6.0
    assert g(23)[1] == 12.0  # g updates its own copy of s
    np.testing.assert_array_equal(s.get_value(), [2.0, 4.0])
