"""Row normalisation (`_reduce_norm.py`, `_reduce_norm_block.py`): rows from the threshold up
are normalised a block per row, shorter ones a lane per row. Long rows, odd lengths, rows
just either side of the threshold and shorter than a block, and the LayerNormalization
statistics outputs, on the cpu and reference backends (which must agree), against
onnxruntime or onnx's reference evaluator; the CUDA source of the block kernel compiles."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.onnx.ops.test_nn import BACKENDS, node_model, normal, oracle

import hologram
from hologram.codegen.cuda import render_cuda
from hologram.onnx.ops._reduce_norm import BLOCK, BLOCK_ROWS_FROM
from hologram.onnx.ops._reduce_norm_block import onnx_normalize_rows_block

NVCC = shutil.which("nvcc")
LENGTHS = (1, 7, BLOCK - 1, BLOCK_ROWS_FROM - 1, BLOCK_ROWS_FROM, BLOCK_ROWS_FROM + 3, 4099)
"""Row lengths: shorter than a block, either side of the threshold, long and odd."""


def check(op, feeds, outputs, engine="ort", rtol=1e-4, atol=1e-4, opset=19, **attrs):
    """`op` on the cpu and reference backends, which agree within float32 rounding of the
    row statistics (they may sum in different orders), against `engine`."""
    model = node_model(op, feeds, outputs, opset, **attrs)
    compiled = hologram.compile(model)
    cpu, ref = (list(hologram.Model(compiled, b).run(feeds).values()) for b in BACKENDS)
    for got, same, want in zip(cpu, ref, oracle(model, feeds, engine), strict=True):
        assert got.dtype == same.dtype == want.dtype and got.shape == want.shape
        got = got.astype(np.float64)
        np.testing.assert_allclose(got, same.astype(np.float64), rtol, atol)
        np.testing.assert_allclose(got, want.astype(np.float64), rtol, atol)


def _offset(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values around a large per-row offset, which a one-pass variance would lose."""
    return (normal(rng, shape) + np.float32(rng.uniform(-50, 50))).astype(np.float32)


@pytest.mark.parametrize("length", LENGTHS)
def test_instance_norm_rows(length: int) -> None:
    rng = np.random.default_rng()
    channels = 3
    feeds = {
        "x": _offset(rng, (2, channels, length)),
        "s": normal(rng, (channels,)),
        "b": normal(rng, (channels,)),
    }
    check("InstanceNormalization", feeds, [(np.float32, 3)], rtol=1e-4, atol=1e-4, epsilon=1e-3)


@pytest.mark.parametrize("length", LENGTHS)
def test_layer_norm_rows_and_stats(length: int) -> None:
    rng = np.random.default_rng()
    feeds = {
        "x": _offset(rng, (3, length)),
        "s": normal(rng, (length,)),
        "b": normal(rng, (length,)),
    }
    outputs = [(np.float32, 2), (np.float32, 2), (np.float32, 2)]
    check("LayerNormalization", feeds, outputs, rtol=1e-4, atol=1e-4, opset=17, axis=-1)


@pytest.mark.parametrize("spatial", (5, 64, 1031))
def test_group_norm_channels_within_rows(spatial: int) -> None:
    """Opset 21: a row holds several channels, each with its own scale and bias. (No offset:
    onnx's reference GroupNormalization computes its variance in float32 in one pass.)"""
    rng = np.random.default_rng()
    channels, groups = 8, 2
    feeds = {
        "x": normal(rng, (2, channels, spatial)),
        "s": normal(rng, (channels,)),
        "b": normal(rng, (channels,)),
    }
    check(
        "GroupNormalization",
        feeds,
        [(np.float32, 3)],
        engine="reference",
        rtol=1e-4,
        atol=1e-4,
        opset=21,
        num_groups=groups,
    )


@pytest.mark.parametrize("length", (BLOCK_ROWS_FROM, 3001))
def test_rms_norm_long_rows(length: int) -> None:
    rng = np.random.default_rng()
    feeds = {"x": normal(rng, (2, length)), "s": normal(rng, (length,))}
    check(
        "RMSNormalization",
        feeds,
        [(np.float32, 2)],
        engine="reference",
        rtol=1e-4,
        atol=1e-5,
        opset=23,
        axis=-1,
    )


def test_layer_norm_float16_long_rows() -> None:
    """f16 rows are summed in f32 and rounded once on the way out."""
    rng = np.random.default_rng()
    length = BLOCK_ROWS_FROM + 17
    feeds = {
        "x": normal(rng, (2, length), np.float16),
        "s": normal(rng, (length,), np.float16),
        "b": normal(rng, (length,), np.float16),
    }
    check("LayerNormalization", feeds, [(np.float16, 2)], rtol=2e-3, atol=2e-3, opset=17, axis=-1)


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not on PATH")
@pytest.mark.parametrize("per_element", (True, False))
def test_block_kernel_cuda_source_compiles(tmp_path: Path, per_element: bool) -> None:
    program = onnx_normalize_rows_block.specialize(
        {name: "float32" for name in ("x", "scale", "bias", "out", "mean_out", "rstd_out")},
        eps="float32",
        compute="float32",
        centred=True,
        per_element=per_element,
        has_bias=True,
        stats=True,
        aligned=False,
    )
    source = tmp_path / "norm.cu"
    source.write_text(render_cuda(program, lanes_per_thread=1).text, encoding="utf-8")
    flags = ["--ptx", "-arch=sm_90", "--std=c++17", "-diag-suppress=177"]
    result = subprocess.run(
        [NVCC, *flags, "-o", str(tmp_path / "norm.ptx"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "warning" not in result.stderr, result.stderr[-4000:]
