"""Keras's ``backend`` functions for reading and setting variables (a shared variable, an
optimizer hyperparameter such as ``model.optimizer.learning_rate``)."""

from __future__ import annotations

import numpy as np

from symnet.graph import SharedVariable


def get_value(variable) -> np.ndarray:
    """The value of a shared variable (a copy)."""
    if not isinstance(variable, SharedVariable):
        raise TypeError(f"get_value: expected a shared variable, got {type(variable).__name__}")
    return variable.get_value()


def set_value(variable, value) -> None:
    """Set a shared variable (converted to its dtype); a training step reading it uses the new
    value from its next call, without compiling anything."""
    if not isinstance(variable, SharedVariable):
        raise TypeError(f"set_value: expected a shared variable, got {type(variable).__name__}")
    variable.assign(value)
