"""Optimizer hyperparameters as state, and learning-rate schedules.

A hyperparameter is a 0-d shared variable the training step reads: changing it between
epochs changes training and compiles nothing. Schedules are checked against Keras's formulas
written out in NumPy, symbolically and numerically, and inside a training step.
"""

import math

import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.nn import SGD, Adam, Dense, RMSprop, Sequential, load_model, schedules, set_seed


def _data(n=64, features=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], dtype="float32"))[:, None]
    return x, y


def _model(optimizer):
    set_seed(0)
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer=optimizer, loss="mse")
    return model



def test_setting_the_learning_rate_changes_training_and_compiles_nothing(count_builds):
    x, y = _data()
    opt = SGD(learning_rate=0.05)
    model = _model(opt)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, shuffle=False)
    step = model.make_train_function(2)
    builds = len(count_builds)
    frozen = model.get_weights()
    opt.learning_rate = 0.0  # nothing moves any more
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, shuffle=False)
    for a, b in zip(frozen, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    opt.learning_rate.assign(0.05)  # Keras's spelling; training goes on
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, shuffle=False)
    assert not np.array_equal(frozen[0], model.get_weights()[0])
    assert model.make_train_function(2) is step and len(count_builds) == builds
    # one more step by hand: w -= lr * dL/dw, with L the mean squared error
    w, b = model.get_weights()
    opt.learning_rate = 0.1
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, shuffle=False)
    residual = x @ w + b - y
    expected_w = w - 0.1 * (2 / len(x)) * x.T @ residual
    np.testing.assert_allclose(model.get_weights()[0], expected_w, rtol=1e-5, atol=1e-6)
    assert len(count_builds) == builds


def test_every_hyperparameter_is_state():
    opt = Adam(learning_rate=0.01, beta_1=0.8)
    assert float(opt.learning_rate) == 0.01 and float(opt.beta_1) == 0.8
    opt.beta_2 = 0.99
    opt.epsilon = 1e-6
    assert opt.get_config() == {"name": "adam", "learning_rate": 0.01, "beta_1": 0.8,
                                "beta_2": 0.99, "epsilon": 1e-6}
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        opt.learning_rate = -1.0
    assert float(opt.learning_rate) == 0.01  # a refused value changes nothing
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD(momentum=0.5).momentum = 1.0
    assert float(RMSprop(rho=0.7).rho) == 0.7


def test_changing_adam_betas_between_steps_matches_numpy():
    # two steps on sum(c * p) + 0.5 * sum(p**2); beta_1 changes between them
    p0 = np.array([0.5, -1.5, 2.0])
    c = np.array([1.0, -0.5, 0.3])
    p = sn.shared(p0.copy(), name="p")
    opt = Adam(learning_rate=0.1)
    cost = T.sum(c * p) + 0.5 * T.sum(p ** 2)
    step = sn.function([], cost, updates=opt.get_updates([p], sn.grad(cost, [p])))
    step()
    opt.beta_1 = 0.5
    step()
    q, m, v = p0.copy(), np.zeros(3), np.zeros(3)
    for t, b1 in ((1, 0.9), (2, 0.5)):
        g = c + q
        m = b1 * m + (1 - b1) * g
        v = 0.999 * v + 0.001 * g ** 2
        q = q - 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(p.get_value(), q, rtol=1e-12)


def _keras_formulas(step):
    """Keras 3's schedules at ``step``, written out."""
    cosine = lambda s, d, a: (1 - a) * 0.5 * (1 + math.cos(math.pi * min(s, d) / d)) + a  # noqa: E731
    warm = (0.01 + (0.1 - 0.01) * step / 5) if step < 5 else 0.1 * cosine(step - 5, 20, 0.1)
    return {
        "exp": 0.1 * 0.5 ** (step / 10),
        "exp_stair": 0.1 * 0.5 ** math.floor(step / 10),
        "inv": 0.1 / (1 + 0.5 * step / 10),
        "inv_stair": 0.1 / (1 + 0.5 * math.floor(step / 10)),
        "piece": 0.1 if step <= 10 else 0.05 if step <= 20 else 0.01,
        "cos": 0.1 * cosine(step, 20, 0.0),
        "cos_warm": warm,
    }


SCHEDULES = {
    "exp": schedules.ExponentialDecay(0.1, 10, 0.5),
    "exp_stair": schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
    "inv": schedules.InverseTimeDecay(0.1, 10, 0.5),
    "inv_stair": schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
    "piece": schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.05, 0.01]),
    "cos": schedules.CosineDecay(0.1, 20),
    "cos_warm": schedules.CosineDecay(0.01, 20, alpha=0.1, warmup_target=0.1, warmup_steps=5),
}


def test_schedules_follow_keras_formulas_in_numpy_and_in_the_graph():
    steps = [0, 1, 4, 5, 9, 10, 11, 15, 20, 21, 25, 40]
    step = T.dscalar("step")
    graph = sn.function([step], [s(step) for s in SCHEDULES.values()], mode="python")
    for k in steps:
        expected = _keras_formulas(k)
        symbolic = graph(float(k))
        for (name, schedule), value in zip(SCHEDULES.items(), symbolic):
            assert schedule.value(k) == pytest.approx(expected[name], rel=1e-12), (name, k)
            assert float(value) == pytest.approx(expected[name], rel=1e-12), (name, k)


def test_a_schedule_drives_the_step_and_saves_with_the_model(tmp_path):
    x, y = _data()
    schedule = schedules.PiecewiseConstantDecay([2], [0.05, 0.0])
    model = _model(SGD(learning_rate=schedule))
    model.fit(x, y, epochs=3, batch_size=64, verbose=0, shuffle=False)  # steps 0, 1, 2: lr 0.05
    after_three = model.get_weights()
    assert model.optimizer.current_learning_rate() == 0.0  # step 3 is past the boundary
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, shuffle=False)
    for a, b in zip(after_three, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="follows the schedule"):
        model.optimizer.learning_rate = 0.1
    path = tmp_path / "scheduled.symnet"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.optimizer.schedule, schedules.PiecewiseConstantDecay)
    assert loaded.optimizer.schedule.get_config() == schedule.get_config()
    assert loaded.optimizer.current_learning_rate() == 0.0


def test_a_changed_learning_rate_saves_with_the_model(tmp_path):
    x, y = _data()
    model = _model(Adam(learning_rate=0.01))
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    model.optimizer.learning_rate = 0.003
    model.save(tmp_path / "m.symnet")
    loaded = load_model(tmp_path / "m.symnet")
    assert float(loaded.optimizer.learning_rate) == 0.003
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_schedules():
    with pytest.raises(ValueError, match="2 boundaries need 3 values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="decay_steps must be positive"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        schedules.deserialize({"class_name": "Nope", "config": {}})
