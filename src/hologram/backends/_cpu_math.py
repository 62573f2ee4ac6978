"""exp, sigmoid, tanh, log, pow and erf for float32 values, written so that LLVM can vectorise them.

Numba calls the C library for `np.exp`, `np.log` or `np.power` on a scalar, one element at a
time. These versions are arithmetic, bit casts and selects only (no calls, no branches), so a
kernel's lane loop stays a vector loop: 16 float32 lanes to a register where the host has
AVX-512. Numba contracts nothing into fused multiply-adds by itself, hence the explicit `fma32`.

exp, sigmoid, tanh and log work in float32 lanes, in the manner of Cephes and SLEEF: Cody-Waite
range reduction, then a polynomial fitted once for least maximum relative error (iterated
reweighted least squares), then an exact scaling by powers of two. tanh is expm1(-2|x|) over
2 plus itself, from exp's polynomial: one formula and one division over the whole range. pow
needs t = y * log2|x| to about 2**-31 relative, more than float32 holds, so log2|x| and t are
float32 double words (hi + lo, with FMA error terms): the atanh series of the mantissa
reduced against 1 or sqrt(2), no table (a gather of a table lane by lane costs more than the
whole series); 2**(t - round(t)) is a float32 polynomial again. That is the portable pow; on
hosts with AVX-512, `pow_f32` is `_cpu_vector_pow`'s instead (the same double words, with a
table in registers: twice as fast). erf is float32 too: an odd
series x + x P(x**2) up to 0.92, then 1 - e**(t Q(t)) with t = |x| (log erfc fitted as a
polynomial, exp as above); a rational in float32 (Eigen's and XLA's) errs by up to 5 ulp.

Largest errors, in float32 ulps between the result and the float64 value rounded to float32,
over every 7th float32 bit pattern (tests/backends/test_cpu_math.py sweeps every 1021st):
exp 1, log 1, tanh 2, sigmoid 2; erf 1 over every float32 in [-4.5, 4.5] (beyond, it is +-1);
pow 1 over 12 million sampled pairs, with t up to +-160.
NumPy documents its own float32 SIMD exp and log at 2.52 and 3.83 ulp (the comments of
numpy/_core/src/umath/loops_exponent_log.dispatch.c.src). Special values are exact: infinities,
NaN, signed zeros, subnormal inputs and results, the overflow and underflow thresholds, log of
a negative (NaN) and of zero (-inf), and C's rules for pow.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from hologram.backends import _cpu_vector_pow
from hologram.backends._cpu_runtime import bits_f32, f32_bits, fma32

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


@intrinsic
def ldexp_f32(typingctx, x, n):  # noqa: ARG001 - the signature Numba expects
    """x * 2**n for a float32 `x` and an int32 `n`, rounded once (LLVM's `ldexp`)."""
    if x != types.float32 or n != types.int32:
        return None

    def codegen(context, builder, signature, args):
        f32, i32 = ir.FloatType(), ir.IntType(32)
        fnty = ir.FunctionType(f32, [f32, i32])
        return builder.call(builder.module.declare_intrinsic("llvm.ldexp", [f32, i32], fnty), args)

    return types.float32(types.float32, types.int32), codegen


def _vector_ldexp() -> bool:
    """Whether the code Numba makes for this host turns a lane loop's `ldexp` into one vector
    instruction (AVX-512's vscalefps); elsewhere LLVM calls the C library once per lane."""
    from llvmlite import binding
    from numba.core import config

    if config.CPU_NAME not in (None, "host"):  # a named target: code for other machines
        return False
    return bool(binding.get_host_cpu_features().get("avx512f", False))


_VECTOR_LDEXP = _vector_ldexp()


@njit(inline="always", **_JIT)
def scale_f32(p, n):
    """p * 2**n for a float32 `p` in [1/2, 2] and an int32 `n` in [-252, 254].

    Two exact powers of two, so that a subnormal result is rounded once, in the last product.
    """
    if _VECTOR_LDEXP:
        return ldexp_f32(p, n)
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


# ---------------------------------------------------------------- pow in float32 double words
def _double_word(value: float) -> tuple[np.float32, np.float32]:
    """`value` as float32 hi + lo, to about 2**-48 relative."""
    hi = np.float32(value)
    return hi, np.float32(value - float(hi))


_LOG2_SCALE = 2.0 / np.log(2.0)  # log2 m = _LOG2_SCALE * atanh(s)
_K_HI, _K_LO = _double_word(_LOG2_SCALE)
# _LOG2_SCALE (atanh(s) / s - 1) / s**2 = Q(s**2) on |s| <= 0.0866, fitted so that the odd
# terms s**3 Q(s**2) err by at most 2**-34 relative to log2 m; lowest first.
_KQ0 = _F(0.9617967009544373)
_KQ1 = _F(0.5770577192306519)
_KQ2 = _F(0.41685712337493896)
_FOURTH_ROOT_HALF_BITS = np.int32(0x3F5744FD)  # float32(2**-0.25)
_FOURTH_ROOT_TWO = _F(2.0**0.25)
_ROOT_TWO = _F(np.sqrt(2.0))
_ROOT_TWO_LOG2_LO = _F(np.log2(np.float64(_ROOT_TWO)) - 0.5)  # log2 _ROOT_TWO - 1/2
_TWO_23 = _F(8388608.0)
_INF = _F(np.inf)
_EXPONENT_LIMIT = _F(160.0)  # 2**160 and 2**-160 are far outside float32
# 2**f on [-1/2, 1/2] to 2**-29 relative, lowest first.
_X0 = _F(1.0)
_X1 = _F(0.6931471824645996)
_X2 = _F(0.24022646248340607)
_X3 = _F(0.05550328642129898)
_X4 = _F(0.009618489071726799)
_X5 = _F(0.0013399930903688073)
_X6 = _F(0.00015345810970757157)


@njit(inline="always", **_JIT)
def log2_dw_f32(ax):
    """log2 of a float32 `ax` >= 0 as float32 (hi, lo), hi + lo to about 2**-31 relative.

    log2 0 is -inf, log2 inf is inf and NaN stays NaN (in hi; lo is then meaningless).
    """
    tiny = ax < _MIN_NORMAL_F
    scaled = ax * _TWO_23 if tiny else ax
    # ax = 2**e * m with m in [2**-0.25, 2**0.75), then m = c * (1 + s) / (1 - s) with c = 1
    # or sqrt(2), so |s| <= 0.0866 and log2 m = log2 c + _LOG2_SCALE * atanh(s). Two halves
    # picked by a compare need no table: gathers cost more than the longer series.
    offset = np.int32(np.int32(f32_bits(scaled)) - _FOURTH_ROOT_HALF_BITS)
    e = _F(np.int32(offset >> np.int32(23))) - (_F(23.0) if tiny else _ZERO)
    m = bits_f32(np.uint32((offset & _MANTISSA_F) + _FOURTH_ROOT_HALF_BITS))
    upper = m >= _FOURTH_ROOT_TWO
    c = _ROOT_TWO if upper else _ONE
    f = m - c  # exact: m / c is within [1/2, 2]
    d = m + c
    d_lo = (c - d) + m
    reciprocal = _ONE / d
    s = f * reciprocal
    s_lo = (fma32(-s, d, f) - s * d_lo) * reciprocal  # s + s_lo = f / (d + d_lo)
    z = s * s
    q = fma32(fma32(_KQ2, z, _KQ1), z, _KQ0)
    p = s * _K_HI
    s_lo_k = s_lo * _K_HI
    # The s**3 term is at most 2**-8.6 of p: float32 suffices, with s_lo carried through
    # its derivative (3 s**2 s_lo _LOG2_SCALE / 3).
    odd_terms = fma32(z, s_lo_k, s * z * q)
    p_lo = fma32(s, _K_HI, -p) + fma32(s, _K_LO, s_lo_k) + odd_terms
    ec = e + (_HALF if upper else _ZERO)  # exact
    hi = ec + p  # |ec| >= |p| unless ec = 0: Fast2Sum
    lo = ((ec - hi) + p) + (p_lo + (_ROOT_TWO_LOG2_LO if upper else _ZERO))
    hi = hi + ax * _ZERO  # NaN in, NaN out
    hi = -_INF if ax == _ZERO else hi
    return (_INF if ax == _INF else hi), lo


@njit(inline="always", **_JIT)
def pow_scalar_f32(x, y):
    """x**y for float32 `x` and `y`, as float32, with C's `pow` rules for the special values."""
    ax = abs(x)
    l_hi, l_lo = log2_dw_f32(ax)
    # t = y * log2|x| as a double word: its error is what the result's relative error is.
    t_hi = y * l_hi
    t_lo = fma32(y, l_hi, -t_hi) + y * l_lo
    # y = 0 and |x| = 1 give 2**0 = 1 whatever the other operand is, infinities and NaN too
    # (x = -1 with a NaN or non-integral y is made NaN below).
    unit = (y == _ZERO) | (l_hi == _ZERO)
    t_hi = _ZERO if unit else t_hi
    t_lo = t_lo if (abs(t_hi) < _EXPONENT_LIMIT) & ~unit else _ZERO
    # Beyond the limit the result is 0 or inf: so are 0**y and inf**y (log2 is -inf or inf).
    # A NaN operand left t_hi NaN; it is clamped too, so that k converts, and restored below.
    t = t_hi if t_hi > -_EXPONENT_LIMIT else -_EXPONENT_LIMIT
    t = t if t < _EXPONENT_LIMIT else _EXPONENT_LIMIT
    k = np.rint(t + t_lo)
    f = (t - k) + t_lo
    p = fma32(_X6, f, _X5)
    p = fma32(p, f, _X4)
    p = fma32(p, f, _X3)
    p = fma32(p, f, _X2)
    p = fma32(p, f, _X1)
    p = fma32(p, f, _X0)
    magnitude = scale_f32(p, np.int32(k))
    integral = np.floor(y) == y
    half = y * _HALF
    odd = integral & (np.floor(half) != half)
    negative = odd & (np.int32(f32_bits(x)) < np.int32(0))
    signed = -magnitude if negative else magnitude
    # A negative finite base with a non-integral exponent has no real power.
    invalid = (t_hi != t_hi) | ((x < _ZERO) & (x > -_INF) & ~integral)
    return _F(np.nan) if invalid else signed


# The AVX-512 version where the host has it: 16 lanes per call from a vectorised lane loop.
pow_f32 = _cpu_vector_pow.pow_f32x16 if _cpu_vector_pow.available() else pow_scalar_f32


# ---------------------------------------------------------------- erf in float32
_ERF_SEAM = _F(0.921875)  # 59/64: below, the odd series; above, 1 - erfc
_ERF_ONE = _F(3.919206)  # the least float32 whose erf rounds to 1 (erfc < 2**-25)
_ERF_LIMIT = _F(4.0)  # where e**(t Q(t)) < 2**-25 surely: 1 - it rounds to 1
# erf(x) = x + x P(x**2) on |x| <= _ERF_SEAM, to 2**-26 relative; lowest first.
_RP0 = _F(0.12837915122509003)
_RP1 = _F(-0.37612494826316833)
_RP2 = _F(0.1128181666135788)
_RP3 = _F(-0.026766646653413773)
_RP4 = _F(0.004993224050849676)
_RP5 = _F(-0.0005991075304336846)
# log(erfc t) = t Q(t) on [_ERF_SEAM, 4], its error weighted by erfc(t) / erf(t) (what it
# costs erf) to 2**-28; lowest first.
_RQ0 = _F(-1.1285138130187988)
_RQ1 = _F(-0.6357203722000122)
_RQ2 = _F(-0.10525917261838913)
_RQ3 = _F(0.02288825809955597)
_RQ4 = _F(-0.0032144251745194197)
_RQ5 = _F(0.00021392079361248761)


@njit(**_JIT)
def erf_f32(x):
    """The error function of a float32 `x`, as float32."""
    # Both halves are computed for every lane (a select, no branch). Near 0 the series keeps
    # erf's relative accuracy (x + x P: the first term exact); farther out erfc is small, so
    # exp's relative error weighs little against 1.
    z = x * x
    p = fma32(_RP5, z, _RP4)
    p = fma32(p, z, _RP3)
    p = fma32(p, z, _RP2)
    p = fma32(p, z, _RP1)
    p = fma32(p, z, _RP0)
    series = fma32(x, p, x)  # +-0 stays +-0, NaN NaN
    t = abs(x)
    # Saturation is exact: from _ERF_ONE on (infinities too), t moves on to where 1 - e**(t Q)
    # surely rounds to 1 (near _ERF_ONE, e**(t Q) may err to either side of 2**-25).
    t = _ERF_LIMIT if t >= _ERF_ONE else t
    q = fma32(_RQ5, t, _RQ4)
    q = fma32(q, t, _RQ3)
    q = fma32(q, t, _RQ2)
    q = fma32(q, t, _RQ1)
    q = fma32(q, t, _RQ0)
    tail = _ONE - exp_core_f32(t * q)
    tail = bits_f32(np.uint32(f32_bits(tail) | (f32_bits(x) & _SIGN)))
    return tail if t > _ERF_SEAM else series
