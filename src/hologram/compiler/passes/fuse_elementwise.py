"""Elementwise fusion: trees of elementwise nodes become one `ai.hologram.FusedElementwise`.

A node joins the group of an input's producer when that producer is elementwise, its output
is read by this node alone (and is not a graph output), and both compute in the same dtype
with the same element type. Each group is a tree whose root is its last node; the fused node
takes the root's place, reads the tree's leaves once per output element and writes the root's
output once: a chain `Add -> Mul -> Relu` over N elements moves 2-3 N values instead of 6-9 N,
in one launch instead of three.

The steps are stored as a JSON attribute (`steps`): per step, the op type, the values it reads
(fused inputs first, then earlier steps' results), its attributes and its opset, so the
fused node's lowering (`onnx/ops/op_fused_elementwise.py`) rebuilds the kernel from the
same per-op funcs as the unfused ops.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from hologram.compiler.graph import Graph, Node, subgraphs
from hologram.errors import HologramError
from hologram.onnx import registry

FUSED_OP = "FusedElementwise"


def elementwise_definition(node: Node, opsets: dict[str, int]) -> Any:
    """The elementwise definition lowering `node` at the model's opset, or None."""
    if node.domain not in ("", "ai.onnx"):
        return None
    from hologram.onnx.ops._elementwise import LOWERINGS

    try:
        entry = registry.lookup(node.op_type, "", opsets.get("", 1))
    except HologramError:
        return None
    definition = LOWERINGS.get(entry.function)
    if definition is None:
        return None
    if any(not _plain(v) for v in node.attrs.values()):
        return None
    return definition


def _plain(value: Any) -> bool:
    if isinstance(value, (int, float, str)):
        return True
    return isinstance(value, list) and all(isinstance(v, (int, float, str)) for v in value)


def fuse_elementwise(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fuse elementwise trees in `graph` and its subgraphs; counts for the report."""
    stats = {"fused_kernels": 0, "fused_nodes": 0}

    def visit(g: Graph) -> None:
        fused, nodes = _fuse_graph(g, opsets)
        stats["fused_kernels"] += fused
        stats["fused_nodes"] += nodes

    graph.walk(visit)
    return stats


def _fuse_graph(graph: Graph, opsets: dict[str, int]) -> tuple[int, int]:
    consumers: dict[str, int] = {}
    for node in graph.nodes:
        for name in node.inputs:
            consumers[name] = consumers.get(name, 0) + 1
        for sub in subgraphs(node):
            for name in _outer_reads(sub):
                consumers[name] = consumers.get(name, 0) + 2  # never fuse away a captured value
    outputs = {v.name for v in graph.outputs}
    producer_group: dict[str, list[Node]] = {}
    computes: dict[str, Any] = {}
    groups: dict[int, list[Node]] = {}
    group_of_node: dict[int, int] = {}
    for node in graph.nodes:
        definition = elementwise_definition(node, opsets)
        if definition is None or len(node.outputs) != 1:
            continue
        elem = graph.elem_of(node.outputs[0])
        compute = _compute_of(graph, node, definition)
        if not elem or compute is None:
            continue
        computes[node.outputs[0]] = compute
        members = [node]
        for name in node.inputs:
            group = producer_group.get(name)
            if (
                group is not None
                and consumers.get(name, 0) == 1
                and name not in outputs
                and graph.elem_of(name) == elem
                and computes.get(name) is compute
                and group[-1].outputs[0] == name
            ):
                for member in group:
                    members.insert(len(members) - 1, member)
                producer_group.pop(name)
                groups.pop(id(group), None)
        members_sorted = _in_graph_order(graph, members)
        producer_group[node.outputs[0]] = members_sorted
        groups[id(members_sorted)] = members_sorted
        for member in members_sorted:
            group_of_node[id(member)] = id(members_sorted)
    fused = 0
    fused_nodes = 0
    replacements: dict[int, Node | None] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        node = _fused_node(graph, group, opsets)
        for member in group[:-1]:
            replacements[id(member)] = None
        replacements[id(group[-1])] = node
        fused += 1
        fused_nodes += len(group)
    if replacements:
        new_nodes = []
        for node in graph.nodes:
            if id(node) in replacements:
                if replacements[id(node)] is not None:
                    new_nodes.append(replacements[id(node)])
            else:
                new_nodes.append(node)
        graph.nodes[:] = new_nodes
    return fused, fused_nodes


def _compute_of(graph: Graph, node: Node, definition: Any) -> Any:
    """The dtype `node` computes in, from its inputs' element types (None if unknown)."""
    elems = [graph.elem_of(name) for name in node.inputs if name]
    if not elems or not all(elems):
        return None
    try:
        return definition.compute(elems, definition.out(elems))
    except HologramError:
        return None


def _in_graph_order(graph: Graph, members: list[Node]) -> list[Node]:
    position = {id(node): k for k, node in enumerate(graph.nodes)}
    return sorted(members, key=lambda node: position[id(node)])


def _outer_reads(sub: Graph) -> set[str]:
    from hologram.compiler.graph import outer_names

    reads: set[str] = set()
    for node in sub.nodes:
        reads.update(node.inputs)
        reads.update(outer_names(node))
    return reads


def _fused_node(graph: Graph, group: list[Node], opsets: dict[str, int]) -> Node:
    produced = {node.outputs[0]: k for k, node in enumerate(group)}
    leaves: list[str] = []
    for node in group:
        for name in node.inputs:
            if name and name not in produced and name not in leaves:
                leaves.append(name)
    steps = []
    for node in group:
        args = [
            len(leaves) + produced[name] if name in produced else leaves.index(name)
            for name in node.inputs
            if name
        ]
        steps.append({"op": node.op_type, "args": args, "attrs": json_attrs(node.attrs)})
    root = group[-1]
    label = "_".join(node.op_type.lower() for node in group)
    return Node(
        FUSED_OP,
        leaves,
        list(root.outputs),
        {"steps": json.dumps(steps), "opset": opsets.get("", 1), "label": label[:64]},
        registry.HOLOGRAM_DOMAIN,
        root.name or f"fused_{root.outputs[0]}",
    )


def json_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """`attrs` with array values as lists, for the JSON manifest."""
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in attrs.items()}
