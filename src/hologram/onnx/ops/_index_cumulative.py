"""What CumSum and CumProd share: running sums or products along one axis."""

from __future__ import annotations

import math

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.ops._index_kernels import BLOCK, normalize_axis


@hg.kernel
def onnx_cumulative(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    length: hg.uint32,
    inner: hg.uint32,
    reverse: hg.int32,
    exclusive: hg.int32,
    compute: hg.Const[hg.dtype],
    product: hg.Const[bool] = False,
):
    """Lane `j < n` scans row `(o, i)` of `x` viewed as `(outer, length, inner)`, `j = o *
    inner + i`, from its last element when `reverse`, in `compute`: each output is the sum
    (product) of the elements up to it, itself included unless `exclusive` is not 0. (The
    flags are ints: an `if` on a bool parameter does not compile.)"""
    j = hg.uint32(hg.global_id())
    if j < n:
        o = j // inner
        step = hg.int64(inner)
        first = hg.int64(o) * length * step + (j - o * inner)
        if reverse != 0:
            first += (hg.int64(length) - 1) * step
            step = -step
        acc = compute(1) if product else compute(0)
        for k in range(hg.int64(length)):
            at = first + k * step
            value = compute(x[at])
            total = acc * value if product else acc + value
            out[at] = acc if exclusive != 0 else total
            acc = total


def lower_cumulative(ctx: OpContext, product: bool) -> None:
    """Scan input 0 along the axis that input 1 holds; `exclusive`, `reverse` attributes."""
    x = ctx.input(0)
    axis_values = ctx.ints(1)
    if len(axis_values) != 1:
        raise ctx.error("axis must hold one value")
    axis = normalize_axis(ctx, axis_values[0], x.rank)
    out = ctx.output(0, x.shape, x.elem)
    if out.size == 0:
        return
    length = x.shape[axis]
    inner = math.prod(x.shape[axis + 1 :])
    lanes = out.size // length
    flags = [int(ctx.attr("reverse", 0) != 0), int(ctx.attr("exclusive", 0) != 0)]
    args = [x, out, lanes, length, inner, *flags, widened(x.dtype), product]
    ctx.launch(onnx_cumulative, hg.blocks(lanes, BLOCK), BLOCK, args)
