"""GELU (exact and tanh form), LeakyReLU and ELU against their NumPy formulas, with gradients
by finite differences, and the layers in a saved model."""

import math

import numpy as np
import pytest
import scipy.special

import symnet as sn
import symnet.tensor as T
from symnet.nn import ELU, Dense, LeakyReLU, Sequential, activations, load_model

X = np.linspace(-3.0, 3.0, 13)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_activation_values(mode):
    x = T.dvector("x")
    f = sn.function([x], [activations.gelu(x), activations.gelu(x, approximate=True),
                          LeakyReLU(negative_slope=0.2)(x[:, None])[:, 0],
                          ELU(alpha=0.5)(x[:, None])[:, 0]], mode=mode)
    gelu, gelu_tanh, leaky, elu = f(X)
    np.testing.assert_allclose(gelu, 0.5 * X * (1 + scipy.special.erf(X / math.sqrt(2))),
                               rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(
        gelu_tanh, 0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X ** 3))),
        rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(leaky, np.where(X > 0, X, 0.2 * X), rtol=1e-15)
    np.testing.assert_allclose(elu, np.where(X > 0, X, 0.5 * np.expm1(X)), rtol=1e-14)


def test_gradients_match_finite_differences():
    points = [np.array([-2.5, -0.7, 0.3, 1.9])]
    sn.verify_grad(lambda x: activations.gelu(x), points, rng=0)
    sn.verify_grad(lambda x: activations.gelu(x, approximate=True), points, rng=0)
    sn.verify_grad(lambda x: T.erf(x), points, rng=0)


def test_layers_in_a_saved_model(tmp_path):
    model = Sequential([Dense(3, input_shape=(2,)), LeakyReLU(alpha=0.1), Dense(2), ELU(),
                        Dense(1, activation="gelu")])
    model.compile(optimizer="adam", loss="mse")
    data = np.random.default_rng(0).normal(size=(6, 2)).astype("float32")
    model.save(tmp_path / "m.symnet")
    loaded = load_model(tmp_path / "m.symnet")
    assert loaded.layers[1].negative_slope == pytest.approx(0.1)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    with pytest.raises(ValueError, match="negative_slope must be >= 0"):
        LeakyReLU(negative_slope=-1.0)
