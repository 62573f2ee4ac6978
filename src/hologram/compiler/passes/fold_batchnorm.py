"""BatchNorm folding: `BatchNormalization(Conv(x, W, b))` becomes `Conv(x, W', b')`.

With `s = scale / sqrt(var + epsilon)`, the normalised convolution equals a convolution with
`W' = W * s` (per output channel) and `b' = (b - mean) * s + beta`. The pass rewrites the graph
only: it inserts the nodes computing `W'` and `b'` from the initializers, and the planner
folds them at compile time with the same kernels as any other constant subgraph. Applies when
the BatchNormalization is in inference mode (one output), reads the Conv's output alone, and
every parameter and the Conv's weights are initializers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.graph import Graph, Node


def fold_batchnorm(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fold every eligible BatchNormalization into its Conv; the count."""
    folded = 0

    def visit(g: Graph) -> None:
        nonlocal folded
        folded += _fold_graph(g)

    graph.walk(visit)
    return {"folded": folded}


def _fold_graph(graph: Graph) -> int:
    producers = graph.producers()
    consumers = graph.consumers()
    outputs = {v.name for v in graph.outputs}
    constants = graph.initializers
    replaced: dict[int, list[Node]] = {}
    removed: set[int] = set()
    for node in graph.nodes:
        if node.op_type != "BatchNormalization" or node.domain or len(node.outputs) != 1:
            continue
        if node.attrs.get("training_mode", 0):
            continue
        conv = producers.get(node.inputs[0])
        if conv is None or conv.op_type != "Conv" or conv.domain:
            continue
        conv_out = conv.outputs[0]
        if len(consumers.get(conv_out, [])) != 1 or conv_out in outputs:
            continue
        params = node.inputs[1:5]
        weights = conv.inputs[1]
        bias = conv.inputs[2] if len(conv.inputs) > 2 and conv.inputs[2] else None
        needed = [*params, weights] + ([bias] if bias else [])
        if not all(name in constants for name in needed):
            continue
        elem = graph.initializer_elems[weights]
        if elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
            continue
        if any(graph.initializer_elems[name] != elem for name in params):
            continue
        new_nodes = _rewrite(graph, conv, node, weights, bias, elem)
        replaced[id(conv)] = new_nodes
        removed.add(id(node))
    if not replaced:
        return 0
    rebuilt: list[Node] = []
    for node in graph.nodes:
        if id(node) in removed:
            continue
        rebuilt.extend(replaced.get(id(node), [node]))
    graph.nodes[:] = rebuilt
    return len(removed)


def _rewrite(
    graph: Graph, conv: Node, bn: Node, weights: str, bias: str | None, elem: int
) -> list[Node]:
    """The nodes computing W' and b' from initializers, then the new Conv."""
    scale, beta, mean, var = bn.inputs[1:5]
    prefix = f"{bn.outputs[0]}__bnfold"
    dtype = types.numpy_dtype(elem)
    epsilon = f"{prefix}_epsilon"
    graph.initializers[epsilon] = np.array(bn.attrs.get("epsilon", 1e-5), dtype=dtype)
    graph.initializer_elems[epsilon] = elem
    rank = graph.initializers[weights].ndim
    shape = f"{prefix}_shape"
    graph.initializers[shape] = np.array([-1] + [1] * (rank - 1), dtype=np.int64)
    graph.initializer_elems[shape] = types.INT64
    if bias is None:
        bias = f"{prefix}_zero_bias"
        channels = graph.initializers[weights].shape[0]
        graph.initializers[bias] = np.zeros(channels, dtype=dtype)
        graph.initializer_elems[bias] = elem

    def name(suffix: str) -> str:
        return f"{prefix}_{suffix}"

    nodes = [
        Node("Add", [var, epsilon], [name("var_eps")]),
        Node("Sqrt", [name("var_eps")], [name("std")]),
        Node("Div", [scale, name("std")], [name("s")]),
        Node("Reshape", [name("s"), shape], [name("s_col")]),
        Node("Mul", [weights, name("s_col")], [name("weights")]),
        Node("Sub", [bias, mean], [name("centred")]),
        Node("Mul", [name("centred"), name("s")], [name("scaled")]),
        Node("Add", [name("scaled"), beta], [name("bias")]),
    ]
    for node in nodes:
        node.name = node.outputs[0]
        graph.value_types.pop(node.outputs[0], None)
    fused = Node(
        "Conv",
        [conv.inputs[0], name("weights"), name("bias")],
        list(bn.outputs),
        dict(conv.attrs),
        conv.domain,
        conv.name or bn.name,
    )
    return [*nodes, fused]
