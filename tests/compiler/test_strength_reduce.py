"""Strength reduction of `Pow` by constant exponents: the rewritten model matches
onnx.reference (bit for bit where the rewrite is exact), the `Pow` is gone where promised
and stays where the rewrite would change meaning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
import onnx
from hologram.compiler.compile import compile_model
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def _pow_model(
    base_elem: int, exponent: np.ndarray | None, shape: list[int], tanh: bool = True
) -> onnx.ModelProto:
    """`out = tanh(x ** e) + x` (or `x ** e + x`): the Pow sits inside an elementwise tree,
    as in GPT's GELU. `exponent=None` makes `e` a graph input."""
    nodes = [helper.make_node("Pow", ["x", "e"], ["p"])]
    if tanh:
        nodes.append(helper.make_node("Tanh", ["p"], ["t"]))
        nodes.append(helper.make_node("Add", ["t", "x"], ["out"]))
    else:
        nodes.append(helper.make_node("Add", ["p", "x"], ["out"]))
    inputs = [helper.make_tensor_value_info("x", base_elem, shape)]
    initializers = []
    if exponent is None:
        inputs.append(helper.make_tensor_value_info("e", F, []))
    else:
        initializers.append(numpy_helper.from_array(exponent, "e"))
    out_shape = np.broadcast_shapes(tuple(shape), () if exponent is None else exponent.shape)
    outputs = [helper.make_tensor_value_info("out", base_elem, list(out_shape))]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _op_types(compiled) -> list[str]:
    """Op types of the compiled graph, fused elementwise steps included."""
    found = []
    for node in compiled.graph.nodes:
        found.append(node.op_type)
        if node.op_type == "FusedElementwise":
            found.extend(step["op"] for step in json.loads(node.attrs["steps"]))
    return found


def _run(model: onnx.ModelProto, feeds: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
    compiled = compile_model(model)
    got = hologram.Model(compiled, "cpu").run(feeds)["out"]
    want = ReferenceEvaluator(model).run(None, feeds)[0]
    return got, want, _op_types(compiled)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [1.0, 2.0, -1.0])
def test_exact_exponents_are_reduced_bit_for_bit(dtype: type, c: float) -> None:
    rng = np.random.default_rng(int(c * 10) + 17)
    x = rng.standard_normal((4, 33)).astype(dtype)
    x[0, :6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30]
    elem = F if dtype is np.float32 else TensorProto.DOUBLE
    model = _pow_model(elem, np.array(c, dtype), [4, 33], tanh=False)
    with np.errstate(invalid="ignore"):
        got, want, ops = _run(model, {"x": x})
    assert "Pow" not in ops
    with np.errstate(all="ignore"):
        # x ** 1, x ** 2 and x ** -1 are exact or single correctly rounded operations, as
        # IEEE pow must give them.
        expected = {1.0: x, 2.0: np.square(x), -1.0: np.reciprocal(x)}[c] + x
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("c", [3.0, 4.0])
def test_cube_and_fourth_power_are_reduced(dtype: type, c: float) -> None:
    rng = np.random.default_rng(int(c) + 100)
    x = (rng.standard_normal((3, 5, 17)) * 2).astype(dtype)
    elem = {np.float32: F, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16}
    got, want, ops = _run(_pow_model(elem[dtype], np.array(c, np.float32), [3, 5, 17]), {"x": x})
    assert "Pow" not in ops
    assert ops.count("Mul") == 2
    oracle = np.tanh(x.astype(np.float64) ** c) + x.astype(np.float64)
    rtol = {np.float32: 1e-6, np.float64: 1e-14, np.float16: 2e-3}[dtype]
    np.testing.assert_allclose(got, oracle, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got, want, rtol=rtol * 2, atol=rtol * 2)


def test_float64_exponent_with_float32_base() -> None:
    """Pow of a float32 base by a float64 exponent computes in float64: the reduced x*x
    rounds once to float32 just the same."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 40)).astype(np.float32)
    model = _pow_model(F, np.array(2.0, np.float64), [2, 40], tanh=False)
    got, want, ops = _run(model, {"x": x})
    assert "Pow" not in ops
    np.testing.assert_array_equal(got, (x.astype(np.float64) ** 2).astype(np.float32) + x)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_one_element_exponent_of_rank_one_is_reduced() -> None:
    rng = np.random.default_rng(12)
    x = rng.standard_normal((6, 7)).astype(np.float32)
    got, want, ops = _run(_pow_model(F, np.array([3.0], np.float32), [6, 7]), {"x": x})
    assert "Pow" not in ops
    assert got.shape == want.shape == (6, 7)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_one_element_exponent_widening_a_scalar_base_is_kept() -> None:
    """x of shape [] ** e of shape [1, 1] has shape [1, 1]: a Mul chain would lose that."""
    x = np.array(1.7, np.float32)
    got, want, ops = _run(_pow_model(F, np.array([[2.0]], np.float32), []), {"x": x})
    assert "Pow" in ops
    assert got.shape == want.shape == (1, 1)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize(
    "exponent",
    [np.array(0.5, np.float32), np.array(2.5, np.float32), np.array([2.0, 3.0], np.float32)],
    ids=["half", "fraction", "two_elements"],
)
def test_other_constant_exponents_are_kept(exponent: np.ndarray) -> None:
    rng = np.random.default_rng(13)
    x = np.abs(rng.standard_normal((3, 2))).astype(np.float32)
    got, want, ops = _run(_pow_model(F, exponent, [3, 2]), {"x": x})
    assert "Pow" in ops
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_computed_exponent_is_kept() -> None:
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    feeds = {"x": x, "e": np.array(2.0, np.float32)}
    got, want, ops = _run(_pow_model(F, None, [3, 4]), feeds)
    assert "Pow" in ops
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_integer_base_is_kept() -> None:
    rng = np.random.default_rng(15)
    x = rng.integers(-50, 50, size=(5, 6)).astype(np.int32)
    model = _pow_model(TensorProto.INT32, np.array(3, np.int32), [5, 6], tanh=False)
    got, want, ops = _run(model, {"x": x})
    assert "Pow" in ops
    np.testing.assert_array_equal(got, want)


def test_pow_by_one_that_is_a_graph_output_is_kept() -> None:
    node = helper.make_node("Pow", ["x", "e"], ["out"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", F, [4])],
        [helper.make_tensor_value_info("out", F, [4])],
        [numpy_helper.from_array(np.array(1.0, np.float32), "e")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(16).standard_normal(4).astype(np.float32)
    got, want, ops = _run(model, {"x": x})
    assert ops == ["Pow"]
    np.testing.assert_array_equal(got, want)


def test_gpt_gelu_cube_is_reduced() -> None:
    """GPT-2's tanh-GELU reads `x ** 3` twice (two layers): both become products."""
    path = Path(__file__).parents[1] / "models" / "data" / "gpt.onnx"
    compiled = compile_model(str(path))
    assert compiled.metadata["report"]["passes"]["strength_reduce"] == {"pow_reduced": 2}
    assert not any("Pow" in json.dumps(node.attrs, default=str) for node in compiled.graph.nodes)
    assert "Pow" not in _op_types(compiled)
