"""RNN: the simple recurrent layer, `H = f(X W^T + H R^T + Wb + Rb)` per time step."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._rnn_common import begin
from hologram.onnx.ops._rnn_kernels import BLOCK, onnx_rnn_cell
from hologram.onnx.registry import onnx_op


@onnx_op("RNN", since=1)
def rnn(ctx: OpContext) -> None:
    """Outputs Y (every step's hidden state) and Y_h (the last); see `_rnn_common.py`."""
    run = begin(ctx, 1, ("tanh",))
    state = run.initial_state(5)
    for step in range(run.steps):
        product = run.recurrent_product(state, run.r, run.hidden)
        following = ctx.scratch(run.state_shape, run.x.elem)
        ctx.launch(onnx_rnn_cell, run.grid, BLOCK, [
            run.xw, product, run.bias, state, following, run.y, run.seq_lens, run.params,
            run.geometry, run.lanes, step, run.clip, run.compute, *run.activations(1),
        ])  # fmt: skip
        state = following
    run.write_state(1, state)
