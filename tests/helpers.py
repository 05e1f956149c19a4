"""Shared test helpers: every op goes through check_op."""

import numpy as np

import symnet as sn

MODES = ("python", "numba")


def check_op(build, inputs, reference, *, grad=True, rtol=1e-7, atol=0.0, modes=MODES,
             grad_rtol=1e-5, grad_points=None):
    """Compare both backends with ``reference``; check gradients by finite differences.

    ``build`` maps symbolic inputs (one per array in ``inputs``, same dtype and rank) to a
    symbolic output; ``reference`` maps the arrays to the expected NumPy result.
    """
    inputs = [np.asarray(v) for v in inputs]
    sym = [sn.tensor.tensor(v.dtype, shape=(None,) * v.ndim, name=f"x{i}") for i, v in enumerate(inputs)]
    out = build(*sym)
    expected = reference(*[v.copy() for v in inputs])
    for mode in modes:
        copies = [v.copy() for v in inputs]
        got = sn.function(sym, out, mode=mode, on_unused_input="ignore")(*copies)
        assert np.asarray(got).shape == np.asarray(expected).shape, (mode, got, expected)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=mode)
        if np.asarray(expected).dtype.kind == "f" or np.asarray(got).dtype.kind == "f":
            assert np.asarray(got).dtype == out.dtype, (mode, np.asarray(got).dtype, out.dtype)
        for original, copy in zip(inputs, copies):
            np.testing.assert_array_equal(original, copy)  # inputs must not be modified
    if grad:
        points = grad_points if grad_points is not None else inputs
        for mode in modes:
            sn.verify_grad(build, [np.asarray(p, dtype="float64") for p in points], mode=mode,
                           rtol=grad_rtol)
