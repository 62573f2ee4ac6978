"""`hologram.load`: opening reads the header, the section table and the manifest; the first
run verifies and decodes the rest before it uses any of it. A damaged kernel or weights
section, or a lie deep in the manifest, is refused by that run, naming the section, and by
every run after it; `read_model` still refuses the same files at once."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from model_samples import tiny_onnx, tiny_oracle

import hologram
from hologram.artifact.container import Container, ContainerWriter
from hologram.artifact.model import model_to_bytes, open_model, read_model
from hologram.compiler.compile import compile_model
from hologram.errors import ArtifactError, FeedError


@functools.cache
def tiny_bytes() -> bytes:
    return model_to_bytes(compile_model(tiny_onnx()))


def flipped(name: str) -> bytes:
    """The tiny model with one bit flipped in the middle of section `name`."""
    data = bytearray(tiny_bytes())
    with Container(bytes(data)) as container:
        section = container.info(name)
    data[section.offset + section.length // 2] ^= 0x04
    return bytes(data)


def with_attribute_lie() -> bytes:
    """A resealed file (every checksum valid) whose first node has an unknown attribute tag."""
    writer = ContainerWriter()
    with Container(tiny_bytes()) as container:
        for section in container.sections:
            payload = bytes(container.read(section.name))
            if section.name == "manifest":
                doc = json.loads(payload)
                doc["graph"]["nodes"][0]["attrs"]["k"] = {"weird": 1}
                payload = json.dumps(doc).encode()
            writer.add(section.name, section.kind, payload)
    return writer.to_bytes()


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_load_then_run_matches_the_oracle(tmp_path: Path, backend: str, rng) -> None:
    path = tmp_path / "tiny.holo"
    path.write_bytes(tiny_bytes())
    model = hologram.load(path, backend=backend)
    eager = read_model(path)
    assert [(i.name, i.shape, i.dtype) for i in model.inputs] == [("x", (2, 3), np.float32)]
    assert [o.name for o in model.outputs] == [v.name for v in eager.graph.outputs]
    for _ in range(3):
        x = rng.standard_normal((2, 3)).astype(np.float32)
        outputs = model.run({"x": x})
        for name, want in tiny_oracle(x).items():
            np.testing.assert_allclose(outputs[name], want, rtol=1e-6)
    assert len(model.compiled.plans) == len(eager.plans) >= 1


@pytest.mark.parametrize("name", ["isa/0", "weights"])
def test_a_flipped_bit_is_caught_by_the_first_run(tmp_path: Path, name: str, rng) -> None:
    path = tmp_path / "flipped.holo"
    path.write_bytes(flipped(name))
    with pytest.raises(ArtifactError, match=f"section {name!r}: payload checksum mismatch"):
        read_model(path)
    model = hologram.load(path, backend="cpu")  # opening reads only the manifest
    assert model.inputs[0].name == "x"
    x = rng.standard_normal((2, 3)).astype(np.float32)
    for _ in range(2):  # no run ever returns results computed from the damaged file
        with pytest.raises(ArtifactError, match=f"section {name!r}: payload checksum mismatch"):
            model.run({"x": x})
    with pytest.raises(ArtifactError, match=f"section {name!r}"):
        model.compiled  # noqa: B018 - the property decodes the file


def test_a_flipped_bit_in_the_manifest_is_caught_at_load() -> None:
    with pytest.raises(ArtifactError, match="section 'manifest': payload checksum mismatch"):
        hologram.load(flipped("manifest"), backend="reference")


def test_a_lie_deep_in_the_manifest_is_caught_by_the_first_run(rng) -> None:
    data = with_attribute_lie()
    message = r"graph\.nodes\[0\]\.attrs\.k: unknown attribute tag"
    with pytest.raises(ArtifactError, match=message):
        read_model(data)
    model = hologram.load(data, backend="reference")
    with pytest.raises(ArtifactError, match=message):
        model.run({"x": rng.standard_normal((2, 3)).astype(np.float32)})


def test_a_bad_input_description_is_caught_at_load() -> None:
    writer = ContainerWriter()
    with Container(tiny_bytes()) as container:
        for section in container.sections:
            payload = bytes(container.read(section.name))
            if section.name == "manifest":
                doc = json.loads(payload)
                doc["graph"]["inputs"][0]["type"]["kind"] = "matrix"
                payload = json.dumps(doc).encode()
            writer.add(section.name, section.kind, payload)
    with pytest.raises(ArtifactError, match=r"graph\.inputs\[0\]\.type\.kind: unknown value kind"):
        open_model(writer.to_bytes())


def test_feeds_are_validated_before_the_file_is_decoded() -> None:
    model = hologram.load(flipped("weights"), backend="reference")
    with pytest.raises(FeedError, match="'x' must be float32"):
        model.run({"x": np.zeros((2, 3), np.float64)})
