"""If: the branch the condition picks, planned inline (the condition is read, and guarded)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._sequence_utils import scalar_bool
from hologram.onnx.registry import onnx_op


@onnx_op("If", since=1)
def if_(ctx: OpContext) -> None:
    """Outputs are the outputs of `then_branch` when input 0 is true, else of `else_branch`.

    The plan holds for one value of the condition: a runtime condition becomes a guard, and
    the model plans the other branch when it flips.
    """
    taken = scalar_bool(ctx, ctx.input(0), "the condition")
    branch = ctx.attr("then_branch" if taken else "else_branch")
    results = ctx.run_graph(branch, [])
    if len(results) != ctx.n_outputs:
        raise ctx.error(f"the branch has {len(results)} outputs, the node {ctx.n_outputs}")
    for i, ref in enumerate(results):
        ctx.set_output(i, ref)
