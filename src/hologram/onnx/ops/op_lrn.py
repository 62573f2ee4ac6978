"""LRN (local response normalisation) across channels of `(N, C, ...)`:
`y = x / (bias + alpha / size * sum(x[c']^2)) ** beta`, the sum over the `size` channels
around `c` (`floor((size - 1) / 2)` before it, `ceil((size - 1) / 2)` after, clipped),
computed in f32 for f16 and bf16."""

import math

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.ops._reduce_rows import float_tensors
from hologram.onnx.registry import onnx_op

BLOCK = 256


@hg.kernel
def onnx_lrn(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    channels: hg.uint32,
    spatial: hg.uint32,
    before: hg.uint32,
    after: hg.uint32,
    alpha: hg.Scalar,
    beta: hg.Scalar,
    bias: hg.Scalar,
    compute: hg.Const[hg.dtype],
):
    """Lane `i < n` normalises element `i` of `x` viewed as `(N, channels, spatial)`, over
    the channels from `before` below its own to `after` above it; `alpha` is already divided
    by the window's size."""
    i = hg.uint32(hg.global_id())
    if i < n:
        c = hg.int64((i // spatial) % channels)
        base = hg.int64(i) - c * spatial
        total = compute(0)
        for k in range(max(c - before, 0), min(c + after + 1, hg.int64(channels))):
            v = compute(x[base + k * spatial])
            total += v * v
        scale = hg.pow(compute(bias) + compute(alpha) * total, compute(beta))
        out[i] = compute(x[i]) / scale


@onnx_op("LRN", since=1)
def lrn(ctx: OpContext) -> None:
    """Normalise across a window of `size` channels."""
    x = ctx.input(0)
    float_tensors(ctx, x)
    if x.rank < 2:
        raise ctx.error(f"takes a tensor of rank 2 or more, got shape {list(x.shape)}")
    size = int(ctx.attr("size"))
    if size < 1:
        raise ctx.error(f"size must be positive, got {size}")
    out = ctx.output(0, x.shape, x.elem)
    if out.size == 0:
        return
    compute = widened(x.dtype)
    alpha = compute.numpy.type(float(ctx.attr("alpha", 1e-4)) / size)
    beta = compute.numpy.type(float(ctx.attr("beta", 0.75)))
    bias = compute.numpy.type(float(ctx.attr("bias", 1.0)))
    before, after = (size - 1) // 2, size // 2
    args = [
        x,
        out,
        out.size,
        x.shape[1],
        math.prod(x.shape[2:]),
        before,
        after,
        alpha,
        beta,
        bias,
        compute,
    ]
    ctx.launch(onnx_lrn, hg.blocks(out.size, BLOCK), BLOCK, args)
