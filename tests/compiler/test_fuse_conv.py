"""Convolution epilogue fusion (`passes/fuse_conv.py`): the patterns fuse into one FusedConv,
near misses stay apart, and every result matches onnxruntime and the unoptimised model."""

from __future__ import annotations

import numpy as np
import pytest

import hologram
import onnx
from hologram.compiler.compile import compile_model
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
K = 6


def _model(nodes, outputs, initializers, x_shape, extra_inputs=(), opset=17) -> onnx.ModelProto:
    inputs = [helper.make_tensor_value_info("x", F, x_shape), *extra_inputs]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    return onnx.shape_inference.infer_shapes(model)


def _conv_inits(rng, channels: int = 4, group: int = 1, filters: int = K) -> list:
    w = rng.standard_normal((filters, channels // group, 3, 3)).astype(np.float32)
    b = rng.standard_normal(filters).astype(np.float32)
    return [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]


def _conv(out: str = "c", group: int = 1, stride: int = 1) -> onnx.NodeProto:
    return helper.make_node(
        "Conv", ["x", "w", "b"], [out], pads=[1, 1, 1, 1], strides=[stride] * 2, group=group
    )


def _check(model: onnx.ModelProto, feeds: dict, fused: int) -> list:
    """Compile with and without passes; compare both and onnxruntime; the fused nodes."""
    ort = pytest.importorskip("onnxruntime")
    optimised = compile_model(model)
    plain = compile_model(model, optimize=False)
    got = hologram.Model(optimised, "cpu").run(feeds)
    want = hologram.Model(plain, "cpu").run(feeds)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    reference = session.run(None, feeds)
    for name, value in zip([o.name for o in model.graph.output], reference, strict=True):
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(got[name], want[name])
    nodes = [n for n in optimised.graph.nodes if n.op_type == "FusedConv"]
    assert len(nodes) == fused
    return nodes


ACTIVATIONS = [
    ("Relu", [], {}, "Relu", []),
    ("LeakyRelu", [], {"alpha": 0.2}, "LeakyRelu", [0.2]),
    ("Sigmoid", [], {}, "Sigmoid", []),
    ("Tanh", [], {}, "Tanh", []),
    ("Clip", ["lo", "hi"], {}, "Clip", [0.0, 6.0]),
]


@pytest.mark.parametrize("images", [1, 5])
@pytest.mark.parametrize(("op", "extra", "attrs", "name", "params"), ACTIVATIONS)
def test_conv_activation_fuses(images, op, extra, attrs, name, params) -> None:
    rng = np.random.default_rng(len(op) + images)
    inits = _conv_inits(rng)
    inits += [
        numpy_helper.from_array(np.float32(0), "lo"),
        numpy_helper.from_array(np.float32(6), "hi"),
    ]
    nodes = [_conv(), helper.make_node(op, ["c", *extra], ["y"], **attrs)]
    model = _model(nodes, [helper.make_tensor_value_info("y", F, None)], inits, [images, 4, 9, 7])
    x = (3 * rng.standard_normal((images, 4, 9, 7))).astype(np.float32)
    (node,) = _check(model, {"x": x}, fused=1)
    assert node.attrs["activation"] == name
    assert node.attrs["activation_params"] == pytest.approx(params)


@pytest.mark.parametrize(("images", "group", "stride"), [(1, 1, 1), (4, 1, 2), (3, 4, 1)])
def test_residual_add_and_relu_fuse(images, group, stride) -> None:
    """Conv -> Add(other) -> Relu, also at stride 2 and for a grouped (direct) convolution."""
    rng = np.random.default_rng(7 + images)
    channels = 4 * group if group > 1 else 4
    filters = channels if group > 1 else K
    inits = _conv_inits(rng, channels, group, filters)
    out_shape = [images, filters, 8 // stride, 6 // stride]
    nodes = [
        _conv(group=group, stride=stride),
        helper.make_node("Add", ["z", "c"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    z_info = helper.make_tensor_value_info("z", F, out_shape)
    model = _model(
        nodes,
        [helper.make_tensor_value_info("y", F, None)],
        inits,
        [images, channels, 8, 6],
        [z_info],
    )
    x = rng.standard_normal((images, channels, 8, 6)).astype(np.float32)
    z = rng.standard_normal(out_shape).astype(np.float32)
    (node,) = _check(model, {"x": x, "z": z}, fused=1)
    assert node.attrs["activation"] == "Relu"
    assert node.inputs[3] == "z"


def test_silu_fuses() -> None:
    rng = np.random.default_rng(3)
    nodes = [
        _conv(),
        helper.make_node("Sigmoid", ["c"], ["s"]),
        helper.make_node("Mul", ["c", "s"], ["y"]),
    ]
    model = _model(
        nodes, [helper.make_tensor_value_info("y", F, None)], _conv_inits(rng), [2, 4, 5, 5]
    )
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    (node,) = _check(model, {"x": x}, fused=1)
    assert node.attrs["activation"] == "SiLU"


def test_conv_output_also_a_graph_output_is_not_fused() -> None:
    rng = np.random.default_rng(4)
    nodes = [_conv(), helper.make_node("Relu", ["c"], ["y"])]
    outputs = [helper.make_tensor_value_info(n, F, None) for n in ("c", "y")]
    model = _model(nodes, outputs, _conv_inits(rng), [2, 4, 5, 5])
    _check(model, {"x": rng.standard_normal((2, 4, 5, 5)).astype(np.float32)}, fused=0)


def test_conv_output_read_twice_is_not_fused() -> None:
    rng = np.random.default_rng(5)
    nodes = [
        _conv(),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Neg", ["c"], ["n"]),
        helper.make_node("Add", ["r", "n"], ["y"]),
    ]
    model = _model(
        nodes, [helper.make_tensor_value_info("y", F, None)], _conv_inits(rng), [2, 4, 5, 5]
    )
    _check(model, {"x": rng.standard_normal((2, 4, 5, 5)).astype(np.float32)}, fused=0)


def test_broadcast_add_is_not_a_residual() -> None:
    """An Add of a per-channel constant broadcasts: neither it nor the Relu after it fuses."""
    rng = np.random.default_rng(6)
    inits = _conv_inits(rng) + [
        numpy_helper.from_array(rng.standard_normal((K, 1, 1)).astype(np.float32), "k")
    ]
    nodes = [
        _conv(),
        helper.make_node("Add", ["c", "k"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    model = _model(nodes, [helper.make_tensor_value_info("y", F, None)], inits, [2, 4, 5, 5])
    _check(model, {"x": rng.standard_normal((2, 4, 5, 5)).astype(np.float32)}, fused=0)


def test_clip_with_runtime_bounds_is_not_fused() -> None:
    rng = np.random.default_rng(8)
    nodes = [_conv(), helper.make_node("Clip", ["c", "lo"], ["y"])]
    lo = helper.make_tensor_value_info("lo", F, [])
    model = _model(
        nodes, [helper.make_tensor_value_info("y", F, None)], _conv_inits(rng), [2, 4, 5, 5], [lo]
    )
    feeds = {
        "x": rng.standard_normal((2, 4, 5, 5)).astype(np.float32),
        "lo": np.array(0.1, np.float32),
    }
    _check(model, feeds, fused=0)


def test_mul_by_sigmoid_of_another_value_is_not_silu() -> None:
    rng = np.random.default_rng(9)
    nodes = [
        _conv(),
        helper.make_node("Sigmoid", ["x2"], ["s"]),
        helper.make_node("Mul", ["c", "s"], ["y"]),
    ]
    x2 = helper.make_tensor_value_info("x2", F, [2, K, 5, 5])
    model = _model(
        nodes, [helper.make_tensor_value_info("y", F, None)], _conv_inits(rng), [2, 4, 5, 5], [x2]
    )
    feeds = {
        "x": rng.standard_normal((2, 4, 5, 5)).astype(np.float32),
        "x2": rng.standard_normal((2, K, 5, 5)).astype(np.float32),
    }
    _check(model, feeds, fused=0)
