"""Fit the standard normal density on [-5, 5] from 900 samples with a small Keras-style
network: Dense(30, relu) -> Dense(30, relu) -> Dense(1, sigmoid), mse, rmsprop, batch 250.

    python examples/gaussian_fit.py      # prints the mse on a grid, writes gaussian_fit.png
"""

from __future__ import annotations

import numpy as np

from symnet.nn import Dense, RMSprop, Sequential, set_seed


def density(x):
    return np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)


def main(epochs=1500, plot=True, verbose=0):
    set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, size=(900, 1)).astype("float32")
    y = density(x).astype("float32")
    model = Sequential([
        Dense(30, activation="relu", input_dim=1),
        Dense(30, activation="relu"),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=RMSprop(learning_rate=0.002), loss="mse")
    history = model.fit(x, y, epochs=epochs, batch_size=250, validation_split=0.2, verbose=verbose)
    grid = np.linspace(-5, 5, 501, dtype="float32").reshape(-1, 1)
    fitted = model.predict(grid)
    mse = float(np.mean((fitted - density(grid)) ** 2))
    print(f"final loss {history.history['loss'][-1]:.2e}, val_loss {history.history['val_loss'][-1]:.2e}")
    print(f"mse on a 501-point grid over [-5, 5]: {mse:.2e}")
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot")
        else:
            plt.figure(figsize=(6, 4))
            plt.plot(grid, density(grid), label="N(0, 1) density")
            plt.plot(grid, fitted, "--", label="network")
            plt.scatter(x[:200], y[:200], s=4, alpha=0.4, label="samples")
            plt.legend()
            plt.tight_layout()
            plt.savefig("gaussian_fit.png")
            print("wrote gaussian_fit.png")
    return mse


if __name__ == "__main__":
    main()
