"""Region mode of the cpu backend: which programs take it, and its results against the reference.

Programs whose barriers and block reductions all sit at the top level run as lane loops between
them (see `hologram.codegen.numba_regions`); these tests run each one on the cpu backend and on
the reference backend with the same inputs. Launches on `threaded` take the thread pool once
the first few (`SERIAL_PROBES`) have timed one thread, so the per-thread lane arrays and the
compare-and-swap atomics run too.
"""

from __future__ import annotations

import numpy as np
import pytest

import hologram as hg
from hologram.backends import availability
from hologram.backends.cpu import SERIAL_PROBES
from hologram.backends.reference import ReferenceBackend
from hologram.codegen.numba_regions import ROUND, plan_regions
from hologram.codegen.numba_source import render_mode, render_numba
from hologram.isa import Builder, DType, LaunchConfig, Op
from programs.case import tolerance

pytestmark = pytest.mark.skipif(not availability("cpu")[0], reason="numba is not installed")


@pytest.fixture(scope="module")
def threaded():
    """A cpu backend that uses its thread pool for any launch of two blocks or more."""
    from hologram.backends.cpu import CpuBackend

    backend = CpuBackend()
    backend.min_parallel_seconds = 0.0
    return backend


@pytest.fixture(scope="module")
def reference() -> ReferenceBackend:
    return ReferenceBackend()


def run_both(
    backend, reference, program, config, args, launches=SERIAL_PROBES + 1, rtol=0.0, atol=0.0
):
    """Launch `launches` times on the cpu backend (fresh copies of `args` each time) and once on
    the reference; assert that every array ended up the same after each launch; return the
    cpu's arrays of the last launch."""
    theirs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    reference.launch(program, config, theirs)
    for _ in range(launches):
        mine = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        backend.launch(program, config, mine)
        for got, want in zip(mine, theirs, strict=True):
            if isinstance(got, np.ndarray):
                np.testing.assert_allclose(
                    got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol
                )
    return mine


@hg.kernel
def reverse_blocks(x: hg.Array[hg.float32], y: hg.Array[hg.float32]):
    tile = hg.shared(64, hg.float32)
    lane = hg.lane_id()
    tile[lane] = x[hg.global_id()]
    hg.barrier()
    y[hg.global_id()] = tile[hg.block_dim() - 1 - lane]


@hg.kernel
def sum_of_squares(x: hg.Array, out: hg.Array, n: hg.uint32):
    i = hg.global_id()
    stride = hg.grid_dim() * hg.block_dim()
    acc = 0.0
    while i < n:
        v = x[i]
        acc += v * v
        i += stride
    s = hg.block_sum(acc)
    if hg.lane_id() == 0:
        hg.atomic_add(out, 0, s)


def barrier_in_a_loop() -> Builder:
    b = Builder("barrier_in_a_loop")
    y = b.buffer("y", "i32", access="write")
    tile = b.shared("i32", 8)
    with b.range(0, 2):
        b.sts(tile, b.sreg("lane_id"), 1)
        b.barrier()
    b.stg(y, b.global_id(), b.lds(tile, 0))
    return b


# ---------------------------------------------------------------- which mode
def test_programs_take_the_mode_their_barriers_allow():
    plain = Builder("plain")
    plain.stg(plain.buffer("y", "u32", access="write"), plain.global_id(), 1)
    assert render_mode(plain.build()) == "lane"
    unsynchronised = Builder("shared_only")  # shared memory without barriers: regions still
    tile = unsynchronised.shared("f32", 4)
    unsynchronised.sts(tile, unsynchronised.sreg("lane_id"), 1.0)
    assert render_mode(unsynchronised.build()) == "regions"
    assert render_mode(reverse_blocks.specialize()) == "regions"
    assert render_mode(sum_of_squares.specialize(x="f32", out="f32")) == "regions"
    assert render_mode(barrier_in_a_loop().build()) == "lockstep"


def test_grid_stride_loop_runs_in_rounds_and_keeps_only_carried_registers_in_arrays():
    program = sum_of_squares.specialize(x="f32", out="f32")
    plan = plan_regions(program)
    assert [s.kind for s in plan.segments] == ["lanes", "loop", "reduce", "lanes"]
    loop = program.instructions[plan.segments[1].first + 1 : plan.segments[1].stop - 1]
    loaded = next(i.dst for i in loop if i.op is Op.LDG)
    carried = {i.dst for i in loop if i.dst is not None and i.dst in plan.arrays}
    assert loaded not in plan.arrays  # written before use in every iteration: a scalar
    assert len(carried) == 2  # the index and the accumulator
    assert plan.zeroed == []  # each array's first write is at the top level
    text = render_numba(program).text
    assert f"for _k in range({ROUND}):" in text and "run_block" not in text


