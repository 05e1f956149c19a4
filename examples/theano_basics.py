"""The first programs of Theano's tutorial, ported to symnet.

Theano code runs after renaming the import: ``import theano`` becomes ``import symnet as sn``
and ``theano.tensor`` becomes ``symnet.tensor``. Run it with::

    python examples/theano_basics.py            # the default backend (numba)
    python examples/theano_basics.py --mode python
"""

from __future__ import annotations

import argparse

import numpy as np

import symnet as sn
import symnet.tensor as T


def adding_two_scalars(mode: str) -> None:
    x = T.dscalar("x")
    y = T.dscalar("y")
    z = x + y
    f = sn.function([x, y], z, mode=mode)
    print("scalar addition  f(2, 3) =", f(2, 3))
    print("                 f(16.3, 12.1) =", f(16.3, 12.1))
    print("                 pp(z) =", sn.pp(z))


def adding_two_matrices(mode: str) -> None:
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    z = x + y
    f = sn.function([x, y], z, mode=mode)
    result = f([[1, 2], [3, 4]], [[10, 20], [30, 40]])
    print("matrix addition  f([[1, 2], [3, 4]], [[10, 20], [30, 40]]) =")
    print(result)


def logistic_function(mode: str) -> None:
    x = T.dmatrix("x")
    s = 1 / (1 + T.exp(-x))
    logistic = sn.function([x], s, mode=mode)
    print("logistic         pp(s) =", sn.pp(s))
    # the same function written with tanh: s(x) = (1 + tanh(x / 2)) / 2
    s2 = (1 + T.tanh(x / 2)) / 2
    logistic2 = sn.function([x], s2, mode=mode)
    print("logistic on [[0, 1], [2, 3]] =")
    print(logistic([[0, 1], [2, 3]]))
    print("tanh form on [[0, 1], [2, 3]] =")
    print(logistic2([[0, 1], [2, 3]]))


def several_outputs(mode: str) -> None:
    a, b = T.dmatrices("a", "b")
    diff = a - b
    abs_diff = abs(diff)
    diff_squared = diff ** 2
    f = sn.function([a, b], [diff, abs_diff, diff_squared], mode=mode)
    d, ad, d2 = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    print("several outputs  a = [[1, 1], [1, 1]], b = [[0, 1], [2, 3]]")
    print("diff =")
    print(d)
    print("abs_diff =")
    print(ad)
    print("diff_squared =")
    print(d2)


def default_values(mode: str) -> None:
    x, y, w = T.dscalars("x", "y", "w")
    z = (x + y) * w
    f = sn.function([x, sn.In(y, value=1), sn.In(w, value=2, name="weight")], z, mode=mode)
    print("defaults         f(33) =", f(33))
    print("                 f(33, 2) =", f(33, 2))
    print("                 f(23, 2) =", f(23, 2))
    print("                 f(23, 2, weight=4) =", f(23, 2, weight=4))


def shared_accumulator(mode: str) -> None:
    state = sn.shared(0, name="state")
    inc = T.iscalar("inc")
    accumulator = sn.function([inc], state, updates=[(state, state + inc)], mode=mode)
    print("accumulator      accumulator(1) returns", accumulator(1), "; state is now", state.get_value())
    print("                 accumulator(300) returns", accumulator(300), "; state is now",
          state.get_value())


def derivative(mode: str) -> None:
    x = T.dscalar("x")
    y = x ** 2
    gy = sn.grad(y, x)
    f = sn.function([x], gy, mode=mode)
    print("derivative       d(x ** 2)/dx at 4 =", f(4))
    print("                 at 94.2 =", f(94.2))


def main(mode: str | None = None) -> None:
    with np.printoptions(precision=8, suppress=True):  # restored afterwards (tests run main)
        for step in (adding_two_scalars, adding_two_matrices, logistic_function, several_outputs,
                     default_values, shared_accumulator, derivative):
            step(mode)
            print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["numba", "python"], default=None,
                        help="backend (default: symnet.config.mode, numba)")
    main(parser.parse_args().mode)
