"""Pow: `a ** b` with broadcasting; the result has the base's type.

A float base computes in its own precision (float64 when the exponent is float64); an integer
base with a float exponent computes in float64 and truncates at the store, as NumPy's
`power(a, b).astype(a.dtype)`; integers raised to integers multiply exactly (wrapping).
"""

import hologram as hg
from hologram.compiler import types
from hologram.isa.dtypes import DType
from hologram.onnx.ops._elementwise import FLOATS, elementwise, numbers_only, widened


@hg.func
def onnx_integer_power(a, b):
    """`a ** b` for integers by repeated squaring; a negative exponent gives the truncated
    quotient: 0, except for the bases 1 and -1."""
    result = a.dtype(1)
    e = b
    if b < 0:
        if a != 1 and a != -1:
            return a.dtype(0)
        e = -b
    base = a
    while e > 0:
        if e % 2 == 1:
            result = result * base
        base = base * base
        e = e // 2
    return result


@hg.func
def onnx_pow(a, b):
    """a ** b, as floats or as integers (the compute dtype decides, when compiling)."""
    if a.dtype(0.5) != 0:
        return a**b
    else:
        return onnx_integer_power(a, b)


def pow_compute(elems: list[int], out: int) -> DType:
    """The dtype Pow computes in (see the module docstring)."""
    base, exponent = elems[0], elems[1]
    if base in FLOATS:
        return DType.F64 if exponent == types.DOUBLE else widened(types.storage_dtype(base))
    return DType.F64 if exponent in FLOATS else DType.I64


elementwise("Pow", onnx_pow, since=7, compute=pow_compute, check=numbers_only)
