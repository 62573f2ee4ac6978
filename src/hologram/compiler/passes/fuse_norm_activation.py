"""Normalisation activation fusion: `InstanceNormalization` or `ai.hologram.GroupNorm` (from
`fuse_group_norm`) followed by an activation becomes one `ai.hologram.GroupNorm` node with
`activation` and `activation_params` attributes (named as `ai.hologram.FusedConv` names them:
Relu, LeakyRelu, Clip with constant bounds, Sigmoid, Tanh, SiLU). The row normalisation
applies it before its store, so the activation costs no launch and no pass over memory.

InstanceNormalization is GroupNorm with one group per channel and a scale and bias per
channel. Applies to float and double inputs whose channel count is known, with intermediate
values read by the chain alone and not graph outputs; the activation computes in the
normalisation's compute type (float32 for float, as the unfused Relu or Sigmoid does).
"""

from __future__ import annotations

from typing import Any

from hologram.compiler import types
from hologram.compiler.graph import Graph, Node
from hologram.compiler.passes._activation import ActivationChain
from hologram.compiler.passes.fuse_group_norm import FUSED_OP
from hologram.onnx.registry import HOLOGRAM_DOMAIN


def fuse_norm_activation(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fold the activation after every eligible normalisation into it; the count."""
    stats = {"fused": 0}

    def visit(g: Graph) -> None:
        stats["fused"] += _fuse_graph(g, opsets.get("", 1))

    graph.walk(visit)
    return stats


def _groups(graph: Graph, node: Node) -> int | None:
    """The GroupNorm group count that `node` is, if it can take an activation."""
    if len(node.inputs) != 3 or not all(node.inputs):
        return None
    if graph.elem_of(node.outputs[0]) not in (types.FLOAT, types.DOUBLE):
        return None
    if node.domain == HOLOGRAM_DOMAIN and node.op_type == FUSED_OP:
        return None if node.attrs.get("activation") else int(node.attrs["num_groups"])
    if node.domain or node.op_type != "InstanceNormalization":
        return None
    value_type = graph.type_of(node.inputs[0])
    shape = None if value_type is None else value_type.shape
    if shape is None or len(shape) < 3 or not isinstance(shape[1], int) or shape[1] <= 0:
        return None
    return shape[1]


def _fuse_graph(graph: Graph, opset: int) -> int:
    replaced: dict[int, Node | None] = {}
    consumers = graph.consumers()
    outputs = {v.name for v in graph.outputs}
    for norm in list(graph.nodes):
        groups = None if id(norm) in replaced else _groups(graph, norm)
        if groups is None:
            continue
        chain = ActivationChain(graph, norm, consumers, outputs)
        chain.take_activation(opset)
        if len(chain.nodes) == 1 or any(id(node) in replaced for node in chain.nodes):
            continue
        attrs = {
            "num_groups": groups,
            "epsilon": float(norm.attrs.get("epsilon", 1e-5)),
            "activation": chain.activation,
            "activation_params": chain.params,
        }
        name = norm.name or f"norm_{chain.tail}"
        node = Node(FUSED_OP, list(norm.inputs), [chain.tail], attrs, HOLOGRAM_DOMAIN, name)
        for member in chain.nodes:
            replaced[id(member)] = None
        # The fused node takes the last member's place: every input is produced by then.
        replaced[id(chain.nodes[-1])] = node
        for member in chain.nodes[:-1]:
            for value in member.outputs:
                graph.value_types.pop(value, None)
    if replaced:
        kept = [replaced.get(id(node), node) for node in graph.nodes]
        graph.nodes[:] = [node for node in kept if node is not None]
    return sum(node is not None for node in replaced.values())
