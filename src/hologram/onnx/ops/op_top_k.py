"""TopK: the `k` largest (or, with `largest` 0, smallest) elements along `axis` (default -1)
and their int64 indices, best first; equal elements in index order (the lower index first).
`k` is an attribute in opset 1 and a one-element input since opset 10; `largest` and `sorted`
came in opset 11 (the result is always sorted). NaN counts as larger than every number.

One lane keeps one row's best `k` in its output slots, by insertion: each element that beats
the worst kept one moves the worse ones down a slot. Equal elements never pass each other, so
ties keep index order.
"""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._reduce_rows import BLOCK, axis_of, onnx_row_start, rows
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_top_k_beats(a, b, largest):
    """Whether `a` goes strictly before `b` (NaN counts as the largest)."""
    if largest:
        return a > b or (a != a and b == b)
    else:
        return a < b or (b != b and a == a)


@hg.kernel
def onnx_top_k(
    x: hg.Array,
    values: hg.Array,
    indices: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    inner: hg.uint32,
    k: hg.int64,
    largest: hg.Const[bool],
):
    """Lane `j < n` writes the best `k` elements of its row of `x` (viewed as `(outer, r,
    inner)`) and their indices along the row, best first, to its row of `values` and
    `indices` (viewed as `(outer, k, inner)`); `1 <= k <= r`."""
    j = hg.uint32(hg.global_id())
    if j < n:
        first = onnx_row_start(j, r, inner)
        slots = onnx_row_start(j, k, inner)
        step = hg.int64(inner)
        filled = hg.int64(0)
        for e in range(hg.int64(r)):
            v = x[first + e * step]
            if filled == k and not onnx_top_k_beats(v, values[slots + (k - 1) * step], largest):
                continue
            slot = min(filled, k - 1)
            while slot > 0 and onnx_top_k_beats(v, values[slots + (slot - 1) * step], largest):
                values[slots + slot * step] = values[slots + (slot - 1) * step]
                indices[slots + slot * step] = indices[slots + (slot - 1) * step]
                slot -= 1
            values[slots + slot * step] = v
            indices[slots + slot * step] = e
            if filled < k:
                filled += 1


@onnx_op("TopK", since=1)
def top_k(ctx: OpContext) -> None:
    """Values (the input's type) and int64 indices, with `k` along `axis`."""
    x = ctx.input(0)
    if x.elem == types.STRING or types.is_byte_coded(x.elem):
        raise ctx.unsupported(f"cannot compare {types.elem_name(x.elem)} elements")
    if x.rank == 0:
        raise ctx.error("takes a tensor of rank 1 or more")
    if ctx.opset >= 10:
        given = ctx.ints(1)
        if len(given) != 1:
            raise ctx.error(f"k must hold one value, got {given}")
        k = given[0]
    else:
        k = int(ctx.attr("k"))
    axis = axis_of(ctx, x.rank, -1)
    largest = bool(ctx.attr("largest", 1))
    outer, r, inner = rows(x.shape, axis)
    if not 0 <= k <= r:
        raise ctx.error(f"k {k} is outside [0, {r}] for axis {axis} of shape {list(x.shape)}")
    shape = [k if a == axis else d for a, d in enumerate(x.shape)]
    values = ctx.output(0, shape, x.elem)
    indices = ctx.output(1, shape, types.INT64)
    n = outer * inner
    if n and k:
        args = [x, values, indices, n, r, inner, k, largest]
        ctx.launch(onnx_top_k, hg.blocks(n, BLOCK), BLOCK, args)
