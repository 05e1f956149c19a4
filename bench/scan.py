"""Benchmark: a SimpleRNN written with scan, forward + backward (issue 6, item 7).

    h_t = tanh(x_t W + h_{t-1} U + b),  h_0 = 0
    cost = mean cross-entropy(softmax(h_T V + c), labels)

batch 32, 20 features, 64 units, 10 classes, 10 and 100 steps, float64. Each row times one
call computing the cost and the gradients of W, U, b, V, c (a compiled gradient for symnet),
and reports the median in ms per call and per step. References run in the same process: a
hand-written NumPy loop of the same forward and backward pass (the target: symnet at least as
fast), and PyTorch, JAX (lax.scan) and PyTensor (numba scan) when they are installed. Every
row's cost and gradients are checked against the NumPy loop.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/scan.py`` (``--repeat R``,
``--steps 10 100``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

# the steady-state rows and compile times are those of the kernel (tier 1), not tier 0
os.environ.setdefault("SYMNET_COMPILE", "wait")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

BATCH, FEATURES, UNITS, CLASSES = 32, 20, 64, 10


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def make_data(steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(steps, BATCH, FEATURES))
    labels = rng.integers(0, CLASSES, size=BATCH)
    params = [
        rng.normal(scale=1 / np.sqrt(FEATURES), size=(FEATURES, UNITS)),  # W
        rng.normal(scale=1 / np.sqrt(UNITS), size=(UNITS, UNITS)),  # U
        np.zeros(UNITS),  # b
        rng.normal(scale=1 / np.sqrt(UNITS), size=(UNITS, CLASSES)),  # V
        np.zeros(CLASSES),  # c
    ]
    return x, labels, params


# --- the reference: a NumPy loop ---------------------------------------------------------------


def numpy_rnn(x, labels, W, U, b, V, c):
    """Cost and gradients (W, U, b, V, c), forward and backward written by hand."""
    steps, batch, _ = x.shape
    hs = np.empty((steps + 1, batch, U.shape[0]))
    hs[0] = 0.0
    for t in range(steps):
        hs[t + 1] = np.tanh(x[t] @ W + hs[t] @ U + b)
    logits = hs[-1] @ V + c
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    p = e / e.sum(axis=1, keepdims=True)
    rows = np.arange(batch)
    cost = -np.mean(np.log(p[rows, labels]))
    dlogits = p
    dlogits[rows, labels] -= 1.0
    dlogits /= batch
    dV = hs[-1].T @ dlogits
    dc = dlogits.sum(axis=0)
    dh = dlogits @ V.T
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    for t in range(steps - 1, -1, -1):
        dz = dh * (1.0 - hs[t + 1] ** 2)
        dW += x[t].T @ dz
        dU += hs[t].T @ dz
        db += dz.sum(axis=0)
        dh = dz @ U.T
    return [cost, dW, dU, db, dV, dc]


# --- symnet ------------------------------------------------------------------------------------


def symnet_rnn(mode: str):
    """A compiled function (x, labels, W, U, b, V, c) -> [cost, dW, dU, db, dV, dc]."""
    import symnet as sn
    import symnet.tensor as T

    x = T.dtensor3("x")
    labels = T.lvector("labels")
    W, U, V = T.dmatrices("W", "U", "V")
    b, c = T.dvectors("b", "c")
    h0 = T.zeros((x.shape[1], U.shape[0]))

    def step(x_t, h, W, U, b):
        return T.tanh(T.dot(x_t, W) + T.dot(h, U) + b)

    hs, _ = sn.scan(step, sequences=x, outputs_info=h0, non_sequences=[W, U, b])
    logits = T.dot(hs[-1], V) + c
    cost = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(logits), labels))
    grads = sn.grad(cost, [W, U, b, V, c])
    return sn.function([x, labels, W, U, b, V, c], [cost, *grads], mode=mode)


# --- peers, when installed ---------------------------------------------------------------------


def torch_rnn():
    import torch

    torch.set_num_threads(1)

    def run(x, labels, W, U, b, V, c):
        params = [torch.tensor(p, requires_grad=True) for p in (W, U, b, V, c)]
        tW, tU, tb, tV, tc = params
        xs = torch.from_numpy(x)
        h = torch.zeros(x.shape[1], U.shape[0], dtype=torch.float64)
        for t in range(x.shape[0]):
            h = torch.tanh(xs[t] @ tW + h @ tU + tb)
        logits = h @ tV + tc
        cost = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels))
        cost.backward()
        return [cost.detach().numpy()] + [p.grad.numpy() for p in params]

    return run


def jax_rnn():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def loss(params, x, labels):
        W, U, b, V, c = params

        def step(h, x_t):
            h = jnp.tanh(x_t @ W + h @ U + b)
            return h, None

        h, _ = jax.lax.scan(step, jnp.zeros((x.shape[1], U.shape[0])), x)
        logits = h @ V + c
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(logp[jnp.arange(x.shape[1]), labels])

    grad_fn = jax.jit(jax.value_and_grad(loss))

    def run(x, labels, W, U, b, V, c):
        cost, grads = grad_fn((W, U, b, V, c), x, labels)
        cost.block_until_ready()
        return [np.asarray(cost)] + [np.asarray(g) for g in grads]

    return run


def pytensor_rnn():
    import pytensor
    import pytensor.tensor as pt

    x = pt.dtensor3("x")
    labels = pt.lvector("labels")
    W, U, V = pt.dmatrices("W", "U", "V")
    b, c = pt.dvectors("b", "c")
    h0 = pt.zeros((x.shape[1], U.shape[0]))
    hs, _ = pytensor.scan(lambda x_t, h, W, U, b: pt.tanh(x_t @ W + h @ U + b), sequences=x,
                          outputs_info=h0, non_sequences=[W, U, b])
    logits = hs[-1] @ V + c
    p = pt.special.softmax(logits, axis=-1)
    cost = -pt.mean(pt.log(p[pt.arange(x.shape[1]), labels]))
    grads = pytensor.grad(cost, [W, U, b, V, c])
    f = pytensor.function([x, labels, W, U, b, V, c], [cost, *grads], mode="NUMBA")
    return f


# --- harness -----------------------------------------------------------------------------------


def median_ms(fn, args, repeat: int) -> float:
    fn(*args)  # warm up (and compile)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def check(name: str, got, expected) -> None:
    for k, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, atol=1e-9,
                                   err_msg=f"{name}: result {k} differs from the NumPy loop")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, {time.strftime('%Y-%m-%d')}")
    print(f"SimpleRNN forward + backward: batch {BATCH}, {FEATURES} features, {UNITS} units, "
          f"{CLASSES} classes, float64; medians of {args.repeat} calls")

    candidates = [("numpy loop", lambda: numpy_rnn)]
    candidates.append(("symnet numba", lambda: symnet_rnn("numba")))
    for module, label, build in (("torch", "pytorch (eager)", torch_rnn),
                                 ("jax", "jax lax.scan (jit)", jax_rnn),
                                 ("pytensor", "pytensor scan (numba)", pytensor_rnn)):
        if have(module):
            candidates.append((label, build))
        else:
            print(f"({label}: {module} not installed)")
    built = {}
    for label, build in candidates:
        start = time.perf_counter()
        built[label] = build()
        built[label + " build"] = time.perf_counter() - start

    rows = []
    for steps in args.steps:
        x, labels, params = make_data(steps)
        inputs = [x, labels, *params]
        expected = numpy_rnn(*inputs)
        reference = None
        for label, _ in candidates:
            fn = built[label]
            check(label, fn(*inputs), expected)
            ms = median_ms(fn, inputs, args.repeat if steps <= 10 else max(args.repeat // 4, 20))
            if reference is None:
                reference = ms
            rows.append((steps, label, f"{ms:.3f}", f"{ms / steps:.4f}", f"{reference / ms:.2f}"))
    headers = ("steps", "engine", "ms/call", "ms/step", "speed vs numpy")
    widths = [max(len(h), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
