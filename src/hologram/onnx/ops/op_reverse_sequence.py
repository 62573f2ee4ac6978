"""ReverseSequence: the first `sequence_lens[b]` steps of each batch entry reversed."""

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import BLOCK, contiguous_strides
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_reverse_sequence(
    x: hg.Array,
    lengths: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    time_stride: hg.int64,
    time_size: hg.int64,
    batch_stride: hg.int64,
    batch_size: hg.int64,
):
    """Lane `i < n` at time `t` of batch entry `b` reads time `lengths[b] - 1 - t` when `t <
    lengths[b]` (clamped into the axis), else its own element."""
    i = hg.uint32(hg.global_id())
    if i < n:
        t = (hg.int64(i) // time_stride) % time_size
        length = min(hg.int64(lengths[(hg.int64(i) // batch_stride) % batch_size]), time_size)
        source = hg.int64(i)
        if t < length:
            source += (length - 1 - t - t) * time_stride
        out[i] = x[source]


@onnx_op("ReverseSequence", since=10)
def reverse_sequence(ctx: OpContext) -> None:
    """`time_axis` and `batch_axis` are 0 and 1 in either order; input 1 holds one length a
    batch entry."""
    x = ctx.input(0)
    lengths = ctx.input(1)
    time_axis = ctx.attr("time_axis", 0)
    batch_axis = ctx.attr("batch_axis", 1)
    if x.rank < 2 or {time_axis, batch_axis} != {0, 1}:
        raise ctx.error("time_axis and batch_axis must be 0 and 1 of a rank-2+ tensor")
    if lengths.size != x.shape[batch_axis]:
        raise ctx.error(f"{lengths.size} sequence lengths for {x.shape[batch_axis]} entries")
    out = ctx.output(0, x.shape, x.elem)
    if out.size == 0:
        return
    strides = contiguous_strides(x.shape)
    args = [x, lengths, out, out.size, strides[time_axis], x.shape[time_axis]]
    args += [strides[batch_axis], x.shape[batch_axis]]
    ctx.launch(onnx_reverse_sequence, hg.blocks(out.size, BLOCK), BLOCK, args)
