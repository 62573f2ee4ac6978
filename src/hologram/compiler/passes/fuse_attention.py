"""Attention fusion: `MatMul(Q, Kt) [-> Mul/Div by a scalar] [-> Add mask] -> Softmax(last
axis) -> MatMul(V)` becomes one `ai.hologram.FusedAttention` (`onnx/ops/op_fused_attention.py`).

This is the scaled dot-product attention that transformers export (BERT: a Mul or Div by
1/sqrt(d), then an optional padding mask; GPT-2: a Mul, then the causal mask built with
Where). The scaling and the mask may be separate nodes or one `FusedElementwise` (this pass
runs after `fuse_elementwise`), in that order: scale first, mask second. The scale must be a
one-element constant; the mask a tensor of the scores' element type whose known shape
broadcasts to the scores' without growing them. Each intermediate value must be read by the
next node alone and not be a graph output. Float32 and float64 only.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.graph import Graph, Node
from hologram.compiler.passes.fuse_elementwise import FUSED_OP
from hologram.onnx import registry

FUSED_ATTENTION = "FusedAttention"
MULTIPLY = 1
DIVIDE = 2
_FLOATS = (types.FLOAT, types.DOUBLE)


def fuse_attention(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fuse attention patterns in `graph` and its subgraphs; counts for the report."""
    stats = {"fused": 0}

    def visit(g: Graph) -> None:
        stats["fused"] += _fuse_graph(g, opsets)

    graph.walk(visit)
    return stats


def _fuse_graph(graph: Graph, opsets: dict[str, int]) -> int:
    consumers = graph.consumers()
    producers = graph.producers()
    outputs = {v.name for v in graph.outputs}
    replacements: dict[int, Node | None] = {}
    for node in graph.nodes:
        if node.op_type != "Softmax" or node.domain or id(node) in replacements:
            continue
        found = _match(graph, node, consumers, producers, outputs, opsets)
        if found is None:
            continue
        fused, members = found
        for member in members[:-1]:
            replacements[id(member)] = None
        replacements[id(members[-1])] = fused
    if replacements:
        kept = []
        for node in graph.nodes:
            if id(node) not in replacements:
                kept.append(node)
            elif replacements[id(node)] is not None:
                kept.append(replacements[id(node)])
        graph.nodes[:] = kept
    return sum(1 for node in replacements.values() if node is not None)


def _single_use(name: str, consumers: dict[str, list[Node]], outputs: set[str]) -> Node | None:
    readers = consumers.get(name, [])
    return readers[0] if len(readers) == 1 and name not in outputs else None


def _plain(node: Node | None, op_type: str) -> bool:
    return node is not None and node.op_type == op_type and not node.domain


def _match(
    graph: Graph,
    softmax: Node,
    consumers: dict[str, list[Node]],
    producers: dict[str, Node],
    outputs: set[str],
    opsets: dict[str, int],
) -> tuple[Node, list[Node]] | None:
    """The fused node for the attention around `softmax`, and the nodes it replaces in order."""
    scores_type = graph.value_types.get(softmax.inputs[0])
    if scores_type is None or scores_type.shape is None or len(scores_type.shape) < 2:
        return None
    shape = scores_type.shape
    default = -1 if opsets.get("", 1) >= 13 else 1
    if int(softmax.attrs.get("axis", default)) % len(shape) != len(shape) - 1:
        return None
    second = _single_use(softmax.outputs[0], consumers, outputs)
    if not _plain(second, "MatMul") or second.inputs[0] != softmax.outputs[0]:  # type: ignore[union-attr]
        return None
    chain: list[Node] = []
    name = softmax.inputs[0]
    while True:
        producer = producers.get(name)
        if producer is None or _single_use(name, consumers, outputs) is None:
            return None
        if _plain(producer, "MatMul"):
            break
        chain.insert(0, producer)
        name = _chain_input(producer, producers)
        if name is None:
            return None
    first = producers[name]
    elem = graph.elem_of(first.outputs[0])
    values = [first.outputs[0], *(n.outputs[0] for n in chain), softmax.outputs[0]]
    if elem not in _FLOATS or any(graph.elem_of(v) != elem for v in values):
        return None
    if graph.elem_of(second.inputs[1]) != elem:  # type: ignore[union-attr]
        return None
    pre = _pre_steps(graph, chain, first.outputs[0])
    if pre is None or not _valid_order(pre):
        return None
    attrs: dict[str, Any] = {"scaling": 0, "scale": 1.0, "has_mask": 0}
    inputs = [first.inputs[0], first.inputs[1], second.inputs[1]]  # type: ignore[union-attr]
    for kind, operand in pre:
        if kind in ("Mul", "Div"):
            value = _scalar(graph, operand)
            if value is None:
                return None
            attrs["scaling"] = MULTIPLY if kind == "Mul" else DIVIDE
            attrs["scale"] = value
        else:
            if graph.elem_of(operand) != elem or not _broadcasts(graph, operand, shape):
                return None
            attrs["has_mask"] = 1
            inputs.append(operand)
    fused = Node(
        FUSED_ATTENTION,
        inputs,
        list(second.outputs),  # type: ignore[union-attr]
        attrs,
        registry.HOLOGRAM_DOMAIN,
        second.name or f"attention_{second.outputs[0]}",  # type: ignore[union-attr]
    )
    return fused, [first, *chain, softmax, second]  # type: ignore[list-item]


