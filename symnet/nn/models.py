"""Sequential models: compile, fit, evaluate, predict, summary, save.

``fit`` compiles one training-step function (forward pass, gradients and optimizer updates in
one kernel) and one evaluation function, once, and reuses them for every batch and epoch. Data
is checked before training starts (rows of x and y, feature count, label range, NaN) and cast
to the model's dtype (float32 unless ``Sequential(dtype=...)`` says otherwise); a model that
starts with an Embedding takes integer indices, which stay integers (int64).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from symnet import tensor as T
from symnet.compiler.function import function
from symnet.grad import grad
from symnet.nn import losses as losses_module
from symnet.nn import optimizers as optimizers_module
from symnet.nn import initializers
from symnet.nn.callbacks import History
from symnet.nn.layers import LAYERS, Activation, Dense, Layer
from symnet.nn.saving import (load_weights, numbered_arrays, read_model, save_model,
                               save_weights)

class ProgressBar:
    """verbose=1 output: one line per epoch. On a terminal the line is redrawn as batches
    finish (at most ten times a second); elsewhere (logs, notebooks' captured output) only the
    finished line is written."""

    width = 24

    def __init__(self, epochs: int, steps: int, stream=None):
        self.epochs, self.steps = epochs, steps
        self.stream = stream or sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty and isatty())
        self.last_draw = 0.0
        self.drawn = 0

    def _text(self, epoch, step, logs, start) -> str:
        done = self.width * step // max(self.steps, 1)
        arrow = ">" if step < self.steps else ""
        bar = ("=" * done + arrow).ljust(self.width, ".")[: self.width]
        elapsed = time.perf_counter() - start
        per_step = 1e3 * elapsed / max(step, 1)
        values = "".join(f" - {k}: {v:.4f}" for k, v in logs.items())
        return (f"Epoch {epoch + 1}/{self.epochs} {step}/{self.steps} [{bar}] - {elapsed:.1f}s "
                f"{per_step:.1f}ms/step{values}")

    def _draw(self, text: str, end: str) -> None:
        prefix = "\r" if self.live else ""
        pad = " " * max(self.drawn - len(text), 0) if self.live else ""
        self.stream.write(prefix + text + pad + end)
        self.stream.flush()
        self.drawn = 0 if end else len(text)

    def update(self, epoch: int, step: int, logs: dict, start: float) -> None:
        now = time.perf_counter()
        if self.live and (now - self.last_draw >= 0.1 or step == self.steps):
            self.last_draw = now
            self._draw(self._text(epoch, step, logs, start), "")

    def finish(self, epoch: int, logs: dict, start: float) -> None:
        self._draw(self._text(epoch, self.steps, logs, start), "\n")


# --- data checks -----------------------------------------------------------------------------------


def _as_array(value, what: str) -> np.ndarray:
    if value is None:
        raise ValueError(f"{what}: no data given")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{what}: cannot convert to an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{what}: expected one row per sample, got a scalar")
    return arr


def _check_finite(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind != "f":
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        kind = "NaN" if np.isnan(arr).any() else "infinite values"
        rows = np.unique(np.nonzero(bad.reshape(len(arr), -1))[0])
        raise ValueError(f"{what} contains {kind} ({int(bad.sum())} entries in {len(rows)} rows, "
                         f"the first in row {rows[0]}); remove or impute them before training")


def _shape_matches(actual, expected) -> bool:
    return len(actual) == len(expected) and all(e is None or a == e
                                                for a, e in zip(actual, expected))


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        The layers, first to last (more can be appended with :meth:`add`).
    name : str, optional
    dtype : {'float32', 'float64'}
        The dtype of the weights and of the computation; data is cast to it.

    Examples
    --------
    >>> import numpy as np
    >>> from symnet.nn import Sequential, Dense
    >>> model = Sequential([Dense(4, activation='relu', input_dim=3), Dense(1, activation='sigmoid')])
    >>> model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    >>> x = np.random.rand(20, 3); y = (x.sum(axis=1) > 1.5).astype(int)
    >>> history = model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    >>> sorted(history.history), len(history.history['loss'])
    (['accuracy', 'loss'], 2)
    >>> model.predict(x[:2]).shape
    (2, 1)
    """

    def __init__(self, layers=None, name=None, dtype="float32"):
        dtype = np.dtype(dtype).name
        if dtype not in ("float32", "float64"):
            raise ValueError(f"Sequential: dtype must be float32 or float64, got {dtype}")
        self.layers: list[Layer] = []
        self.name = name or "sequential"
        self.dtype = dtype
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._functions: dict = {}
        self._frozen: set[int] = set()  # the layers not trainable when compile() ran
        for layer in layers or []:
            self.add(layer)

    # --- structure -----------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer (the model must be compiled again before training)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer, got {type(layer).__name__}")
        self.layers.append(layer)
        self.compiled = False
        self._functions.clear()
        if self.input_shape is not None:
            # as in Keras: a model whose input shape is known builds each layer as it is
            # added, so count_params, summary and get_weights see its weights at once
            try:
                self.build()
            except Exception:
                self.layers.pop()
                raise

    @property
    def input_shape(self):
        return self.layers[0].input_shape if self.layers else None

    def build(self, input_shape=None) -> None:
        """Create every layer's weights for samples of ``input_shape`` (no batch axis)."""
        if not self.layers:
            raise ValueError(f"{self.name}: the model has no layers")
        shape = tuple(input_shape) if input_shape is not None else self.input_shape
        if shape is None:
            raise ValueError("the model's input shape is unknown: give input_shape= or input_dim= "
                             "to the first layer, or call fit/predict with data")
        if self.layers[0].input_shape is None:
            self.layers[0].input_shape = shape
        for layer in self.layers:
            layer.ensure_built(shape, self.dtype)
            shape = layer.output_shape(shape)
        self.output_shape_ = tuple(shape)

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def params(self):
        """The trainable shared variables of the trainable layers, layer by layer."""
        return [p for layer in self.layers if layer.trainable for p in layer.params]

    @property
    def trainable(self) -> bool:
        """True unless every layer is frozen; setting it sets every layer's ``trainable``
        (taking effect at the next ``compile``, as in Keras)."""
        return any(layer.trainable for layer in self.layers) if self.layers else True

    @trainable.setter
    def trainable(self, value) -> None:
        for layer in self.layers:
            layer.trainable = bool(value)

    @property
    def trainable_weights(self) -> list:
        return self.params

    @property
    def non_trainable_weights(self) -> list:
        return [p for layer in self.layers for p in
                (layer.non_trainable if layer.trainable else layer.params + layer.non_trainable)]

    def _training_params(self) -> list:
        """What the training step updates: the weights of the layers that were trainable when
        the model was compiled."""
        return [p for layer in self.layers if id(layer) not in self._frozen for p in layer.params]

    def _build_if_possible(self) -> None:
        if not self.built and self.layers and self.input_shape is not None:
            self.build()

    def get_weights(self):
        """Every layer's weights, in order (builds the model if its input shape is known)."""
        self._build_if_possible()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Replace the weights (arrays of the shapes get_weights returns)."""
        self._build_if_possible()
        weights = list(weights)
        expected = sum(len(layer.params) + len(layer.non_trainable) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"{self.name}: expected {expected} weight arrays, got {len(weights)}")
        for layer in self.layers:
            n = len(layer.params) + len(layer.non_trainable)
            layer.set_weights(weights[:n])
            weights = weights[n:]

    def count_params(self) -> int:
        """The number of weights (trainable and not), building the model if its input shape
        is known."""
        self._build_if_possible()
        return sum(layer.count_params() for layer in self.layers)

    def __call__(self, x, training=False):
        """The model applied to a symbolic tensor."""
        x = T.as_tensor(x)
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    def _input_dtype(self) -> str:
        """The dtype of x: the first layer's ``input_dtype`` (int64 for Embedding), else the
        model's dtype."""
        return self.layers[0].input_dtype or self.dtype

    def _symbolic_input(self):
        if not self.built:
            self.build()
        sample = tuple(self.layers[0].input_shape)
        return T.tensor(self._input_dtype(), shape=(None, *sample), name="x")

    def _forward_with_logits(self, x, training):
        """The output, and ('sigmoid'|'softmax', pre-activation) when the last layer ends in
        one of them (the cross-entropies then work from the logits, stably)."""
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

    # --- compiling -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer (name or object), the loss and the metrics for ``fit``."""
        if loss is None:
            raise ValueError("compile: a loss is required")
        if not self.layers:
            raise ValueError(f"compile: {self.name} has no layers")
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
        self._frozen = {id(layer) for layer in self.layers if not layer.trainable}
        if self.built:
            self.optimizer.build(self._training_params())

    @property
    def metrics_names(self) -> list[str]:
        """'loss' and the metric names, in the order evaluate returns them (Keras's name)."""
        return ["loss", *self.metric_names]

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"{what}: call compile(optimizer, loss, metrics) first")

    def _target_variable(self, y_ndim: int):
        sparse = self.loss_name == "sparse_categorical_crossentropy"
        return T.tensor("int64" if sparse else self.dtype, shape=(None,) * y_ndim, name="y")

    def make_train_function(self, target_ndim: int = 2, weighted: bool = False):
        """The compiled training step ``f(x, y) -> [loss, *metrics]`` (forward pass,
        gradients and optimizer updates in one kernel) for targets of rank ``target_ndim``;
        compiled once and kept. With ``weighted`` it is ``f(x, y, sample_weight)``: the loss
        is the batch mean of each sample's loss times its weight (metrics stay unweighted)."""
        self._require_compiled("make_train_function")
        key = ("train", target_ndim, weighted)
        if key not in self._functions:
            x = self._symbolic_input()
            y = self._target_variable(target_ndim)
            out, logits = self._forward_with_logits(x, training=True)
            values = self.loss_fn(y, out, logits)
            inputs = [x, y]
            if weighted:
                w = T.tensor(self.dtype, shape=(None,), name="sample_weight")
                inputs.append(w)
                values = values * w.dimshuffle(0, *["x"] * (values.ndim - 1))
            loss = T.mean(values)
            metrics = [T.mean(fn(y, out)) for fn in self.metric_fns]
            params = self._training_params()
            if not params:
                raise ValueError(f"{self.name}: no layer is trainable, so training has nothing "
                                 "to update")
            grads = grad(loss, params)
            updates = self.optimizer.get_updates(params, grads)
            updates += [u for layer in self.layers for u in layer.state_updates]
            self._functions[key] = function(inputs, [loss, *metrics], updates=updates,
                                            name="train_step")
        return self._functions[key]

    def _sample_weights(self, y: np.ndarray, sample_weight, class_weight, what: str):
        """One weight per sample from ``sample_weight`` and ``class_weight`` (their product),
        or None when neither is given."""
        if sample_weight is None and class_weight is None:
            return None
        weights = np.ones(len(y), dtype=self.dtype)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype="float64")
            if sw.shape != (len(y),):
                raise ValueError(f"{what}: sample_weight must have one value per sample, shape "
                                 f"({len(y)},), got {sw.shape}")
            if not np.all(np.isfinite(sw)) or np.any(sw < 0):
                raise ValueError(f"{what}: sample_weight must be finite and >= 0")
            weights *= sw.astype(self.dtype)
        if class_weight is not None:
            if not isinstance(class_weight, dict):
                raise TypeError(f"{what}: class_weight must be a dict {{class: weight}}, got "
                                f"{type(class_weight).__name__}")
            if y.ndim == 2 and y.shape[1] > 1:
                classes = np.argmax(y, axis=1)  # one-hot targets
            else:
                classes = np.rint(y.reshape(len(y))).astype("int64")  # labels, or 0/1 targets
            table = {int(k): float(v) for k, v in class_weight.items()}
            missing = sorted(set(np.unique(classes).tolist()) - set(table))
            if missing:
                raise ValueError(f"{what}: class_weight has no weight for the classes {missing}")
            weights *= np.array([table[c] for c in classes.tolist()], dtype=self.dtype)
        return weights

    def _eval_function(self, target_ndim: int):
        key = ("eval", target_ndim)
        if key not in self._functions:
            x = self._symbolic_input()
            y = self._target_variable(target_ndim)
            out, logits = self._forward_with_logits(x, training=False)
            # per-sample values, so batches of any size average exactly
            values = [self.loss_fn(y, out, logits)] + [fn(y, out) for fn in self.metric_fns]
            self._functions[key] = function([x, y], values, name="evaluate")
        return self._functions[key]

    def _predict_function(self):
        if "predict" not in self._functions:
            x = self._symbolic_input()
            self._functions["predict"] = function([x], self(x, training=False), name="predict")
        return self._functions["predict"]

    # --- data ----------------------------------------------------------------------------------
    def _prepare_x(self, x, what: str) -> np.ndarray:
        arr = _as_array(x, f"{what}: x")
        if not self.built or not hasattr(self, "output_shape_"):
            if self.input_shape is None and arr.ndim < 2:
                raise ValueError(f"{what}: x must have a batch axis and a feature axis, got shape "
                                 f"{arr.shape}")
            self.build(self.input_shape or arr.shape[1:])
        expected = tuple(self.layers[0].input_shape)
        if arr.ndim == 1 and expected == (1,):
            arr = arr[:, None]  # one feature per sample, given as a vector
        if not _shape_matches(arr.shape[1:], expected):
            raise ValueError(f"{what}: the model expects x of shape (n, {', '.join(map(str, expected))})"
                             f" but got {arr.shape}: wrong number of features")
        dtype = self._input_dtype()
        if np.dtype(dtype).kind in "iu":  # indices (Embedding): integers stay integers
            _check_finite(arr, f"{what}: x")
            if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
                raise ValueError(f"{what}: {self.layers[0].name} takes integer indices; x has "
                                 f"fractional values")
            arr = np.ascontiguousarray(arr, dtype=dtype)
        else:
            with np.errstate(over="ignore"):  # values too large for the dtype are reported below
                arr = np.ascontiguousarray(arr, dtype=dtype)
            _check_finite(arr, f"{what}: x")
        self.layers[0].check_input(arr, what)
        return arr

    def _prepare_y(self, y, n: int, what: str) -> np.ndarray:
        arr = _as_array(y, f"{what}: y")
        if len(arr) != n:
            raise ValueError(f"{what}: x has {n} samples (rows) but y has {len(arr)}; they must "
                             f"have the same number of rows")
        out = self.output_shape_
        if self.loss_name == "sparse_categorical_crossentropy":
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 1:
                raise ValueError(f"{what}: sparse_categorical_crossentropy takes integer labels of "
                                 f"shape (n,) or (n, 1), got y of shape {arr.shape} (one-hot "
                                 f"targets go with categorical_crossentropy)")
            if arr.dtype.kind == "f":
                _check_finite(arr, f"{what}: y")
                if not np.array_equal(arr, np.round(arr)):
                    raise ValueError(f"{what}: sparse_categorical_crossentropy needs integer class "
                                     f"labels; y has fractional values")
            arr = arr.astype("int64")
            classes = out[-1]
            if classes is not None and arr.size and (arr.min() < 0 or arr.max() >= classes):
                bad = arr[(arr < 0) | (arr >= classes)]
                raise ValueError(f"{what}: labels must be in [0, {classes}) for the model's "
                                 f"{classes} outputs; y has {len(bad)} labels out of range "
                                 f"(e.g. {bad[0]})")
            return np.ascontiguousarray(arr)
        if not (_shape_matches(arr.shape[1:], out)
                or (out and out[-1] == 1 and _shape_matches(arr.shape[1:], out[:-1]))):
            raise ValueError(f"{what}: the model's outputs have shape (n, "
                             f"{', '.join(map(str, out))}) but y has shape {arr.shape}")
        with np.errstate(over="ignore"):
            arr = np.ascontiguousarray(arr, dtype=self.dtype)
        _check_finite(arr, f"{what}: y")
        if self.loss_name == "binary_crossentropy" and arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"{what}: binary_crossentropy needs targets in [0, 1], y has values in "
                             f"[{arr.min()}, {arr.max()}]")
        return arr

    # --- training ------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            nb_epoch=None, sample_weight=None, class_weight=None):
        """Train for ``epochs`` passes over the data.

        Parameters
        ----------
        x, y : array_like
            Samples (n, *input_shape) and targets (n, ...); cast to the model's dtype
            (sparse labels to int64). Checked before anything runs.
        batch_size : int, default 32
        epochs : int
            The epoch to stop at (``initial_epoch`` to ``epochs``); ``nb_epoch`` is the old
            Keras spelling.
        verbose : {0, 1, 2}
            0 silent, 1 a progress line per epoch, 2 one plain line per epoch.
        callbacks : list of Callback
        validation_split : float
            Hold out this fraction of the samples (the last ones, before shuffling).
        validation_data : (x_val, y_val)
            Evaluated at the end of every epoch (overrides validation_split).
        shuffle : bool
            Shuffle the samples every epoch (with NumPy's global random state).
        sample_weight : array_like (n,), optional
            A weight per training sample: the loss is the batch mean of each sample's loss
            times its weight.
        class_weight : dict, optional
            A weight per class ({class index: weight}), applied to each sample by its target's
            class (the label, the one-hot argmax, or 0/1 for a binary target); multiplies
            ``sample_weight`` when both are given.

        Returns
        -------
        History
            ``history.history`` has one value per epoch for 'loss', each metric and 'val_*'.
        """
        self._require_compiled("fit")
        if nb_epoch is not None:
            epochs = nb_epoch
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"fit: batch_size must be at least 1, got {batch_size}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
        x = self._prepare_x(x, "fit")
        y = self._prepare_y(y, len(x), "fit")
        weights = self._sample_weights(y, sample_weight, class_weight, "fit")
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
            split = int(len(x) * (1.0 - validation_split))
            if split == 0 or split == len(x):
                raise ValueError(f"fit: validation_split={validation_split} of {len(x)} samples "
                                 f"leaves no training or no validation samples")
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
            weights = None if weights is None else weights[:split]
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
            vx = self._prepare_x(validation_data[0], "fit: validation_data")
            vy = self._prepare_y(validation_data[1], len(vx), "fit: validation_data")
        if len(x) == 0:
            raise ValueError("fit: no training samples")
        train = self.make_train_function(y.ndim, weighted=weights is not None)
        if validation_data is not None:
            self._eval_function(vy.ndim)

        n = len(x)
        steps = -(-n // batch_size)
        history = History()
        callbacks = [*(callbacks or []), history]  # last, as in Keras: it sees what they log
        params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "verbose": verbose,
                  "samples": n}
        for cb in callbacks:
            cb.set_model(self)
            cb.set_params(params)
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin({})
        names = self.metrics_names
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            bar = ProgressBar(epochs, steps) if verbose == 1 else None
            start = time.perf_counter()
            order = np.random.permutation(n) if shuffle else None
            totals = [0.0] * len(names)
            for step in range(steps):
                lo, hi = step * batch_size, min((step + 1) * batch_size, n)
                idx = slice(lo, hi) if order is None else order[lo:hi]
                xb, yb = x[idx], y[idx]
                for cb in callbacks:
                    cb.on_batch_begin(step, {})
                values = train(xb, yb) if weights is None else train(xb, yb, weights[idx])
                for i, value in enumerate(values):
                    totals[i] += float(value) * (hi - lo)
                batch_logs = {k: float(v) for k, v in zip(names, values)}
                for cb in callbacks:
                    cb.on_batch_end(step, batch_logs)
                if bar is not None:
                    bar.update(epoch, step + 1, {k: t / hi for k, t in zip(names, totals)}, start)
                if self.stop_training:
                    break
            logs = {k: t / hi for k, t in zip(names, totals)}  # the batches that ran
            if validation_data is not None:
                val = self._evaluate_arrays(vx, vy, batch_size)
                logs.update({f"val_{k}": v for k, v in zip(names, val)})
            if bar is not None:
                bar.finish(epoch, logs, start)
            elif verbose == 2:
                values = "".join(f" - {k}: {v:.4f}" for k, v in logs.items())
                print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - start:.1f}s{values}")
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end(dict(logs))
        self.history = history
        return history

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None):
        """One training step on one batch: the loss (and metrics) before the update."""
        self._require_compiled("train_on_batch")
        x = self._prepare_x(x, "train_on_batch")
        y = self._prepare_y(y, len(x), "train_on_batch")
        weights = self._sample_weights(y, sample_weight, class_weight, "train_on_batch")
        step = self.make_train_function(y.ndim, weighted=weights is not None)
        values = step(x, y) if weights is None else step(x, y, weights)
        values = [float(v) for v in values]
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x, y):
        """The loss (and metrics) on one batch, without training."""
        self._require_compiled("test_on_batch")
        x = self._prepare_x(x, "test_on_batch")
        y = self._prepare_y(y, len(x), "test_on_batch")
        values = self._evaluate_arrays(x, y, max(len(x), 1))
        return values[0] if len(values) == 1 else values

    def predict_on_batch(self, x):
        """The outputs for one batch ``x``."""
        x = self._prepare_x(x, "predict_on_batch")
        return self._predict_function()(x)

    def _evaluate_arrays(self, x, y, batch_size) -> list[float]:
        f = self._eval_function(y.ndim)
        totals = np.zeros(1 + len(self.metric_fns))
        for start in range(0, len(x), batch_size):
            values = f(x[start:start + batch_size], y[start:start + batch_size])
            # a loss or metric may give one value per sample (or per element) or one value
            # for the batch: its batch mean weighs in by the batch's size either way
            rows = min(batch_size, len(x) - start)
            totals += [np.mean(v, dtype="float64") * rows for v in values]
        return [float(v) for v in totals / max(len(x), 1)]

    def evaluate(self, x, y, batch_size=None, verbose=0):
        """The loss over the data (a float), or [loss, metric, ...] when metrics were given;
        computed in batches of ``batch_size`` (32). ``verbose=1`` prints them."""
        self._require_compiled("evaluate")
        x = self._prepare_x(x, "evaluate")
        y = self._prepare_y(y, len(x), "evaluate")
        values = self._evaluate_arrays(x, y, 32 if batch_size is None else int(batch_size))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(self.metrics_names, values)))
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0):
        """The outputs for ``x``, computed in batches of ``batch_size`` (32)."""
        x = self._prepare_x(x, "predict")
        batch_size = 32 if batch_size is None else int(batch_size)
        f = self._predict_function()
        parts = [f(x[s:s + batch_size]) for s in range(0, len(x), batch_size)]
        if not parts:
            return np.zeros((0, *self.output_shape_), dtype=self.dtype)
        return np.concatenate(parts)

    def predict_classes(self, x, batch_size=None):
        """Class predictions (old Keras): argmax of the outputs, or output > 0.5 for one
        output unit."""
        p = self.predict(x, batch_size=batch_size)
        if p.shape[-1] > 1:
            return p.argmax(axis=-1)
        return (p > 0.5).astype("int32")

    # --- description and saving ----------------------------------------------------------------
    def summary(self, print_fn=None) -> None:
        """Print the layers, their output shapes and parameter counts (``print_fn`` gets one
        line at a time; ``print`` by default)."""
        if not self.built:
            self.build()
        print_fn = print if print_fn is None else print_fn
        width = 65
        lines = [f'Model: "{self.name}"', "_" * width,
                 f"{'Layer (type)':<30}{'Output Shape':<22}{'Param #':>13}", "=" * width]
        shape = tuple(self.layers[0].input_shape)
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape)
            lines.append(f"{layer.name + ' (' + type(layer).__name__ + ')':<30}"
                         f"{str((None, *shape)):<22}{layer.count_params():>13,}")
            lines.append("=" * width if i == len(self.layers) - 1 else "_" * width)
        trainable = sum(int(p.get_value(borrow=True).size) for p in self.params)
        total = self.count_params()
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * width]
        for line in lines:
            print_fn(line)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype,
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self.layers]}

    def save(self, path) -> None:
        """Architecture, weights and compile state (optimizer slots, loss, metrics) in one file,
        written atomically; :func:`symnet.nn.load_model` reads it back."""
        save_model(self, path)

    def save_weights(self, path) -> None:
        """The weights and layer states alone, written atomically (:meth:`load_weights`)."""
        save_weights(self, path)

    def load_weights(self, path) -> None:
        """Weights and layer states from a file of :meth:`save_weights`."""
        load_weights(self, path)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_functions"] = {}
        return state


