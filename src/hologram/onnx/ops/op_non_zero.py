"""NonZero: the coordinates of the non-zero elements, one column each, in row-major order."""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import BLOCK, contiguous_strides, int64_table
from hologram.onnx.ops._index_positions import nonzero_positions
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_nonzero_coordinates(
    positions: hg.Array[hg.int64],
    out: hg.Array[hg.int64],
    n: hg.uint32,
    count: hg.uint32,
    rank: hg.uint32,
    table: hg.Array[hg.int64],
):
    """Lane `i < n` of `out` viewed as `(rank, count)` at `(d, k)` writes coordinate `d` of
    flat position `positions[k]`: `table` holds the pitches, then the sizes, of the axes."""
    i = hg.uint32(hg.global_id())
    if i < n:
        d = i // count
        out[i] = (positions[i - d * count] // table[d]) % table[rank + d]


@onnx_op("NonZero", since=9)
def non_zero(ctx: OpContext) -> None:
    """An int64 `(rank, count)` tensor (`(0, count)` for a scalar, which has no coordinates)."""
    x = ctx.input(0)
    positions, count = nonzero_positions(ctx, x, x.size)
    out = ctx.output(0, [x.rank, count], types.INT64)
    if positions is None or out.size == 0:
        return
    table = int64_table(ctx, [*contiguous_strides(x.shape), *x.shape])
    args = [positions, out, out.size, count, x.rank, table]
    ctx.launch(onnx_nonzero_coordinates, hg.blocks(out.size, BLOCK), BLOCK, args)
