"""LSTM: the long short-term memory layer (gates i, o, f, c), with optional peepholes."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._rnn_common import begin
from hologram.onnx.ops._rnn_kernels import BLOCK, onnx_lstm_cell
from hologram.onnx.ops._sequence_utils import filled
from hologram.onnx.registry import onnx_op


@onnx_op("LSTM", since=1)
def lstm(ctx: OpContext) -> None:
    """Outputs Y (every step's hidden state), Y_h and Y_c (the last hidden and cell
    states); see `_rnn_common.py`."""
    run = begin(ctx, 4, ("sigmoid", "tanh", "tanh"))
    dirs, hidden = run.directions, run.hidden
    if ctx.has_input(7):
        peephole = ctx.input(7)
        if peephole.shape != (dirs, 3 * hidden) or peephole.elem != run.x.elem:
            raise ctx.error(f"P must be [{dirs}, {3 * hidden}], got {peephole}")
    else:
        peephole = filled(ctx, (dirs, 3 * hidden), run.x.elem, 0)
    state = run.initial_state(5)
    cell = run.initial_state(6)
    input_forget = int(ctx.attr("input_forget", 0))
    for step in range(run.steps):
        product = run.recurrent_product(state, run.r, 4 * hidden)
        next_state = ctx.scratch(run.state_shape, run.x.elem)
        next_cell = ctx.scratch(run.state_shape, run.x.elem)
        ctx.launch(onnx_lstm_cell, run.grid, BLOCK, [
            run.xw, product, run.bias, peephole, state, cell, next_state, next_cell, run.y,
            run.seq_lens, run.params, run.geometry, run.lanes, step, run.clip, input_forget,
            run.compute, *run.activations(3),
        ])  # fmt: skip
        state, cell = next_state, next_cell
    run.write_state(1, state)
    run.write_state(2, cell)
