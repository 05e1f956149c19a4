"""Benchmark: one SGD training step of an MLP (issue 7, item 8).

    784 -> 256 (relu) -> 256 (relu) -> 10, softmax cross-entropy on integer labels, SGD
    (learning rate 0.01), float32, random data, batch 32 and 512.

Each row times one whole step (forward pass, gradients, in-place weight update) and reports the
median in ms over many steps on the same batch. Rows:

- NumPy by hand: the forward and backward pass written out with matmuls and in-place
  updates (the reference, run in the same process);
- symnet graph: ``sn.function([x, y], loss, updates=...)`` built from the graph API;
- symnet Sequential: the compiled training step of ``Sequential.make_train_function`` (the
  kernel ``fit`` calls), and ``train_on_batch`` (that plus fit's data checks);
- PyTorch eager, JAX jit and PyTensor (Numba backend) when they are installed.

All rows start from the same weights; each row's loss after three steps is checked against
NumPy's. One thread everywhere (set below, before NumPy is imported). Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/mlp.py [--batches 32 512]

Targets (issue 7): at or below JAX jit, measured here at 0.29 ms (batch 32) and 3.65 ms
(batch 512).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

# the steady-state rows and compile times are those of the kernel (tier 1), not tier 0
os.environ.setdefault("SYMNET_COMPILE", "wait")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

SIZES = (784, 256, 256, 10)
LR = 0.01


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def initial_weights(seed=0) -> list[np.ndarray]:
    """[W1, b1, W2, b2, W3, b3], glorot-uniform kernels and small nonzero biases."""
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        weights.append(rng.uniform(-0.01, 0.01, fan_out).astype(np.float32))
    return weights


def batch(size: int, seed=1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((size, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], size).astype(np.int64)
    return x, y


def measure(candidates, x, y, seconds: float) -> dict[str, float]:
    """Median ms per step of each candidate. The candidates take turns in short rounds (about
    20 ms each), so a change in machine load affects them all alike and the ratios hold."""
    single = {}
    for label, step in candidates:
        step(x, y)  # warm-up (compiles where the framework compiles lazily)
        t0 = time.perf_counter()
        step(x, y)
        single[label] = time.perf_counter() - t0
    repeats = {label: max(1, int(0.02 / max(t, 1e-6))) for label, t in single.items()}
    times = {label: [] for label, _ in candidates}
    deadline = time.perf_counter() + seconds * len(candidates)
    rounds = 0
    while rounds < 5 or time.perf_counter() < deadline:
        for label, step in candidates:
            for _ in range(repeats[label]):
                t0 = time.perf_counter()
                step(x, y)
                times[label].append(time.perf_counter() - t0)
        rounds += 1
    return {label: statistics.median(values) * 1e3 for label, values in times.items()}


# --- NumPy by hand -----------------------------------------------------------------------------


def numpy_step_factory(weights):
    w1, b1, w2, b2, w3, b3 = (w.copy() for w in weights)
    lr = np.float32(LR)

    def step(x, y):
        nonlocal w1, b1, w2, b2, w3, b3  # updated in place (augmented assignment rebinds)
        n = len(x)
        h1 = x @ w1
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ w2
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ w3
        z += b3
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)  # softmax probabilities
        rows = np.arange(n)
        loss = -np.mean(np.log(z[rows, y]))
        dz = z
        dz[rows, y] -= 1.0
        dz *= np.float32(1.0 / n)
        dh2 = dz @ w3.T
        dh2 *= h2 > 0
        dh1 = dh2 @ w2.T
        dh1 *= h1 > 0
        # gradients of the weights, then the in-place updates
        w3 -= lr * (h2.T @ dz)
        b3 -= lr * dz.sum(axis=0)
        w2 -= lr * (h1.T @ dh2)
        b2 -= lr * dh2.sum(axis=0)
        w1 -= lr * (x.T @ dh1)
        b1 -= lr * dh1.sum(axis=0)
        return loss

    return step


# --- symnet ----------------------------------------------------------------------------------------


def symnet_graph_step(weights):
    """The step from the graph API: shared weights with static shapes, one function with
    updates."""
    import symnet as sn
    import symnet.tensor as T

    shared = [sn.shared(w, name=f"p{i}", shape=w.shape) for i, w in enumerate(weights)]
    w1, b1, w2, b2, w3, b3 = shared
    x = T.tensor("float32", shape=(None, SIZES[0]), name="x")
    y = T.lvector("y")
    h1 = T.nnet.relu(T.dot(x, w1) + b1)
    h2 = T.nnet.relu(T.dot(h1, w2) + b2)
    loss = T.mean(T.nnet.softmax_cross_entropy_with_logits(T.dot(h2, w3) + b3, y))
    grads = sn.grad(loss, shared)
    lr = np.float32(LR)
    f = sn.function([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(shared, grads)],
                    name="mlp_step")
    return f


def symnet_model(weights):
    from symnet.nn import SGD, Dense, Sequential

    model = Sequential([Dense(SIZES[1], activation="relu", input_dim=SIZES[0]),
                        Dense(SIZES[2], activation="relu"),
                        Dense(SIZES[3], activation="softmax")])
    model.compile(optimizer=SGD(learning_rate=LR), loss="sparse_categorical_crossentropy")
    model.set_weights(weights)
    return model


# --- peers -----------------------------------------------------------------------------------------


def torch_step_factory(weights):
    import torch

    torch.set_num_threads(1)
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    w1, b1, w2, b2, w3, b3 = params
    opt = torch.optim.SGD(params, lr=LR)

    def step(x, y):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        h = torch.relu(xt @ w1 + b1)
        h = torch.relu(h @ w2 + b2)
        loss = torch.nn.functional.cross_entropy(h @ w3 + b3, yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def jax_step_factory(weights):
    import jax
    import jax.numpy as jnp

    def loss_fn(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h = jax.nn.relu(x @ w1 + b1)
        h = jax.nn.relu(h @ w2 + b2)
        logp = jax.nn.log_softmax(h @ w3 + b3)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def update(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [p - LR * g for p, g in zip(params, grads)], loss

    state = {"params": [jnp.asarray(w) for w in weights]}

    def step(x, y):
        state["params"], loss = update(state["params"], x, y.astype(np.int32))
        return float(loss.block_until_ready())

    return step


def pytensor_step_factory(weights):
    import pytensor
    import pytensor.tensor as pt

    shared = [pytensor.shared(w.copy()) for w in weights]
    w1, b1, w2, b2, w3, b3 = shared
    x = pt.fmatrix("x")
    y = pt.lvector("y")
    h = pt.maximum(x @ w1 + b1, 0)
    h = pt.maximum(h @ w2 + b2, 0)
    p = pt.special.softmax(h @ w3 + b3, axis=-1)
    loss = -pt.mean(pt.log(p[pt.arange(y.shape[0]), y]))
    grads = pytensor.grad(loss, shared)
    lr = np.float32(LR)
    f = pytensor.function([x, y], loss, updates=[(s, s - lr * g) for s, g in zip(shared, grads)],
                          mode="NUMBA")
    return f


# --- driver ------------------------------------------------------------------------------------------


def main(argv=None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 512])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing budget per row")
    args = parser.parse_args(argv)

    weights = initial_weights()
    rows = []
    for size in args.batches:
        x, y = batch(size)
        candidates = [("NumPy by hand", numpy_step_factory(weights))]
        graph = symnet_graph_step(weights)
        candidates.append(("symnet graph (sn.function)", graph))
        model = symnet_model(weights)
        train = model.make_train_function(1)
        candidates.append(("symnet Sequential train step", lambda a, b, f=train: f(a, b)[0]))
        candidates.append(("symnet Sequential.train_on_batch", symnet_model(weights).train_on_batch))
        for label, module, factory in (("PyTorch eager", "torch", torch_step_factory),
                                       ("JAX jit", "jax", jax_step_factory),
                                       ("PyTensor Numba", "pytensor", pytensor_step_factory)):
            if have(module):
                candidates.append((label, factory(weights)))
        # agreement: three steps from the same weights give the same loss as NumPy's
        reference = None
        agree = {}
        for label, _ in candidates:
            fresh = _fresh(label, weights)
            losses = [float(fresh(x, y)) for _ in range(3)]
            if reference is None:
                reference = losses
            agree[label] = abs(losses[-1] - reference[-1]) <= 1e-4 * max(1.0, abs(reference[-1]))
        medians = measure(candidates, x, y, args.seconds)
        base = medians[candidates[0][0]]
        for label, _ in candidates:
            ms = medians[label]
            rows.append((size, label, f"{ms:.3f}", f"{ms / base:.2f}",
                         "yes" if agree[label] else "NO"))
    _table(rows)
    return rows


def _fresh(label, weights):
    """A step function of the same kind starting from the initial weights (so the agreement
    check does not depend on how many steps the timed one has taken)."""
    if label == "NumPy by hand":
        return numpy_step_factory(weights)
    if label == "symnet graph (sn.function)":
        return symnet_graph_step(weights)
    if label == "symnet Sequential train step":
        f = symnet_model(weights).make_train_function(1)
        return lambda a, b: f(a, b)[0]
    if label == "symnet Sequential.train_on_batch":
        return symnet_model(weights).train_on_batch
    if label == "PyTorch eager":
        return torch_step_factory(weights)
    if label == "JAX jit":
        return jax_step_factory(weights)
    return pytensor_step_factory(weights)


def _table(rows) -> None:
    headers = ("batch", "implementation", "median ms/step", "x NumPy", "same loss")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("MLP 784-256-256-10 training step, float32, SGD, one thread")
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
