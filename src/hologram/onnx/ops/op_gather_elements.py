"""GatherElements: each output element read from the input at its own index along one axis."""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.kernels._elementwise import layout_table, strided_offset
from hologram.onnx.ops._index_kernels import (
    BLOCK,
    collapse,
    contiguous_strides,
    normalize_axis,
    onnx_wrapped_index,
)
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_gather_elements(
    data: hg.Array,
    indices: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    axis_size: hg.int64,
    axis_stride: hg.int64,
    rank: hg.Const[int] = 1,
):
    """Lane `i < n` reads `data` at the offset `layout` gives for its coordinates off the
    axis, plus `indices[i]` (wrapped into the axis) times the axis stride."""
    i = hg.uint32(hg.global_id())
    if i < n:
        taken = onnx_wrapped_index(indices[i], axis_size)
        out[i] = data[hg.int64(strided_offset(i, layout, rank, 0)) + taken * axis_stride]


@onnx_op("GatherElements", since=11)
def gather_elements(ctx: OpContext) -> None:
    """`out[c] = data[c with c[axis] replaced by indices[c]]`; the output has the indices'
    shape, which may be smaller than the data's off the axis."""
    data = ctx.input(0)
    indices = ctx.input(1)
    axis = normalize_axis(ctx, ctx.attr("axis", 0), data.rank)
    if indices.rank != data.rank:
        raise ctx.error(f"indices of rank {indices.rank} for data of rank {data.rank}")
    out = ctx.output(0, indices.shape, data.elem)
    if out.size == 0:
        return
    if data.shape[axis] == 0:
        raise ctx.error("gathers from an axis of size 0")
    strides = contiguous_strides(data.shape)
    off_axis = [0 if d == axis else s for d, s in enumerate(strides)]
    dims, (view,) = collapse(indices.shape, [off_axis])
    table = ctx.constant(layout_table(dims, [view]), types.UINT32)
    args = [data, indices, out, out.size, table, data.shape[axis], strides[axis], len(dims)]
    ctx.launch(onnx_gather_elements, hg.blocks(out.size, BLOCK), BLOCK, args)
