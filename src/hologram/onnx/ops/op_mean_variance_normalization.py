"""MeanVarianceNormalization: `(x - mean) / (sqrt(var) + 1e-9)`, the mean and the (biased)
variance taken over `axes` (default [0, 2, 3]), in f32 for f16 and bf16 (f64 for f64)."""

import numpy as np

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import apply, widened
from hologram.onnx.ops._reduce_kernels import accumulator, launch_reduce
from hologram.onnx.ops._reduce_ops import normalize_axes, reduced_shape
from hologram.onnx.ops._reduce_rows import float_tensors
from hologram.onnx.registry import onnx_op

EPSILON = 1e-9
"""What the operator's definition adds to the deviation."""


@hg.func
def onnx_mean_variance_normalize(x, mean, var, epsilon):
    """One element normalised by its position's mean and variance."""
    return (x - mean) / (hg.sqrt(var) + epsilon)


@onnx_op("MeanVarianceNormalization", since=9)
def mean_variance_normalization(ctx: OpContext) -> None:
    """Normalise over `axes`."""
    x = ctx.input(0)
    float_tensors(ctx, x)
    axes = normalize_axes(ctx, list(ctx.attr("axes", [0, 2, 3])), x.rank)
    stats_shape = reduced_shape(x.shape, axes, keepdims=True)
    mean = ctx.scratch(stats_shape, accumulator(x.elem))
    var = ctx.scratch(stats_shape, accumulator(x.elem))
    if x.size:
        launch_reduce(ctx, x, axes, "mean", mean)
        launch_reduce(ctx, x, axes, "variance", var, mean)
    compute = widened(x.dtype)
    epsilon = ctx.constant(np.array([EPSILON], compute.numpy))
    apply(ctx, 0, onnx_mean_variance_normalize, [x, mean, var, epsilon], x.elem, compute)
