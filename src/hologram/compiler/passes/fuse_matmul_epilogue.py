"""Epilogue fusion: a MatMul or Gemm and the elementwise nodes after it become one
`ai.hologram.FusedMatMul`.

The product `P = MatMul(A, B)` (or a `Gemm` with alpha 1, whose C with beta 1 becomes an
epilogue Add) is followed, optionally through one `Reshape` to a constant shape, by a chain of
elementwise nodes (plain ops or `FusedElementwise`), each the only reader of the value before
it: a bias Add, an activation, a residual Add. The fused node computes the product into its
output and runs the chain in place over it: one kernel instead of one per node, and no round
trip of the product through memory between them (`onnx/ops/op_fused_mat_mul.py`).

Every value in the chain must have the product's element type, so the steps compute in one
dtype, and keep the product's (known) shape; every other operand must be one value, a row
along the last axis (a bias) or of the output's shape (a residual), so the kernel reads it
without a general broadcast. A value that is a graph output, or read by any other node, ends
the chain there.
Runs after `fuse_elementwise` (so that an activation is already one node) and after
`fuse_attention` (which takes the MatMuls around a softmax).
"""

from __future__ import annotations

import json
from typing import Any

from hologram.compiler.graph import Graph, Node
from hologram.compiler.passes.fuse_elementwise import (
    FUSED_OP,
    elementwise_definition,
    json_attrs,
)
from hologram.onnx import registry

FUSED_MATMUL = "FusedMatMul"

Ref = tuple[str, int]
"""A value of the epilogue: `("leaf", k)` is input k (0: the product), `("step", j)` the
result of step j."""