def load_model(path):
    """Rebuild a model saved with ``model.save(path)``: architecture, weights, generator states
    and, if it was compiled, the compile state, so ``fit`` goes on exactly where it stopped.
    NumPy's global random state is left untouched.

    Raises
    ------
    ValueError
        If the file is truncated, not a symnet model, or inconsistent with itself.
    OSError
        If the file cannot be opened (FileNotFoundError when it does not exist).
    """
    path = os.fspath(path)
    meta, arrays = read_model(path)
    try:
        config = meta["config"]
        layers = []
        for spec in config["layers"]:
            cls = LAYERS.get(spec["class_name"])
            if cls is None:
                raise ValueError(f"unknown layer class {spec['class_name']!r}")
            layers.append(cls(**spec["config"]))
        # weights are overwritten below: draw the throwaway initial values from a private
        # generator so loading does not advance NumPy's global random state (a model whose
        # input shape is known builds as its layers are added)
        with initializers.scratch_random():
            model = Sequential(layers, name=config["name"], dtype=config["dtype"])
            model.build()
        model.set_weights(numbered_arrays(arrays, "weight_"))
        variables = [v for layer in model.layers for v in layer.states]
        states = numbered_arrays(arrays, "state_")
        if len(states) != len(variables):
            raise ValueError(f"the file has {len(states)} layer states, the model {len(variables)}")
        for var, value in zip(variables, states):
            var.set_value(value)
        compiled = meta.get("compile")
        if compiled:
            optimizer = optimizers_module.from_config(compiled["optimizer"])
            model.compile(optimizer=optimizer, loss=compiled["loss"], metrics=compiled["metrics"])
            optimizer.set_state(numbered_arrays(arrays, "optimizer_"))
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"load_model: {path!r} holds an inconsistent model: {detail}") from None
    return model
