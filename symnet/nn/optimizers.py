"""Optimizers as update rules on shared variables (Keras's defaults and formulas).

``get_updates(params, grads)`` returns ``[(shared, new_value_expression), ...]``; slot
variables (velocities, moments) and the step counter are shared variables owned by the
optimizer, saved with the model so training can continue after ``load_model``.

Hyperparameters (the learning rate, momentum, the betas, epsilon, rho) are 0-d shared
variables the training step reads: ``opt.learning_rate = 1e-4`` (or
``opt.learning_rate.assign(1e-4)``) takes effect on the next step and compiles nothing. A
learning rate may also be a schedule (:mod:`symnet.nn.schedules`), computed inside the step
from the step counter.
"""

from __future__ import annotations

import numpy as np

from symnet import tensor as T
from symnet.graph import SharedVariable
from symnet.nn import schedules


class Hyperparameter:
    """An optimizer attribute kept in a 0-d float64 shared variable read by the training step.

    Reading it gives the shared variable (``float(opt.learning_rate)``,
    ``opt.learning_rate.assign(x)``); assigning a number sets its value, which the next step
    uses without compiling anything.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, optimizer, owner=None):
        if optimizer is None:
            return self
        if self.name == "learning_rate" and optimizer.schedule is not None:
            return optimizer.schedule
        return optimizer.hyperparameters[self.name]

    def __set__(self, optimizer, value):
        if self.name == "learning_rate" and isinstance(value, schedules.LearningRateSchedule):
            if "learning_rate" in optimizer.hyperparameters:
                raise TypeError(f"{optimizer.name}: a learning-rate schedule is given when the "
                                "optimizer is made, not set afterwards")
            optimizer.schedule = value
            value = value.value(0)
        elif self.name == "learning_rate" and optimizer.schedule is not None:
            raise TypeError(f"{optimizer.name}: the learning rate follows the schedule "
                            f"{optimizer.schedule!r}; it cannot be set")
        number = float(np.asarray(value))
        optimizer.check_hyperparameter(self.name, number)
        var = optimizer.hyperparameters.get(self.name)
        if var is None:
            optimizer.hyperparameters[self.name] = SharedVariable(
                np.float64(number), name=f"{optimizer.name}/{self.name}", shape=())
        else:
            var.set_value(np.float64(number))


class Optimizer:
    """Base class. Subclasses list their per-parameter slots in ``slot_specs`` (name, initial
    value) and build ``get_updates`` from :meth:`slot`."""

    name = "optimizer"
    learning_rate = Hyperparameter()

    def __init__(self, learning_rate: float = 0.01, lr: float | None = None):
        if lr is not None:  # the old Keras spelling
            learning_rate = lr
        self.hyperparameters: dict[str, SharedVariable] = {}
        self.schedule: schedules.LearningRateSchedule | None = None
        self.learning_rate = learning_rate
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

    def check_hyperparameter(self, name: str, value: float) -> None:
        """Raise ValueError for a value the update rule cannot take."""
        if name == "learning_rate" and not 0.0 <= value < float("inf"):
            raise ValueError(f"{self.name}: learning_rate must be a finite number >= 0, got "
                             f"{value}")

    def hyper(self, name: str, dtype):
        """Hyperparameter ``name`` in the step's graph, as a 0-d ``dtype`` tensor."""
        return T.cast(self.hyperparameters[name], dtype)

    def _lr(self, dtype):
        """The learning rate of this step (the schedule's value at the step counter)."""
        if self.schedule is not None:
            return T.cast(self.schedule(self.iterations), dtype)
        return self.hyper("learning_rate", dtype)

    def current_learning_rate(self) -> float:
        """The learning rate the next step uses."""
        if self.schedule is not None:
            return float(self.schedule.value(self.iterations.get_value()))
        return float(self.hyperparameters["learning_rate"].get_value())

    def _number(self, name: str) -> float:
        return float(self.hyperparameters[name].get_value())

    def get_updates(self, params, grads) -> list[tuple]:
        """[(shared, new value expression), ...] for one step on ``params``."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_updates")

    def get_config(self) -> dict:
        rate = (schedules.serialize(self.schedule) if self.schedule is not None
                else self._number("learning_rate"))
        return {"name": self.name, "learning_rate": rate}

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
    momentum = Hyperparameter()

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def check_hyperparameter(self, name, value):
        super().check_hyperparameter(name, value)
        if name == "momentum" and not 0.0 <= value < 1.0:
            raise ValueError(f"sgd: momentum must be in [0, 1), got {value}")

    def slot_specs(self):
        # whether there is a velocity is fixed when the step is built (as in Keras)
        return [("velocity", 0.0)] if self._number("momentum") else []

    def get_updates(self, params, grads):
        self.build(params)
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            lr = self._lr(p.dtype)
            if not self._number("momentum"):
                updates.append((p, p - lr * g))
                continue
            v = self.slot(p, "velocity")
            m = self.hyper("momentum", p.dtype)
            new_v = m * v - lr * g
            updates.append((v, new_v))
            updates.append((p, p + m * new_v - lr * g if self.nesterov else p + new_v))
        return updates

    def get_config(self):
        return {**super().get_config(), "momentum": self._number("momentum"),
                "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """a = rho * a + (1 - rho) * g**2; w -= lr * g / (sqrt(a) + epsilon)."""

    name = "rmsprop"
    rho = Hyperparameter()
    epsilon = Hyperparameter()

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def slot_specs(self):
        return [("rms", 0.0)]

    def get_updates(self, params, grads):
        self.build(params)
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            dt = p.dtype
            a = self.slot(p, "rms")
            rho = self.hyper("rho", dt)
            new_a = rho * a + (np.asarray(1.0, dt) - rho) * T.sqr(g)
            step = self._lr(dt) * g / (T.sqrt(new_a) + self.hyper("epsilon", dt))
            updates += [(a, new_a), (p, p - step)]
        return updates

    def get_config(self):
        return {**super().get_config(), "rho": self._number("rho"),
                "epsilon": self._number("epsilon")}


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g**2;
    w -= lr sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + epsilon) (Keras's form: the bias
    correction is folded into the step size)."""

    name = "adam"
    beta_1 = Hyperparameter()
    beta_2 = Hyperparameter()
    epsilon = Hyperparameter()

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def slot_specs(self):
        return [("m", 0.0), ("v", 0.0)]

    def get_updates(self, params, grads):
        self.build(params)
        t = self.iterations + 1
        updates = [(self.iterations, t)]
        for p, g in zip(params, grads):
            dt = p.dtype
            tf = T.cast(t, dt)
            b1, b2 = self.hyper("beta_1", dt), self.hyper("beta_2", dt)
            one = np.asarray(1.0, dt)
            lr_t = self._lr(dt) * T.sqrt(one - T.pow(b2, tf)) / (one - T.pow(b1, tf))
            m = self.slot(p, "m")
            v = self.slot(p, "v")
            new_m = b1 * m + (one - b1) * g
            new_v = b2 * v + (one - b2) * T.sqr(g)
            step = lr_t * new_m / (T.sqrt(new_v) + self.hyper("epsilon", dt))
            updates += [(m, new_m), (v, new_v), (p, p - step)]
        return updates

    def get_config(self):
        return {**super().get_config(), "beta_1": self._number("beta_1"),
                "beta_2": self._number("beta_2"), "epsilon": self._number("epsilon")}


class Adagrad(Optimizer):
    """a += g**2; w -= lr * g / (sqrt(a) + epsilon), accumulators start at 0.1 (Keras)."""

    name = "adagrad"
    epsilon = Hyperparameter()

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = epsilon

    def slot_specs(self):
        return [("accumulator", self.initial_accumulator_value)]

    def get_updates(self, params, grads):
        self.build(params)
        updates = [(self.iterations, self.iterations + 1)]
        for p, g in zip(params, grads):
            dt = p.dtype
            a = self.slot(p, "accumulator")
            new_a = a + T.sqr(g)
            step = self._lr(dt) * g / (T.sqrt(new_a) + self.hyper("epsilon", dt))
            updates += [(a, new_a), (p, p - step)]
        return updates

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self._number("epsilon")}


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
    if isinstance(config.get("learning_rate"), dict):
        config["learning_rate"] = schedules.deserialize(config["learning_rate"])
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](**config)
