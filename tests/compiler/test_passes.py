"""Graph passes keep meaning: each optimised model matches the same model compiled without
passes, and the rewrite it promises happened."""

from __future__ import annotations

import numpy as np
import pytest

import hologram
import onnx
from hologram.compiler.compile import compile_model
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run_both(model: onnx.ModelProto, feeds: dict) -> tuple[dict, dict, object]:
    optimised = compile_model(model)
    plain = compile_model(model, optimize=False)
    got = hologram.Model(optimised, "cpu").run(feeds)
    want = hologram.Model(plain, "cpu").run(feeds)
    return got, want, optimised


def test_elementwise_chain_fuses_into_one_kernel() -> None:
    rng = np.random.default_rng(1)
    bias = rng.standard_normal(5).astype(np.float32)
    model = _model(
        [
            helper.make_node("Add", ["x", "b"], ["s"]),
            helper.make_node("Relu", ["s"], ["r"]),
            helper.make_node("Add", ["r", "y"], ["t"]),
            helper.make_node("Relu", ["t"], ["out"]),
        ],
        [helper.make_tensor_value_info("x", F, [3, 5]), helper.make_tensor_value_info("y", F, [5])],
        [helper.make_tensor_value_info("out", F, [3, 5])],
        [numpy_helper.from_array(bias, "b")],
    )
    x = rng.standard_normal((3, 5)).astype(np.float32)
    y = rng.standard_normal(5).astype(np.float32)
    got, want, compiled = _run_both(model, {"x": x, "y": y})
    assert [n.op_type for n in compiled.graph.nodes] == ["FusedElementwise"]
    assert compiled.metadata["report"]["launches"] == 1
    expected = np.maximum(np.maximum(x + bias, 0) + y, 0)
    np.testing.assert_allclose(got["out"], expected, rtol=1e-6)
    np.testing.assert_array_equal(got["out"], want["out"])


def test_shared_intermediate_is_not_fused_away() -> None:
    """A value read twice stays materialised: fusing it would compute it twice or lose it."""
    rng = np.random.default_rng(2)
    model = _model(
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("Add", ["r", "r"], ["out"]),
            helper.make_node("Relu", ["r"], ["other"]),
        ],
        [helper.make_tensor_value_info("x", F, [8])],
        [
            helper.make_tensor_value_info("out", F, [8]),
            helper.make_tensor_value_info("other", F, [8]),
        ],
    )
    x = rng.standard_normal(8).astype(np.float32)
    got, want, compiled = _run_both(model, {"x": x})
    np.testing.assert_allclose(got["out"], 2 * np.maximum(x, 0))
    np.testing.assert_array_equal(got["other"], want["other"])
    assert len(compiled.graph.nodes) == 3


def test_identity_and_reshape_chain_are_simplified() -> None:
    rng = np.random.default_rng(3)
    model = _model(
        [
            helper.make_node("Identity", ["x"], ["i"]),
            helper.make_node("Reshape", ["i", "s1"], ["r1"]),
            helper.make_node("Reshape", ["r1", "s2"], ["out"]),
        ],
        [helper.make_tensor_value_info("x", F, [2, 6])],
        [helper.make_tensor_value_info("out", F, [3, 4])],
        [numpy_helper.from_array(np.array([12], np.int64), "s1"),
         numpy_helper.from_array(np.array([3, 4], np.int64), "s2")],
    )  # fmt: skip
    x = rng.standard_normal((2, 6)).astype(np.float32)
    got, want, compiled = _run_both(model, {"x": x})
    assert [n.op_type for n in compiled.graph.nodes] == ["Reshape"]
    np.testing.assert_array_equal(got["out"], x.reshape(3, 4))
    assert compiled.metadata["report"]["launches"] == 0, "a reshape is a view"


def test_batchnorm_folds_into_conv() -> None:
    rng = np.random.default_rng(4)
    c_in, c_out = 3, 4
    weights = rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32)
    params = {
        "scale": rng.uniform(0.5, 2, c_out), "beta": rng.standard_normal(c_out),
        "mean": rng.standard_normal(c_out), "var": rng.uniform(0.5, 2, c_out),
    }  # fmt: skip
    model = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node(
                "BatchNormalization", ["c", "scale", "beta", "mean", "var"], ["out"], epsilon=1e-3
            ),
        ],  # fmt: skip
        [helper.make_tensor_value_info("x", F, [1, c_in, 6, 6])],
        [helper.make_tensor_value_info("out", F, [1, c_out, 6, 6])],
        [numpy_helper.from_array(weights, "w")]
        + [numpy_helper.from_array(v.astype(np.float32), k) for k, v in params.items()],
    )
    x = rng.standard_normal((1, c_in, 6, 6)).astype(np.float32)
    got, want, compiled = _run_both(model, {"x": x})
    assert "BatchNormalization" not in [n.op_type for n in compiled.graph.nodes]
    assert compiled.metadata["report"]["passes"]["fold_batchnorm"]["folded"] == 1
    np.testing.assert_allclose(got["out"], want["out"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimize", [True, False])
def test_dead_nodes_are_removed(optimize: bool) -> None:
    model = _model(
        [helper.make_node("Relu", ["x"], ["out"]), helper.make_node("Relu", ["x"], ["unused"])],
        [helper.make_tensor_value_info("x", F, [4])],
        [helper.make_tensor_value_info("out", F, [4])],
    )
    compiled = compile_model(model, optimize=optimize)
    assert len(compiled.graph.nodes) == (1 if optimize else 2)
