"""Training control: frozen layers, per-batch methods, sample and class weights.

The models are small Dense stacks trained with SGD on mse or binary cross-entropy, so every
expected value is a NumPy formula of the weights read before the step.
"""

import numpy as np
import pytest

from symnet.nn import SGD, Dense, Sequential, load_model, set_seed

RNG = np.random.default_rng(3)
X = RNG.normal(size=(16, 3)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5], dtype="float32") + 0.25)[:, None]
LABELS = (X[:, :1] > 0).astype("float32")


def _two_layers(**first):
    set_seed(1)
    model = Sequential([Dense(4, input_shape=(3,), **first), Dense(1)])
    model.compile(optimizer=SGD(learning_rate=0.05), loss="mse")
    return model



def test_a_frozen_layer_keeps_its_weights_and_the_flag_acts_at_compile(count_builds):
    model = _two_layers(trainable=False)
    first = model.layers[0].get_weights()
    last = model.layers[1].get_weights()
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(first, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(last[0], model.layers[1].get_weights()[0])
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    # a flag changed after compile does nothing until the next compile, and compiles nothing
    builds = len(count_builds)
    model.layers[0].trainable = True
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(first, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(count_builds) == builds
    model.compile(optimizer=SGD(learning_rate=0.05), loss="mse")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(first[0], model.layers[0].get_weights()[0])


def test_freezing_the_whole_model_and_saving_the_flag(tmp_path):
    model = _two_layers()
    model.trainable = False
    assert not model.trainable and all(not layer.trainable for layer in model.layers)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no layer is trainable"):
        model.fit(X, Y, epochs=1, verbose=0)
    model.layers[1].trainable = True
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.symnet")
    loaded = load_model(tmp_path / "m.symnet")
    assert [layer.trainable for layer in loaded.layers] == [False, True]


def test_on_batch_methods_match_numpy():
    model = _two_layers()
    w1, b1, w2, b2 = model.get_weights()
    predicted = (X @ w1 + b1) @ w2 + b2
    np.testing.assert_allclose(model.predict_on_batch(X), predicted, rtol=1e-5, atol=1e-6)
    loss = float(np.mean((predicted - Y) ** 2))
    assert model.test_on_batch(X, Y) == pytest.approx(loss, rel=1e-5)
    weights = np.linspace(0.0, 2.0, len(X)).astype("float32")
    weighted = float(np.mean(weights[:, None] * (predicted - Y) ** 2))
    assert model.train_on_batch(X, Y, sample_weight=weights) == pytest.approx(weighted, rel=1e-5)
    # the step used the weighted gradient: d/dw2 mean(w * r**2) = 2/n * h.T @ (w * r)
    h = X @ w1 + b1
    residual = predicted - Y
    expected_w2 = w2 - 0.05 * (2 / len(X)) * h.T @ (weights[:, None] * residual)
    np.testing.assert_allclose(model.get_weights()[2], expected_w2, rtol=1e-4, atol=1e-6)


def test_class_weight_weighs_each_sample_by_its_class():
    set_seed(2)
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile(optimizer=SGD(learning_rate=0.1), loss="binary_crossentropy")
    w, b = model.get_weights()
    p = 1 / (1 + np.exp(-(X @ w + b)))
    per_sample = -(LABELS * np.log(p) + (1 - LABELS) * np.log(1 - p))[:, 0]
    class_weight = {0: 0.5, 1: 3.0}
    expected = float(np.mean(np.where(LABELS[:, 0] > 0, 3.0, 0.5) * per_sample))
    got = model.train_on_batch(X, LABELS, class_weight=class_weight)
    assert got == pytest.approx(expected, rel=1e-5)
    # fit with both: the product of the two weights, the same kernel as train_on_batch
    before = model.get_weights()
    sample = np.full(len(X), 2.0)
    model.fit(X, LABELS, epochs=1, batch_size=len(X), verbose=0, shuffle=False,
              sample_weight=sample, class_weight={0: 0.25, 1: 1.5})
    again = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    again.compile(optimizer=SGD(learning_rate=0.1), loss="binary_crossentropy")
    again.set_weights(before)
    again.train_on_batch(X, LABELS, class_weight={0: 0.5, 1: 3.0})
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_bad_weights_name_the_problem():
    model = _two_layers()
    with pytest.raises(ValueError, match=r"sample_weight must have one value per sample, shape \(16,\)"):
        model.fit(X, Y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match=r"class_weight has no weight for the classes \[1\]"):
        model.train_on_batch(X, LABELS, class_weight={0: 1.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        model.train_on_batch(X, Y, sample_weight=-np.ones(16))
