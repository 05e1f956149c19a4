"""Recurrent layers against NumPy loops with the same weights; the sine-prediction floor; a
cold compile of an LSTM training step."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import GRU, LSTM, SimpleRNN
from symnet.nn.recurrent import numpy_simple_rnn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_lstm(x, kernel, recurrent, bias, units):
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units])
        g, o = np.tanh(z[:, 2 * units:3 * units]), sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


def numpy_gru(x, kernel, recurrent, bias, units):
    h = np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        xw = x[:, t] @ kernel + bias
        z = sigmoid(xw[:, :units] + h @ recurrent[:, :units])
        r = sigmoid(xw[:, units:2 * units] + h @ recurrent[:, units:2 * units])
        g = np.tanh(xw[:, 2 * units:] + (r * h) @ recurrent[:, 2 * units:])
        h = z * h + (1 - z) * g
    return h


@pytest.mark.parametrize("layer_cls, reference", [
    (SimpleRNN, lambda x, w, u, b, n: numpy_simple_rnn(x, w, u, b)),
    (LSTM, numpy_lstm),
    (GRU, numpy_gru),
])
def test_recurrent_layer_matches_a_numpy_loop(layer_cls, reference):
    rng = np.random.default_rng(0)
    layer = layer_cls(4, input_shape=(5, 3), dtype="float64")
    x = T.dtensor3("x")
    out = layer(x)
    for p in layer.params:  # nonzero biases so every term is exercised
        p.set_value(rng.normal(scale=0.5, size=p.get_value().shape))
    data = rng.normal(size=(2, 5, 3))
    got = sn.function([x], out)(data)
    w, u, b = (p.get_value() for p in layer.params)
    np.testing.assert_allclose(got, reference(data, w, u, b, 4), rtol=1e-10, atol=1e-12)


def test_return_sequences_and_gradient_through_time():
    layer = SimpleRNN(3, input_shape=(4, 2), return_sequences=True, dtype="float64")
    x = T.dtensor3("x")
    seq = layer(x)
    data = np.random.default_rng(1).normal(size=(2, 4, 2))
    w, u, b = (p.get_value() for p in layer.params)
    np.testing.assert_allclose(sn.function([x], seq)(data),
                               numpy_simple_rnn(data, w, u, b, return_sequences=True), rtol=1e-10)
    sn.verify_grad(lambda xv: T.sum(T.sqr(layer(xv))), [data], mode="python")


def test_sine_rnn_example_reaches_its_floor():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import sine_rnn
    finally:
        sys.path.pop(0)
    mse = sine_rnn.main(epochs=15, plot=False)
    assert mse <= 0.01


LSTM_STEP = textwrap.dedent(
    """
    import numpy as np
    import symnet as sn
    from symnet.nn import LSTM, Dense, Sequential, set_seed

    def model():
        set_seed(0)
        m = Sequential([LSTM(5, input_shape=(4, 3)), Dense(2)])
        m.compile(optimizer="adam", loss="mse")
        return m

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 3)).astype(np.float32)
    y = rng.normal(size=(3, 2)).astype(np.float32)
    compiled, reference = model(), model()
    losses = [compiled.train_on_batch(x, y) for _ in range(2)]
    with sn.config.override(mode="python"):
        expected = [reference.train_on_batch(x, y) for _ in range(2)]
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    for got, want in zip(compiled.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    source = compiled.make_train_function(2).source
    print(len(source.splitlines()), source.count(" = Scan{"))
    """
)


@pytest.mark.slow
def test_lstm_training_step_compiles_from_an_empty_cache(tmp_path):
    """The training step of LSTM + Dense compiles in a new process with an empty kernel cache
    (it used to take minutes: one kernel inlining both loops and their steps) and trains like
    the reference backend. The timeout only guards against a hang."""
    env = dict(os.environ, SYMNET_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", LSTM_STEP], env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    _, loops = (int(v) for v in done.stdout.split())
    assert loops == 2  # the forward loop (once: it used to run twice) and the backward loop
