"""The Keras introduction, ported by renaming the import: a 4-6-1 network classifies
generated data (is the sum of the features above its median?).

    python examples/keras_intro.py
"""

from __future__ import annotations

import numpy as np

from symnet.nn import Dense, Sequential, set_seed


def make_data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 1.5]) + 0.3 * rng.normal(size=n) > 0).astype("float32")
    return x, y


def main(epochs=40, verbose=2):
    set_seed(1)
    x, y = make_data()
    model = Sequential()
    model.add(Dense(6, activation="relu", input_dim=4))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.summary()
    history = model.fit(x[:800], y[:800], epochs=epochs, batch_size=32, verbose=verbose,
                        validation_split=0.2)
    loss, accuracy = model.evaluate(x[800:], y[800:])
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    print("first predictions:", np.round(model.predict(x[800:805]).ravel(), 3))
    return history, accuracy


if __name__ == "__main__":
    main()
