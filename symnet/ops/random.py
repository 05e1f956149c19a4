"""Random streams: uniform, normal, binomial, permutation and choice draws whose generator state
lives in a shared variable, so each call of a compiled function draws new numbers.

The generator is xoroshiro128+ (state: two uint64 words, seeded through splitmix64). The same
compiled helpers run in both backends (``perform`` calls them from Python), so a stream gives
bit-identical numbers in mode='python' and mode='numba', and the graph stays picklable (the
state is an ordinary array).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from symnet.config import config
from symnet.graph import Apply, Op, SharedVariable, TensorType, as_tensor, normalize_dtype
from symnet.graph import tensor_functions as T
from symnet.runtime.kernel import kernel
from symnet.ops.shape import _static_vector, as_shape_vector

_U64 = np.uint64


@kernel
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@kernel
def _next(state):
    """One xoroshiro128+ step: returns 64 random bits and advances ``state`` in place."""
    s0 = state[0]
    s1 = state[1]
    result = s0 + s1
    s1 = s1 ^ s0
    state[0] = _rotl(s0, 24) ^ s1 ^ (s1 << _U64(16))
    state[1] = _rotl(s1, 37)
    return result


@kernel
def _next_double(state):
    """A float64 in [0, 1) from the top 53 bits."""
    return np.float64(_next(state) >> _U64(11)) * (1.0 / 9007199254740992.0)


def seed_state(seed: int) -> np.ndarray:
    """The generator state for ``seed`` (splitmix64 of the seed, never all zeros)."""
    mask = (1 << 64) - 1
    z = int(seed) & mask
    words = []
    for _ in range(2):
        z = (z + 0x9E3779B97F4A7C15) & mask
        x = z
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        words.append(x ^ (x >> 31))
    if words == [0, 0]:
        words = [1, 0]
    return np.array(words, dtype=np.uint64)


@kernel
def check_size(size):
    for i in range(size.shape[0]):
        if size[i] < 0:
            raise ValueError("random: negative dimension in size")


@kernel
def draw_uniform(state, size, low, high, out_dtype):
    check_size(size)
    new_state = state.copy()
    n = 1
    for s in size:
        n *= s
    flat = np.empty(n, dtype=out_dtype)
    lo = np.float64(low[()])
    span = np.float64(high[()]) - lo
    for i in range(n):
        flat[i] = lo + span * _next_double(new_state)
    return new_state, flat


@kernel
def draw_normal(state, size, avg, std, out_dtype):
    check_size(size)
    new_state = state.copy()
    n = 1
    for s in size:
        n *= s
    flat = np.empty(n, dtype=out_dtype)
    mu = np.float64(avg[()])
    sigma = np.float64(std[()])
    i = 0
    while i < n:
        u1 = 1.0 - _next_double(new_state)  # (0, 1]: log is finite
        u2 = _next_double(new_state)
        radius = math.sqrt(-2.0 * math.log(u1))
        flat[i] = mu + sigma * radius * math.cos(2.0 * math.pi * u2)
        if i + 1 < n:
            flat[i + 1] = mu + sigma * radius * math.sin(2.0 * math.pi * u2)
        i += 2
    return new_state, flat


@kernel
def draw_binomial(state, size, trials, p, out_dtype):
    check_size(size)
    new_state = state.copy()
    n = 1
    for s in size:
        n *= s
    flat = np.empty(n, dtype=out_dtype)
    count = np.int64(trials[()])
    prob = np.float64(p[()])
    if count < 0 or not (0.0 <= prob <= 1.0):
        raise ValueError("binomial: needs n >= 0 and 0 <= p <= 1")
    for i in range(n):
        k = 0
        for _ in range(count):
            if _next_double(new_state) < prob:
                k += 1
        flat[i] = k
    return new_state, flat


@kernel
def draw_permutation(state, n):
    count = np.int64(n[()])
    if count < 0:
        raise ValueError("permutation: n must be >= 0")
    new_state = state.copy()
    out = np.arange(count)
    for i in range(count - 1, 0, -1):
        j = np.int64(_next(new_state) % np.uint64(i + 1))
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp
    return new_state, out


_DRAWS = {"uniform": draw_uniform, "normal": draw_normal, "binomial": draw_binomial}


@dataclass(frozen=True)
class RandomDraw(Op):
    """Draw ``dist`` samples of ``dtype`` with ``ndim`` dimensions: (state, size, a, b) ->
    (new state, sample). ``a, b`` are (low, high), (avg, std) or (n, p)."""

    dist: str
    dtype: str
    ndim: int

    nondeterministic = True  # never constant-folded

    def make_node(self, state, size, a, b):
        state = as_tensor(state)
        size = as_shape_vector(size)
        a, b = as_tensor(a), as_tensor(b)
        if a.ndim or b.ndim:
            raise ValueError(f"random.{self.dist}: parameters must be scalars")
        static = _static_vector(size) or (None,) * self.ndim
        return Apply(self, [state, size, a, b],
                     [TensorType("uint64", (2,))(), TensorType(self.dtype, static)()])

    def perform(self, inputs):
        state, size, a, b = inputs
        new_state, flat = _DRAWS[self.dist](state, np.asarray(size, dtype=np.int64), a, b,
                                            np.dtype(self.dtype))
        return [new_state, flat.reshape(tuple(int(s) for s in size))]

    def numba_impl(self, node, names):
        state, size, a, b = names
        shape = "(" + "".join(f"{size}[{i}], " for i in range(self.ndim)) + ")"
        call = f"random.draw_{self.dist}({state}, {size}, {a}, {b}, np.{self.dtype})"
        return f"random.reshape_draw({call}, {shape})"

    def grad(self, inputs, output_grads):
        return [None, None, None, None]

    def name_for_pp(self):
        return f"random_{self.dist}"

    def pp_args(self):
        return []


@kernel
def reshape_draw(pair, shape):
    return pair[0], pair[1].reshape(shape)


@dataclass(frozen=True)
class RandomPermutation(Op):
    """A random permutation of ``arange(n)``: (state, n) -> (new state, int64 vector)."""

    nondeterministic = True

    def make_node(self, state, n):
        n = T.cast(as_tensor(n), "int64")
        return Apply(self, [as_tensor(state), n],
                     [TensorType("uint64", (2,))(), TensorType("int64", (None,))()])

    def perform(self, inputs):
        state, n = inputs
        return list(draw_permutation(state, n))

    def numba_impl(self, node, names):
        state, n = names
        return f"random.draw_permutation({state}, {n})"

    def grad(self, inputs, output_grads):
        return [None, None]

    def name_for_pp(self):
        return "random_permutation"


class RandomStream:
    """A source of random tensors, Theano's ``RandomStreams``.

    Each draw owns a shared generator state seeded from the stream's seed and the draw's
    position, with a default update, so compiled functions draw fresh numbers on every call
    without the user writing updates. Two streams with the same seed give the same draws.

    Examples
    --------
    >>> import symnet as sn
    >>> srng = sn.RandomStream(seed=42)
    >>> u = srng.uniform((2, 3))
    >>> f = sn.function([], u)
    >>> a, b = f(), f()
    >>> a.shape, bool((a != b).any()), bool(((0 <= a) & (a < 1)).all())
    ((2, 3), True, True)
    """

    def __init__(self, seed: int = 0):
        self.seed_value = int(seed)
        self.state_updates: list[tuple[SharedVariable, object]] = []
        self._count = 0

    def _new_state(self) -> SharedVariable:
        state = SharedVariable(seed_state(self.seed_value * 1000003 + self._count),
                               name=f"rng_state_{self._count}")
        self._count += 1
        return state

    def seed(self, seed: int) -> None:
        """Re-seed every state this stream made (as if the draws were made after seeding)."""
        self.seed_value = int(seed)
        for i, (state, _) in enumerate(self.state_updates):
            state.set_value(seed_state(self.seed_value * 1000003 + i))

    def _draw(self, dist, size, a, b, dtype, ndim=None):
        if dtype is None:
            dtype = "int64" if dist == "binomial" else config.float_x
        dtype = normalize_dtype(dtype)
        if isinstance(size, (int, np.integer)):
            size = (int(size),)
        if ndim is None:
            if isinstance(size, (tuple, list)):
                ndim = len(size)
            else:
                ndim = size.type.shape[0]
                if ndim is None:
                    raise ValueError("random: pass ndim= when size is a vector of unknown length")
        state = self._new_state()
        new_state, sample = RandomDraw(dist, dtype, int(ndim))(state, size, a, b)
        state.default_update = new_state
        self.state_updates.append((state, new_state))
        return sample

    def uniform(self, size=(), low=0.0, high=1.0, dtype=None, ndim=None):
        """Samples from U[low, high)."""
        return self._draw("uniform", size, low, high, dtype, ndim)

    def normal(self, size=(), avg=0.0, std=1.0, dtype=None, ndim=None):
        """Samples from N(avg, std**2) (Box-Muller)."""
        return self._draw("normal", size, avg, std, dtype, ndim)

    def binomial(self, size=(), n=1, p=0.5, dtype=None, ndim=None):
        """Counts of successes in ``n`` trials of probability ``p`` (n=1: Bernoulli masks)."""
        return self._draw("binomial", size, n, p, dtype, ndim)

    def permutation(self, n):
        """A random permutation of ``arange(n)`` (int64)."""
        state = self._new_state()
        new_state, sample = RandomPermutation()(state, n)
        state.default_update = new_state
        self.state_updates.append((state, new_state))
        return sample

    def choice(self, a, size=(), replace=True):
        """Samples of the entries of vector ``a`` (or of arange(a) for an int), uniformly."""
        if isinstance(a, (int, np.integer)):
            a = T.arange(int(a))
        a = as_tensor(a)
        n = T.shape(a)[0]
        if replace:
            u = self.uniform(size, 0.0, 1.0, dtype="float64")
            index = T.cast(T.floor(u * T.cast(n, "float64")), "int64")
            return a[index]
        perm = self.permutation(n)
        count = int(np.prod(size)) if isinstance(size, (tuple, list)) else size
        return T.reshape(a[perm[:count]], size)

    def updates(self):
        """(state, new state) pairs, for users who pass updates explicitly."""
        return list(self.state_updates)


RandomStreams = RandomStream
