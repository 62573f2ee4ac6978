"""TensorScatter: a cache tensor with an update written at each batch entry's write index
along the sequence axis (the key/value cache update of attention)."""

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import BLOCK, contiguous_strides, copy_strided
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_tensor_scatter(
    update: hg.Array,
    write_indices: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    length: hg.uint32,
    inner: hg.uint32,
    capacity: hg.int64,
    batch_rows: hg.uint32,
    circular: hg.int32,
):
    """Lane `i < n` of `update` viewed as `(rows, length, inner)` at `(r, s, k)` writes `out`
    as `(rows, capacity, inner)` at `(r, write_indices[r // batch_rows] + s, k)`, that
    sequence index taken modulo `capacity` when `circular` is not 0, else skipped when past
    the end."""
    i = hg.uint32(hg.global_id())
    if i < n:
        step = i // inner
        row = step // length
        target = hg.int64(write_indices[row // batch_rows]) + (step - row * length)
        if circular != 0:
            target = target % capacity
        if 0 <= target < capacity:
            out[(hg.int64(row) * capacity + target) * inner + (i - step * inner)] = update[i]


@onnx_op("TensorScatter", since=24)
def tensor_scatter(ctx: OpContext) -> None:
    """Inputs: past cache, update, optional write indices (one a batch entry, zero by
    default); `axis` (default -2, not the batch axis) and `mode` (linear or circular)."""
    past = ctx.input(0)
    update = ctx.input(1)
    axis = ctx.attr("axis", -2)
    axis = axis + past.rank if axis < 0 else axis
    if not 1 <= axis < past.rank:
        raise ctx.error(f"axis {ctx.attr('axis', -2)} must be a non-batch axis of the cache")
    mode = ctx.attr("mode", "linear")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("linear", "circular"):
        raise ctx.error(f"unknown mode {mode!r}")
    off_axis = past.shape[:axis] + past.shape[axis + 1 :]
    if update.rank != past.rank or update.shape[:axis] + update.shape[axis + 1 :] != off_axis:
        raise ctx.error(f"update {update.shape} does not fit cache {past.shape} off axis {axis}")
    write = ctx.optional_input(2)
    if write is None:
        write = ctx.constant(np.zeros(past.shape[0], np.int64), types.INT64)
    elif write.size != past.shape[0]:
        raise ctx.error(f"{write.size} write indices for a batch of {past.shape[0]}")
    out = ctx.output(0, past.shape, past.elem)
    copy_strided(ctx, past, out, past.shape, contiguous_strides(past.shape))
    if update.size == 0:
        return
    inner = math.prod(past.shape[axis + 1 :])
    args = [update, write, out, update.size, update.shape[axis], inner, past.shape[axis]]
    args += [math.prod(past.shape[1:axis]), int(mode == "circular")]
    ctx.launch(onnx_tensor_scatter, hg.blocks(update.size, BLOCK), BLOCK, args)
