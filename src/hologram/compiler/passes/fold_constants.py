"""Constant folding: nodes whose inputs are all initializers are computed at compile time.

Each such node is lowered and run like any other (its kernels, on the `reference` backend:
see `Planner.fold_node`), its outputs become initializers, and the node is removed. Folding
runs in graph order, so whole subgraphs of constants collapse: weight transposes, the
BatchNorm parameters that `fold_batchnorm` left, shape arithmetic on constant shapes.
Random ops (not pure) and nodes with subgraphs stay; so do results larger than
`MAX_FOLDED_ELEMENTS`, which would swell the artifact more than they save.
"""

from __future__ import annotations

from typing import Any

from hologram.compiler import types
from hologram.compiler.context import TensorRef
from hologram.compiler.graph import Graph, subgraphs
from hologram.compiler.planner import Planner
from hologram.errors import HologramError
from hologram.onnx import registry

MAX_FOLDED_ELEMENTS = 1 << 24


def fold_constants(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Fold the constant nodes of `graph` (not of its subgraphs); counts for the report."""
    outputs = {v.name for v in graph.outputs}
    planner = Planner(opsets)
    folded = 0
    kept = []
    for node in graph.nodes:
        if not _foldable(graph, node, opsets):
            kept.append(node)
            continue
        inputs = [
            planner.constant_ref(graph.initializers[name], graph.initializer_elems[name])
            if name
            else None
            for name in node.inputs
        ]
        try:
            results = planner.fold_node(node, inputs)
        except HologramError:
            kept.append(node)  # the planner meets the same error at run time, with context
            continue
        refs = [ref for ref in results if ref is not None]
        if not all(isinstance(ref, TensorRef) for ref in refs) or any(
            ref.size > MAX_FOLDED_ELEMENTS for ref in refs
        ):
            kept.append(node)
            continue
        if any(name in outputs for name in node.outputs):
            kept.append(node)
            continue
        for name, ref in zip(node.outputs, results, strict=True):
            if name and isinstance(ref, TensorRef):
                graph.initializers[name] = ref.value
                graph.initializer_elems[name] = ref.elem
                graph.value_types.pop(name, None)
        folded += 1
    graph.nodes[:] = kept
    return {"folded_nodes": folded}


def _foldable(graph: Graph, node: Any, opsets: dict[str, int]) -> bool:
    if subgraphs(node):
        return False
    if not all(name == "" or name in graph.initializers for name in node.inputs):
        return False
    if any(graph.initializer_elems.get(name) == types.STRING for name in node.inputs):
        return False
    domain = node.domain
    try:
        entry = registry.lookup(node.op_type, domain, opsets.get(domain, opsets.get("", 1)))
    except HologramError:
        return False
    return entry.pure
