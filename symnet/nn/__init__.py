"""symnet.nn: Keras-style networks built from symnet's graph primitives.

Layers map symbolic tensors to symbolic tensors with shared-variable parameters; ``fit``
compiles one kernel per training step (forward pass, gradients, optimizer updates).
"""

from symnet.nn import activations, initializers, losses, optimizers  # noqa: F401
from symnet.nn.initializers import set_seed  # noqa: F401
from symnet.nn.layers import (  # noqa: F401
    Activation,
    AveragePooling2D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Layer,
    MaxPooling2D,
    Reshape,
)
from symnet.nn.models import (  # noqa: F401
    Callback,
    EarlyStopping,
    History,
    LambdaCallback,
    Sequential,
)
from symnet.nn.optimizers import SGD, Adagrad, Adam, RMSprop  # noqa: F401
from symnet.nn.recurrent import GRU, LSTM, SimpleRNN  # noqa: F401
from symnet.nn.models import load_model  # noqa: F401
from symnet.nn.saving import save_model  # noqa: F401

__all__ = [
    "activations", "initializers", "losses", "optimizers", "set_seed", "Activation", "Dense",
    "Dropout", "Flatten", "Layer", "Reshape", "Callback", "EarlyStopping", "History",
    "LambdaCallback", "Sequential", "SGD", "Adagrad", "Adam", "RMSprop", "load_model",
    "save_model", "SimpleRNN", "LSTM", "GRU", "Conv2D", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Embedding",
]
