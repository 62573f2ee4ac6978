"""Conv: N-D cross-correlation (1-D, 2-D, 3-D) with groups, padding, strides, dilations and
a bias, as im2col and the MATMUL intrinsic (see `_convolve.py`)."""

from __future__ import annotations

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._convolve import ConvShape, PostOps, convolve
from hologram.onnx.ops._nn_geometry import AXES, window
from hologram.onnx.ops._nn_kernels import compute_elem
from hologram.onnx.registry import onnx_op

FLOATS = (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16)


def conv_shape(ctx: OpContext, x: TensorRef, w: TensorRef) -> ConvShape:
    """The sizes of the node's convolution of `x` by filters `w`; ModelError when they do
    not fit together."""
    if x.rank < 3 or x.rank != w.rank:
        raise ctx.error(
            f"X {x.shape} and W {w.shape} must be N x C x spatial and K x C/group x kernel"
        )
    if x.rank - 2 > AXES:
        raise ctx.unsupported(f"{x.rank - 2}-D convolution (at most {AXES}-D)")
    groups = int(ctx.attr("group", 1))
    images, channels = x.shape[:2]
    filters = w.shape[0]
    if groups < 1 or channels % groups or filters % groups or w.shape[1] * groups != channels:
        raise ctx.error(f"X {x.shape} and W {w.shape} do not fit group={groups}")
    kernel = ctx.attr("kernel_shape", None) or w.shape[2:]
    if tuple(kernel) != tuple(w.shape[2:]):
        raise ctx.error(f"kernel_shape {list(kernel)} differs from W's {list(w.shape[2:])}")
    win = window(ctx, x.shape[2:], kernel)
    return ConvShape(images, channels, filters, groups, win)


def check_bias(ctx: OpContext, bias: TensorRef | None, filters: int) -> None:
    """The bias, when given, has one value per filter."""
    if bias is not None and bias.shape != (filters,):
        raise ctx.error(f"B has shape {bias.shape}, expected ({filters},)")


@onnx_op("Conv", since=1)
def conv(ctx: OpContext) -> None:
    """Y = conv(X, W) + B."""
    lower_conv(ctx)


def lower_conv(ctx: OpContext, post: PostOps | None = None) -> None:
    """Y = conv(X, W) + B, then `post` (a fused residual and activation)."""
    x, w = ctx.input(0), ctx.input(1)
    bias = ctx.optional_input(2)
    if x.elem not in FLOATS:
        raise ctx.unsupported(f"Conv of {types.elem_name(x.elem)} tensors")
    for ref in (w, bias):
        if ref is not None and ref.elem != x.elem:
            raise ctx.error("X, W and B must share one element type")
    shape = conv_shape(ctx, x, w)
    check_bias(ctx, bias, shape.filters)
    out = ctx.output(0, (shape.images, shape.filters, *shape.window.out), x.elem)
    residual = post.residual if post is not None else None
    if residual is not None and (residual.shape != out.shape or residual.elem != out.elem):
        raise ctx.error(f"the residual {residual} does not match the output {out}")
    convolve(ctx, x, w, out, shape, compute_elem(x.elem), bias, post=post)
