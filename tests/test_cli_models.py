"""`hologram compile|run|inspect` and `hologram bench model`, run in-process with CliRunner
on a tiny ONNX model built with onnx.helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import onnx
from hologram.artifact.container import Container
from hologram.artifact.model import read_model
from hologram.cli import app
from onnx import TensorProto, helper, numpy_helper

runner = CliRunner()
WEIGHT = np.array([0.5, -1.0, 2.0], np.float32)


def invoke(*args: str | Path):
    """Run `hologram *args` (a wide terminal: tables are not cut)."""
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def tiny_model() -> onnx.ModelProto:
    """out = identity(reshape(relu(x + w), [3, 2])), shape = shape(x)."""
    nodes = [
        helper.make_node("Add", ["x", "w"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Reshape", ["r", "target"], ["flat"]),
        helper.make_node("Identity", ["flat"], ["out"]),
        helper.make_node("Shape", ["x"], ["shape"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [3, 2]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [numpy_helper.from_array(WEIGHT, "w"),
         numpy_helper.from_array(np.array([3, 2], np.int64), "target")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    return model


def oracle(x: np.ndarray) -> np.ndarray:
    return np.maximum(x.astype(np.float64) + WEIGHT, 0.0).reshape(3, 2)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model as .onnx and, through `hologram compile`, as .holo."""
    root = tmp_path_factory.mktemp("cli_models")
    source = root / "tiny.onnx"
    onnx.save(tiny_model(), source)
    result = invoke("compile", source, "-o", root / "tiny.holo")
    assert result.exit_code == 0, result.output
    return {"onnx": source, "holo": root / "tiny.holo", "compile_output": result.output}


@pytest.mark.parametrize(
    "command", [["compile"], ["run"], ["inspect"], ["bench", "model"]], ids=" ".join
)
def test_every_model_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: hologram" in result.output


def test_compile_writes_the_model_and_prints_the_report(files: dict[str, Path]) -> None:
    output = str(files["compile_output"])
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in output.splitlines() if line.count("│") == 3}  # fmt: skip
    assert rows["nodes in"] == "5"
    assert int(rows["launches"]) >= 1
    assert rows["static plan"] == "made"
    assert "naive" in rows["arena"] or rows["arena"] == "0 B"
    with Container.open(files["holo"]) as container:
        assert rows["weights"] == f"{container.info('weights').length} B"
    assert f"wrote {files['holo']}" in output
    compiled = read_model(files["holo"])
    assert compiled.metadata["report"]["nodes_in"] == 5


def test_compile_defaults_to_the_model_name_and_reports_errors(tmp_path: Path) -> None:
    source = tmp_path / "copy.onnx"
    onnx.save(tiny_model(), source)
    assert invoke("compile", source, "--no-optimize").exit_code == 0
    assert read_model(tmp_path / "copy.holo").metadata["report"].get("passes") is None
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    result = invoke("compile", broken)
    assert result.exit_code == 1 and "error:" in result.output and "broken.onnx" in result.output


def test_run_saves_outputs_that_match_numpy(files: dict[str, Path], tmp_path: Path, rng) -> None:
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "outputs"
    for spec in (f"x={tmp_path / 'x.npy'}", str(tmp_path / "x.npy")):
        result = invoke("run", files["holo"], "--input", spec, "--output-dir", out, "-b", "cpu")
        assert result.exit_code == 0, result.output
        np.testing.assert_allclose(np.load(out / "out.npy"), oracle(x), rtol=1e-6)
        np.testing.assert_array_equal(np.load(out / "shape.npy"), [2, 3])
    table = [line for line in result.output.splitlines() if "│ out " in line]
    assert table and "float32" in table[0] and "[3, 2]" in table[0]


def test_run_reports_bad_inputs(files: dict[str, Path], tmp_path: Path) -> None:
    np.save(tmp_path / "wrong.npy", np.zeros((4, 3), np.float32))
    result = invoke("run", files["holo"], "-i", f"x={tmp_path / 'wrong.npy'}", "-d", tmp_path)
    assert result.exit_code == 1 and "dimension 0 must be 2" in result.output
    result = invoke("run", files["holo"], "-i", f"x={tmp_path / 'missing.npy'}")
    assert result.exit_code == 2 and "missing.npy" in result.output


def test_inspect_lists_the_model_and_verifies_checksums(files: dict[str, Path]) -> None:
    result = invoke("inspect", files["holo"])
    assert result.exit_code == 0, result.output
    with Container.open(files["holo"]) as container:
        for section in container.sections:
            line = next(row for row in result.output.splitlines() if f"│ {section.name} " in row)
            assert section.kind in line and f"{section.checksum:016x}" in line and "ok" in line
    assert "float32" in result.output and "[2, 3]" in result.output  # input x
    assert "every checksum matches" in result.output
    manifest = invoke("inspect", files["holo"], "--manifest")
    assert manifest.exit_code == 0 and '"schema": "hologram.model"' in manifest.output


def test_inspect_names_a_corrupt_section(files: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(files["holo"].read_bytes())
    with Container(bytes(data)) as container:
        weights = container.info("weights")
    data[weights.offset + weights.length // 2] ^= 0x40
    corrupt = tmp_path / "corrupt.holo"
    corrupt.write_bytes(bytes(data))
    result = invoke("inspect", corrupt)
    assert result.exit_code == 1
    assert "MISMATCH" in next(row for row in result.output.splitlines() if "│ weights " in row)
    assert "section 'weights': payload checksum mismatch" in result.output


def test_bench_against_onnxruntime(files: dict[str, Path]) -> None:
    result = invoke("bench", files["holo"], "--vs", "onnxruntime", "--source", files["onnx"],
                    "--runs", "3", "-b", "reference")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    ours = "hologram (reference)"
    assert set(rows) >= {ours, "onnxruntime", f"{ours} / onnxruntime"}
    median = float(rows["onnxruntime"].split("│")[4])
    assert median > 0
    assert "largest |hologram - onnxruntime| over the outputs: 0" in result.output


def test_bench_alone_and_without_a_source(files: dict[str, Path]) -> None:
    result = invoke("bench", "model", files["holo"], "--runs", "2", "-b", "reference")
    assert result.exit_code == 0, result.output
    assert "hologram (reference)" in result.output and "onnxruntime" not in result.output
    result = invoke("bench", files["holo"], "--vs", "onnxruntime")
    assert result.exit_code == 2 and "--source" in result.output
