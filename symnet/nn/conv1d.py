"""Layers over sequences (batch, steps, channels), as in Keras: ``Conv1D``, ``MaxPooling1D``,
``AveragePooling1D``, ``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D``.

They run on the 2-d convolution and pooling ops with the steps as the columns of a one-row
image, so they share their kernels, gradients and checks; the weights keep Keras's 1-d shapes
(a Conv1D kernel is (kernel_size, in, filters)).
"""

from __future__ import annotations

from symnet import tensor as T
from symnet.nn import activations
from symnet.nn.layers import (AveragePooling2D, Layer, MaxPooling2D, _init_name, _pad_spatial,
                              _same_pads, _window_length, register)
from symnet.ops.conv import conv2d


def _positive(value, what: str) -> int:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if int(value) != value or int(value) <= 0:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def _require_rank3(layer: Layer, x) -> None:
    if x.ndim != 3:
        raise ValueError(f"{layer.name}: expects inputs (batch, steps, channels), got "
                         f"{x.type.short()}")


def _build_check(layer: Layer, input_shape) -> None:
    if len(input_shape) != 2:
        raise ValueError(f"{type(layer).__name__}: expects samples of shape (steps, channels), "
                         f"got {tuple(input_shape)}")


@register
class Conv1D(Layer):
    """1-d convolution (cross-correlation) over (batch, steps, channels), plus a bias, then
    ``activation``. ``padding``: 'valid', 'same' (ceil(steps / stride) outputs) or 'causal'
    (``kernel_size - 1`` zeros before the sequence: output t sees inputs up to t)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = _positive(filters, "Conv1D: filters")
        self.kernel_size = _positive(kernel_size, "Conv1D: kernel_size")
        self.strides = _positive(strides, "Conv1D: strides")
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be 'valid', 'same' or 'causal', got "
                             f"{padding!r}")
        self.activation_name = activations.name_of(activation)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        _build_check(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError("Conv1D: the number of input channels is unknown; give "
                             "input_shape=(steps, channels)")
        self.steps = input_shape[0]
        self.kernel = self.add_weight((self.kernel_size, input_shape[-1], self.filters),
                                      self.kernel_initializer, "kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias")

    def call(self, x, training=False):
        _require_rank3(self, x)
        image = x.dimshuffle(0, "x", 1, 2)  # one row of `steps` columns
        border_mode = "valid"
        if self.padding == "causal":
            image = _pad_spatial(image, (0, 0), (self.kernel_size - 1, 0), 0)
        elif self.padding == "same":
            steps = x.type.shape[1] if x.type.shape[1] is not None else self.steps
            pads = _same_pads(steps, self.kernel_size, self.strides, self.name, "steps")
            if pads[0] == pads[1]:
                border_mode = (0, pads[0])
            else:
                image = _pad_spatial(image, (0, 0), pads, 0)
        out = conv2d(image, self.kernel.dimshuffle("x", 0, 1, 2), border_mode=border_mode,
                     subsample=(1, self.strides), filter_flip=False, layout="NHWC")[:, 0]
        if self.use_bias:
            out = out + self.bias
        return self.activation(out)

    def output_shape(self, input_shape):
        padding = "same" if self.padding == "same" else "valid"
        steps = input_shape[0]
        if self.padding == "causal" and steps is not None:
            steps += self.kernel_size - 1
        return (_window_length(steps, self.kernel_size, self.strides, padding, self.name),
                self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "activation": self.activation_name, "use_bias": self.use_bias,
                "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer)}


class _Pooling1D(Layer):
    """Windows of ``pool_size`` steps moved by ``strides`` (default: the pool size), through
    the 2-d pooling layer on a one-row image."""

    pooling2d = MaxPooling2D

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = _positive(pool_size, f"{owner}: pool_size")
        self.strides = self.pool_size if strides is None else _positive(strides,
                                                                        f"{owner}: strides")
        self.padding = str(padding).lower()
        self._pool = self.pooling2d((1, self.pool_size), strides=(1, self.strides),
                                    padding=padding, name=f"{self.name}/2d")

    def build(self, input_shape):
        _build_check(self, input_shape)
        self._pool.ensure_built((1, *input_shape), self.dtype)

    def call(self, x, training=False):
        _require_rank3(self, x)
        return self._pool(x.dimshuffle(0, "x", 1, 2))[:, 0]

    def output_shape(self, input_shape):
        return (_window_length(input_shape[0], self.pool_size, self.strides, self.padding,
                               self.name), input_shape[1])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


@register
class MaxPooling1D(_Pooling1D):
    """The maximum of each window of ``pool_size`` steps, per channel."""

    pooling2d = MaxPooling2D


@register
class AveragePooling1D(_Pooling1D):
    """The mean of each window of ``pool_size`` steps, per channel."""

    pooling2d = AveragePooling2D


@register
class GlobalAveragePooling1D(Layer):
    """The mean over the steps: (batch, steps, channels) -> (batch, channels)."""

    def call(self, x, training=False):
        _require_rank3(self, x)
        return T.mean(x, axis=1)

    def output_shape(self, input_shape):
        return (input_shape[-1],)


@register
class GlobalMaxPooling1D(Layer):
    """The maximum over the steps: (batch, steps, channels) -> (batch, channels)."""

    def call(self, x, training=False):
        _require_rank3(self, x)
        return T.max(x, axis=1)

    def output_shape(self, input_shape):
        return (input_shape[-1],)
