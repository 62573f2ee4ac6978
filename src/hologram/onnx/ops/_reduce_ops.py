"""The Reduce* operators' shared lowering: axes from an attribute or an input, `keepdims`,
`noop_with_empty_axes`, and the reductions of `_reduce_kernels`."""

from __future__ import annotations

from collections.abc import Sequence

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._reduce_kernels import accumulator, launch_reduce
from hologram.onnx.registry import onnx_op


def reduced_shape(shape: Sequence[int], axes: Sequence[int], keepdims: bool) -> list[int]:
    """`shape` with `axes` reduced: kept as 1 with `keepdims`, else dropped."""
    return [1 if a in axes else d for a, d in enumerate(shape) if keepdims or a not in axes]


def normalize_axes(ctx: OpContext, axes: Sequence[int], rank: int) -> tuple[int, ...]:
    """`axes` made non-negative and sorted; a ModelError for one out of range or repeated."""
    result = []
    for axis in axes:
        if not -rank <= axis < max(rank, 1):
            raise ctx.error(f"axis {axis} is out of range for rank {rank}")
        result.append(axis % rank if rank else 0)
    if len(set(result)) != len(result):
        raise ctx.error(f"axes {list(axes)} repeat an axis")
    return tuple(sorted(result))


def reduce_into(
    ctx: OpContext, x: TensorRef, axes: Sequence[int], kind: str, target: TensorRef
) -> None:
    """`launch_reduce`, with log-sum-exp's maximum found first (into a scratch tensor)."""
    centre = None
    if kind == "log_sum_exp":
        centre = ctx.scratch((target.size,), accumulator(x.elem))
        launch_reduce(ctx, x, axes, "max", centre)
    launch_reduce(ctx, x, axes, kind, target, centre)


def register_reduce(op_type: str, kind: str, axes_input_since: int) -> None:
    """Register `op_type` as the `kind` reduction: axes from the `axes` attribute before
    opset `axes_input_since`, from input 1 since (then `noop_with_empty_axes` applies);
    no axes reduce every axis; `keepdims` (default 1) keeps reduced axes as 1."""

    def lower(ctx: OpContext) -> None:
        x = ctx.input(0)
        if x.elem == types.STRING or types.is_byte_coded(x.elem):
            raise ctx.unsupported(f"cannot reduce {types.elem_name(x.elem)} tensors")
        if x.elem == types.BOOL and kind not in ("max", "min"):
            raise ctx.error(f"{op_type} does not take bool tensors")
        noop = False
        if ctx.opset >= axes_input_since:
            axes = ctx.ints(1) if ctx.has_input(1) else []
            noop = bool(ctx.attr("noop_with_empty_axes", 0))
        else:
            axes = list(ctx.attr("axes", []))
        if axes:
            reduced = normalize_axes(ctx, axes, x.rank)
        else:
            reduced = () if noop else tuple(range(x.rank))
        keepdims = bool(ctx.attr("keepdims", 1))
        out = ctx.output(0, reduced_shape(x.shape, reduced, keepdims), x.elem)
        reduce_into(ctx, x, reduced, kind, out)

    lower.__doc__ = f"{op_type}: the {kind.replace('_', ' ')} reduction over axes."
    onnx_op(op_type, since=1)(lower)
