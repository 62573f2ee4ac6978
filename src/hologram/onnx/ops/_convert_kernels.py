"""Element conversions shared by Cast, CastLike and the quantization ops.

Tensors of float8, float4 and 2/4-bit integer types are stored one element per byte, as their
raw bits (`compiler.types`); every element type is named by a `Const` "coding" (`coding_of`):
`NATIVE` for the types registers hold, one number per byte-coded type.

The kernel language has no bit casts between floats and integers, so a byte-coded float type
is described to the kernels by its value table (`value_table`: the value of each code, from
the type's definition): decoding is a lookup, and encoding searches the ascending table of
the non-negative codes for the nearest value (ties to the even code). The 2- and 4-bit
integers keep their low bits.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from onnx import TensorProto

NATIVE = 0
E4M3FN = 1
E4M3FNUZ = 2
E5M2 = 3
E5M2FNUZ = 4
E2M1 = 5
E8M0 = 6
INT4 = 7
UINT4 = 8
INT2 = 9
UINT2 = 10

_CODINGS = {
    TensorProto.FLOAT8E4M3FN: E4M3FN,
    TensorProto.FLOAT8E4M3FNUZ: E4M3FNUZ,
    TensorProto.FLOAT8E5M2: E5M2,
    TensorProto.FLOAT8E5M2FNUZ: E5M2FNUZ,
    getattr(TensorProto, "FLOAT4E2M1", -1): E2M1,
    getattr(TensorProto, "FLOAT8E8M0", -2): E8M0,
    TensorProto.INT4: INT4,
    TensorProto.UINT4: UINT4,
    getattr(TensorProto, "INT2", -3): INT2,
    getattr(TensorProto, "UINT2", -4): UINT2,
}

ROUND_UP = 0
ROUND_NEAREST = 1
ROUND_DOWN = 2
ROUND_MODES = {"up": ROUND_UP, "nearest": ROUND_NEAREST, "down": ROUND_DOWN}
"""FLOAT8E8M0's rounding modes (Cast's `round_mode`)."""

BLOCK = 256
TWO_TO_126 = 2.0**126


def coding_of(elem: int) -> int:
    """The coding of element type `elem` (`NATIVE` for the types registers hold)."""
    coding = _CODINGS.get(elem)
    if coding is not None:
        return coding
    types.storage_dtype(elem)  # raises for types without storage (strings)
    return NATIVE


def is_float_coding(coding: int) -> bool:
    """True for the byte-coded floating-point types."""
    return E4M3FN <= coding <= E8M0


def is_fnuz(coding: int) -> bool:
    """True for the float8 types without infinities or negative zero (NaN is 0x80)."""
    return coding in (E4M3FNUZ, E5M2FNUZ)


# mantissa bits, exponent bias, bits per code
_FLOAT_FORMATS = {
    E4M3FN: (3, 7, 8),
    E4M3FNUZ: (3, 8, 8),
    E5M2: (2, 15, 8),
    E5M2FNUZ: (2, 16, 8),
    E2M1: (1, 1, 4),
}


def _code_value(coding: int, code: int) -> float:
    if coding == E8M0:
        return math.nan if code == 255 else math.ldexp(1.0, code - 127)
    mantissa, bias, width = _FLOAT_FORMATS[coding]
    sign_bit = 1 << (width - 1)
    magnitude = code & (sign_bit - 1)
    is_nan = (
        (is_fnuz(coding) and code == sign_bit)
        or (coding == E4M3FN and magnitude == 0x7F)
        or (coding == E5M2 and magnitude > 0x7C)
    )
    if is_nan:
        value = math.nan
    elif coding == E5M2 and magnitude == 0x7C:
        value = math.inf
    else:
        field = magnitude >> mantissa
        digits = magnitude & ((1 << mantissa) - 1)
        if field > 0:
            digits += 1 << mantissa
        value = math.ldexp(digits, max(field, 1) - bias - mantissa)
    return -value if code & sign_bit else value


def value_table(coding: int) -> np.ndarray:
    """float64 value of each code of a byte-coded float type (NaN for the NaN codes); a
    one-element placeholder for the other codings, whose kernels read no table."""
    if not is_float_coding(coding):
        return np.zeros(1, np.float64)
    count = 16 if coding == E2M1 else 256
    return np.array([_code_value(coding, code) for code in range(count)], np.float64)


@hg.func
def onnx_max_code(coding):
    """The code of a byte-coded float type's largest finite value (the sign bit clear)."""
    if coding == E4M3FN:
        return 126
    elif coding == E5M2:
        return 123
    elif coding == E2M1:
        return 7
    elif coding == E8M0:
        return 254
    else:
        return 127


