"""BatchNormalization and LayerNormalization against their NumPy formulas.

Forward values on both backends, gradients by finite differences, BatchNormalization's
moving statistics after training steps and its inference mode, and a save/load round trip.
"""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import SGD, BatchNormalization, Dense, LayerNormalization, Sequential, load_model

RNG = np.random.default_rng(5)
X = RNG.normal(loc=2.0, scale=3.0, size=(8, 4))


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _built(layer, shape=(4,), dtype="float64"):
    layer.ensure_built(shape, dtype)
    return layer


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_layer_normalization_matches_numpy(mode):
    layer = _built(LayerNormalization(epsilon=1e-3))
    gamma = RNG.normal(size=4)
    beta = RNG.normal(size=4)
    layer.set_weights([gamma, beta])
    x = T.dmatrix("x")
    f = sn.function([x], layer(x), mode=mode)
    np.testing.assert_allclose(f(X), _layer_norm(X, gamma, beta, 1e-3), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["python", "numba"])
def test_batch_normalization_training_and_inference_match_numpy(mode):
    layer = _built(BatchNormalization(momentum=0.9, epsilon=1e-3))
    gamma = RNG.normal(size=4)
    beta = RNG.normal(size=4)
    moving_mean, moving_var = RNG.normal(size=4), RNG.uniform(0.5, 2.0, size=4)
    layer.set_weights([gamma, beta, moving_mean, moving_var])
    x = T.dmatrix("x")
    train = sn.function([x], layer(x, training=True), updates=layer.state_updates, mode=mode)
    infer = sn.function([x], layer(x, training=False), mode=mode)
    mean, var = X.mean(axis=0), X.var(axis=0)
    np.testing.assert_allclose(train(X), (X - mean) / np.sqrt(var + 1e-3) * gamma + beta,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.moving_mean.get_value(), 0.9 * moving_mean + 0.1 * mean,
                               rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.get_value(), 0.9 * moving_var + 0.1 * var,
                               rtol=1e-12)
    new_mean, new_var = layer.moving_mean.get_value(), layer.moving_variance.get_value()
    np.testing.assert_allclose(infer(X), (X - new_mean) / np.sqrt(new_var + 1e-3) * gamma + beta,
                               rtol=1e-12, atol=1e-12)


def test_gradients_match_finite_differences():
    gamma = RNG.normal(size=4)
    beta = RNG.normal(size=4)
    for make in (lambda: LayerNormalization(), lambda: BatchNormalization()):
        layer = _built(make())
        layer.set_weights([gamma, beta, *layer.get_weights()[2:]])
        sn.verify_grad(lambda x: layer(x, training=True) * np.arange(1.0, 5.0), [X], rng=0)


def test_moving_statistics_after_training_steps_and_in_a_saved_model(tmp_path):
    data = RNG.normal(loc=5.0, scale=2.0, size=(64, 3)).astype("float32")
    target = data.sum(axis=1, keepdims=True)
    model = Sequential([BatchNormalization(momentum=0.5, input_shape=(3,)), Dense(1)])
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse")
    model.fit(data, target, epochs=3, batch_size=64, verbose=0, shuffle=False)
    # three steps on the same batch: moving = 0.5**3 * initial + (1 - 0.5**3) * batch stats
    bn = model.layers[0]
    np.testing.assert_allclose(bn.moving_mean.get_value(), 0.875 * data.mean(axis=0),
                               rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.get_value(),
                               0.125 + 0.875 * data.var(axis=0), rtol=1e-5)
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    model.save(tmp_path / "bn.symnet")
    loaded = load_model(tmp_path / "bn.symnet")
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    # a frozen BatchNormalization runs in inference mode: its statistics stay
    loaded.layers[0].trainable = False
    loaded.compile(optimizer="sgd", loss="mse")
    before = loaded.layers[0].moving_mean.get_value()
    loaded.fit(data, target, epochs=1, verbose=0)
    np.testing.assert_array_equal(loaded.layers[0].moving_mean.get_value(), before)


def test_bad_inputs():
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        BatchNormalization(axis=3).ensure_built((4,), "float32")
    with pytest.raises(ValueError, match="cannot normalize over the batch axis"):
        LayerNormalization(axis=0).ensure_built((4,), "float32")
