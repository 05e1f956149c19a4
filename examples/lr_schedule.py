"""A learning-rate schedule and a plateau callback on the digits MLP.

    python examples/lr_schedule.py        # prints held-out accuracy, writes lr_schedule.png

The MLP of digits_mlp.py trained with SGD whose learning rate follows a cosine decay after a
linear warm-up (``schedules.CosineDecay``), computed inside the training step from its step
counter, so the rate changes every step without compiling anything; ``ReduceLROnPlateau``
then watches the validation loss of a second phase at a constant rate and divides it when the
loss stops improving. The plot shows the loss and the learning rate per epoch.
"""

from __future__ import annotations

import runpy
import pathlib

import numpy as np

from symnet.nn import SGD, Dense, Flatten, ReduceLROnPlateau, Sequential, schedules, set_seed

HERE = pathlib.Path(__file__).resolve().parent


def main(epochs=25, plot=True, verbose=2):
    set_seed(0)
    np.random.seed(0)
    (x_train, y_train), (x_test, y_test) = runpy.run_path(
        str(HERE / "digits_mlp.py"))["load_digits_split"]()
    steps_per_epoch = -(-len(x_train) // 32)
    schedule = schedules.CosineDecay(0.01, decay_steps=epochs * steps_per_epoch, alpha=0.05,
                                     warmup_target=0.2, warmup_steps=2 * steps_per_epoch)
    model = Sequential([Flatten(input_shape=(8, 8)), Dense(64, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer=SGD(learning_rate=schedule, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rates = []
    for epoch in range(epochs):  # the rate each epoch starts with, for the plot
        rates.append(float(schedule.value(epoch * steps_per_epoch)))
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=verbose,
                        validation_data=(x_test, y_test))
    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"cosine decay with warm-up: held-out loss {loss:.4f}, accuracy {accuracy:.4f}")

    # a second phase at a constant rate, divided by 5 whenever the validation loss stalls
    model.compile(optimizer=SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    plateau = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=2, min_lr=1e-4)
    second = model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=verbose,
                       validation_data=(x_test, y_test), callbacks=[plateau])
    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"after the plateau phase: held-out loss {loss:.4f}, accuracy {accuracy:.4f}, "
          f"learning rate {model.optimizer.current_learning_rate():.4g}")
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot")
        else:
            losses = history.history["loss"] + second.history["loss"]
            all_rates = rates + second.history["learning_rate"]
            fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
            left.plot(losses, label="training loss")
            right.plot(all_rates, label="learning rate")
            for axes in (left, right):
                axes.axvline(epochs - 0.5, color="gray", linestyle=":")
                axes.set_xlabel("epoch")
                axes.legend()
            right.set_yscale("log")
            fig.tight_layout()
            fig.savefig("lr_schedule.png")
            print("wrote lr_schedule.png")
    return history, second, accuracy


if __name__ == "__main__":
    main()