@hg.func
def onnx_nan_code(coding):
    """The code a byte-coded float type gives NaN (E2M1 has none: -0, as ml_dtypes)."""
    if coding == E4M3FN:
        return 127
    elif coding == E5M2:
        return 126
    elif coding == E2M1:
        return 8
    elif coding == E8M0:
        return 255
    else:
        return 128


@hg.func
def onnx_overflow_code(coding, saturate):
    """The code of magnitudes beyond the largest finite one: that one when `saturate`
    (always for E2M1, which has no infinity or NaN), else infinity (E5M2) or NaN."""
    if coding == E2M1:
        return onnx_max_code(coding)
    elif coding == E5M2:
        return hg.select(saturate != 0, onnx_max_code(coding), 124)
    else:
        return hg.select(saturate != 0, onnx_max_code(coding), onnx_nan_code(coding))


@hg.func
def onnx_floor_code(a, table, top):
    """The largest code `c <= top` with `table[c] <= a` (0 when there is none): a binary
    search of the ascending values of codes 0..top."""
    low = 0
    high = top
    while low < high:
        middle = (low + high + 1) >> 1
        if table[middle] <= a:
            low = middle
        else:
            high = middle - 1
    return low


@hg.func
def onnx_nearest_code(a, table, top):
    """The code of codes 0..top whose value is nearest to `a >= 0`, ties to the even code;
    `top + 1` for magnitudes that round beyond the largest value (the next value after it is
    spaced as the one before)."""
    low = onnx_floor_code(a, table, top)
    below = table[low]
    after = table[min(low + 1, top)]
    above = hg.select(low < top, after, below * 2.0 - table[top - 1])
    halfway = (below + above) * 0.5
    up = (a > halfway) | ((a == halfway) & ((low & 1) == 1))
    return hg.select(up, low + 1, low)


@hg.func
def onnx_decode(bits, coding, table):
    """The value a stored element stands for: the element itself for NATIVE, float32 for
    the byte-coded floats (from their `table`), int32 for the narrow integers."""
    if coding == NATIVE:
        return bits
    elif coding == INT4:
        nibble = hg.int32(bits) & 15
        return hg.select(nibble >= 8, nibble - 16, nibble)
    elif coding == UINT4:
        return hg.int32(bits) & 15
    elif coding == INT2:
        pair = hg.int32(bits) & 3
        return hg.select(pair >= 2, pair - 4, pair)
    elif coding == UINT2:
        return hg.int32(bits) & 3
    elif coding == E2M1:
        return hg.float32(table[hg.int32(bits) & 15])
    else:
        return hg.float32(table[bits])


@hg.func
def onnx_encode_float(value, coding, table, saturate):
    """The code of a byte-coded float type (not E8M0) nearest to `value`, ties to even."""
    x = hg.float64(value)
    top = onnx_max_code(coding)
    code = onnx_nearest_code(abs(x), table, top)
    code = hg.select(code > top, onnx_overflow_code(coding, saturate), code)
    # -0.0 is the zero whose reciprocal is negative
    negative = (x < 0.0) | ((x == 0.0) & (1.0 / x < 0.0))
    if coding == E4M3FNUZ or coding == E5M2FNUZ:  # noqa: SIM109 (kernels have no tuples)
        negative = negative & (code != 0) & (code != 128)
    code = hg.select(negative, code | (8 if coding == E2M1 else 128), code)
    return hg.select(x != x, onnx_nan_code(coding), code)


