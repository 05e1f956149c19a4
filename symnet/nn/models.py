"""Sequential models: compile, fit, evaluate, predict, summary, save.

``fit`` compiles one training-step function (forward pass, gradients and optimizer updates in
one kernel) and one evaluation function, once, and reuses them for every batch and epoch.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

import symnet as sn
from symnet import tensor as T
from symnet.nn import losses as losses_module
from symnet.nn import optimizers as optimizers_module
from symnet.nn.layers import Activation, Dense, Layer


class History:
    """What fit returns: ``history`` maps 'loss', metrics and 'val_*' to per-epoch values."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def record(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))


class Callback:
    """Hooks called by fit; ``model.stop_training = True`` ends training after the epoch."""

    model = None

    def on_train_begin(self, logs=None): ...

    def on_epoch_begin(self, epoch, logs=None): ...

    def on_epoch_end(self, epoch, logs=None): ...

    def on_train_end(self, logs=None): ...


class LambdaCallback(Callback):
    """A per-epoch hook: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None):
        self._hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                           on_train_begin=on_train_begin, on_train_end=on_train_end)

    def on_epoch_begin(self, epoch, logs=None):
        if self._hooks["on_epoch_begin"]:
            self._hooks["on_epoch_begin"](epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._hooks["on_epoch_end"]:
            self._hooks["on_epoch_end"](epoch, logs)

    def on_train_begin(self, logs=None):
        if self._hooks["on_train_begin"]:
            self._hooks["on_train_begin"](logs)

    def on_train_end(self, logs=None):
        if self._hooks["on_train_end"]:
            self._hooks["on_train_end"](logs)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False):
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights, self.stopped_epoch = np.inf, 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping: {self.monitor!r} is not among {sorted(logs or {})}",
                          stacklevel=2)
            return
        score = self.sign * value
        if score < self.best - self.min_delta:
            self.best, self.wait = score, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                if self.restore_best_weights and self.best_weights is not None:
                    self.model.set_weights(self.best_weights)


class ProgressBar:
    """verbose=1: one line per epoch redrawn per batch (count, loss, metrics, time)."""

    def __init__(self, epochs: int, steps: int, stream=None):
        self.epochs, self.steps = epochs, steps
        self.stream = stream or sys.stdout

    def update(self, epoch: int, step: int, logs: dict, start: float, final: bool = False):
        width = 24
        done = int(width * step / max(self.steps, 1))
        bar = "=" * done + ("" if final else ">") + "." * (width - done - (0 if final else 1))
        values = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
        text = f"\rEpoch {epoch + 1}/{self.epochs} {step}/{self.steps} [{bar[:width]}] " \
               f"{time.perf_counter() - start:.1f}s - {values}"
        self.stream.write(text + ("\n" if final else ""))
        self.stream.flush()


def _as_data(value, dtype, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{what}: cannot convert to an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected numbers, got an array of dtype {arr.dtype}")
    return arr.astype(dtype, copy=False) if dtype is not None else arr


class Sequential:
    """A linear stack of layers.

    Examples
    --------
    >>> import numpy as np
    >>> from symnet.nn import Sequential, Dense
    >>> model = Sequential([Dense(4, activation='relu', input_dim=3), Dense(1, activation='sigmoid')])
    >>> model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    >>> x = np.random.rand(20, 3); y = (x.sum(axis=1) > 1.5).astype(int)
    >>> history = model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
    """

    def __init__(self, layers=None, name=None, dtype="float32"):
        self.layers: list[Layer] = []
        self.name = name or "sequential"
        self.dtype = dtype
        self.compiled = False
        self.stop_training = False
        self._functions: dict = {}
        for layer in layers or []:
            self.add(layer)

    # --- structure -------------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer, got {type(layer).__name__}")
        if not self.layers and layer.input_shape is None:
            pass  # built when data arrives
        self.layers.append(layer)
        self.compiled = False
        self._functions.clear()

    @property
    def input_shape(self):
        return self.layers[0].input_shape if self.layers else None

    def build(self, input_shape=None) -> None:
        """Create every layer's weights for samples of ``input_shape`` (no batch axis)."""
        shape = tuple(input_shape) if input_shape is not None else self.input_shape
        if shape is None:
            raise ValueError("the model's input shape is unknown: give input_shape= or input_dim= "
                             "to the first layer, or call fit/predict with data")
        if self.layers and self.layers[0].input_shape is None:
            self.layers[0].input_shape = shape
        for layer in self.layers:
            layer.ensure_built(shape, self.dtype)
            shape = layer.output_shape(shape)
        self.output_shape_ = shape

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def params(self):
        return [p for layer in self.layers for p in layer.params]

    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        for layer in self.layers:
            n = len(layer.params) + len(layer.non_trainable)
            layer.set_weights(weights[:n])
            weights = weights[n:]

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def __call__(self, x, training=False):
        x = T.as_tensor(x)
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    def _symbolic_input(self):
        if not self.built:
            self.build()
        shape = (None,) + tuple(self.layers[0].input_shape)
        return T.tensor(self.dtype, shape=(None,) * len(shape), name="x")

    def _forward_with_logits(self, x, training):
        """The output, and ('sigmoid'|'softmax', pre-activation) when the last layer ends in
        one of them (the losses then work from the logits)."""
        h = x
        for layer in self.layers[:-1]:
            h = layer(h, training=training)
        last = self.layers[-1]
        out = last(h, training=training)
        logits = None
        if isinstance(last, Dense) and last.activation_name in ("sigmoid", "softmax"):
            logits = (last.activation_name, last.pre_activation(h))
        elif isinstance(last, Activation) and last.activation_name in ("sigmoid", "softmax"):
            logits = (last.activation_name, h)
        return out, logits

    # --- training ---------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        if loss is None:
            raise ValueError("compile: a loss is required")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "loss")
        self.loss_fn = losses_module.get(loss)
        self.metric_names = []
        self.metric_fns = []
        for m in metrics or []:
            name, fn = losses_module.metric_for(m, self.loss_name)
            self.metric_names.append(name)
            self.metric_fns.append(fn)
        self.compiled = True
        self._functions.clear()

    def _target_variable(self, y_ndim: int):
        sparse = self.loss_name == "sparse_categorical_crossentropy"
        return T.tensor("int64" if sparse else self.dtype, shape=(None,) * y_ndim, name="y")

    def _train_function(self, y_ndim: int):
        key = ("train", y_ndim)
        if key not in self._functions:
            x = self._symbolic_input()
            y = self._target_variable(y_ndim)
            out, logits = self._forward_with_logits(x, training=True)
            loss = T.mean(self.loss_fn(y, out, logits))
            metrics = [T.mean(fn(y, out)) for fn in self.metric_fns]
            params = self.params
            grads = sn.grad(loss, params)
            updates = self.optimizer.get_updates(params, grads)
            self._functions[key] = sn.function([x, y], [loss, *metrics], updates=updates,
                                               name="train_step")
        return self._functions[key]

    def _eval_function(self, y_ndim: int):
        key = ("eval", y_ndim)
        if key not in self._functions:
            x = self._symbolic_input()
            y = self._target_variable(y_ndim)
            out, logits = self._forward_with_logits(x, training=False)
            # per-sample values, so batches of any size average exactly
            values = [self.loss_fn(y, out, logits)] + [fn(y, out) for fn in self.metric_fns]
            self._functions[key] = sn.function([x, y], values, name="evaluate")
        return self._functions[key]

    def _predict_function(self):
        if "predict" not in self._functions:
            x = self._symbolic_input()
            self._functions["predict"] = sn.function([x], self(x, training=False), name="predict")
        return self._functions["predict"]

    def _check_data(self, x, y=None, what="fit"):
        x = _as_data(x, self.dtype, f"{what}: x")
        if x.ndim < 2:
            raise ValueError(f"{what}: x must have a batch axis, got shape {x.shape}")
        if not self.built:
            self.build(x.shape[1:])
        expected = tuple(self.layers[0].input_shape)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"{what}: the model expects samples of shape {expected}, x has shape "
                             f"{x.shape} (samples of shape {x.shape[1:]})")
        if np.isnan(x).any():
            raise ValueError(f"{what}: x contains NaN")
        if y is None:
            return x, None
        sparse = getattr(self, "loss_name", None) == "sparse_categorical_crossentropy"
        y = _as_data(y, None, f"{what}: y")
        if len(y) != len(x):
            raise ValueError(f"{what}: x has {len(x)} samples but y has {len(y)}")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError(f"{what}: y contains NaN")
        if sparse:
            if y.dtype.kind == "f" and not np.all(y == np.round(y)):
                raise ValueError(f"{what}: sparse_categorical_crossentropy needs integer labels")
            y = y.astype("int64")
            n_classes = self.output_shape_[-1] if hasattr(self, "output_shape_") else None
            if n_classes is not None and y.size and (y.min() < 0 or y.max() >= n_classes):
                raise ValueError(f"{what}: labels must be in [0, {n_classes}), got range "
                                 f"[{y.min()}, {y.max()}]")
        else:
            y = y.astype(self.dtype)
        return x, y

    def fit(self, x, y, epochs=1, batch_size=32, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, nb_epoch=None):
        """Train for ``epochs`` passes over the data; returns a History."""
        if not getattr(self, "compiled", False) or not hasattr(self, "optimizer"):
            raise RuntimeError("fit: call compile(optimizer, loss, metrics) first")
        if nb_epoch is not None:
            epochs = nb_epoch
        x, y = self._check_data(x, y)
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
            split = int(len(x) * (1.0 - validation_split))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        if validation_data is not None:
            vx, vy = self._check_data(validation_data[0], validation_data[1], "fit: validation_data")
        train = self._train_function(y.ndim)
        history = History()
        callbacks = list(callbacks or [])
        for cb in callbacks:
            cb.model = self
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin()
        n = len(x)
        steps = max(1, -(-n // batch_size))
        bar = ProgressBar(epochs, steps) if verbose == 1 else None
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            start = time.perf_counter()
            order = np.random.permutation(n) if shuffle else np.arange(n)
            totals = np.zeros(1 + len(self.metric_fns))
            seen = 0
            for step in range(steps):
                idx = order[step * batch_size:(step + 1) * batch_size]
                if len(idx) == 0:
                    break
                values = train(np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx]))
                totals += np.array([float(v) for v in values]) * len(idx)
                seen += len(idx)
                if bar is not None:
                    bar.update(epoch, step + 1, self._logs(totals / seen), start)
            logs = self._logs(totals / max(seen, 1))
            if validation_data is not None:
                val = self.evaluate(vx, vy, batch_size=batch_size, verbose=0, _checked=True)
                val = val if isinstance(val, list) else [val]
                logs.update({f"val_{k}": v for k, v in zip(["loss", *self.metric_names], val)})
            if bar is not None:
                bar.update(epoch, steps, logs, start, final=True)
            elif verbose == 2:
                values = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
                print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - start:.1f}s - {values}")
            history.record(epoch, logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        self.history = history
        return history

    def _logs(self, values) -> dict:
        return {k: float(v) for k, v in zip(["loss", *self.metric_names], values)}

    def evaluate(self, x, y, batch_size=32, verbose=0, _checked=False):
        """Loss (and metrics) over the data: a float, or [loss, metric, ...]."""
        if not hasattr(self, "optimizer"):
            raise RuntimeError("evaluate: call compile() first")
        if not _checked:
            x, y = self._check_data(x, y, "evaluate")
        f = self._eval_function(y.ndim)
        totals = np.zeros(1 + len(self.metric_fns))
        for start in range(0, len(x), batch_size):
            values = f(np.ascontiguousarray(x[start:start + batch_size]),
                       np.ascontiguousarray(y[start:start + batch_size]))
            totals += np.array([np.sum(v) for v in values])
        totals /= max(len(x), 1)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in self._logs(totals).items()))
        return float(totals[0]) if not self.metric_fns else [float(v) for v in totals]

    def predict(self, x, batch_size=32, verbose=0):
        """Outputs for ``x``, computed in batches."""
        x, _ = self._check_data(x, None, "predict")
        f = self._predict_function()
        parts = [f(np.ascontiguousarray(x[s:s + batch_size])) for s in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,) + tuple(self.output_shape_))

    # --- description and saving -------------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        if not self.built:
            self.build()
        lines = [f'Model: "{self.name}"', "-" * 65,
                 f"{'Layer (type)':<30}{'Output Shape':<22}{'Param #':>10}", "=" * 65]
        shape = tuple(self.layers[0].input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
            lines.append(f"{layer.name + ' (' + type(layer).__name__ + ')':<30}"
                         f"{str((None,) + tuple(shape)):<22}{layer.count_params():>10}")
        lines += ["=" * 65, f"Total params: {self.count_params()}", "-" * 65]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype,
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self.layers]}

    def save(self, path) -> None:
        """Architecture, weights and compile state (optimizer slots, loss, metrics) in one file."""
        from symnet.nn.saving import save_model

        save_model(self, path)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_functions"] = {}
        return state
