"""Vectorizable scalar math for fused elementwise loops.

Numba compiles ``np.exp(x)`` on a scalar to a call into the C library's ``exp``, which LLVM
cannot vectorize: a fused loop over transcendental functions then runs one element at a time,
several times slower than NumPy's SIMD ufuncs. SVML (Numba's vector math library) needs an
SVML-patched LLVM, which the pip build of llvmlite is not. The functions here are plain
arithmetic instead: range reduction, a polynomial, and ``2**k`` built from its bits. Special
values (overflow, underflow, infinities, NaN, signed zeros) are handled by selects rather
than branches, so a loop calling them stays one straight block that LLVM vectorizes.

Generated kernels call the generic names, ``vmath.exp(x)`` on a float64 or float32 scalar.
The float64 versions are within 1 ULP of the true result and 2 ULP of NumPy; the float32
versions compute in float64 with shorter polynomials and round once, within 0.51 ULP of the
true result (NumPy's own float32 functions are up to 3.4 ULP off). sigmoid avoids exp of
large arguments, so it keeps subnormal results where 1 / (1 + exp(-x)) gives 0.
tests/runtime/test_vmath.py measures all of it. Called from Python, the generic names run the
same compiled code on one scalar.

Every helper is compiled with ``forceinline`` (LLVM's ``alwaysinline``): without it LLVM
declines to inline the larger functions (tanh, softplus) and a call stays in the loop, which
then cannot vectorize. They are cached on disk like every kernel; a cached helper is still
inlined into new callers. Coefficients are near-minimax fits (iteratively reweighted least
squares in 60-digit arithmetic with mpmath) on the reduced ranges stated at each polynomial.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

# --- bit casts and fused multiply-add ----------------------------------------------------------

_BITCASTS = {
    types.float64: (types.int64, ir.IntType(64)),
    types.float32: (types.int32, ir.IntType(32)),
    types.int64: (types.float64, ir.DoubleType()),
    types.int32: (types.float32, ir.FloatType()),
}


@intrinsic
def bitcast(typingctx, x):
    """Reinterpret the bits: float64 <-> int64, float32 <-> int32 (one LLVM ``bitcast``)."""
    if x not in _BITCASTS:
        return None
    result_type, llvm_type = _BITCASTS[x]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_type)

    return result_type(x), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` as LLVM's ``fmuladd``: one fused instruction where the CPU has FMA,
    a multiply and an add elsewhere (never a call into libm, which would stop vectorizing)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        llvm_type = args[0].type
        fn_type = ir.FunctionType(llvm_type, [llvm_type] * 3)
        name = "llvm.fmuladd.f64" if llvm_type == ir.DoubleType() else "llvm.fmuladd.f32"
        fn = cgutils.get_or_insert_function(builder.module, fn_type, name)
        return builder.call(fn, args)

    return a(a, b, c), codegen


_JIT_OPTIONS = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "forceinline": True,
    "no_cpython_wrapper": True,
    "no_cfunc_wrapper": True,
}
_jit = numba.njit(**_JIT_OPTIONS)

# --- constants ---------------------------------------------------------------------------------

_LOG2E = 1.4426950408889634
# ln 2 split so that k * _LN2_HI is exact for |k| < 2**11 (42 significant bits)
_LN2_HI = float.fromhex("0x1.62e42fefa3800p-1")
_LN2_LO = float.fromhex("0x1.ef35793c76730p-45")
# adding 1.5 * 2**52 rounds to an integer, which then sits in the low bits of the sum
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = 0x4338000000000000
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # bits of sqrt(1/2)
_TWO54 = 18014398509481984.0
_TWO_M30 = 9.313225746154785e-10
_MIN_NORMAL = 2.2250738585072014e-308
_TANH_SMALL = 0.625  # below this tanh uses its own polynomial, above it exp

# --- polynomials -------------------------------------------------------------------------------


@_jit
def _exp_poly64(r):
    """q with exp(r) = 1 + r + r**2 q(r) on |r| <= ln(2)/2 (relative error 2**-60)."""
    q = fma(r, 2.0826428661967426e-09, 2.5112265288518072e-08)
    q = fma(q, r, 2.755758388063024e-07)
    q = fma(q, r, 2.755723421750496e-06)
    q = fma(q, r, 2.4801586922292118e-05)
    q = fma(q, r, 0.00019841269897016769)
    q = fma(q, r, 0.001388888888911913)
    q = fma(q, r, 0.008333333333316784)
    q = fma(q, r, 0.04166666666666608)
    q = fma(q, r, 0.16666666666666682)
    return fma(q, r, 0.5)


@_jit
def _exp_poly32(r):
    """As _exp_poly64 with relative error 2**-34 (enough for float32 results)."""
    q = fma(r, 0.000197901635838498, 0.0013944872124010321)
    q = fma(q, r, 0.008333498308767184)
    q = fma(q, r, 0.04166629211382584)
    q = fma(q, r, 0.16666665859759486)
    return fma(q, r, 0.5000000068454771)


@_jit
def _log_poly64(z):
    """g with 2 atanh(s) = 2 s + s z g(z), z = s**2 <= 0.0295 (absolute error of z g: 2**-58)."""
    g = fma(z, 0.1479907419652377, 0.15313754874589414)
    g = fma(g, z, 0.1818357520383828)
    g = fma(g, z, 0.22222198377644758)
    g = fma(g, z, 0.28571428744150773)
    g = fma(g, z, 0.3999999999940744)
    return fma(g, z, 0.6666666666666735)


@_jit
def _log_poly32(z):
    """As _log_poly64 with absolute error 2**-36."""
    g = fma(z, 0.23585002646605727, 0.2853716704617202)
    g = fma(g, z, 0.40000337268566777)
    return fma(g, z, 0.6666666563700837)


@_jit
def _tanh_poly64(z):
    """P with tanh(x) = x + x**3 P(x**2) on |x| <= 0.625 (relative error 2**-56)."""
    p = fma(z, 6.031361312303024e-06, -3.016232556578303e-05)
    p = fma(p, z, 9.153406313647993e-05)
    p = fma(p, z, -0.00023699809120048053)
    p = fma(p, z, 0.0005894469714965651)
    p = fma(p, z, -0.0014557248244929071)
    p = fma(p, z, 0.0035921138264128167)
    p = fma(p, z, -0.008863234295084389)
    p = fma(p, z, 0.02186948846760946)
    p = fma(p, z, -0.053968253966018426)
    p = fma(p, z, 0.1333333333332967)
    return fma(p, z, -0.33333333333333315)


# --- exact sums and exponents ------------------------------------------------------------------


@_jit
def _two_sum(a, b):
    """(s, e) with s = a + b rounded and e its exact rounding error (Knuth's TwoSum)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_jit
def _fast_two_sum(a, b):
    """As _two_sum when |a| >= |b| or a = 0 (Dekker's Fast2Sum, three operations)."""
    s = a + b
    return s, b - (s - a)


@_jit
def _clamp(x, low, high):
    """x limited to [low, high], NaN to high: keeps the reduction finite, and the NaN result
    is restored by each function's final select (min/max would not say what NaN does)."""
    x = x if x < high else high  # noqa: FURB136
    return x if x > low else low  # noqa: FURB136


@_jit
def _pow2(k):
    """2.0**k for an int64 k in [-1022, 1023], built from its bits."""
    return bitcast((k + 1023) << 52)


@_jit
def _scale(y, k):
    """y * 2**k for k in [-2044, 2046], as two exact factors so that a subnormal or
    overflowing result is rounded once."""
    k1 = k >> 1
    return y * _pow2(k1) * _pow2(k - k1)


# --- exp ---------------------------------------------------------------------------------------


@_jit
def _reduce_ln2(x):
    """(k, r, c) with x = k ln2 + r + c, |r| <= ln(2)/2 and c the rounding error of r.
    ``x`` must be finite and below 2**11 ln 2 in magnitude."""
    t = fma(x, _LOG2E, _SHIFTER)  # round(x / ln 2) in the low bits of t
    kf = t - _SHIFTER
    k = bitcast(t) - _SHIFTER_BITS
    r_hi = fma(kf, -_LN2_HI, x)  # exact: k * _LN2_HI has 53 - 11 bits
    r = fma(kf, -_LN2_LO, r_hi)
    c = fma(kf, -_LN2_LO, r_hi - r)  # what rounding r lost
    return k, r, c


@_jit
def _exp_reduced(x):
    """(k, head, tail) with exp(x) = 2**k (head + tail) to about 2**-62, head = head + tail
    rounded, for finite x in [-746, 710]."""
    k, r, c = _reduce_ln2(x)
    # exp(r + c) = 1 + r + lo with lo = r**2 q(r) + c (1 + r); 1 + r is split exactly into
    # head and tail (Fast2Sum, |r| < 1) so that only the final addition rounds at full size
    lo = fma(r * r, _exp_poly64(r), fma(c, r, c))
    head, tail = _fast_two_sum(1.0, r)
    head, tail = _fast_two_sum(head, tail + lo)
    return k, head, tail


@_jit
def _exp_split(x):
    """(head, tail) with exp(x) = head + tail beyond float64 precision, head = exp(x) rounded,
    for x <= 0 (clamped to -746, where exp(x) is 0)."""
    k, head, tail = _exp_reduced(_clamp(x, -746.0, 0.0))
    return _scale(head, k), _scale(tail, k)


@_jit
def exp64(x):
    # past these bounds the result is inf or 0; clamping keeps k in range
    k, head, _ = _exp_reduced(_clamp(x, -746.0, 710.0))
    y = _scale(head, k)
    return x if math.isnan(x) else y


@_jit
def expm1_64(x):
    k, r, c = _reduce_ln2(_clamp(x, -40.0, 710.0))  # expm1(-40) rounds to -1
    lo = fma(r * r, _exp_poly64(r), fma(c, r, c))
    # 2**k (1 + r + lo) - 1 = (s - h) + s r + s lo, times 2 for k = 1024 (s = 2**1023, h = 1/2)
    # else s = 2**k, h = 1. The first two terms are summed exactly so that the cancellation
    # for k = -1, 1 does not magnify a rounding error.
    big = k > 1023
    s = _pow2(k - 1 if big else k)
    h = 0.5 if big else 1.0
    a = s - h
    a_err = (-h - (a - s)) if s >= h else (s - (a + h))  # exact (Fast2Sum, larger first)
    head, tail = _two_sum(a, s * r)
    y = head + fma(s, lo, tail + a_err)
    y = y * 2.0 if big else y
    y = x if x == 0.0 else y  # keeps the sign of zero
    return x if math.isnan(x) else y


@_jit
def _exp_wide32(x):
    """exp(x) in float64 to 2**-33 for float32-range x (clamped to [-104, 89], where float32
    results are 0 and inf)."""
    k, r, _ = _reduce_ln2(_clamp(x, -104.0, 89.0))
    return (1.0 + fma(r * r, _exp_poly32(r), r)) * _pow2(k)


@_jit
def _expm1_wide32(x):
    """expm1(x) in float64 to 2**-33 relative for float32-range x (clamped to [-20, 89]),
    as 2**k r-polynomial + (2**k - 1): exact scaling, one rounding."""
    k, r, _ = _reduce_ln2(_clamp(x, -20.0, 89.0))
    s = _pow2(k)
    return fma(s, fma(r * r, _exp_poly32(r), r), s - 1.0)


@_jit
def exp32(x):
    y = np.float32(_exp_wide32(np.float64(x)))
    return x if math.isnan(x) else y


@_jit
def expm1_32(x):
    y = np.float32(_expm1_wide32(np.float64(x)))
    y = x if x == np.float32(0.0) else y  # keeps the sign of zero
    return x if math.isnan(x) else y


# --- log ---------------------------------------------------------------------------------------


@_jit
def _split_mantissa(x):
    """(k, f) with x = 2**k (1 + f), 1 + f in [sqrt(1/2), sqrt(2)), for a positive normal x;
    garbage (but no trap) for anything else."""
    bits = bitcast(x)
    k = (bits - _SQRT_HALF_BITS) >> 52
    f = bitcast(bits - (k << 52)) - 1.0  # exact: 1 + f is within a factor 2 of 1
    return k, f


@_jit
def _log_combine(f, k, lo, s, z, g):
    """(head, tail) with head + tail = log(2**k (1 + f)) + lo, head that sum rounded, given
    s = f / (2 + f), z = s**2 and g = g(z) for |f| <= sqrt(2) - 1 and a small ``lo``.
    log(1 + f) = f - f**2/2 + s (f**2/2 + z g) keeps the rounding of the large terms out of
    the small ones, and k ln2_hi + f is added exactly."""
    hfsq = 0.5 * f * f
    kf = np.float64(k)
    tail = fma(s, fma(z, g, hfsq), fma(kf, _LN2_LO, lo))
    head, err = _two_sum(kf * _LN2_HI, f)  # the product is exact
    return _fast_two_sum(head, err - (hfsq - tail))


@_jit
def _log_kernel64(f, k, lo):
    s = f / (2.0 + f)
    z = s * s
    return _log_combine(f, k, lo, s, z, _log_poly64(z))


@_jit
def _log_kernel32(f, k, lo):
    s = f / (2.0 + f)
    z = s * s
    return _log_combine(f, k, lo, s, z, _log_poly32(z))


@_jit
def _log1p_reduce(x, x_lo):
    """(k, f, lo) with 1 + x + x_lo = 2**k (1 + f) + 2**k (1 + f) lo to second order, for
    x > -1 and a tiny x_lo: u = 1 + x rounded, and lo = (c + x_lo) / u where c is what that
    rounding lost."""
    u = 1.0 + x
    c = (1.0 - (u - x)) if x >= 1.0 else (x - (u - 1.0))  # exact (Fast2Sum, larger first)
    k, f = _split_mantissa(u)
    return k, f, (c + x_lo) / u


@_jit
def _log1p_tiny(x, x_lo):
    """log1p(x + x_lo) = x + x_lo - x**2 / 2 for |x| < 2**-30 (where c / u above would be
    most of the result and round twice)."""
    return x + fma(-0.5 * x, x, x_lo)


@_jit
def log64(x):
    # subnormal inputs are scaled into the normal range first
    tiny = x < _MIN_NORMAL
    k, f = _split_mantissa(x * _TWO54 if tiny else x)
    y, _ = _log_kernel64(f, k - 54 if tiny else k, 0.0)
    y = x if x == np.inf else y
    y = -np.inf if x == 0.0 else y
    y = np.nan if x < 0.0 else y
    return x if math.isnan(x) else y


@_jit
def log1p64(x):
    k, f, lo = _log1p_reduce(x, 0.0)
    y, _ = _log_kernel64(f, k, lo)
    y = _log1p_tiny(x, 0.0) if abs(x) < _TWO_M30 else y
    y = x if x == np.inf else y
    y = -np.inf if x == -1.0 else y
    y = np.nan if x < -1.0 else y
    y = x if x == 0.0 else y  # keeps the sign of zero
    return x if math.isnan(x) else y


@_jit
def log32(x):
    xd = np.float64(x)  # float32 subnormals are normal float64 numbers
    k, f = _split_mantissa(xd)
    y, _ = _log_kernel32(f, k, 0.0)
    y = np.float32(y)
    y = x if x == np.float32(np.inf) else y
    y = np.float32(-np.inf) if x == np.float32(0.0) else y
    y = np.float32(np.nan) if x < np.float32(0.0) else y
    return x if math.isnan(x) else y


@_jit
def log1p32(x):
    xd = np.float64(x)
    k, f, lo = _log1p_reduce(xd, 0.0)
    y, _ = _log_kernel32(f, k, lo)
    y = np.float32(_log1p_tiny(xd, 0.0) if abs(xd) < _TWO_M30 else y)
    y = x if x == np.float32(np.inf) else y
    y = np.float32(-np.inf) if x == np.float32(-1.0) else y
    y = np.float32(np.nan) if x < np.float32(-1.0) else y
    y = x if x == np.float32(0.0) else y
    return x if math.isnan(x) else y


# --- tanh, sigmoid, softplus -------------------------------------------------------------------


@_jit
def tanh64(x):
    # |x| < 0.625: odd polynomial
    z = x * x
    small = fma(x * z, _tanh_poly64(z), x)
    # above: 1 - 2 / (E + 1) with E = exp(2|x|) (1 for |x| > 19.1), carried in double-double
    # so that the subtraction from 1 does not expose the rounding of E + 1 and of the division
    a = _clamp(abs(x), 0.0, 20.0)
    k, e_head, e_tail = _exp_reduced(2.0 * a)
    s = _pow2(k)
    d_head, d_tail = _fast_two_sum(e_head * s, 1.0)
    d_tail = fma(e_tail, s, d_tail)
    q = 2.0 / d_head
    q_tail = (fma(-q, d_head, 2.0) - q * d_tail) * (0.5 * q)  # 2 / d - q
    y_head, y_tail = _fast_two_sum(1.0, -q)
    large = math.copysign(y_head + (y_tail - q_tail), x)
    y = small if a < _TANH_SMALL else large
    y = x if x == 0.0 else y  # keeps the sign of zero
    return x if math.isnan(x) else y


@_jit
def tanh32(x):
    # em / (em + 2) with em = expm1(2|x|) has no cancellation anywhere at float64 precision
    xd = np.float64(x)
    em = _expm1_wide32(2.0 * _clamp(abs(xd), 0.0, 10.0))  # tanh(10) rounds to 1 in float32
    y = np.float32(math.copysign(em / (em + 2.0), xd))
    return x if math.isnan(x) else y


@_jit
def sigmoid64(x):
    # n / (1 + E) with E = exp(-|x|) and n = 1 (x >= 0) or E (x < 0): never exp of a large
    # positive number, so results go down to the subnormals; one division, then one
    # correction step from the exact residual
    e_head, e_tail = _exp_split(-abs(x))
    negative = x < 0.0
    n_head = e_head if negative else 1.0
    n_tail = e_tail if negative else 0.0
    d_head, d_tail = _fast_two_sum(1.0, e_head)
    d_tail = d_tail + e_tail
    inv = 1.0 / d_head
    q = n_head * inv
    residual = fma(-q, d_head, n_head)  # exact
    y = fma(residual + (n_tail - q * d_tail), inv, q)
    return x if math.isnan(x) else y


@_jit
def sigmoid32(x):
    xd = np.float64(x)
    e = _exp_wide32(-abs(xd))
    y = np.float32((e if xd < 0.0 else 1.0) / (1.0 + e))
    return x if math.isnan(x) else y


@_jit
def softplus64(x):
    # log1p(E) + max(x, 0) with E = exp(-|x|), both sums in double-double
    e_head, e_tail = _exp_split(-abs(x))
    k, f, lo = _log1p_reduce(e_head, e_tail)
    l_head, l_tail = _log_kernel64(f, k, lo)
    tiny = e_head < _TWO_M30
    l_head = _log1p_tiny(e_head, e_tail) if tiny else l_head
    l_tail = 0.0 if tiny else l_tail
    head, tail = _two_sum(x, l_head)
    y = head + (tail + l_tail) if x > 0.0 else l_head
    y = x if x == np.inf else y
    return x if math.isnan(x) else y


@_jit
def softplus32(x):
    xd = np.float64(x)
    e = _exp_wide32(-abs(xd))
    k, f, lo = _log1p_reduce(e, 0.0)
    y, _ = _log_kernel32(f, k, lo)
    y = _log1p_tiny(e, 0.0) if e < _TWO_M30 else y
    y = np.float32(xd + y if xd > 0.0 else y)
    return x if math.isnan(x) else y


# --- the generic names generated kernels call --------------------------------------------------

@_jit
def erf64(x):
    return math.erf(x)


@_jit
def erf32(x):
    return np.float32(math.erf(np.float64(x)))  # float32's erf, correctly rounded from float64


_VARIANTS = {
    "erf": (erf64, erf32),
    "exp": (exp64, exp32),
    "expm1": (expm1_64, expm1_32),
    "log": (log64, log32),
    "log1p": (log1p64, log1p32),
    "tanh": (tanh64, tanh32),
    "sigmoid": (sigmoid64, sigmoid32),
    "softplus": (softplus64, softplus32),
}


def _generic(name: str):
    """``vmath.<name>(x)``: the float64 or float32 variant, chosen when Numba types x."""
    impl64, impl32 = _VARIANTS[name]
    compiled_call = None

    def function(x):
        nonlocal compiled_call
        if compiled_call is None:
            compiled_call = numba.njit(lambda v: function(v))
        return compiled_call(x)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (
        f"{name}(x) of a float64 or float32 scalar, as vectorizable arithmetic (see the module "
        "docstring). In compiled code it picks the variant for x's type; from Python it runs "
        "that compiled code."
    )

    @overload(function, jit_options={"nogil": True, "error_model": "numpy", "forceinline": True})
    def typed(x):
        if x == types.float64:
            return lambda x: impl64(x)
        if x == types.float32:
            return lambda x: impl32(x)
        return None

    return function


erf = _generic("erf")
exp = _generic("exp")
expm1 = _generic("expm1")
log = _generic("log")
log1p = _generic("log1p")
tanh = _generic("tanh")
sigmoid = _generic("sigmoid")
softplus = _generic("softplus")
