"""Benchmark: one SGD training step of a small CNN and of a SimpleRNN classifier (issue 8).

    CNN: batch 32 of 28x28x1 random images (channels-last), Conv2D 3x3x32 + relu,
         MaxPooling2D 2, Flatten, Dense 10 softmax, sparse cross-entropy, SGD 0.01, float32.
    RNN: batch 32, 10 steps of 20 features, SimpleRNN 64 (tanh), Dense 10 softmax, sparse
         cross-entropy, SGD 0.01, float32.

Each row times one whole step (forward pass, gradients, weight update) and reports the median
in ms over many steps on the same batch. Rows: symnet's compiled Sequential training step (the
kernel ``fit`` calls) and ``train_on_batch`` (that plus fit's data checks), then PyTorch eager,
JAX jit and PyTensor (Numba backend) when they are installed. PyTensor has no neural-network
convolution or pooling op, so its CNN is written as im2col (nine shifted slices and one matmul)
and a reshape-max pool; its RNN uses ``pytensor.scan``. PyTorch uses ``nn.functional.conv2d``
and ``nn.RNN`` (its second bias frozen at zero, so the model is the same).

All rows start from the same weights; each row's loss after three steps is checked against
symnet's. One thread everywhere (set below, before NumPy is imported). Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/cnn.py [--only cnn|rnn]

Reference figures (issue 8), ms/step: CNN PyTensor 1.8, PyTorch 5.1, JAX 8.0; SimpleRNN JAX
0.23, PyTensor 0.50, PyTorch 0.64.
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

from mlp import have, measure  # noqa: E402  (bench/mlp.py: the same timing for both)

# the steady-state rows and compile times are those of the kernel (tier 1), not tier 0
os.environ.setdefault("SYMNET_COMPILE", "wait")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

BATCH, SIDE, FILTERS, CLASSES = 32, 28, 32, 10
POOLED = (SIDE - 2) // 2  # 13: the valid 3x3 convolution gives 26, pooled by 2
STEPS, FEATURES, UNITS = 10, 20, 64
LR = 0.01


def glorot(rng, shape, fan_in, fan_out) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def small_bias(rng, n) -> np.ndarray:
    return rng.uniform(-0.01, 0.01, n).astype(np.float32)


def cnn_weights(seed=0) -> list[np.ndarray]:
    """[kernel (3, 3, 1, 32), bias, dense kernel (13*13*32, 10), dense bias] (Keras layouts)."""
    rng = np.random.default_rng(seed)
    dense_in = POOLED * POOLED * FILTERS
    return [glorot(rng, (3, 3, 1, FILTERS), 9, 9 * FILTERS), small_bias(rng, FILTERS),
            glorot(rng, (dense_in, CLASSES), dense_in, CLASSES), small_bias(rng, CLASSES)]


def rnn_weights(seed=0) -> list[np.ndarray]:
    """[kernel (20, 64), recurrent kernel (64, 64), bias, dense kernel (64, 10), dense bias]."""
    rng = np.random.default_rng(seed)
    recurrent, _ = np.linalg.qr(rng.normal(size=(UNITS, UNITS)))
    return [glorot(rng, (FEATURES, UNITS), FEATURES, UNITS), recurrent.astype(np.float32),
            small_bias(rng, UNITS), glorot(rng, (UNITS, CLASSES), UNITS, CLASSES),
            small_bias(rng, CLASSES)]


def cnn_batch(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, SIDE, SIDE, 1), dtype=np.float32)
    return x, rng.integers(0, CLASSES, BATCH).astype(np.int64)


def rnn_batch(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    return x, rng.integers(0, CLASSES, BATCH).astype(np.int64)


# --- symnet ----------------------------------------------------------------------------------------


def symnet_cnn(weights):
    from symnet.nn import SGD, Conv2D, Dense, Flatten, MaxPooling2D, Sequential

    model = Sequential([Conv2D(FILTERS, 3, activation="relu", input_shape=(SIDE, SIDE, 1)),
                        MaxPooling2D(2), Flatten(), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=SGD(learning_rate=LR), loss="sparse_categorical_crossentropy")
    model.set_weights(weights)
    return model


def symnet_rnn(weights):
    from symnet.nn import SGD, Dense, Sequential, SimpleRNN

    model = Sequential([SimpleRNN(UNITS, input_shape=(STEPS, FEATURES)),
                        Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=SGD(learning_rate=LR), loss="sparse_categorical_crossentropy")
    model.set_weights(weights)
    return model


def symnet_factories(build):
    def train_step(weights):
        f = build(weights).make_train_function(1)
        return lambda a, b: f(a, b)[0]

    def train_on_batch(weights):
        return build(weights).train_on_batch

    return [("symnet Sequential train step", train_step),
            ("symnet Sequential.train_on_batch", train_on_batch)]


# --- PyTorch -----------------------------------------------------------------------------------------


def torch_cnn(weights):
    import torch

    torch.set_num_threads(1)
    kernel, bias, dense, dense_bias = weights
    params = [torch.tensor(kernel.transpose(3, 2, 0, 1).copy(), requires_grad=True),
              torch.tensor(bias, requires_grad=True), torch.tensor(dense, requires_grad=True),
              torch.tensor(dense_bias, requires_grad=True)]
    k, b, w, c = params
    opt = torch.optim.SGD(params, lr=LR)
    functional = torch.nn.functional

    def step(x, y):
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # NCHW view of the channels-last batch
        h = functional.max_pool2d(torch.relu(functional.conv2d(xt, k, b)), 2)
        flat = h.permute(0, 2, 3, 1).reshape(len(x), -1)  # flatten in (rows, cols, channels)
        loss = functional.cross_entropy(flat @ w + c, torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def torch_rnn(weights):
    import torch

    torch.set_num_threads(1)
    kernel, recurrent, bias, dense, dense_bias = weights
    rnn = torch.nn.RNN(FEATURES, UNITS, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(bias))
        rnn.bias_hh_l0.zero_()
    rnn.bias_hh_l0.requires_grad_(False)  # one bias, as in Keras
    w = torch.tensor(dense, requires_grad=True)
    c = torch.tensor(dense_bias, requires_grad=True)
    params = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, w, c]
    opt = torch.optim.SGD(params, lr=LR)

    def step(x, y):
        _, h = rnn(torch.from_numpy(x))
        loss = torch.nn.functional.cross_entropy(h[0] @ w + c, torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


# --- JAX ---------------------------------------------------------------------------------------------


def _jax_sgd_step(loss_fn, weights):
    import jax
    import jax.numpy as jnp

    @jax.jit
    def update(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [p - LR * g for p, g in zip(params, grads)], loss

    state = {"params": [jnp.asarray(w) for w in weights]}

    def step(x, y):
        state["params"], loss = update(state["params"], x, y.astype(np.int32))
        return float(loss.block_until_ready())

    return step


def _jax_cross_entropy(logits, y):
    import jax
    import jax.numpy as jnp

    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def jax_cnn(weights):
    import jax
    from jax import lax

    def loss_fn(params, x, y):
        k, b, w, c = params
        h = lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.nn.relu(h + b)
        h = lax.reduce_window(h, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return _jax_cross_entropy(h.reshape(x.shape[0], -1) @ w + c, y)

    return _jax_sgd_step(loss_fn, weights)


def jax_rnn(weights):
    import jax.numpy as jnp
    from jax import lax

    def loss_fn(params, x, y):
        kernel, recurrent, bias, w, c = params
        projected = jnp.swapaxes(x @ kernel + bias, 0, 1)  # (time, batch, units)

        def cell(h, xw):
            h = jnp.tanh(xw + h @ recurrent)
            return h, None

        h, _ = lax.scan(cell, jnp.zeros((x.shape[0], UNITS), x.dtype), projected)
        return _jax_cross_entropy(h @ w + c, y)

    return _jax_sgd_step(loss_fn, weights)


# --- PyTensor ----------------------------------------------------------------------------------------


def _pytensor_sgd(loss, shared, inputs):
    import pytensor

    grads = pytensor.grad(loss, shared)
    lr = np.float32(LR)
    return pytensor.function(inputs, loss, updates=[(s, s - lr * g) for s, g in zip(shared, grads)],
                             mode="NUMBA")


def _pytensor_cross_entropy(logits, y):
    import pytensor.tensor as pt

    logp = pt.special.log_softmax(logits, axis=-1)
    return -pt.mean(logp[pt.arange(y.shape[0]), y])


def pytensor_cnn(weights):
    import pytensor
    import pytensor.tensor as pt

    shared = [pytensor.shared(w.copy()) for w in weights]
    k, b, w, c = shared
    x = pt.tensor4("x", dtype="float32")
    y = pt.lvector("y")
    out = SIDE - 2
    # im2col: the nine shifted 26x26 views side by side, times the (9, 32) kernel
    patches = pt.stack([x[:, i:i + out, j:j + out, 0] for i in range(3) for j in range(3)],
                       axis=-1)
    h = pt.maximum(pt.dot(patches.reshape((-1, 9)), k.reshape((9, FILTERS))) + b, 0)
    h = h.reshape((-1, POOLED, 2, POOLED, 2, FILTERS)).max(axis=(2, 4))
    loss = _pytensor_cross_entropy(pt.dot(h.reshape((x.shape[0], -1)), w) + c, y)
    return _pytensor_sgd(loss, shared, [x, y])


def pytensor_rnn(weights):
    import pytensor
    import pytensor.tensor as pt

    shared = [pytensor.shared(w.copy()) for w in weights]
    kernel, recurrent, bias, w, c = shared
    x = pt.tensor3("x", dtype="float32")
    y = pt.lvector("y")
    projected = (pt.dot(x, kernel) + bias).dimshuffle(1, 0, 2)

    def cell(xw, h, u):
        return pt.tanh(xw + pt.dot(h, u))

    h0 = pt.zeros((x.shape[0], UNITS), dtype="float32")
    states = pytensor.scan(cell, sequences=projected, outputs_info=h0,
                           non_sequences=[recurrent], return_updates=False)
    loss = _pytensor_cross_entropy(pt.dot(states[-1], w) + c, y)
    return _pytensor_sgd(loss, shared, [x, y])


# --- driver ------------------------------------------------------------------------------------------

CASES = {
    "cnn": ("CNN 28x28x1 -> Conv2D 3x3x32 relu -> MaxPooling2D 2 -> Dense 10", cnn_weights,
            cnn_batch, symnet_cnn, torch_cnn, jax_cnn, pytensor_cnn),
    "rnn": ("SimpleRNN 10 steps x 20 features -> 64 units -> Dense 10", rnn_weights, rnn_batch,
            symnet_rnn, torch_rnn, jax_rnn, pytensor_rnn),
}


def run_case(name: str, seconds: float) -> list[tuple]:
    title, make_weights, make_batch, build, torch_f, jax_f, pytensor_f = CASES[name]
    weights = make_weights()
    x, y = make_batch()
    factories = symnet_factories(build)
    for label, module, factory in (("PyTorch eager", "torch", torch_f),
                                   ("JAX jit", "jax", jax_f),
                                   ("PyTensor Numba", "pytensor", pytensor_f)):
        if have(module):
            factories.append((label, factory))
    # agreement: three steps from the same weights give the same loss as symnet's
    reference = None
    agree = {}
    for label, factory in factories:
        fresh = factory(weights)
        losses = [float(fresh(x, y)) for _ in range(3)]
        if reference is None:
            reference = losses
        agree[label] = abs(losses[-1] - reference[-1]) <= 1e-4 * max(1.0, abs(reference[-1]))
    candidates = [(label, factory(weights)) for label, factory in factories]
    medians = measure(candidates, x, y, seconds)
    base = medians[candidates[0][0]]
    return [(title if i == 0 else "", label, f"{medians[label]:.3f}",
             f"{medians[label] / base:.2f}", "yes" if agree[label] else "NO")
            for i, (label, _) in enumerate(candidates)]


def main(argv=None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES), default=None)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing budget per row")
    args = parser.parse_args(argv)
    rows = []
    for name in CASES:
        if args.only in (None, name):
            rows += run_case(name, args.seconds)
    _table(rows)
    return rows


def _table(rows) -> None:
    headers = ("case", "implementation", "median ms/step", "x symnet", "same loss")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print(f"training step, batch {BATCH}, float32, SGD {LR}, one thread")
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
