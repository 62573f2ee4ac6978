"""Graph passes, run in order by `run_passes` before planning.

Each pass is a function `(graph, opsets) -> dict` that rewrites the graph in place and
returns what it did (counts for the compile report). Passes keep the graph's meaning exactly:
every rewrite is checked against the unoptimised graph in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hologram.compiler.graph import Graph
from hologram.compiler.passes.dead_nodes import remove_dead_nodes
from hologram.compiler.passes.fold_batchnorm import fold_batchnorm
from hologram.compiler.passes.fold_constants import fold_constants
from hologram.compiler.passes.fuse_attention import fuse_attention
from hologram.compiler.passes.fuse_conv import fuse_conv
from hologram.compiler.passes.fuse_elementwise import fuse_elementwise
from hologram.compiler.passes.fuse_group_norm import fuse_group_norm
from hologram.compiler.passes.fuse_matmul_epilogue import fuse_matmul_epilogue
from hologram.compiler.passes.fuse_norm_activation import fuse_norm_activation
from hologram.compiler.passes.simplify import simplify
from hologram.compiler.passes.strength_reduce import strength_reduce

Pass = Callable[[Graph, dict[str, int]], dict[str, Any]]

PASSES: list[tuple[str, Pass]] = [
    ("dead_nodes", remove_dead_nodes),
    ("simplify", simplify),
    ("fold_batchnorm", fold_batchnorm),
    ("fold_constants", fold_constants),
    ("strength_reduce", strength_reduce),
    ("fuse_conv", fuse_conv),
    ("fuse_group_norm", fuse_group_norm),
    ("fuse_norm_activation", fuse_norm_activation),
    ("fuse_elementwise", fuse_elementwise),
    ("fuse_attention", fuse_attention),
    ("fuse_matmul_epilogue", fuse_matmul_epilogue),
    ("dead_nodes_after", remove_dead_nodes),
]


def run_passes(
    graph: Graph, opsets: dict[str, int], progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run every pass on `graph`; the report of each, by name. `progress(f"pass {name}")`
    is called as each pass starts."""
    report = {}
    for name, run in PASSES:
        if progress is not None:
            progress(f"pass {name}")
        report[name] = run(graph, opsets)
    return report
