"""Kernel bundles: IR and precompiled programs round-trip and launch without lowering again."""

from __future__ import annotations

import contextlib
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash

import hologram as hg
from hologram.artifact.bundle import (
    build_bundle,
    decode_signature,
    encode_signature,
    load_bundle,
    normalize_signature,
    plan_signatures,
    read_bundle,
    write_bundle,
)
from hologram.artifact.container import Container, ContainerWriter
from hologram.errors import ArtifactError
from hologram.isa.dtypes import DType
from hologram.isa.encoding import to_bytes

F32 = {"x": hg.float32, "out": hg.float32, "a": hg.float32}
F64 = {"x": "f64", "out": "f64", "a": "f64"}


@hg.kernel(signatures=[F32, F64, {**F32, "mode": 1}])
def affine(x: hg.Array, out: hg.Array, a: hg.Scalar, n: hg.uint32, mode: hg.Const[int] = 0):
    i = hg.global_id()
    if i < n:
        if mode == 0:
            out[i] = a * x[i] + 1
        else:
            out[i] = x[i] - a


@hg.kernel
def square(x: hg.Array[hg.float32], out: hg.Array[hg.float32], n: hg.uint32):
    i = hg.global_id()
    if i < n:
        out[i] = x[i] * x[i]


@hg.kernel
def convert(x: hg.Array, out: hg.Array, n: hg.uint32, T: hg.Const[hg.dtype]):
    i = hg.global_id()
    if i < n:
        out[i] = T(x[i])


def bundle_entries() -> list[tuple[str, Any, list[dict[str, Any]]]]:
    return [
        ("math/affine", affine, affine.signatures),
        ("math/square", square, plan_signatures(square).signatures),
        ("cast/convert", convert, []),
    ]


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("bundle") / "kernels.holo", bundle_entries())


def sections_of(path: Path) -> dict[str, tuple[str, bytes]]:
    with Container.open(path) as container:
        return {s.name: (s.kind, bytes(container.read(s.name))) for s in container.sections}


def rebuild(sections: dict[str, tuple[str, bytes]]) -> Container:
    writer = ContainerWriter()
    for name, (kind, data) in sections.items():
        writer.add(name, kind, data)
    return Container(writer.to_bytes(), "edited.holo")


def with_manifest(path: Path, edit: Any) -> Container:
    """The bundle at `path` with its manifest changed by `edit(manifest)`."""
    sections = sections_of(path)
    kind, data = sections["manifest"]
    manifest = json.loads(data)
    edit(manifest)
    sections["manifest"] = (kind, json.dumps(manifest).encode())
    return rebuild(sections)


# ---------------------------------------------------------------- round trip
def test_round_trip_keeps_ir_signatures_and_programs(bundle_path: Path) -> None:
    kernels = read_bundle(bundle_path)
    assert list(kernels) == ["math/affine", "math/square", "cast/convert"]
    for key, original, signatures in bundle_entries():
        loaded = kernels[key]
        assert loaded.name == original.name and loaded.ir == original.ir
        assert loaded.signatures == [normalize_signature(s) for s in signatures]
        for signature in signatures:
            program = loaded.specialize(signature)
            assert to_bytes(program) == to_bytes(original.specialize(signature))


def test_manifest_names_versions_and_sections(bundle_path: Path) -> None:
    from hologram import __version__

    sections = sections_of(bundle_path)
    kind, data = sections["manifest"]
    manifest = json.loads(data)
    assert kind == "bundle.manifest" and manifest["schema"] == "hologram.kernel-bundle"
    assert manifest["hologram_version"] == __version__ and manifest["isa_version"] == [1, 0]
    affine_entry = manifest["kernels"][0]
    assert affine_entry["programs"][2]["signature"] == {
        "a": {"dtype": "f32"}, "mode": 1, "out": {"dtype": "f32"}, "x": {"dtype": "f32"},
    }  # fmt: skip
    assert sections[affine_entry["ir"]][0] == "kernel.ir"
    assert all(sections[p["section"]][0] == "kernel.isa" for p in affine_entry["programs"])
    assert manifest["kernels"][2]["programs"] == []  # IR only


