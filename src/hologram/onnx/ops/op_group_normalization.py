"""GroupNormalization: the channels of `(N, C, ...)` are split into `num_groups` groups and
each group of each sample is normalised to zero mean and unit variance, then scaled and
shifted: per group in opset 18 (`scale` and `bias` of shape `(num_groups,)`), per channel
since opset 21 (shape `(C,)`, and `stash_type`). Statistics are computed in f32 (f64 for f64).

`ai.hologram.GroupNorm` (made by `fuse_group_norm` and `fuse_norm_activation`) is the opset 21
form with an optional `activation` and its `activation_params`, as `ai.hologram.FusedConv`
has them: rows long enough for a block each apply it before the store; shorter rows (a lane
each) take one more pass for it."""

import math

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.onnx.ops._conv_kernels import NONE, activation_attribute
from hologram.onnx.ops._reduce_norm import (
    BLOCK,
    BLOCK_ROWS_FROM,
    RowNorm,
    launch_row_norm,
    stash_dtype,
)
from hologram.onnx.ops._reduce_norm_block import (
    onnx_activation_in_place,
    onnx_normalize_rows_block_act,
)
from hologram.onnx.ops._reduce_rows import float_tensors
from hologram.onnx.registry import HOLOGRAM_DOMAIN, onnx_op


def _launch(
    ctx: OpContext,
    norm: RowNorm,
    tensors: tuple[TensorRef, TensorRef, TensorRef, TensorRef],
    compute: DType,
    post: tuple[int, float, float],
) -> None:
    """Normalise as `norm` says, then activation `post` = (code, low, high)."""
    x, scale, bias, out = tensors
    act, low, high = post
    if act == NONE:
        launch_row_norm(ctx, norm, x, scale, bias, out, compute)
    elif norm.r >= BLOCK_ROWS_FROM:
        eps = compute.numpy.type(float(ctx.attr("epsilon", 1e-5)))
        aligned = norm.per_group == 1 or norm.spatial % BLOCK == 0
        args = [x, scale, bias, out, norm.r, norm.groups, norm.per_group, max(norm.spatial, 1)]
        args += [eps, compute, True, aligned, act, low, high]
        ctx.launch(onnx_normalize_rows_block_act, norm.rows, BLOCK, args)
    else:
        launch_row_norm(ctx, norm, x, scale, bias, out, compute)
        args = [out, out.size, act, low, high]
        ctx.launch(onnx_activation_in_place, hg.blocks(out.size, BLOCK), BLOCK, args)


def _lower(
    ctx: OpContext, per_channel: bool, post: tuple[int, float, float] = (NONE, 0, 0)
) -> None:
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    float_tensors(ctx, x, scale, bias)
    if x.rank < 2:
        raise ctx.error(f"takes a tensor of rank 2 or more, got shape {list(x.shape)}")
    groups = int(ctx.attr("num_groups"))
    n, channels = x.shape[0], x.shape[1]
    if groups <= 0 or channels % groups:
        raise ctx.error(f"num_groups {groups} does not divide the {channels} channels")
    expected = channels if per_channel else groups
    for name, ref in (("scale", scale), ("bias", bias)):
        if ref.size != expected:
            raise ctx.error(f"{name} has {ref.size} elements, expected {expected}")
    _, compute = stash_dtype(ctx, x)
    out = ctx.output(0, x.shape, x.elem)
    spatial = math.prod(x.shape[2:])
    r = channels // groups * spatial
    if per_channel:
        norm = RowNorm(n * groups, r, groups, channels // groups, spatial, per_element=False)
    else:
        norm = RowNorm(n * groups, r, groups, 1, r, per_element=False)
    if out.size:
        _launch(ctx, norm, (x, scale, bias, out), compute, post)


@onnx_op("GroupNormalization", since=18, until=20)
def group_normalization_18(ctx: OpContext) -> None:
    """Scale and bias per group."""
    _lower(ctx, per_channel=False)


@onnx_op("GroupNormalization", since=21)
def group_normalization(ctx: OpContext) -> None:
    """Scale and bias per channel."""
    _lower(ctx, per_channel=True)


@onnx_op("GroupNorm", since=1, domain=HOLOGRAM_DOMAIN)
def group_norm(ctx: OpContext) -> None:
    """Scale and bias per channel (`fuse_group_norm`), then the activation, if any
    (`fuse_norm_activation`)."""
    _lower(ctx, per_channel=True, post=activation_attribute(ctx))
