"""`.holo` models with HoloTensor weights: `hologram.compile(..., holotensor="bitplane")` and
`hologram.load(path, quality=... | fragments=...)`, on an MLP trained on the digits data."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import hologram
from hologram.artifact.container import Container
from hologram.artifact.model import read_model
from hologram.errors import ArtifactError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

BATCH = 64


def mlp_onnx(weights: dict[str, np.ndarray]) -> bytes:
    """The digits MLP as an ONNX model: MatMul, Add, Relu per layer."""
    layers = len(weights) // 2
    nodes, inits, current = [], [], "x"
    for k in range(layers):
        inits += [numpy_helper.from_array(weights[f"w{k}"], f"w{k}"),
                  numpy_helper.from_array(weights[f"b{k}"], f"b{k}")]  # fmt: skip
        nodes += [helper.make_node("MatMul", [current, f"w{k}"], [f"m{k}"]),
                  helper.make_node("Add", [f"m{k}", f"b{k}"], [f"a{k}"])]  # fmt: skip
        current = f"a{k}"
        if k < layers - 1:
            nodes.append(helper.make_node("Relu", [current], [f"r{k}"]))
            current = f"r{k}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [BATCH, 64])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [BATCH, 10])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


@pytest.fixture(scope="module")
def compiled(trained_mlp, tmp_path_factory):
    """(plain .holo, holotensor .holo, test inputs, labels, output name)."""
    from digits_mlp import digits

    folder = tmp_path_factory.mktemp("holo")
    model = mlp_onnx(trained_mlp)
    plain = folder / "plain.holo"
    held = folder / "held.holo"
    hologram.compile(model, output=plain)
    hologram.compile(model, output=held, holotensor="bitplane")
    _, _, x, y = digits()
    count = len(x) // BATCH * BATCH
    return plain, held, x[:count], y[:count], f"a{len(trained_mlp) // 2 - 1}"


def run_all(model, x: np.ndarray, output: str) -> np.ndarray:
    return np.concatenate(
        [model.run({"x": x[i : i + BATCH]})[output] for i in range(0, len(x), BATCH)]
    )


def test_sections_and_version(compiled):
    _, held, *_ = compiled
    with Container.open(held) as container:
        kinds = {s.name: s.kind for s in container.sections}
    assert kinds["holotensor"] == "weights.holotensor"
    loaded = read_model(held)
    assert loaded.weight_quality is not None and loaded.weight_quality.exact
    assert set(loaded.weight_quality.tensors) >= {"graph/w0", "graph/w1", "graph/w2"}


def test_full_load_is_bit_exact(compiled):
    plain, held, x, _, out = compiled
    full = hologram.load(held, backend="reference")
    expected = run_all(hologram.load(plain, backend="reference"), x, out)
    np.testing.assert_array_equal(run_all(full, x, out), expected)
    assert full.quality.quality == 1.0 and full.quality.exact
    assert hologram.load(plain).quality is None


@pytest.mark.parametrize("target", [{"quality": 0.99}, {"fragments": 5}])
def test_progressive_load_is_close(compiled, trained_mlp, target):
    from digits_mlp import forward

    plain, held, x, y, out = compiled
    model = hologram.load(held, backend="reference", **target)
    reached = model.quality
    assert not reached.exact and 0 < reached.quality < 1
    if "quality" in target:
        assert reached.quality >= 0.99
    else:
        assert all(t.fragments <= 5 for t in reached.tensors.values())
    got = run_all(model, x, out).astype(np.float64)
    full = run_all(hologram.load(plain, backend="reference"), x, out).astype(np.float64)
    # Oracle: float64 NumPy forward pass with each weight perturbed by as much as the reported
    # relative error; the model's error must stay within a small multiple of its effect.
    weights64 = {k: v.astype(np.float64) for k, v in trained_mlp.items()}
    np.testing.assert_allclose(full, forward(weights64, x.astype(np.float64)), atol=1e-4)
    error = 1.0 - reached.quality
    relative = np.linalg.norm(got - full) / np.linalg.norm(full)
    assert relative <= 4 * len(trained_mlp) // 2 * error + 1e-6
    accuracy = np.mean(got.argmax(axis=1) == y)
    assert accuracy >= np.mean(full.argmax(axis=1) == y) - 0.02


def test_corrupted_fragment_is_reported(compiled, tmp_path):
    _, held, x, _, out = compiled
    data = bytearray(held.read_bytes())
    with Container(bytes(data)) as container:
        info = container.info("holotensor")
    # A byte near the section's end lies in the last fragments, not in its header.
    data[info.offset + info.length - 3] ^= 0x40
    broken = tmp_path / "broken.holo"
    broken.write_bytes(bytes(data))
    model = hologram.load(broken, backend="reference")  # opening reads no weights
    with pytest.raises(ArtifactError, match=r"holotensor.*checksum.*fragment"):
        model.run({"x": x[:BATCH]})


def test_unknown_section_kind_is_refused(compiled):
    from hologram.artifact.container import ContainerWriter

    plain, *_ = compiled
    writer = ContainerWriter()
    with Container.open(plain) as container:
        for info in container.sections:
            writer.add(info.name, info.kind, bytes(container.read(info.name)))
    writer.add("extra", "weights.future", b"\0" * 8)
    with pytest.raises(ArtifactError, match="unknown kind 'weights.future'"):
        read_model(writer.to_bytes())


def test_bad_targets_are_refused(compiled):
    _, held, *_ = compiled
    with pytest.raises(ArtifactError, match="quality"):
        hologram.load(held, quality=1.5)
    with pytest.raises(ArtifactError, match="not both"):
        hologram.load(held, quality=0.9, fragments=2)


def test_cli_flag(trained_mlp, tmp_path):
    from hologram.cli import app

    source = tmp_path / "mlp.onnx"
    source.write_bytes(mlp_onnx(trained_mlp))
    target = tmp_path / "mlp.holo"
    runner = CliRunner()
    result = runner.invoke(
        app, ["compile", str(source), "-o", str(target), "--holotensor", "bitplane",
              "--fragments", "6"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    headers = read_model(target).weight_quality.tensors
    assert headers["graph/w0"].total == 6
    result = runner.invoke(app, ["inspect", str(target)])
    assert result.exit_code == 0, result.output
    assert "holotensor" in result.output and "graph/w0" in result.output
