"""Bidirectional and TimeDistributed against NumPy: the forward and the reversed pass of the
wrapped recurrent layer, each time step through the wrapped layer; gradients, saving."""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import (
    GRU,
    Bidirectional,
    Dense,
    Sequential,
    SimpleRNN,
    TimeDistributed,
    load_model,
    set_seed,
)
from symnet.nn.recurrent import numpy_simple_rnn

RNG = np.random.default_rng(7)
X = RNG.normal(size=(3, 5, 2))


def _forward(layer, x, mode="python"):
    v = T.dtensor3("x")
    return sn.function([v], layer(v), mode=mode)(x)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_simple_rnn_matches_numpy(merge_mode, return_sequences):
    set_seed(0)
    layer = Bidirectional(SimpleRNN(4, return_sequences=return_sequences), merge_mode=merge_mode)
    layer.ensure_built((5, 2), "float64")
    kf, uf, bf, kb, ub, bb = layer.get_weights()
    forward = numpy_simple_rnn(X, kf, uf, bf, return_sequences=return_sequences)
    backward = numpy_simple_rnn(X[:, ::-1], kb, ub, bb, return_sequences=return_sequences)
    if return_sequences:
        backward = backward[:, ::-1]
    expected = {"concat": np.concatenate([forward, backward], axis=-1),
                "sum": forward + backward, "mul": forward * backward,
                "ave": (forward + backward) / 2}[merge_mode]
    np.testing.assert_allclose(_forward(layer, X), expected, rtol=1e-12, atol=1e-12)
    assert layer.output_shape((5, 2)) == expected.shape[1:]


def test_time_distributed_dense_matches_numpy_on_both_backends():
    set_seed(0)
    layer = TimeDistributed(Dense(3, activation="tanh"))
    layer.ensure_built((5, 2), "float64")
    kernel, bias = layer.get_weights()
    expected = np.tanh(X @ kernel + bias)
    for mode in ("python", "numba"):
        np.testing.assert_allclose(_forward(layer, X, mode), expected, rtol=1e-12, atol=1e-12)
    assert layer.output_shape((5, 2)) == (5, 3)


def test_gradients_match_finite_differences():
    set_seed(1)
    bi = Bidirectional(GRU(2, return_sequences=True))
    bi.ensure_built((5, 2), "float64")
    sn.verify_grad(lambda x: bi(x), [X], rng=0)
    td = TimeDistributed(Dense(2))
    td.ensure_built((5, 2), "float64")
    sn.verify_grad(lambda x: td(x), [X], rng=0)


def test_a_model_with_both_trains_saves_and_loads(tmp_path):
    set_seed(2)
    model = Sequential([TimeDistributed(Dense(4), input_shape=(5, 2)),
                        Bidirectional(SimpleRNN(3)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = X.astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    before = model.evaluate(x, y)
    model.fit(x, y, epochs=20, batch_size=3, verbose=0)
    assert model.evaluate(x, y) < before
    assert len(model.get_weights()) == 2 + 6 + 2
    model.save(tmp_path / "m.symnet")
    loaded = load_model(tmp_path / "m.symnet")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_bad_arguments():
    with pytest.raises(TypeError, match="wraps SimpleRNN, LSTM or GRU"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        Bidirectional(SimpleRNN(2), merge_mode="max")
    with pytest.raises(ValueError, match="expects samples of shape"):
        TimeDistributed(Dense(2)).ensure_built((4,), "float32")
