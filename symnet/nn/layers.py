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
from symnet.ops.conv import conv2d
from symnet.ops.pool import max_pool_2d
from symnet.ops.random import RandomDraw, seed_state

_layer_counts: dict[str, int] = {}


def _unique_name(prefix: str) -> str:
    count = _layer_counts.get(prefix, 0)
    _layer_counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


class Layer:
    """Base class: ``build``, ``call``, ``output_shape``, ``get_config``."""

    #: keyword names accepted by every layer
    def __init__(self, input_shape=None, input_dim=None, name=None, dtype=None, trainable=True):
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.name = name or _unique_name(_snake(type(self).__name__))
        self.dtype = dtype
        #: whether training updates the layer's weights; a change takes effect when the model
        #: is compiled again (as in Keras)
        self.trainable = bool(trainable)
        self.built = False
        self.params: list[SharedVariable] = []
        self.non_trainable: list[SharedVariable] = []
        #: state that is not a weight (random generator states): saved with the model
        self.states: list[SharedVariable] = []
        #: (shared variable, new value) pairs the last training-mode call asks the training
        #: step to apply (moving statistics); the model adds them to the step's updates
        self.state_updates: list[tuple] = []

    # --- building ------------------------------------------------------------------------------
    def add_weight(self, shape, initializer, name) -> SharedVariable:
        value = initializers.get(initializer)(tuple(shape), self.dtype)
        # a static shape lets the compiler see that gradients need no run-time reduction
        var = SharedVariable(value, name=f"{self.name}/{name}", shape=value.shape)
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
    #: the dtype of the model's input when this is the first layer (None: the model's dtype)
    input_dtype: str | None = None

    def check_input(self, x: np.ndarray, what: str) -> None:
        """Check the data a model feeds this first layer (after the cast to ``input_dtype``)."""

    def __call__(self, x, training: bool = False):
        x = T.as_tensor(x)
        if self.input_shape is not None and x.ndim != len(self.input_shape) + 1:
            raise ValueError(f"{self.name}: expects inputs of rank {len(self.input_shape) + 1} "
                             f"(batch, *{self.input_shape}), got {x.type.short()}")
        if not self.built:
            shape = self.input_shape if self.input_shape is not None else x.type.shape[1:]
            default = x.dtype if x.dtype in ("float32", "float64") else "float32"
            self.ensure_built(shape, self.dtype or default)
        self.state_updates = []
        return self.call(x, training=training)

    def call(self, x, training=False):
        raise NotImplementedError(type(self).__name__)

    def output_shape(self, input_shape):
        return input_shape

    # --- introspection --------------------------------------------------------------------------
    def count_params(self) -> int:
        """How many weights the layer holds, trainable and not (as Keras counts them)."""
        return int(sum(p.get_value(borrow=True).size for p in self.params + self.non_trainable))

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
        if not self.trainable:
            config["trainable"] = False
        return config

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


def _snake(name: str) -> str:
    """Keras's layer-name form: Dense -> dense, SimpleRNN -> simple_rnn, Conv2D -> conv2d."""
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and name[i - 1].islower():
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
            raise ValueError("Dense: the input's last dimension is unknown; give input_dim= or input_shape=")
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


def dropout_state(layer: Layer, seed) -> SharedVariable:
    """A generator state for ``layer``'s dropout masks, seeded from ``seed`` or else from the
    weight initializers' random state; one of the layer's saved states."""
    seed = seed if seed is not None else int(initializers._random().randint(2**31))
    state = SharedVariable(seed_state(seed), name=f"{layer.name}/rng_state", shape=(2,))
    layer.states.append(state)
    return state


