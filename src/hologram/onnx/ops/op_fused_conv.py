"""ai.hologram.FusedConv: `activation(conv(X, W) + B + Z)` in one convolution, made by the
`fuse_conv` pass (`compiler/passes/fuse_conv.py`).

Inputs X, W, optional B and optional Z (a residual of the output's shape); the Conv
attributes, `activation` ("", Relu, LeakyRelu, Clip, Sigmoid, Tanh or SiLU) and
`activation_params` (LeakyRelu's alpha; Clip's min and max). The residual add and the
activation run in the convolution's epilogue kernel.
"""

from __future__ import annotations

from hologram.compiler.context import OpContext
from hologram.onnx.ops._conv_kernels import ACTIVATIONS
from hologram.onnx.ops._convolve import PostOps
from hologram.onnx.ops.op_conv import lower_conv
from hologram.onnx.registry import HOLOGRAM_DOMAIN, onnx_op


@onnx_op("FusedConv", since=1, domain=HOLOGRAM_DOMAIN)
def fused_conv(ctx: OpContext) -> None:
    """Y = activation(conv(X, W) + B + Z)."""
    name = ctx.attr("activation", "")
    if name not in ACTIVATIONS:
        raise ctx.error(f"unknown activation {name!r}")
    params = [float(v) for v in ctx.attr("activation_params", [])]
    wanted = {"LeakyRelu": 1, "Clip": 2}.get(name, 0)
    if len(params) != wanted:
        raise ctx.error(f"activation {name} takes {wanted} parameters, got {params}")
    params += [0.0] * (2 - len(params))
    residual = ctx.optional_input(3)
    post = PostOps(ACTIVATIONS[name], params[0], params[1], residual)
    lower_conv(ctx, post)