# ---------------------------------------------------------------- results against the reference
def test_block_reversal_through_shared_memory(threaded, reference, rng):
    x = rng.standard_normal(5 * 64).astype(np.float32)
    program = reverse_blocks.specialize()
    got = run_both(threaded, reference, program, LaunchConfig(5, 64), [x, np.zeros_like(x)])
    np.testing.assert_array_equal(got[1], x.reshape(5, 64)[:, ::-1].reshape(-1))


REDUCE_DTYPES = ["i32", "u8", "i64", "f32", "f64", "f16", "bf16"]


@pytest.mark.parametrize("dtype", REDUCE_DTYPES)
def test_every_reduce_op_over_lanes_that_did_not_exit(threaded, reference, rng, dtype):
    kinds = ("add", "mul", "min", "max")
    b = Builder(f"reduce_all_{dtype}")
    x = b.buffer("x", dtype)
    y = b.buffer("y", dtype, access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("ge", i, n)):
        b.exit()  # the last block's tail exits before the reductions
    value = b.ldg(x, i)
    for k, kind in enumerate(kinds):
        b.stg(y, b.add(b.mul(i, len(kinds)), k), b.reduce(kind, value))
    block, count = 32, 3 * 32 - 5
    kind = DType.of(dtype)
    if kind.is_float:
        signs = rng.choice([-1.0, 1.0], count)
        xs = (signs * rng.uniform(0.5, 1.5, count)).astype(kind.numpy)
        xs[40] = np.nan  # min and max propagate NaN: block 1 is NaN throughout
    else:
        info = np.iinfo(kind.numpy)  # full-range integers: sums and products wrap
        xs = rng.integers(info.min, info.max, count, dtype=kind.numpy, endpoint=True)
    ys = np.zeros(len(kinds) * count, kind.numpy)
    rtol = tolerance(kind)[0]
    got = run_both(
        threaded,
        reference,
        b.build(),
        LaunchConfig(3, block),
        [xs, ys, count],
        rtol=rtol,
        atol=rtol * block * 1.5,
    )
    first = got[1].reshape(count, len(kinds))[0]
    if kind.is_int:  # the exact results modulo 2**bits, whatever the order of combination
        values = xs[:block].tolist()
        modulus = 2 ** (8 * kind.itemsize)
        assert int(first[0]) % modulus == sum(values) % modulus
        assert int(first[1]) % modulus == np.prod(values, dtype=object) % modulus
        assert first[2:].tolist() == [min(values), max(values)]


def test_exit_before_a_barrier_and_exits_in_a_later_region(threaded, reference, rng):
    b = Builder("exits_between_barriers")
    x = b.buffer("x", "i32")
    y = b.buffer("y", "i32", access="write")
    n = b.scalar("n", "u32")
    tile = b.shared("i32", 16)
    i = b.global_id()
    lane = b.sreg("lane_id")
    with b.if_(b.setp("ge", i, n)):
        b.exit()
    b.sts(tile, lane, b.ldg(x, i))
    b.barrier()
    neighbour = b.lds(tile, b.binary(Op.XOR, lane, 1))  # an exited neighbour left 0 behind
    with b.if_(b.setp("lt", neighbour, 0)):
        b.exit()  # lanes leave in the middle region; the count below skips them
    b.barrier()
    live = b.reduce("add", b.imm(1, "i32"))
    b.stg(y, i, b.add(b.mul(live, 1000), neighbour))
    count = 4 * 16 - 3
    xs = rng.integers(-50, 50, count).astype(np.int32)
    args = [xs, np.full(count, -1, np.int32), count]
    got = run_both(threaded, reference, b.build(), LaunchConfig(4, 16), args)
    assert (got[1] == -1).any() and (got[1] > 0).any()


