"""Models for the `.holo` model tests: small ONNX models, a compiled model that uses every
kind of value the manifest can hold, and a structural comparison of compiled models."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import ml_dtypes
import numpy as np

import onnx
from hologram.compiler.compile import CompiledModel, compile_model
from hologram.compiler.graph import Graph
from hologram.compiler.plan import GuardStep
from hologram.isa.encoding import to_bytes
from hologram.isa.program import Program
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 10
"""An IR version every onnxruntime of the last years reads."""


def tiny_onnx(batch: int | str = 2) -> onnx.ModelProto:
    """y = reshape(relu(x + w), [-1, 2]) as [3*batch/2, 2] and s = shape(relu(x + w)),
    through Identity: the ops that exist in every build (Add, Relu, Reshape, Shape, Identity)."""
    rows = batch * 3 // 2 if isinstance(batch, int) else "rows"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, 2])
    s = helper.make_tensor_value_info("s", TensorProto.INT64, [2])
    weight = np.linspace(-1.0, 1.0, 3, dtype=np.float32)
    nodes = [
        helper.make_node("Add", ["x", "w"], ["a"], name="add"),
        helper.make_node("Relu", ["a"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["s"], name="shape"),
        helper.make_node("Reshape", ["r", "new_shape"], ["y0"], name="reshape"),
        helper.make_node("Identity", ["y0"], ["y"], name="identity"),
    ]
    initializers = [
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.array([-1, 2], np.int64), "new_shape"),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y, s], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def tiny_oracle(x: np.ndarray) -> dict[str, np.ndarray]:
    """What `tiny_onnx` computes, in float64 NumPy."""
    weight = np.linspace(-1.0, 1.0, 3)
    relu = np.maximum(x.astype(np.float64) + weight, 0.0)
    return {"y": relu.reshape(-1, 2), "s": np.array(relu.shape, np.int64)}


def _branch(name: str, op: str, output: str) -> onnx.GraphProto:
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, ["n", None])
    return helper.make_graph([helper.make_node(op, ["x"], [output])], name, [], [out])


def every_value_graph() -> Graph:
    """A graph holding every kind of attribute and tensor the manifest stores: nested
    subgraphs (an If inside an If branch), attribute tensors of byte-coded, bfloat16, int4,
    bool, string and empty types, special floats, value types, and symbolic dimensions."""
    rng = np.random.default_rng(7)
    inner_if = helper.make_node(
        "If", ["c"], ["inner"], then_branch=_branch("deep_then", "Relu", "inner"),
        else_branch=_branch("deep_else", "Neg", "inner"),
    )  # fmt: skip
    then_graph = helper.make_graph(
        [inner_if], "then", [], [helper.make_tensor_value_info("inner", TensorProto.FLOAT, None)]
    )
    float8 = rng.standard_normal((2, 3)).astype(ml_dtypes.float8_e4m3fn)
    sequence = helper.make_sequence_type_proto(
        helper.make_tensor_type_proto(TensorProto.FLOAT, ["n"])
    )
    custom = helper.make_node(
        "Custom", ["x"], ["z"], domain="test.domain", name="custom",
        f8=numpy_helper.from_array(float8, "f8"),
        bf16=numpy_helper.from_array(rng.standard_normal(4).astype(ml_dtypes.bfloat16), "bf16"),
        i4=numpy_helper.from_array(np.array([-8, 7, 0, 3], ml_dtypes.int4), "i4"),
        flags=numpy_helper.from_array(np.array([True, False, True]), "flags"),
        words=helper.make_tensor("words", TensorProto.STRING, [2], [b"caf\xc3\xa9", b""]),
        empty=numpy_helper.from_array(np.zeros((0, 3), np.float32), "empty"),
        scalar=numpy_helper.from_array(np.array(math.pi), "scalar"),
        many=[numpy_helper.from_array(np.arange(k, dtype=np.int32), f"t{k}") for k in range(3)],
        floats=[1.5, float("nan"), float("inf"), -float("inf"), -0.0],
        ints=[1, -2, 2**62], strings=["a", "b\u00e9"], alpha=0.25, count=-3, mode="fast",
        element_type=sequence, types=[sequence, helper.make_tensor_type_proto(1, [None, "k"])],
        bodies=[_branch("b0", "Relu", "u"), _branch("b1", "Abs", "u")],
    )  # fmt: skip
    outer_if = helper.make_node(
        "If", ["c"], ["picked"], then_branch=then_graph,
        else_branch=_branch("else", "Sigmoid", "inner"),
    )  # fmt: skip
    graph = helper.make_graph(
        [custom, outer_if],
        "every_value",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("picked", TensorProto.FLOAT, ["batch", None])],
        [numpy_helper.from_array(rng.standard_normal((3, 3)).astype(np.float16), "h"),
         numpy_helper.from_array(np.arange(5, dtype=np.uint64), "u")],
        value_info=[helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
    )  # fmt: skip
    converted = Graph.from_onnx(graph)
    # Raw bytes that are not UTF-8: what a pass may leave in a string tensor.
    converted.nodes[0].attrs["raw"] = np.array([[b"\xff\x00", b"ok"]], dtype=object)
    return converted


def every_value_model() -> CompiledModel:
    """`every_value_graph` with the tiny model's static plan (plus a guard) and metadata
    holding every JSON type."""
    tiny = compile_model(tiny_onnx())
    plan = tiny.plans[0]
    x_tensor = plan.inputs["x"]
    plan.steps.append(GuardStep(x_tensor, np.arange(6, dtype=np.float32), "guard on x"))
    metadata = {
        **tiny.metadata,
        "notes": {"list": [1, 2.5, "three", None, True], "empty": {}},
    }
    return CompiledModel(every_value_graph(), {"": OPSET, "test.domain": 1}, [plan], metadata)


# ---------------------------------------------------------------- comparison
def assert_same(left: Any, right: Any, path: str = "model") -> None:
    """Assert that `left` and `right` are the same value, field by field: arrays by dtype,
    shape and bytes, floats bit for bit (NaN equals NaN), types exactly, programs by their
    binary encoding."""
    assert type(left) is type(right), f"{path}: {type(left).__name__} vs {type(right).__name__}"
    if isinstance(left, np.ndarray):
        assert left.dtype == right.dtype, f"{path}: dtype {left.dtype} vs {right.dtype}"
        assert left.shape == right.shape, f"{path}: shape {left.shape} vs {right.shape}"
        if left.dtype.kind == "O":
            assert left.tolist() == right.tolist(), f"{path}: items differ"
        else:
            assert left.tobytes() == right.tobytes(), f"{path}: bytes differ"
    elif isinstance(left, Program):
        assert to_bytes(left) == to_bytes(right), f"{path}: programs differ"
    elif isinstance(left, float):
        same_bits = np.float64(left).tobytes() == np.float64(right).tobytes()
        assert same_bits, f"{path}: {left} vs {right}"
    elif isinstance(left, dict):
        assert list(left) == list(right), f"{path}: keys {list(left)} vs {list(right)}"
        for key in left:
            assert_same(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right), f"{path}: length {len(left)} vs {len(right)}"
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_same(a, b, f"{path}[{index}]")
    elif dataclasses.is_dataclass(left):
        for item in dataclasses.fields(left):
            assert_same(getattr(left, item.name), getattr(right, item.name), f"{path}.{item.name}")
    else:
        assert left == right, f"{path}: {left!r} vs {right!r}"
