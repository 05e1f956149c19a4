"""Bean size vs toxicity: a 1-2-1 sigmoid network trained by full-batch gradient descent.

Beans of middling size are toxic (label 1), small and large ones are not, so one sigmoid
cannot separate them and two hidden units can (one for each edge of the band). The weights
are shared variables; ``sn.grad`` gives the gradients of the squared error and the updates
``w - lr * g`` apply them. The program also checks, for one step, that ``sn.grad`` returns
the same numbers as the chain rule written out by hand in NumPy.

    python examples/beans.py                     # train, print, write beans.png if possible
    python examples/beans.py --epochs 2000 --mode python --plot ""
"""

from __future__ import annotations

import argparse

import numpy as np

import symnet as sn
import symnet.tensor as T


def get_beans(counts: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``counts`` beans: sizes in [0, 2) (sorted) and toxicity labels (1.0 = toxic).

    A bean is toxic when ``0.8 < 0.7 * size + noise + 0.5 < 1.4``.
    """
    rng = np.random.default_rng(seed)
    xs = np.sort(rng.uniform(0, 2, counts))
    noise = rng.normal(0, 0.05, counts)
    toxicity = 0.7 * xs + noise + 0.5
    ys = ((toxicity > 0.8) & (toxicity < 1.4)).astype(np.float64)
    return xs, ys


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def hand_gradients(xs, ys, w1, b1, w2, b2) -> list[np.ndarray]:
    """dE/d(w1, b1, w2, b2) of E = mean((y - a) ** 2), by the chain rule, in NumPy.

    Forward: h = sigmoid(x w1 + b1) (one row per bean, one column per hidden unit),
    a = sigmoid(h . w2 + b2).
    """
    n = len(xs)
    h = sigmoid(np.outer(xs, w1) + b1)
    a = sigmoid(h @ w2 + b2)
    # dE/da = -2 (y - a) / n, and da/dz2 = a (1 - a) for the output's pre-activation z2
    dz2 = -2.0 * (ys - a) / n * a * (1.0 - a)
    dw2 = h.T @ dz2  # dz2/dw2 = h
    db2 = dz2.sum()
    # back through w2 into the hidden units: dE/dh = dz2 w2, dh/dz1 = h (1 - h)
    dz1 = np.outer(dz2, w2) * h * (1.0 - h)
    dw1 = (dz1 * xs[:, None]).sum(axis=0)  # dz1/dw1 = x
    db1 = dz1.sum(axis=0)
    return [dw1, db1, dw2, np.asarray(db2)]


class BeanNet:
    """1 input, 2 hidden sigmoid units, 1 sigmoid output; parameters are shared variables."""

    def __init__(self, lr: float, seed: int = 100, mode: str | None = None):
        rng = np.random.default_rng(seed)
        self.w1 = sn.shared(rng.normal(0, 1, 2), name="w1")
        self.b1 = sn.shared(rng.normal(0, 1, 2), name="b1")
        self.w2 = sn.shared(rng.normal(0, 1, 2), name="w2")
        self.b2 = sn.shared(0.0, name="b2")
        self.params = [self.w1, self.b1, self.w2, self.b2]

        x = T.dvector("x")
        y = T.dvector("y")
        hidden = T.sigmoid(x.dimshuffle(0, "x") * self.w1 + self.b1)
        output = T.sigmoid(T.dot(hidden, self.w2) + self.b2)
        loss = T.mean((y - output) ** 2)
        grads = sn.grad(loss, self.params)

        self.train_step = sn.function(
            [x, y], loss, updates=[(p, p - lr * g) for p, g in zip(self.params, grads)], mode=mode
        )
        self.gradients = sn.function([x, y], grads, mode=mode)
        self.predict = sn.function([x], output, mode=mode)

    def values(self) -> list[np.ndarray]:
        return [p.get_value() for p in self.params]


def check_gradients(net: BeanNet, xs, ys) -> float:
    """Largest absolute difference between sn.grad and hand-written gradients; asserts 1e-10."""
    symbolic = net.gradients(xs, ys)
    by_hand = hand_gradients(xs, ys, *net.values())
    diff = max(float(np.max(np.abs(s - h))) for s, h in zip(symbolic, by_hand))
    assert diff < 1e-10, f"sn.grad and the hand-written gradients differ by {diff}"
    return diff


def save_plot(path: str, xs, ys, net: BeanNet) -> bool:
    """Write the beans and the fitted curve to ``path``; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    grid = np.linspace(0, 2, 200)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(xs, ys, s=12, label="beans (1 = toxic)")
    ax.plot(grid, net.predict(grid), color="C1", label="network output")
    ax.axhline(0.5, color="gray", linewidth=0.5)
    ax.set_xlabel("bean size")
    ax.set_ylabel("toxicity")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(epochs: int = 5000, lr: float = 5.0, counts: int = 100, seed: int = 0,
         plot: str | None = None, mode: str | None = None, report_every: int | None = None) -> dict:
    """Train on ``counts`` beans and print the loss and the accuracy; returns the numbers."""
    xs, ys = get_beans(counts, seed)
    net = BeanNet(lr, seed=seed + 100, mode=mode)

    diff = check_gradients(net, xs, ys)
    print(f"gradient check: sn.grad vs hand-written chain rule, max |difference| = {diff:.3e}")

    report_every = report_every or max(epochs // 10, 1)
    losses = []
    for epoch in range(epochs):
        loss = float(net.train_step(xs, ys))
        losses.append(loss)
        if epoch % report_every == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:5d}  loss {loss:.5f}")

    predictions = net.predict(xs)
    accuracy = float(np.mean((predictions > 0.5) == (ys > 0.5)))
    chance = float(max(ys.mean(), 1 - ys.mean()))
    print(f"final loss {losses[-1]:.5f}, accuracy {accuracy:.1%} (always guessing the majority "
          f"label: {chance:.1%})")
    plotted = False
    if plot:
        plotted = save_plot(plot, xs, ys, net)
        if plotted:
            print(f"plot written to {plot}")
    return {"losses": losses, "accuracy": accuracy, "chance": chance, "grad_max_diff": diff,
            "plotted": plotted}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--lr", type=float, default=5.0)
    parser.add_argument("--counts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="beans.png", help="PNG path ('' for none)")
    parser.add_argument("--mode", choices=["numba", "python"], default=None)
    args = parser.parse_args()
    main(args.epochs, args.lr, args.counts, args.seed, args.plot or None, args.mode)
