"""`Model.refine`: a model loaded at a low quality refined in place, on every backend, to what
a fresh load at the higher target gives, bit for bit, reading only the fragments not read."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from digits_mlp import digits, forward
from test_model_integration import BATCH, mlp_onnx

import hologram
from hologram.artifact.model import read_model
from hologram.errors import ArtifactError, RefineError

onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def artifacts(trained_mlp, tmp_path_factory):
    """(HoloTensor .holo, the same with a symbolic batch, plain .holo, test inputs, labels)."""
    folder = tmp_path_factory.mktemp("refine")
    model = mlp_onnx(trained_mlp)
    held, dynamic, plain = folder / "held.holo", folder / "dynamic.holo", folder / "plain.holo"
    hologram.compile(model, output=held, holotensor="bitplane")
    hologram.compile(model, output=plain)
    proto = onnx.load_from_string(model)
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    hologram.compile(proto.SerializeToString(), output=dynamic, holotensor="bitplane")
    _, _, x, y = digits()
    count = len(x) // BATCH * BATCH
    return held, dynamic, plain, x[:count], y[:count]


def run_all(model: hologram.Model, x: np.ndarray) -> np.ndarray:
    """The logits of every batch of `x`."""
    (name,) = (info.name for info in model.outputs)
    return np.concatenate(
        [model.run({"x": x[i : i + BATCH]})[name] for i in range(0, len(x), BATCH)]
    )


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(logits.argmax(axis=1) == y))


def test_refine_matches_a_fresh_load(artifacts, trained_mlp, backend_name, rng):
    held, _, _, x, y = artifacts
    low, high = rng.uniform(0.86, 0.93), rng.uniform(0.985, 0.995)
    model = hologram.load(held, backend_name, quality=low)
    before = run_all(model, x)
    assert model.quality.lowest >= low and not model.quality.exact

    reached = model.refine(quality=high)
    fresh = hologram.load(held, backend_name, quality=high)
    assert reached is model.quality and reached.lowest >= high
    assert reached.tensors == fresh.quality.tensors
    after = run_all(model, x)
    np.testing.assert_array_equal(after, run_all(fresh, x))

    model.refine()  # every fragment: the compiled weights, bit for bit
    exact = run_all(model, x)
    np.testing.assert_array_equal(exact, run_all(hologram.load(held, backend_name), x))
    assert model.quality.exact and model.quality.quality == 1.0
    oracle = forward({k: v.astype(np.float64) for k, v in trained_mlp.items()}, x)
    np.testing.assert_allclose(exact, oracle, rtol=1e-4, atol=1e-4)
    # Each refinement moves the logits toward the oracle's, and accuracy does not fall.
    distances = [np.linalg.norm(out - oracle) for out in (before, after, exact)]
    assert distances[0] > distances[1] > distances[2]
    assert accuracy(before, y) <= accuracy(after, y) + 0.01 <= accuracy(exact, y) + 0.02
    assert accuracy(exact, y) == accuracy(oracle, y)


def test_refine_reads_only_fragments_not_read(artifacts, rng):
    held, *_ = artifacts
    first, then = sorted(rng.choice(np.arange(1, 9), size=2, replace=False))
    model = hologram.load(held, "reference", fragments=int(first))
    progressive = model.compiled.holotensor
    tensors = len(model.quality.tensors)
    assert progressive.fragments_read == tensors * first

    model.refine(fragments=int(then))
    fresh = hologram.load(held, "reference", fragments=int(then)).compiled.holotensor
    assert progressive.fragments_read == tensors * then
    assert progressive.bytes_read == fresh.bytes_read
    assert all(t.fragments == then for t in model.quality.tensors.values())

    model.refine()
    full = read_model(held).holotensor
    assert progressive.fragments_read == full.fragments_read == tensors * 9
    assert progressive.bytes_read == full.bytes_read
    assert progressive.complete and model.refine().exact  # nothing is left to read


def test_a_lower_target_changes_nothing(artifacts, rng):
    held, _, _, x, _ = artifacts
    model = hologram.load(held, "cpu", quality=0.99)
    before = run_all(model, x)
    weights = {n: a.copy() for n, a in model.compiled.holotensor.arrays.items()}
    tables = dict(model.quality.tensors)
    read = model.compiled.holotensor.fragments_read
    for target in ({"quality": float(rng.uniform(0.5, 0.98))}, {"fragments": 1}, {"quality": 0.99}):
        assert model.refine(**target).tensors == tables
    assert model.compiled.holotensor.fragments_read == read
    for name, array in model.compiled.holotensor.arrays.items():
        assert array.tobytes() == weights[name].tobytes()
    np.testing.assert_array_equal(run_all(model, x), before)


def test_plans_made_at_run_time_see_the_refined_weights(artifacts, rng):
    _, dynamic, _, x, _ = artifacts
    rows = int(rng.integers(3, 40))
    feed = {"x": x[:rows]}
    model = hologram.load(dynamic, "cpu", fragments=3)
    (name,) = (info.name for info in model.outputs)
    before = model.run(feed)[name]
    model.refine(fragments=6)
    np.testing.assert_array_equal(
        model.run(feed)[name], hologram.load(dynamic, "cpu", fragments=6).run(feed)[name]
    )
    assert not np.array_equal(model.run(feed)[name], before)


def test_refine_before_any_run_and_on_a_read_model(artifacts):
    held, _, _, x, _ = artifacts
    expected = run_all(hologram.load(held, "reference", quality=0.98), x)
    unrun = hologram.load(held, "reference", quality=0.9)
    unrun.refine(quality=0.98)
    np.testing.assert_array_equal(run_all(unrun, x), expected)
    read = hologram.Model(read_model(held, quality=0.9), "reference")
    read.refine(quality=0.98)
    np.testing.assert_array_equal(run_all(read, x), expected)


def test_runs_never_see_half_refined_weights(artifacts):
    held, _, _, x, _ = artifacts
    batch = {"x": x[:BATCH]}
    levels = range(2, 10)
    name = hologram.load(held, "reference").outputs[0].name
    expected = [hologram.load(held, "reference", fragments=k).run(batch)[name] for k in levels]
    model = hologram.load(held, "reference", fragments=levels[0])
    seen: list[np.ndarray] = []
    stop = threading.Event()

    def keep_running() -> None:
        while not stop.is_set():
            seen.append(model.run(batch)[name])

    runner = threading.Thread(target=keep_running)
    runner.start()
    try:
        for k in levels[1:]:
            model.refine(fragments=k)
    finally:
        stop.set()
        runner.join()
    seen.append(model.run(batch)[name])
    # Every run saw one whole refinement level, and later runs never an earlier level.
    matches = [[i for i, e in enumerate(expected) if np.array_equal(out, e)] for out in seen]
    assert all(len(m) == 1 for m in matches)
    order = [m[0] for m in matches]
    assert order == sorted(order) and order[-1] == len(levels) - 1


def test_refine_needs_holotensor_weights(artifacts, trained_mlp):
    held, _, plain, *_ = artifacts
    with pytest.raises(RefineError, match="not HoloTensor fragments"):
        hologram.load(plain, "reference").refine()
    in_memory = hologram.Model(hologram.compile(mlp_onnx(trained_mlp)), "reference")
    with pytest.raises(RefineError):
        in_memory.refine(quality=0.99)
    model = hologram.load(held, "reference", quality=0.9)
    with pytest.raises(ArtifactError, match="quality"):
        model.refine(quality=1.5)
    with pytest.raises(ArtifactError, match="not both"):
        model.refine(quality=0.99, fragments=3)
    with pytest.raises(ArtifactError, match="fragments"):
        model.refine(fragments=0)
