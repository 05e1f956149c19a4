"""Weight initializers (Keras names). They draw from NumPy's global random state unless
:func:`symnet.nn.set_seed` was called, so ``np.random.seed`` makes runs reproducible."""

from __future__ import annotations

import contextlib

import numpy as np

_rng: np.random.RandomState | None = None


def set_seed(seed: int | None) -> None:
    """Use a private generator seeded with ``seed`` for weight initialization (None: back to
    NumPy's global random state)."""
    global _rng
    _rng = None if seed is None else np.random.RandomState(seed)


def _random() -> np.random.RandomState:
    return _rng if _rng is not None else np.random.mtrand._rand


@contextlib.contextmanager
def scratch_random():
    """Initialize from a private throwaway generator inside the block (for weights that are
    overwritten right after, as in load_model), leaving the real random state untouched."""
    global _rng
    saved = _rng
    _rng = np.random.RandomState(0)
    try:
        yield
    finally:
        _rng = saved


def _fans(shape) -> tuple[int, int]:
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) >= 3:  # conv kernels (rows, cols, in, out)
        receptive = int(np.prod(shape[:-2]))
        return shape[-2] * receptive, shape[-1] * receptive
    size = int(np.prod(shape)) if shape else 1
    return size, size


def glorot_uniform(shape, dtype):
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _random().uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, dtype):
    fan_in, fan_out = _fans(shape)
    return (_random().normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)).astype(dtype)


def he_normal(shape, dtype):
    fan_in, _ = _fans(shape)
    return (_random().normal(0.0, np.sqrt(2.0 / fan_in), size=shape)).astype(dtype)


def he_uniform(shape, dtype):
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return _random().uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, dtype):
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    cols = shape[-1]
    a = _random().normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    q = q if rows >= cols else q.T
    return q[:rows, :cols].reshape(shape).astype(dtype)


def uniform(shape, dtype):
    """Uniform in [-0.05, 0.05] (Keras's RandomUniform defaults; Embedding's initializer)."""
    return _random().uniform(-0.05, 0.05, size=shape).astype(dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype):
    return np.ones(shape, dtype=dtype)


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_normal, he_uniform,
                                         orthogonal, uniform, zeros, ones)}


def get(name_or_fn):
    if callable(name_or_fn):
        return name_or_fn
    try:
        return INITIALIZERS[name_or_fn]
    except KeyError:
        raise ValueError(f"unknown initializer {name_or_fn!r}; known: {sorted(INITIALIZERS)}") from None
