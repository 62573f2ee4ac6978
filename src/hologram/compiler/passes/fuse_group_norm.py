"""Group normalization fusion: the way exporters write GroupNorm before opset 18,

    Reshape(X, [N, G, -1]) -> InstanceNormalization(s, b) -> Reshape(to X's shape)
        [-> Mul(gamma)] [-> Add(beta)]

becomes one `ai.hologram.GroupNorm` node (X, scale, bias; `num_groups`, `epsilon`), whose
per-channel scale and bias fold the instance normalization's per-group ones with the
per-channel `gamma` and `beta`: `scale[c] = s[g] * gamma[c]`, `bias[c] = b[g] * gamma[c] +
beta[c]` for channel c of group g. One row-normalization kernel then replaces a
normalization over a reshaped copy and an elementwise pass.

Applies to float and double X whose channel count is known, with constant s, b, gamma and
beta that broadcast along the channel axis alone, and intermediate values read by the chain
alone and not graph outputs. The scale and bias are folded in float64, so results differ from
the unfused nodes by rounding only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.graph import Graph, Node
from hologram.onnx.registry import HOLOGRAM_DOMAIN

FUSED_OP = "GroupNorm"


def fuse_group_norm(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fuse every eligible Reshape-InstanceNormalization-Reshape chain; the count."""
    stats = {"fused": 0}

    def visit(g: Graph) -> None:
        stats["fused"] += _fuse_graph(g)

    graph.walk(visit)
    return stats


def _x_shape(graph: Graph, name: str) -> list | None:
    """The shape of float or double tensor `name` (None for unknown dims), if its rank and
    channel count are known."""
    value_type = graph.type_of(name)
    if value_type is None or value_type.kind != "tensor" or value_type.shape is None:
        return None
    if value_type.elem not in (types.FLOAT, types.DOUBLE):
        return None
    shape = list(value_type.shape)
    if len(shape) < 3 or not isinstance(shape[1], int):
        return None
    return shape


def _constant(graph: Graph, name: str) -> np.ndarray | None:
    return graph.initializers.get(name) if name else None


class _Chain:
    """The nodes from the first Reshape that one GroupNorm replaces, and the folded
    per-channel scale and bias."""

    def __init__(self, graph: Graph, consumers: dict, outputs: set[str]) -> None:
        self.graph = graph
        self.consumers = consumers
        self.outputs = outputs
        self.nodes: list[Node] = []

    def only_reader(self, name: str) -> Node | None:
        """The one plain-ONNX node reading `name`, if `name` is not a graph output."""
        readers = self.consumers.get(name, [])
        if name in self.outputs or len(readers) != 1 or readers[0].domain:
            return None
        return readers[0]

    def match(self, inst: Node, producers: dict[str, Node]) -> Node | None:
        """The fused node replacing the chain around InstanceNormalization `inst`."""
        pre = producers.get(inst.inputs[0])
        if pre is None or pre.op_type != "Reshape" or pre.domain or len(inst.inputs) != 3:
            return None
        x = pre.inputs[0]
        shape = _x_shape(self.graph, x)
        target = _constant(self.graph, pre.inputs[1])
        s, b = (_constant(self.graph, name) for name in inst.inputs[1:3])
        if shape is None or target is None or s is None or b is None:
            return None
        groups = s.size
        channels = shape[1]
        if not _splits_groups(target, shape, groups) or b.size != groups:
            return None
        if self.only_reader(pre.outputs[0]) is not inst:
            return None
        post = self.only_reader(inst.outputs[0])
        if post is None or post.op_type != "Reshape" or post.inputs[0] != inst.outputs[0]:
            return None
        if not self._restores(post.inputs[1], x, shape):
            return None
        self.nodes = [pre, inst, post]
        per_group = channels // groups
        scale = np.repeat(s.reshape(-1).astype(np.float64), per_group)
        bias = np.repeat(b.reshape(-1).astype(np.float64), per_group)
        tail = post.outputs[0]
        for op in ("Mul", "Add"):
            node = self.only_reader(tail)
            factor = (
                None
                if node is None or node.op_type != op
                else _per_channel(self, node, tail, shape)
            )
            if node is None or factor is None:
                continue
            if op == "Mul":
                scale, bias = scale * factor, bias * factor
            else:
                bias = bias + factor
            self.nodes.append(node)
            tail = node.outputs[0]
        return self._node(x, tail, scale, bias, groups, float(inst.attrs.get("epsilon", 1e-5)))

    def _restores(self, name: str, x: str, shape: list) -> bool:
        """True when the Reshape to `name` gives back X's shape: Shape(X), or X's constant
        shape."""
        value = _constant(self.graph, name)
        if value is not None:
            return all(isinstance(d, int) for d in shape) and value.tolist() == shape
        producer = next((n for n in self.consumers.get(x, []) if name in n.outputs), None)
        if producer is None or producer.op_type != "Shape" or producer.domain:
            return False
        return not producer.attrs.get("start") and producer.attrs.get("end") is None

    def _node(
        self, x: str, tail: str, scale: np.ndarray, bias: np.ndarray, groups: int, eps: float
    ) -> Node:
        dtype = types.storage_dtype(self.graph.type_of(x).elem).numpy
        names = []
        for part, value in (("scale", scale), ("bias", bias)):
            name = _fresh(self.graph, f"{tail}_group_norm_{part}")
            self.graph.initializers[name] = value.astype(dtype)
            self.graph.initializer_elems[name] = self.graph.type_of(x).elem
            names.append(name)
        attrs = {"num_groups": groups, "epsilon": eps}
        name = self.nodes[1].name or f"group_norm_{tail}"
        return Node(FUSED_OP, [x, *names], [tail], attrs, HOLOGRAM_DOMAIN, name)


