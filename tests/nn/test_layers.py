"""Layers against NumPy computations with the same weights, and their gradients.

Each layer's output is compared with NumPy in mode='python' per case; one numba function per
family computes all cases at once (a numba compile costs seconds, so cases share a kernel).
Gradients go through sn.verify_grad on the layer's symbolic output, with the layer's weights
substituted by symbolic inputs so the check covers them too.
"""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.graph import clone_replace
from symnet.nn import Activation, Dense, Dropout, Flatten, Reshape, initializers, set_seed


def np_softplus(z):
    return np.logaddexp(0.0, z)


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = [
    ("linear", lambda z: z),
    ("relu", lambda z: np.maximum(z, 0.0)),
    ("sigmoid", lambda z: 1.0 / (1.0 + np.exp(-z))),
    ("tanh", np.tanh),
    ("softmax", np_softmax),
    ("softplus", np_softplus),
    ("elu", lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.3 * z)),
]
NAMES = [name for name, _ in ACTIVATIONS]


def dense(units, activation, n_in, seed):
    """A float64 Dense layer with random kernel and a nonzero bias (so every term counts)."""
    rng = np.random.default_rng(seed)
    layer = Dense(units, activation=activation, input_dim=n_in, dtype="float64")
    layer(T.dmatrix("x"))  # builds the weights
    layer.set_weights([rng.normal(size=(n_in, units)), rng.normal(scale=0.5, size=units)])
    return layer


def data(shape, seed=0):
    """Test points away from activation kinks (|x W + b| is rarely near 0 for these)."""
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("name, reference", ACTIVATIONS, ids=NAMES)
def test_dense_matches_numpy(name, reference):
    layer = dense(5, name, 4, seed=1)
    x = T.dmatrix("x")
    values = data((6, 4))
    got = sn.function([x], layer(x), mode="python")(values)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(got, reference(values @ kernel + bias), rtol=1e-12, atol=1e-14)


def test_dense_every_activation_compiled():
    """All activations in one numba kernel, against NumPy."""
    x = T.dmatrix("x")
    layers = [dense(5, name, 4, seed=i) for i, name in enumerate(NAMES)]
    values = data((7, 4))
    outs = sn.function([x], [layer(x) for layer in layers], mode="numba")(values)
    for (name, reference), layer, got in zip(ACTIVATIONS, layers, outs):
        kernel, bias = layer.get_weights()
        np.testing.assert_allclose(got, reference(values @ kernel + bias), rtol=1e-12,
                                   atol=1e-14, err_msg=name)


@pytest.mark.parametrize("name, reference", ACTIVATIONS, ids=NAMES)
def test_activation_layer_matches_numpy(name, reference):
    x = T.dmatrix("x")
    values = data((3, 4), seed=2)
    got = sn.function([x], Activation(name)(x), mode="python")(values)
    np.testing.assert_allclose(got, reference(values), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_dense_gradient(name):
    """verify_grad through the layer, with respect to the input, the kernel and the bias."""
    layer = dense(3, name, 4, seed=3)
    x0 = T.dmatrix("x0")
    out = layer(x0)

    def fn(x, kernel, bias):
        return clone_replace([out], {x0: x, layer.kernel: kernel, layer.bias: bias})[0]

    kernel, bias = layer.get_weights()
    sn.verify_grad(fn, [data((5, 4), seed=4), kernel, bias], mode="python")


def test_dense_gradient_compiled():
    layer = dense(3, "tanh", 4, seed=5)
    x0 = T.dmatrix("x0")
    out = layer(x0)

    def fn(x, kernel, bias):
        return clone_replace([out], {x0: x, layer.kernel: kernel, layer.bias: bias})[0]

    sn.verify_grad(fn, [data((5, 4), seed=6), *layer.get_weights()], mode="numba")


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "elu", "leaky_relu", "softplus"])
def test_activation_layer_gradient(name):
    sn.verify_grad(lambda x: Activation(name)(x), [data((3, 4), seed=7)], mode="python")


def test_dense_weights_are_static_float32_by_default():
    layer = Dense(3, input_dim=4)
    layer(T.fmatrix("x"))
    kernel, bias = layer.params
    assert kernel.type.shape == (4, 3) and bias.type.shape == (3,)
    assert kernel.dtype == bias.dtype == "float32"
    assert kernel.name.endswith("/kernel") and bias.name.endswith("/bias")
    np.testing.assert_array_equal(bias.get_value(), np.zeros(3))
    limit = np.sqrt(6.0 / 7.0)  # glorot_uniform
    assert np.abs(kernel.get_value()).max() <= limit
    with pytest.raises(ValueError, match="shape"):
        kernel.set_value(np.zeros((5, 3), dtype="float32"))


def test_dense_output_is_symbolic_and_lists_params():
    x = T.dmatrix("x")
    layer = Dense(4, input_dim=3)
    out = layer(x)
    assert out.ndim == 2 and out.dtype == "float64"
    assert layer.params == [layer.kernel, layer.bias]
    assert layer.count_params() == 3 * 4 + 4
    assert layer.output_shape((3,)) == (4,)


def test_dense_without_bias_and_on_3d_inputs():
    rng = np.random.default_rng(8)
    layer = Dense(2, use_bias=False, input_shape=(5, 3), dtype="float64")
    x = T.dtensor3("x")
    out = layer(x)
    assert layer.params == [layer.kernel]
    values = rng.normal(size=(4, 5, 3))
    got = sn.function([x], out, mode="python")(values)
    np.testing.assert_allclose(got, values @ layer.kernel.get_value(), rtol=1e-12)
    assert layer.output_shape((5, 3)) == (5, 2)


