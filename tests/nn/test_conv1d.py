"""Conv1D and the 1-d pooling layers against NumPy loops: padding 'valid', 'same' and
'causal', strides, gradients, and a sequence classifier that trains, saves and loads."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import (
    Adam,
    AveragePooling1D,
    Conv1D,
    Dense,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
    Sequential,
    load_model,
    set_seed,
)

RNG = np.random.default_rng(13)
X = RNG.normal(size=(2, 7, 3))


def _conv1d(x, kernel, bias, stride, padding):
    k = kernel.shape[0]
    if padding == "causal":
        x = np.pad(x, ((0, 0), (k - 1, 0), (0, 0)))
    elif padding == "same":
        n = x.shape[1]
        total = max((-(-n // stride) - 1) * stride + k - n, 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    steps = (x.shape[1] - k) // stride + 1
    return np.stack([np.einsum("bkc,kcf->bf", x[:, t * stride:t * stride + k], kernel)
                     for t in range(steps)], axis=1) + bias


def _run(layer, x, mode="python"):
    v = T.tensor("float64", shape=(None, None, x.shape[2]), name="x")
    layer.ensure_built(x.shape[1:], "float64")
    return sn.function([v], layer(v), mode=mode)(x)


@pytest.mark.parametrize("padding, stride", [("valid", 1), ("valid", 2), ("same", 1),
                                             ("same", 2), ("causal", 1)])
def test_conv1d_matches_numpy(padding, stride):
    set_seed(0)
    layer = Conv1D(4, 3, strides=stride, padding=padding)
    got = _run(layer, X)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 4)
    expected = _conv1d(X, kernel, bias, stride, padding)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert layer.output_shape((7, 3)) == expected.shape[1:]


def test_conv1d_numba_and_causality():
    set_seed(0)
    layer = Conv1D(2, 4, padding="causal")
    a = _run(layer, X, mode="numba")
    later = X.copy()
    later[:, 5:] += 10.0  # changing steps 5 and 6 leaves outputs 0..4 alone
    b = _run(layer, later, mode="numba")
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert not np.allclose(a[:, 5:], b[:, 5:])


def test_pooling_matches_numpy():
    got = _run(MaxPooling1D(2), X)
    np.testing.assert_array_equal(got, np.maximum(X[:, 0:6:2], X[:, 1:7:2]))
    got = _run(AveragePooling1D(3, strides=2), X)
    expected = np.stack([X[:, t:t + 3].mean(axis=1) for t in (0, 2, 4)], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(_run(GlobalAveragePooling1D(), X), X.mean(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(_run(GlobalMaxPooling1D(), X), X.max(axis=1))
    assert MaxPooling1D(2, padding="same").output_shape((7, 3)) == (4, 3)


def test_gradients_match_finite_differences():
    set_seed(1)
    layer = Conv1D(2, 3, padding="same", strides=2)
    layer.ensure_built((7, 3), "float64")
    sn.verify_grad(lambda x: layer(x), [X], rng=0)


def test_a_sequence_classifier_trains_saves_and_loads(tmp_path):
    set_seed(2)
    x = RNG.normal(size=(64, 12, 2)).astype("float32")
    y = (x[:, :, 0].max(axis=1) > 1.5).astype("float32")[:, None]
    model = Sequential([Conv1D(8, 3, padding="same", activation="relu", input_shape=(12, 2)),
                        MaxPooling1D(2), GlobalMaxPooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate=0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    before = model.evaluate(x, y)[0]
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    loss, accuracy = model.evaluate(x, y)
    assert loss < 0.5 * before and accuracy >= 0.9
    model.save(tmp_path / "c.symnet")
    np.testing.assert_array_equal(load_model(tmp_path / "c.symnet").predict(x), model.predict(x))


def test_bad_inputs():
    with pytest.raises(ValueError, match="padding must be 'valid', 'same' or 'causal'"):
        Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match=r"expects inputs \(batch, steps, channels\)"):
        GlobalAveragePooling1D(name="g")(T.dmatrix("x"))
