"""What the one-time warm-up process runs (see :mod:`symnet.compiler.warmup`, which starts it):
the programs most people run first, on tier 0 and with small data, then the one-step loop of
every scalar rule. It builds Keras models, so it sits above ``symnet.nn``, at the top layer."""

from __future__ import annotations

import os
import warnings

import numpy as np
from numba import from_dtype
from numba.core import types

import symnet as sn
import symnet.tensor as T
from symnet.compiler.backends.tier0 import _step_function
from symnet.compiler.compile_worker import die_with_parent
from symnet.compiler.warmup import paths
from symnet.nn import Dense, Sequential
from symnet.ops.elemwise import RULES


def _theano_programs(dtype: str) -> None:


    rng = np.random.default_rng(0)
    x = T.matrix("x", dtype=dtype)
    y = T.vector("y", dtype=dtype)
    w = sn.shared(rng.normal(size=5).astype(dtype), name="w")
    b = sn.shared(np.asarray(0.0, dtype), name="b")
    p = 1 / (1 + T.exp(-T.dot(x, w) - b))
    cost = T.mean(-y * T.log(p) - (1 - y) * T.log(1 - p)) + 0.01 * (w ** 2).sum()
    gw, gb = sn.grad(cost, [w, b])
    train = sn.function([x, y], [p > 0.5, cost], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    train(rng.normal(size=(4, 5)).astype(dtype), (rng.random(4) > 0.5).astype(dtype))

    w1 = sn.shared(rng.normal(size=(5, 4)).astype(dtype))
    w2 = sn.shared(rng.normal(size=(4, 3)).astype(dtype))
    labels = T.matrix("labels", dtype=dtype)
    h = T.tanh(T.dot(x, w1))
    out = T.nnet.softmax(T.dot(h, w2))
    loss = T.mean(T.nnet.categorical_crossentropy(out, labels))
    grads = sn.grad(loss, [w1, w2])
    step = sn.function([x, labels], loss,
                       updates=[(v, v - 0.1 * g) for v, g in zip([w1, w2], grads)])
    step(rng.normal(size=(4, 5)).astype(dtype), np.eye(3, dtype=dtype)[[0, 1, 2, 0]])

    s, t = T.scalar("s", dtype=dtype), T.scalar("t", dtype=dtype)
    sn.function([s, t], [s + t, s * t, T.exp(s), (s - t) ** 2])(1.5, 2.5)
    a, c = T.matrix("a", dtype=dtype), T.matrix("c", dtype=dtype)
    sn.function([a, c], [a + c, a - c, abs(a - c), (a - c) ** 2])(np.ones((2, 2), dtype),
                                                                   np.eye(2, dtype=dtype))


def _keras_programs(dtype: str) -> None:

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5)).astype(dtype)
    cases = [
        ("relu", "sigmoid", 1, "binary_crossentropy", "adam"),
        ("relu", "softmax", 3, "categorical_crossentropy", "sgd"),
        ("tanh", "linear", 1, "mse", "rmsprop"),
    ]
    for hidden, last, units, loss, optimizer in cases:
        model = Sequential([Dense(4, activation=hidden, input_shape=(5,)),
                            Dense(units, activation=last)])
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        if loss == "categorical_crossentropy":
            y = np.eye(units, dtype=dtype)[rng.integers(0, units, size=8)]
        else:
            y = (rng.random((8, units)) > 0.5).astype(dtype)
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
        model.predict(x, verbose=0)


def _scalar_rules() -> None:
    """The one-step loop of every scalar rule on float arrays of rank 0, 1 and 2."""
    for dtype in ("float64", "float32"):
        for name, rule in list(RULES.items()):
            dtypes = (dtype,) * rule.nin
            if name == "switch":
                dtypes = ("bool", dtype, dtype)
            try:
                out = rule.out_dtype(dtypes)
            except TypeError:
                continue  # not defined on floats (bitwise rules)
            for ndim in (0, 1, 2):
                function = _step_function(rule, dtypes, out, ndim)
                signature = tuple(types.Array(from_dtype(np.dtype(d)), ndim, "C") for d in dtypes)
                try:
                    function.compile(signature)
                except Exception:  # noqa: BLE001 - a rule Numba rejects for floats: skipped
                    continue


def run() -> None:
    """Compile the warm-up set (see the module's docstring), then mark it done."""
    done, lock = paths()
    os.makedirs(os.path.dirname(done), exist_ok=True)
    with open(lock, "w") as f:
        f.write(str(os.getpid()))
    try:
        with sn.config.override(compile="never"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for dtype in ("float32", "float64"):
                _keras_programs(dtype)
                _theano_programs(dtype)
            _scalar_rules()
        with open(done, "w") as f:
            f.write("done\n")
    finally:
        try:
            os.unlink(lock)
        except OSError:
            pass


def main() -> None:
    """The warm-up process's entry point: dies with the process that started it."""
    die_with_parent()
    run()
