"""Recurrent layers (Keras layout: inputs (batch, timesteps, features)) built on ``sn.scan``,
so each is one native loop inside the compiled kernel, and its gradient is backpropagation
through time from the same scan machinery."""

from __future__ import annotations

import numpy as np

from symnet import tensor as T
from symnet.nn import activations
from symnet.nn.layers import LAYERS, Layer, _init_name, register
from symnet.ops.control import scan


class _Recurrent(Layer):
    """Shared plumbing: weights, the scan over time, return_sequences."""

    n_gates = 1

    def __init__(self, units, activation="tanh", return_sequences=False, use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", go_backwards=False, **kwargs):
        super().__init__(**kwargs)
        #: process the sequence from its last step to its first (the outputs of
        #: ``return_sequences`` then come in that order too, as in Keras)
        self.go_backwards = bool(go_backwards)
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
        if self.go_backwards:
            steps = steps[::-1]
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
                "go_backwards": self.go_backwards,
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


@register
class Bidirectional(Layer):
    """Run a recurrent ``layer`` over the sequence forwards and a copy of it backwards, and
    merge the two: ``merge_mode`` 'concat' (the default), 'sum', 'mul' or 'ave'. The backward
    copy has its own weights (``backward_layer`` gives it explicitly)."""

    MERGE_MODES = ("concat", "sum", "mul", "ave")

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if isinstance(layer, dict):  # from get_config
            layer = _from_config(layer)
        if isinstance(backward_layer, dict):
            backward_layer = _from_config(backward_layer)
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional wraps SimpleRNN, LSTM or GRU, got {layer!r}")
        if merge_mode not in self.MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {self.MERGE_MODES}, got "
                             f"{merge_mode!r}")
        super().__init__(**kwargs)
        self.forward_layer = layer
        if backward_layer is None:
            config = {**layer.get_config(), "go_backwards": not layer.go_backwards,
                      "name": f"backward_{layer.name}"}
            config.pop("input_shape", None)
            backward_layer = type(layer)(**config)
        if backward_layer.return_sequences != layer.return_sequences:
            raise ValueError("Bidirectional: the two layers must agree on return_sequences")
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            layer.ensure_built(input_shape, self.dtype)
        self.params = self.forward_layer.params + self.backward_layer.params

    def call(self, x, training=False):
        forward = self.forward_layer(x, training=training)
        backward = self.backward_layer(x, training=training)
        if self.forward_layer.return_sequences:
            backward = backward[:, ::-1]  # back in time order
        if self.merge_mode == "concat":
            return T.concatenate([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "mul":
            return forward * backward
        return (forward + backward) * np.asarray(0.5, dtype=forward.dtype)

    def output_shape(self, input_shape):
        shape = self.forward_layer.output_shape(input_shape)
        if self.merge_mode == "concat":
            shape = (*shape[:-1], 2 * shape[-1])
        return shape

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": _to_config(self.forward_layer),
                "backward_layer": _to_config(self.backward_layer)}


@register
class TimeDistributed(Layer):
    """Apply ``layer`` to every time step of (batch, time, ...) inputs, with one set of
    weights: the steps are folded into the batch, the layer runs once, and they are unfolded."""

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):
            layer = _from_config(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a layer, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: expects samples of shape (timesteps, ...), got "
                             f"{tuple(input_shape)}")
        self.layer.ensure_built(tuple(input_shape[1:]), self.dtype)
        self.params = self.layer.params
        self.non_trainable = self.layer.non_trainable
        self.states = self.layer.states

    def call(self, x, training=False):
        shape = T.shape(x)
        folded = T.reshape(x, T.concatenate([T.stack([shape[0] * shape[1]]), shape[2:]]),
                           ndim=x.ndim - 1)
        out = self.layer(folded, training=training)
        self.state_updates = list(self.layer.state_updates)
        out_shape = T.shape(out)
        return T.reshape(out, T.concatenate([shape[:2], out_shape[1:]]), ndim=out.ndim + 1)

    def output_shape(self, input_shape):
        return (input_shape[0], *self.layer.output_shape(tuple(input_shape[1:])))

    def get_config(self):
        return {**super().get_config(), "layer": _to_config(self.layer)}


def _to_config(layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _from_config(spec: dict) -> Layer:
    from_name = LAYERS.get(spec.get("class_name"))
    if from_name is None:
        raise ValueError(f"unknown layer class {spec.get('class_name')!r}")
    return from_name(**spec["config"])


def numpy_simple_rnn(x, kernel, recurrent, bias, activation=np.tanh, return_sequences=False):
    """Reference forward pass (tests and docs): x (batch, time, features)."""
    h = np.zeros((x.shape[0], kernel.shape[1]), dtype=x.dtype)
    outs = []
    for t in range(x.shape[1]):
        h = activation(x[:, t] @ kernel + h @ recurrent + bias)
        outs.append(h)
    return np.stack(outs, axis=1) if return_sequences else h