def _splits_groups(target: np.ndarray, shape: list, groups: int) -> bool:
    """True when Reshape to `target` makes (N, groups, rest) of a tensor of `shape`."""
    values = target.reshape(-1).tolist()
    channels = shape[1]
    if groups <= 0 or channels % groups or len(values) != 3 or values[1] != groups:
        return False
    if values[0] != 0 and (not isinstance(shape[0], int) or values[0] != shape[0]):
        return False
    if values[2] == -1:
        return values[0] == 0 or all(isinstance(d, int) for d in shape)
    spatial = shape[2:]
    return all(isinstance(d, int) for d in spatial) and values[2] == (
        channels // groups * math.prod(spatial)
    )


def _per_channel(chain: _Chain, node: Node, tail: str, shape: list) -> np.ndarray | None:
    """The per-channel values of `node`'s constant operand (its other input than `tail`), if
    it broadcasts along the channel axis alone without widening the result."""
    if len(node.inputs) != 2 or node.inputs[0] == node.inputs[1]:
        return None
    other = node.inputs[1] if node.inputs[0] == tail else node.inputs[0]
    value = _constant(chain.graph, other)
    if value is None or value.ndim > len(shape) or not np.issubdtype(value.dtype, np.floating):
        return None
    dims = [1] * (len(shape) - value.ndim) + list(value.shape)
    channels = shape[1]
    if any(d != 1 for i, d in enumerate(dims) if i != 1) or dims[1] not in (1, channels):
        return None
    flat = value.reshape(-1).astype(np.float64)
    return np.broadcast_to(flat, (channels,)) if flat.size == 1 else flat


def _fresh(graph: Graph, base: str) -> str:
    name, index = base, 0
    while name in graph.initializers or name in graph.value_types:
        index += 1
        name = f"{base}_{index}"
    return name


def _fuse_graph(graph: Graph) -> int:
    replaced: dict[int, Node | None] = {}
    producers = graph.producers()
    consumers = graph.consumers()
    outputs = {v.name for v in graph.outputs}
    for inst in list(graph.nodes):
        if inst.op_type != "InstanceNormalization" or inst.domain or id(inst) in replaced:
            continue
        chain = _Chain(graph, consumers, outputs)
        node = chain.match(inst, producers)
        if node is None or any(id(member) in replaced for member in chain.nodes):
            continue
        for member in chain.nodes:
            replaced[id(member)] = None
        # The fused node takes the last member's place: every input is produced by then.
        replaced[id(chain.nodes[-1])] = node
        for member in chain.nodes[:-1]:
            for name in member.outputs:
                graph.value_types.pop(name, None)
    if replaced:
        kept = [replaced.get(id(node), node) for node in graph.nodes]
        graph.nodes[:] = [node for node in kept if node is not None]
    return sum(node is not None for node in replaced.values())
