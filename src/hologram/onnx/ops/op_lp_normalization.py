"""LpNormalization: `x / norm(x)` along `axis` (default -1), the L1 norm for `p` 1 and the
L2 norm for `p` 2 (the default); a row of zeros stays zeros (as onnxruntime and onnx's
reference evaluator do). Norms accumulate in f32 for f16 and bf16."""

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import apply, widened
from hologram.onnx.ops._reduce_kernels import accumulator, launch_reduce
from hologram.onnx.ops._reduce_ops import reduced_shape
from hologram.onnx.ops._reduce_rows import axis_of, float_tensors
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_lp_normalized(x, norm):
    """`x / norm`, and 0 for a zero norm (whose elements are all 0)."""
    if norm == 0:
        return x * 0
    return x / norm


@onnx_op("LpNormalization", since=1)
def lp_normalization(ctx: OpContext) -> None:
    """Divide by the norm along `axis`."""
    x = ctx.input(0)
    float_tensors(ctx, x)
    p = int(ctx.attr("p", 2))
    if p not in (1, 2):
        raise ctx.error(f"p must be 1 or 2, got {p}")
    axis = axis_of(ctx, x.rank, -1)
    norm = ctx.scratch(reduced_shape(x.shape, [axis], keepdims=True), accumulator(x.elem))
    if x.size:
        launch_reduce(ctx, x, [axis], "l1" if p == 1 else "l2", norm)
    apply(ctx, 0, onnx_lp_normalized, [x, norm], x.elem, widened(x.dtype))
