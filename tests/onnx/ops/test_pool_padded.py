"""MaxPool and AveragePool from a padded input (`onnx/ops/_pool_padded.py`): padding
(asymmetric, larger than the window's reach), strides (the constant-width rows at stride 1,
the strided loop otherwise), dilation, ceil mode, `count_include_pad`, wide windows, 1-D and
2-D windows, several images, float32 and float64; the Indices output of MaxPool in both
storage orders, which keeps the element-by-element kernel. Each runs on the cpu and
reference backends, which must agree, against onnxruntime (onnx's reference evaluator for
float64 AveragePool, which onnxruntime lacks)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
import onnx
from hologram.compiler.compile import compile_model
from onnx import TensorProto, helper

BACKENDS = ("cpu", "reference")


def _pool_model(op: str, x_shape, dtype: int, attrs: dict, outputs: int = 1) -> onnx.ModelProto:
    names = ["y", "i"][:outputs]
    node = helper.make_node(op, ["x"], names, **attrs)
    inputs = [helper.make_tensor_value_info("x", dtype, x_shape)]
    outs = [helper.make_tensor_value_info("y", dtype, None)]
    if outputs == 2:
        outs.append(helper.make_tensor_value_info("i", TensorProto.INT64, None))
    graph = helper.make_graph([node], "g", inputs, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
    return onnx.shape_inference.infer_shapes(model)


def _want(model: onnx.ModelProto, feeds: dict) -> list:
    if feeds["x"].dtype == np.float64 and model.graph.node[0].op_type == "AveragePool":
        return ReferenceEvaluator(model).run(None, feeds)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _check(model: onnx.ModelProto, feeds: dict) -> list[str]:
    """Both backends against the oracle; the kernel names of the plan's launches."""
    compiled = compile_model(model)
    want = _want(model, feeds)
    results = []
    for backend in BACKENDS:
        got = list(hologram.Model(compiled, backend).run(feeds).values())
        assert len(got) == len(want)
        for mine, theirs in zip(got, want, strict=True):
            assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
            np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
        results.append(got)
    for mine, theirs in zip(*results, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    (plan,) = compiled.plans
    programs = [plan.programs[step.program] for step in plan.steps if hasattr(step, "program")]
    return [program.name.split("__")[0] for program in programs]


CASES = {
    "2x2 stride 2": ((2, 3, 12, 16), dict(kernel_shape=[2, 2], strides=[2, 2])),
    "3x3 stride 2 pads 1": (
        (2, 4, 11, 13),
        dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
    ),
    "3x3 stride 1 pads 1": ((3, 2, 9, 10), dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    "asymmetric pads": ((2, 3, 8, 9), dict(kernel_shape=[3, 2], pads=[0, 1, 2, 1])),
    "stride 2x1": ((1, 3, 10, 7), dict(kernel_shape=[3, 3], strides=[2, 1], pads=[1, 0, 1, 2])),
    "stride 3": ((2, 2, 13, 14), dict(kernel_shape=[3, 3], strides=[3, 3], pads=[1, 1, 1, 1])),
    "dilation 2": ((2, 3, 11, 12), dict(kernel_shape=[3, 3], dilations=[2, 2], pads=[2] * 4)),
    "dilated and strided": (
        (1, 2, 12, 15),
        dict(kernel_shape=[2, 3], dilations=[1, 2], strides=[2, 2], pads=[1, 2, 0, 1]),
    ),  # fmt: skip
    "ceil mode": ((2, 3, 10, 11), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "ceil mode, pads": (
        (1, 2, 9, 8),
        dict(kernel_shape=[2, 3], strides=[2, 3], pads=[1, 1, 0, 1], ceil_mode=1),
    ),  # fmt: skip
    "wide window": ((2, 2, 9, 20), dict(kernel_shape=[2, 6], strides=[1, 1], pads=[0, 2, 0, 3])),
    "wide stride": ((1, 3, 8, 30), dict(kernel_shape=[2, 5], strides=[1, 5])),
    "1-D": ((3, 4, 17), dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    "1-D stride 1": ((2, 2, 23), dict(kernel_shape=[4], pads=[2, 1])),
    "same upper": ((2, 3, 7, 9), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    "long rows in chunks": ((1, 2, 40, 70), dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool(case: str, dtype, rng: np.random.Generator) -> None:
    shape, attrs = CASES[case]
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    x = rng.standard_normal(shape).astype(dtype)
    kernels = _check(_pool_model("MaxPool", shape, elem, attrs), {"x": x})
    assert "onnx_pool_padded" in kernels


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("include_pad", [0, 1])
def test_average_pool(case: str, include_pad: int, rng: np.random.Generator) -> None:
    shape, attrs = CASES[case]
    attrs = {**attrs, "count_include_pad": include_pad}
    x = rng.standard_normal(shape).astype(np.float32)
    kernels = _check(_pool_model("AveragePool", shape, TensorProto.FLOAT, attrs), {"x": x})
    assert "onnx_pool_padded" in kernels


def test_average_pool_float64(rng: np.random.Generator) -> None:
    shape, attrs = CASES["ceil mode, pads"]
    attrs = {**attrs, "count_include_pad": 1}
    x = rng.standard_normal(shape)
    kernels = _check(_pool_model("AveragePool", shape, TensorProto.DOUBLE, attrs), {"x": x})
    assert "onnx_pool_padded" in kernels


def test_max_pool_padding_never_wins(rng: np.random.Generator) -> None:
    """Negative inputs and border windows that see mostly padding: the max comes from the
    input (padding reads as -inf, not 0)."""
    shape = (2, 2, 5, 6)
    x = -np.abs(rng.standard_normal(shape)).astype(np.float32) - 1
    attrs = dict(kernel_shape=[3, 3], pads=[2, 2, 2, 2], strides=[1, 2])
    kernels = _check(_pool_model("MaxPool", shape, TensorProto.FLOAT, attrs), {"x": x})
    assert "onnx_pool_padded" in kernels


@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("case", ["3x3 stride 2 pads 1", "ceil mode", "dilation 2"])
def test_max_pool_indices(case: str, storage_order: int, rng: np.random.Generator) -> None:
    """With the Indices output MaxPool keeps its element-by-element kernel (positions of
    the first maximum, row- or column-major)."""
    shape, attrs = CASES[case]
    attrs = {**attrs, "storage_order": storage_order}
    x = rng.standard_normal(shape).astype(np.float32)
    model = _pool_model("MaxPool", shape, TensorProto.FLOAT, attrs, outputs=2)
    kernels = _check(model, {"x": x})
    assert "onnx_max_pool_indices" in kernels
