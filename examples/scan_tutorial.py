"""The loop programs of Theano's scan tutorial, ported to symnet, each checked against NumPy.

``sn.scan`` repeats a step function over sequences and recurrent states; the whole loop runs
inside the compiled function (a native loop in the numba backend), and ``sn.grad`` goes
through it (backpropagation through time). ``sn.jacobian`` and ``sn.hessian`` are built on
scan. Every program prints its result, the NumPy result and the largest difference::

    python examples/scan_tutorial.py            # the default backend (numba)
    python examples/scan_tutorial.py --mode python
"""

from __future__ import annotations

import argparse

import numpy as np

import symnet as sn
import symnet.tensor as T


def report(label: str, got, expected) -> float:
    """Print ``got`` and the largest difference from ``expected``; return that difference."""
    got, expected = np.asarray(got), np.asarray(expected)
    difference = float(np.max(np.abs(got - expected))) if got.size else 0.0
    print(f"{label} =")
    print(got)
    print(f"  max |difference| from NumPy = {difference:.1e}")
    return difference


def power(mode: str) -> float:
    """A ** k by repeated multiplication: the state starts at ones and is multiplied by A."""
    k = T.lscalar("k")
    A = T.dvector("A")
    result, updates = sn.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
                              non_sequences=A, n_steps=k)
    # every step's value, and only the last one
    f = sn.function([A, k], [result, result[-1]], updates=updates, mode=mode)
    values = np.arange(10.0)
    everything, last = f(values, 2)
    print("power            A = 0..9, k = 2")
    steps = report("                 every step", everything, [values, values ** 2])
    return max(steps, report("                 the last step only", last, values ** 2))


def polynomial(mode: str) -> float:
    """sum_i c_i x ** i: one step per coefficient (the shorter sequence sets the length)."""
    coefficients = T.dvector("coefficients")
    x = T.dscalar("x")
    max_coefficients_supported = 10000
    components, _ = sn.scan(lambda coefficient, power, x: coefficient * x ** power,
                            outputs_info=None,
                            sequences=[coefficients, T.arange(max_coefficients_supported)],
                            non_sequences=x)
    f = sn.function([coefficients, x], components.sum(), mode=mode)
    c = np.array([1.0, 0.0, 2.0])
    expected = sum(ci * 3.0 ** i for i, ci in enumerate(c))
    return report("polynomial       1 + 0 x + 2 x ** 2 at x = 3", f(c, 3.0), expected)


def cumulative_sum(mode: str) -> float:
    """A running total: the state is the sum so far."""
    v = T.dvector("v")
    total = T.dscalar("total")
    sums, _ = sn.scan(lambda element, so_far: so_far + element, sequences=v, outputs_info=total)
    f = sn.function([v, total], sums, mode=mode)
    values = np.arange(1.0, 11.0)
    return report("cumulative sum   of 1..10 from 0", f(values, 0.0), np.cumsum(values))


def tanh_rnn(mode: str, steps: int = 50) -> float:
    """h_t = tanh(x_t W + h_{t-1} U + b), and the gradient of sum(h_T) with respect to W."""
    X = T.dmatrix("X")
    W, U = T.dmatrices("W", "U")
    b, h0 = T.dvectors("b", "h0")
    hs, _ = sn.scan(lambda x_t, h, W, U, b: T.tanh(T.dot(x_t, W) + T.dot(h, U) + b),
                    sequences=X, outputs_info=h0, non_sequences=[W, U, b])
    gW = sn.grad(hs[-1].sum(), W)
    f = sn.function([X, W, U, b, h0], [hs, gW], mode=mode)

    rng = np.random.default_rng(0)
    values = [rng.normal(size=(steps, 3)), rng.normal(size=(3, 4)) * 0.5,
              rng.normal(size=(4, 4)) * 0.5, np.zeros(4), np.zeros(4)]
    Xv, Wv, Uv, bv, h0v = values
    # NumPy: the forward loop, then backpropagation through time by hand
    states = [h0v]
    for x_t in Xv:
        states.append(np.tanh(x_t @ Wv + states[-1] @ Uv + bv))
    dW, dh = np.zeros_like(Wv), np.ones(4)
    for t in range(steps, 0, -1):
        dz = dh * (1.0 - states[t] ** 2)
        dW += np.outer(Xv[t - 1], dz)
        dh = dz @ Uv.T
    got_hs, got_gW = f(*values)
    print(f"tanh RNN         {steps} steps, 3 inputs, 4 units")
    forward = report("                 h at the last step", got_hs[-1], states[-1])
    forward = max(forward, float(np.max(np.abs(got_hs - np.array(states[1:])))))
    return max(forward, report("                 d sum(h_T) / dW", got_gW, dW))


def jacobian_and_hessian(mode: str) -> float:
    """The jacobian of x ** 2 (2 diag(x)) and the hessian of sum(x ** 2) (2 I) and of
    logsumexp(x) (diag(p) - p p^T with p = softmax(x))."""
    x = T.dvector("x")
    J = sn.jacobian(x ** 2, x)
    H = sn.hessian(T.sum(x ** 2), x)
    H_lse = sn.hessian(T.logsumexp(x), x)
    f = sn.function([x], [J, H, H_lse], mode=mode)
    values = np.array([4.0, 4.0, 1.0])
    got_J, got_H, got_lse = f(values)
    p = np.exp(values - values.max())
    p /= p.sum()
    return max(
        report("jacobian         of x ** 2 at x = [4, 4, 1]", got_J, 2.0 * np.diag(values)),
        report("hessian          of sum(x ** 2)", got_H, 2.0 * np.eye(3)),
        report("hessian          of logsumexp(x) at x = [4, 4, 1]", got_lse,
               np.diag(p) - np.outer(p, p)),
    )


PROGRAMS = (power, polynomial, cumulative_sum, tanh_rnn, jacobian_and_hessian)


def main(mode: str | None = None) -> dict[str, float]:
    """Run every program; returns the largest difference from NumPy of each."""
    differences = {}
    with np.printoptions(precision=6, suppress=True):  # restored afterwards (tests run main)
        for program in PROGRAMS:
            differences[program.__name__] = program(mode)
            print()
    worst = max(differences.values())
    print(f"largest difference from NumPy over all programs: {worst:.1e}")
    return differences


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["numba", "python"], default=None,
                        help="backend (default: symnet.config.mode, numba)")
    main(parser.parse_args().mode)
