"""`Model`: feed validation, symbolic dimensions, cached plans, guards, outputs as Buffers,
and the arena planner."""

from __future__ import annotations

import numpy as np
import pytest

import hologram
import onnx
from hologram.compiler.compile import compile_model
from hologram.compiler.memory import lifetimes
from hologram.errors import FeedError, HologramError, ModelError, UnsupportedOpError
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _add_relu(shape=("batch", 4)) -> onnx.ModelProto:
    return _model(
        [helper.make_node("Add", ["x", "y"], ["s"]), helper.make_node("Relu", ["s"], ["out"])],
        [
            helper.make_tensor_value_info("x", F, list(shape)),
            helper.make_tensor_value_info("y", F, [4]),
        ],
        [helper.make_tensor_value_info("out", F, list(shape))],
    )


@pytest.fixture(scope="module")
def model() -> hologram.Model:
    return hologram.Model(compile_model(_add_relu()), "cpu")


def test_inputs_and_outputs_keep_symbolic_dims(model: hologram.Model) -> None:
    assert model.inputs[0].name == "x"
    assert model.inputs[0].shape == ("batch", 4)
    assert model.inputs[0].dtype == np.float32
    assert model.outputs[0].shape == ("batch", 4)


@pytest.mark.parametrize("batch", [1, 5])
def test_runs_any_batch_and_replays(model: hologram.Model, batch: int) -> None:
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 4)).astype(np.float32)
    y = rng.standard_normal(4).astype(np.float32)
    first = model(x=x, y=y)["out"]
    np.testing.assert_allclose(first, np.maximum(x + y, 0))
    x2 = rng.standard_normal((batch, 4)).astype(np.float32)
    np.testing.assert_allclose(model(x=x2, y=y)["out"], np.maximum(x2 + y, 0))


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ({"x": np.zeros((2, 4), np.float32)}, "'y' is missing"),
        ({"x": np.zeros((2, 4), np.float32), "y": np.zeros(4, np.float32), "z": 1}, "unknown"),
        ({"x": np.zeros((2, 4), np.float64), "y": np.zeros(4, np.float32)}, "must be float32"),
        ({"x": np.zeros((2, 4, 1), np.float32), "y": np.zeros(4, np.float32)}, "rank 2"),
        ({"x": np.zeros((2, 5), np.float32), "y": np.zeros(4, np.float32)}, "dimension 1"),
    ],
)
def test_bad_feeds_name_the_input(model: hologram.Model, feeds: dict, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        model.run(feeds)


def test_symbolic_dim_must_agree_between_inputs() -> None:
    m = hologram.Model(
        compile_model(
            _model(
                [helper.make_node("Add", ["a", "b"], ["out"])],
                [
                    helper.make_tensor_value_info("a", F, ["n"]),
                    helper.make_tensor_value_info("b", F, ["n"]),
                ],
                [helper.make_tensor_value_info("out", F, ["n"])],
            )
        ),
        "cpu",
    )
    with pytest.raises(FeedError, match="'n'"):
        m.run({"a": np.zeros(3, np.float32), "b": np.zeros(4, np.float32)})


def test_guarded_shape_input_replans_when_it_changes() -> None:
    m = hologram.Model(
        compile_model(
            _model(
                [helper.make_node("Reshape", ["x", "shape"], ["out"])],
                [
                    helper.make_tensor_value_info("x", F, [12]),
                    helper.make_tensor_value_info("shape", TensorProto.INT64, [2]),
                ],
                [helper.make_tensor_value_info("out", F, [None, None])],
            )
        ),
        "cpu",
    )
    x = np.arange(12, dtype=np.float32)
    assert m.run({"x": x, "shape": np.array([3, 4])})["out"].shape == (3, 4)
    assert m.run({"x": x, "shape": np.array([3, 4])})["out"].shape == (3, 4)
    assert m.run({"x": x, "shape": np.array([6, 2])})["out"].shape == (6, 2)


def test_outputs_as_buffers_stay_with_the_executor(model: hologram.Model) -> None:
    x = np.ones((2, 4), np.float32)
    y = np.full(4, -0.5, np.float32)
    out = model.run({"x": x, "y": y}, as_buffers=True)["out"]
    assert isinstance(out, hologram.Buffer)
    np.testing.assert_allclose(out.to_numpy(), np.full((2, 4), 0.5, np.float32))


def test_static_plan_is_made_at_compile_time_and_arena_reuses_memory() -> None:
    rng = np.random.default_rng(7)
    nodes, previous = [], "x"
    for k in range(6):  # a chain of 6 Adds with a shared weight: no fusion across reads
        nodes.append(helper.make_node("Add", [previous, "w"], [f"t{k}"]))
        nodes.append(helper.make_node("Add", [f"t{k}", f"t{k}"], [f"u{k}"]))
        previous = f"u{k}"
    nodes.append(helper.make_node("Relu", [previous], ["out"]))
    w = rng.standard_normal(256).astype(np.float32)
    compiled = compile_model(
        _model(
            nodes,
            [helper.make_tensor_value_info("x", F, [256])],
            [helper.make_tensor_value_info("out", F, [256])],
            [numpy_helper.from_array(w, "w")],
        )
    )
    (plan,) = compiled.plans
    assert plan.arena_bytes < plan.naive_bytes
    spans = lifetimes(plan)
    for a, (first_a, last_a) in spans.items():  # overlapping lifetimes never share bytes
        for b, (first_b, last_b) in spans.items():
            if (
                a < b
                and a in plan.arena
                and b in plan.arena
                and first_a <= last_b
                and first_b <= last_a
            ):
                size_a = plan.tensors[a].nbytes
                size_b = plan.tensors[b].nbytes
                disjoint = (
                    plan.arena[a] + size_a <= plan.arena[b]
                    or plan.arena[b] + size_b <= plan.arena[a]
                )
                assert disjoint
    x = rng.standard_normal(256).astype(np.float32)
    expected = x
    for _ in range(6):
        expected = (expected + w) * 2
    got = hologram.Model(compiled, "cpu").run({"x": x})["out"]
    np.testing.assert_allclose(got, np.maximum(expected, 0), rtol=1e-5)


def test_unknown_op_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedOpError, match="NoSuchOp"):
        compile_model(_custom_domain_model(), check=False)


def _custom_domain_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("NoSuchOp", ["x"], ["out"], domain="example.domain")],
        "g",
        [helper.make_tensor_value_info("x", F, [2])],
        [helper.make_tensor_value_info("out", F, [2])],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.domain", 1)]
    )


@pytest.mark.parametrize("bad", [b"", b"not a model", 42])
def test_malformed_models_raise_model_error(bad: object) -> None:
    with pytest.raises(HologramError):
        compile_model(bad)


def test_checker_failure_is_a_model_error() -> None:
    broken = _add_relu()
    broken.graph.node[0].input[0] = ""  # Add with a missing required input
    with pytest.raises(ModelError):
        compile_model(broken)
