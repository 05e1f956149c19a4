"""Predict the next value of sin(t) from the previous 10 with a SimpleRNN (or an LSTM).

    python examples/sine_rnn.py           # SimpleRNN(10) + Dense(1), prints the test mse
    python examples/sine_rnn.py --lstm    # the same with LSTM(16)

Writes sine_rnn.png (true vs predicted) when matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np

from symnet.nn import LSTM, Dense, Sequential, SimpleRNN, set_seed


def make_windows(n_points=1000, window=10):
    t = np.linspace(0, 40 * np.pi, n_points)
    series = np.sin(t).astype("float32")
    x = np.stack([series[i:i + window] for i in range(n_points - window)])[..., None]
    y = series[window:].reshape(-1, 1)
    return x, y


def main(epochs=None, lstm=False, plot=True, verbose=0):
    if epochs is None:
        epochs = 20 if lstm else 40
    set_seed(0)
    np.random.seed(0)
    x, y = make_windows()
    split = int(0.8 * len(x))
    recurrent = LSTM(16, input_shape=(10, 1)) if lstm else SimpleRNN(10, input_shape=(10, 1))
    model = Sequential([recurrent, Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x[:split], y[:split], epochs=epochs, batch_size=32, verbose=verbose,
                        validation_data=(x[split:], y[split:]))
    predicted = model.predict(x[split:])
    mse = float(np.mean((predicted - y[split:]) ** 2))
    name = "LSTM" if lstm else "SimpleRNN"
    print(f"{name}: train loss {history.history['loss'][-1]:.5f}, test mse {mse:.5f}")
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot")
        else:
            plt.figure(figsize=(8, 3))
            plt.plot(y[split:split + 200], label="sin(t)")
            plt.plot(predicted[:200], "--", label=f"{name} prediction")
            plt.legend()
            plt.tight_layout()
            path = "sine_lstm.png" if lstm else "sine_rnn.png"
            plt.savefig(path)
            print(f"wrote {path}")
    return mse


if __name__ == "__main__":
    main(lstm="--lstm" in sys.argv)
