"""What the control-flow, sequence and recurrent ops share: strided copies and fills.

Sequences and loops move whole tensors around: a scan takes one slice of its input per
iteration, a loop stacks the values of its iterations, SplitToSequence cuts a tensor into
pieces and ConcatFromSequence glues them back. Each is a copy between two strided views,
`onnx_control_copy`: lane `i` copies element `src_base + offset_0(i)` of `src` to
`dst_base + offset_1(i)` of `dst`, offsets from the `layout_table` of
`hologram/kernels/_elementwise.py`. `copy_region` merges the dimensions that both views walk
contiguously first, so most copies index one or two dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, OptionalRef, SequenceRef, TensorRef
from hologram.kernels._elementwise import layout_table, strided_offset

BLOCK = 256
"""Lanes per block of every launch here."""


@hg.kernel
def onnx_control_copy(
    src: hg.Array,
    dst: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    src_base: hg.uint32,
    dst_base: hg.uint32,
    rank: hg.Const[int] = 1,
):
    """Lane `i < n` copies `src[src_base + offset_0(i)]` to `dst[dst_base + offset_1(i)]`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        dst[dst_base + strided_offset(i, layout, rank, 1)] = src[
            src_base + strided_offset(i, layout, rank, 0)
        ]


@hg.kernel
def onnx_control_fill(out: hg.Array, n: hg.uint32, value: hg.float64):
    """`out[i] = value` (converted to `out`'s dtype) for every `i < n`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        out[i] = value


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    """Element strides of a row-major tensor of `shape`."""
    return [math.prod(shape[d + 1 :]) for d in range(len(shape))]


def _merged(
    dims: Sequence[int], src: Sequence[int], dst: Sequence[int]
) -> tuple[list[int], list[int], list[int]]:
    """`dims` and both stride lists with size-1 dimensions dropped and with neighbours merged
    where both views step over them as over one dimension."""
    kept = [(d, s, t) for d, s, t in zip(dims, src, dst, strict=True) if d != 1]
    out_dims: list[int] = []
    out_src: list[int] = []
    out_dst: list[int] = []
    for d, s, t in kept:
        if out_dims and out_src[-1] == s * d and out_dst[-1] == t * d:
            out_dims[-1] *= d
            out_src[-1], out_dst[-1] = s, t
        else:
            out_dims.append(d)
            out_src.append(s)
            out_dst.append(t)
    if not out_dims:
        return [1], [0], [0]
    return out_dims, out_src, out_dst


def copy_region(
    ctx: OpContext,
    src: TensorRef,
    dst: TensorRef,
    dims: Sequence[int],
    src_strides: Sequence[int],
    dst_strides: Sequence[int],
    src_base: int = 0,
    dst_base: int = 0,
) -> None:
    """Copy the `dims`-shaped region of `src` (element strides `src_strides` from `src_base`)
    into `dst` (strides `dst_strides` from `dst_base`)."""
    count = math.prod(dims)
    if count == 0:
        return
    if src.dtype != dst.dtype:
        raise ctx.error(f"cannot copy {types.elem_name(src.elem)} into {types.elem_name(dst.elem)}")
    merged, src_merged, dst_merged = _merged(dims, src_strides, dst_strides)
    table = ctx.constant(layout_table(merged, [src_merged, dst_merged]), types.UINT32)
    ctx.launch(
        onnx_control_copy,
        hg.blocks(count, BLOCK),
        BLOCK,
        [src, dst, count, table, src_base, dst_base, len(merged)],
    )


def fill(ctx: OpContext, out: TensorRef, value: float) -> None:
    """Set every element of `out` to `value`."""
    if out.size:
        ctx.launch(
            onnx_control_fill, hg.blocks(out.size, BLOCK), BLOCK, [out, out.size, float(value)]
        )


def filled(ctx: OpContext, shape: Sequence[int], elem: int, value: float) -> TensorRef:
    """A new scratch tensor of `shape` holding `value` everywhere."""
    out = ctx.scratch(shape, elem)
    fill(ctx, out, value)
    return out


def normalize_axis(ctx: OpContext, axis: int, rank: int, what: str = "axis") -> int:
    """`axis` in `[-rank, rank)` as a non-negative axis; a ModelError otherwise."""
    if not -rank <= axis < rank:
        raise ctx.error(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def take_slice(ctx: OpContext, data: TensorRef, axis: int, index: int) -> TensorRef:
    """A new tensor holding `data[..., index, ...]` (`axis` removed)."""
    shape = [d for k, d in enumerate(data.shape) if k != axis]
    out = ctx.scratch(shape, data.elem)
    strides = contiguous_strides(data.shape)
    src_strides = [s for k, s in enumerate(strides) if k != axis]
    copy_region(
        ctx, data, out, shape, src_strides, contiguous_strides(shape), index * strides[axis]
    )
    return out


def stack_into(
    ctx: OpContext, out: TensorRef, items: Sequence[TensorRef], axis: int, positions: Sequence[int]
) -> None:
    """Write item `k` into `out` at index `positions[k]` of `axis` (`out` has the items' shape
    with `axis` inserted)."""
    strides = contiguous_strides(out.shape)
    dst_strides = [s for k, s in enumerate(strides) if k != axis]
    for item, position in zip(items, positions, strict=True):
        copy_region(
            ctx,
            item,
            out,
            item.shape,
            contiguous_strides(item.shape),
            dst_strides,
            0,
            position * strides[axis],
        )


def concat_into(ctx: OpContext, out: TensorRef, items: Sequence[TensorRef], axis: int) -> None:
    """Write `items` one after another along `axis` of `out`."""
    strides = contiguous_strides(out.shape)
    start = 0
    for item in items:
        copy_region(
            ctx,
            item,
            out,
            item.shape,
            contiguous_strides(item.shape),
            strides,
            0,
            start * strides[axis],
        )
        start += item.shape[axis]


def scalar_int(ctx: OpContext, ref: TensorRef, what: str) -> int:
    """The single integer a small tensor holds (a position, a trip count)."""
    value = np.asarray(ctx.value(ref)).reshape(-1)
    if value.size != 1:
        raise ctx.error(f"{what} must hold one value, got shape {ref.shape}")
    return int(value[0])


def scalar_bool(ctx: OpContext, ref: TensorRef, what: str) -> bool:
    """The single boolean a small tensor holds (a condition)."""
    value = np.asarray(ctx.value(ref)).reshape(-1)
    if value.size != 1:
        raise ctx.error(f"{what} must hold one value, got shape {ref.shape}")
    return bool(value[0])


def sequence_input(ctx: OpContext, i: int) -> SequenceRef:
    """Input `i`, which must be a sequence (or an optional holding one)."""
    ref = ctx.input_ref(i)
    if isinstance(ref, OptionalRef):
        ref = ref.value
    if not isinstance(ref, SequenceRef):
        got = "nothing" if ref is None else type(ref).__name__
        raise ctx.error(f"input {i} must be a sequence, got {got}")
    return ref


def sequence_position(ctx: OpContext, at: int, length: int) -> int:
    """Position `at` of a sequence of `length` (negative counts from the end) as an index."""
    if not -length <= at < length:
        raise ctx.error(f"position {at} is out of range for a sequence of {length}")
    return at + length if at < 0 else at
