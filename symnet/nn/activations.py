"""Activation functions by Keras name, as symbolic compositions."""

from __future__ import annotations

import math

from symnet import tensor as T


def linear(x):
    return x


def relu(x):
    return T.relu(x)


def sigmoid(x):
    return T.sigmoid(x)


def tanh(x):
    return T.tanh(x)


def softmax(x):
    return T.nnet.softmax(x, axis=-1)


def softplus(x):
    return T.softplus(x)


def elu(x, alpha=1.0):
    return T.switch(T.gt(x, 0), x, alpha * T.expm1(T.minimum(x, 0)))


def leaky_relu(x, alpha=0.3):
    return T.relu(x, alpha=alpha)


def selu(x):
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    return scale * elu(x, alpha)


def hard_sigmoid(x):
    return T.clip(0.2 * x + 0.5, 0.0, 1.0)


def gelu(x, approximate=False):
    """``x * P(X <= x)`` for a standard normal X: ``0.5 x (1 + erf(x / sqrt(2)))``, or with
    ``approximate`` the tanh form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``."""
    if approximate:
        return 0.5 * x * (1.0 + T.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + T.erf(x * (1.0 / math.sqrt(2.0))))


ACTIVATIONS = {f.__name__: f for f in (linear, relu, sigmoid, tanh, softmax, softplus, elu,
                                        leaky_relu, selu, hard_sigmoid, gelu)}
ACTIVATIONS["leakyrelu"] = leaky_relu


def get(activation):
    if activation is None:
        return linear
    if callable(activation):
        return activation
    try:
        return ACTIVATIONS[str(activation).lower()]
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; known: {sorted(ACTIVATIONS)}") from None


def name_of(activation) -> str:
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        get(activation)
        return activation.lower()
    return getattr(activation, "__name__", "custom")
