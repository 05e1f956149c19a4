"""Callbacks that steer the learning rate, save checkpoints, log and stop training.

One small regression model (Dense(1) on three features, SGD, mse) serves every test; its
training step is compiled once and the learning rate changes through the optimizer's shared
variable, so no test compiles more than that.
"""

import csv

import numpy as np
import pytest

from symnet.nn import (
    SGD,
    CSVLogger,
    Dense,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    Sequential,
    TerminateOnNaN,
    load_model,
    set_seed,
)

X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5], dtype="float32"))[:, None]


def _model(lr=0.05):
    set_seed(0)
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer=SGD(learning_rate=lr), loss="mse")
    return model


def _rates_seen(model):
    """A callback recording the learning rate each epoch starts with."""
    seen = []
    return seen, LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(
        model.optimizer.current_learning_rate()))


def test_learning_rate_scheduler_sets_each_epoch_and_history_records_it():
    model = _model()
    seen, record = _rates_seen(model)
    schedule = LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    history = model.fit(X, Y, epochs=4, batch_size=32, verbose=0, shuffle=False,
                        callbacks=[schedule, record])
    assert seen == pytest.approx([0.1, 0.05, 0.025, 0.0125], rel=1e-15)
    assert history.history["learning_rate"] == pytest.approx(seen, rel=1e-15)
    # a one-argument schedule works too, and a rate of 0 freezes the weights
    weights = model.get_weights()
    model.fit(X, Y, epochs=2, batch_size=32, verbose=0, callbacks=[LearningRateScheduler(
        lambda epoch: 0.0)])
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_reduce_lr_on_plateau_divides_after_patience_and_respects_min_lr():
    model = _model(lr=0.08)
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])  # best at epoch 1, then worse
    fake = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(loss=next(losses)))
    seen, record = _rates_seen(model)
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_lr=0.015,
                                min_delta=0.0)
    model.fit(X, Y, epochs=8, batch_size=32, verbose=0, callbacks=[fake, plateau, record])
    # worse at epochs 2, 3 -> halve after epoch 3; 4, 5 -> after 5; 6, 7 -> min_lr floor
    assert seen == pytest.approx([0.08] * 4 + [0.04] * 2 + [0.02] * 2, rel=1e-15)
    assert model.optimizer.current_learning_rate() == pytest.approx(0.015, rel=1e-15)


def test_model_checkpoint_saves_the_best_epochs_atomically(tmp_path):
    model = _model()
    losses = iter([3.0, 2.0, 2.5, 1.0])
    fake = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(loss=next(losses)))
    saved = []
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: saved.append(model.get_weights()))
    path = str(tmp_path / "best-{epoch:02d}.symnet")
    checkpoint = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    model.fit(X, Y, epochs=4, batch_size=32, verbose=0, shuffle=False,
              callbacks=[fake, checkpoint, keep])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["best-01.symnet", "best-02.symnet", "best-04.symnet"]  # no temporary left
    loaded = load_model(tmp_path / "best-02.symnet")
    for a, b in zip(loaded.get_weights(), saved[1]):
        np.testing.assert_array_equal(a, b)
    # weights only
    weights_path = tmp_path / "w.symnet"
    model.fit(X, Y, epochs=1, batch_size=32, verbose=0,
              callbacks=[ModelCheckpoint(str(weights_path), save_weights_only=True,
                                         monitor="loss")])
    other = _model()
    other.load_weights(weights_path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not a symnet weights file"):
        other.load_weights(tmp_path / "best-01.symnet")


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    model = _model()
    path = tmp_path / "log.csv"
    history = model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[CSVLogger(path)])
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2, 0, 1]
    assert [float(r[1]) for r in rows[1:4]] == pytest.approx(history.history["loss"], rel=1e-12)


def test_terminate_on_nan_stops_at_the_first_bad_batch():
    model = _model(lr=1e6)  # diverges to inf, then NaN
    batches = []
    count = LambdaCallback(on_batch_end=lambda batch, logs: batches.append(logs["loss"]))
    model.fit(X, Y, epochs=50, batch_size=4, verbose=0, shuffle=False,
              callbacks=[TerminateOnNaN(), count])
    assert not np.isfinite(batches[-1]) and all(np.isfinite(batches[:-1]))
    assert len(batches) < 50 * 8  # it stopped mid-training


def test_bad_arguments():
    with pytest.raises(TypeError, match="schedule must be callable"):
        LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="factor must be in"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ValueError, match="mode must be"):
        ModelCheckpoint("x.symnet", mode="best")
