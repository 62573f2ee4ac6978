"""exp, sigmoid and tanh for float32 values, written so that LLVM can vectorise them.

Numba calls the C library for `np.exp` on a scalar, one element at a time. These versions are
arithmetic and bit casts only (no branches, no calls), so a kernel's lane loop stays a vector
loop. They work in float64: 2**t is a degree-9 polynomial on [-1/2, 1/2] (relative error below
1e-11) times an exact power of two, and the one rounding to float32 at the end makes results
agree with the float64 reference to within one ulp.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from hologram.backends._cpu_runtime import _bitcast

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
