"""Math functions the kernel language has no builtin for, as `@hg.func`s of one value.

Each is built from the builtins (`exp`, `log`, `sqrt`, `sin`, `cos`) with care for the
arguments where the textbook formula loses precision: `expm1` and `log1p` recover the digits
that `exp(x) - 1` and `log(1 + x)` cancel (Kahan's and Goldberg's tricks), so the hyperbolic
functions stay accurate near zero; inverse trigonometric functions reduce to `atan`, a
polynomial refined by Newton's method in float64. They run in float32 or float64 (float16 and
bfloat16 compute in float32) and are accurate to a few units in the last place of either.
"""

import math

import hologram as hg

INF = math.inf
HALF_PI = math.pi / 2
QUARTER_PI = math.pi / 4
LN2 = math.log(2.0)
TAN_3PI_8 = 2.414213562373095
TAN_PI_8 = 0.4142135623730950
LARGE = 2.0**28
"""Above this, `sqrt(x * x + 1)` is `x` to working precision (for float64 too)."""


@hg.func
def onnx_is_float64(x):
    """True when `x` is float64 (decided when the kernel is compiled)."""
    return x.dtype(1.0 + 1e-10) != 1


@hg.func
def onnx_expm1(x):
    """`exp(x) - 1`, accurate near 0: Kahan's `(u - 1) * x / log(u)` with `u = exp(x)`."""
    u = hg.exp(x)
    d = u - 1
    if u == 1:
        return x
    if d == -1 or u == INF:
        return d
    return d * (x / hg.log(u))


@hg.func
def onnx_log1p(x):
    """`log(1 + x)`, accurate near 0: Goldberg's `log(u) * x / (u - 1)` with `u = 1 + x`."""
    u = x + 1
    d = u - 1
    if d == 0:
        return x
    if u == INF:
        return u
    return hg.log(u) * (x / d)


@hg.func
def onnx_with_sign_of(magnitude, x):
    """`magnitude` negated where `x` is negative."""
    return -magnitude if x < 0 else magnitude


@hg.func
def onnx_tan(x):
    """tan(x) as sin(x) / cos(x)."""
    return hg.sin(x) / hg.cos(x)


@hg.func
def onnx_atan_guess(t):
    """atan(t) for 0 <= t <= 1 to about float32 precision: the interval is reduced to
    |u| <= tan(pi/8) and an odd polynomial of degree 9 (Cephes' `atanf`) takes over."""
    base = t.dtype(0)
    u = t
    if t > TAN_PI_8:
        base = t.dtype(QUARTER_PI)
        u = (t - 1) / (t + 1)
    z = u * u
    poly = ((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z
    return base + ((poly - 3.33329491539e-1) * z * u + u)


@hg.func
def onnx_atan(x):
    """atan(x): odd, and `pi/2 - atan(1/|x|)` above 1; float64 refines the float32-exact
    guess with two Newton steps on `tan(y) = t` (each doubles the correct digits)."""
    a = hg.abs(x)
    invert = a > 1
    t = 1 / a if invert else a
    y = onnx_atan_guess(t)
    if onnx_is_float64(x):
        # Newton on sin(y) - t * cos(y) = 0, scaled by cos(y): y -= (tan(y) - t) * cos(y)**2.
        for _ in range(2):
            c = hg.cos(y)
            y = y - (hg.sin(y) - t * c) * c
    if invert:
        y = x.dtype(HALF_PI) - y
    return onnx_with_sign_of(y, x)


@hg.func
def onnx_asin(x):
    """asin(x) = atan(x / sqrt(1 - x^2)), with 1 - x^2 as (1 - x)(1 + x) (exact near 1)."""
    return onnx_atan(x / hg.sqrt((1 - x) * (1 + x)))


@hg.func
def onnx_acos(x):
    """acos(x) = 2 atan(sqrt((1 - x) / (1 + x))), accurate at both ends of [-1, 1]."""
    return onnx_atan(hg.sqrt((1 - x) / (1 + x))) * 2


@hg.func
def onnx_sinh(x):
    """sinh(x): through expm1 below 1 (no cancellation), else exp(|x|/2) squared (no early
    overflow where sinh itself is still finite)."""
    a = hg.abs(x)
    if a < 1:
        e = onnx_expm1(a)
        s = (e + e / (e + 1)) * 0.5
    else:
        h = hg.exp(a * 0.5)
        s = h * 0.5 * h - 0.5 / (h * h)
    return onnx_with_sign_of(s, x)


@hg.func
def onnx_cosh(x):
    """cosh(x) from exp(|x|/2) squared (finite wherever cosh is)."""
    h = hg.exp(hg.abs(x) * 0.5)
    return h * 0.5 * h + 0.5 / (h * h)


@hg.func
def onnx_asinh(x):
    """asinh(x) = log1p(|x| + x^2 / (1 + sqrt(1 + x^2))), odd; log(2|x|) for huge |x|."""
    a = hg.abs(x)
    huge = hg.log(a) + a.dtype(LN2)
    moderate = onnx_log1p(a + a * a / (1 + hg.sqrt(a * a + 1)))
    return onnx_with_sign_of(huge if a > LARGE else moderate, x)


@hg.func
def onnx_acosh(x):
    """acosh(x) = log1p(t + sqrt(t (t + 2))) with t = x - 1 (exact near 1); log(2x) for huge x.
    The square root is taken of each factor, so that every x below 1 gives NaN."""
    if x > LARGE:
        return hg.log(x) + x.dtype(LN2)
    t = x - 1
    return onnx_log1p(t + hg.sqrt(t) * hg.sqrt(t + 2))


@hg.func
def onnx_atanh(x):
    """atanh(x) = log1p(2|x| / (1 - |x|)) / 2, odd; infinite at +-1, NaN beyond."""
    a = hg.abs(x)
    return onnx_with_sign_of(onnx_log1p(a * 2 / (1 - a)) * 0.5, x)


@hg.func
def onnx_softplus(x):
    """log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): no overflow for large x."""
    return max(x, 0) + onnx_log1p(hg.exp(-hg.abs(x)))
