"""`hologram holotensor encode|info|decode|verify` end to end."""

from __future__ import annotations

import importlib.util

import numpy as np
from typer.testing import CliRunner

from hologram.cli import app
from hologram.holotensor.model_io import read_tensors, write_tensors

runner = CliRunner()


def test_encode_info_decode_verify(tmp_path, rng: np.random.Generator) -> None:
    weights = {"layer.weight": (rng.standard_normal((32, 64)) * 0.1).astype(np.float32),
               "layer.bias": np.zeros(32, np.float32), "steps": np.arange(4)}  # fmt: skip
    source, packed = tmp_path / "m.safetensors", tmp_path / "m.htns"
    write_tensors(source, weights)
    result = runner.invoke(app, ["holotensor", "encode", str(source), "-o", str(packed)])
    assert result.exit_code == 0, result.output
    info = runner.invoke(app, ["holotensor", "info", str(packed)])
    assert info.exit_code == 0 and "layer.weight: bitplane" in info.output
    out = tmp_path / "back.safetensors"
    decoded = runner.invoke(app, ["holotensor", "decode", str(packed), "-o", str(out)])
    assert decoded.exit_code == 0, decoded.output
    back = read_tensors(out)
    assert all(back[n].tobytes() == w.tobytes() for n, w in weights.items())
    assert runner.invoke(app, ["holotensor", "verify", str(packed)]).exit_code == 0

    broken = bytearray(packed.read_bytes())
    broken[-5] ^= 0x10
    packed.write_bytes(bytes(broken))
    verify = runner.invoke(app, ["holotensor", "verify", str(packed)])
    assert verify.exit_code == 1 and "checksum" in verify.output

    plot = runner.invoke(app, ["holotensor", "info", str(source), "--plot", "x.png"])
    assert plot.exit_code == 1 and "error" in plot.output
    png = tmp_path / "curve.png"
    ok = runner.invoke(app, ["holotensor", "info", str(tmp_path / "m.htns"), "--plot", str(png)])
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib" in ok.output
    else:
        assert ok.exit_code == 0, ok.output
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_encode_reads_npy_and_onnx_initializers(tmp_path, rng: np.random.Generator) -> None:
    import onnx
    from onnx import helper, numpy_helper

    w = rng.standard_normal((16, 32)).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 32])],
        [numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    onnx.save(helper.make_model(graph), tmp_path / "m.onnx")
    for name in ("w.npy", "m.onnx"):
        out = tmp_path / f"{name}.htns"
        result = runner.invoke(app, ["holotensor", "encode", str(tmp_path / name), "-o", str(out)])
        assert result.exit_code == 0, result.output
        back = tmp_path / f"{name}.npz"
        assert (
            runner.invoke(app, ["holotensor", "decode", str(out), "-o", str(back)]).exit_code == 0
        )
        assert next(iter(read_tensors(back).values())).tobytes() == w.tobytes()
    missing = runner.invoke(app, ["holotensor", "encode", str(tmp_path / "none.npy"), "-o", "x"])
    assert missing.exit_code == 1 and "no such file" in missing.output
