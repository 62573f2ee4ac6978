"""OneHot: each index expanded into a vector of `depth` off-values with one on-value."""

import math

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import BLOCK
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_one_hot(
    indices: hg.Array,
    values: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    inner: hg.uint32,
    depth: hg.int64,
):
    """Lane `i < n` of `out` viewed as `(outer, depth, inner)` at `(o, d, k)` is `values[1]`
    where `indices[o * inner + k]` (negative counts from `depth`) equals `d`, else
    `values[0]`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        row = hg.int64(i // inner)
        k = i - row * inner
        d = row % depth
        index = hg.int64(indices[(row // depth) * inner + k])
        if index < 0:
            index += depth
        out[i] = values[1] if index == d else values[0]


@onnx_op("OneHot", since=9)
def one_hot(ctx: OpContext) -> None:
    """`depth` (input 1, decides the shape) is inserted as axis `axis` of the output;
    `values` (input 2) are `[off, on]`. Indices outside `[-depth, depth)` give all off."""
    indices = ctx.input(0)
    depth_values = ctx.value(1).reshape(-1)
    values = ctx.input(2)
    if depth_values.size != 1 or values.size != 2:
        raise ctx.error("depth must hold one value and values two")
    depth = int(depth_values[0])
    if depth < 1:
        raise ctx.error(f"depth {depth} must be positive")
    rank = indices.rank + 1
    axis = ctx.attr("axis", -1)
    if not -rank <= axis < rank:
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    shape = [*indices.shape[:axis], depth, *indices.shape[axis:]]
    out = ctx.output(0, shape, values.elem)
    if out.size:
        inner = math.prod(indices.shape[axis:])
        args = [indices, values, out, out.size, inner, depth]
        ctx.launch(onnx_one_hot, hg.blocks(out.size, BLOCK), BLOCK, args)
