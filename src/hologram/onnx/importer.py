"""Importing ONNX models: read the protobuf (and its external data), check it, infer shapes.

`load_onnx` accepts a path, bytes, or a `ModelProto`, validates it with `onnx.checker`,
converts models older than the oldest opset hologram implements with onnx's version
converter, and runs onnx's shape inference so that intermediate values carry their types.
Every failure is a ModelError naming the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx
from hologram.compiler.graph import Graph
from hologram.errors import ModelError
from onnx import ModelProto

MIN_OPSET = 7
"""Models of an older default-domain opset are converted to this one first."""


def read_model(model: Any) -> tuple[ModelProto, str | None]:
    """The `ModelProto` of a path, bytes or proto, and the folder its external data is in."""
    if isinstance(model, ModelProto):
        return model, None
    if isinstance(model, (bytes, bytearray, memoryview)):
        try:
            return onnx.load_from_string(bytes(model)), None
        except Exception as exc:
            raise ModelError(f"the bytes given are not an ONNX model: {exc}") from exc
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"{path}: no such ONNX model file")
        try:
            proto = onnx.load(str(path), load_external_data=True)
        except Exception as exc:
            raise ModelError(f"{path}: cannot be read as an ONNX model: {exc}") from exc
        return proto, str(path.parent)
    raise ModelError(f"expected a path, bytes or an onnx.ModelProto, got {type(model).__name__}")


def opsets_of(proto: ModelProto) -> dict[str, int]:
    """Domain -> opset version imported by the model ("" is the default domain)."""
    found = {
        ("" if o.domain == "ai.onnx" else o.domain): int(o.version) for o in proto.opset_import
    }
    found.setdefault("", MIN_OPSET)
    return found


def load_onnx(model: Any, check: bool = True) -> tuple[Graph, dict[str, int], ModelProto]:
    """Read, check, convert and shape-infer a model; its graph IR, opsets and proto."""
    proto, base_dir = read_model(model)
    if check:
        try:
            onnx.checker.check_model(proto)
        except Exception as exc:
            raise ModelError(f"model {proto.graph.name!r} fails onnx.checker: {exc}") from exc
    if opsets_of(proto)[""] < MIN_OPSET:
        try:
            proto = onnx.version_converter.convert_version(proto, MIN_OPSET)
        except Exception as exc:
            version = opsets_of(proto)[""]
            raise ModelError(
                f"model {proto.graph.name!r} uses opset {version}, which cannot be converted: {exc}"
            ) from exc
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception:
        inferred = proto  # inference is advisory: the planner computes every shape itself
    graph = Graph.from_onnx(inferred.graph, base_dir)
    return graph, opsets_of(proto), inferred