def apply_dropout(x, state: SharedVariable, rate: float):
    """``x`` with a fraction ``rate`` zeroed and the rest scaled by 1 / (1 - rate), the mask
    drawn from ``state``; the function compiled from the graph advances the state per call."""
    keep = 1.0 - rate
    new_state, mask = RandomDraw("binomial", x.dtype, x.ndim)(state, T.shape(x), 1, keep)
    state.default_update = new_state
    return x * (mask * np.asarray(1.0 / keep, dtype=x.dtype))


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs during training (scaling the rest by
    1 / (1 - rate)); the identity at prediction time.

    The masks come from the layer's own generator state (a shared variable with a default
    update, so every training step draws a new mask); it is seeded from ``seed``, else from the
    weight initializers' random state, and saved with the model.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed

    def build(self, input_shape):
        self.rng_state = dropout_state(self, self.seed)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        return apply_dropout(x, self.rng_state, self.rate)

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


# --- convolutional layers (channels-last, as in Keras) ---------------------------------------------


def _pair(value, what: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair of positive ints (kernel sizes, strides, pool sizes)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in pair):
        raise ValueError(f"{what} must be a positive int or a pair of positive ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _padding_name(padding, owner: str) -> str:
    name = str(padding).lower()
    if name not in ("valid", "same"):
        raise ValueError(f"{owner}: padding must be 'valid' or 'same', got {padding!r}")
    return name


def _window_length(n, size: int, stride: int, padding: str, owner: str):
    """The output length along one axis of a window sliding over ``n`` positions (Keras's
    rule: 'valid' keeps only windows inside the input, 'same' gives ceil(n / stride))."""
    if n is None:
        return None
    if padding == "same":
        return -(-n // stride)
    if n < size:
        raise ValueError(f"{owner}: a window of {size} does not fit in an input of length {n} "
                         f"with padding='valid'")
    return (n - size) // stride + 1


def _same_pads(n, size: int, stride: int, owner: str, axis: str) -> tuple[int, int]:
    """(before, after) zeros for padding='same': Keras pads ``size - stride`` (or less at the
    end of the axis) and puts the odd one after."""
    if stride == 1:
        total = size - 1
    elif n is None:
        raise ValueError(f"{owner}: padding='same' with strides {stride} needs the number of "
                         f"{axis} known statically; give input_shape=(rows, cols, channels)")
    else:
        total = max((-(-n // stride) - 1) * stride + size - n, 0)
    return total // 2, total - total // 2


def _spatial_shape(layer: Layer, x) -> tuple:
    """(rows, cols) of ``x``, from its static type or else from the shape the layer was built
    for (None where unknown)."""
    rows, cols = x.type.shape[1:3]
    built = layer.built_shape or (None, None, None)
    return (rows if rows is not None else built[0]), (cols if cols is not None else built[1])


def _pad_spatial(x, rows: tuple[int, int], cols: tuple[int, int], value):
    """``x`` (batch, rows, cols, channels) with ``value`` written around the rows and cols."""
    shape = T.shape(x)
    padded = T.alloc(np.asarray(value, dtype=x.dtype), shape[0], shape[1] + (rows[0] + rows[1]),
                     shape[2] + (cols[0] + cols[1]), shape[3])
    row_slice = slice(rows[0], -rows[1] if rows[1] else None)
    col_slice = slice(cols[0], -cols[1] if cols[1] else None)
    return T.set_subtensor(padded[:, row_slice, col_slice, :], x)


def _require_rank4(layer: Layer, x) -> None:
    if x.ndim != 4:
        raise ValueError(f"{layer.name}: expects inputs (batch, rows, cols, channels), got "
                         f"{x.type.short()}")


class _Spatial(Layer):
    """Layers over (batch, rows, cols, channels): remember the shape they were built for."""

    built_shape: tuple | None = None

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__}: expects samples of shape (rows, cols, "
                             f"channels), got {tuple(input_shape)}")
        self.built_shape = tuple(input_shape)


class Conv2D(_Spatial):
    """2-D convolution over channels-last inputs (batch, rows, cols, channels), as in Keras:
    cross-correlation with a kernel (rows, cols, in, out), plus a bias, then ``activation``.

    ``padding='valid'`` keeps the windows inside the input; ``'same'`` pads with zeros so the
    output has ceil(n / stride) rows and cols (any kernel size; an odd amount of padding goes
    after, as in Keras).

    Examples
    --------
    >>> import symnet.tensor as T
    >>> from symnet.nn import Conv2D
    >>> layer = Conv2D(8, 3, padding='same', activation='relu', input_shape=(28, 28, 1))
    >>> layer.output_shape((28, 28, 1))
    (28, 28, 8)
    >>> out = layer(T.tensor('float32', shape=(None, 28, 28, 1)))
    >>> [p.name.split('/')[-1] for p in layer.params], layer.kernel.get_value().shape
    (['kernel', 'bias'], (3, 3, 1, 8))
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
        if int(filters) <= 0:
            raise ValueError(f"Conv2D: filters must be positive, got {filters}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "Conv2D: kernel_size")
        self.strides = _pair(strides, "Conv2D: strides")
        self.padding = _padding_name(padding, "Conv2D")
        self.activation_name = activations.name_of(activation)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape):
        super().build(input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("Conv2D: the number of input channels is unknown; give "
                             "input_shape=(rows, cols, channels)")
        self.kernel = self.add_weight((*self.kernel_size, channels, self.filters),
                                      self.kernel_initializer, "kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias")

    def pre_activation(self, x):
        _require_rank4(self, x)
        border_mode = "valid"
        if self.padding == "same":
            rows, cols = _spatial_shape(self, x)
            pad_rows = _same_pads(rows, self.kernel_size[0], self.strides[0], self.name, "rows")
            pad_cols = _same_pads(cols, self.kernel_size[1], self.strides[1], self.name, "cols")
            if pad_rows[0] == pad_rows[1] and pad_cols[0] == pad_cols[1]:
                border_mode = (pad_rows[0], pad_cols[0])
            else:  # the op pads symmetrically: write the zeros explicitly
                x = _pad_spatial(x, pad_rows, pad_cols, 0)
        out = conv2d(x, self.kernel, border_mode=border_mode, subsample=self.strides,
                     filter_flip=False, layout="NHWC")
        if self.use_bias:
            out = out + self.bias
        return out

    def call(self, x, training=False):
        return self.activation(self.pre_activation(x))

    def output_shape(self, input_shape):
        rows, cols = (_window_length(n, k, s, self.padding, self.name)
                      for n, k, s in zip(input_shape[:2], self.kernel_size, self.strides))
        return (rows, cols, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "activation": self.activation_name,
                "use_bias": self.use_bias, "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer)}


class _Pooling2D(_Spatial):
    """Shared by MaxPooling2D and AveragePooling2D: windows of ``pool_size`` moved by
    ``strides`` (default: the pool size) over the rows and cols of each channel."""

    mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = _pair(pool_size, f"{owner}: pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, f"{owner}: strides")
        self.padding = _padding_name(padding, owner)

    def _pool(self, x):
        return max_pool_2d(x, self.pool_size, ignore_border=True, stride=self.strides,
                           mode=self.mode, layout="NHWC")

    def call(self, x, training=False):
        _require_rank4(self, x)
        if self.padding == "valid":
            return self._pool(x)
        rows, cols = _spatial_shape(self, x)
        pad_rows = _same_pads(rows, self.pool_size[0], self.strides[0], self.name, "rows")
        pad_cols = _same_pads(cols, self.pool_size[1], self.strides[1], self.name, "cols")
        if not any(pad_rows + pad_cols):
            return self._pool(x)
        if self.mode == "max":
            # every window holds at least one input value, so the padding never wins
            return self._pool(_pad_spatial(x, pad_rows, pad_cols, np.finfo(x.dtype).min))
        # Keras averages over the input values only: divide the window sums by their counts
        sums = self._pool(_pad_spatial(x, pad_rows, pad_cols, 0))
        ones = T.ones_like(x[:1, :, :, :1])
        counts = self._pool(_pad_spatial(ones, pad_rows, pad_cols, 0))
        return sums / counts

    def output_shape(self, input_shape):
        rows, cols = (_window_length(n, k, s, self.padding, self.name)
                      for n, k, s in zip(input_shape[:2], self.pool_size, self.strides))
        return (rows, cols, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    """The maximum of each ``pool_size`` window of each channel (channels-last inputs).

    Examples
    --------
    >>> from symnet.nn import MaxPooling2D
    >>> MaxPooling2D(2).output_shape((7, 7, 3)), MaxPooling2D(2, padding='same').output_shape((7, 7, 3))
    ((3, 3, 3), (4, 4, 3))
    """

    mode = "max"


class AveragePooling2D(_Pooling2D):
    """The mean of each ``pool_size`` window of each channel (channels-last inputs); with
    ``padding='same'`` the windows at the border average over the input values they cover."""

    mode = "average"


class _GlobalPooling2D(_Spatial):
    """A reduction (``reduce``) over rows and cols: (batch, rows, cols, channels) ->
    (batch, channels)."""

    reduce = None

    def call(self, x, training=False):
        _require_rank4(self, x)
        return self.reduce(x, axis=(1, 2))

    def output_shape(self, input_shape):
        return (input_shape[2],)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean over rows and cols: (batch, rows, cols, channels) -> (batch, channels)."""

    reduce = staticmethod(T.mean)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The maximum over rows and cols: (batch, rows, cols, channels) -> (batch, channels)."""

    reduce = staticmethod(T.max)


# --- embeddings ------------------------------------------------------------------------------------


class Embedding(Layer):
    """Rows of a trainable (input_dim, output_dim) table looked up by integer index:
    (batch, *shape) integers -> (batch, *shape, output_dim).

    Indices must lie in [0, input_dim): anything else raises IndexError when the function
    runs (negative indices do not wrap). The gradient of the table adds up the output
    gradients of every position that looked a row up.

    Examples
    --------
    >>> import numpy as np, symnet as sn, symnet.tensor as T
    >>> from symnet.nn import Embedding
    >>> layer = Embedding(10, 3, input_length=4)
    >>> words = T.lmatrix('words')
    >>> f = sn.function([words], layer(words))
    >>> f(np.array([[1, 2, 2, 9]])).shape
    (1, 4, 3)
    >>> layer.output_shape((4,))
    (4, 3)
    """

    #: the dtype Sequential gives the model's input when this is the first layer
    input_dtype = "int64"

    def __init__(self, input_dim, output_dim, input_length=None,
                 embeddings_initializer="uniform", **kwargs):
        if input_length is not None and kwargs.get("input_shape") is None:
            kwargs["input_shape"] = (int(input_length),)
        super().__init__(**kwargs)
        if int(input_dim) <= 0 or int(output_dim) <= 0:
            raise ValueError(f"Embedding: input_dim and output_dim must be positive, got "
                             f"{input_dim} and {output_dim}")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.input_length = None if input_length is None else int(input_length)
        self.embeddings_initializer = embeddings_initializer

    def build(self, input_shape):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim),
                                          self.embeddings_initializer, "embeddings")

    def call(self, x, training=False):
        if np.dtype(x.dtype).kind not in "iu":
            raise TypeError(f"{self.name}: expects integer indices, got {x.type.short()}")
        # NumPy-style indexing would wrap negative indices; move them out of range instead,
        # so the lookup raises IndexError for them too
        index = T.switch(T.lt(x, 0), self.input_dim, x) if x.dtype[0] == "i" else x
        return self.embeddings[index]

    def check_input(self, x: np.ndarray, what: str) -> None:
        """Raise IndexError if the integer array ``x`` has an index outside [0, input_dim)."""
        bad = (x < 0) | (x >= self.input_dim)
        if bad.any():
            raise IndexError(f"{what}: {self.name} looks up rows 0 to {self.input_dim - 1}, but x "
                             f"has {int(bad.sum())} indices out of range (e.g. {x[bad][0]})")

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "input_length": self.input_length,
                "embeddings_initializer": _init_name(self.embeddings_initializer)}


LAYERS = {cls.__name__: cls for cls in (Dense, Activation, Dropout, Flatten, Reshape, Conv2D,
                                        MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
                                        GlobalMaxPooling2D, Embedding)}


def register(cls):
    """Make a layer class known to load_model."""
    LAYERS[cls.__name__] = cls
    return cls
