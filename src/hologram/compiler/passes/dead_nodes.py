"""Dead-node elimination: nodes none of whose outputs reach a graph output are removed."""

from __future__ import annotations

from typing import Any

from hologram.compiler.graph import Graph, outer_names


def remove_dead_nodes(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Drop the nodes whose results no graph output needs; unused initializers too."""
    live = {v.name for v in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if any(name and name in live for name in node.outputs):
            kept.append(node)
            live.update(name for name in node.inputs if name)
            live.update(outer_names(node))
    removed = len(graph.nodes) - len(kept)
    graph.nodes[:] = reversed(kept)
    unused = [name for name in graph.initializers if name not in live]
    for name in unused:
        del graph.initializers[name]
        graph.initializer_elems.pop(name, None)
    return {"removed_nodes": removed, "removed_initializers": len(unused)}
