"""Tests for symnet/runtime/vmath.py: accuracy in ULPs against NumPy and against a long-double
reference over the whole float range, exact special values, the bit-cast and fma intrinsics,
vectorization of a loop that calls them, the fused loops that use them, and how long LLVM takes
to compile fused loops over compositions of them.

Every function is evaluated by one compiled loop per dtype over one large sample (1.3 million
points: uniform ranges, both sides of every threshold, and log-uniform magnitudes from the
smallest subnormal to the largest float), so the whole table costs two compilations.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numba
import numpy as np
import pytest

import symnet as sn
import symnet.tensor as T
from symnet.runtime import vmath

NAMES = ("exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus")
LONG = np.longdouble
HAVE_LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63  # x87 extended precision


@numba.njit(error_model="numpy")
def evaluate_all(x):
    """All seven functions on every element (row order as in NAMES)."""
    out = np.empty((7, x.size), dtype=x.dtype)
    for i in range(x.size):
        v = x[i]
        out[0, i] = vmath.exp(v)
        out[1, i] = vmath.expm1(v)
        out[2, i] = vmath.log(v)
        out[3, i] = vmath.log1p(v)
        out[4, i] = vmath.tanh(v)
        out[5, i] = vmath.sigmoid(v)
        out[6, i] = vmath.softplus(v)
    return out


def stable_sigmoid(x):
    """NumPy's sigmoid without the overflow of exp(-x) for x < -709."""
    e = np.exp(-np.abs(x))
    one = np.ones((), dtype=x.dtype)
    return np.where(x >= 0, one / (one + e), e / (one + e))


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, np.zeros((), dtype=x.dtype))


REFERENCES = {
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "tanh": np.tanh,
    "sigmoid": stable_sigmoid,
    "softplus": softplus,
}

# max ULP distance from NumPy. NumPy's float32 exp/expm1/log/log1p/tanh are up to 3.4 ULP from
# the true value and its float32 sigmoid/softplus formulas 3.3 ULP (vmath's float32 functions
# are within 0.51 ULP, TRUTH_ULPS below), so the float32 bound is NumPy's error, not vmath's.
NUMPY_ULPS = {"float64": 2, "float32": 4}
# max error against the long-double reference, in ULPs of the true value (measured: 0.89 for
# float64 expm1, the worst; exp reaches 0.75 only on subnormal results)
TRUTH_ULPS = {"float64": 1.0, "float32": 0.51}


def sample(dtype) -> np.ndarray:
    """1.3 million points over every regime of the seven functions."""
    rng = np.random.default_rng(20240601)
    ranges = [
        (-1.0, 1.0), (-0.1, 0.1), (-1e-8, 1e-8), (0.5, 2.0), (0.99, 1.01), (-1.0, -0.9),
        (0.3, 0.8), (-0.8, -0.3),  # expm1 across k = +-1, tanh across its 0.625 switch
        (-5.0, 5.0), (-40.0, 40.0), (15.0, 25.0),  # tanh and sigmoid saturating
        (-750.0, 750.0), (700.0, 710.0), (-746.0, -700.0),  # overflow, subnormal results
        (-110.0, 110.0), (85.0, 90.0), (-105.0, -85.0),  # the same for float32
    ]
    parts = [rng.uniform(lo, hi, 60_000) for lo, hi in ranges]
    # magnitudes from the smallest subnormal to the largest float, both signs
    magnitude = 10.0 ** rng.uniform(-323.0, 308.2, 200_000)
    parts.append(magnitude * rng.choice([-1.0, 1.0], magnitude.size))
    magnitude32 = 10.0 ** rng.uniform(-45.0, 38.5, 100_000)
    parts.append(magnitude32 * rng.choice([-1.0, 1.0], magnitude32.size))
    with np.errstate(over="ignore"):
        return np.concatenate(parts).astype(dtype)


def ordered(bits: np.ndarray, dtype) -> np.ndarray:
    """Map float bit patterns to integers that count ULPs monotonically across zero."""
    if dtype == np.float64:
        bits = bits.view(np.int64)
        low = np.iinfo(np.int64).min
    else:
        bits = bits.view(np.int32).astype(np.int64)
        low = np.iinfo(np.int32).min
    return np.where(bits < 0, low - bits, bits)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many representable numbers apart a and b are (NaN vs NaN counts as 0)."""
    dtype = a.dtype.type
    distance = np.abs(ordered(a, dtype) - ordered(b, dtype))
    return np.where(np.isnan(a) & np.isnan(b), 0, distance)


def ulps_from_truth(y: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|y - truth| in ULPs of truth's binade in y's dtype (subnormal spacing below it)."""
    info = np.finfo(y.dtype)
    _, exponent = np.frexp(truth.astype(np.float64))
    exponent = np.maximum(exponent, info.minexp + 1)
    ulp = np.ldexp(LONG(1), exponent - info.nmant - 1)
    return np.abs((y.astype(LONG) - truth) / ulp)


