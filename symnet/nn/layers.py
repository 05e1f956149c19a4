"""Keras-style layers. A layer maps a symbolic tensor to a symbolic tensor; its parameters are
shared variables made in ``build(input_shape)`` and listed in ``params``.

>>> import symnet.tensor as T
>>> from symnet.nn import Dense
>>> layer = Dense(4, activation='relu')
>>> out = layer(T.dmatrix('x'))  # builds lazily from the input's static shape or input_dim
Traceback (most recent call last):
...
ValueError: Dense: the input's last dimension is unknown; give input_dim= or input_shape=
>>> out = Dense(4, input_dim=3)(T.dmatrix('x'))
>>> out.ndim
2
"""

from __future__ import annotations

import numpy as np

from symnet import tensor as T
from symnet.graph import SharedVariable
from symnet.nn import activations, initializers

_layer_counts: dict[str, int] = {}


def _unique_name(prefix: str) -> str:
    count = _layer_counts.get(prefix, 0)
    _layer_counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


class Layer:
    """Base class: ``build``, ``call``, ``output_shape``, ``get_config``."""

    #: keyword names accepted by every layer
    def __init__(self, input_shape=None, input_dim=None, name=None, dtype=None):
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.name = name or _unique_name(_snake(type(self).__name__))
        self.dtype = dtype
        self.built = False
        self.params: list[SharedVariable] = []
        self.non_trainable: list[SharedVariable] = []

    # --- building ------------------------------------------------------------------------------
    def add_weight(self, shape, initializer, name) -> SharedVariable:
        value = initializers.get(initializer)(tuple(shape), self.dtype)
        var = SharedVariable(value, name=f"{self.name}/{name}")
        self.params.append(var)
        return var

    def build(self, input_shape) -> None:
        """Create the parameters for inputs of ``input_shape`` (without the batch axis)."""
        self.built = True

    def ensure_built(self, input_shape, dtype) -> None:
        if not self.built:
            if self.dtype is None:
                self.dtype = dtype
            self.build(tuple(input_shape))
            self.built = True

    # --- applying ------------------------------------------------------------------------------
    def __call__(self, x, training: bool = False):
        x = T.as_tensor(x)
        if not self.built:
            shape = self.input_shape
            if shape is None:
                shape = x.type.shape[1:]
            self.ensure_built(shape, self.dtype or (x.dtype if x.dtype in ("float32", "float64") else "float32"))
        return self.call(x, training=training)

    def call(self, x, training=False):
        raise NotImplementedError(type(self).__name__)

    def output_shape(self, input_shape):
        return input_shape

    # --- introspection --------------------------------------------------------------------------
    def count_params(self) -> int:
        return int(sum(p.get_value(borrow=True).size for p in self.params))

    def get_weights(self) -> list[np.ndarray]:
        return [p.get_value() for p in self.params + self.non_trainable]

    def set_weights(self, weights) -> None:
        variables = self.params + self.non_trainable
        if len(weights) != len(variables):
            raise ValueError(f"{self.name}: expected {len(variables)} weight arrays, got {len(weights)}")
        for var, value in zip(variables, weights):
            value = np.asarray(value)
            current = var.get_value(borrow=True)
            if value.shape != current.shape:
                raise ValueError(f"{self.name}: weight {var.name} has shape {current.shape}, got {value.shape}")
            var.set_value(value.astype(current.dtype))

    def get_config(self) -> dict:
        config = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


def _snake(name: str) -> str:
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(c.lower())
    return "".join(out)


class Dense(Layer):
    """``activation(x @ kernel + bias)``; kernel (in, out) glorot_uniform, bias zeros."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"Dense: units must be positive, got {units}")
        self.units = int(units)
        self.activation_name = activations.name_of(activation)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape):
        if not input_shape or input_shape[-1] is None:
            raise ValueError(f"Dense: the input's last dimension is unknown; give input_dim= or input_shape=")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer, "kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, "bias")

    def pre_activation(self, x):
        out = T.dot(x, self.kernel) if x.ndim == 2 else T.tensordot(x, self.kernel, axes=[[x.ndim - 1], [0]])
        if self.use_bias:
            out = out + self.bias
        return out

    def call(self, x, training=False):
        return self.activation(self.pre_activation(x))

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation_name,
                "use_bias": self.use_bias, "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer)}


def _init_name(init):
    return init if isinstance(init, str) else getattr(init, "__name__", "glorot_uniform")


class Activation(Layer):
    """Apply an activation by name (relu, sigmoid, tanh, softmax, linear, softplus, elu, ...)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation_name = activations.name_of(activation)
        self.activation = activations.get(activation)

    def call(self, x, training=False):
        return self.activation(x)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs during training (scaling the rest by
    1 / (1 - rate)); the identity at prediction time."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        from symnet.ops.random import RandomStream

        if not hasattr(self, "_stream"):
            seed = self.seed if self.seed is not None else int(initializers._random().randint(2**31))
            self._stream = RandomStream(seed)
        keep = 1.0 - self.rate
        mask = self._stream.binomial(T.shape(x), n=1, p=keep, dtype=x.dtype, ndim=x.ndim)
        return x * mask * np.asarray(1.0 / keep, dtype=x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Flatten(Layer):
    """Flatten everything but the batch axis."""

    def call(self, x, training=False):
        return T.flatten(x, 2)

    def output_shape(self, input_shape):
        if any(s is None for s in input_shape):
            return (None,)
        return (int(np.prod(input_shape)),)


class Reshape(Layer):
    """Reshape everything but the batch axis to ``target_shape``."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)

    def call(self, x, training=False):
        return T.reshape(x, (T.shape(x)[0],) + self.target_shape)

    def output_shape(self, input_shape):
        return self.target_shape

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


LAYERS = {cls.__name__: cls for cls in (Dense, Activation, Dropout, Flatten, Reshape)}


def register(cls):
    """Make a layer class known to load_model."""
    LAYERS[cls.__name__] = cls
    return cls