def test_bundled_kernels_launch_without_lowering(
    bundle_path: Path, executor: Any, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernels = read_bundle(bundle_path)

    def no_lowering(*args: Any) -> None:
        raise AssertionError("a bundled signature was lowered again")

    monkeypatch.setattr("hologram.dsl.lower.lower", no_lowering)
    n = 77
    for dtype, mode in ((np.float32, 0), (np.float64, 0), (np.float32, 1)):
        x = rng.standard_normal(n).astype(dtype)
        a = dtype(rng.standard_normal())
        out = np.zeros(n, dtype)
        # Launched as each signature was declared: mode given only where the signature has it.
        args = (x, out, a, n) if mode == 0 else (x, out, a, n, mode)
        kernels["math/affine"][hg.blocks(n, 32), 32](*args, executor=executor)
        x64, a64 = x.astype(np.float64), float(a)
        expected = a64 * x64 + 1 if mode == 0 else x64 - a64
        tolerance = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance)
    x = rng.standard_normal(n).astype(np.float32)
    out = np.zeros(n, np.float32)
    kernels["math/square"][hg.blocks(n, 32), 32](x, out, n, executor=executor)
    np.testing.assert_allclose(out, x.astype(np.float64) ** 2, rtol=1e-6)
    with pytest.raises(AssertionError, match="lowered again"):
        kernels["cast/convert"].specialize(x="f32", out="f64", T="f64")


def test_bundled_and_original_kernels_agree(
    bundle_path: Path, executor: Any, rng: np.random.Generator
) -> None:
    loaded = read_bundle(bundle_path)["math/affine"]
    x = rng.standard_normal(100).astype(np.float32)
    results = []
    for kernel in (affine, loaded):
        out = np.zeros(100, np.float32)
        kernel[hg.blocks(100, 64), 64](x, out, np.float32(0.5), 100, executor=executor)
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])


# ---------------------------------------------------------------- signatures
def test_plan_signatures() -> None:
    declared = plan_signatures(affine)
    assert declared.how == "declared" and len(declared.signatures) == 3
    assert declared.signatures[1] == {"x": DType.F64, "out": DType.F64, "a": DType.F64}
    fixed = plan_signatures(square)
    assert (fixed.signatures, fixed.how) == ([{}], "fixed types")
    generic = plan_signatures(hg.kernel(affine.fn))  # the same function without declarations
    assert generic.signatures == [{"x": DType.F32, "out": DType.F32, "a": DType.F32}]
    ir_only = plan_signatures(convert)
    assert ir_only.ir_only and "T" in ir_only.how


def test_signature_encoding_round_trips() -> None:
    signature = {"x": hg.float32, "T": "f64", "k": 3, "flag": True, "hi": math.inf, "q": 0.25}
    decoded = decode_signature(json.loads(json.dumps(encode_signature(signature))), "here")
    assert decoded == {
        "x": DType.F32, "T": DType.F64, "k": 3, "flag": True, "hi": math.inf, "q": 0.25,
    }  # fmt: skip
    assert type(decoded["flag"]) is bool
    nan = decode_signature(json.loads(json.dumps(encode_signature({"v": math.nan}))), "here")
    assert math.isnan(nan["v"])
    for bad in ({"x": {"dtype": "f33"}}, {"x": [1]}, {"x": "inf-ish"}, [1]):
        with pytest.raises(ArtifactError, match="here"):
            decode_signature(bad, "here")


# ---------------------------------------------------------------- malformed bundles
def test_writer_refuses_duplicate_keys(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="twice"):
        write_bundle(tmp_path / "b.holo", [("k", square, []), ("k", square, [])])


