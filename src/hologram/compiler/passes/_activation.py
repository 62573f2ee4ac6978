"""The activation after a node, matched for the passes that fold it into that node's kernel
(`fuse_conv`, `fuse_norm_activation`): Relu, LeakyRelu, Clip (constant bounds), Sigmoid, Tanh
and SiLU (the pair `Mul(y, Sigmoid(y))`), each read by the chain alone."""

from __future__ import annotations

from hologram.compiler.graph import Graph, Node

SIMPLE = {"Relu", "Sigmoid", "Tanh", "LeakyRelu"}
FLOAT32_MAX = 3.4028234663852886e38
"""Clip's default bounds before opset 11."""


class ActivationChain:
    """The nodes from `head` that one fused node replaces: `tail` is the last one's output,
    `activation` and `params` what follows (as `ai.hologram.FusedConv` names them)."""

    def __init__(
        self, graph: Graph, head: Node, consumers: dict[str, list[Node]], outputs: set[str]
    ) -> None:
        self.graph = graph
        self.consumers = consumers
        self.outputs = outputs
        self.nodes = [head]
        self.tail = head.outputs[0]
        self.activation = ""
        self.params: list[float] = []

    def readers(self, name: str) -> list[Node]:
        """The nodes reading `name`; none when it is a graph output (it must stay)."""
        return [] if name in self.outputs else self.consumers.get(name, [])

    def take_activation(self, opset: int) -> None:
        """Append the activation reading `tail` (if any matches) to the chain."""
        readers = self.readers(self.tail)
        if len(readers) == 2:
            self._take_silu(readers)
            return
        if len(readers) != 1 or readers[0].domain:
            return
        node = readers[0]
        if node.op_type in SIMPLE:
            self.activation = node.op_type
            self.params = [float(node.attrs.get("alpha", 0.01))] * (node.op_type == "LeakyRelu")
        elif node.op_type == "Clip":
            bounds = self._clip_bounds(node, opset)
            if bounds is None:
                return
            self.activation, self.params = "Clip", bounds
        else:
            return
        self.nodes.append(node)
        self.tail = node.outputs[0]

    def _take_silu(self, readers: list[Node]) -> None:
        by_type = {node.op_type: node for node in readers if not node.domain}
        sigmoid, mul = by_type.get("Sigmoid"), by_type.get("Mul")
        if sigmoid is None or mul is None:
            return
        if sorted(mul.inputs) != sorted([self.tail, sigmoid.outputs[0]]):
            return
        if self.readers(sigmoid.outputs[0]) != [mul]:
            return
        self.activation = "SiLU"
        self.nodes.extend([sigmoid, mul])
        self.tail = mul.outputs[0]

    def _clip_bounds(self, node: Node, opset: int) -> list[float] | None:
        """Clip's (min, max) when they are constants (infinite when not given)."""
        if opset < 11:
            low = node.attrs.get("min", -FLOAT32_MAX)
            return [float(low), float(node.attrs.get("max", FLOAT32_MAX))]
        bounds = []
        for i, default in ((1, float("-inf")), (2, float("inf"))):
            name = node.inputs[i] if len(node.inputs) > i else ""
            if not name:
                bounds.append(default)
            elif name in self.graph.initializers and self.graph.initializers[name].size == 1:
                bounds.append(float(self.graph.initializers[name].reshape(-1)[0]))
            else:
                return None
        return bounds
