"""Convolution epilogue fusion: `Conv -> [Add(residual)] -> [activation]` becomes one
`ai.hologram.FusedConv` node.

The fused node computes `activation(conv(X, W) + B + Z)` in the convolution's epilogue
kernel, which reads the product once anyway (to add the bias and put the images first): the
residual add and the activation then cost no launch and no pass over memory of their own.
The activations are Relu, LeakyRelu, Clip (constant bounds), Sigmoid, Tanh and SiLU (the pair
`Mul(y, Sigmoid(y))`). A residual is the other input of an `Add` with exactly the
convolution's output shape (no broadcasting).

Applies to float and double convolutions (the epilogue computes in the output's type, as the
unfused nodes do, so results are bit-identical) whose intermediate values are read by the
chain alone and are not graph outputs.
"""

from __future__ import annotations

from typing import Any

from hologram.compiler import types
from hologram.compiler.graph import Graph, Node
from hologram.compiler.passes._activation import ActivationChain
from hologram.onnx.registry import HOLOGRAM_DOMAIN

FUSED_OP = "FusedConv"


def fuse_conv(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fuse every eligible Conv with its residual add and activation; the counts."""
    stats = {"fused": 0, "residuals": 0}

    def visit(g: Graph) -> None:
        fused, residuals = _fuse_graph(g, opsets.get("", 1))
        stats["fused"] += fused
        stats["residuals"] += residuals

    graph.walk(visit)
    return stats


class _Chain(ActivationChain):
    """The nodes after one Conv that a FusedConv replaces."""

    def __init__(
        self, graph: Graph, conv: Node, consumers: dict[str, list[Node]], outputs: set[str]
    ) -> None:
        super().__init__(graph, conv, consumers, outputs)
        self.residual = ""

    def take_residual(self) -> None:
        readers = self.readers(self.tail)
        if len(readers) != 1 or readers[0].op_type != "Add" or readers[0].domain:
            return
        add = readers[0]
        if len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
            return
        other = add.inputs[1] if add.inputs[0] == self.tail else add.inputs[0]
        shape = self.graph.static_shape(self.tail)
        if shape is None or self.graph.static_shape(other) != shape:
            return
        if self.graph.elem_of(other) != self.graph.elem_of(self.tail):
            return
        self.residual = other
        self.nodes.append(add)
        self.tail = add.outputs[0]


def _fuse_graph(graph: Graph, opset: int) -> tuple[int, int]:
    replaced: dict[int, Node | None] = {}
    fused = residuals = 0
    consumers = graph.consumers()
    outputs = {v.name for v in graph.outputs}
    for conv in list(graph.nodes):
        if conv.op_type != "Conv" or conv.domain or id(conv) in replaced:
            continue
        if graph.elem_of(conv.outputs[0]) not in (types.FLOAT, types.DOUBLE):
            continue
        chain = _Chain(graph, conv, consumers, outputs)
        chain.take_residual()
        chain.take_activation(opset)
        if len(chain.nodes) == 1 or any(id(node) in replaced for node in chain.nodes):
            continue
        inputs = list(conv.inputs[:3]) + [""] * (3 - len(conv.inputs[:3]))
        attrs = dict(conv.attrs)
        attrs["activation"] = chain.activation
        attrs["activation_params"] = chain.params
        node = Node(
            FUSED_OP,
            [*inputs, chain.residual],
            [chain.tail],
            attrs,
            HOLOGRAM_DOMAIN,
            conv.name or f"fused_{chain.tail}",
        )
        for member in chain.nodes:
            replaced[id(member)] = None
        # The fused node takes the last member's place: every input is produced by then.
        replaced[id(chain.nodes[-1])] = node
        for member in chain.nodes[:-1]:
            for name in member.outputs:
                graph.value_types.pop(name, None)
        fused += 1
        residuals += bool(chain.residual)
    if replaced:
        kept = [replaced.get(id(node), node) for node in graph.nodes]
        graph.nodes[:] = [node for node in kept if node is not None]
    return fused, residuals