def test_initializers_follow_numpy_seed_and_set_seed():
    np.random.seed(3)
    a = Dense(3, input_dim=2)
    a.build((2,))
    np.random.seed(3)
    b = Dense(3, input_dim=2)
    b.build((2,))
    np.testing.assert_array_equal(a.kernel.get_value(), b.kernel.get_value())
    set_seed(11)
    try:
        c = initializers.he_normal((400, 300), "float64")
        np.testing.assert_allclose(c.std(), np.sqrt(2.0 / 400), rtol=0.02)
        set_seed(11)
        np.testing.assert_array_equal(c, initializers.he_normal((400, 300), "float64"))
    finally:
        set_seed(None)
    layer = Dense(3, kernel_initializer="he_normal", bias_initializer="ones", input_dim=2)
    layer.build((2,))
    np.testing.assert_array_equal(layer.bias.get_value(), np.ones(3))


def test_dropout_is_the_identity_at_prediction_time():
    x = T.dmatrix("x")
    layer = Dropout(0.5)
    assert layer(x) is x
    values = data((4, 3))
    np.testing.assert_array_equal(sn.function([x], layer(x, training=False),
                                              on_unused_input="ignore")(values), values)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_dropout_masks_and_scales_in_training(mode):
    rate = 0.25
    x = T.dmatrix("x")
    layer = Dropout(rate, seed=5)
    f = sn.function([x], layer(x, training=True), mode=mode)
    values = np.random.default_rng(0).uniform(1.0, 2.0, size=(200, 50))
    first, second = f(values), f(values)
    for out in (first, second):
        kept = out != 0
        np.testing.assert_allclose(out[kept], values[kept] / (1 - rate), rtol=1e-12)
        assert abs(1.0 - kept.mean() - rate) < 0.02  # 10000 draws: 4 standard deviations
    assert (first != second).any()  # the generator state advances on every call
    # the same seed gives the same masks on both backends
    again = Dropout(rate, seed=5)
    expected = sn.function([x], again(x, training=True), mode="python")(values)
    np.testing.assert_array_equal(first, expected)


def test_dropout_gradient_uses_the_same_mask():
    """d(sum(dropout(x) * w))/dx is the scaled mask; the mask is fixed by the generator state,
    so the graph is differentiable like any elementwise product."""
    x = T.dmatrix("x")
    layer = Dropout(0.5, seed=1)
    out = layer(x, training=True)
    g = sn.grad(T.sum(out), x)
    f = sn.function([x], [out, g], mode="python")
    values = np.random.default_rng(0).uniform(1.0, 2.0, size=(20, 10))
    y, gx = f(values)
    np.testing.assert_allclose(gx, (y != 0) * 2.0, rtol=1e-12)


def test_dropout_rejects_bad_rates():
    for rate in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="rate"):
            Dropout(rate)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_flatten_matches_numpy(mode):
    x = T.dtensor4("x")
    values = data((3, 2, 4, 5))
    got = sn.function([x], Flatten()(x), mode=mode)(values)
    np.testing.assert_array_equal(got, values.reshape(3, -1))
    assert Flatten().output_shape((2, 4, 5)) == (40,)
    sn.verify_grad(lambda v: Flatten()(v) * 2.0, [data((2, 3, 4))], mode="python")


def test_flatten_then_dense_gradient():
    layer = Dense(2, activation="tanh", input_dim=12, dtype="float64")
    x0 = T.dtensor3("x0")
    out = layer(Flatten()(x0))

    def fn(x, kernel):
        return clone_replace([out], {x0: x, layer.kernel: kernel})[0]

    sn.verify_grad(fn, [data((3, 3, 4)), layer.kernel.get_value()], mode="python")


def test_reshape_layer():
    x = T.dmatrix("x")
    values = data((2, 6))
    got = sn.function([x], Reshape((2, 3))(x), mode="python")(values)
    np.testing.assert_array_equal(got, values.reshape(2, 2, 3))
    assert Reshape((2, 3)).output_shape((6,)) == (2, 3)


def test_layer_errors():
    with pytest.raises(ValueError, match="units must be positive"):
        Dense(0)
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        Dense(3, activation="swishy")
    with pytest.raises(ValueError, match="last dimension is unknown"):
        Dense(3)(T.dmatrix("x"))
    with pytest.raises(ValueError, match="expects inputs of rank 2"):
        Dense(3, input_dim=4)(T.dtensor3("x"))
    with pytest.raises(ValueError, match="unknown initializer"):
        Dense(3, kernel_initializer="nope", input_dim=2).build((2,))
    layer = Dense(3, input_dim=2)
    layer.build((2,))
    with pytest.raises(ValueError, match="expected 2 weight arrays"):
        layer.set_weights([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="has shape"):
        layer.set_weights([np.zeros((3, 3)), np.zeros(3)])


def test_layer_config_round_trip():
    for layer in (Dense(4, activation="elu", input_dim=3, use_bias=False), Dropout(0.3, seed=2),
                  Flatten(input_shape=(2, 3)), Activation("softplus"), Reshape((2, 2))):
        config = layer.get_config()
        clone = type(layer)(**config)
        assert clone.get_config() == config
