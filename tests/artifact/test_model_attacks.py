"""Hostile `.holo` model files: truncated, bit-flipped, from the future, mislabelled, or
consistent-looking but wrong. Every one is refused with an ArtifactError naming the section
(and the JSON path) at fault; fuzzed files never raise anything but a HologramError."""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_samples import every_value_model, tiny_onnx, tiny_oracle

from hologram.artifact.container import Container, ContainerWriter
from hologram.artifact.model import model_to_bytes, read_model
from hologram.compiler.compile import compile_model
from hologram.errors import ArtifactError, HologramError
from hologram.runtime.model import Model


@functools.cache
def tiny_bytes() -> bytes:
    return model_to_bytes(compile_model(tiny_onnx()))


def sections(data: bytes) -> dict[str, tuple[str, int, int]]:
    """name -> (kind, offset, length)."""
    with Container(data) as container:
        return {s.name: (s.kind, s.offset, s.length) for s in container.sections}


def reseal(
    data: bytes,
    payloads: dict[str, bytes] | None = None,
    kinds: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> bytes:
    """The file rebuilt with some sections replaced, relabelled or dropped: every container
    checksum valid again, so that what is wrong is only what was changed."""
    writer = ContainerWriter()
    with Container(data) as container:
        for section in container.sections:
            if section.name in drop:
                continue
            payload = (payloads or {}).get(section.name) or bytes(container.read(section.name))
            writer.add(section.name, (kinds or {}).get(section.name, section.kind), payload)
    return writer.to_bytes()


def manifest(data: bytes) -> dict[str, Any]:
    with Container(data) as container:
        return json.loads(bytes(container.read("manifest")))


def with_manifest(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    doc = manifest(data)
    edit(doc)
    return reseal(data, {"manifest": json.dumps(doc).encode()})


def weights_header(data: bytes) -> tuple[dict[str, Any], bytes]:
    with Container(data) as container:
        payload = bytes(container.read("weights"))
    (length,) = struct.unpack_from("<Q", payload)
    return json.loads(payload[8 : 8 + length]), payload[8 + length :]


def with_weights_header(data: bytes, header: dict[str, Any], body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return reseal(data, {"weights": struct.pack("<Q", len(text)) + text + body})


# ---------------------------------------------------------------- damaged bytes
def test_every_truncation_is_refused(tmp_path: Path) -> None:
    data = tiny_bytes()
    boundaries = {b for _, at, n in sections(data).values() for b in (at - 1, at, at + n // 2)}
    cuts = sorted({*range(0, len(data), 7), *boundaries, len(data) - 1} - {len(data)})
    for cut in cuts:
        with pytest.raises(ArtifactError, match="truncated|bytes"):
            read_model(data[:cut])
    path = tmp_path / "cut.holo"
    for cut in (0, 40, len(data) // 2):
        path.write_bytes(data[:cut])
        with pytest.raises(ArtifactError, match="cut.holo"):
            read_model(path)


@pytest.mark.parametrize("name", ["manifest", "isa/0", "weights"])
def test_a_flipped_bit_in_a_section_names_the_section(name: str) -> None:
    data = bytearray(tiny_bytes())
    _, offset, length = sections(bytes(data))[name]
    for at in (offset, offset + length // 2, offset + length - 1):
        flipped = bytearray(data)
        flipped[at] ^= 0x10
        with pytest.raises(ArtifactError, match=f"section {name!r}: payload checksum mismatch"):
            read_model(bytes(flipped))


@pytest.mark.parametrize(("at", "message"), [(2, "bad magic"), (30, "header checksum"),
                                             (64 + 3, "table checksum")])  # fmt: skip
def test_a_flipped_bit_in_the_header_or_table_is_refused(at: int, message: str) -> None:
    data = bytearray(tiny_bytes())
    data[at] ^= 0x01
    with pytest.raises(ArtifactError, match=message):
        read_model(bytes(data))


# ---------------------------------------------------------------- versions and kinds
def test_a_newer_container_format_is_refused_clearly() -> None:
    data = bytearray(tiny_bytes())
    data[8:10] = struct.pack("<H", 2)
    with pytest.raises(ArtifactError, match=r"format version 2\.0 is not readable .*\(1\.x\)"):
        read_model(bytes(data))


def test_a_newer_manifest_major_is_refused_and_a_newer_minor_is_read(rng) -> None:
    newer = with_manifest(tiny_bytes(), lambda doc: doc.update(version=[3, 0]))
    newer_message = r"model format 3\.0 is newer than this reader .*upgrade"
    with pytest.raises(ArtifactError, match=newer_message):
        read_model(newer)
    minor = with_manifest(tiny_bytes(), lambda doc: doc.update(version=[1, 9], future={"x": 1}))
    x = rng.standard_normal((2, 3)).astype(np.float32)
    outputs = Model(read_model(minor), "reference").run({"x": x})
    np.testing.assert_allclose(outputs["y"], tiny_oracle(x)["y"], rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("manifest", "bundle.manifest", "a kernel bundle"),
        ("manifest", "model.manifest.v2", "not 'model.manifest'"),
        ("isa/0", "kernel.ir", "section 'isa/0': kind is 'kernel.ir', not 'kernel.isa'"),
        ("weights", "tensor", "section 'weights': kind is 'tensor', not 'weights.safetensors'"),
    ],
)
def test_wrong_section_kinds_are_refused(name: str, kind: str, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        read_model(reseal(tiny_bytes(), kinds={name: kind}))


@pytest.mark.parametrize("name", ["manifest", "isa/0", "weights"])
def test_missing_sections_are_refused(name: str) -> None:
    with pytest.raises(ArtifactError, match=f"no {name!r}|no section {name!r}"):
        read_model(reseal(tiny_bytes(), drop=(name,)))


def test_a_corrupt_program_is_refused_even_with_valid_checksums() -> None:
    data = tiny_bytes()
    with Container(data) as container:
        program = bytearray(container.read("isa/0"))
    program[len(program) // 2] ^= 0xFF
    with pytest.raises(ArtifactError, match="section 'isa/0': bad ISA program"):
        read_model(reseal(data, {"isa/0": bytes(program)}))


# ---------------------------------------------------------------- consistent-looking lies
def _first(plan: dict[str, Any], kind: str) -> int:
    return next(t["id"] for t in plan["tensors"] if t["kind"] == kind)


MANIFEST_LIES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("not an object", lambda d: d.clear(), "schema is not 'hologram.model'"),
    ("missing tensor", lambda d: d["plans"][0]["steps"][0]["args"].__setitem__(0, {"tensor": 999}),
     "tensor 999 does not exist"),
    ("missing program", lambda d: d["plans"][0]["steps"][0].update(program=5),
     "program 5 does not exist"),
    ("missing kernel", lambda d: d["plans"][0].update(programs=[7]), "kernel 7 does not exist"),
    ("missing constant", lambda d: d["plans"][0].update(constants=[]), "constant 0 does not exist"),
    ("argument count", lambda d: d["plans"][0]["steps"][0]["args"].pop(), "arguments for program"),
    ("argument kind", lambda d: d["plans"][0]["steps"][0]["args"].__setitem__(0, {"int": 1}),
     "takes a tensor"),
    ("zero grid", lambda d: d["plans"][0]["steps"][0].update(grid=[0, 1, 1]), "grid dimensions"),
    ("arena overflow", lambda d: d["plans"][0].update(
        arena=[[_first(d["plans"][0], "temp"), 0]], arena_bytes=1), "runs past the arena"),
    ("input to const", lambda d: d["plans"][0]["inputs"].update(x=_first(d["plans"][0], "const")),
     "input 'x' is not bound to it"),
    ("bad output", lambda d: d["plans"][0]["outputs"].update(y={"what": 1}), "output 'y'"),
    ("attribute tag", lambda d: d["graph"]["nodes"][0]["attrs"].update(k={"weird": 1}),
     r"graph\.nodes\[0\]\.attrs\.k: unknown attribute tag"),
    ("value kind", lambda d: d["graph"]["inputs"][0]["type"].update(kind="matrix"),
     "unknown value kind"),
    ("fractional dim", lambda d: d["graph"]["inputs"][0]["type"].update(shape=[1.5, 3]),
     r"inputs\[0\]\.type\.shape\[0\]: expected int, got 1.5"),
    ("negative size", lambda d: d["plans"][0]["tensors"][0].update(shape=[-2, 3]),
     r"plans\[0\]\.tensors\[0\]\.shape\[0\]: -2 is negative"),
    ("weight dtype", lambda d: d["weights"]["tensors"][0].update(dtype="float128"),
     "unknown dtype 'float128'"),
    ("weight shape", lambda d: d["weights"]["tensors"][0].update(shape=[1000]), "needs 4000 bytes"),
    ("weight key", lambda d: d["weights"]["tensors"][0].update(key="nope"), "no tensor 'nope'"),
    ("kernel section", lambda d: d["kernels"][0].update(section="nope"), "no section 'nope'"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "message"), [(e, m) for _, e, m in MANIFEST_LIES],
                         ids=[name for name, _, _ in MANIFEST_LIES])  # fmt: skip
def test_an_inconsistent_manifest_is_refused(edit: Callable, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        read_model(with_manifest(tiny_bytes(), edit))


def test_a_deeply_nested_manifest_is_refused() -> None:
    deep = b'{"schema": "hologram.model", "version": [1, 0], "graph": ' + b"[" * 100_000
    with pytest.raises(ArtifactError, match="section 'manifest': not valid JSON"):
        read_model(reseal(tiny_bytes(), {"manifest": deep + b"]" * 100_000 + b"}"}))


def test_an_inconsistent_weights_header_is_refused() -> None:
    data = tiny_bytes()
    header, body = weights_header(data)
    keys = [k for k in header if not k.startswith("__")]
    cases = {
        "lie outside": {**header, keys[0]: {**header[keys[0]], "data_offsets": [0, 10**9]}},
        "unknown safetensors dtype": {**header, keys[0]: {**header[keys[0]], "dtype": "F128"}},
        "without holes": {k: v for k, v in header.items() if not k.startswith("__pad__/0")},
        "the tensors cover": {k: v for k, v in header.items() if k != keys[-1]},
    }
    for message, bad in cases.items():
        with pytest.raises(ArtifactError, match=f"section 'weights': .*{message}"):
            read_model(with_weights_header(data, bad, body))
    with pytest.raises(ArtifactError, match="section 'weights': header is not valid JSON"):
        read_model(reseal(data, {"weights": struct.pack("<Q", 3) + b"{x}" + body}))
    with pytest.raises(ArtifactError, match="section 'weights': header of"):
        read_model(reseal(data, {"weights": struct.pack("<Q", 10**12) + b"{}"}))


# ---------------------------------------------------------------- fuzzing
def _loads_or_refuses(data: bytes) -> None:
    try:
        compiled = read_model(data)
    except HologramError:
        return
    Model(compiled, "reference")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8))
def test_random_byte_mutations_only_raise_hologram_errors(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(tiny_bytes())
    for position, value in mutations:
        data[position % len(data)] = value
    _loads_or_refuses(bytes(data))


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


@functools.cache
def every_value_bytes() -> bytes:
    return model_to_bytes(every_value_model())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_resealed_manifest_mutations_only_raise_hologram_errors(data: st.DataObject) -> None:
    original = every_value_bytes()
    doc = manifest(original)
    paths = _paths(doc)[1:]
    for _ in range(data.draw(st.integers(1, 3))):
        path = paths[data.draw(st.integers(0, len(paths) - 1))]
        parent = functools.reduce(lambda node, key: node[key], path[:-1], doc)
        parent[path[-1]] = data.draw(JSON_VALUES)
        paths = _paths(doc)[1:]
    _loads_or_refuses(reseal(original, {"manifest": json.dumps(doc).encode()}))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_resealed_weights_header_mutations_only_raise_hologram_errors(data: st.DataObject) -> None:
    original = every_value_bytes()
    header, body = weights_header(original)
    paths = _paths(header)[1:]
    path = paths[data.draw(st.integers(0, len(paths) - 1))]
    parent = functools.reduce(lambda node, key: node[key], path[:-1], header)
    parent[path[-1]] = data.draw(JSON_VALUES)
    _loads_or_refuses(with_weights_header(original, header, body))