def long_double_truth(name: str, x: np.ndarray) -> np.ndarray:
    xl = x.astype(LONG)
    with np.errstate(all="ignore"):
        if name == "sigmoid":
            return stable_sigmoid(xl)
        if name == "softplus":
            return softplus(xl)
        return REFERENCES[name](xl)


@pytest.fixture(scope="module", params=["float64", "float32"])
def evaluated(request):
    x = sample(request.param)
    return request.param, x, evaluate_all(x)


@pytest.mark.parametrize("name", NAMES)
def test_vmath_within_ulps_of_numpy(evaluated, name):
    dtype, x, results = evaluated
    got = results[NAMES.index(name)]
    with np.errstate(all="ignore"):
        expected = REFERENCES[name](x).astype(dtype)
    distance = ulp_distance(got, expected)
    worst = int(np.argmax(distance))
    assert distance[worst] <= NUMPY_ULPS[dtype], (
        f"{name}({x[worst]!r}) = {got[worst]!r}, NumPy gives {expected[worst]!r}: "
        f"{distance[worst]} ULP apart"
    )


@pytest.mark.skipif(not HAVE_LONG_DOUBLE, reason="needs an extended-precision long double")
@pytest.mark.parametrize("name", NAMES)
def test_vmath_within_ulps_of_truth(evaluated, name):
    dtype, x, results = evaluated
    got = results[NAMES.index(name)]
    truth = long_double_truth(name, x)
    with np.errstate(over="ignore"):
        rounded_truth = truth.astype(dtype)
    finite = np.isfinite(rounded_truth)
    # where the correctly rounded result overflows (or is NaN), vmath must agree exactly
    np.testing.assert_array_equal(got[~finite], rounded_truth[~finite], err_msg=name)
    errors = ulps_from_truth(got[finite], truth[finite])
    worst = int(np.argmax(errors))
    assert errors[worst] <= TRUTH_ULPS[dtype], (
        f"{name}({x[finite][worst]!r}) = {got[finite][worst]!r}: "
        f"{float(errors[worst]):.3f} ULP from the true value"
    )


INF, NAN = np.inf, np.nan
LN2 = float(np.log(2.0))
# (function, input, exact result) for both dtypes; signs of zero are checked too
SPECIAL = [
    ("exp", 0.0, 1.0), ("exp", -0.0, 1.0), ("exp", INF, INF), ("exp", -INF, 0.0),
    ("exp", NAN, NAN), ("exp", 1000.0, INF), ("exp", -1000.0, 0.0), ("exp", 1e-30, 1.0),
    ("expm1", 0.0, 0.0), ("expm1", -0.0, -0.0), ("expm1", INF, INF), ("expm1", -INF, -1.0),
    ("expm1", NAN, NAN), ("expm1", 1000.0, INF), ("expm1", -50.0, -1.0),
    ("expm1", 1e-30, 1e-30),
    ("log", 1.0, 0.0), ("log", 0.0, -INF), ("log", -0.0, -INF), ("log", -1.0, NAN),
    ("log", INF, INF), ("log", -INF, NAN), ("log", NAN, NAN),
    ("log1p", 0.0, 0.0), ("log1p", -0.0, -0.0), ("log1p", -1.0, -INF), ("log1p", -2.0, NAN),
    ("log1p", INF, INF), ("log1p", -INF, NAN), ("log1p", NAN, NAN), ("log1p", 1e-30, 1e-30),
    ("tanh", 0.0, 0.0), ("tanh", -0.0, -0.0), ("tanh", INF, 1.0), ("tanh", -INF, -1.0),
    ("tanh", 30.0, 1.0), ("tanh", -30.0, -1.0), ("tanh", NAN, NAN), ("tanh", 1e-30, 1e-30),
    ("sigmoid", 0.0, 0.5), ("sigmoid", -0.0, 0.5), ("sigmoid", INF, 1.0),
    ("sigmoid", -INF, 0.0), ("sigmoid", NAN, NAN), ("sigmoid", 1000.0, 1.0),
    ("sigmoid", -1000.0, 0.0),
    ("softplus", 0.0, LN2), ("softplus", INF, INF), ("softplus", -INF, 0.0),
    ("softplus", NAN, NAN), ("softplus", 1000.0, 1000.0), ("softplus", -1000.0, 0.0),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vmath_special_values(dtype):
    x = np.array([value for _, value, _ in SPECIAL], dtype=dtype)
    results = evaluate_all(x)
    for i, (name, value, expected) in enumerate(SPECIAL):
        got = results[NAMES.index(name)][i]
        want = np.asarray(expected, dtype=dtype)
        if np.isnan(want):
            assert np.isnan(got), (name, value, got)
        else:
            assert got == want and np.signbit(got) == np.signbit(want), (name, value, got)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vmath_thresholds_match_numpy(dtype):
    """Both sides of every overflow, underflow and subnormal threshold, to the last bit."""
    info = np.finfo(dtype)
    edges = [709.782712893384, 709.7827128933841, -745.1332191019411, -745.1332191019412,
             -708.3964185322641, -708.39641853226418, 88.72283, 88.72284, -103.97207,
             -103.97208, -87.33654, -87.33655]
    x = np.array(edges, dtype=dtype)
    x = np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)])
    tiny = np.array([info.smallest_subnormal, info.smallest_normal, info.max, info.eps],
                    dtype=dtype)
    x = np.concatenate([x, tiny, -tiny])
    results = evaluate_all(x)
    for name in ("exp", "expm1", "log", "log1p", "tanh"):
        with np.errstate(all="ignore"):
            expected = REFERENCES[name](x)
        distance = ulp_distance(results[NAMES.index(name)], expected)
        assert distance.max() <= NUMPY_ULPS[dtype], (name, x[np.argmax(distance)])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vmath_tiny_arguments_are_exact(dtype):
    """expm1, log1p and tanh of subnormal and tiny numbers return the argument itself."""
    info = np.finfo(dtype)
    x = np.array([info.smallest_subnormal, -info.smallest_subnormal, info.smallest_normal,
                  -info.smallest_normal, 1e-30, -1e-30], dtype=dtype)
    results = evaluate_all(x)
    for name in ("expm1", "log1p", "tanh"):
        np.testing.assert_array_equal(results[NAMES.index(name)], x, err_msg=name)


