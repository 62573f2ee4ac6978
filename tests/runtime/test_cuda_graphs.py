"""Whole-plan CUDA graphs: compiled models replayed from one captured graph per input shape
give onnxruntime's outputs and the step-by-step run's, read new feeds on every replay, and
plans that cannot be captured (guards, backends without graphs) launch step by step.
The GPU tests skip with the reason where CuPy or a CUDA device is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hologram
from hologram import Executor
from hologram.backends import availability
from hologram.compiler.compile import compile_model
from hologram.compiler.plan import GuardStep
from hologram.config import reload_settings
from hologram.runtime.plan_runner import PlanRunner, graphs_supported
from onnx import TensorProto, helper, numpy_helper

DATA = Path(__file__).resolve().parent.parent / "models" / "data"
TOLERANCE = 1e-4
_OK, _REASON = availability("cuda")
needs_cuda = pytest.mark.skipif(not _OK, reason=f"backend 'cuda' is not available: {_REASON}")


def _tiny_plan(seed: int):
    """y = relu(x + w) for x of shape [2, 3]: one plan, and the weights w."""
    w = np.random.default_rng(seed).standard_normal((2, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return compile_model(model).plans[0], w


def _feeds(model: hologram.Model, batch: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in model.inputs:
        shape = tuple(batch if isinstance(d, str) else d for d in info.shape)
        if np.issubdtype(info.dtype, np.integer):
            feeds[info.name] = rng.integers(0, 1000, size=shape).astype(info.dtype)
        else:
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
    return feeds


def _relative_l2(got: np.ndarray, want: np.ndarray) -> float:
    want64 = want.astype(np.float64)
    return float(np.linalg.norm(got.astype(np.float64) - want64) / np.linalg.norm(want64))


def _stepped(model: hologram.Model, feeds: dict, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """`model`'s output for `feeds` with graphs off (for plans first run now)."""
    monkeypatch.setenv("HOLOGRAM_CUDA_GRAPHS", "0")
    reload_settings()
    try:
        return model.run(feeds)["output"]
    finally:
        monkeypatch.delenv("HOLOGRAM_CUDA_GRAPHS")
        reload_settings()


def _runners(model: hologram.Model) -> list[PlanRunner]:
    return list(model._runners.values())


# ---------------------------------------------------------------- host side
def test_backend_without_capture_launches_step_by_step() -> None:
    plan, w = _tiny_plan(1)
    executor = Executor("cpu")
    assert not graphs_supported(executor.backend, plan)
    runner = PlanRunner(plan, executor, graphs=True)
    assert not runner.uses_graph
    x = np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)
    natives = runner.run({"x": x.reshape(-1)})
    got = runner.output_array(natives, plan.output_ids()[0])
    np.testing.assert_allclose(got, np.maximum(x.astype(np.float64) + w, 0), rtol=1e-6)
    assert runner.graph is None


# ---------------------------------------------------------------- on the GPU
@needs_cuda
def test_guarded_plan_is_not_captured() -> None:
    plan, w = _tiny_plan(3)
    x = np.random.default_rng(4).standard_normal(6).astype(np.float32)
    plan.steps.append(GuardStep(plan.inputs["x"], x.copy(), "guard on x"))
    executor = Executor("cuda")
    assert not graphs_supported(executor.backend, plan)
    runner = PlanRunner(plan, executor, graphs=True)
    natives = runner.run({"x": x})
    got = runner.output_array(natives, plan.output_ids()[0])
    np.testing.assert_allclose(got.reshape(-1), np.maximum(x + w.reshape(-1), 0), rtol=1e-6)
    assert not runner.uses_graph and runner.graph is None


@needs_cuda
def test_tiny_plan_replays_new_feeds() -> None:
    plan, w = _tiny_plan(5)
    runner = PlanRunner(plan, Executor("cuda"), graphs=True)
    assert runner.uses_graph
    rng = np.random.default_rng(6)
    for _ in range(3):
        x = rng.standard_normal(6).astype(np.float32)
        got = runner.output_array(runner.run({"x": x}), plan.output_ids()[0])
        np.testing.assert_allclose(got.reshape(-1), np.maximum(x + w.reshape(-1), 0), rtol=1e-6)
    assert runner.graph is not None


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("graphs")
    paths = {}
    for name in ("mlp", "resnet", "bert", "gpt"):
        paths[name] = folder / f"{name}.holo"
        hologram.compile(DATA / f"{name}.onnx", output=paths[name])
    return paths


@needs_cuda
@pytest.mark.parametrize("name", ["mlp", "resnet", "bert", "gpt"])
def test_model_graphs_match_step_by_step_and_onnxruntime(
    name: str, compiled: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(DATA / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    graphed = hologram.load(compiled[name], backend="cuda")
    stepped = hologram.load(compiled[name], backend="cuda")
    first = None
    for batch, seed in ((2, 21), (2, 22), (3, 23), (2, 24)):
        feeds = _feeds(graphed, batch, seed)
        want = session.run(None, feeds)[0]
        got = graphed.run(feeds)["output"]
        plain = _stepped(stepped, feeds, monkeypatch)
        assert not any(runner.uses_graph for runner in _runners(stepped))
        assert got.shape == want.shape
        assert _relative_l2(got, want) < TOLERANCE, f"{name} batch {batch} seed {seed}"
        assert _relative_l2(got, plain) < TOLERANCE, f"{name} batch {batch} seed {seed}"
        np.testing.assert_array_equal(graphed.run(feeds)["output"], got)  # a second replay
        if first is None:
            first = got
        elif got.shape == first.shape:
            assert not np.array_equal(got, first), "a replay must read the new feeds"
    runners = _runners(graphed)
    assert len(runners) == 2, "one plan, and one graph, per input shape"
    assert all(r.uses_graph and r.graph is not None for r in runners)
    assert runners[0].graph is not runners[1].graph
