"""The rendered code of the padded convolution and pooling kernels (`_conv_padded.py`,
`_pool_padded.py`): one output element per lane. On the cpu the lane loop holds only the
element's loads, arithmetic and store (the row's and plane's geometry is hoisted ahead of
it) and no loop; the CUDA source compiles with nvcc (when it is on PATH) and has no loop
over output elements inside a thread (only the pooling window's taps)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hologram.codegen.cuda import ENTRY, render_cuda
from hologram.codegen.numba_source import render_numba
from hologram.isa.program import Program
from hologram.onnx.ops._conv_padded import (
    onnx_conv_depthwise3,
    onnx_conv_pad_copy,
    onnx_conv_pad_runs,
    onnx_im2col_padded,
)
from hologram.onnx.ops._pool_padded import onnx_pool_padded

NVCC = shutil.which("nvcc")
F32 = "float32"


def _programs() -> dict[str, Program]:
    """The kernels specialised for float32 (depthwise with its epilogue, both pool forms)."""
    arrays = {"x": F32, "out": F32}
    return {
        "pad_copy": onnx_conv_pad_copy.specialize(arrays, phases=1),
        "pad_copy_phases": onnx_conv_pad_copy.specialize(arrays, phases=5),
        "pad_runs2": onnx_conv_pad_runs.specialize(arrays, phases=2),
        "pad_runs4": onnx_conv_pad_runs.specialize(arrays, phases=4),
        "im2col": onnx_im2col_padded.specialize(x=F32, cols=F32, table="uint32"),
        "depthwise": onnx_conv_depthwise3.specialize(
            arrays, w=F32, bias=F32, residual=F32, table="uint32", act=1, has_residual=True
        ),
        "max3": onnx_pool_padded.specialize(
            arrays, counts=F32, mode=0, k_w=3, s_w=1, k_hc=3, phases=1
        ),
        "max3_phased": onnx_pool_padded.specialize(
            arrays, counts=F32, mode=0, k_w=3, s_w=1, k_hc=3, phases=2
        ),
        "avg_strided": onnx_pool_padded.specialize(
            arrays, counts=F32, mode=1, k_w=0, s_w=0, k_hc=0, phases=1
        ),
    }


PROGRAMS = _programs()
WINDOWED = ("max3", "max3_phased", "avg_strided")
"""The kernels whose lanes loop over their window's taps (the depthwise taps are unrolled)."""


def _lane_loops(text: str) -> list[str]:
    """The bodies of the lane loops (`for lx`) of a rendered Numba kernel (the fast path of
    whole blocks and the general one)."""
    lines = text.splitlines()
    bodies = []
    for index, line in enumerate(lines):
        if line.strip() == "for lx in range(bdx):":
            depth = len(line) - len(line.lstrip())
            body = []
            for inner in lines[index + 1 :]:
                if inner.strip() and len(inner) - len(inner.lstrip()) <= depth:
                    break
                body.append(inner)
            bodies.append("\n".join(body))
    return bodies


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_cpu_lane_loop_is_straight(name: str) -> None:
    bodies = _lane_loops(render_numba(PROGRAMS[name]).text)
    assert len(bodies) == 2  # whole blocks unmasked, and the rest
    for body in bodies:
        if name not in WINDOWED:
            assert not re.search(r"^\s*(for|while) ", body, re.MULTILINE), body
        # The block's, plane's and row's geometry (magic-number divisions, table loads) is
        # hoisted: no shift by 32 or by a loaded amount is left (a tap's column may still
        # divide by the constant stride).
        assert not re.search(r">> \((r\d|np\.uint64\(32\))", body), body


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_cuda_one_element_per_thread(name: str) -> None:
    text = render_cuda(PROGRAMS[name], lanes_per_thread=1).text
    kernel = text[text.index(ENTRY) :]
    if name not in WINDOWED:
        assert not re.search(r"\b(for|while)\s*\(", kernel), kernel
    assert "threadIdx.x" in kernel and "threadIdx.y" in kernel and "blockIdx.z" in kernel


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not on PATH")
def test_cuda_sources_compile_with_nvcc(tmp_path: Path) -> None:
    parts = []
    for index, program in enumerate(PROGRAMS.values()):
        text = render_cuda(program, lanes_per_thread=1).text
        parts.append(text.replace(f"{ENTRY}(", f"{ENTRY}_{index}("))
    source = tmp_path / "padded.cu"
    source.write_text("\n".join(parts), encoding="utf-8")
    flags = ["--ptx", "-arch=sm_90", "--std=c++17", "-diag-suppress=177"]
    result = subprocess.run(
        [NVCC, *flags, "-o", str(tmp_path / "padded.ptx"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "warning" not in result.stderr, result.stderr[-4000:]
