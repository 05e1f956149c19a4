"""Normalization layers, BatchNormalization and LayerNormalization, and the activation layers
with a parameter, LeakyReLU and ELU (Keras 3's arguments and formulas, channels-last).

``BatchNormalization`` normalizes with the batch's statistics while training and with its
moving averages at inference; the moving averages are non-trainable weights the training step
itself updates (the layer hands the model ``state_updates``), so one kernel does the forward
pass, the gradients, the optimizer and the statistics.
"""

from __future__ import annotations

import numpy as np

from symnet import tensor as T
from symnet.nn import activations
from symnet.nn.layers import Layer, _init_name, register


def _axes(ndim: int, axis: int, name: str) -> tuple[int, ...]:
    """Every axis of an ``ndim``-d input but ``axis`` (the one normalized separately)."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for {ndim}-d inputs")
    axis %= ndim
    return tuple(k for k in range(ndim) if k != axis)


def _broadcast(v, ndim: int, axis: int):
    """A vector over ``axis`` shaped to broadcast against an ``ndim``-d tensor."""
    axis %= ndim
    return v.dimshuffle(*["x" if k != axis else 0 for k in range(ndim)])


class _Normalization(Layer):
    """What both normalizations share: the normalized ``axis``, ``epsilon``, and the learned
    scale ``gamma`` (with ``scale``) and offset ``beta`` (with ``center``) along that axis."""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 **kwargs):
        super().__init__(**kwargs)
        self.axis, self.epsilon = int(axis), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer

    def _build_scale_and_offset(self, input_shape) -> int:
        """Create gamma and beta for inputs of ``input_shape``; the length of the axis."""
        _axes(len(input_shape) + 1, self.axis, self.name)
        features = (None, *input_shape)[self.axis]
        if features is None:
            raise ValueError(f"{self.name}: the length of axis {self.axis} must be known, got "
                             f"input shape {tuple(input_shape)}")
        self.gamma = self.add_weight((features,), self.gamma_initializer, "gamma") if self.scale else None
        self.beta = self.add_weight((features,), self.beta_initializer, "beta") if self.center else None
        return features

    def _scale_and_offset(self, out, axis: int):
        if self.gamma is not None:
            out = out * _broadcast(self.gamma, out.ndim, axis)
        if self.beta is not None:
            out = out + _broadcast(self.beta, out.ndim, axis)
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": _init_name(self.beta_initializer),
                "gamma_initializer": _init_name(self.gamma_initializer)}


@register
class BatchNormalization(_Normalization):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` per feature of ``axis``: the batch's
    mean and (biased) variance while training, the moving averages at inference.
    ``moving = momentum * moving + (1 - momentum) * batch`` after each training step. A
    layer that is not trainable runs in inference mode (as in Keras)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         **kwargs)
        self.momentum = float(momentum)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer

    def build(self, input_shape):
        features = self._build_scale_and_offset(input_shape)
        self.moving_mean = self.add_weight((features,), self.moving_mean_initializer,
                                           "moving_mean")
        self.moving_variance = self.add_weight((features,), self.moving_variance_initializer,
                                               "moving_variance")
        for var in (self.moving_mean, self.moving_variance):  # weights, but not trained
            self.params.remove(var)
            self.non_trainable.append(var)

    def call(self, x, training=False):
        ndim, axis = x.ndim, self.axis
        if training and self.trainable:
            axes = _axes(ndim, axis, self.name)
            mean = T.mean(x, axis=axes)
            var = T.mean(T.sqr(x - _broadcast(mean, ndim, axis)), axis=axes)
            m = np.asarray(self.momentum, dtype=x.dtype)
            keep = np.asarray(1.0 - self.momentum, dtype=x.dtype)
            self.state_updates = [(self.moving_mean, self.moving_mean * m + mean * keep),
                                  (self.moving_variance, self.moving_variance * m + var * keep)]
        else:
            mean, var = self.moving_mean, self.moving_variance
        eps = np.asarray(self.epsilon, dtype=x.dtype)
        out = (x - _broadcast(mean, ndim, axis)) / T.sqrt(_broadcast(var, ndim, axis) + eps)
        return self._scale_and_offset(out, axis)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": _init_name(self.moving_mean_initializer),
                "moving_variance_initializer": _init_name(self.moving_variance_initializer)}


@register
class LayerNormalization(_Normalization):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and (biased) variance of
    each sample over ``axis`` (the last by default); gamma and beta have that axis's length."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         **kwargs)

    def build(self, input_shape):
        ndim = len(input_shape) + 1
        _axes(ndim, self.axis, self.name)
        if self.axis % ndim == 0:
            raise ValueError(f"{self.name}: cannot normalize over the batch axis")
        self._build_scale_and_offset(input_shape)

    def call(self, x, training=False):
        axis = self.axis % x.ndim
        mean = T.mean(x, axis=axis, keepdims=True)
        var = T.mean(T.sqr(x - mean), axis=axis, keepdims=True)
        out = (x - mean) / T.sqrt(var + np.asarray(self.epsilon, dtype=x.dtype))
        return self._scale_and_offset(out, axis)


@register
class LeakyReLU(Layer):
    """``x`` where positive, ``negative_slope * x`` elsewhere (``alpha`` is the old name)."""

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope if alpha is None else alpha)
        if self.negative_slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be >= 0, got {self.negative_slope}")

    def call(self, x, training=False):
        return activations.leaky_relu(x, alpha=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register
class ELU(Layer):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, x, training=False):
        return activations.elu(x, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}
