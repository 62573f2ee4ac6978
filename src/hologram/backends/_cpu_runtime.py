"""Small Numba helpers that the cpu backend's generated kernels import.

Kept in one module so each helper is compiled once per process (and cached on disk), not once
per kernel. The generated source names these functions through `codegen.numba_source`, so a
rename here must be mirrored there. Everything compiles lazily on first use: importing this
module compiles nothing.

float16 and bfloat16 values live in float32 registers and in uint16 buffers; the converters
below move between the two with IEEE round-to-nearest-even, rounding once from float64 (as the
reference backend does) so that no conversion suffers double rounding.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


# ---------------------------------------------------------------- bit casts and fused multiply-add
def _bitcast(src: types.Type, dst: types.Type, width: int, to_int: bool):
    def typer(typingctx, value):  # noqa: ARG001 - the signature Numba expects
        if value != src:
            return None

        def codegen(context, builder, signature, args):
            target = ir.IntType(width) if to_int else context.get_value_type(dst)
            return builder.bitcast(args[0], target)

        return dst(src), codegen

    return typer


f32_bits = intrinsic(_bitcast(types.float32, types.uint32, 32, True))
f32_bits.__doc__ = "The IEEE bits of a float32 as a uint32."
bits_f32 = intrinsic(_bitcast(types.uint32, types.float32, 32, False))
bits_f32.__doc__ = "The float32 whose IEEE bits are the given uint32."
f64_bits = intrinsic(_bitcast(types.float64, types.uint64, 64, True))
f64_bits.__doc__ = "The IEEE bits of a float64 as a uint64."


def _fused(ftype: types.Float, name: str):
    def typer(typingctx, a, b, c):  # noqa: ARG001 - the signature Numba expects
        if not (a == b == c == ftype):
            return None

        def codegen(context, builder, signature, args):
            llty = context.get_value_type(ftype)
            fnty = ir.FunctionType(llty, [llty, llty, llty])
            fn = builder.module.declare_intrinsic(name, [llty], fnty)
            return builder.call(fn, args)

        return ftype(ftype, ftype, ftype), codegen

    return typer


fma32 = intrinsic(_fused(types.float32, "llvm.fma"))
fma32.__doc__ = "a * b + c for float32 with a single rounding."
fma64 = intrinsic(_fused(types.float64, "llvm.fma"))
fma64.__doc__ = "a * b + c for float64 with a single rounding."


# ---------------------------------------------------------------- atomics
@intrinsic
def compare_and_swap(typingctx, array, index, expected, desired):  # noqa: ARG001
    """Atomically: if `array[index]` has the bits of `expected`, store `desired` there.

    Returns (swapped, the value found). Values are compared as bits, so NaNs match themselves.
    `array` is a 1-D array of any numeric type; `expected` and `desired` are cast to it.
    """
    if not isinstance(array, types.Array) or array.ndim != 1:
        return None
    if not isinstance(array.dtype, (types.Integer, types.Float)):
        return None
    if not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, data, [args[1]], wraparound=False
        )
        element = context.get_data_type(array_type.dtype)
        bits = ir.IntType(context.get_abi_sizeof(element) * 8)
        old, new = (
            builder.bitcast(context.cast(builder, v, t, array_type.dtype), bits)
            for v, t in zip(args[2:], signature.args[2:], strict=True)
        )
        pair = builder.cmpxchg(
            builder.bitcast(pointer, bits.as_pointer()), old, new, "seq_cst", "seq_cst"
        )
        found = builder.bitcast(builder.extract_value(pair, 0), element)
        swapped = builder.extract_value(pair, 1)
        return context.make_tuple(builder, signature.return_type, [swapped, found])

    result = types.Tuple((types.boolean, array.dtype))
    return result(array, index, expected, desired), codegen


# ---------------------------------------------------------------- float16 and bfloat16
@njit(**_JIT)
def f16_to_f32(h):
    """The float32 value of float16 bits `h` (exact)."""
    bits = np.uint32(h)
    sign = (bits & np.uint32(0x8000)) << np.uint32(16)
    exp = (bits >> np.uint32(10)) & np.uint32(0x1F)
    man = bits & np.uint32(0x3FF)
    if exp == np.uint32(0x1F):
        return bits_f32(np.uint32(sign | np.uint32(0x7F800000) | (man << np.uint32(13))))
    if exp == np.uint32(0):
        # Subnormal (or zero): man * 2**-24, exact in float32.
        value = np.float32(man) * np.float32(5.960464477539063e-08)
        return -value if sign != np.uint32(0) else value
    return bits_f32(
        np.uint32(sign | ((exp + np.uint32(112)) << np.uint32(23)) | (man << np.uint32(13)))
    )


@njit(**_JIT)
def _f64_to_narrow(x, man_bits, bias):
    """The bits (sign at bit 15) of the float with `man_bits` fraction bits and exponent bias
    `bias` nearest to float64 `x`, rounding half to even once, subnormals included."""
    bits = f64_bits(np.float64(x))
    sign = np.uint64((bits >> np.uint64(48)) & np.uint64(0x8000))
    exp = np.int64((bits >> np.uint64(52)) & np.uint64(0x7FF))
    man = bits & np.uint64(0xFFFFFFFFFFFFF)
    infinity = np.uint64(((1 << (15 - man_bits)) - 1) << man_bits)
    if exp == 0x7FF:
        quiet = np.uint64(1 << (man_bits - 1)) if man != np.uint64(0) else np.uint64(0)
        return sign | infinity | quiet
    unbiased = exp - 1023
    if unbiased > bias:
        return sign | infinity
    if exp == 0:
        return sign  # float64 subnormals are far below the narrow types' range
    full = man | np.uint64(1 << 52)
    normal = unbiased >= 1 - bias
    # Normal results keep man_bits of the 52 fraction bits; subnormals shift further right.
    shift = 52 - man_bits if normal else 52 - man_bits + (1 - bias - unbiased)
    if shift >= 64:
        return sign
    ushift = np.uint64(shift)
    kept = full >> ushift
    rest = full & ((np.uint64(1) << ushift) - np.uint64(1))
    half = np.uint64(1) << np.uint64(shift - 1)
    if rest > half or (rest == half and (kept & np.uint64(1)) != np.uint64(0)):
        kept += np.uint64(1)
    if not normal:
        return sign | kept  # a carry into the exponent field gives the smallest normal
    # A carry out of the fraction bumps the exponent (up to infinity), as it should.
    biased = np.uint64(unbiased + bias) << np.uint64(man_bits)
    return sign | (biased + kept - np.uint64(1 << man_bits))


@njit(**_JIT)
def f64_to_f16(x):
    """The float16 bits nearest to `x` (one rounding, half to even), as a uint16."""
    return np.uint16(_f64_to_narrow(x, 10, 15))


@njit(**_JIT)
def bf16_to_f32(h):
    """The float32 value of bfloat16 bits `h` (exact)."""
    return bits_f32(np.uint32(np.uint32(h) << np.uint32(16)))


@njit(**_JIT)
def f64_to_bf16(x):
    """The bfloat16 bits nearest to `x` (one rounding, half to even), as a uint16."""
    return np.uint16(_f64_to_narrow(x, 7, 127))


@njit(**_JIT)
def round_f16(x):
    """`x` rounded to the nearest float16, as a float32."""
    return f16_to_f32(f64_to_f16(np.float64(x)))


@njit(**_JIT)
def round_bf16(x):
    """`x` rounded to the nearest bfloat16, as a float32."""
    return bf16_to_f32(f64_to_bf16(np.float64(x)))


@njit(**_JIT)
def int_to_f64(x):
    """A 64-bit integer as a float64 that rounds into any type of <= 51 bits exactly as `x`.

    Below 2**53 the value is exact; above, the bits under bit 12 fold into one sticky bit.
    """
    negative = x < 0
    magnitude = np.uint64(x)
    if negative:
        magnitude = np.uint64(0) - magnitude
    if magnitude >= np.uint64(1 << 53):
        low = magnitude & np.uint64(0xFFF)
        magnitude = (magnitude & ~np.uint64(0xFFF)) | (
            np.uint64(0x800) if low != np.uint64(0) else np.uint64(0)
        )
    value = np.float64(magnitude)
    return -value if negative else value


# ---------------------------------------------------------------- integer division and conversion
@njit(**_JIT)
def sdiv(a, b):
    """int64 division truncating toward zero; division by zero gives 0."""
    if b == 0:
        return np.int64(0)
    if b == -1:
        return np.int64(-a)  # wraps for the most negative value instead of trapping
    quotient = a // b
    if quotient * b != a and (a < 0) != (b < 0):
        quotient += 1
    return quotient


@njit(**_JIT)
def smod(a, b):
    """int64 remainder with the sign of the dividend (C's %); modulo zero gives 0."""
    if b == 0 or b == -1:
        return np.int64(0)
    remainder = a % b
    if remainder != 0 and (remainder < 0) != (a < 0):
        remainder -= b
    return remainder


@njit(**_JIT)
def udiv(a, b):
    """uint64 division; division by zero gives 0."""
    if b == np.uint64(0):
        return np.uint64(0)
    return a // b


@njit(**_JIT)
def umod(a, b):
    """uint64 remainder; modulo zero gives 0."""
    if b == np.uint64(0):
        return np.uint64(0)
    return a % b


@njit(**_JIT)
def float_to_signed(x, low, high):
    """float64 `x` truncated toward zero and saturated to [low, high]; NaN gives 0."""
    if x != x:
        return np.int64(0)
    if x >= np.float64(high):
        return np.int64(high)
    if x <= np.float64(low):
        return np.int64(low)
    return np.int64(x)


@njit(**_JIT)
def float_to_unsigned(x, high):
    """float64 `x` truncated toward zero and saturated to [0, high]; NaN gives 0."""
    if x != x or x <= 0.0:
        return np.uint64(0)
    if x >= np.float64(high):
        return np.uint64(high)
    return np.uint64(x)
