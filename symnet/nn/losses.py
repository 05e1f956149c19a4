"""Losses and metrics (Keras names). Each loss maps (y_true, y_pred, logits) to a per-sample
symbolic loss; ``logits`` is the final layer's pre-activation when its activation is sigmoid
or softmax, and the cross-entropies then use the stable logit forms."""

from __future__ import annotations

from symnet import tensor as T


def _match_rank(y_true, y_pred):
    """Targets of shape (n,) for an (n, 1) output (and vice versa) are accepted."""
    if y_true.ndim == y_pred.ndim - 1:
        y_true = T.expand_dims(y_true, -1)
    return y_true


def _per_sample(values):
    return T.mean(values, axis=tuple(range(1, values.ndim))) if values.ndim > 1 else values


def mean_squared_error(y_true, y_pred, logits=None):
    y_true = _match_rank(y_true, y_pred)
    return _per_sample(T.sqr(y_pred - y_true))


def mean_absolute_error(y_true, y_pred, logits=None):
    y_true = _match_rank(y_true, y_pred)
    return _per_sample(T.abs_(y_pred - y_true))


def binary_crossentropy(y_true, y_pred, logits=None):
    y_true = _match_rank(y_true, y_pred)
    if logits is not None and logits[0] == "sigmoid":
        values = T.nnet.sigmoid_binary_crossentropy_with_logits(logits[1], y_true)
    else:
        eps = 1e-7
        values = T.nnet.binary_crossentropy(T.clip(y_pred, eps, 1 - eps), y_true)
    return _per_sample(values)


def categorical_crossentropy(y_true, y_pred, logits=None):
    if logits is not None and logits[0] == "softmax":
        return T.nnet.softmax_cross_entropy_with_logits(logits[1], y_true)
    eps = 1e-7
    p = T.clip(y_pred / T.sum(y_pred, axis=-1, keepdims=True), eps, 1 - eps)
    return -T.sum(y_true * T.log(p), axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, logits=None):
    labels = T.cast(T.flatten(y_true) if y_true.ndim > 1 else y_true, "int64")
    if logits is not None and logits[0] == "softmax":
        return T.nnet.softmax_cross_entropy_with_logits(logits[1], labels)
    eps = 1e-7
    return T.nnet.categorical_crossentropy(T.clip(y_pred, eps, 1 - eps), labels)


LOSSES = {
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}


def get(loss):
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; known: {sorted(LOSSES)}") from None


# --- metrics ----------------------------------------------------------------------------------


def binary_accuracy(y_true, y_pred):
    y_true = _match_rank(y_true, y_pred)
    return _per_sample(T.cast(T.eq(T.cast(T.gt(y_pred, 0.5), y_pred.dtype), y_true), y_pred.dtype))


def categorical_accuracy(y_true, y_pred):
    return T.cast(T.eq(T.argmax(y_true, axis=-1), T.argmax(y_pred, axis=-1)), y_pred.dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    labels = T.cast(T.flatten(y_true) if y_true.ndim > 1 else y_true, "int64")
    return T.cast(T.eq(labels, T.argmax(y_pred, axis=-1)), y_pred.dtype)


def metric_for(name, loss_name: str):
    """Keras's choice: 'accuracy' means binary, categorical or sparse accuracy by the loss."""
    if callable(name):
        return getattr(name, "__name__", "metric"), name
    key = str(name).lower()
    if key in ("accuracy", "acc"):  # logged under the name the user gave, as Keras does
        if loss_name == "sparse_categorical_crossentropy":
            return key, sparse_categorical_accuracy
        if loss_name == "categorical_crossentropy":
            return key, categorical_accuracy
        return key, binary_accuracy
    table = {"mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
             "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
             "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
             "sparse_categorical_accuracy": sparse_categorical_accuracy}
    if key not in table:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(table) + ['accuracy']}")
    return key, table[key]
