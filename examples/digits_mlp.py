"""Classify scikit-learn's bundled 8x8 digits with a Keras-style MLP built on symnet.

    python examples/digits_mlp.py            # prints held-out accuracy, writes digits_mlp.png

Flatten -> Dense(128, relu) -> Dense(10, softmax), adam, sparse categorical cross-entropy,
with the held-out split passed as validation_data so the curves show both.
"""

from __future__ import annotations

import numpy as np

from symnet.nn import Dense, Flatten, Sequential, set_seed


def load_digits_split(seed=0):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")  # (n, 8, 8) in [0, 1]
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def main(epochs=30, plot=True, verbose=2):
    set_seed(0)
    np.random.seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits_split()
    model = Sequential([
        Flatten(input_shape=(8, 8)),
        Dense(128, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=verbose,
                        validation_data=(x_test, y_test))
    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"held-out loss {loss:.4f}, accuracy {accuracy:.4f}")
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot")
        else:
            fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
            for key in ("loss", "val_loss"):
                left.plot(history.history[key], label=key)
            for key in ("accuracy", "val_accuracy"):
                right.plot(history.history[key], label=key)
            left.set_xlabel("epoch"), right.set_xlabel("epoch")
            left.legend(), right.legend()
            fig.tight_layout()
            fig.savefig("digits_mlp.png")
            print("wrote digits_mlp.png")
    return history, accuracy


if __name__ == "__main__":
    main()
