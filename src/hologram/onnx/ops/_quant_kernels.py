"""QuantizeLinear and DequantizeLinear: the kernels and how a scale is laid out.

A scale (and its zero point, of the same shape) applies to the whole tensor (PER_TENSOR: one
element), to each index along `axis` (PER_AXIS: a vector), or to each block of `block_size`
indices along `axis` (BLOCKED: the input's shape with that dimension divided by the block
size, rounded up). `QuantLayout` holds the numbers a kernel needs to find the scale of
element `i`: `inner` (the elements after the axis), `dim` (the axis' length), `blocks` and
`block`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.onnx.ops._convert_kernels import (
    E2M1,
    E4M3FN,
    NATIVE,
    onnx_decode,
    onnx_encode,
    onnx_encode_float,
)

PER_TENSOR = 0
PER_AXIS = 1
BLOCKED = 2
BLOCK = 256

INTEGER_RANGES = {
    types.UINT8: (0, 255),
    types.INT8: (-128, 127),
    types.UINT16: (0, 65535),
    types.INT16: (-32768, 32767),
    types.TensorProto.UINT4: (0, 15),
    types.TensorProto.INT4: (-8, 7),
    getattr(types.TensorProto, "UINT2", -1): (0, 3),
    getattr(types.TensorProto, "INT2", -2): (-2, 1),
}
"""The integer types a value can be quantized to, with their ranges."""


@dataclass(frozen=True)
class QuantLayout:
    """Where element `i` of the input finds its scale (see the module docstring)."""

    mode: int
    inner: int = 1
    dim: int = 1
    blocks: int = 1
    block: int = 1

    def args(self) -> list[int]:
        """The kernel arguments `inner, dim, blocks, block`."""
        return [self.inner, self.dim, self.blocks, self.block]


def quant_layout(
    ctx: OpContext, shape: tuple[int, ...], scale: TensorRef, zero: TensorRef | None
) -> QuantLayout:
    """The layout of `scale` (and `zero`) for an input of `shape`, from `axis` and
    `block_size`; a ModelError when the shapes do not fit."""
    if zero is not None and zero.shape != scale.shape and zero.size != scale.size:
        raise ctx.error(f"zero point shape {list(zero.shape)} differs from the scale's "
                        f"{list(scale.shape)}")  # fmt: skip
    block_size = ctx.attr("block_size", 0)
    if scale.size == 1 and block_size <= 0:
        return QuantLayout(PER_TENSOR)
    rank = len(shape)
    axis = ctx.attr("axis", 1)
    if not -rank <= axis < rank:
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    inner = math.prod(shape[axis + 1 :])
    dim = shape[axis]
    if block_size <= 0:
        if scale.rank != 1 or scale.size != dim:
            raise ctx.error(f"scale of shape {list(scale.shape)} does not fit axis {axis} "
                            f"of shape {list(shape)}")  # fmt: skip
        return QuantLayout(PER_AXIS, inner, dim)
    blocks = scale.shape[axis] if scale.rank == rank else 0
    expected = (*shape[:axis], blocks, *shape[axis + 1 :])
    if scale.shape != expected or blocks * block_size < dim or blocks == 0:
        raise ctx.error(f"scale of shape {list(scale.shape)} does not fit blocks of "
                        f"{block_size} along axis {axis} of shape {list(shape)}")  # fmt: skip
    return QuantLayout(BLOCKED, inner, dim, blocks, block_size)


def compute_dtype(*elems: int) -> DType:
    """The dtype NumPy would compute `x / scale` in: float64 when either is, float16 or
    bfloat16 when both are that, else float32."""
    dtypes = {types.storage_dtype(elem) for elem in elems}
    if DType.F64 in dtypes:
        return DType.F64
    if len(dtypes) == 1 and dtypes <= {DType.F16, DType.BF16}:
        return dtypes.pop()
    return DType.F32


@hg.func
def onnx_quant_param(i, inner, dim, blocks, block, mode):
    """The index of the scale of element `i` (see the module docstring)."""
    if mode == PER_TENSOR:
        return hg.uint32(0)
    elif mode == PER_AXIS:
        return (i // inner) % dim
    else:
        row = i // inner
        return ((row // dim) * blocks + (row % dim) // block) * inner + i % inner


@hg.kernel
def onnx_quantize(
    x: hg.Array,
    scale: hg.Array,
    zero: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    inner: hg.uint32,
    dim: hg.uint32,
    blocks: hg.uint32,
    block: hg.uint32,
    table: hg.Array[hg.float64],
    low: hg.int64,
    high: hg.int64,
    saturate: hg.int32,
    mode: hg.Const[int],
    target: hg.Const[int],
    float_target: hg.Const[bool],
    has_zero: hg.Const[bool],
    acc: hg.Const[hg.dtype],
):
    """out[i] = x[i] / scale, rounded half to even, plus the zero point, clamped to
    `[low, high]`; float targets (coding `target`, `table` its values) take the quotient
    rounded into them instead (E2M1 adds its zero point first)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        p = onnx_quant_param(i, inner, dim, blocks, block, mode)
        value = acc(x[i]) / acc(scale[p])
        if float_target:
            if has_zero and target == E2M1:
                value = value + acc(onnx_decode(zero[p], target, table))
            out[i] = onnx_encode_float(value, target, table, saturate)
        else:
            q = hg.int64(round(value))
            if has_zero:
                q = q + hg.int64(onnx_decode(zero[p], target, table))
            q = min(max(q, low), high)
            if target == NATIVE:
                out[i] = q
            else:
                out[i] = onnx_encode(q, target, table, 1, 0)


@hg.kernel
def onnx_dequantize(
    x: hg.Array,
    scale: hg.Array,
    zero: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    inner: hg.uint32,
    dim: hg.uint32,
    blocks: hg.uint32,
    block: hg.uint32,
    table: hg.Array[hg.float64],
    mode: hg.Const[int],
    source: hg.Const[int],
    has_zero: hg.Const[bool],
    acc: hg.Const[hg.dtype],
):
    """out[i] = (x[i] - zero point) * scale, computed in `acc` (x of coding `source`,
    `table` its values)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        p = onnx_quant_param(i, inner, dim, blocks, block, mode)
        value = acc(onnx_decode(x[i], source, table))
        if has_zero:
            value = value - acc(onnx_decode(zero[p], source, table))
        out[i] = value * acc(scale[p])


def is_float_target(coding: int) -> bool:
    """True for the byte-coded float types QuantizeLinear rounds into (float8, float4)."""
    return E4M3FN <= coding <= E2M1
