"""exp, sigmoid, tanh, log, pow and erf for float32 values, written so that LLVM can vectorise them.

Numba calls the C library for `np.exp`, `np.log` or `np.power` on a scalar, one element at a
time. These versions are arithmetic, bit casts and selects only (no calls), so a kernel's lane
loop stays a vector loop. They work in float64: 2**t is a degree-9 polynomial on [-1/2, 1/2]
(relative error below 1e-11) times an exact power of two, and the one rounding to float32 at the
end makes results agree with the float64 reference to within one ulp. log reduces its argument
to 2**e * m and sums the atanh series of m; pow is exp2(y * log2|x|), with C's special values
chosen by selects. erf is the rational approximation that Eigen and XLA use for float32,
evaluated in float64 (within 2 ulp of the exact value).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from hologram.backends._cpu_runtime import _bitcast, f64_bits

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

bits_f64 = intrinsic(_bitcast(types.uint64, types.float64, 64, False))
bits_f64.__doc__ = "The float64 whose IEEE bits are the given uint64."

_LOG2E = 1.4426950408889634
_ROUNDER = 6755399441055744.0  # 1.5 * 2**52: adding and subtracting it rounds half to even
_EXPONENT_LIMIT = 160.0  # 2**160 and 2**-160 are far outside float32, inside float64
# (ln 2)**k / k!, the Taylor coefficients of 2**f = exp(f ln 2), highest first.
_C9 = 1.0178086009239699e-07
_C8 = 1.3215486790144307e-06
_C7 = 1.5252733804059841e-05
_C6 = 1.5403530393381609e-04
_C5 = 1.3333558146428443e-03
_C4 = 9.6181291076284772e-03
_C3 = 5.5504108664821580e-02
_C2 = 2.4022650695910071e-01
_C1 = 6.9314718055994531e-01


@njit(**_JIT)
def exp2_f64(t):
    """2**t for float64 `t` clamped to [-160, 160] (NaN gives an unspecified number)."""
    t = min(max(t, -_EXPONENT_LIMIT), _EXPONENT_LIMIT)
    n = (t + _ROUNDER) - _ROUNDER
    f = t - n
    p = _C9
    p = p * f + _C8
    p = p * f + _C7
    p = p * f + _C6
    p = p * f + _C5
    p = p * f + _C4
    p = p * f + _C3
    p = p * f + _C2
    p = p * f + _C1
    p = p * f + 1.0
    scale = bits_f64(np.uint64(np.int64(n) + 1023) << np.uint64(52))
    return p * scale


@njit(**_JIT)
def exp_f32(x):
    """e**x for a float32 `x`, as float32."""
    y = np.float32(exp2_f64(np.float64(x) * _LOG2E))
    return y if x == x else x


@njit(**_JIT)
def sigmoid_f32(x):
    """1 / (1 + e**-x) for a float32 `x`, as float32."""
    y = np.float32(1.0 / (1.0 + exp2_f64(np.float64(x) * -_LOG2E)))
    return y if x == x else x


@njit(**_JIT)
def tanh_f32(x):
    """tanh(x) for a float32 `x`, as float32."""
    a = abs(np.float64(x))
    large = 1.0 - 2.0 / (exp2_f64(a * (2.0 * _LOG2E)) + 1.0)
    # Below 2**-12 the subtraction above cancels; a - a**3/3 is exact there to float32.
    small = a - a * a * a / 3.0
    magnitude = small if a < 2.44140625e-04 else large
    y = np.float32(math.copysign(magnitude, np.float64(x)))
    return y if x == x else x


_LN2 = 0.6931471805599453
_SQRT2 = 1.4142135623730951
_MANTISSA = np.uint64(0x000FFFFFFFFFFFFF)
_ONE_BITS = np.uint64(0x3FF0000000000000)


@njit(**_JIT)
def log_parts_f64(w):
    """(e, ln m) with w = 2**e * m and m in [sqrt(1/2), sqrt(2)), for a positive normal `w`.

    ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172: the series in s**2 to its
    s**16 term leaves a relative error below 1e-13.
    """
    bits = f64_bits(w)
    e = np.float64(np.int64(bits >> np.uint64(52)) - 1023)
    m = bits_f64((bits & _MANTISSA) | _ONE_BITS)
    high = m > _SQRT2
    m = m * 0.5 if high else m
    e = e + 1.0 if high else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    p = 1.0 / 17.0
    p = p * z + 1.0 / 15.0
    p = p * z + 1.0 / 13.0
    p = p * z + 1.0 / 11.0
    p = p * z + 1.0 / 9.0
    p = p * z + 1.0 / 7.0
    p = p * z + 1.0 / 5.0
    p = p * z + 1.0 / 3.0
    p = p * z + 1.0
    return e, 2.0 * s * p


@njit(**_JIT)
def log_f32(x):
    """The natural logarithm of a float32 `x`, as float32."""
    e, log_m = log_parts_f64(np.float64(x))
    y = np.float32(e * _LN2 + log_m)
    # Zero, negative, infinite and NaN inputs went through the arithmetic above as garbage.
    y = y if x > 0 else (np.float32(-np.inf) if x == 0 else np.float32(np.nan))
    return y if x != np.inf else x


@njit(inline="always", **_JIT)  # too big for LLVM's inliner, and a call stops vectorising
def pow_f32(x, y):
    """x**y for float32 `x` and `y`, as float32, with C's `pow` rules for the special values."""
    xd = np.float64(x)
    yd = np.float64(y)
    ax = abs(xd)
    e, log_m = log_parts_f64(ax)
    log2_ax = e + log_m * _LOG2E
    log2_ax = -np.inf if ax == 0.0 else log2_ax
    log2_ax = np.inf if ax == np.inf else log2_ax
    # 0 * inf (x = +-1 with infinite y, or y = 0) is NaN here; those cases are decided below.
    magnitude = exp2_f64(yd * log2_ax)
    integral = np.floor(yd) == yd
    half = yd * 0.5
    odd = integral & (np.floor(half) != half)
    negative = odd & (math.copysign(1.0, xd) < 0.0)
    signed = -magnitude if negative else magnitude
    infinite_y = abs(yd) == np.inf
    # A negative finite base with a non-integral exponent has no real power.
    invalid = (xd != xd) | (yd != yd) | ((xd < 0.0) & (xd > -np.inf) & (np.floor(yd) != yd))
    unit = (yd == 0.0) | (xd == 1.0) | ((xd == -1.0) & infinite_y)
    out = np.nan if invalid else signed
    return np.float32(1.0 if unit else out)


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
