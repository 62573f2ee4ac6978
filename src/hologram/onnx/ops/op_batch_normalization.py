"""BatchNormalization: `(x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c]` over the
channels `c` of `(N, C, ...)`.

In inference mode `mean` and `var` are the inputs. In training mode (opset 14's
`training_mode`; before it, when more than one output is wanted) they are the batch's own
statistics over every axis but the channels (the biased variance), and the outputs after Y
are the running statistics `input * momentum + batch * (1 - momentum)` (and, before opset 14,
the batch statistics themselves). Computed in f32 (f64 for f64)."""

import math

import numpy as np

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.onnx.ops._elementwise import apply, launch_map
from hologram.onnx.ops._reduce_kernels import accumulator, launch_reduce
from hologram.onnx.ops._reduce_rows import float_tensors
from hologram.onnx.registry import onnx_op

BLOCK = 256


@hg.kernel
def onnx_batch_norm(
    x: hg.Array,
    scale: hg.Array,
    bias: hg.Array,
    mean: hg.Array,
    var: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    channels: hg.uint32,
    spatial: hg.uint32,
    eps: hg.Scalar,
    compute: hg.Const[hg.dtype],
):
    """Lane `i < n` normalises element `i` of `x` viewed as `(N, channels, spatial)`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        c = (i // spatial) % channels
        factor = compute(scale[c]) / hg.sqrt(compute(var[c]) + compute(eps))
        out[i] = (compute(x[i]) - compute(mean[c])) * factor + compute(bias[c])


@hg.func
def onnx_running_statistic(running, batch, momentum):
    """The running statistic updated with the batch's."""
    return running * momentum + batch * (1 - momentum)


@onnx_op("BatchNormalization", since=7)
def batch_normalization(ctx: OpContext) -> None:
    """Inference or training mode (see the module docstring)."""
    x, scale, bias, mean, var = (ctx.input(i) for i in range(5))
    float_tensors(ctx, x, scale, bias, mean, var)
    if x.rank < 2:
        raise ctx.error(f"takes a tensor of rank 2 or more, got shape {list(x.shape)}")
    channels = x.shape[1]
    if any(ref.size != channels for ref in (scale, bias, mean, var)):
        raise ctx.unsupported("scale, B, mean and var must have one element per channel")
    if ctx.opset >= 14:
        training = bool(ctx.attr("training_mode", 0))
    else:
        training = any(ctx.has_output(i) for i in range(1, ctx.n_outputs))
    compute = DType.F64 if x.dtype == DType.F64 else DType.F32
    out = ctx.output(0, x.shape, x.elem)
    if training:
        mean, var = _training(ctx, x, mean, var, compute)
    spatial = math.prod(x.shape[2:])
    if out.size:
        eps = compute.numpy.type(float(ctx.attr("epsilon", 1e-5)))
        args = [x, scale, bias, mean, var, out, out.size, channels, spatial, eps, compute]
        ctx.launch(onnx_batch_norm, hg.blocks(out.size, BLOCK), BLOCK, args)


def _training(
    ctx: OpContext, x: TensorRef, mean: TensorRef, var: TensorRef, compute: DType
) -> tuple[TensorRef, TensorRef]:
    """The batch mean and variance; declares the running (and saved) statistics outputs."""
    channels = x.shape[1]
    axes = [a for a in range(x.rank) if a != 1]
    acc = accumulator(x.elem)
    batch_mean = ctx.scratch((channels,), acc)
    batch_var = ctx.scratch((channels,), acc)
    launch_reduce(ctx, x, axes, "mean", batch_mean)
    launch_reduce(ctx, x, axes, "variance", batch_var, batch_mean)
    momentum = ctx.constant(np.array([ctx.attr("momentum", 0.9)], compute.numpy))
    for index, running, batch in ((1, mean, batch_mean), (2, var, batch_var)):
        if ctx.has_output(index):
            apply(
                ctx,
                index,
                onnx_running_statistic,
                [running, batch, momentum],
                running.elem,
                compute,
            )
    for index, batch, like in ((3, batch_mean, mean), (4, batch_var, var)):
        if ctx.has_output(index):
            launch_map(ctx, [], [batch], ctx.output(index, (channels,), like.elem), compute)
    return batch_mean, batch_var
