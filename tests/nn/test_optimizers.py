"""Optimizers: the first two steps against updates computed by hand in NumPy, slots, state.

The cost is sum(c * p) + 0.5 * sum(p**2), so the gradient c + p changes between steps and the
second step exercises the slots. Each case runs in mode='python'; one numba function applies
every optimizer at once (one compile).
"""

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import SGD, Adagrad, Adam, RMSprop, optimizers

P0 = np.array([0.5, -1.5, 2.0, 0.25])
C = np.array([1.0, -0.5, 0.3, 2.0])


def gradient(p):
    return C + p


def sgd_steps(lr, momentum=0.0, nesterov=False, steps=2):
    p, v = P0.copy(), np.zeros_like(P0)
    out = []
    for _ in range(steps):
        g = gradient(p)
        if momentum:
            v = momentum * v - lr * g
            p = p + momentum * v - lr * g if nesterov else p + v
        else:
            p = p - lr * g
        out.append(p)
    return out


def rmsprop_steps(lr, rho=0.9, eps=1e-7, steps=2):
    p, a = P0.copy(), np.zeros_like(P0)
    out = []
    for _ in range(steps):
        g = gradient(p)
        a = rho * a + (1 - rho) * g**2
        p = p - lr * g / (np.sqrt(a) + eps)
        out.append(p)
    return out


def adam_steps(lr, b1=0.9, b2=0.999, eps=1e-7, steps=2):
    p, m, v = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
    out = []
    for t in range(1, steps + 1):
        g = gradient(p)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        p = p - lr_t * m / (np.sqrt(v) + eps)
        out.append(p)
    return out


def adagrad_steps(lr, initial=0.1, eps=1e-7, steps=2):
    p, a = P0.copy(), np.full_like(P0, initial)
    out = []
    for _ in range(steps):
        g = gradient(p)
        a = a + g**2
        p = p - lr * g / (np.sqrt(a) + eps)
        out.append(p)
    return out


CASES = [
    ("sgd", lambda: SGD(learning_rate=0.1), lambda: sgd_steps(0.1)),
    ("sgd_momentum", lambda: SGD(learning_rate=0.1, momentum=0.9),
     lambda: sgd_steps(0.1, momentum=0.9)),
    ("sgd_nesterov", lambda: SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
     lambda: sgd_steps(0.1, momentum=0.9, nesterov=True)),
    ("rmsprop", lambda: RMSprop(learning_rate=0.01, rho=0.8), lambda: rmsprop_steps(0.01, rho=0.8)),
    ("adam", lambda: Adam(learning_rate=0.05), lambda: adam_steps(0.05)),
    ("adagrad", lambda: Adagrad(learning_rate=0.2), lambda: adagrad_steps(0.2)),
]
IDS = [case[0] for case in CASES]


def step_function(optimizer, dtype="float64", mode="python", name="p"):
    p = sn.shared(P0.astype(dtype), name=name, shape=P0.shape)
    cost = T.sum(C.astype(dtype) * p) + 0.5 * T.sum(T.sqr(p))
    updates = optimizer.get_updates([p], sn.grad(cost, [p]))
    return p, sn.function([], cost, updates=updates, mode=mode)


@pytest.mark.parametrize("name, make, reference", CASES, ids=IDS)
def test_first_two_steps_match_numpy(name, make, reference):
    optimizer = make()
    p, step = step_function(optimizer)
    for expected in reference():
        step()
        np.testing.assert_allclose(p.get_value(), expected, rtol=1e-13, atol=1e-15)
    assert int(optimizer.iterations.get_value()) == 2


def test_all_optimizers_in_one_compiled_kernel():
    params, updates, costs = [], [], []
    for name, make, _ in CASES:
        p = sn.shared(P0.copy(), name=name, shape=P0.shape)
        cost = T.sum(C * p) + 0.5 * T.sum(T.sqr(p))
        updates += make().get_updates([p], sn.grad(cost, [p]))
        params.append(p)
        costs.append(cost)
    # each optimizer has its own step counter, so the updates never collide
    step = sn.function([], costs, updates=updates, mode="numba")
    references = [reference() for _, _, reference in CASES]
    for k in range(2):
        step()
        for p, expected, name in zip(params, references, IDS):
            np.testing.assert_allclose(p.get_value(), expected[k], rtol=1e-13, atol=1e-15,
                                       err_msg=name)


@pytest.mark.parametrize("name, make, reference", CASES, ids=IDS)
def test_float32_updates_stay_float32(name, make, reference):
    optimizer = make()
    p, step = step_function(optimizer, dtype="float32")
    for expected in reference():
        step()
        value = p.get_value()
        assert value.dtype == np.float32
        np.testing.assert_allclose(value, expected, rtol=2e-5, atol=1e-6)
    for slot in optimizer.slots:
        assert slot.dtype == "float32"


def test_slots_have_static_shapes_and_are_made_once():
    optimizer = Adam()
    p = sn.shared(np.zeros((3, 2)), name="w", shape=(3, 2))
    cost = T.sum(T.sqr(p - 1.0))
    optimizer.get_updates([p], sn.grad(cost, [p]))
    optimizer.get_updates([p], sn.grad(cost, [p]))  # a second training graph (other targets)
    assert [s.name for s in optimizer.slots] == ["w/m", "w/v"]
    assert all(s.type.shape == (3, 2) for s in optimizer.slots)
    assert optimizer.iterations.type.shape == () and optimizer.iterations.dtype == "int64"
    plain = SGD()
    plain.build([p])
    assert plain.slots == []
    accumulate = Adagrad(initial_accumulator_value=0.3)
    accumulate.build([p])
    np.testing.assert_array_equal(accumulate.slots[0].get_value(), np.full((3, 2), 0.3))


def test_state_round_trip_and_errors():
    optimizer = RMSprop()
    p, step = step_function(optimizer)
    step()
    state = optimizer.get_state()
    assert len(state) == 2 and int(state[0]) == 1
    other = RMSprop()
    q, _ = step_function(other, name="q")
    other.set_state(state)
    for a, b in zip(other.get_state(), state):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="state has 1 arrays, expected 2"):
        other.set_state(state[:1])
    with pytest.raises(ValueError, match="has shape"):
        other.set_state([state[0], np.zeros(7)])


def test_names_defaults_and_old_spelling():
    for name, cls, lr in (("sgd", SGD, 0.01), ("rmsprop", RMSprop, 0.001), ("adam", Adam, 0.001),
                          ("adagrad", Adagrad, 0.001), ("Adam", Adam, 0.001)):
        optimizer = optimizers.get(name)
        assert type(optimizer) is cls and float(optimizer.learning_rate) == lr
    assert float(optimizers.get(Adam).learning_rate) == 0.001
    instance = SGD(lr=0.5)  # Keras 1 spelling
    assert optimizers.get(instance) is instance and float(instance.learning_rate) == 0.5
    with pytest.raises(ValueError, match="unknown optimizer 'adadelta'"):
        optimizers.get("adadelta")
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        SGD(learning_rate=-0.1)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)


@pytest.mark.parametrize("name, make, reference", CASES, ids=IDS)
def test_config_round_trip(name, make, reference):
    optimizer = make()
    clone = optimizers.from_config(optimizer.get_config())
    assert type(clone) is type(optimizer) and clone.get_config() == optimizer.get_config()
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.from_config({"name": "nope"})
