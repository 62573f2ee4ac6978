"""BitCast (opset 26): each element's bits read as another type of the same width.

The kernel language has no bit casts between floats and integers, so a float's bits are
computed from its value (sign, exponent by logarithm and exact comparison, then the
mantissa as an exact quotient by a power of two) and a float is rebuilt from its fields by
multiplying exact powers of two (`POWERS`: 2**-1074 to 2**1023). Every NaN reads as the quiet
NaN of its type: payloads and NaN signs are not kept.
"""

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.isa.dtypes import DType
from hologram.onnx.registry import onnx_op

BLOCK = 256
LOWEST_POWER = -1074
INV_LN2 = 1.4426950408889634
INF = float("inf")
NAN = float("nan")
FLOAT_FIELDS = {DType.F16: (10, 5), DType.BF16: (7, 8), DType.F32: (23, 8), DType.F64: (52, 11)}
"""Mantissa and exponent bits of each float type."""


@hg.func
def onnx_bitcast_power(powers, k):
    """2.0 ** k for LOWEST_POWER <= k <= 1023."""
    return powers[k - LOWEST_POWER]


@hg.func
def onnx_float_bits(value, mantissa, exponent, powers):
    """The bits (uint64) of float `value` in the format with `mantissa` and `exponent` bits."""
    x = hg.float64(value)
    a = abs(x)
    bias = (1 << (exponent - 1)) - 1
    top = (1 << exponent) - 1
    tiny = onnx_bitcast_power(powers, 1 - bias)
    normal = (a >= tiny) & (a <= 1.7976931348623157e308)
    e = hg.int32(hg.floor(hg.log(hg.select(normal, a, 1.0)) * INV_LN2))
    e = min(max(e, 1 - bias), bias)
    e = hg.select(onnx_bitcast_power(powers, e) > a, e - 1, e)
    e = hg.select((e < bias) & (onnx_bitcast_power(powers, min(e + 1, bias)) <= a), e + 1, e)
    scaled = a / onnx_bitcast_power(powers, hg.select(normal, e, 1 - bias) - mantissa)
    field = hg.uint64(hg.select(normal, e + bias, 0))
    digits = hg.uint64(scaled) & ((hg.uint64(1) << mantissa) - 1)
    infinite = a > 1.7976931348623157e308
    field = hg.select(infinite | (x != x), hg.uint64(top), field)
    digits = hg.select(infinite, hg.uint64(0), digits)
    digits = hg.select(x != x, hg.uint64(1) << (mantissa - 1), digits)
    negative = (x < 0.0) | ((x == 0.0) & (1.0 / x < 0.0))
    sign = hg.select(negative, hg.uint64(1), hg.uint64(0))
    return (sign << (mantissa + exponent)) | (field << mantissa) | digits


@hg.func
def onnx_bits_float(bits, mantissa, exponent, powers):
    """The float64 value of `bits` in the format with `mantissa` and `exponent` bits."""
    bias = (1 << (exponent - 1)) - 1
    top = (1 << exponent) - 1
    field = hg.int32((bits >> mantissa) & hg.uint64(top))
    digits = bits & ((hg.uint64(1) << mantissa) - 1)
    whole = hg.select(field > 0, digits + (hg.uint64(1) << mantissa), digits)
    scale = onnx_bitcast_power(powers, max(field, 1) - bias - mantissa)
    value = hg.float64(whole) * scale
    value = hg.select(field == top, hg.select(digits == 0, INF, NAN), value)
    negative = ((bits >> (mantissa + exponent)) & hg.uint64(1)) != 0
    return hg.select(negative, -value, value)


@hg.kernel
def onnx_bitcast(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    powers: hg.Array[hg.float64],
    mask: hg.uint64,
    source_mantissa: hg.Const[int],
    source_exponent: hg.Const[int],
    target_mantissa: hg.Const[int],
    target_exponent: hg.Const[int],
):
    """out[i] has x[i]'s bits (a mantissa of 0 marks an integer or bool type)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        if source_mantissa == 0:
            bits = hg.uint64(x[i]) & mask
        else:
            bits = onnx_float_bits(x[i], source_mantissa, source_exponent, powers)
        if target_mantissa == 0:
            out[i] = bits
        else:
            out[i] = onnx_bits_float(bits, target_mantissa, target_exponent, powers)


@onnx_op("BitCast", since=26)
def bit_cast(ctx: OpContext) -> None:
    """Output 0 is input 0's bits as type `to` (of the same width)."""
    x = ctx.input(0)
    elem = ctx.attr("to")
    if types.STRING in (x.elem, elem) or types.is_byte_coded(elem):
        raise ctx.unsupported(f"bit casts to {types.elem_name(elem)} are not supported")
    source, target = x.dtype, types.storage_dtype(elem)
    if types.is_byte_coded(x.elem) or source.itemsize != target.itemsize:
        raise ctx.error(f"cannot reinterpret {types.elem_name(x.elem)} as "
                        f"{types.elem_name(elem)}: the widths differ")  # fmt: skip
    if x.elem == elem:
        ctx.set_output(0, x)
        return
    out = ctx.output(0, x.shape, elem)
    if out.size == 0:
        return
    powers = ctx.constant(np.ldexp(1.0, np.arange(LOWEST_POWER, 1024)), types.DOUBLE)
    mask = (1 << (8 * source.itemsize)) - 1
    fields = [*FLOAT_FIELDS.get(source, (0, 0)), *FLOAT_FIELDS.get(target, (0, 0))]
    args = [x, out, out.size, powers, mask, *fields]
    ctx.launch(onnx_bitcast, hg.blocks(out.size, BLOCK), BLOCK, args)
