"""Uniform loops and block scalars of region mode (`hologram.codegen.numba_uniform`).

Top-level loops that every lane of a block runs the same number of times are rendered pass by
pass with a loop over the lanes inside; values the same in every lane are computed once per
block. These tests check which loops and registers qualify, and run each program on the cpu
backend against the reference backend and, where the program computes something simple, a
NumPy float64 oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.codegen.test_numba_regions import run_both

import hologram as hg
from hologram.backends import availability
from hologram.codegen.numba_regions import plan_regions
from hologram.codegen.numba_source import render_numba
from hologram.codegen.numba_uniform import plan_uniform
from hologram.isa import Builder, LaunchConfig, Op

pytestmark = pytest.mark.skipif(not availability("cpu")[0], reason="numba is not installed")


@pytest.fixture(scope="module")
def threaded():
    """A cpu backend that uses its thread pool for any launch of two blocks or more."""
    from hologram.backends.cpu import CpuBackend

    backend = CpuBackend()
    backend.min_parallel_seconds = 0.0
    return backend


@pytest.fixture(scope="module")
def reference():
    from hologram.backends.reference import ReferenceBackend

    return ReferenceBackend()


@hg.kernel
def centre_rows(x: hg.Array, out: hg.Array, sums: hg.Array, r: hg.uint32):
    """Block j subtracts the mean of row j (r elements) from it; lane 0 writes the row's sum.
    Lanes stride over the row in full passes, then the first r % width lanes take one more."""
    j = hg.uint32(hg.block_id())
    lane = hg.int64(hg.lane_id())
    width = hg.int64(hg.block_dim())
    first = hg.int64(j) * r
    passes = hg.int64(r // hg.uint32(width))
    tail = passes * width
    extra = lane < hg.int64(r) - tail
    total = 0.0
    for k in range(passes):
        total += x[first + k * width + lane]
    if extra:
        total += x[first + tail + lane]
    s = hg.block_sum(total)
    mean = s / hg.float32(r)
    if lane == 0:
        sums[j] = s
    for k in range(passes):
        out[first + k * width + lane] = x[first + k * width + lane] - mean
    if extra:
        out[first + tail + lane] = x[first + tail + lane] - mean


def _program():
    return centre_rows.specialize(x="f32", out="f32", sums="f32")


def test_strided_passes_run_as_uniform_loops_with_the_lane_index_recomputed():
    program = _program()
    plan = plan_regions(program)
    kinds = [segment.kind for segment in plan.segments]
    assert kinds.count("uniform") == 2 and "loop" not in kinds
    lane = next(
        i.dst for i in program.instructions if i.op is Op.SREG and i.attr("sreg") == "lane_id"
    )
    assert lane in plan.uniform.affine and lane not in plan.arrays
    # The row's pass count (a division of an argument by the block size) is a block scalar.
    divisions = [
        i.dst for i in program.instructions if i.op is Op.DIV and i.dst in plan.uniform.block
    ]
    assert divisions and not set(divisions) & set(plan.arrays)
    text = render_numba(program).text
    assert "for _k in range(" not in text and "_udiv" in text


@pytest.mark.parametrize(("rows", "r", "width"), [(3, 256, 64), (4, 1031, 128), (2, 5, 8)])
def test_uniform_loops_match_the_reference_and_numpy(threaded, reference, rng, rows, r, width):
    x = (rng.standard_normal(rows * r) + rng.uniform(-5, 5)).astype(np.float32)
    args = [x, np.zeros_like(x), np.zeros(rows, np.float32), r]
    # The block sum may round differently on the two backends: a few float32 ulps apart.
    config = LaunchConfig(rows, width)
    got = run_both(threaded, reference, _program(), config, args, rtol=1e-6, atol=1e-5)
    rows64 = x.astype(np.float64).reshape(rows, r)
    np.testing.assert_allclose(got[2], rows64.sum(axis=1), rtol=1e-5, atol=1e-4)
    want = rows64 - rows64.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(got[1].reshape(rows, r), want, rtol=1e-5, atol=1e-4)


def _ordered_passes() -> Builder:
    """A uniform loop whose lane code reads a uniform register before a uniform instruction
    rewrites it, with a uniform load from a read-only table, on 2-D blocks."""
    b = Builder("ordered_passes")
    table = b.buffer("table", "i32")
    y = b.buffer("y", "i32", access="write")
    z = b.buffer("z", "i32", access="write")
    passes = b.scalar("passes", "i32")
    lanes = b.mul(b.sreg("block_dim", 0), b.sreg("block_dim", 1))
    lane = b.mad(b.sreg("lane_id", 1), b.sreg("block_dim", 0), b.sreg("lane_id", 0))
    block = b.sreg("block_id")
    base = b.mul(b.mul(block, lanes), b.cvt(passes, "u32"))
    u = b.mov(0, "i32")
    acc = b.mov(0, "i32")
    with b.range(0, passes) as k:
        step = b.ldg(table, k)  # the same index in every lane: read once per pass
        at = b.add(base, b.mad(b.cvt(k, "u32"), lanes, lane))
        b.stg(y, at, b.add(b.mul(b.cvt(lane, "i32"), 1000), u))  # u before this pass's update
        b.assign(u, b.add(u, step))
        b.assign(acc, b.add(acc, b.mul(b.cvt(lane, "i32"), step)))
    b.stg(z, block, b.add(b.reduce("add", acc), b.mul(u, 100000)))
    return b


def test_uniform_instructions_keep_their_order_with_the_lane_code(threaded, reference, rng):
    program = _ordered_passes().build()
    plan = plan_regions(program)
    assert "uniform" in [segment.kind for segment in plan.segments]
    passes, dims, blocks = 5, (4, 3), 2
    lanes = dims[0] * dims[1]
    table = rng.integers(-9, 9, passes).astype(np.int32)
    y = np.full(blocks * passes * lanes, -1, np.int32)
    args = [table, y, np.full(blocks, -1, np.int32), passes]
    got = run_both(threaded, reference, program, LaunchConfig(blocks, dims), args)
    prefix = np.concatenate([[0], np.cumsum(table)[:-1]])
    want = [lane * 1000 + int(prefix[k]) for k in range(passes) for lane in range(lanes)]
    assert got[1].tolist() == want * blocks
    total = int(table.sum())
    assert got[2].tolist() == [total * sum(range(lanes)) + total * 100000] * blocks


def test_loops_that_lanes_leave_at_different_passes_are_not_uniform():
    b = Builder("lane_trips")
    y = b.buffer("y", "i32", access="write")
    lane = b.sreg("lane_id")
    acc = b.mov(0, "i32")
    with b.range(0, b.cvt(lane, "i32")) as k:  # lane l runs l passes
        b.assign(acc, b.add(acc, k))
    b.stg(y, b.global_id(), b.reduce("add", acc))
    program = b.build()
    assert not plan_uniform(program).loops
    assert "uniform" not in [segment.kind for segment in plan_regions(program).segments]


def test_a_program_with_exit_has_no_uniform_loops():
    b = Builder("exits")
    y = b.buffer("y", "i32", access="write")
    n = b.scalar("n", "u32")
    with b.if_(b.setp("ge", b.global_id(), n)):
        b.exit()
    acc = b.mov(0, "i32")
    with b.range(0, 4) as k:
        b.assign(acc, b.add(acc, k))
    b.stg(y, b.global_id(), b.reduce("add", acc))
    plan = plan_uniform(b.build())
    assert not plan.loops and not plan.block
