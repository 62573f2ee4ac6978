"""The device reduction kernels (`kernels/device/`) render to CUDA C that nvcc compiles to
sm_90 machine code, for every op and the dtypes `hologram.ops` plans them with. Needs no GPU;
without nvcc the compile test skips."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hologram.codegen.cuda import ENTRY, lockstep_lanes, render_cuda
from hologram.isa import DType
from hologram.isa.program import Program
from hologram.ops._rows import widened
from hologram.ops.reduce import (
    block_reduce_program,
    column_reduce_program,
    result_dtype,
    tile_reduce_program,
)

NVCC = shutil.which("nvcc")
KINDS = ("sum", "min", "max", "mean")
DTYPES = (DType.F32, DType.F16, DType.BF16, DType.I32)


def _programs() -> list[Program]:
    programs: dict[str, Program] = {}
    for make in (tile_reduce_program, column_reduce_program, block_reduce_program):
        for kind in KINDS:
            for dtype in DTYPES:
                if kind == "mean" and dtype.is_int:
                    continue
                out = result_dtype(kind, dtype)
                # A combining pass reads results in the accumulator's dtype.
                for source in (dtype, widened(out)):
                    program = make(kind, source, out, widened(out))
                    programs[program.digest] = program
    return list(programs.values())


def test_tile_reduce_combines_through_shared_memory_in_two_rounds() -> None:
    f32 = DType.F32
    program = tile_reduce_program("max", DType.F16, DType.F16, f32)
    body = render_cuda(program).text.split(f"{ENTRY}(")[1]
    assert lockstep_lanes(program) == 1  # its lanes wait for each other
    # One barrier after shared memory is zeroed (the ISA's rule), one before each round.
    assert body.count("__syncthreads()") == 3 and "hg_block_reduce" not in body


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not on PATH")
def test_device_reduction_kernels_compile_to_sm90_cubins(tmp_path: Path) -> None:
    programs = _programs()
    parts = [
        render_cuda(p).text.replace(f"{ENTRY}(", f"{ENTRY}_{index}(")
        for index, p in enumerate(programs)
    ]
    source = tmp_path / "reduce.cu"
    source.write_text("\n".join(parts), encoding="utf-8")
    cubin = tmp_path / "reduce.cubin"
    flags = ["-cubin", "-arch=sm_90", "--std=c++17", "-diag-suppress=177"]
    result = subprocess.run(
        [NVCC, *flags, "-o", str(cubin), str(source)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"nvcc failed:\n{result.stderr[-4000:]}"
    assert "warning" not in result.stderr, result.stderr[-4000:]
    assert cubin.stat().st_size > 0
    names = cubin.read_bytes()
    assert all(f"{ENTRY}_{index}".encode() in names for index in range(len(programs)))