def test_vmath_callable_from_python():
    assert vmath.exp(1.0) == pytest.approx(np.e, rel=1e-15)
    assert vmath.log1p(1e-20) == 1e-20
    # float32 results are the float64 result rounded once (NumPy's float32 tanh is 1 ULP off)
    assert np.float32(vmath.tanh(np.float32(0.5))) == np.float32(np.tanh(0.5))


# --- the intrinsics ----------------------------------------------------------------------------


@numba.njit
def _bits_roundtrip(x, bits, back):
    for i in range(x.size):
        bits[i] = vmath.bitcast(x[i])
        back[i] = vmath.bitcast(bits[i])


@pytest.mark.parametrize("dtype,int_dtype", [("float64", "int64"), ("float32", "int32")])
def test_bitcast_matches_numpy_view(dtype, int_dtype):
    x = np.array([0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.finfo(dtype).smallest_subnormal,
                  np.finfo(dtype).max, 3.14159], dtype=dtype)
    bits = np.empty(x.size, dtype=int_dtype)
    back = np.empty_like(x)
    _bits_roundtrip(x, bits, back)
    np.testing.assert_array_equal(bits, x.view(int_dtype))
    assert numba.njit(lambda v: vmath.bitcast(v))(np.asarray(1.0, dtype)[()]) == (
        np.asarray(1.0, dtype).view(int_dtype)
    )
    np.testing.assert_array_equal(back.view(int_dtype), x.view(int_dtype))


@numba.njit
def _fma(a, b, c):
    return vmath.fma(a, b, c)


def test_fma_computes_a_times_b_plus_c():
    assert _fma(2.0, 3.0, 1.0) == 7.0
    assert _fma(np.float32(1.5), np.float32(2.0), np.float32(-0.5)) == np.float32(2.5)
    # fused (FMA hardware) or not, the result is one of the two correct roundings
    assert _fma(0.1, 10.0, -1.0) in (0.0, 5.551115123125783e-17)


def test_intrinsics_reject_other_types():
    with pytest.raises(numba.TypingError):
        numba.njit(lambda: vmath.bitcast(1.5j))()
    with pytest.raises(numba.TypingError):
        numba.njit(lambda: vmath.fma(1.0, 2, np.float32(3.0)))()


# --- vectorization and the fused loops ---------------------------------------------------------


