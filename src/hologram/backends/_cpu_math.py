"""exp, sigmoid, tanh, log, pow and erf for float32 values, written so that LLVM can vectorise them.

Numba calls the C library for `np.exp`, `np.log` or `np.power` on a scalar, one element at a
time. These versions are arithmetic, bit casts and selects only (no calls, no branches), so a
kernel's lane loop stays a vector loop: 16 float32 lanes to a register where the host has
AVX-512. Numba contracts nothing into fused multiply-adds by itself, hence the explicit `fma32`.

exp, sigmoid, tanh and log work in float32 lanes, in the manner of Cephes and SLEEF: Cody-Waite
range reduction, then a polynomial fitted once for least maximum relative error (iterated
reweighted least squares), then an exact scaling by powers of two. tanh is expm1(-2|x|) over
2 plus itself, from exp's polynomial: one formula and one division over the whole range. pow
needs y * log2|x| to about 2**-35 relative, more than float32 holds, so log2|x| (the atanh
series of the reduced mantissa) and the split of t = y * log2|x| into round(t) and t -
round(t) are float64; 2**(t - round(t)) is a float32 polynomial again. erf is the rational
approximation that Eigen and XLA use for float32, evaluated in float64 (in float32 it is off
by up to 5 ulp).

Largest errors, in float32 ulps between the result and the float64 value rounded to float32,
over every 7th float32 bit pattern (tests/backends/test_cpu_math.py sweeps every 1021st):
exp 1, log 1, tanh 2, sigmoid 2, erf 2; pow 1 over 12 million sampled pairs, with t up to +-160.
NumPy documents its own float32 SIMD exp and log at 2.52 and 3.83 ulp (the comments of
numpy/_core/src/umath/loops_exponent_log.dispatch.c.src). Special values are exact: infinities,
NaN, signed zeros, subnormal inputs and results, the overflow and underflow thresholds, log of
a negative (NaN) and of zero (-inf), and C's rules for pow.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hologram.backends._cpu_runtime import bits_f32, f32_bits, fma32, fma64

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

_F = np.float32
_ZERO = _F(0.0)
_HALF = _F(0.5)
_ONE = _F(1.0)
_TWO = _F(2.0)
_SIGN = np.uint32(0x80000000)
_ROUNDER_F = _F(12582912.0)  # 1.5 * 2**23: adding and subtracting it rounds half to even

# ---------------------------------------------------------------- exp in float32
_LOG2E_F = _F(1.4426950408889634)
_LN2_HI_F = _F(0.6931471824645996)  # float32(ln 2): k * this is exact against x, |k| <= 150
_LN2_LO_F = _F(-1.904654323148236e-09)  # ln 2 - _LN2_HI_F
_EXP_MIN = _F(-104.0)  # e**-104 < 2**-150: rounds to +0
_EXP_MAX = _F(89.0)  # e**89 > the largest float32: rounds to +inf
# e**r = 1 + r + r**2 Q(r) on |r| <= ln(2)/2; Q to 2**-28 relative to e**r, lowest first.
_EQ0 = _F(0.4999999403953552)
_EQ1 = _F(0.1666652113199234)
_EQ2 = _F(0.04166838899254799)
_EQ3 = _F(0.008368710055947304)
_EQ4 = _F(0.001381461275741458)


@njit(inline="always", **_JIT)
def scale_f32(p, n):
    """p * 2**n for a float32 `p` in [1/2, 2] and an int32 `n` in [-252, 254].

    Two exact powers of two, so that a subnormal result is rounded once, in the last product.
    """
    half = np.int32(n >> np.int32(1))
    first = bits_f32(np.uint32((half + np.int32(127)) << np.int32(23)))
    second = bits_f32(np.uint32((n - half + np.int32(127)) << np.int32(23)))
    return p * first * second


@njit(inline="always", **_JIT)
def exp_core_f32(x):
    """e**x for a float32 `x`, as float32: overflow gives inf, underflow 0, NaN stays NaN."""
    # Compare-and-select rather than min and max, which would replace a NaN.
    x = _EXP_MIN if x < _EXP_MIN else x
    x = _EXP_MAX if x > _EXP_MAX else x
    k = (x * _LOG2E_F + _ROUNDER_F) - _ROUNDER_F
    r = fma32(k, -_LN2_HI_F, x)
    r = fma32(k, -_LN2_LO_F, r)
    q = fma32(_EQ4, r, _EQ3)
    q = fma32(q, r, _EQ2)
    q = fma32(q, r, _EQ1)
    q = fma32(q, r, _EQ0)
    p = _ONE + fma32(r * r, q, r)
    return scale_f32(p, np.int32(k))


@njit(**_JIT)
def exp_f32(x):
    """e**x for a float32 `x`, as float32."""
    return exp_core_f32(x)


@njit(**_JIT)
def sigmoid_f32(x):
    """1 / (1 + e**-x) for a float32 `x`, as float32."""
    # e**-|x| never overflows; for x < 0 the result is e**x / (1 + e**x), one division either way.
    e = exp_core_f32(-abs(x))
    return (_ONE if x >= _ZERO else e) / (_ONE + e)


_TANH_LIMIT = _F(10.0)  # tanh(10) rounds to 1; 2**k stays a normal number (k >= -29)
# Adding it rounds to an integer k in the low bits: bits << 23 are those of 2**k.
_ROUNDER_BIASED_F = _F(12582912.0 + 127.0)


@njit(**_JIT)
def tanh_f32(x):
    """tanh(x) for a float32 `x`, as float32."""
    # tanh|x| = -expm1(t) / (2 + expm1(t)) with t = -2|x|, and expm1(t) = 2**k (1 + u) - 1
    # rounded once from u: nothing cancels near 0, so one formula serves the whole range (no
    # second polynomial for small |x|).
    a = abs(x)
    a = _TANH_LIMIT if a > _TANH_LIMIT else a  # NaN stays NaN
    t = -_TWO * a
    biased = fma32(t, _LOG2E_F, _ROUNDER_BIASED_F)
    k = biased - _ROUNDER_BIASED_F
    # One reduction step: k * _LN2_LO_F is left out; where k != 0 the quotient damps it.
    r = fma32(k, -_LN2_HI_F, t)
    q = fma32(_EQ4, r, _EQ3)
    q = fma32(q, r, _EQ2)
    q = fma32(q, r, _EQ1)
    q = fma32(q, r, _EQ0)
    u = fma32(r * r, q, r)
    scale = bits_f32(np.uint32(f32_bits(biased) << np.uint32(23)))
    # 1 - scale is exact for k >= -24; the numerator is +0 for x = +-0 (the sign comes below).
    numerator = fma32(-scale, u, _ONE - scale)
    magnitude = numerator / (_TWO - numerator)
    return bits_f32(np.uint32(f32_bits(magnitude) | (f32_bits(x) & _SIGN)))


# ---------------------------------------------------------------- log in float32
_SQRT_HALF_BITS = np.int32(0x3F3504F3)  # float32(sqrt(1/2))
_MANTISSA_F = np.int32(0x007FFFFF)
_MIN_NORMAL_F = _F(1.1754943508222875e-38)
_TWO_25 = _F(33554432.0)
_LN2_HI_LOG = _F(0.693359375)  # 355/512: e * this is exact
_LN2_LO_LOG = _F(-2.12194440e-4)  # ln 2 - _LN2_HI_LOG
# log(1 + f) = f - f**2/2 + f**3 P(f) on [sqrt(1/2) - 1, sqrt(2) - 1], to 2**-30, lowest first.
_LP0 = _F(0.3333331346511841)
_LP1 = _F(-0.25000008940696716)
_LP2 = _F(0.2000211924314499)
_LP3 = _F(-0.1666799634695053)
_LP4 = _F(0.14219552278518677)
_LP5 = _F(-0.1240558922290802)
_LP6 = _F(0.11888162791728973)
_LP7 = _F(-0.11675651371479034)
_LP8 = _F(0.0674663856625557)


@njit(inline="always", **_JIT)
def split_f32(x):
    """(e, m) with x = 2**e * m, m in [sqrt(1/2), sqrt(2)), for a positive finite float32 `x`.

    Both are float32; a subnormal `x` is scaled by 2**25 first.
    """
    tiny = x < _MIN_NORMAL_F
    scaled = x * _TWO_25 if tiny else x
    # Offsetting the bits by those of sqrt(1/2) moves the exponent step to sqrt(1/2).
    offset = np.int32(np.int32(f32_bits(scaled)) - _SQRT_HALF_BITS)
    e = _F(np.int32(offset >> np.int32(23))) - (_F(25.0) if tiny else _ZERO)
    m = bits_f32(np.uint32((offset & _MANTISSA_F) + _SQRT_HALF_BITS))
    return e, m


@njit(**_JIT)
def log_f32(x):
    """The natural logarithm of a float32 `x`, as float32."""
    e, m = split_f32(x)
    f = m - _ONE
    z = f * f
    p = fma32(_LP8, f, _LP7)
    p = fma32(p, f, _LP6)
    p = fma32(p, f, _LP5)
    p = fma32(p, f, _LP4)
    p = fma32(p, f, _LP3)
    p = fma32(p, f, _LP2)
    p = fma32(p, f, _LP1)
    p = fma32(p, f, _LP0)
    tail = fma32(e, _LN2_LO_LOG, f * z * p)
    y = fma32(e, _LN2_HI_LOG, f + fma32(z, -_HALF, tail))
    # Zero, negative, infinite and NaN inputs went through the arithmetic above as garbage.
    y = y if x > _ZERO else (_F(-np.inf) if x == _ZERO else _F(np.nan))
    return y if x != _F(np.inf) else x


# ---------------------------------------------------------------- pow, float64 core
_LOG2E = 1.4426950408889634
_ROUNDER = 6755399441055744.0  # 1.5 * 2**52
_EXPONENT_LIMIT = 160.0  # 2**160 and 2**-160 are far outside float32
# 2**f on [-1/2, 1/2] to 2**-29 relative, lowest first.
_X0 = _F(1.0)
_X1 = _F(0.6931471824645996)
_X2 = _F(0.24022646248340607)
_X3 = _F(0.05550328642129898)
_X4 = _F(0.009618489071726799)
_X5 = _F(0.0013399930903688073)
_X6 = _F(0.00015345810970757157)


@njit(inline="always", **_JIT)
def log2_f64(ax):
    """log2 of a positive finite float32 `ax`, as float64 to 2**-39 relative."""
    e, m = split_f32(ax)
    f = np.float64(m) - 1.0
    # ln m = 2 atanh(s), s = f / (2 + f), |s| < 0.172: the series to s**13.
    s = f / (2.0 + f)
    z = s * s
    p = fma64(z, 1.0 / 13.0, 1.0 / 11.0)
    p = fma64(p, z, 1.0 / 9.0)
    p = fma64(p, z, 1.0 / 7.0)
    p = fma64(p, z, 1.0 / 5.0)
    p = fma64(p, z, 1.0 / 3.0)
    p = fma64(p, z, 1.0)
    return fma64(s * p, 2.0 * _LOG2E, np.float64(e))


@njit(inline="always", **_JIT)
def exp2_split_f32(t):
    """2**t for a float64 `t`, as float32 (NaN gives an unspecified number).

    k = round(t) and f = t - k are exact in float64; 2**f is a float32 polynomial.
    """
    t = min(max(t, -_EXPONENT_LIMIT), _EXPONENT_LIMIT)
    k = (t + _ROUNDER) - _ROUNDER
    f = np.float32(t - k)
    p = fma32(_X6, f, _X5)
    p = fma32(p, f, _X4)
    p = fma32(p, f, _X3)
    p = fma32(p, f, _X2)
    p = fma32(p, f, _X1)
    p = fma32(p, f, _X0)
    return scale_f32(p, np.int32(k))


@njit(inline="always", **_JIT)  # too big for LLVM's inliner, and a call stops vectorising
def pow_f32(x, y):
    """x**y for float32 `x` and `y`, as float32, with C's `pow` rules for the special values."""
    ax = abs(x)
    magnitude = exp2_split_f32(np.float64(y) * log2_f64(ax))
    # Zero and infinite bases went through log2 as garbage: 0**y and inf**(-y) are 0 for y > 0
    # and inf for y < 0. (y = 0 is decided below.)
    edge = (ax == _ZERO) | (ax == _F(np.inf))
    vanishes = (ax == _ZERO) == (y > _ZERO)
    magnitude = (_ZERO if vanishes else _F(np.inf)) if edge else magnitude
    integral = np.floor(y) == y
    half = y * _HALF
    odd = integral & (np.floor(half) != half)
    negative = odd & (np.int32(f32_bits(x)) < np.int32(0))
    signed = -magnitude if negative else magnitude
    # A negative finite base with a non-integral exponent has no real power; 1**y, x**0 and
    # (-1)**inf are 1 even for NaN.
    invalid = (x != x) | (y != y) | ((x < _ZERO) & (x > _F(-np.inf)) & ~integral)
    unit = (y == _ZERO) | (x == _ONE) | ((x == -_ONE) & (abs(y) == _F(np.inf)))
    out = _F(np.nan) if invalid else signed
    return _ONE if unit else out


# ---------------------------------------------------------------- erf
# erf(x) = x * P(x**2) / Q(x**2) on [-4, 4] (Eigen's and XLA's float32 coefficients, highest
# first); beyond 4, erf rounds to +-1 in float32.
_ERF_P = (
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
)
_ERF_Q = (
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
)


@njit(**_JIT)
def erf_f32(x):
    """The error function of a float32 `x`, as float32."""
    t = min(max(np.float64(x), -4.0), 4.0)
    z = t * t
    p = _ERF_P[0]
    p = p * z + _ERF_P[1]
    p = p * z + _ERF_P[2]
    p = p * z + _ERF_P[3]
    p = p * z + _ERF_P[4]
    p = p * z + _ERF_P[5]
    p = p * z + _ERF_P[6]
    q = _ERF_Q[0]
    q = q * z + _ERF_Q[1]
    q = q * z + _ERF_Q[2]
    q = q * z + _ERF_Q[3]
    q = q * z + _ERF_Q[4]
    # The rational overshoots 1 by a hair near 4; erf never does.
    y = np.float32(min(max(t * p / q, -1.0), 1.0))
    return y if x == x else x