def fuse_matmul_epilogue(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fuse MatMul/Gemm epilogues in `graph` and its subgraphs; counts for the report."""
    stats = {"fused": 0, "absorbed_nodes": 0}

    def visit(g: Graph) -> None:
        fused, absorbed = _fuse_graph(g, opsets)
        stats["fused"] += fused
        stats["absorbed_nodes"] += absorbed

    graph.walk(visit)
    return stats


class _Epilogue:
    """The steps and leaves of one epilogue as it grows along the chain."""

    def __init__(self, product: str) -> None:
        self.leaves = [product]
        self.steps: list[dict[str, Any]] = []
        self.current: Ref = ("leaf", 0)
        self.current_name = product

    def ref(self, name: str) -> Ref:
        if name == self.current_name:
            return self.current
        if name not in self.leaves:
            self.leaves.append(name)
        return ("leaf", self.leaves.index(name))

    def add(self, op: str, args: list[Ref], attrs: dict[str, Any]) -> Ref:
        self.steps.append({"op": op, "args": args, "attrs": attrs})
        return ("step", len(self.steps) - 1)

    def steps_json(self) -> str:
        """The steps with values numbered as `FusedElementwise` numbers them."""
        n = len(self.leaves)
        out = []
        for step in self.steps:
            args = [k if kind == "leaf" else n + k for kind, k in step["args"]]
            out.append({"op": step["op"], "args": args, "attrs": step["attrs"]})
        return json.dumps(out)


def _fuse_graph(graph: Graph, opsets: dict[str, int]) -> tuple[int, int]:
    consumers = graph.consumers()
    outputs = {v.name for v in graph.outputs}
    replacements: dict[int, Node | None] = {}
    fused = absorbed = 0
    for node in graph.nodes:
        if id(node) in replacements:
            continue
        found = _match(graph, node, consumers, outputs, opsets)
        if found is None:
            continue
        new_node, members = found
        for member in members[:-1]:
            replacements[id(member)] = None
        replacements[id(members[-1])] = new_node
        fused += 1
        absorbed += len(members)
    if replacements:
        kept = []
        for node in graph.nodes:
            if id(node) not in replacements:
                kept.append(node)
            elif replacements[id(node)] is not None:
                kept.append(replacements[id(node)])
        graph.nodes[:] = kept
    return fused, absorbed


def _head(node: Node) -> dict[str, Any] | None:
    """The product attributes of a MatMul or a Gemm that can head an epilogue, else None."""
    if node.domain or len(node.outputs) != 1 or len(node.inputs) < 2:
        return None
    if node.op_type == "MatMul":
        return {"kind": "MatMul"}
    if node.op_type == "Gemm" and float(node.attrs.get("alpha", 1.0)) == 1.0:
        has_c = len(node.inputs) > 2 and node.inputs[2] and node.attrs.get("beta", 1.0) != 0
        if has_c and float(node.attrs.get("beta", 1.0)) != 1.0:
            return None
        return {
            "kind": "Gemm",
            "transA": int(node.attrs.get("transA", 0)),
            "transB": int(node.attrs.get("transB", 0)),
        }
    return None


def _match(
    graph: Graph,
    node: Node,
    consumers: dict[str, list[Node]],
    outputs: set[str],
    opsets: dict[str, int],
) -> tuple[Node, list[Node]] | None:
    """The fused node for the epilogue chain headed by `node` and the nodes it replaces."""
    attrs = _head(node)
    if attrs is None:
        return None
    product = node.outputs[0]
    elem = graph.elem_of(product)
    if not elem:
        return None
    epilogue = _Epilogue(product)
    gemm_c = attrs["kind"] == "Gemm" and len(node.inputs) > 2 and node.inputs[2]
    if gemm_c and node.attrs.get("beta", 1.0) != 0:
        c = node.inputs[2]
        if graph.elem_of(c) != elem:
            return None
        epilogue.current = epilogue.add("Add", [("leaf", 0), epilogue.ref(c)], {})
    members = [node]
    name = product
    reader = _only_reader(name, consumers, outputs)
    if reader is not None and _is_constant_reshape(graph, reader):
        shape = graph.initializers[reader.inputs[1]]
        attrs["reshape"] = [int(d) for d in shape.reshape(-1)]
        attrs["allowzero"] = int(reader.attrs.get("allowzero", 0))
        members.append(reader)
        name = reader.outputs[0]
        epilogue.current_name = name
    chain = 0
    while True:
        reader = _only_reader(name, consumers, outputs)
        if reader is None or not _elementwise_step(graph, reader, name, elem, opsets):
            break
        _absorb(epilogue, reader)
        members.append(reader)
        name = reader.outputs[0]
        epilogue.current_name = name
        chain += 1
    if not epilogue.steps:
        return None
    if not chain and members[-1].op_type == "Reshape":
        return None
    last = members[-1]
    label = "_".join(step["op"].lower() for step in epilogue.steps)
    fused = Node(
        FUSED_MATMUL,
        [node.inputs[0], node.inputs[1], *epilogue.leaves[1:]],
        [name],
        {
            **attrs,
            "steps": epilogue.steps_json(),
            "opset": opsets.get("", 1),
            "label": label[:64],
        },
        registry.HOLOGRAM_DOMAIN,
        last.name or f"fused_{name}",
    )
    return fused, members


def _only_reader(name: str, consumers: dict[str, list[Node]], outputs: set[str]) -> Node | None:
    """The one node reading `name` when nothing else does (nor the graph's outputs)."""
    readers = consumers.get(name, [])
    if name in outputs or len(readers) != 1:
        return None
    return readers[0]


def _is_constant_reshape(graph: Graph, node: Node) -> bool:
    return (
        node.op_type == "Reshape"
        and not node.domain
        and len(node.inputs) == 2
        and node.inputs[1] in graph.initializers
        and len(node.outputs) == 1
    )


def _elementwise_step(
    graph: Graph, node: Node, current: str, elem: int, opsets: dict[str, int]
) -> bool:
    """Whether `node` is elementwise, reads and writes `elem` values only, keeps the shape of
    `current` and reads every other operand as `_fits` says."""
    if len(node.outputs) != 1:
        return False
    fused = node.domain == registry.HOLOGRAM_DOMAIN and node.op_type == FUSED_OP
    if fused and int(node.attrs.get("opset", 0)) != opsets.get("", 1):
        return False
    if not fused and elementwise_definition(node, opsets) is None:
        return False
    names = [n for n in node.inputs if n] + node.outputs
    if not all(graph.elem_of(n) == elem for n in names):
        return False
    shape = graph.static_shape(current)
    if shape is None or not shape or graph.static_shape(node.outputs[0]) != shape:
        return False
    return all(_fits(graph.static_shape(n), shape) for n in node.inputs if n and n != current)


def _fits(shape: tuple[Any, ...] | None, out: tuple[Any, ...]) -> bool:
    """Whether an operand of `shape` is read by the epilogue kernel without a general
    broadcast: one value, a row along the last axis, or the output's own shape."""
    if shape is None or len(shape) > len(out):
        return False
    if all(d == 1 for d in shape) or shape == out:
        return True
    return shape[-1] == out[-1] and all(d == 1 for d in shape[:-1])


def _absorb(epilogue: _Epilogue, node: Node) -> None:
    """Append `node`'s steps, reading the chain's current value and new leaves."""
    if node.op_type != FUSED_OP:
        args = [epilogue.ref(name) for name in node.inputs if name]
        epilogue.current = epilogue.add(node.op_type, args, json_attrs(node.attrs))
        return
    inputs = node.inputs
    refs = [epilogue.ref(name) for name in inputs]
    local: list[Ref] = []
    for step in json.loads(node.attrs["steps"]):
        args = [refs[k] if k < len(inputs) else local[k - len(inputs)] for k in step["args"]]
        local.append(epilogue.add(step["op"], args, step.get("attrs", {})))
    epilogue.current = local[-1]
