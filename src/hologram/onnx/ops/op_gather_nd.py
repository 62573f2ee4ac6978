"""GatherND: slices of the input addressed by the rows of an index tensor's last axis."""

import math

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import (
    BLOCK,
    contiguous_strides,
    int64_table,
    onnx_nd_offset,
)
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_gather_nd(
    data: hg.Array,
    indices: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    inner: hg.uint32,
    depth: hg.uint32,
    batch_rows: hg.uint32,
    batch_size: hg.int64,
    table: hg.Array[hg.int64],
):
    """Lane `i < n` of `out` viewed as `(rows, inner)` at `(r, j)` reads element `j` of the
    slice that index row `r` selects in batch `r // batch_rows` (`batch_size` elements)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        row = i // inner
        base = hg.int64(row // batch_rows) * batch_size
        out[i] = data[base + onnx_nd_offset(indices, row, depth, table) + (i - row * inner)]


@onnx_op("GatherND", since=11)
def gather_nd(ctx: OpContext) -> None:
    """`batch_dims` (opset 12) leading axes are shared by the data and the indices; each
    index row of `depth` entries addresses the next `depth` axes of the data."""
    data = ctx.input(0)
    indices = ctx.input(1)
    batch = ctx.attr("batch_dims", 0)
    if indices.rank < 1:
        raise ctx.error("indices must have at least one axis")
    depth = indices.shape[-1]
    if not 0 <= batch < min(data.rank, indices.rank) or batch + depth > data.rank:
        raise ctx.error(
            f"batch_dims {batch} and index depth {depth} do not fit data of rank {data.rank}"
        )
    if data.shape[:batch] != indices.shape[:batch]:
        raise ctx.error(f"batch axes differ: {data.shape[:batch]} and {indices.shape[:batch]}")
    shape = [*indices.shape[:-1], *data.shape[batch + depth :]]
    out = ctx.output(0, shape, data.elem)
    if out.size == 0:
        return
    inner = math.prod(data.shape[batch + depth :])
    strides = contiguous_strides(data.shape)
    table = int64_table(ctx, [*data.shape[batch : batch + depth], *strides[batch : batch + depth]])
    batch_rows = math.prod(indices.shape[batch:-1])
    batch_size = math.prod(data.shape[batch:])
    args = [data, indices, out, out.size, inner, depth, batch_rows, batch_size, table]
    ctx.launch(onnx_gather_nd, hg.blocks(out.size, BLOCK), BLOCK, args)
