"""`Model.run` with Buffer feeds: the same outputs as NumPy feeds (after a NumPy run and as the
very first run), outputs kept as Buffers, clear FeedErrors for wrong Buffers, and fresh
results when a fed Buffer changes between runs.

Besides every backend available here, two device stand-ins run the device paths of the plan
runner on the reference backend: "device-like" (`is_host = False`: feeds are bound as they
are, outputs are the run's own buffers) and "device-like-graph" (which also "captures" a
plan as its launches replayed in order: feeds are copied into fixed input buffers with
`copy_device`, outputs copied out of fixed output buffers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hologram
import onnx
from hologram import Buffer, Executor
from hologram.backends import availability, backend_class, backend_names
from hologram.compiler.compile import compile_model
from hologram.config import settings
from hologram.errors import AllocationError, FeedError, HologramError
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
DATA = Path(__file__).resolve().parent.parent / "models" / "data"
DEVICE_LIKE = ("device-like", "device-like-graph")
BACKENDS = (
    "reference",
    "cpu",
    *(n for n in backend_names() if n not in ("reference", "cpu")),
    *DEVICE_LIKE,
)


class _Replay:
    """A "graph" of a host backend: the captured launches, run again in order."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.replay = work


def _device_like(graphs: bool) -> Any:
    class DeviceLike(backend_class("reference")):  # type: ignore[misc, valid-type]
        is_host = False

    class DeviceLikeGraph(DeviceLike):
        def capture_graph(self, work: Callable[[], None]) -> _Replay:
            return _Replay(work)

    return (DeviceLikeGraph if graphs else DeviceLike)()


@pytest.fixture(params=BACKENDS)
def executor(request: pytest.FixtureRequest) -> Executor:
    """An executor of each backend available here, and of the two device stand-ins."""
    name: str = request.param
    if name in DEVICE_LIKE:
        name, graphs = "reference", name.endswith("graph")
    else:
        graphs = None
    try:
        ok, reason = availability(name)
    except HologramError as exc:
        ok, reason = False, str(exc)
    if not ok:
        pytest.skip(f"backend {name!r} is not available: {reason}")
    return Executor(_device_like(graphs) if graphs is not None else name)


