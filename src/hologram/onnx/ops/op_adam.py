"""ai.onnx.preview.training Adam: one step of the Adam optimizer.

Per element, with `g' = norm_coefficient * x + g`: `v_new = alpha * v + (1 - alpha) * g'`,
`h_new = beta * h + (1 - beta) * g'^2`; the rate is `R`, bias-corrected after the first step
(`T > 0`) to `R * sqrt(1 - beta^T) / (1 - alpha^T)`;
`x_new = (1 - norm_coefficient_post) * (x - rate * v_new / (sqrt(h_new) + epsilon))`.
"""

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._misc_kernels import BLOCK, optimizer_update
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_adam_step(
    rate: hg.Array,
    steps: hg.Array[hg.int64],
    x: hg.Array,
    g: hg.Array,
    v: hg.Array,
    h: hg.Array,
    x_new: hg.Array,
    v_new: hg.Array,
    h_new: hg.Array,
    n: hg.uint32,
    alpha: hg.float64,
    beta: hg.float64,
    epsilon: hg.float64,
    norm: hg.float64,
    norm_post: hg.float64,
):
    """Lane `i < n` updates element `i` (see the module docstring), in float64."""
    i = hg.uint32(hg.global_id())
    if i < n:
        r = hg.float64(rate[0])
        t = steps[0]
        if t > 0:
            power = hg.float64(t)
            r = r * hg.sqrt(1.0 - hg.pow(beta, power)) / (1.0 - hg.pow(alpha, power))
        value = hg.float64(x[i])
        grad = norm * value + hg.float64(g[i])
        momentum = alpha * hg.float64(v[i]) + (1.0 - alpha) * grad
        squares = beta * hg.float64(h[i]) + (1.0 - beta) * (grad * grad)
        stepped = value - r * (momentum / (hg.sqrt(squares) + epsilon))
        x_new[i] = (1.0 - norm_post) * stepped
        v_new[i] = momentum
        h_new[i] = squares


@onnx_op("Adam", since=1, domain="ai.onnx.preview.training")
def adam(ctx: OpContext) -> None:
    """Inputs `R, T, X..., G..., V..., H...`; outputs `X_new..., V_new..., H_new...`."""
    scalars = [
        float(ctx.attr("alpha", 0.9)),
        float(ctx.attr("beta", 0.999)),
        float(ctx.attr("epsilon", 1e-6)),
        float(ctx.attr("norm_coefficient", 0.0)),
        float(ctx.attr("norm_coefficient_post", 0.0)),
    ]

    def launch(
        ctx: OpContext,
        rate: TensorRef,
        steps: TensorRef,
        group: list[TensorRef],
        outs: list[TensorRef],
    ) -> None:
        x = group[0]
        args = [rate, steps, *group, *outs, x.size, *scalars]
        ctx.launch(onnx_adam_step, hg.blocks(x.size, BLOCK), BLOCK, args)

    optimizer_update(ctx, 2, launch)
