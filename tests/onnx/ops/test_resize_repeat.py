"""Nearest-neighbour Resize by whole factors (`onnx_resize_repeat`): every coordinate mode
that sends output position i to input i // f takes the repeat kernel; factors 1, 2 (written
out) and 3 (a loop), integer data, and a fractional factor (the gather) beside them, on the
cpu and reference backends against onnxruntime; the kernel's CUDA source compiles."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hologram
from hologram.codegen.cuda import render_cuda
from hologram.compiler.compile import compile_model
from hologram.onnx.ops._resize_kernels import onnx_resize_repeat
from onnx import helper, numpy_helper

BACKENDS = ("cpu", "reference")


def _model(x: np.ndarray, scales: list[float], transform: str, nearest: str):
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    node = helper.make_node(
        "Resize", ["x", "", "scales"], ["y"], mode="nearest",
        coordinate_transformation_mode=transform, nearest_mode=nearest,
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", elem, x.shape)],
        [helper.make_tensor_value_info("y", elem, [None] * x.ndim)],
        [numpy_helper.from_array(np.array(scales, np.float32), "scales")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)


def _launches(compiled, x: np.ndarray) -> set[str]:
    """The kernels the cpu plan for `x` launches."""
    model = hologram.Model(compiled, "cpu")
    model.run({"x": x})
    model.run({"x": x})
    runner = next(iter(model._runners.values()))
    return {program.name.split("__")[0] for program in runner.plan.programs}


@pytest.mark.parametrize(
    ("shape", "scales", "transform", "nearest", "repeat"),
    [
        ((2, 3, 5, 7), [1, 1, 2, 2], "asymmetric", "floor", True),
        ((1, 4, 3, 4), [1, 1, 3, 1], "half_pixel", "round_prefer_floor", True),
        ((2, 2, 4, 3), [1, 1, 1, 2], "align_corners", "floor", False),
        ((1, 2, 3, 5), [1, 1, 2, 2], "asymmetric", "ceil", False),
        ((1, 2, 4, 6), [1, 1, 1.5, 2], "asymmetric", "floor", False),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_nearest_whole_factors(shape, scales, transform, nearest, repeat, dtype) -> None:
    ort = pytest.importorskip("onnxruntime")
    x = (np.random.default_rng().standard_normal(shape) * 100).astype(dtype)
    model = _model(x, scales, transform, nearest)
    compiled = compile_model(model)
    assert ("onnx_resize_repeat" in _launches(compiled, x)) == repeat
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    for backend in BACKENDS:
        got = hologram.Model(compiled, backend).run({"x": x})["y"]
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc (the CUDA compiler) is not on PATH")
@pytest.mark.parametrize("repeat_w", (2, 3))
def test_repeat_kernel_cuda_source_compiles(tmp_path: Path, repeat_w: int) -> None:
    program = onnx_resize_repeat.specialize(
        {"src": "float32", "dst": "float32"}, repeat_h=2, repeat_w=repeat_w
    )
    source = tmp_path / "repeat.cu"
    source.write_text(render_cuda(program, lanes_per_thread=1).text, encoding="utf-8")
    flags = ["--ptx", "-arch=sm_90", "--std=c++17", "-diag-suppress=177"]
    result = subprocess.run(
        [shutil.which("nvcc") or "nvcc", *flags, "-o", str(tmp_path / "r.ptx"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "warning" not in result.stderr, result.stderr[-4000:]
