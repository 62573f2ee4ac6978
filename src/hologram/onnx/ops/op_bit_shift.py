"""BitShift: `x << y` or `x >> y` (attribute `direction`) of integer tensors, broadcast.

Right shifts of signed types are arithmetic. A shift by a negative amount or by the bit width
or more gives what the sign fill alone gives: -1 for a right shift of a negative x, else 0
(the ISA would take the amount modulo the width).
"""

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import elementwise, integers_only


@hg.func
def onnx_bit_width(x):
    """The number of bits of x's integer type (decided when compiling)."""
    if x.dtype(256) == 0:
        return 8
    elif x.dtype(65536) == 0:
        return 16
    elif x.dtype(2**32) == 0:
        return 32
    else:
        return 64


@hg.func
def onnx_bit_shift(x, y, left):
    """`x << y` when `left` is non-zero, else `x >> y`; out-of-range amounts saturate."""
    bits = onnx_bit_width(x)
    if y < 0 or y >= bits:
        if left == 0 and x.dtype(-1) < 0:
            return x >> (bits - 1)
        return x.dtype(0)
    if left != 0:
        return x << y
    return x >> y


def direction(ctx: OpContext) -> list[int]:
    """The scalar BitShift's func reads: 1 to shift left, 0 to shift right."""
    value = ctx.attr("direction")
    value = value.decode() if isinstance(value, bytes) else value
    if value not in ("LEFT", "RIGHT"):
        raise ctx.error(f"direction must be LEFT or RIGHT, got {value!r}")
    return [int(value == "LEFT")]


elementwise("BitShift", onnx_bit_shift, since=11, check=integers_only, scalars=direction)
