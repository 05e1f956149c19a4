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
    """Base class. Subclasses list their per-parameter slots in ``slot_specs`` (name, initial
    value) and build ``get_updates`` from :meth:`slot`."""

    name = "optimizer"

    def __init__(self, learning_rate: float = 0.01, lr: float | None = None):
        if lr is not None:  # the old Keras spelling
            learning_rate = lr
        self.learning_rate = float(learning_rate)
        if not self.learning_rate > 0.0:
            raise ValueError(f"{self.name}: learning_rate must be positive, got {learning_rate}")
        self.slots: list[SharedVariable] = []
        self._slots: dict[tuple[SharedVariable, str], SharedVariable] = {}
        self.iterations = SharedVariable(np.array(0, dtype="int64"), name="iterations", shape=())

    def slot_specs(self) -> list[tuple[str, float]]:
        """(name, initial value) of each slot a parameter gets."""
        return []

    def build(self, params) -> None:
        """Create the slots of ``params`` (once each; the order fixes the saved state's order)."""
        for param in params:
            for name, fill in self.slot_specs():
                self.slot(param, name, fill)

    def slot(self, param: SharedVariable, name: str, fill: float = 0.0) -> SharedVariable:
        """The slot ``name`` of ``param``, made on first use with the parameter's static shape,
        so a training step compiled twice (targets of another rank) shares the same state."""
        key = (param, name)
        if key not in self._slots:
            value = np.full_like(param.get_value(borrow=True), fill)
            slot = SharedVariable(value, name=f"{param.name}/{name}", shape=value.shape)
            self._slots[key] = slot
            self.slots.append(slot)
        return self._slots[key]

    def _lr(self, dtype):
        return np.asarray(self.learning_rate, dtype=dtype)

    def get_updates(self, params, grads) -> list[tuple]:
        """[(shared, new value expression), ...] for one step on ``params``."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_updates")

    def get_config(self) -> dict:
        return {"name": self.name, "learning_rate": self.learning_rate}

    def get_state(self) -> list[np.ndarray]:
        """The step counter and every slot's value, in creation order."""
        return [self.iterations.get_value()] + [s.get_value() for s in self.slots]

    def set_state(self, values) -> None:
        values = list(values)
        if len(values) != 1 + len(self.slots):
            raise ValueError(f"{self.name}: the state has {len(values)} arrays, expected "
                             f"{1 + len(self.slots)} (the step counter and {len(self.slots)} "
                             f"slots)")
        for var, value in zip([self.iterations, *self.slots], values):
            current = var.get_value(borrow=True)
            value = np.asarray(value)
            if value.shape != current.shape:
                raise ValueError(f"{self.name}: {var.name} has shape {current.shape}, the state "
                                 f"gives {value.shape}")
        self.iterations.set_value(np.asarray(values[0]).astype("int64"))
        for slot, value in zip(self.slots, values[1:]):
            slot.set_value(np.asarray(value).astype(slot.dtype))


class SGD(Optimizer):
    """w -= lr * g; with momentum: v = momentum * v - lr * g, w += v; with Nesterov momentum:
    w += momentum * v - lr * g (the new v)."""

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"sgd: momentum must be in [0, 1), got {momentum}")

    def slot_specs(self):
        return [("velocity", 0.0)] if self.momentum else []

    def get_updates(self, params, grads):
        self.build(params)
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            lr = self._lr(p.dtype)
            if not self.momentum:
                updates.append((p, p - lr * g))
                continue
            v = self.slot(p, "velocity")
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

    def slot_specs(self):
        return [("rms", 0.0)]

    def get_updates(self, params, grads):
        self.build(params)
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            dt = p.dtype
            a = self.slot(p, "rms")
            rho = np.asarray(self.rho, dtype=dt)
            new_a = rho * a + (np.asarray(1.0, dt) - rho) * T.sqr(g)
            step = self._lr(dt) * g / (T.sqrt(new_a) + np.asarray(self.epsilon, dt))
            updates += [(a, new_a), (p, p - step)]
        return updates

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g**2;
    w -= lr sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + epsilon) (Keras's form: the bias
    correction is folded into the step size)."""

    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def slot_specs(self):
        return [("m", 0.0), ("v", 0.0)]

    def get_updates(self, params, grads):
        self.build(params)
        t = self.iterations + 1
        updates = [(self.iterations, t)]
        for p, g in zip(params, grads):
            dt = p.dtype
            tf = T.cast(t, dt)
            b1, b2 = np.asarray(self.beta_1, dt), np.asarray(self.beta_2, dt)
            one = np.asarray(1.0, dt)
            lr_t = self._lr(dt) * T.sqrt(one - T.pow(b2, tf)) / (one - T.pow(b1, tf))
            m = self.slot(p, "m")
            v = self.slot(p, "v")
            new_m = b1 * m + (one - b1) * g
            new_v = b2 * v + (one - b2) * T.sqr(g)
            step = lr_t * new_m / (T.sqrt(new_v) + np.asarray(self.epsilon, dt))
            updates += [(m, new_m), (v, new_v), (p, p - step)]
        return updates

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """a += g**2; w -= lr * g / (sqrt(a) + epsilon), accumulators start at 0.1 (Keras)."""

    name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def slot_specs(self):
        return [("accumulator", self.initial_accumulator_value)]

    def get_updates(self, params, grads):
        self.build(params)
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            dt = p.dtype
            a = self.slot(p, "accumulator")
            new_a = a + T.sqr(g)
            step = self._lr(dt) * g / (T.sqrt(new_a) + np.asarray(self.epsilon, dt))
            updates += [(a, new_a), (p, p - step)]
        return updates

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adagrad": Adagrad}


def get(optimizer) -> Optimizer:
    """An optimizer from a name ('sgd', 'rmsprop', 'adam', 'adagrad'), a class or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer()
    try:
        return OPTIMIZERS[str(optimizer).lower()]()
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {sorted(OPTIMIZERS)}") from None


def from_config(config: dict) -> Optimizer:
    """The optimizer ``get_config()`` described (without its state)."""
    config = dict(config)
    name = str(config.pop("name", None)).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](**config)
