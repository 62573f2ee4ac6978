"""ai.onnx.preview.training Momentum: one step of stochastic gradient descent with momentum.

Per element, with `g' = norm_coefficient * x + g` and `b = beta` after the first step
(`T > 0`), else 1: `v_new = alpha * v + b * g'`; `x_new = x - R * v_new` (mode "standard")
or `x - R * (g' + alpha * v_new)` (mode "nesterov").
"""

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._misc_kernels import BLOCK, optimizer_update
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_momentum_step(
    rate: hg.Array,
    steps: hg.Array[hg.int64],
    x: hg.Array,
    g: hg.Array,
    v: hg.Array,
    x_new: hg.Array,
    v_new: hg.Array,
    n: hg.uint32,
    alpha: hg.float64,
    beta: hg.float64,
    norm: hg.float64,
    nesterov: hg.Const[bool] = False,
):
    """Lane `i < n` updates element `i` (see the module docstring), in float64."""
    i = hg.uint32(hg.global_id())
    if i < n:
        value = hg.float64(x[i])
        grad = norm * value + hg.float64(g[i])
        scale = beta if steps[0] > 0 else 1.0
        velocity = alpha * hg.float64(v[i]) + scale * grad
        step = grad + alpha * velocity if nesterov else velocity
        x_new[i] = value - hg.float64(rate[0]) * step
        v_new[i] = velocity


@onnx_op("Momentum", since=1, domain="ai.onnx.preview.training")
def momentum(ctx: OpContext) -> None:
    """Inputs `R, T, X..., G..., V...`; outputs `X_new..., V_new...`."""
    mode = ctx.attr("mode")
    if mode not in ("standard", "nesterov"):
        raise ctx.error(f"mode must be 'standard' or 'nesterov', got {mode!r}")
    alpha, beta = float(ctx.attr("alpha")), float(ctx.attr("beta"))
    norm = float(ctx.attr("norm_coefficient"))

    def launch(
        ctx: OpContext,
        rate: TensorRef,
        steps: TensorRef,
        group: list[TensorRef],
        outs: list[TensorRef],
    ) -> None:
        x, g, v = group
        args = [rate, steps, x, g, v, *outs, x.size, alpha, beta, norm, mode == "nesterov"]
        ctx.launch(onnx_momentum_step, hg.blocks(x.size, BLOCK), BLOCK, args)

    optimizer_update(ctx, 1, launch)
