"""sn.shared: variables whose values persist across calls (weights, counters)."""

from __future__ import annotations

from symnet.graph import SharedVariable


def shared(value, name=None, borrow=False, dtype=None, shape=None) -> SharedVariable:
    """A shared variable holding ``value`` (copied unless ``borrow``).

    Examples
    --------
    >>> import numpy as np, symnet as sn
    >>> w = sn.shared(np.zeros(3), name='w')
    >>> w.get_value()
    array([0., 0., 0.])
    """
    return SharedVariable(value, name=name, borrow=borrow, dtype=dtype, shape=shape)
