"""Compiled models in `.holo` files: exact round trips, zero-copy weights, safetensors
compatibility, and the paths that use them (`hologram.compile(output=)`, `hologram.load`,
the onnx backend)."""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from model_samples import assert_same, every_value_model, tiny_onnx, tiny_oracle

import hologram
from hologram.artifact.container import Container
from hologram.artifact.model import (
    KIND_ISA,
    KIND_MANIFEST,
    KIND_WEIGHTS,
    model_to_bytes,
    read_model,
    write_model,
)
from hologram.artifact.weights import ALIGNMENT, PADDING_PREFIX
from hologram.compiler.compile import compile_model
from hologram.onnx.backend import HologramBackend


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model compiled once, through `hologram.compile(..., output=)`."""
    path = tmp_path_factory.mktemp("models") / "tiny.holo"
    hologram.compile(tiny_onnx(), output=path)
    return path


def manifest_of(data: bytes) -> dict:
    with Container(data) as container:
        return json.loads(bytes(container.read("manifest")))


def weights_payload(data: bytes) -> bytes:
    with Container(data) as container:
        return bytes(container.read("weights"))


# ---------------------------------------------------------------- round trips
def test_every_kind_of_value_round_trips_exactly() -> None:
    compiled = every_value_model()
    data = model_to_bytes(compiled)
    assert_same(compiled, read_model(data))
    # Writing what was read gives the same bytes: nothing is lost or reordered.
    assert model_to_bytes(read_model(data)) == data


def test_compiled_model_round_trips_through_a_file(tmp_path: Path) -> None:
    compiled = compile_model(tiny_onnx())
    path = write_model(compiled, tmp_path / "sub" / "tiny.holo")
    assert_same(compiled, read_model(path))
    assert path.read_bytes() == model_to_bytes(compiled)


def test_sections_and_manifest_layout(tiny_path: Path) -> None:
    data = tiny_path.read_bytes()
    with Container(data) as container:
        kinds = {s.name: s.kind for s in container.sections}
        assert kinds["manifest"] == KIND_MANIFEST and kinds["weights"] == KIND_WEIGHTS
        programs = [n for n, k in kinds.items() if k == KIND_ISA]
    manifest = manifest_of(data)
    assert manifest["schema"] == "hologram.model" and manifest["version"] == [1, 0]
    assert [k["section"] for k in manifest["kernels"]] == programs
    assert manifest["inputs"] == [
        {"name": "x", "kind": "tensor", "dtype": "float32", "onnx_type": "float", "shape": [2, 3]}
    ]
    assert [o["name"] for o in manifest["outputs"]] == ["y", "s"]
    report = manifest["metadata"]["report"]
    assert report["nodes_in"] == 5 and report["static_plan"] == "made"
    assert len(manifest["plans"]) == 1


def test_identical_programs_and_weights_are_stored_once() -> None:
    single = model_to_bytes(compile_model(tiny_onnx()))
    compiled = compile_model(tiny_onnx())
    compiled.plans.append(compiled.plans[0])  # the same kernels and constants again
    double = model_to_bytes(compiled)
    assert len(manifest_of(double)["kernels"]) == len(manifest_of(single)["kernels"])
    assert weights_payload(double) == weights_payload(single)
    again = read_model(double)
    first, second = again.plans
    assert first.programs[0] is second.programs[0]
    for a, b in zip(first.constants, second.constants, strict=True):
        assert np.shares_memory(a, b)
    # The plan's copy of initializer w is the initializer's bytes, stored once.
    assert np.shares_memory(first.constants[0], again.graph.initializers["w"])


def test_symbolic_dimensions_are_kept_and_planned_at_run_time(tmp_path: Path, rng) -> None:
    path = tmp_path / "dynamic.holo"
    hologram.compile(tiny_onnx(batch="batch"), output=path)
    assert manifest_of(path.read_bytes())["inputs"][0]["shape"] == ["batch", 3]
    model = hologram.load(path)
    assert model.inputs[0].shape == ("batch", 3)
    for batch in (4, 2):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        outputs = model.run({"x": x})
        for name, expected in tiny_oracle(x).items():
            np.testing.assert_allclose(outputs[name], expected, rtol=1e-6)


# ---------------------------------------------------------------- weights
def _base_object(array: np.ndarray) -> object:
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_weights_are_read_only_aligned_views_of_the_mapping(tiny_path: Path) -> None:
    compiled = read_model(tiny_path)
    arrays = [*compiled.graph.initializers.values(), *compiled.plans[0].constants]
    assert arrays
    for array in arrays:
        assert not array.flags.writeable and not array.flags.owndata
        assert array.ctypes.data % ALIGNMENT == 0
        assert isinstance(_base_object(array), mmap.mmap)


def test_weights_from_bytes_view_the_bytes_given() -> None:
    data = model_to_bytes(compile_model(tiny_onnx()))
    compiled = read_model(data)
    weight = compiled.graph.initializers["w"]
    assert _base_object(weight) is data
    np.testing.assert_array_equal(weight, np.linspace(-1.0, 1.0, 3, dtype=np.float32))


def test_the_weights_section_is_a_safetensors_file() -> None:
    data = model_to_bytes(every_value_model())
    payload = weights_payload(data)
    (header_length,) = struct.unpack_from("<Q", payload)
    assert (8 + header_length) % ALIGNMENT == 0
    header = json.loads(payload[8 : 8 + header_length])
    assert payload[8 : 8 + header_length].rstrip(b" ").endswith(b"}")
    # safetensors' own reader validates the layout (offsets tile the data, sizes match).
    tensors = dict(safetensors.deserialize(payload))
    assert set(tensors) == set(header) - {"__metadata__"}
    compiled = read_model(data)
    custom = compiled.graph.nodes[0].attrs
    stored = {e["key"]: e for e in manifest_of(data)["weights"]["tensors"] if "key" in e}
    for key, tensor in tensors.items():
        begin, end = header[key]["data_offsets"]
        if key.startswith(PADDING_PREFIX):
            assert set(tensor["data"]) <= {0} and end % ALIGNMENT == 0 and end - begin < ALIGNMENT
        else:
            assert begin % ALIGNMENT == 0, key
            assert key in stored
    assert header["graph/0/f8"]["dtype"] == "F8_E4M3"
    assert tensors["graph/0/f8"]["data"] == custom["f8"].tobytes()
    assert header["graph/0/bf16"]["dtype"] == "BF16"
    # int4 has no safetensors type: raw bytes, with the ONNX type in the manifest.
    assert header["graph/0/i4"]["dtype"] == "U8"
    assert stored["graph/0/i4"]["onnx_type"] == "int4"


def test_safetensors_numpy_loads_the_weights_of_a_compiled_model() -> None:
    compiled = compile_model(tiny_onnx())
    loaded = safetensors.numpy.load(weights_payload(model_to_bytes(compiled)))
    np.testing.assert_array_equal(loaded["graph/w"], compiled.graph.initializers["w"])
    np.testing.assert_array_equal(loaded["graph/new_shape"], [-1, 2])


# ---------------------------------------------------------------- the paths that use it
def test_load_runs_the_file_on_every_backend(tiny_path: Path, backend_name: str, rng) -> None:
    model = hologram.load(tiny_path, backend=backend_name)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    outputs = model.run({"x": x})
    for name, expected in tiny_oracle(x).items():
        np.testing.assert_allclose(outputs[name], expected, rtol=1e-6)
    assert outputs["s"].dtype == np.int64


def test_load_takes_bytes(tiny_path: Path, rng) -> None:
    model = hologram.load(tiny_path.read_bytes())
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x=x)["y"], tiny_oracle(x)["y"], rtol=1e-6)


def test_onnx_backend_prepares_through_the_artifact(rng) -> None:
    rep = HologramBackend.prepare(tiny_onnx(), "CPU")
    # The weights the prepared model runs with are views of an artifact image.
    assert not rep.model.compiled.graph.initializers["w"].flags.writeable
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y, s = rep.run([x])
    expected = tiny_oracle(x)
    np.testing.assert_allclose(y, expected["y"], rtol=1e-6)
    np.testing.assert_array_equal(s, expected["s"])
