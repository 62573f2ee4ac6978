"""Simplification: pass-through nodes removed, cast and reshape chains shortened.

- `Identity` (of a tensor) and inference-mode `Dropout` with one output are removed: their
  readers read the input instead.
- `Cast` to the type its input already has is removed (types from shape inference).
- `Reshape(Reshape(x, a), b)` reads `x` directly when `b` is a constant without zeros (a zero
  copies a dimension of the immediate input, which would change meaning).
- `Cast(Cast(x))` to a wider-then-back type is left alone: it rounds, which is meaning.

A value that is a graph output keeps its producer (outputs are names the user sees).
"""

from __future__ import annotations

from typing import Any

from hologram.compiler.graph import Graph, Node, subgraphs


def simplify(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Simplify `graph` and its subgraphs in place; counts of what was removed."""
    stats = {"pass_through": 0, "reshape_chains": 0}

    def visit(g: Graph) -> None:
        removed, chains = _simplify_graph(g)
        stats["pass_through"] += removed
        stats["reshape_chains"] += chains

    graph.walk(visit)
    return stats


def _is_pass_through(graph: Graph, node: Node) -> bool:
    if node.domain or len(node.inputs) < 1 or not node.inputs[0]:
        return False
    if node.op_type == "Identity":
        source = graph.value_types.get(node.inputs[0])
        return source is None or source.kind == "tensor"
    if node.op_type == "Dropout":
        wanted = [name for name in node.outputs if name]
        training = len(node.inputs) > 2 and node.inputs[2]
        return len(wanted) == 1 and wanted[0] == node.outputs[0] and not training
    if node.op_type == "Cast":
        source = graph.value_types.get(node.inputs[0])
        known = graph.initializer_elems.get(node.inputs[0])
        if source is not None and source.kind == "tensor":
            known = source.elem
        return known is not None and known == node.attrs.get("to") and "saturate" not in node.attrs
    return False


def _simplify_graph(graph: Graph) -> tuple[int, int]:
    outputs = {v.name for v in graph.outputs}
    captured = {name for node in graph.nodes for sub in subgraphs(node) for name in _reads(sub)}
    rename: dict[str, str] = {}
    kept: list[Node] = []
    removed = 0
    for node in graph.nodes:
        node.inputs = [rename.get(name, name) for name in node.inputs]
        out = node.outputs[0] if node.outputs else ""
        if _is_pass_through(graph, node) and out not in outputs and out not in captured:
            rename[out] = node.inputs[0]
            removed += 1
            continue
        kept.append(node)
    graph.nodes[:] = kept
    chains = _shorten_reshapes(graph, outputs)
    return removed, chains


def _reads(sub: Graph) -> set[str]:
    found: set[str] = set()
    for node in sub.nodes:
        found.update(node.inputs)
        for inner in subgraphs(node):
            found.update(_reads(inner))
    found.update(v.name for v in sub.outputs)
    return found


def _shorten_reshapes(graph: Graph, outputs: set[str]) -> int:
    producers = graph.producers()
    shortened = 0
    for node in graph.nodes:
        if node.op_type != "Reshape" or node.domain or len(node.inputs) < 2:
            continue
        inner = producers.get(node.inputs[0])
        if inner is None or inner.op_type != "Reshape" or inner.domain:
            continue
        shape = graph.initializers.get(node.inputs[1])
        if shape is None or (shape == 0).any():
            continue
        node.inputs[0] = inner.inputs[0]
        shortened += 1
    return shortened
