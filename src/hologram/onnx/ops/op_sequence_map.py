"""SequenceMap: a subgraph applied to each tensor of a sequence, planned inline per item."""

from hologram.compiler.context import OpContext, Ref, SequenceRef, TensorRef
from hologram.onnx.ops._sequence_utils import sequence_input
from hologram.onnx.registry import onnx_op


@onnx_op("SequenceMap", since=17)
def sequence_map(ctx: OpContext) -> None:
    """Output `j` is the sequence of the body's output `j` for each position: the body reads
    item `k` of every sequence input and the tensor inputs as they are."""
    body = ctx.attr("body")
    length = len(sequence_input(ctx, 0).items)
    inputs: list[Ref] = [ctx.input_ref(i) for i in range(ctx.n_inputs)]
    for i, ref in enumerate(inputs):
        if isinstance(ref, SequenceRef) and len(ref.items) != length:
            raise ctx.error(f"input {i} has {len(ref.items)} items, input 0 {length}")
    results: list[list[TensorRef]] = [[] for _ in range(ctx.n_outputs)]
    for k in range(length):
        args = [ref.items[k] if isinstance(ref, SequenceRef) else ref for ref in inputs]
        outputs = ctx.run_graph(body, args)
        if len(outputs) != ctx.n_outputs:
            raise ctx.error(f"the body has {len(outputs)} outputs, the node {ctx.n_outputs}")
        for j, ref in enumerate(outputs):
            if not isinstance(ref, TensorRef):
                raise ctx.error(f"body output {j} must be a tensor")
            results[j].append(ref)
    for j, items in enumerate(results):
        elem = items[0].elem if items else body.outputs[j].type.elem
        ctx.set_output(j, SequenceRef(elem, items))
