"""Learning-rate schedules (Keras 3's names, arguments and formulas).

A schedule maps the optimizer's step counter to a learning rate. The optimizer calls it on its
counter inside the training step's graph, so the rate changes every step without compiling
anything; :meth:`LearningRateSchedule.value` gives the same formula in NumPy (for logs and
``History``). Schedules save and load with the model (``get_config`` / :func:`deserialize`).

>>> from symnet.nn import schedules
>>> s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> round(float(s.value(20)), 6)
0.025
"""

from __future__ import annotations

import math

import numpy as np

from symnet import tensor as T


class _NumPy:
    """The few functions the formulas use, on NumPy values (``T`` provides the symbolic ones)."""

    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    floor = staticmethod(np.floor)
    cos = staticmethod(np.cos)
    where = staticmethod(np.where)


class LearningRateSchedule:
    """Base class: subclasses write ``_rate(step, xp)`` once, with ``xp`` either the symbolic
    namespace or NumPy, and their ``get_config``."""

    def __call__(self, step):
        """The learning rate at ``step`` (a 0-d float64 variable): a float64 graph."""
        return T.cast(self._rate(T.cast(step, "float64"), T), "float64")

    def value(self, step) -> np.float64:
        """The learning rate at ``step``, computed with NumPy (the same formula)."""
        return np.float64(self._rate(np.float64(step), _NumPy))

    def _rate(self, step, xp):
        raise NotImplementedError(type(self).__name__)

    def get_config(self) -> dict:
        raise NotImplementedError(type(self).__name__)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _positive(name: str, what: str, value) -> float:
    value = float(value)
    if not value > 0:
        raise ValueError(f"{name}: {what} must be positive, got {value}")
    return value


class _DecayOverSteps(LearningRateSchedule):
    """The arguments of ExponentialDecay and InverseTimeDecay: ``initial_learning_rate``
    decays by ``decay_rate`` over every ``decay_steps`` steps, continuously or, with
    ``staircase``, at whole multiples of ``decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(type(self).__name__, "decay_steps", decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name or type(self).__name__

    def _progress(self, step, xp):
        p = step / self.decay_steps
        return xp.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_DecayOverSteps):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is floored, so the rate drops every ``decay_steps`` steps."""

    def _rate(self, step, xp):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step, xp)


class InverseTimeDecay(_DecayOverSteps):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored with
    ``staircase``)."""

    def _rate(self, step, xp):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step, xp))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to step ``boundaries[0]`` (included), ``values[1]`` up to
    ``boundaries[1]``, ..., ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries = [float(b) for b in boundaries]
        values = [float(v) for v in values]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: {len(boundaries)} boundaries need "
                             f"{len(boundaries) + 1} values, got {len(values)}")
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must increase, got {boundaries}")
        self.boundaries, self.values, self.name = boundaries, values, name

    def _rate(self, step, xp):
        rate = self.values[-1]
        for boundary, value in zip(reversed(self.boundaries), reversed(self.values[:-1])):
            rate = xp.where(step <= boundary, value, rate)
        return rate

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the rate reached after the warm-up to ``alpha`` times it, over
    ``decay_steps`` steps. With ``warmup_target``, the rate first grows linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` steps, then decays
    from ``warmup_target``; without, it decays from ``initial_learning_rate`` at once."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive("CosineDecay", "decay_steps", decay_steps)
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = float(warmup_steps)
        if self.warmup_steps < 0:
            raise ValueError(f"CosineDecay: warmup_steps must be >= 0, got {warmup_steps}")

    def _rate(self, step, xp):
        target = self.initial_learning_rate if self.warmup_target is None else self.warmup_target
        done = xp.minimum(xp.maximum(step - self.warmup_steps, 0.0), self.decay_steps)
        cosine = 0.5 * (1.0 + xp.cos(math.pi * done / self.decay_steps))
        decayed = target * ((1.0 - self.alpha) * cosine + self.alpha)
        if self.warmup_target is None or self.warmup_steps == 0:
            return decayed
        rising = (self.initial_learning_rate
                  + (self.warmup_target - self.initial_learning_rate) * step / self.warmup_steps)
        return xp.where(step < self.warmup_steps, rising, decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay,
                                           PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}``, what :func:`deserialize` reads back."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """The schedule :func:`serialize` described."""
    cls = SCHEDULES.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"unknown learning-rate schedule {config.get('class_name')!r}; "
                         f"known: {sorted(SCHEDULES)}")
    return cls(**config["config"])
