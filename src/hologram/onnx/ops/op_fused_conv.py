"""ai.hologram.FusedConv: `activation(conv(X, W) + B + Z)` in one convolution, made by the
`fuse_conv` pass (`compiler/passes/fuse_conv.py`).

Inputs X, W, optional B and optional Z (a residual of the output's shape); the Conv
attributes, `activation` ("", Relu, LeakyRelu, Clip, Sigmoid, Tanh or SiLU) and
`activation_params` (LeakyRelu's alpha; Clip's min and max). The residual add and the
activation run in the convolution's epilogue kernel.
"""

from __future__ import annotations

from hologram.compiler.context import OpContext
from hologram.onnx.ops._conv_kernels import activation_attribute
from hologram.onnx.ops._convolve import PostOps
from hologram.onnx.ops.op_conv import lower_conv
from hologram.onnx.registry import HOLOGRAM_DOMAIN, onnx_op


@onnx_op("FusedConv", since=1, domain=HOLOGRAM_DOMAIN)
def fused_conv(ctx: OpContext) -> None:
    """Y = activation(conv(X, W) + B + Z)."""
    act, low, high = activation_attribute(ctx)
    post = PostOps(act, low, high, ctx.optional_input(3))
    lower_conv(ctx, post)
