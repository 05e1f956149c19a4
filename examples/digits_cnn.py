"""Classify scikit-learn's bundled 8x8 digits with a small Keras-style CNN built on symnet.

    python examples/digits_cnn.py            # prints held-out accuracy, writes digits_cnn.png

Conv2D(16, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10, softmax), adam, sparse
categorical cross-entropy. The images are channels-last, (n, 8, 8, 1), as in Keras; the
held-out split is passed as validation_data so the curves show both. The plot also shows the
16 learned filters.
"""

from __future__ import annotations

import numpy as np

from symnet.nn import Conv2D, Dense, Flatten, MaxPooling2D, Sequential, set_seed


def load_digits_split(seed=0):
    """((x_train, y_train), (x_test, y_test)): 80/20, images (n, 8, 8, 1) in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def build_model(seed=0):
    """The compiled network, its weights drawn from ``seed``."""
    set_seed(seed)
    try:
        model = Sequential([
            Conv2D(16, 3, activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Flatten(),
            Dense(10, activation="softmax"),
        ])
        model.build()
    finally:
        set_seed(None)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(epochs=20, plot=True, verbose=2):
    np.random.seed(0)  # the order of the batches
    (x_train, y_train), (x_test, y_test) = load_digits_split()
    model = build_model()
    if verbose:
        model.summary()
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
            fig = plt.figure(figsize=(12, 4))
            left, middle = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2)
            for key in ("loss", "val_loss"):
                left.plot(history.history[key], label=key)
            for key in ("accuracy", "val_accuracy"):
                middle.plot(history.history[key], label=key)
            for ax in (left, middle):
                ax.set_xlabel("epoch")
                ax.legend()
            kernel = model.layers[0].kernel.get_value()  # (3, 3, 1, 16)
            grid = fig.add_gridspec(4, 12)
            for k in range(16):
                ax = fig.add_subplot(grid[k // 4, 8 + k % 4])
                ax.imshow(kernel[:, :, 0, k], cmap="gray")
                ax.set_xticks([]), ax.set_yticks([])
            fig.suptitle(f"digits CNN: held-out accuracy {accuracy:.3f} (right: the 16 filters)")
            fig.savefig("digits_cnn.png")
            plt.close(fig)
            print("wrote digits_cnn.png")
    return history, accuracy


if __name__ == "__main__":
    main()
