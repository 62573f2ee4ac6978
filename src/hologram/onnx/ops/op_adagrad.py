"""ai.onnx.preview.training Adagrad: one step of the adaptive gradient method.

Per element, with `r = R / (1 + T * decay_factor)` and `g' = norm_coefficient * x + g`:
`h_new = h + g'^2`; `x_new = x - r * g' / (sqrt(h_new) + epsilon)`.
"""

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._misc_kernels import BLOCK, optimizer_update
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_adagrad_step(
    rate: hg.Array,
    steps: hg.Array[hg.int64],
    x: hg.Array,
    g: hg.Array,
    h: hg.Array,
    x_new: hg.Array,
    h_new: hg.Array,
    n: hg.uint32,
    decay: hg.float64,
    epsilon: hg.float64,
    norm: hg.float64,
):
    """Lane `i < n` updates element `i` (see the module docstring), in float64."""
    i = hg.uint32(hg.global_id())
    if i < n:
        r = hg.float64(rate[0]) / (1.0 + hg.float64(steps[0]) * decay)
        value = hg.float64(x[i])
        grad = norm * value + hg.float64(g[i])
        squares = hg.float64(h[i]) + grad * grad
        x_new[i] = value - r * grad / (hg.sqrt(squares) + epsilon)
        h_new[i] = squares


@onnx_op("Adagrad", since=1, domain="ai.onnx.preview.training")
def adagrad(ctx: OpContext) -> None:
    """Inputs `R, T, X..., G..., H...`; outputs `X_new..., H_new...`."""
    decay = float(ctx.attr("decay_factor", 0.0))
    epsilon = float(ctx.attr("epsilon", 0.0))
    norm = float(ctx.attr("norm_coefficient", 0.0))

    def launch(
        ctx: OpContext,
        rate: TensorRef,
        steps: TensorRef,
        group: list[TensorRef],
        outs: list[TensorRef],
    ) -> None:
        x, g, h = group
        args = [rate, steps, x, g, h, *outs, x.size, decay, epsilon, norm]
        ctx.launch(onnx_adagrad_step, hg.blocks(x.size, BLOCK), BLOCK, args)

    optimizer_update(ctx, 1, launch)