def test_a_container_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    writer = ContainerWriter()
    writer.add("weights", "tensor", b"1234")
    path = writer.write(tmp_path / "model.holo")
    with pytest.raises(ArtifactError, match="not a kernel bundle"):
        read_bundle(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(schema="other"), "schema"),
        (lambda m: m.update(version=[2, 0]), "bundle version"),
        (lambda m: m.update(kernels={}), "'kernels' must be a list"),
        (lambda m: m["kernels"][0].pop("ir"), "'ir' must be a str"),
        (lambda m: m["kernels"][0].update(ir="isa/math/affine/0"), "not of kind 'kernel.ir'"),
        (lambda m: m["kernels"][0].update(name="other"), "the manifest names it 'other'"),
        (lambda m: m["kernels"][1].update(key="math/affine"), "appears twice"),
        (lambda m: m["kernels"][0]["programs"][0].update(section="nope"), "no section 'nope'"),
        (
            lambda m: m["kernels"][0]["programs"][0].update(section="isa/math/square/0"),
            "do not match",
        ),
        (lambda m: m["kernels"][0]["programs"][0]["signature"].update(z=1), "unknown parameters"),
    ],
)
def test_malformed_manifests_are_refused(bundle_path: Path, edit: Any, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        load_bundle(with_manifest(bundle_path, edit))


def test_bad_payloads_are_refused(bundle_path: Path) -> None:
    sections = sections_of(bundle_path)
    broken_json = dict(sections, manifest=("bundle.manifest", b"{not json"))
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_bundle(rebuild(broken_json))
    broken_ir = dict(sections, **{"ir/math/square": ("kernel.ir", b'{"schema": "x"}')})
    with pytest.raises(ArtifactError, match="bad IR"):
        load_bundle(rebuild(broken_ir))
    broken_isa = dict(sections, **{"isa/math/square/0": ("kernel.isa", b"ATLS\x01\x00junk")})
    with pytest.raises(ArtifactError, match="bad program"):
        load_bundle(rebuild(broken_isa))


def test_corrupt_bundle_files_are_refused(bundle_path: Path, tmp_path: Path) -> None:
    data = bytearray(bundle_path.read_bytes())
    with Container.open(bundle_path) as container:
        offset = container.info("isa/math/affine/1").offset
    data[offset + 9] ^= 0x04
    corrupt = tmp_path / "corrupt.holo"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        read_bundle(corrupt)


def test_fuzzed_payloads_with_valid_checksums_raise_artifact_error() -> None:
    """Damage inside a section, its checksums made right: the IR, ISA and manifest decoders
    must refuse it with ArtifactError (or read a still-valid file), nothing else."""
    blob = build_bundle(bundle_entries()).to_bytes()
    container = Container(blob)
    rng = np.random.default_rng(7)
    for _ in range(300):
        index = int(rng.integers(len(container)))
        section = container.sections[index]
        if not section.length:
            continue
        damaged = bytearray(blob)
        for _ in range(int(rng.integers(1, 3))):
            damaged[section.offset + int(rng.integers(section.length))] = int(rng.integers(256))
        payload = bytes(damaged[section.offset : section.offset + section.length])
        struct.pack_into("<Q", damaged, 64 + 64 * index + 16, xxhash.xxh3_64_intdigest(payload))
        with contextlib.suppress(ArtifactError):
            load_bundle(Container(reseal(damaged)))


def reseal(data: bytearray) -> bytes:
    """`data` with its table and header checksums recomputed."""
    count, strings_length = struct.unpack_from("<II", data, 16)
    table = bytes(data[64 : 64 + 64 * count + strings_length])
    struct.pack_into("<Q", data, 32, xxhash.xxh3_64_intdigest(table))
    struct.pack_into("<Q", data, 56, xxhash.xxh3_64_intdigest(bytes(data[:56])))
    return bytes(data)
