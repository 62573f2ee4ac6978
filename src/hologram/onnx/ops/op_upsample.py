"""Upsample (opsets 7 to 9; deprecated by Resize): Resize with `scales`, asymmetric
coordinates and floor rounding for `nearest`, which is what Upsample always meant."""

import numpy as np

from hologram.compiler.context import OpContext
from hologram.compiler.graph import Node
from hologram.onnx.ops.op_resize import resize
from hologram.onnx.registry import onnx_op


@onnx_op("Upsample", since=7, until=9)
def upsample(ctx: OpContext) -> None:
    """Lower as the equivalent Resize node (scales from the attribute before opset 9)."""
    x = ctx.input(0)
    if ctx.opset >= 9:
        scales = ctx.input(1)
    else:
        scales = ctx.constant(np.asarray(ctx.attr("scales"), np.float32))
    mode = ctx.attr("mode", "nearest")
    if mode not in ("nearest", "linear"):
        raise ctx.error(f"unknown mode {mode!r}")
    node = Node(
        "Resize",
        [ctx.node.inputs[0], "", "scales", ""],
        list(ctx.node.outputs),
        {"mode": mode, "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
        name=ctx.node.name,
    )
    inner = OpContext(ctx.planner, node, [x, None, scales, None], 11)
    resize(inner)
    ctx.set_output(0, inner.outputs[0])
