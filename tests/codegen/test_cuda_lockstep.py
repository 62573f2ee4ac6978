"""Lockstep lanes in the CUDA renderer: programs whose lanes need nothing of their block run
several ISA lanes per CUDA thread. Which programs qualify and what the source looks like need
nothing; the compile check needs nvcc; the runs against the reference backend need a GPU."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hologram import Executor
from hologram import ops as hops
from hologram.backends import availability
from hologram.codegen.cuda import ENTRY, GRID_PARAM, LANES_PER_THREAD, lockstep_lanes, render_cuda
from hologram.errors import CompileError
from hologram.isa import Builder, DType, LaunchConfig
from hologram.isa.opcodes import Op
from hologram.isa.program import Imm, Program
from hologram.ops.reduce import block_reduce_program, column_reduce_program

NVCC = shutil.which("nvcc")
_CUDA, _WHY = availability("cuda")
needs_gpu = pytest.mark.skipif(not _CUDA, reason=f"backend 'cuda' is not available: {_WHY}")


def _branchy() -> Program:
    """Lanes that split over an if/else (nested, with the predicate overwritten inside the
    arm), a register written only under the if, and the block and grid they see."""
    b = Builder("branchy")
    x = b.buffer("x", "f32")
    out, other = b.buffer("out", "f32", access="write"), b.buffer("other", "f32", access="write")
    where = b.buffer("where", "u32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    inside = b.setp("lt", i, n)
    with b.if_(inside):
        v = b.ldg(x, i)
        negative = b.setp("lt", v, 0.0)
        kept = b.reg(DType.F32)
        with b.if_(negative):
            b.assign(kept, b.sub(0.0, v))
            big = b.setp("gt", kept, 1.5)
            with b.if_(big):
                b.assign(kept, b.mul(kept, 2.0))
            b.emit(Op.SETP, DType.F32, negative, (v, Imm(-1e30, DType.F32)), {"cmp": "lt"})
            b.else_()
            b.stg(other, i, b.add(v, 1.0))
        b.stg(out, i, kept)
        block, grid = b.sreg("block_id"), b.sreg("grid_dim")
        b.stg(where, i, b.add(b.mul(block, 4096), grid))
    return b.build()


def _unguarded() -> Program:
    """Every lane of the grid stores, with no test of its own against a size."""
    b = Builder("unguarded")
    x, out = b.buffer("x", "i32"), b.buffer("out", "i32", access="write")
    i = b.global_id()
    b.stg(out, i, b.add(b.mul(b.ldg(x, i), 3), b.cvt(b.sreg("lane_id"), "i32")))
    return b.build()


def _elementwise_programs() -> list[Program]:
    ex = Executor("reference")
    x = ex.from_numpy(np.ones((6, 8), np.float32))
    row = ex.from_numpy(np.ones(8, np.float32))
    half = ex.from_numpy(np.ones((6, 8), np.float16))
    whole = ex.from_numpy(np.ones((2, 3, 8), np.int32))
    prepared = [
        hops.prepare("add", x, x),
        hops.prepare("add", x, row),
        hops.prepare("gelu", x),
        hops.prepare("mul", half, half),
        hops.prepare("relu", whole),
    ]
    return [p.launches[0].program for p in prepared]


# ---------------------------------------------------------------- which programs, what source
def test_lanes_that_need_their_block_run_one_per_thread() -> None:
    f32 = DType.F32
    assert lockstep_lanes(_branchy()) == LANES_PER_THREAD
    assert all(lockstep_lanes(p) == LANES_PER_THREAD for p in _elementwise_programs())
    assert lockstep_lanes(block_reduce_program("sum", f32, f32, f32)) == 1  # block reduction
    assert lockstep_lanes(column_reduce_program("sum", f32, f32, f32)) == 1  # loops
    with pytest.raises(CompileError, match="lanes per thread"):
        render_cuda(block_reduce_program("sum", f32, f32, f32), lanes_per_thread=2)


def test_lockstep_source_takes_the_grid_and_guards_each_lane() -> None:
    program = _branchy()
    plain, lockstep = render_cuda(program, lanes_per_thread=1), render_cuda(program)
    assert plain.lanes_per_thread == 1 and GRID_PARAM not in plain.text
    assert lockstep.lanes_per_thread == LANES_PER_THREAD
    assert f"unsigned int {GRID_PARAM}) {{" in lockstep.text
    last = LANES_PER_THREAD - 1
    assert f"const bool hg_v{last} = blockIdx.x + {last}ull * gridDim.x < {GRID_PARAM};" in (
        lockstep.text
    )
    # Stores of lane k run under lane k's condition, which holds its block's validity.
    assert lockstep.text.count("if (hg_c") >= 3 * LANES_PER_THREAD
    body = lockstep.text.split(f"{ENTRY}(")[1]
    assert "return;" not in body and "__syncthreads" not in body


# ---------------------------------------------------------------- nvcc
@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not on PATH")
@pytest.mark.parametrize("lanes", [2, LANES_PER_THREAD, 8])
def test_lockstep_sources_compile_with_nvcc(lanes: int, tmp_path: Path) -> None:
    programs = [_branchy(), _unguarded(), *_elementwise_programs()]
    parts = []
    for index, program in enumerate(programs):
        text = render_cuda(program, lanes_per_thread=lanes).text
        parts.append(text.replace(f"{ENTRY}(", f"{ENTRY}_{index}("))
    source = tmp_path / "lockstep.cu"
    source.write_text("\n".join(parts), encoding="utf-8")
    flags = ["--ptx", "-arch=sm_90", "--std=c++17", "-diag-suppress=177"]
    result = subprocess.run(
        [NVCC, *flags, "-o", str(tmp_path / "lockstep.ptx"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "warning" not in result.stderr, result.stderr[-4000:]


# ---------------------------------------------------------------- on a GPU
def _run_both(program: Program, config: LaunchConfig, arrays: list) -> tuple[list, list]:
    """`program` on cuda and on the reference, each on its own copies of `arrays`."""
    results = []
    for name in ("cuda", "reference"):
        ex = Executor(name)
        args = [ex.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in arrays]
        ex.launch(program, config, args=args)
        ex.synchronize()
        results.append([a.to_numpy() for a in args if not isinstance(a, (int, float))])
    return results[0], results[1]


@needs_gpu
@pytest.mark.parametrize(
    "config",
    [
        LaunchConfig(3, 64),  # fewer blocks than the GPU holds: one lane a thread
        LaunchConfig(4999, 64),  # many blocks: 4 lanes a thread, the last thread's last absent
        LaunchConfig((7, 300), (32, 1)),  # 2-D: a few CUDA blocks along x, lanes mixed
        LaunchConfig(20_003, 32),
    ],
    ids=str,
)
def test_lockstep_lanes_match_the_reference(rng, config: LaunchConfig) -> None:
    lanes = config.lanes_per_block * config.grid[0] * config.grid[1]
    n = lanes - 5  # the last lanes of the grid fail the program's own test
    x = rng.standard_normal(lanes).astype(np.float32) * 2
    arrays = [x, np.zeros(lanes, "f4"), np.full(lanes, 7, "f4"), np.zeros(lanes, "u4"), n]
    got, want = _run_both(_branchy(), config, arrays)
    for mine, theirs in zip(got, want, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    xs = rng.integers(-1000, 1000, lanes).astype(np.int32)
    got, want = _run_both(_unguarded(), config, [xs, np.zeros(lanes, "i4")])
    np.testing.assert_array_equal(got[1], want[1])


@needs_gpu
@pytest.mark.parametrize("size", [1, 1000, 2000 * 256 + 7, 5000 * 256 + 3])
def test_elementwise_ops_match_the_reference_at_every_grid(rng, size: int) -> None:
    x = rng.standard_normal(size).astype(np.float32)
    y = rng.standard_normal(size).astype(np.float32)
    results = []
    for name in ("cuda", "reference"):
        ex = Executor(name)
        a, b = ex.from_numpy(x), ex.from_numpy(y)
        results.append([hops.add(a, b).to_numpy(), hops.gelu(a).to_numpy()])
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-6)
