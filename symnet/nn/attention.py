"""Attention layers (Keras 3's names, arguments and formulas): dot-product ``Attention`` and
``MultiHeadAttention``.

Both take several tensors, so they are called on symbolic tensors directly (or from a layer
or model that builds its graph by hand): ``layer([query, value])`` and
``mha(query, value, key=None, attention_mask=None, ...)``. Scores of masked positions are
set to -1e9 before the softmax, as Keras does; a causal mask lets position i attend to
positions up to i only.
"""

from __future__ import annotations

import math

import numpy as np

from symnet import tensor as T
from symnet.graph import Variable
from symnet.nn.layers import Layer, _init_name, apply_dropout, dropout_state, register

_MASKED = -1e9


def _causal(n_query, n_key):
    """(n_query, n_key) booleans: True where the key's position is not after the query's."""
    return T.ge(T.arange(n_query).dimshuffle(0, "x"), T.arange(n_key).dimshuffle("x", 0))


def _apply_mask(scores, mask):
    return T.switch(mask, scores, np.asarray(_MASKED, dtype=scores.dtype))


class _DropoutState:
    """Dropout on attention probabilities, with its own generator state (as Dropout)."""

    def __init__(self, layer: Layer, rate: float, seed):
        self.rate = float(rate)
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"{layer.name}: dropout must be in [0, 1), got {rate}")
        self.seed = seed
        self.state = None

    def build(self, layer: Layer):
        if self.rate:
            self.state = dropout_state(layer, self.seed)

    def __call__(self, x, training):
        if not training or not self.rate:
            return x
        return apply_dropout(x, self.state, self.rate)


def _check_rank(layer: Layer, what: str, x: Variable, ndim: int):
    if x.ndim != ndim:
        raise ValueError(f"{layer.name}: {what} must be {ndim}-d (batch, steps, features), got "
                         f"{x.type.short()}")


