"""Runs on a host backend allocate their outputs in the shape users get and skip the launch
checks for arrays they made themselves: every kind of output (reshaped views, copies of
inputs, byte-coded types) still comes back right, fresh and owned, and feeds the fast launches
cannot take (strided, unaligned) still run, checked."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import hologram
import onnx
from hologram.compiler.compile import compile_model
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def _outputs_model() -> onnx.ModelProto:
    """From x [n]: r = relu(x) * 2 as [n, 1] (a view of the product), the input itself, the
    product as float8 (stored as its bytes) and the product squared."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Mul", ["a", "two"], ["m"]),
        helper.make_node("Reshape", ["m", "column"], ["r"]),
        helper.make_node("Identity", ["x"], ["same"]),
        helper.make_node("Cast", ["m"], ["q"], to=TensorProto.FLOAT8E4M3FN),
        helper.make_node("Mul", ["m", "m"], ["s"]),
    ]
    graph = helper.make_graph(
        nodes,
        "outputs",
        [helper.make_tensor_value_info("x", F, ["n"])],
        [
            helper.make_tensor_value_info("r", F, ["n", 1]),
            helper.make_tensor_value_info("same", F, ["n"]),
            helper.make_tensor_value_info("q", TensorProto.FLOAT8E4M3FN, ["n"]),
            helper.make_tensor_value_info("s", F, ["n"]),
        ],
        [
            numpy_helper.from_array(np.array(2.0, np.float32), "two"),
            numpy_helper.from_array(np.array([-1, 1], np.int64), "column"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def _oracle(x: np.ndarray) -> dict[str, np.ndarray]:
    m = np.maximum(x.astype(np.float64), 0.0) * 2.0
    return {
        "r": m.reshape(-1, 1),
        "same": x.astype(np.float64),
        "q": m.astype(np.float32).astype(ml_dtypes.float8_e4m3fn),
        "s": m * m,
    }


@pytest.fixture(scope="module", params=["reference", "cpu"])
def model(request: pytest.FixtureRequest) -> hologram.Model:
    return hologram.Model(compile_model(_outputs_model()), request.param)


def _check(outputs: dict[str, np.ndarray], x: np.ndarray) -> None:
    for name, want in _oracle(x).items():
        got = outputs[name]
        assert got.shape == want.shape and got.flags.c_contiguous and got.flags.writeable
        if name == "q":
            assert got.dtype == ml_dtypes.float8_e4m3fn
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
        else:
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_every_kind_of_output_comes_back_fresh(model, rng) -> None:
    runs = []
    for n in (7, 7, 7, 7, 1, 7):
        x = rng.standard_normal(n).astype(np.float32)
        outputs = model.run({"x": x})
        _check(outputs, x)
        assert not np.shares_memory(outputs["same"], x)  # an output never views a feed
        runs.append((outputs, {name: value.copy() for name, value in outputs.items()}))
    assert model._seen, "the repeated signature took the validated path"
    if model.backend == "cpu":  # its runs of plain feeds took the launches without checks
        runner = next(iter(model._seen.values())).runner
        assert any(a is not b for a, b in zip(runner._unchecked, runner._steps, strict=True))
    for outputs, copies in runs:  # no later run wrote into an earlier run's outputs
        for name, value in outputs.items():
            np.testing.assert_array_equal(value.view(np.uint8), copies[name].view(np.uint8))
    latest = runs[-1][0]
    for name, value in latest.items():
        for other, value2 in latest.items():
            if name != other:
                assert not np.shares_memory(value, value2)


def test_feeds_the_fast_launches_cannot_take_still_run(model, rng) -> None:
    n = 9
    x = rng.standard_normal(n).astype(np.float32)
    _check(model.run({"x": x}), x)
    strided = rng.standard_normal(2 * n).astype(np.float32)[::2]
    raw = bytearray(4 * n + 1)
    unaligned = np.frombuffer(raw, np.float32, count=n, offset=1)
    unaligned[:] = rng.standard_normal(n).astype(np.float32)
    assert not strided.flags.c_contiguous and not unaligned.flags.aligned
    for feed in (strided, unaligned, x, strided, unaligned):
        for _ in range(2):
            _check(model.run({"x": feed}), feed)