def _affine(batch: int | str, seed: int) -> tuple[onnx.ModelProto, np.ndarray]:
    """out = relu(x @ w + b), x of shape [batch, 4], and bias = Identity(b): an output whose
    memory is an input's. Returns the model and the weights w."""
    w = np.random.default_rng(seed).standard_normal((4, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"]),
            helper.make_node("Add", ["m", "b"], ["s"]),
            helper.make_node("Relu", ["s"], ["out"]),
            helper.make_node("Identity", ["b"], ["bias"]),
        ],
        "affine",
        [
            helper.make_tensor_value_info("x", F, [batch, 4]),
            helper.make_tensor_value_info("b", F, [3]),
        ],
        [
            helper.make_tensor_value_info("out", F, [batch, 3]),
            helper.make_tensor_value_info("bias", F, [3]),
        ],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, w


def _oracle(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(x.astype(np.float64) @ w.astype(np.float64) + b, 0)


def _feeds(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {
        "x": rng.standard_normal((batch, 4)).astype(np.float32),
        "b": rng.standard_normal(3).astype(np.float32),
    }


def _on(executor: Executor, feeds: dict[str, np.ndarray]) -> dict[str, Buffer]:
    return {name: executor.from_numpy(value) for name, value in feeds.items()}


def _host(value: Any) -> np.ndarray:
    return value.to_numpy() if isinstance(value, Buffer) else value


def _check(outputs: dict[str, Any], feeds: dict[str, np.ndarray], w: np.ndarray) -> None:
    np.testing.assert_allclose(
        _host(outputs["out"]), _oracle(feeds["x"], w, feeds["b"]), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(_host(outputs["bias"]), feeds["b"])


@pytest.mark.parametrize("batch", [2, "batch"])
def test_buffer_feeds_after_numpy_feeds(executor: Executor, rng, batch) -> None:
    model_proto, w = _affine(batch, 1)
    model = hologram.Model(compile_model(model_proto), executor)
    feeds = _feeds(rng, 2)
    plain = model.run(feeds)
    _check(plain, feeds, w)
    for _ in range(2):  # the second run of a seen signature takes the quick path
        got = model.run(_on(executor, feeds))
        for name in ("out", "bias"):
            assert isinstance(got[name], np.ndarray)
            np.testing.assert_array_equal(got[name], plain[name])
    fresh = _feeds(rng, 2)
    _check(model.run(_on(executor, fresh)), fresh, w)


@pytest.mark.parametrize("batch", [2, "batch"])
@pytest.mark.parametrize("as_buffers", [False, True])
def test_buffer_feeds_as_the_first_run(executor: Executor, rng, batch, as_buffers) -> None:
    """A fixed shape runs the plan made at compile time; a symbolic one plans at run time."""
    model_proto, w = _affine(batch, 2)
    compiled = compile_model(model_proto)
    feeds = _feeds(rng, 2)
    got = hologram.Model(compiled, executor).run(_on(executor, feeds), as_buffers=as_buffers)
    _check(got, feeds, w)
    plain = hologram.Model(compiled, executor).run(feeds)
    for name in ("out", "bias"):
        np.testing.assert_allclose(_host(got[name]), plain[name], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("batch", [2, "batch"])
def test_outputs_stay_buffers_and_are_the_runs_own(executor: Executor, rng, batch) -> None:
    model_proto, w = _affine(batch, 3)
    model = hologram.Model(compile_model(model_proto), executor)
    kept = []
    for _ in range(4):  # the first run plans or binds, later ones replay
        feeds = _feeds(rng, 2)
        buffers = _on(executor, feeds)
        for source in (feeds, buffers):
            got = model.run(source, as_buffers=True)
            for name, shape in (("out", (2, 3)), ("bias", (3,))):
                assert isinstance(got[name], Buffer)
                assert got[name].backend is executor.backend
                assert got[name].shape == shape
                assert got[name].dtype.numpy == np.float32
            _check(got, feeds, w)
            # On host backends the Buffers share the arrays' memory: keep the values.
            kept.append((got, {name: value.copy() for name, value in feeds.items()}))
        # An output that is an input's memory is a copy: changing the feed leaves it be.
        buffers["b"].copy_from(np.zeros(3, np.float32))
        np.testing.assert_array_equal(got["bias"].to_numpy(), kept[-1][1]["b"])
    for got, feeds in kept:  # later runs (a graph's replays) left earlier outputs alone
        _check(got, feeds, w)
    if callable(getattr(executor.backend, "capture_graph", None)) and settings().cuda_graphs:
        assert [runner.graph is not None for runner in model._runners.values()] == [True]


def test_mutated_buffer_gives_fresh_results(executor: Executor, rng) -> None:
    model_proto, w = _affine(2, 4)
    model = hologram.Model(compile_model(model_proto), executor)
    feeds = _feeds(rng, 2)
    buffers = _on(executor, feeds)
    for as_buffers in (False, True, False, True):
        _check(model.run(buffers, as_buffers=as_buffers), feeds, w)
        feeds = _feeds(rng, 2)
        buffers["x"].copy_from(feeds["x"])
        buffers["b"].copy_from(feeds["b"])
    _check(model.run(buffers), feeds, w)


def _wrong(kind: str, ex: Executor, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
    """`feeds` as Buffers, one of them wrong in the way `kind` names."""
    wrong = _on(ex, feeds)
    if kind == "dtype":
        wrong["x"] = ex.from_numpy(feeds["x"].astype(np.float64))
    elif kind == "dims":
        wrong["b"] = ex.from_numpy(feeds["b"][:2])
    elif kind == "rank":
        wrong["x"] = ex.from_numpy(feeds["x"].reshape(-1))
    elif kind == "backend":
        wrong["x"] = Executor(_device_like(False)).from_numpy(feeds["x"])
    else:
        wrong["b"].free()
    return wrong


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("dtype", r"input 'x' must be float32, got float64"),
        ("dims", r"input 'b': dimension 0 must be 3, got 2"),
        ("rank", r"input 'x' must have rank 2"),
        ("backend", r"input 'x' is a Buffer of backend 'reference'"),
        ("freed", r"input 'b' is a Buffer that was freed"),
    ],
)
@pytest.mark.parametrize("seen", [False, True])
def test_wrong_buffers_raise_feed_error_naming_the_input(
    executor: Executor, rng, kind, message, seen
) -> None:
    model_proto, _ = _affine(2, 5)
    model = hologram.Model(compile_model(model_proto), executor)
    feeds = _feeds(rng, 2)
    if seen:  # the signature's quick path must not take a wrong Buffer either
        model.run(_on(executor, feeds))
    with pytest.raises(FeedError, match=message):
        model.run(_wrong(kind, executor, feeds))


def test_buffer_of_another_host_backend_is_refused(rng) -> None:
    for name in ("reference", "cpu"):
        ok, reason = availability(name)
        if not ok:
            pytest.skip(f"backend {name!r} is not available: {reason}")
    model_proto, _ = _affine(2, 6)
    model = hologram.Model(compile_model(model_proto), "cpu")
    feeds = _feeds(rng, 2)
    with pytest.raises(FeedError, match=r"'x' is a Buffer of backend 'reference'.*'cpu'"):
        model.run({**feeds, "x": Executor("reference").from_numpy(feeds["x"])})


def test_cuda_arrays_are_fed_without_a_copy_or_refused_on_host(rng) -> None:
    cupy = pytest.importorskip("cupy")
    ok, reason = availability("cuda")
    if not ok:
        pytest.skip(f"backend 'cuda' is not available: {reason}")
    model_proto, w = _affine("batch", 7)
    compiled = compile_model(model_proto)
    feeds = _feeds(rng, 3)
    device = {name: cupy.asarray(value) for name, value in feeds.items()}
    model = hologram.Model(compiled, "cuda")
    for _ in range(3):
        got = model.run(device, as_buffers=True)
        _check(got, feeds, w)
        assert isinstance(got["out"], Buffer)
    strided = cupy.asarray(feeds["x"].T.copy()).T
    assert not strided.flags.c_contiguous
    _check(model.run({"x": strided, "b": device["b"]}), feeds, w)
    with pytest.raises(FeedError, match=r"'x' is in CUDA device memory"):
        hologram.Model(compiled, "cpu").run(device)


def test_torch_cuda_tensors_are_fed(rng) -> None:
    torch = pytest.importorskip("torch")
    ok, reason = availability("cuda")
    if not ok:
        pytest.skip(f"backend 'cuda' is not available: {reason}")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    model_proto, w = _affine(2, 8)
    model = hologram.Model(compile_model(model_proto), "cuda")
    for _ in range(3):
        feeds = _feeds(rng, 2)
        device = {name: torch.from_numpy(value).cuda() for name, value in feeds.items()}
        got = model.run(device, as_buffers=True)
        _check(got, feeds, w)
        out = torch.as_tensor(got["out"], device="cuda")  # back to torch without a copy
        np.testing.assert_allclose(out.cpu().numpy(), got["out"].to_numpy())


def test_copy_device_checks_its_range() -> None:
    backend = _device_like(False)
    target, source = np.zeros(4, np.float32), np.arange(3, dtype=np.float32)
    backend.copy_device(target, source, source.nbytes)
    np.testing.assert_array_equal(target, [0, 1, 2, 0])
    with pytest.raises(AllocationError, match="overruns"):
        backend.copy_device(source, target, target.nbytes)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("device_feeds") / "mlp.holo"
    hologram.compile(DATA / "mlp.onnx", output=path)
    return path


def test_zoo_mlp_buffer_feeds_match_onnxruntime(executor: Executor, mlp, rng) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(DATA / "mlp.onnx"), providers=["CPUExecutionProvider"])
    model = hologram.load(mlp, backend=executor)
    (info,) = model.inputs
    for batch in (1, 3, 3):
        shape = tuple(batch if isinstance(d, str) else d for d in info.shape)
        x = rng.standard_normal(shape).astype(info.dtype)
        want = session.run(None, {info.name: x})[0]
        got = model.run({info.name: executor.from_numpy(x)}, as_buffers=True)["output"]
        assert isinstance(got, Buffer)
        np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-4, atol=1e-5)
        plain = model.run({info.name: x})["output"]
        np.testing.assert_allclose(plain, got.to_numpy(), rtol=1e-6, atol=1e-7)