@register
class Attention(Layer):
    """Dot-product attention: ``softmax(scores) @ value`` with ``scores = query @ key.T``
    (``score_mode='dot'``, times a learned scale with ``use_scale``) or
    ``scale * sum(tanh(query + key))`` (``score_mode='concat'``, Bahdanau-style). Called as
    ``layer([query, value])`` or ``layer([query, value, key])`` (key defaults to value)."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        super().__init__(**kwargs)
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout = _DropoutState(self, dropout, seed)

    def build(self, input_shape):
        self.scale = self.add_weight((), "ones", "scale") if self.use_scale else None
        self.concat_score_weight = (self.add_weight((), "ones", "concat_score_weight")
                                    if self.score_mode == "concat" else None)
        self.dropout.build(self)

    def __call__(self, inputs, mask=None, training=False, return_attention_scores=False,
                 use_causal_mask=False):
        if isinstance(inputs, Variable):
            inputs = [inputs, inputs]  # self-attention (inside a Sequential)
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"{self.name}: call it on [query, value] or [query, value, key]")
        query, value = T.as_tensor(inputs[0]), T.as_tensor(inputs[1])
        key = T.as_tensor(inputs[2]) if len(inputs) == 3 else value
        for what, x in (("query", query), ("value", value), ("key", key)):
            _check_rank(self, what, x, 3)
        if not self.built:
            self.ensure_built((None, query.type.shape[-1]), self.dtype or query.dtype)
        if self.score_mode == "dot":
            scores = T.matmul(query, key.dimshuffle(0, 2, 1))
            if self.scale is not None:
                scores = scores * T.cast(self.scale, scores.dtype)
        else:
            summed = T.tanh(query.dimshuffle(0, 1, "x", 2) + key.dimshuffle(0, "x", 1, 2))
            scores = T.cast(self.concat_score_weight, query.dtype) * T.sum(summed, axis=-1)
        if use_causal_mask:
            scores = _apply_mask(scores, _causal(T.shape(query)[1], T.shape(key)[1]).dimshuffle(
                "x", 0, 1))
        if mask is not None:  # Keras's value mask: (batch, value steps)
            scores = _apply_mask(scores, T.as_tensor(mask).dimshuffle(0, "x", 1))
        weights = T.nnet.softmax(scores, axis=-1)
        out = T.matmul(self.dropout(weights, training), value)
        return (out, weights) if return_attention_scores else out

    def call(self, x, training=False):
        return self([x, x], training=training)

    def output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout.rate,
                "seed": self.dropout.seed}


@register
class MultiHeadAttention(Layer):
    """Keras's MultiHeadAttention: ``num_heads`` heads of scaled dot-product attention over
    projections of the query, key and value (``key_dim`` and ``value_dim`` wide), their
    outputs projected back to the query's width (or ``output_shape``).

    ``attention_mask`` is boolean (batch, query steps, key steps), True where attention is
    allowed; ``use_causal_mask`` adds the causal mask."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) <= 0 or int(key_dim) <= 0:
            raise ValueError(f"MultiHeadAttention: num_heads and key_dim must be positive, got "
                             f"{num_heads} and {key_dim}")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim is not None else self.key_dim
        self.use_bias = bool(use_bias)
        self.output_shape_dim = None if output_shape is None else int(
            output_shape if np.ndim(output_shape) == 0 else output_shape[-1])
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.dropout = _DropoutState(self, dropout, seed)

    def build_for(self, query_dim: int, key_dim: int, value_dim: int):
        """Create the projections for inputs of these widths."""
        h, k, v = self.num_heads, self.key_dim, self.value_dim
        out = self.output_shape_dim or query_dim
        init, bias = self.kernel_initializer, self.bias_initializer
        self.query_kernel = self.add_weight((query_dim, h, k), init, "query/kernel")
        self.query_bias = self.add_weight((h, k), bias, "query/bias") if self.use_bias else None
        self.key_kernel = self.add_weight((key_dim, h, k), init, "key/kernel")
        self.key_bias = self.add_weight((h, k), bias, "key/bias") if self.use_bias else None
        self.value_kernel = self.add_weight((value_dim, h, v), init, "value/kernel")
        self.value_bias = self.add_weight((h, v), bias, "value/bias") if self.use_bias else None
        self.output_kernel = self.add_weight((h, v, out), init, "output/kernel")
        self.output_bias = self.add_weight((out,), bias, "output/bias") if self.use_bias else None
        self.dropout.build(self)
        self.built = True

    def build(self, input_shape):
        features = input_shape[-1]
        self.build_for(features, features, features)

    def _project(self, x, kernel, bias):
        """(batch, steps, features) x (features, heads, width) -> (batch, heads, steps, width)."""
        y = T.tensordot(x, kernel, axes=[[2], [0]])
        if bias is not None:
            y = y + bias
        return y.dimshuffle(0, 2, 1, 3)

    def __call__(self, query, value=None, key=None, attention_mask=None,
                 return_attention_scores=False, training=False, use_causal_mask=False):
        query = T.as_tensor(query)
        value = query if value is None else T.as_tensor(value)  # None: self-attention
        key = value if key is None else T.as_tensor(key)
        for what, x in (("query", query), ("value", value), ("key", key)):
            _check_rank(self, what, x, 3)
            if x.type.shape[-1] is None and not self.built:
                raise ValueError(f"{self.name}: the {what}'s feature axis must have a known "
                                 f"length to build the layer, got {x.type.short()}")
        if not self.built:
            if self.dtype is None:
                self.dtype = query.dtype
            self.build_for(query.type.shape[-1], key.type.shape[-1], value.type.shape[-1])
        expected = (self.query_kernel, self.key_kernel, self.value_kernel)
        for what, x, kernel in zip(("query", "key", "value"), (query, key, value), expected):
            width = kernel.get_value(borrow=True).shape[0]
            if x.type.shape[-1] not in (None, width):  # unknown: the kernel checks it
                raise ValueError(f"{self.name}: the {what} has {x.type.shape[-1]} features, the "
                                 f"layer was built for {width}")
        q = self._project(query, self.query_kernel, self.query_bias)
        q = q * np.asarray(1.0 / math.sqrt(self.key_dim), dtype=q.dtype)
        k = self._project(key, self.key_kernel, self.key_bias)
        v = self._project(value, self.value_kernel, self.value_bias)
        scores = T.matmul(q, k.dimshuffle(0, 1, 3, 2))  # (batch, heads, query, key)
        if use_causal_mask:
            scores = _apply_mask(scores, _causal(T.shape(query)[1], T.shape(key)[1]).dimshuffle(
                "x", "x", 0, 1))
        if attention_mask is not None:
            mask = T.as_tensor(attention_mask)
            if mask.ndim != 3:
                raise ValueError(f"{self.name}: attention_mask must be (batch, query steps, key "
                                 f"steps), got {mask.type.short()}")
            scores = _apply_mask(scores, T.neq(mask, 0).dimshuffle(0, "x", 1, 2))
        weights = T.nnet.softmax(scores, axis=-1)
        context = T.matmul(self.dropout(weights, training), v)  # (batch, heads, query, width)
        out = T.tensordot(context.dimshuffle(0, 2, 1, 3), self.output_kernel,
                          axes=[[2, 3], [0, 1]])
        if self.output_bias is not None:
            out = out + self.output_bias
        return (out, weights) if return_attention_scores else out

    def call(self, x, training=False):
        return self(x, training=training)  # self-attention inside a Sequential

    def output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_shape_dim or input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout.rate,
                "use_bias": self.use_bias, "output_shape": self.output_shape_dim,
                "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer), "seed": self.dropout.seed}