def test_top_level_loop_with_break_continue_and_exit_from_a_nested_loop(threaded, reference, rng):
    b = Builder("loop_rounds")
    trips = b.buffer("trips", "i32")
    y = b.buffer("y", "i32", access="write")
    z = b.buffer("z", "i32", access="write")
    i = b.global_id()
    odd = b.setp("eq", b.binary(Op.AND, b.sreg("lane_id"), 1), 1)
    limit = b.ldg(trips, i)
    acc = b.mov(0, "i32")
    k = b.mov(0, "i32")
    with b.loop():
        with b.if_(b.setp("ge", k, limit)):
            b.break_()
        b.assign(k, b.add(k, 1))
        with b.if_(b.setp("eq", b.mod(k, 3), 0)):
            b.continue_()
        with b.if_(b.setp("eq", k, 17)), b.if_(odd), b.loop():
            b.exit()  # from a loop nested in the rounds: every enclosing loop is left
        b.assign(acc, b.add(acc, k))
    total = b.reduce("add", acc)
    b.stg(y, i, acc)
    b.stg(z, i, total)
    count = 2 * 24
    limits = rng.integers(0, 3 * ROUND, count).astype(np.int32)
    args = [limits, np.full(count, -1, np.int32), np.full(count, -1, np.int32)]
    got = run_both(threaded, reference, b.build(), LaunchConfig(2, 24), args)
    exited = (limits >= 17) & (np.arange(count) % 2 == 1)
    assert exited.any() and (got[1][exited] == -1).all()
    sums = [sum(k for k in range(1, t + 1) if k % 3) for t in limits.tolist()]
    assert got[1][~exited].tolist() == np.array(sums)[~exited].tolist()


def test_multi_dimensional_blocks_number_lanes_x_fastest(threaded, reference):
    b = Builder("multi_d_blocks")
    y = b.buffer("y", "u32", access="write")
    tile = b.shared("u32", 32)
    dims = [b.sreg("block_dim", axis) for axis in range(3)]
    lanes = [b.sreg("lane_id", axis) for axis in range(3)]
    blocks = [b.sreg("block_id", axis) for axis in range(3)]
    grid = [b.sreg("grid_dim", axis) for axis in range(3)]
    lane = b.mad(b.mad(lanes[2], dims[1], lanes[1]), dims[0], lanes[0])
    per_block = b.mul(b.mul(dims[0], dims[1]), dims[2])
    block = b.mad(b.mad(blocks[2], grid[1], blocks[1]), grid[0], blocks[0])
    b.sts(tile, lane, b.mad(block, 100, lane))
    b.barrier()
    mirrored = b.lds(tile, b.sub(b.sub(per_block, 1), lane))
    b.stg(y, b.mad(block, per_block, lane), b.add(mirrored, b.reduce("max", lane)))
    program = b.build()
    for config in (LaunchConfig((2, 3), (8, 4)), LaunchConfig((1, 2, 2), (4, 2, 4))):
        got = run_both(threaded, reference, program, config, [np.zeros(6 * 32, np.uint32)])
        first = got[0][:32].tolist()
        assert first == [31 - lane + 31 for lane in range(32)]


def test_registers_keep_their_values_across_regions_when_written_conditionally(threaded, reference):
    b = Builder("conditional_writes")
    y = b.buffer("y", "i32", access="write")
    z = b.buffer("z", "i32", access="write")
    lane = b.cvt(b.sreg("lane_id"), "i32")
    block = b.cvt(b.sreg("block_id"), "i32")
    kept = b.mov(7, "i32")
    b.barrier()
    with b.if_(b.setp("eq", b.binary(Op.AND, lane, 1), 1)):
        b.assign(kept, lane)  # even lanes must still see 7 after the next barrier
    late = b.reg("i32")
    with b.if_(b.setp("lt", lane, b.sub(3, block))):
        b.assign(late, 5)  # first written under an IF: other lanes read 0, in every block
    b.barrier()
    b.stg(y, b.global_id(), kept)
    b.stg(z, b.global_id(), late)
    args = [np.zeros(3 * 8, np.int32), np.zeros(3 * 8, np.int32)]
    got = run_both(threaded, reference, b.build(), LaunchConfig(3, 8), args)
    assert got[0][:8].tolist() == [7, 1, 7, 3, 7, 5, 7, 7]
    assert got[1].reshape(3, 8)[:, :4].tolist() == [[5, 5, 5, 0], [5, 5, 0, 0], [5, 0, 0, 0]]


def test_grid_stride_block_sum_with_an_atomic_on_threads(threaded, rng):
    count = 50_000
    x = rng.standard_normal(count).astype(np.float32)
    program = sum_of_squares.specialize(x="f32", out="f32")
    before = threaded.stats.parallel_launches
    for _ in range(SERIAL_PROBES + 1):  # the last takes the pool
        out = np.zeros(1, np.float32)
        threaded.launch(program, LaunchConfig(16, 64), [x, out, count])
        want = np.sum(x.astype(np.float64) ** 2)
        np.testing.assert_allclose(out[0], want, rtol=1e-5)
    if threaded.threads > 1:
        assert threaded.stats.parallel_launches == before + 1