def test_vmath_loop_is_vectorized(monkeypatch):
    """A loop calling vmath.exp and vmath.tanh compiles to SIMD code with no libm call left."""
    # tests run with bounds checking on, whose exception paths keep loops scalar
    monkeypatch.setattr(numba.core.config, "BOUNDSCHECK", 0)

    @numba.njit(error_model="numpy")
    def loop(x, out):
        for i in range(x.size):
            out[i] = vmath.sigmoid(x[i]) * vmath.tanh(x[i]) + vmath.log1p(vmath.exp(x[i]))

    x = np.linspace(-3.0, 3.0, 64)
    out = np.empty_like(x)
    loop(x, out)
    llvm_ir = loop.inspect_llvm(loop.signatures[0])
    assert " x double>" in llvm_ir  # vector registers
    for libm in ("@exp(", "@tanh(", "@log1p(", "@llvm.exp.", "@llvm.log."):
        assert libm not in llvm_ir, libm
    expected = stable_sigmoid(x) * np.tanh(x) + np.log1p(np.exp(x))
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int16"])
def test_fused_loop_calls_vmath(dtype):
    """The numba backend's fused loop uses vmath for every float function, for each dtype
    (integer inputs are cast to the result's float dtype first) and agrees with perform."""
    x = T.tensor(dtype, shape=(None,))
    outputs = [T.exp(x), T.expm1(x), T.log(x), T.log1p(x), T.tanh(x), T.sigmoid(x),
               T.softplus(x)]
    rng = np.random.default_rng(0)
    if dtype == "int16":
        value = rng.integers(0, 12, 50).astype(dtype)
    else:
        value = rng.uniform(0.01, 30.0, 50).astype(dtype)
    f = sn.function([x], outputs, mode="numba")
    for name in NAMES:
        assert f"vmath.{name}(" in f.source
    reference = sn.function([x], outputs, mode="python")
    rtol = 1e-14 if dtype == "float64" else 2e-6
    if dtype == "int16":
        rtol = 1e-3  # NumPy computes these in float16 and symnet stores float32
    for got, want in zip(f(value), reference(value)):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol)


# --- compile time of composed functions --------------------------------------------------------

COMPILE_BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench" / "compile_vmath.py"


def covering_triples() -> list[tuple[str, str, str]]:
    """49 of the 343 compositions f(g(h(x))) in which every ordered pair of functions appears
    in each two of the three positions: h = (f + 2 g) mod 7 over the indices in NAMES."""
    n = len(NAMES)
    return [(NAMES[i], NAMES[j], NAMES[(i + 2 * j) % n]) for i in range(n) for j in range(n)]


@pytest.mark.slow
def test_composed_vmath_loops_compile_and_match_numpy(tmp_path):
    """f(g(x0)) + x1 for every pair of vmath functions and f(g(h(x0))) + x1 for a covering set
    of triples (all 343 with SYMNET_VMATH_TRIPLES=all) on float64 matrices: each kernel
    compiles at LLVM's level 3, in a fresh cache, in under 120 s, and its values on a
    contiguous and a broadcasting call match NumPy. softplus(sigmoid(x0)) + x1 used to keep
    LLVM busy for more than 15 minutes. Not a timing assertion: the limit is 100 times what a
    compile takes (about 1 s); ``pytest -s`` prints every compile time.

    One subprocess runs them all (bench/compile_vmath.py --json --check), at the users' default
    Numba settings rather than the test suite's (level 1, bounds checking on)."""
    pairs = [(f, g) for f in NAMES for g in NAMES]
    triples = covering_triples()
    if os.environ.get("SYMNET_VMATH_TRIPLES") == "all":
        triples = [(f, g, h) for f in NAMES for g in NAMES for h in NAMES]
    combos = pairs + triples
    env = dict(os.environ, NUMBA_OPT="3", NUMBA_BOUNDSCHECK="0", SYMNET_CACHE_DIR=str(tmp_path))
    command = [sys.executable, str(COMPILE_BENCH), "--json", "--check", "--timeout", "120",
               "--opt", "3", "--cache-dir", str(tmp_path), "--only",
               *(",".join(combo) for combo in combos)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=120 + 15 * len(combos), check=False)
        stdout, stderr, returncode = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        stdout, stderr, returncode = exc.stdout or "", exc.stderr or "", None
    if isinstance(stdout, bytes):
        stdout, stderr = stdout.decode(), stderr.decode()
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    started = [tuple(row["compiling"]) for row in rows if "compiling" in row]
    results = {tuple(row["combo"]): row for row in rows if "combo" in row}
    for combo, row in results.items():
        print(f"{' o '.join(combo):<28} compile {row['compile']:6.2f} s  llvm {row['llvm']:6.2f} s")
    unfinished = [combo for combo in started if combo not in results]
    assert returncode == 0 and not unfinished, (
        f"exit status {returncode}; never finished: {unfinished}\n{stderr[-3000:]}")
    assert list(results) == combos
    wrong = {combo: row["errors"] for combo, row in results.items() if row["errors"]}
    assert not wrong
