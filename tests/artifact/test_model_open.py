"""Opening a `.holo` model: the container reads its header and table without mapping the file,
the manifest's head (schema, version, the graph's inputs and outputs) is decoded by
`json_head`, and everything else waits for the first run, which must agree with what opening
read."""

from __future__ import annotations

import functools
import json
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from model_samples import tiny_onnx, tiny_oracle

import hologram
from hologram.artifact.container import Container, ContainerWriter
from hologram.artifact.json_head import NoHead, json_head
from hologram.artifact.model import model_to_bytes, read_model
from hologram.compiler.compile import compile_model
from hologram.errors import ArtifactError, FeedError


@functools.cache
def tiny_bytes(holotensor: str | None = None) -> bytes:
    return model_to_bytes(compile_model(tiny_onnx()), holotensor=holotensor)


def with_manifest(data: bytes, text: str, drop: str | None = None) -> bytes:
    """`data` resealed with its manifest replaced by `text` (and section `drop` left out)."""
    writer = ContainerWriter()
    with Container(data) as container:
        for section in container.sections:
            if section.name == drop:
                continue
            payload = bytes(container.read(section.name))
            if section.name == "manifest":
                payload = text.encode()
            writer.add(section.name, section.kind, payload)
    return writer.to_bytes()


def manifest_of(data: bytes) -> dict[str, Any]:
    with Container(data) as container:
        return json.loads(bytes(container.read("manifest")))


# ---------------------------------------------------------------- json_head
def random_value(rng: np.random.Generator, depth: int = 0) -> Any:
    """A random JSON value: nested objects and lists of numbers, strings (quotes, braces and
    escapes included), booleans and nulls."""
    kind = rng.integers(0, 7 if depth < 3 else 4)
    if kind == 0:
        return int(rng.integers(-(2**40), 2**40))
    if kind == 1:
        return float(rng.standard_normal())
    if kind == 2:
        alphabet = string.ascii_letters + '{}[]",:\\ \n\té'
        return "".join(rng.choice(list(alphabet), size=int(rng.integers(0, 12))))
    if kind == 3:
        return [None, True, False][int(rng.integers(0, 3))]
    if kind in (4, 5):
        return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.integers(0, 4))}
    return [random_value(rng, depth + 1) for _ in range(rng.integers(0, 4))]


def random_key(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("abcdefgh,:{}\"'"), size=int(rng.integers(1, 5))))


@pytest.mark.parametrize("compact", [True, False])
def test_json_head_reads_what_json_loads_reads(rng, compact: bool) -> None:
    for _ in range(200):
        doc = {random_key(rng): random_value(rng) for _ in range(rng.integers(0, 6))}
        inner = {random_key(rng): random_value(rng) for _ in range(rng.integers(0, 6))}
        doc.pop("graph", None)
        keys = list(doc)
        position = int(rng.integers(0, len(keys) + 1))
        doc = dict([*[(k, doc[k]) for k in keys[:position]], ("graph", inner),
                    *[(k, doc[k]) for k in keys[position:]]])  # fmt: skip
        text = json.dumps(doc, separators=(",", ":")) if compact else json.dumps(doc, indent=1)
        wanted_inner = {k: None for k in inner if rng.random() < 0.5}
        before = [k for k in keys[:position] if rng.random() < 0.5]
        head = json_head(text, {**dict.fromkeys(before), "graph": wanted_inner})
        assert head == {**{k: doc[k] for k in keys[:position]}, "graph": _read_until(
            inner, wanted_inner)}  # fmt: skip


