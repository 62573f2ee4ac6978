"""`Model.run` on a feed signature it has validated before: the same results as the first
run, fresh output arrays every run, and every check still made when the next feed differs."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import hologram
import onnx
from hologram.compiler.compile import compile_model
from hologram.errors import FeedError
from onnx import TensorProto, helper

F = TensorProto.FLOAT


def _gemm_model() -> onnx.ModelProto:
    """out = relu(x @ w + b), tanh(out) as a second output; x is [batch, 6]."""
    rng = np.random.default_rng(7)
    w = helper.make_tensor("w", F, [6, 5], rng.standard_normal(30).astype(np.float32))
    b = helper.make_tensor("b", F, [5], rng.standard_normal(5).astype(np.float32))
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["s"]),
        helper.make_node("Relu", ["s"], ["out"]),
        helper.make_node("Tanh", ["out"], ["t"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, ["batch", 6])],
        [
            helper.make_tensor_value_info("out", F, ["batch", 5]),
            helper.make_tensor_value_info("t", F, ["batch", 5]),
        ],
        [w, b],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _oracle(x: np.ndarray) -> dict[str, np.ndarray]:
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in _gemm_model().graph.initializer}
    out = np.maximum(x.astype(np.float64) @ inits["w"] + inits["b"], 0.0)
    return {"out": out, "t": np.tanh(out)}


@pytest.fixture(scope="module", params=["reference", "cpu"])
def model(request: pytest.FixtureRequest) -> hologram.Model:
    return hologram.Model(compile_model(_gemm_model()), request.param)


def _check(outputs: dict[str, np.ndarray], x: np.ndarray) -> None:
    expected = _oracle(x)
    assert set(outputs) == {"out", "t"}
    for name, want in expected.items():
        np.testing.assert_allclose(outputs[name], want, rtol=1e-5, atol=1e-6)
        assert outputs[name].dtype == np.float32


def test_repeated_runs_agree_with_the_oracle_and_return_fresh_arrays(model, rng):
    kept = []
    for batch in (3, 3, 3, 1, 3, 1):
        x = rng.standard_normal((batch, 6)).astype(np.float32)
        outputs = model.run({"x": x})
        _check(outputs, x)
        kept.append(({name: value.copy() for name, value in outputs.items()}, outputs))
    for copies, outputs in kept:  # no later run wrote into an earlier run's outputs
        for name, value in outputs.items():
            np.testing.assert_array_equal(value, copies[name])


def test_a_seen_signature_still_rejects_a_different_feed(model, rng):
    x = rng.standard_normal((2, 6)).astype(np.float32)
    for _ in range(3):
        _check(model.run({"x": x}), x)
    assert model._seen, "the signature was remembered"
    bad_feeds = [
        ({"x": x.astype(np.float64)}, "must be float32"),
        ({"x": x.astype(np.float16)}, "must be float32"),
        ({"x": x[:, :5].copy()}, "dimension 1 must be 6"),
        ({"x": x.reshape(2, 6, 1)}, "rank 2"),
        ({"x": x, "y": x}, "unknown input"),
        ({}, "'x' is missing"),
    ]
    for feeds, message in bad_feeds:
        with pytest.raises(FeedError, match=message):
            model.run(feeds)
        _check(model.run({"x": x}), x)  # and the seen signature still runs


def test_feeds_of_a_seen_signature_in_any_layout(model, rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    _check(model.run({"x": x}), x)
    fortran = np.asfortranarray(x)
    strided = rng.standard_normal((8, 6)).astype(np.float32)[::2]
    for feed in (fortran, strided, x.copy()):
        assert feed.shape == (4, 6)
        for _ in range(2):
            _check(model.run({"x": feed}), feed)
    buffer = model.executor.from_numpy(x)
    _check(model(x=buffer), x)
    as_buffers = model.run({"x": x}, as_buffers=True)
    np.testing.assert_allclose(as_buffers["out"].to_numpy(), _oracle(x)["out"], rtol=1e-5)


def _where_model() -> onnx.ModelProto:
    """out = where(c, cast(q), y): a bool input and a float8 input (stored as its bytes)."""
    nodes = [
        helper.make_node("Cast", ["q"], ["f"], to=F),
        helper.make_node("Where", ["c", "f", "y"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, ["n"]),
            helper.make_tensor_value_info("q", TensorProto.FLOAT8E4M3FN, ["n"]),
            helper.make_tensor_value_info("y", F, ["n"]),
        ],
        [helper.make_tensor_value_info("out", F, ["n"])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def test_bool_and_byte_coded_inputs_take_the_seen_path_too(rng):
    model = hologram.Model(compile_model(_where_model()), "cpu")
    for n in (5, 5, 5, 3):
        c = rng.random(n) < 0.5
        q = rng.standard_normal(n).astype(ml_dtypes.float8_e4m3fn)
        y = rng.standard_normal(n).astype(np.float32)
        got = model.run({"c": c, "q": q, "y": y})["out"]
        np.testing.assert_array_equal(got, np.where(c, q.astype(np.float32), y))
    assert model._seen, "the signature was remembered"
    with pytest.raises(FeedError, match="'q' must be float8_e4m3fn"):
        model.run({"c": c, "q": q.astype(np.float32), "y": y})
