"""Recurrent layers (Keras layout: inputs (batch, timesteps, features)) built on ``sn.scan``,
so each is one native loop inside the compiled kernel, and its gradient is backpropagation
through time from the same scan machinery."""

from __future__ import annotations

import numpy as np

from symnet import tensor as T
from symnet.nn import activations
from symnet.nn.layers import Layer, _init_name, register
from symnet.ops.control import scan


class _Recurrent(Layer):
    """Shared plumbing: weights, the scan over time, return_sequences."""

    n_gates = 1

    def __init__(self, units, activation="tanh", return_sequences=False, use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"{type(self).__name__}: units must be positive, got {units}")
        self.units = int(units)
        self.activation_name = activations.name_of(activation)
        self.activation = activations.get(activation)
        self.return_sequences = bool(return_sequences)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__}: expects samples of shape (timesteps, "
                             f"features) with known features, got {input_shape}")
        n = self.units * self.n_gates
        self.kernel = self.add_weight((input_shape[-1], n), self.kernel_initializer, "kernel")
        self.recurrent_kernel = self.add_weight((self.units, n), self.recurrent_initializer,
                                                "recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight((n,), self.bias_initializer, "bias")

    def _inputs_projection(self, x):
        """x W + b for every time step at once (one matmul), time-major."""
        steps = T.dimshuffle(x, 1, 0, 2)  # (time, batch, features)
        projected = T.tensordot(steps, self.kernel, axes=[[2], [0]])
        if self.use_bias:
            projected = projected + self.bias
        return projected

    def _initial(self, x):
        return T.zeros(T.stack([T.shape(x)[0], self.units]), dtype=self.kernel.dtype)

    def _finish(self, states):
        if self.return_sequences:
            return T.dimshuffle(states, 1, 0, 2)
        return states[-1]

    def output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], self.units)
        return (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation_name,
                "return_sequences": self.return_sequences, "use_bias": self.use_bias,
                "kernel_initializer": _init_name(self.kernel_initializer),
                "recurrent_initializer": _init_name(self.recurrent_initializer),
                "bias_initializer": _init_name(self.bias_initializer)}


@register
class SimpleRNN(_Recurrent):
    """h_t = activation(x_t W + h_{t-1} U + b)."""

    def call(self, x, training=False):
        def step(xw_t, h, u):
            return self.activation(xw_t + T.dot(h, u))

        states, _ = scan(step, sequences=self._inputs_projection(x),
                            outputs_info=self._initial(x), non_sequences=[self.recurrent_kernel])
        return self._finish(states)


@register
class LSTM(_Recurrent):
    """Keras's LSTM: gates (input, forget, cell, output) in that order, the forget gate's bias
    starting at 1 (unit_forget_bias), sigmoid recurrent activation."""

    n_gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation_name = activations.name_of(recurrent_activation)
        self.recurrent_activation = activations.get(recurrent_activation)

    def build(self, input_shape):
        super().build(input_shape)
        if self.use_bias:
            value = self.bias.get_value()
            value[self.units:2 * self.units] = 1.0
            self.bias.set_value(value)

    def call(self, x, training=False):
        u = self.units
        gate = self.recurrent_activation

        def step(xw_t, h, c, recurrent):
            z = xw_t + T.dot(h, recurrent)
            i = gate(z[:, :u])
            f = gate(z[:, u:2 * u])
            candidate = self.activation(z[:, 2 * u:3 * u])
            o = gate(z[:, 3 * u:])
            new_c = f * c + i * candidate
            return [o * self.activation(new_c), new_c]

        h0 = self._initial(x)
        (hs, _cs), _ = scan(step, sequences=self._inputs_projection(x),
                               outputs_info=[h0, T.zeros_like(h0)],
                               non_sequences=[self.recurrent_kernel])
        return self._finish(hs)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation_name}


@register
class GRU(_Recurrent):
    """Gated recurrent unit (update z, reset r; the reset gate applied before the recurrent
    product, Keras's reset_after=False form)."""

    n_gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation_name = activations.name_of(recurrent_activation)
        self.recurrent_activation = activations.get(recurrent_activation)

    def call(self, x, training=False):
        u = self.units
        gate = self.recurrent_activation

        def step(xw_t, h, recurrent):
            zr = xw_t[:, :2 * u] + T.dot(h, recurrent[:, :2 * u])
            z = gate(zr[:, :u])
            r = gate(zr[:, u:])
            candidate = self.activation(xw_t[:, 2 * u:] + T.dot(r * h, recurrent[:, 2 * u:]))
            return z * h + (1 - z) * candidate

        states, _ = scan(step, sequences=self._inputs_projection(x),
                            outputs_info=self._initial(x), non_sequences=[self.recurrent_kernel])
        return self._finish(states)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation_name}


def numpy_simple_rnn(x, kernel, recurrent, bias, activation=np.tanh, return_sequences=False):
    """Reference forward pass (tests and docs): x (batch, time, features)."""
    h = np.zeros((x.shape[0], kernel.shape[1]), dtype=x.dtype)
    outs = []
    for t in range(x.shape[1]):
        h = activation(x[:, t] @ kernel + h @ recurrent + bias)
        outs.append(h)
    return np.stack(outs, axis=1) if return_sequences else h