@hg.func
def onnx_encode_e8m0(value, table, saturate, round_mode):
    """The FLOAT8E8M0 code (a biased power of two, 255 for NaN) of `value`'s magnitude
    taken as float32: the exponent of the float32, rounded by `round_mode` on the fraction
    below it (float32 subnormals count as exponent 0 with fraction `a * 2**126`); saturating
    keeps 254 from rounding up into NaN."""
    x = hg.float32(value)
    a = hg.float64(abs(x))
    field = onnx_floor_code(a, table, 254)
    subnormal = a < table[1]
    fraction = hg.select(subnormal, a * TWO_TO_126, a / table[field] - 1.0)
    field = hg.select(subnormal, 0, field)
    nearest = (fraction > 0.5) | ((fraction == 0.5) & (field > 0))
    up = hg.select(round_mode == ROUND_UP, fraction > 0.0, nearest & (round_mode == ROUND_NEAREST))
    up = up & ((saturate == 0) | (field != 254))
    field = hg.select(up, field + 1, field)
    return hg.select((x != x) | (a > table[254] * 2.0), 255, field)


@hg.func
def onnx_encode(value, coding, table, saturate, round_mode):
    """The stored code of `value` in a byte-coded type: floats as `onnx_encode_float`, the
    narrow integers keep their low bits (floats truncated toward zero first)."""
    if coding == E8M0:
        return onnx_encode_e8m0(value, table, saturate, round_mode)
    elif coding == INT4 or coding == UINT4:  # noqa: SIM109 (kernels have no tuples)
        return hg.int32(hg.int64(value) & 15)
    elif coding == INT2 or coding == UINT2:  # noqa: SIM109 (kernels have no tuples)
        return hg.int32(hg.int64(value) & 3)
    else:
        return onnx_encode_float(value, coding, table, saturate)


@hg.kernel
def onnx_convert(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    source_table: hg.Array[hg.float64],
    target_table: hg.Array[hg.float64],
    saturate: hg.int32,
    round_mode: hg.int32,
    source: hg.Const[int],
    target: hg.Const[int],
):
    """out[i] = x[i] converted from coding `source` to coding `target` (the tables are
    `value_table`s of the two codings; `saturate` and `round_mode` as Cast's attributes)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        value = onnx_decode(x[i], source, source_table)
        if target == NATIVE:
            out[i] = value
        else:
            out[i] = onnx_encode(value, target, target_table, saturate, round_mode)


def launch_convert(
    ctx: OpContext,
    x: TensorRef,
    result: TensorRef,
    saturate: bool = True,
    round_mode: str = "up",
) -> None:
    """Launch the conversion of `x` into `result` (same element count, any element types)."""
    if result.size == 0:
        return
    source, target = coding_of(x.elem), coding_of(result.elem)
    mode = ROUND_MODES.get(round_mode)
    if mode is None:
        raise ctx.error(f"round_mode {round_mode!r} is not one of {sorted(ROUND_MODES)}")
    tables = [ctx.constant(value_table(coding)) for coding in (source, target)]
    ctx.launch(
        onnx_convert,
        hg.blocks(result.size, BLOCK),
        BLOCK,
        [x, result, result.size, *tables, int(bool(saturate)), mode, source, target],
    )


def convert(
    ctx: OpContext, x: TensorRef, elem: int, saturate: bool = True, round_mode: str = "up"
) -> None:
    """Output 0 is `x` converted to element type `elem` (Cast's semantics)."""
    if types.STRING in (x.elem, elem):
        raise ctx.unsupported("casts from or to strings are not supported")
    if x.elem == elem:
        ctx.set_output(0, x)
        return
    launch_convert(ctx, x, ctx.output(0, x.shape, elem), saturate, round_mode)
