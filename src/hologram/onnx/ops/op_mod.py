"""Mod: the remainder of `a / b` with broadcasting.

`fmod=0` (the default) floors the quotient, so the remainder has the divisor's sign (Python's
`%`, NumPy's `mod`); `fmod=1` truncates it, so the remainder has the dividend's sign (C's
`fmod`). Integers by zero give 0; floats by zero give NaN.
"""

import hologram as hg
from hologram.kernels.vector.vector_div import truncating_div
from hologram.onnx.ops._elementwise import elementwise, numbers_only


@hg.func
def onnx_floored_mod(a, b):
    """`a - floor(a / b) * b`; a zero remainder of floats takes the divisor's sign."""
    r = a % b
    if a.dtype(0.5) != 0 and r == 0:
        zero = a.dtype(0)
        return -zero if b < 0 else zero
    return r


@hg.func
def onnx_truncated_mod(a, b):
    """`a - trunc(a / b) * b`, the sign of the dividend (0 for an integer zero divisor)."""
    # The dtype tests fold when compiling, so that only one branch is kept.
    if a.dtype(0.5) != 0:
        magnitude = hg.abs(a) % hg.abs(b)
        return -magnitude if a < 0 else magnitude
    elif a.dtype(-1) > 0:
        return a % b
    else:
        return a.dtype(0) if b == 0 else a - truncating_div(a, b) * b


@hg.func
def onnx_mod(a, b, fmod):
    """The remainder of a / b: truncated when `fmod` is non-zero, else floored."""
    if fmod != 0:
        return onnx_truncated_mod(a, b)
    return onnx_floored_mod(a, b)


elementwise(
    "Mod", onnx_mod, since=10, check=numbers_only, scalars=lambda ctx: [ctx.attr("fmod", 0)]
)