def _read_until(doc: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The members of `doc` up to the last wanted one (all of them when one is absent)."""
    if any(k not in doc for k in wanted):
        return doc
    keys = list(doc)
    last = max((keys.index(k) for k in wanted), default=-1)
    return {k: doc[k] for k in keys[: last + 1]}


def test_json_head_stops_before_the_rest_of_the_object() -> None:
    text = '{"schema":"s","graph":{"inputs":[1],"outputs":[2],"nodes":[' + "[" * 5000
    assert json_head(text, {"schema": None, "graph": {"inputs": None, "outputs": None}}) == {
        "schema": "s",
        "graph": {"inputs": [1], "outputs": [2]},
    }


@pytest.mark.parametrize(
    "text",
    ["[1, 2]", '{"a" 1}', '{"a":1 "b":2}', '{"a":tru}', '{"g":{"x":1},"a":2}', '{"a":{"x":'],
)
def test_json_head_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(NoHead):
        json_head(text, {"g": {"x": None}, "a": None} if '"g"' in text else {"a": None, "b": None})


# ---------------------------------------------------------------- opening models
def test_opening_decodes_only_the_manifest_head(tmp_path: Path, rng) -> None:
    manifest = manifest_of(tiny_bytes())
    assert list(manifest)[:6] == ["schema", "version", "producer", "isa_version", "opsets",
                                  "graph"]  # fmt: skip
    path = tmp_path / "tiny.holo"
    path.write_bytes(tiny_bytes())
    model = hologram.load(path, backend="cpu")
    head = model._file.head  # nothing past the graph's outputs was decoded
    assert set(head) == {"schema", "version", "producer", "isa_version", "opsets", "graph"}
    assert set(head["graph"]) == {"name", "inputs", "outputs"}
    x = rng.standard_normal((2, 3)).astype(np.float32)
    for name, want in tiny_oracle(x).items():
        np.testing.assert_allclose(model.run({"x": x})[name], want, rtol=1e-6)


@pytest.mark.parametrize("order", ["metadata first", "graph last", "indented"])
def test_manifests_written_otherwise_still_open(order: str, rng) -> None:
    manifest = manifest_of(tiny_bytes())
    if order == "metadata first":  # the order of earlier writers
        keys = ["schema", "version", "producer", "isa_version", "opsets", "inputs", "outputs",
                "metadata"]  # fmt: skip
        manifest = {**{k: manifest[k] for k in keys}, **manifest}
    elif order == "graph last":
        manifest = {**{k: v for k, v in manifest.items() if k != "graph"}, "graph": {
            k: manifest["graph"][k] for k in reversed(manifest["graph"])}}  # fmt: skip
    text = json.dumps(manifest, indent=2 if order == "indented" else None)
    model = hologram.load(with_manifest(tiny_bytes(), text), backend="reference")
    assert [i.name for i in model.inputs] == ["x"]
    assert [o.name for o in model.outputs] == ["y", "s"]
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(model.run({"x": x})["y"], tiny_oracle(x)["y"], rtol=1e-6)


def test_a_key_written_twice_is_refused_by_the_first_run(rng) -> None:
    manifest = manifest_of(tiny_bytes())
    lying = json.loads(json.dumps(manifest["graph"]))
    lying["inputs"][0]["name"] = "z"
    rest = json.dumps(manifest, separators=(",", ":"))[1:]
    text = '{"schema":"hologram.model","version":[1,0],"graph":' + json.dumps(lying) + "," + rest
    assert [v.name for v in read_model(with_manifest(tiny_bytes(), text)).graph.inputs] == ["x"]
    model = hologram.load(with_manifest(tiny_bytes(), text), backend="reference")
    assert [i.name for i in model.inputs] == ["z"]  # what opening read: the first value
    x = rng.standard_normal((2, 3)).astype(np.float32)
    with pytest.raises(FeedError, match="unknown input"):
        model.run({"x": x})
    with pytest.raises(ArtifactError, match="'graph' differs from the value read at opening"):
        model.run({"z": x})


def test_a_holotensor_section_the_manifest_does_not_name_is_refused(rng) -> None:
    data = tiny_bytes("bitplane")
    manifest = manifest_of(data)
    del manifest["holotensor"]
    lie = with_manifest(data, json.dumps(manifest))
    message = "section 'holotensor': the manifest names no HoloTensor weights"
    with pytest.raises(ArtifactError, match=message):
        read_model(lie)
    model = hologram.load(lie, backend="reference")
    with pytest.raises(ArtifactError, match=message):
        model.run({"x": rng.standard_normal((2, 3)).astype(np.float32)})


# ---------------------------------------------------------------- the container
def test_opening_maps_the_file_only_when_a_payload_is_viewed(tmp_path: Path) -> None:
    path = tmp_path / "tiny.holo"
    path.write_bytes(tiny_bytes())
    container = Container.open(path)
    assert container._mapping is None
    manifest = container.read_copy("manifest")
    assert container._mapping is None and json.loads(manifest)["schema"] == "hologram.model"
    weights = container.read("weights")
    assert container._mapping is not None
    assert bytes(weights) == bytes(Container(tiny_bytes()).read("weights"))
    weights.release()
    container.close()
    with pytest.raises(ArtifactError, match="closed"):
        container.read("weights")


def test_a_payload_read_before_mapping_is_checked(tmp_path: Path) -> None:
    data = bytearray(tiny_bytes())
    section = Container(bytes(data)).info("manifest")
    data[section.offset + section.length // 2] ^= 0x08
    path = tmp_path / "flipped.holo"
    path.write_bytes(bytes(data))
    container = Container.open(path)
    with pytest.raises(ArtifactError, match="section 'manifest': payload checksum mismatch"):
        container.read_copy("manifest")
    container.close()


def test_a_file_changed_after_opening_is_refused_when_mapped(tmp_path: Path) -> None:
    path = tmp_path / "tiny.holo"
    path.write_bytes(tiny_bytes())
    container = Container.open(path)
    other = model_to_bytes(compile_model(tiny_onnx(batch=4)))
    with open(path, "r+b") as file:  # the same file, rewritten in place
        file.write(other)
        file.truncate()
    with pytest.raises(ArtifactError, match="changed since it was opened"):
        container.read("weights")
    container.close()
