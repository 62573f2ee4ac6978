"""`hologram.compile`: an ONNX model in, a `CompiledModel` (and a `.holo` file) out.

The passes, in order: import (read, check, convert, infer shapes); graph passes (dead code,
simplification, fusion: `compiler.passes`); then, when every input shape is known, the static
plan: every node lowered to ISA kernels for those shapes, constants folded, temporaries
placed in one arena. Models with symbolic dimensions (a dynamic batch) keep their graph, and
the runtime makes a plan per concrete shape at its first run with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hologram.compiler.graph import Graph, ValueInfo
from hologram.compiler.memory import plan_arena
from hologram.compiler.plan import Plan
from hologram.compiler.planner import NeedsRuntimeValue, Planner

PRODUCER = "hologram"


@dataclass
class CompiledModel:
    """What a `.holo` model holds: the optimised graph and the plans made ahead of time."""

    graph: Graph
    opsets: dict[str, int]
    plans: list[Plan] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    """Producer, versions, the source model's producer, the passes' report."""
    weight_quality: Any = None
    """For a model read from a file with HoloTensor weights, what their decoding reached
    (`hologram.artifact.model_holo.WeightQuality`); None otherwise."""
    holotensor: Any = None
    """For such a model, the decoders its weights came from, which `Model.refine` continues
    (`hologram.artifact.model_holo.ProgressiveWeights`); None otherwise."""

    @property
    def inputs(self) -> list[ValueInfo]:
        return self.graph.inputs

    @property
    def outputs(self) -> list[ValueInfo]:
        return self.graph.outputs


def static_input_types(graph: Graph) -> dict[str, Any] | None:
    """Each input's (elem, shape) when all are tensors of known shape; else None."""
    found: dict[str, Any] = {}
    for info in graph.inputs:
        kind, shape = info.type.kind, info.type.shape
        if kind != "tensor" or shape is None or not all(isinstance(d, int) for d in shape):
            return None
        found[info.name] = (info.type.elem, tuple(shape))
    return found


def compile_model(
    model: Any,
    output: str | os.PathLike[str] | None = None,
    *,
    optimize: bool = True,
    check: bool = True,
    progress: Callable[[str], None] | None = None,
    holotensor: str | None = None,
    fragments: int | None = None,
) -> CompiledModel:
    """Compile an ONNX model (path, bytes or ModelProto); write it to `output` if given.

    `optimize=False` skips the graph passes (the plan is still made). `progress(stage)` is
    called as each stage starts: `import`, `pass <name>` per graph pass, `plan`, and `write`
    when there is an output. `holotensor="bitplane"` writes the float weights as HoloTensor
    fragments (`fragments` per tensor), which `hologram.load(path, quality=...)` decodes
    progressively; it needs an `output`. Raises ModelError for a malformed model and
    UnsupportedOpError for an op hologram does not implement.
    """
    from hologram import __version__
    from hologram.compiler.passes import run_passes
    from hologram.onnx.importer import load_onnx

    if holotensor is not None and output is None:
        from hologram.errors import ArtifactError

        raise ArtifactError("holotensor weights are a file format: give an output path")
    started = time.perf_counter()
    if progress is not None:
        progress("import")
    graph, opsets, proto = load_onnx(model, check=check)
    report: dict[str, Any] = {"nodes_in": len(graph.nodes)}
    if optimize:
        report["passes"] = run_passes(graph, opsets, progress)
    report["nodes_out"] = len(graph.nodes)
    compiled = CompiledModel(graph, opsets)
    types = static_input_types(graph)
    if progress is not None:
        progress("plan")
    if types is not None:
        try:
            plan = Planner(opsets).plan_graph(graph, types)
        except NeedsRuntimeValue as why:
            report["static_plan"] = f"none: {why}"
        else:
            plan_arena(plan)
            compiled.plans.append(plan)
            report["static_plan"] = "made"
            report["launches"] = sum(1 for s in plan.steps if hasattr(s, "program"))
            report["arena_bytes"] = plan.arena_bytes
            report["naive_bytes"] = plan.naive_bytes
    else:
        report["static_plan"] = "none: some input dimension is symbolic"
    report["seconds"] = round(time.perf_counter() - started, 3)
    compiled.metadata = {
        "producer": PRODUCER,
        "hologram_version": __version__,
        "source_producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "ir_version": int(proto.ir_version),
        "report": report,
    }
    if output is not None:
        from hologram.artifact.model import write_model

        if progress is not None:
            progress("write")
        write_model(compiled, output, holotensor, fragments)
    return compiled


compile = compile_model  # noqa: A001 - `hologram.compile` is the public name