def _chain_input(node: Node, producers: dict[str, Node]) -> str | None:
    """The input of a pre-softmax node that carries the scores: of the operands of its (first)
    step, one made by a MatMul, else one made by another pre-softmax node (`_pre_steps` then
    checks the whole chain)."""
    if node.domain == registry.HOLOGRAM_DOMAIN and node.op_type == FUSED_OP:
        steps = json.loads(node.attrs["steps"])
        if not steps:
            return None
        candidates = [node.inputs[a] for a in steps[0]["args"] if a < len(node.inputs)]
    elif node.domain or node.op_type not in ("Mul", "Div", "Add") or len(node.inputs) != 2:
        return None
    else:
        candidates = list(node.inputs)
    made = [(name, producers.get(name)) for name in candidates]
    for name, producer in made:
        if _plain(producer, "MatMul"):
            return name
    for name, producer in made:
        if producer is None:
            continue
        fused = producer.op_type == FUSED_OP and producer.domain == registry.HOLOGRAM_DOMAIN
        if fused or (not producer.domain and producer.op_type in ("Mul", "Div", "Add")):
            return name
    return None


def _pre_steps(graph: Graph, chain: list[Node], scores: str) -> list[tuple[str, str]] | None:
    """`(op, other operand)` for each step between the scores and the softmax, in order, when
    every step combines the running value (as its first operand, or either for Mul and Add)
    with one other graph value."""
    steps: list[tuple[str, str]] = []
    current = scores
    for node in chain:
        if node.domain == registry.HOLOGRAM_DOMAIN:
            parsed = _fused_steps(node, current)
            if parsed is None:
                return None
            steps.extend(parsed)
        else:
            step = _binary(node.op_type, node.inputs, current)
            if step is None:
                return None
            steps.append(step)
        current = node.outputs[0]
    return steps


def _binary(op: str, operands: list[str], current: str) -> tuple[str, str] | None:
    """`(op, other)` for a Mul, Div or Add of `current` and one other value."""
    if op not in ("Mul", "Div", "Add") or len(operands) != 2 or operands.count(current) != 1:
        return None
    if operands[0] == current:
        return op, operands[1]
    return (op, operands[0]) if op != "Div" else None


def _fused_steps(node: Node, current: str) -> list[tuple[str, str]] | None:
    """The steps of a `FusedElementwise` as `_pre_steps` lists them, or None when they are not
    a line of binary Mul/Div/Add steps through the running value."""
    inputs = node.inputs
    if inputs.count(current) != 1:
        return None
    running = inputs.index(current)
    found: list[tuple[str, str]] = []
    steps = json.loads(node.attrs["steps"])
    for j, step in enumerate(steps):
        args = step["args"]
        if step.get("attrs") or len(args) != 2 or args.count(running) != 1:
            return None
        other = args[1] if args[0] == running else args[0]
        if other >= len(inputs):
            return None
        names = [inputs[a] if a != running else current for a in args]
        parsed = _binary(step["op"], names, current)
        if parsed is None:
            return None
        found.append(parsed)
        running = len(inputs) + j
    return found


def _valid_order(pre: list[tuple[str, str]]) -> bool:
    """At most one scaling, then at most one mask Add."""
    kinds = [kind for kind, _ in pre]
    return kinds in ([], ["Mul"], ["Div"], ["Add"], ["Mul", "Add"], ["Div", "Add"])


def _scalar(graph: Graph, name: str) -> float | None:
    """The value of a one-element constant, else None."""
    value = graph.initializers.get(name)
    if value is None or np.asarray(value).size != 1:
        return None
    return float(np.asarray(value).reshape(-1)[0])


def _broadcasts(graph: Graph, name: str, shape: tuple[Any, ...]) -> bool:
    """Whether the known shape of `name` broadcasts to `shape` without growing it."""
    if name in graph.initializers:
        mask_shape: tuple[Any, ...] | None = tuple(np.asarray(graph.initializers[name]).shape)
    else:
        value_type = graph.value_types.get(name)
        for info in graph.inputs:
            if info.name == name:
                value_type = info.type
        mask_shape = None if value_type is None else value_type.shape
    if mask_shape is None or len(mask_shape) > len(shape):
        return False
    for dim, target in zip(mask_shape[::-1], shape[::-1], strict=False):
        if dim != 1 and (dim is None or dim != target):
            return False
    return True
