"""One-time warm-up of tier 0's shared kernels, in a background process.

Tier 0 (:mod:`symnet.compiler.backends.tier0`) runs a new graph at once only when the small
functions it calls are compiled already; on a fresh machine they are not. The first process
that builds a tier-0 function starts it (:func:`main`) (it never blocks that
process, which meanwhile compiles any function it needs before the warm-up got to it, that one
alone). The warm-up runs, on tier 0 and with small data, the programs most people run first (a
Theano-style logistic regression and MLP, Keras Dense models with the usual losses and
optimizers, in float32 and float64), then compiles the one-step loop of every scalar rule for
float32 and float64 arrays of rank 0 to 2. Their machine code lands in the disk cache, for
every later process.

``<cache root>/warmup.done`` marks a finished warm-up (the cache root is versioned, so a new
symnet, Numba or NumPy warms up again); ``warmup.lock`` holds the pid of a running one. The
process dies with the process that started it; the next process picks up where it stopped
(what was compiled stays cached). ``SYMNET_WARMUP=0`` switches it off (the test suite does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from symnet.runtime.cache_root import cache_root

_started = False
_lock = threading.Lock()


def _paths() -> tuple[str, str]:
    root = cache_root()
    return os.path.join(root, "warmup.done"), os.path.join(root, "warmup.lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_started() -> None:
    """Start the warm-up process unless it ran, runs, or is switched off (once per process)."""
    global _started
    if _started:
        return
    with _lock:
        if _started:
            return
        _started = True
        if os.environ.get("SYMNET_WARMUP", "1") == "0":
            return
        done, lock = _paths()
        if os.path.exists(done):
            return
        try:
            with open(lock) as f:
                if _alive(int(f.read().strip() or 0)):
                    return
        except (OSError, ValueError):
            pass
        from symnet.compiler.background import worker_environment

        try:
            # -c, not -m: this module is imported already (running it as __main__ would
            # load it twice)
            subprocess.Popen([sys.executable, "-c", "from symnet.compiler import warmup; "
                              "warmup.main()"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=worker_environment(), close_fds=True)
        except OSError:
            pass  # no warm-up: each function compiles what it needs


# --- what the warm-up runs ---------------------------------------------------------------------


def _theano_programs(dtype: str) -> None:
    import numpy as np

    import symnet as sn
    import symnet.tensor as T

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
    import numpy as np

    from symnet.nn import Dense, Sequential

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
    import numpy as np
    from numba import from_dtype
    from numba.core import types

    from symnet.compiler.backends.tier0 import _step_function
    from symnet.ops.elemwise import RULES

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
    import warnings

    import symnet as sn

    done, lock = _paths()
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
    from symnet.compiler.compile_worker import die_with_parent

    die_with_parent()
    run()
