"""Callbacks: hooks ``fit`` calls at the start and end of training, of each epoch and of each
batch (Keras's names, arguments and behaviour).

A callback sees the model (``self.model``) and the run's parameters (``self.params``);
setting ``model.stop_training = True`` ends training after the current batch. The epoch's
``logs`` hold 'loss', each metric, the 'val_*' values and the 'learning_rate' used.
"""

from __future__ import annotations

import csv
import math
import os
import warnings

import numpy as np


class Callback:
    """Hooks called by fit; setting ``model.stop_training = True`` ends training after the
    current batch. ``logs`` holds the epoch's 'loss', metrics, 'val_*' values and
    'learning_rate'."""

    model = None
    params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch, logs=None): ...

    def on_epoch_end(self, epoch, logs=None): ...

    def on_batch_begin(self, batch, logs=None): ...

    def on_batch_end(self, batch, logs=None): ...


class History(Callback):
    """What fit returns: ``history`` maps 'loss', each metric and 'val_*' to one value per
    epoch; ``epoch`` lists the epoch numbers; ``params`` holds epochs, steps and batch_size."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


class LambdaCallback(Callback):
    """Hooks from plain functions, Keras's signatures:
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``; ``on_batch_*`` take
    ``(batch, logs)`` and ``on_train_*`` take ``(logs)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None,
                 on_batch_end=None, on_train_begin=None, on_train_end=None):
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_batch_begin=on_batch_begin, on_batch_end=on_batch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end)
        for name, hook in hooks.items():
            if hook is not None:
                if not callable(hook):
                    raise TypeError(f"LambdaCallback: {name} must be callable, got {hook!r}")
                setattr(self, name, hook)


def _monitor_mode(owner: str, monitor: str, mode: str) -> float:
    """+1 when a lower ``monitor`` is better, -1 when higher is ('auto': accuracies go up)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return 1.0 if mode == "min" else -1.0


def _monitored(owner: str, monitor: str, logs) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{owner}: {monitor!r} is not among the logged values {sorted(logs or {})}; "
                      "it does nothing", RuntimeWarning, stacklevel=3)
    return value


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs in a row (patience=0 stops at the first epoch without improvement).
    ``restore_best_weights`` puts back the weights of the best epoch when it stops."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False, verbose=0):
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), int(patience)
        self.sign = _monitor_mode("EarlyStopping", monitor, mode)
        self.mode = "min" if self.sign > 0 else "max"
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights, self.stopped_epoch = np.inf, 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored("EarlyStopping", self.monitor, logs)
        if value is None:
            return
        score = self.sign * value
        if score < self.best - self.min_delta:
            self.best, self.wait = score, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping ({self.monitor} did not improve for "
                      f"{self.wait} epochs)")


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``), where ``lr`` is the current rate. The step reads the rate from its
    shared variable, so nothing is compiled again."""

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            rate = self.schedule(epoch, optimizer.current_learning_rate())
        except TypeError:
            rate = self.schedule(epoch)
        rate = float(rate)
        if not math.isfinite(rate):
            raise ValueError(f"LearningRateScheduler: the schedule gave {rate} at epoch {epoch}")
        optimizer.learning_rate = rate
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate()


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` epochs, then wait ``cooldown`` epochs before counting again;
    never below ``min_lr``."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.sign = _monitor_mode("ReduceLROnPlateau", monitor, mode)
        self.min_delta, self.cooldown, self.min_lr = abs(min_delta), int(cooldown), float(min_lr)
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_left = np.inf, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate()
        value = _monitored("ReduceLROnPlateau", self.monitor, logs)
        if value is None:
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        score = self.sign * value
        if score < self.best - self.min_delta:
            self.best, self.wait = score, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = self.model.optimizer
            old = optimizer.current_learning_rate()
            new = max(old * self.factor, self.min_lr)
            if new < old:
                optimizer.learning_rate = new
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_left, self.wait = self.cooldown, 0


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after each epoch to ``filepath``, which may name
    the epoch and logged values (``"model-{epoch:02d}-{val_loss:.3f}.symnet"``). With
    ``save_best_only`` it saves only when ``monitor`` improved. Files are written atomically:
    a crash never leaves a half-written checkpoint."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch"):
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint: only save_freq='epoch' is supported, got "
                             f"{save_freq!r}")
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.sign = _monitor_mode("ModelCheckpoint", monitor, mode)
        self.best = np.inf

    def on_train_begin(self, logs=None):
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.save_best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            if value is None or not self.sign * value < self.best:
                return
            self.best = self.sign * value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")


class CSVLogger(Callback):
    """Write one row per epoch (the epoch, then every logged value) to a CSV file; with
    ``append`` a file that exists is continued."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self._file = self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename)
        self._keys = None
        if exists:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        self._file = open(self.filename, "a" if exists else "w", newline="")
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(logs.get(k, "NA") for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True
