"""Group normalization fusion (`passes/fuse_group_norm.py`): the exported Reshape ->
InstanceNormalization -> Reshape -> Mul -> Add chain becomes one GroupNorm that matches
onnxruntime and the unoptimised model; near misses stay apart."""

from __future__ import annotations

import numpy as np
import pytest

import hologram
import onnx
from hologram.compiler.compile import compile_model
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
C = 8


def _model(x_shape, groups: int = 2, gamma_shape=(C, 1, 1), *, back="shape", affine=True,
           target=None, seed: int = 0) -> onnx.ModelProto:  # fmt: skip
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(np.array(target or [0, groups, -1], np.int64), "target"),
        numpy_helper.from_array(rng.uniform(0.5, 2, groups).astype(np.float32), "s"),
        numpy_helper.from_array(rng.standard_normal(groups).astype(np.float32), "b"),
        numpy_helper.from_array(rng.standard_normal(gamma_shape).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.standard_normal(gamma_shape).astype(np.float32), "beta"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("InstanceNormalization", ["r", "s", "b"], ["i"], epsilon=1e-3),
    ]
    if back == "shape":
        nodes.append(helper.make_node("Shape", ["x"], ["xs"]))
        nodes.append(helper.make_node("Reshape", ["i", "xs"], ["n"]))
    else:
        inits.append(numpy_helper.from_array(np.array(back, np.int64), "back"))
        nodes.append(helper.make_node("Reshape", ["i", "back"], ["n"]))
    tail = "n"
    if affine:
        nodes.append(helper.make_node("Mul", ["n", "gamma"], ["m"]))
        nodes.append(helper.make_node("Add", ["beta", "m"], ["a"]))
        tail = "a"
    nodes.append(helper.make_node("Sigmoid", [tail], ["y"]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, x_shape)],
        [helper.make_tensor_value_info("y", F, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return onnx.shape_inference.infer_shapes(model)


def _check(model: onnx.ModelProto, x: np.ndarray, fused: int) -> None:
    """Compile with and without passes; both match onnxruntime; `fused` GroupNorm nodes."""
    ort = pytest.importorskip("onnxruntime")
    optimised = compile_model(model)
    plain = compile_model(model, optimize=False)
    assert sum(n.op_type == "GroupNorm" for n in optimised.graph.nodes) == fused
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    for compiled in (optimised, plain):
        for backend in ("reference", "cpu"):
            got = hologram.Model(compiled, backend).run({"x": x})["y"]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("x_shape", "groups", "gamma_shape", "back"),
    [
        ([2, C, 5, 6], 2, (C, 1, 1), "shape"),
        (["batch", C, 4, 4], 4, (1, C, 1, 1), "shape"),
        ([3, C, 7], 8, (C, 1), [3, C, 7]),
        ([1, C, 3, 2, 2], 1, (1,), "shape"),
    ],
)
def test_group_norm_chain_fuses(x_shape, groups, gamma_shape, back) -> None:
    rng = np.random.default_rng(groups)
    shape = [3 if isinstance(d, str) else d for d in x_shape]
    x = (2 * rng.standard_normal(shape) + 1).astype(np.float32)
    _check(_model(x_shape, groups, gamma_shape, back=back, seed=groups), x, fused=1)


def test_group_norm_without_affine_fuses() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, C, 3, 3)).astype(np.float32)
    _check(_model([2, C, 3, 3], affine=False, seed=5), x, fused=1)


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("reshape not into groups", {"target": [0, 2, 2, -1]}),
        ("reshape back elsewhere", {"back": [2, C, 9, 1]}),
    ],
)
def test_near_misses_stay_apart(case, kwargs) -> None:
    rng = np.random.default_rng(len(case))
    x = rng.standard_normal((2, C, 3, 3)).astype(np.float32)
    _check(_model([2, C, 3, 3], **kwargs), x, fused=0)


def test_gamma_along_the_width_stays_a_mul() -> None:
    """A Mul that is not per channel is left out: the normalization alone fuses."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, C, 3, 3)).astype(np.float32)
    model = _model([2, C, 3, 3], gamma_shape=(1, 1, 3), seed=3)
    _check(model, x, fused=1)
    assert any("gamma" in n.inputs for n in compile_model(model).graph.nodes)


def test_shared_intermediate_stays_apart() -> None:
    """The instance normalization's output is also a graph output: nothing fuses."""
    rng = np.random.default_rng(9)
    model = _model([2, C, 3, 3], seed=9)
    model.graph.output.append(helper.make_tensor_value_info("i", F, [2, 2, 36]))
    optimised = compile_model(model)
    assert not any(n.op_type == "GroupNorm" for n in optimised.graph.nodes)
    x = rng.standard_normal((2, C, 3, 3)).astype(np.float32)
    got = hologram.Model(optimised, "cpu").run({"x": x})
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for name, want in zip(("y", "i"), session.run(None, {"x": x}), strict=True):
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-5)
