"""symnet.nn: Keras-style networks built from symnet's graph primitives.

Layers map symbolic tensors to symbolic tensors with shared-variable parameters; ``fit``
compiles one kernel per training step (forward pass, gradients, optimizer updates).
"""

from symnet.nn import activations, backend, callbacks, initializers, losses, optimizers, schedules  # noqa: F401
from symnet.nn.callbacks import (  # noqa: F401
    CSVLogger,
    Callback,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from symnet.nn.attention import Attention, MultiHeadAttention  # noqa: F401
from symnet.nn.conv1d import (  # noqa: F401
    AveragePooling1D,
    Conv1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
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
from symnet.nn.models import Sequential  # noqa: F401
from symnet.nn.optimizers import SGD, Adagrad, Adam, RMSprop  # noqa: F401
from symnet.nn.recurrent import GRU, LSTM, Bidirectional, SimpleRNN, TimeDistributed  # noqa: F401
from symnet.nn.models import load_model  # noqa: F401
from symnet.nn.normalization import (  # noqa: F401
    ELU,
    BatchNormalization,
    LayerNormalization,
    LeakyReLU,
)
from symnet.nn.saving import save_model  # noqa: F401

__all__ = [
    "activations", "backend", "callbacks", "initializers", "losses", "optimizers", "schedules", "set_seed", "Activation", "Dense",
    "Dropout", "Flatten", "Layer", "Reshape", "Callback", "EarlyStopping", "History",
    "LambdaCallback", "LearningRateScheduler", "ReduceLROnPlateau", "ModelCheckpoint",
    "CSVLogger", "TerminateOnNaN", "Sequential", "SGD", "Adagrad", "Adam", "RMSprop", "load_model",
    "save_model", "SimpleRNN", "LSTM", "GRU", "Conv2D", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Embedding", "BatchNormalization",
    "LayerNormalization", "LeakyReLU", "ELU", "Bidirectional", "TimeDistributed",
    "Attention", "MultiHeadAttention", "Conv1D", "MaxPooling1D", "AveragePooling1D",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D",
]
