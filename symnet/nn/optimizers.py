"""Optimizers as update rules on shared variables (Keras's defaults and formulas).

``get_updates(params, grads)`` returns ``[(shared, new_value_expression), ...]``; slot
variables (velocities, moments) and the step counter are shared variables owned by the
optimizer, saved with the model so training can continue after ``load_model``.
"""

from __future__ import annotations

import numpy as np

from symnet import tensor as T
from symnet.graph import SharedVariable


class Optimizer:
    name = "optimizer"

    def __init__(self, learning_rate: float = 0.01, lr: float | None = None):
        if lr is not None:  # the old Keras spelling
            learning_rate = lr
        self.learning_rate = float(learning_rate)
        self.slots: list[SharedVariable] = []
        self.iterations = SharedVariable(np.array(0, dtype="int64"), name="iterations")

    def _slot(self, param: SharedVariable, name: str, fill: float = 0.0) -> SharedVariable:
        value = np.full_like(param.get_value(borrow=True), fill)
        slot = SharedVariable(value, name=f"{param.name}/{name}")
        self.slots.append(slot)
        return slot

    def _lr(self, dtype):
        return np.asarray(self.learning_rate, dtype=dtype)

    def get_updates(self, params, grads) -> list[tuple]:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "learning_rate": self.learning_rate}

    def get_state(self) -> list[np.ndarray]:
        return [self.iterations.get_value()] + [s.get_value() for s in self.slots]

    def set_state(self, values) -> None:
        values = list(values)
        if len(values) != 1 + len(self.slots):
            raise ValueError(f"{self.name}: state has {len(values)} arrays, expected {1 + len(self.slots)}")
        self.iterations.set_value(values[0])
        for slot, value in zip(self.slots, values[1:]):
            slot.set_value(value)


class SGD(Optimizer):
    """w -= lr * g, with optional (Nesterov) momentum: v = momentum * v - lr * g."""

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def get_updates(self, params, grads):
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            lr = self._lr(p.dtype)
            if self.momentum == 0.0:
                updates.append((p, p - lr * g))
                continue
            v = self._slot(p, "velocity")
            m = np.asarray(self.momentum, dtype=p.dtype)
            new_v = m * v - lr * g
            updates.append((v, new_v))
            updates.append((p, p + m * new_v - lr * g if self.nesterov else p + new_v))
        return updates

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """a = rho * a + (1 - rho) * g**2; w -= lr * g / (sqrt(a) + epsilon)."""

    name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = float(rho)
        self.epsilon = float(epsilon)

    def get_updates(self, params, grads):
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            dt = p.dtype
            a = self._slot(p, "rms")
            rho = np.asarray(self.rho, dtype=dt)
            new_a = rho * a + (np.asarray(1.0, dt) - rho) * T.sqr(g)
            updates.append((a, new_a))
            updates.append((p, p - self._lr(dt) * g / (T.sqrt(new_a) + np.asarray(self.epsilon, dt))))
        return updates

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam with Keras's bias correction folded into the step size."""

    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def get_updates(self, params, grads):
        t = self.iterations + 1
        updates = [(self.iterations, t)]
        for p, g in zip(params, grads):
            dt = p.dtype
            tf = T.cast(t, dt)
            b1, b2 = np.asarray(self.beta_1, dt), np.asarray(self.beta_2, dt)
            one = np.asarray(1.0, dt)
            lr_t = self._lr(dt) * T.sqrt(one - b2**tf) / (one - b1**tf)
            m = self._slot(p, "m")
            v = self._slot(p, "v")
            new_m = b1 * m + (one - b1) * g
            new_v = b2 * v + (one - b2) * T.sqr(g)
            updates += [(m, new_m), (v, new_v),
                        (p, p - lr_t * new_m / (T.sqrt(new_v) + np.asarray(self.epsilon, dt)))]
        return updates

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """a += g**2; w -= lr * g / (sqrt(a) + epsilon), accumulators start at 0.1 (Keras)."""

    name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def get_updates(self, params, grads):
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            dt = p.dtype
            a = self._slot(p, "accumulator", self.initial_accumulator_value)
            new_a = a + T.sqr(g)
            updates.append((a, new_a))
            updates.append((p, p - self._lr(dt) * g / (T.sqrt(new_a) + np.asarray(self.epsilon, dt))))
        return updates

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adagrad": Adagrad}


def get(optimizer) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer()
    try:
        return OPTIMIZERS[str(optimizer).lower()]()
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {sorted(OPTIMIZERS)}") from None


def from_config(config: dict) -> Optimizer:
    config = dict(config)
    cls = OPTIMIZERS[config.pop("name")]
    return cls(**config)
