"""GRU: the gated recurrent unit (gates z, r, h), with or without `linear_before_reset`."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._rnn_common import begin
from hologram.onnx.ops._rnn_kernels import BLOCK, onnx_gru_cell, onnx_gru_reset_hidden
from hologram.onnx.ops._sequence_utils import copy_region
from hologram.onnx.registry import onnx_op


@onnx_op("GRU", since=1)
def gru(ctx: OpContext) -> None:
    """Outputs Y (every step's hidden state) and Y_h (the last); see `_rnn_common.py`.

    Without `linear_before_reset` the candidate state multiplies `r * H` by `Rh`, so each
    step has a second product after a kernel computing `r * H`.
    """
    run = begin(ctx, 3, ("sigmoid", "tanh"))
    linear = bool(ctx.attr("linear_before_reset", 0))
    hidden, dirs = run.hidden, run.directions
    recurrent_h = None
    if not linear:
        # Rh = R[:, 2H:3H, :], contiguous for the batched product.
        recurrent_h = ctx.scratch((dirs, hidden, hidden), run.x.elem)
        copy_region(ctx, run.r, recurrent_h, (dirs, hidden, hidden),
                    (3 * hidden * hidden, hidden, 1), (hidden * hidden, hidden, 1),
                    2 * hidden * hidden)  # fmt: skip
    state = run.initial_state(5)
    common = [run.seq_lens, run.params, run.geometry, run.lanes]
    for step in range(run.steps):
        product = run.recurrent_product(state, run.r, 3 * hidden)
        reset_product = product
        if recurrent_h is not None:
            reset = ctx.scratch(run.state_shape, run.x.elem)
            ctx.launch(onnx_gru_reset_hidden, run.grid, BLOCK, [
                run.xw, product, run.bias, state, reset, *common, step, run.clip, run.compute,
                *run.activations(1),
            ])  # fmt: skip
            reset_product = run.recurrent_product(reset, recurrent_h, hidden)
        following = ctx.scratch(run.state_shape, run.x.elem)
        ctx.launch(onnx_gru_cell, run.grid, BLOCK, [
            run.xw, product, reset_product, run.bias, state, following, run.y, *common, step,
            run.clip, linear, run.compute, *run.activations(2),
        ])  # fmt: skip
        state = following
    run.write_state(1, state)
