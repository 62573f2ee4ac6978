"""The cpu backend against the reference backend and the corpus oracles, plus its own concerns:
exact integer and narrow-float rules, lockstep blocks, atomics under threads, the disk cache.
Region mode has its own tests in tests/codegen/test_numba_regions.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import zlib
from pathlib import Path
from time import perf_counter

import ml_dtypes
import numpy as np
import pytest

import hologram.backends.cpu as cpu
from hologram.backends import availability, get_backend
from hologram.backends.reference import ReferenceBackend
from hologram.codegen.numba_source import NumbaSource
from hologram.config import reload_settings
from hologram.errors import CompileError, LaunchError, MemoryAccessError
from hologram.isa import Builder, DType, LaunchConfig, Op
from programs import CORPUS, assert_outputs_match, run_case

pytestmark = pytest.mark.skipif(not availability("cpu")[0], reason="numba is not installed")

BF16 = ml_dtypes.bfloat16


@pytest.fixture(scope="module")
def backend() -> cpu.CpuBackend:
    return cpu.CpuBackend()


@pytest.fixture(scope="module")
def threaded() -> cpu.CpuBackend:
    """A cpu backend that uses its thread pool for any launch of two blocks or more."""
    backend = cpu.CpuBackend()
    backend.min_parallel_seconds = 0.0
    return backend


def launch_threaded(backend: cpu.CpuBackend, program, config: LaunchConfig, args: list) -> None:
    """Launch until one takes the pool: the first launches measure one thread."""
    before = backend.stats.parallel_launches
    for _ in range(cpu.SERIAL_PROBES):
        backend.launch(program, config, args)
    # Kernels are shared across backends: an earlier parallel launch that lost to one thread
    # (on a busy machine) may have left this one held to one thread for a while.
    for timing in backend.compile(program).sizes.values():
        timing.held_until = 0.0
    backend.launch(program, config, args)
    if backend.threads > 1:
        assert backend.stats.parallel_launches > before


@pytest.fixture(scope="module")
def reference() -> ReferenceBackend:
    return ReferenceBackend()


def run_both(
    backend, reference, program, config: LaunchConfig, args: list, rtol: float = 0.0
) -> list[np.ndarray]:
    """Launch on cpu and on the reference with copies of `args`; return the cpu's arrays after
    asserting that every array argument ended up equal on both (any NaN equals any NaN, and
    floats within `rtol`)."""
    mine = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    theirs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    backend.launch(program, config, mine)
    reference.launch(program, config, theirs)
    for got, want in zip(mine, theirs, strict=True):
        if not isinstance(got, np.ndarray):
            continue
        if DType.of(got.dtype).is_float:
            got, want = got.astype(np.float64), want.astype(np.float64)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    return mine


# ---------------------------------------------------------------- the corpus
@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_corpus_case_matches_reference_and_oracle(backend, reference, case):
    seed = zlib.crc32(case.name.encode())
    inputs, outputs = run_case(backend, case, seed=seed)
    assert_outputs_match(case, outputs, case.expected(inputs))
    _, reference_outputs = run_case(reference, case, seed=seed)
    assert_outputs_match(case, outputs, reference_outputs)


def test_backend_is_found_by_name_and_available():
    assert isinstance(get_backend("cpu"), cpu.CpuBackend)
    ok, reason = cpu.CpuBackend.availability()
    assert ok and reason.startswith("numba")
    assert cpu.BACKEND is cpu.CpuBackend


# ---------------------------------------------------------------- exact value rules
def test_integer_division_by_zero_gives_zero_and_overflow_wraps(backend, reference):
    b = Builder("int_rules")
    x, y = b.buffer("x", "i32"), b.buffer("y", "i32")
    u, v = b.buffer("u", "u32"), b.buffer("v", "u32")
    out = b.buffer("out", "i32", access="write")
    uout = b.buffer("uout", "u32", access="write")
    i = b.global_id()
    xi, yi, ui, vi = b.ldg(x, i), b.ldg(y, i), b.ldg(u, i), b.ldg(v, i)
    for k, value in enumerate(
        (b.div(xi, yi), b.mod(xi, yi), b.add(xi, yi), b.binary(Op.SHR, xi, yi))
    ):
        b.stg(out, b.add(b.mul(i, 4), k), value)
    for k, value in enumerate((b.div(ui, vi), b.binary(Op.SHR, ui, vi))):
        b.stg(uout, b.add(b.mul(i, 2), k), value)
    xs = np.array([7, -7, 7, -(2**31), 2**31 - 1, -8], np.int32)
    ys = np.array([2, 2, 0, -1, 1, 33], np.int32)
    us = np.array([7, 2**32 - 1, 5, 2**31, 9, 1], np.uint32)
    vs = np.array([2, 2, 0, 33, 0, 32], np.uint32)
    args = [xs, ys, us, vs, np.zeros(24, np.int32), np.zeros(12, np.uint32)]
    got = run_both(backend, reference, b.build(), LaunchConfig(1, 6), args)
    assert got[4].reshape(6, 4).tolist() == [
        [3, 1, 9, 1],
        [-3, -1, -5, -2],
        [0, 0, 7, 7],
        [-(2**31), 0, 2**31 - 1, -1],  # INT_MIN / -1 wraps; the sum wraps too
        [2**31 - 1, 0, -(2**31), 2**30 - 1],
        [0, -8, 25, -4],  # the shift amount 33 is taken modulo 32
    ]
    assert got[5].reshape(6, 2).tolist() == [
        [3, 1],
        [2**31 - 1, 2**30 - 1],
        [0, 5],
        [2**31 // 33, 2**30],  # a logical shift by 33 modulo 32
        [0, 9],
        [0, 1],
    ]


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_narrow_floats_round_after_every_instruction(backend, reference, rng, dtype):
    narrow = DType.of(dtype).numpy
    b = Builder(f"narrow_{dtype}")
    x, y = b.buffer("x", dtype), b.buffer("y", dtype)
    z = b.buffer("z", dtype, access="write")
    s = b.scalar("s", dtype)
    i = b.global_id()
    b.stg(z, i, b.mul(b.add(b.ldg(x, i), s), b.ldg(y, i)))
    xs = (rng.standard_normal(256) * 100).astype(narrow)
    ys = rng.standard_normal(256).astype(narrow)
    scale = narrow.type(1.3)
    got = run_both(
        backend, reference, b.build(), LaunchConfig(4, 64), [xs, ys, np.zeros_like(xs), scale]
    )
    step = (xs.astype(np.float32) + np.float32(scale)).astype(narrow)
    expected = (step.astype(np.float32) * ys.astype(np.float32)).astype(narrow)
    assert got[2].view(np.uint16).tolist() == expected.view(np.uint16).tolist()


def test_float_to_int_truncates_saturates_and_maps_nan_to_zero(backend, reference):
    b = Builder("cvt_saturate")
    x = b.buffer("x", "f32")
    outs = [b.buffer(f"y_{t}", t, access="write") for t in ("i32", "u8", "i64", "u64")]
    i = b.global_id()
    value = b.ldg(x, i)
    for out in outs:
        b.stg(out, i, b.cvt(value, b.params[out.index].dtype))
    xs = np.array([np.nan, np.inf, -np.inf, -2.9, 2.9, 300.0, 3e9, -1e20], np.float32)
    args = [xs] + [np.zeros(8, DType.of(t).numpy) for t in ("i32", "u8", "i64", "u64")]
    got = run_both(backend, reference, b.build(), LaunchConfig(1, 8), args)
    i32max, i64max = 2**31 - 1, 2**63 - 1
    assert got[1].tolist() == [0, i32max, -(2**31), -2, 2, 300, i32max, -(2**31)]
    assert got[2].tolist() == [0, 255, 0, 0, 2, 255, 255, 0]
    assert got[3].tolist() == [0, i64max, -(2**63), -2, 2, 300, 3000000000, -(2**63)]
    assert got[4].tolist() == [0, 2**64 - 1, 0, 0, 2, 300, 3000000000, 0]


def test_fma_rounds_once_and_min_max_propagate_nan(backend, reference):
    b = Builder("fma_minmax")
    x, y = b.buffer("x", "f64"), b.buffer("y", "f64")
    out = b.buffer("out", "f64", access="write")
    i = b.global_id()
    xi, yi = b.ldg(x, i), b.ldg(y, i)
    b.stg(out, b.mul(i, 3), b.fma(xi, xi, b.unary(Op.NEG, b.mul(xi, xi))))
    b.stg(out, b.add(b.mul(i, 3), 1), b.min(xi, yi))
    b.stg(out, b.add(b.mul(i, 3), 2), b.max(xi, yi))
    xs = np.array([1 + 2**-30, np.nan, 2.0], np.float64)
    ys = np.array([0.5, 1.0, np.nan], np.float64)
    got = run_both(backend, reference, b.build(), LaunchConfig(1, 3), [xs, ys, np.zeros(9)])
    residual = got[2].reshape(3, 3)
    assert residual[0, 0] == 2.0**-60  # the exact low part of x*x: fused, one rounding
    assert residual[0, 1:].tolist() == [0.5, 1 + 2**-30]
    assert np.isnan(residual[1:, 1:]).all()


def test_vectorised_exp_sigmoid_tanh_are_within_their_ulp_bounds(backend, rng):
    b = Builder("exp_sigmoid_tanh")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        value = b.ldg(x, i)
        for k, op in enumerate((Op.EXP, Op.SIGMOID, Op.TANH)):
            b.stg(y, b.add(b.mul(n, k), i), b.unary(op, value))
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, 88.73, -103.9, -104.0, 1e-30, 2.5e-4]
    xs = np.concatenate([special, rng.uniform(-110, 90, 4000), rng.standard_normal(4000)])
    xs = xs.astype(np.float32)
    ys = np.zeros(3 * xs.size, np.float32)
    backend.launch(b.build(), LaunchConfig.for_elements(xs.size, 128), [xs, ys, xs.size])
    wide = xs.astype(np.float64)
    with np.errstate(all="ignore"):
        exact = np.concatenate([np.exp(wide), 1 / (1 + np.exp(-wide)), np.tanh(wide)])
        want = exact.astype(np.float32)
    assert np.array_equal(np.isnan(ys), np.isnan(want))
    finite = ~np.isnan(want)
    ulps = float32_ulps(ys, np.where(finite, want, ys)).reshape(3, -1)
    # exp, sigmoid, tanh: the bounds measured over the whole float32 range (test_cpu_math.py).
    assert np.all(ulps.max(axis=1) <= [1, 2, 2])


def float32_ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Ulps between two float32 arrays of non-NaN values (+0 and -0 one apart)."""
    ordered = [a.view(np.int32).astype(np.int64) for a in (got, want)]
    ordered = [np.where(k < 0, -(k & 0x7FFFFFFF) - 1, k) for k in ordered]
    return np.abs(ordered[0] - ordered[1])


def test_vectorised_log_and_pow_are_within_one_ulp_of_the_reference(backend, reference, rng):
    b = Builder("log_pow")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32")
    out = b.buffer("out", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        xi, yi = b.ldg(x, i), b.ldg(y, i)
        b.stg(out, i, b.unary(Op.LOG, xi))
        b.stg(out, b.add(n, i), b.binary(Op.POW, xi, yi))
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0]
    special += [2.5, -2.5, 1e-45, -1e-45, 1e-38, 3.4e38, -3.4e38, 1 + 2**-23, 1 - 2**-24]
    special += [150.0, -150.0, 2.0**24, 2.0**24 + 2, -(2.0**24) - 2]
    grid_x, grid_y = np.meshgrid(special, special)
    xs = np.concatenate(
        [
            grid_x.ravel(),
            np.exp(rng.uniform(-103, 88, 2000)),
            rng.uniform(0.99, 1.01, 500),
            rng.uniform(-5, 5, 2000),
            rng.uniform(-3, 3, 1000),
        ]
    ).astype(np.float32)
    ys = np.concatenate(
        [
            grid_y.ravel(),
            rng.uniform(-2, 2, 2000),
            rng.uniform(-30, 30, 500),
            rng.uniform(-30, 30, 2000),
            rng.integers(-40, 40, 1000),
        ]
    ).astype(np.float32)
    program, config = b.build(), LaunchConfig.for_elements(xs.size, 128)
    results = []
    for engine in (backend, reference):
        got = np.zeros(2 * xs.size, np.float32)
        engine.launch(program, config, [xs, ys, got, xs.size])
        results.append(got)
    got, want = results
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(want).sum() > 100  # negative logs, non-integral powers of negatives
    finite = ~np.isnan(want)
    assert float32_ulps(got[finite], want[finite]).max() <= 1
    exact = finite & ((want == 0) | np.isinf(want) | (np.abs(want) == 1))
    assert np.array_equal(got[exact], want[exact])
    assert np.array_equal(np.signbit(got[exact]), np.signbit(want[exact]))


# ---------------------------------------------------------------- lockstep blocks
def test_divergent_barrier_is_a_launch_error(threaded):
    b = Builder("divergent_bar_cpu")
    with b.loop():
        with b.if_(b.setp("lt", b.sreg("lane_id"), 2)):
            b.break_()
        b.barrier()
        b.break_()
    program, config = b.build(), LaunchConfig(16, 4)
    for _ in range(cpu.SERIAL_PROBES + 1):  # the last uses the pool: the status crosses threads
        with pytest.raises(LaunchError, match="bar at instruction"):
            threaded.launch(program, config, [])
    if threaded.threads > 1:
        assert threaded.stats.parallel_launches >= 1


def test_barrier_no_lane_reaches_is_skipped_and_exited_lanes_do_not_count(backend, reference):
    b = Builder("bar_skipped")
    y = b.buffer("y", "i32", access="write")
    lane = b.sreg("lane_id")
    with b.if_(b.setp("ge", lane, 5)):
        b.exit()
    total = b.mov(0, "i32")
    with b.range(0, 3) as k:
        with b.if_(b.setp("eq", k, 2)):
            b.break_()  # every live lane breaks here: the barrier below sees no lane
        b.barrier()
        b.assign(total, b.add(total, b.reduce("add", b.cvt(lane, "i32"))))
    b.stg(y, b.global_id(), total)
    args = [np.full(16, -1, np.int32)]
    got = run_both(backend, reference, b.build(), LaunchConfig(2, 8), args)
    assert got[0].tolist() == ([20] * 5 + [-1] * 3) * 2


# ---------------------------------------------------------------- threads and launch shapes
def histogram_with_old_values(bins: int):
    b = Builder("histogram_old")
    x = b.buffer("x", "u32")
    counts = b.buffer("counts", "u32", access="readwrite")
    olds = b.buffer("olds", "u32", access="write")
    i = b.global_id()
    bucket = b.ldg(x, i)
    b.stg(olds, i, b.atom("add", counts, bucket, 1, want_old=True))
    return b.build()


def test_atomics_are_exact_across_many_blocks(backend, rng):
    bins = 7
    n = 64 * 1024
    xs = rng.integers(0, bins, n).astype(np.uint32)
    counts_out, olds_out = np.zeros(bins, np.uint32), np.zeros(n, np.uint32)
    backend.launch(
        histogram_with_old_values(bins), LaunchConfig(64, 1024), [xs, counts_out, olds_out]
    )
    assert counts_out.tolist() == np.bincount(xs, minlength=bins).tolist()
    for k in range(bins):  # one thread: each lane saw a distinct old count in lane order
        assert olds_out[xs == k].tolist() == list(range(int(counts_out[k])))


def test_atomics_on_the_thread_pool_lose_no_update(threaded, rng):
    bins = 7
    n = 64 * 1024
    xs = rng.integers(0, bins, n).astype(np.uint32)
    program = histogram_with_old_values(bins)
    before = threaded.stats.parallel_launches
    for _ in range(cpu.SERIAL_PROBES + 1):  # the last runs the compare-and-swap variant on the pool
        counts_out, olds_out = np.zeros(bins, np.uint32), np.zeros(n, np.uint32)
        threaded.launch(program, LaunchConfig(64, 1024), [xs, counts_out, olds_out])
        assert counts_out.tolist() == np.bincount(xs, minlength=bins).tolist()
        for k in range(bins):  # every old count seen once, in whatever order blocks ran
            assert sorted(olds_out[xs == k].tolist()) == list(range(int(counts_out[k])))
    if threaded.threads > 1:
        assert threaded.stats.parallel_launches == before + 1


@pytest.mark.slow  # about 8 s of Numba compiles when the kernel cache is cold
def test_atomics_of_narrow_and_wide_types_on_the_thread_pool(threaded, reference, rng):
    """8- and 16-bit and narrow-float compare-and-swap loops, in lane and lockstep mode."""
    dtypes = ("f16", "bf16", "i8", "f64")
    b = Builder("atomic_widths")
    inputs = [(b.buffer(f"x_{d}", d), b.buffer(f"y_{d}", d)) for d in dtypes]
    outputs = [b.buffer(f"acc_{d}", d, access="readwrite") for d in dtypes]
    i = b.global_id()
    slots = 64  # 32 adds of 1 or 2 per slot: exact in bfloat16 in any order
    slot = b.mod(i, slots)
    with b.range(0, 1):  # a barrier inside a loop: lockstep mode renders the atomics too
        b.barrier()
    for (x, y), acc in zip(inputs, outputs, strict=True):
        b.atom("add", acc, slot, b.ldg(x, i))
        b.atom("min", acc, b.add(slot, slots), b.ldg(y, i))
        b.atom("max", acc, b.add(slot, 2 * slots), b.ldg(y, i))
    program, config = b.build(), LaunchConfig(64, 32)
    lanes = config.num_blocks * config.lanes_per_block
    args: list = []
    for d in dtypes:
        kind = DType.of(d).numpy
        small = rng.integers(1, 3, lanes).astype(kind)
        if DType.of(d).is_float:
            values = rng.standard_normal(lanes).astype(kind)
        else:
            values = rng.integers(-128, 128, lanes).astype(kind)
        args += [small, values]
    for d in dtypes:
        kind = DType.of(d).numpy
        start = np.zeros(3 * slots, kind)
        extremes = (np.inf, -np.inf) if DType.of(d).is_float else (127, -128)
        start[slots : 2 * slots], start[2 * slots :] = extremes
        args.append(start)
    before = threaded.stats.parallel_launches
    for _ in range(cpu.SERIAL_PROBES + 1):  # the last takes the pool
        run_both(threaded, reference, program, config, [a.copy() for a in args])
    if threaded.threads > 1:
        assert threaded.stats.parallel_launches == before + 1


def test_grid_stride_loop_with_signed_counter_covers_every_element(backend, rng):
    b = Builder("grid_stride")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    n = b.scalar("n", "i32")
    start = b.cvt(b.global_id(), "i32")
    stride = b.cvt(b.mul(b.sreg("grid_dim"), b.sreg("block_dim")), "i32")
    i = b.mov(start)
    with b.loop():
        with b.if_(b.setp("ge", i, n)):
            b.break_()
        b.stg(y, i, b.mad(b.ldg(x, i), 2.0, 1.0))
        b.assign(i, b.add(i, stride))
    count = 100_003
    xs = rng.standard_normal(count).astype(np.float32)
    ys = np.zeros(count, np.float32)
    backend.launch(b.build(), LaunchConfig(8, 128), [xs, ys, count])
    np.testing.assert_array_equal(ys, xs * np.float32(2) + np.float32(1))


@pytest.mark.parametrize(
    ("grid", "block"), [((64, 4), (16, 16)), ((8, 4, 2), (8, 4, 4))], ids=["2d", "3d"]
)
def test_multithreaded_launch_writes_every_lane_once(threaded, grid, block):
    b = Builder("linear_ids")
    y = b.buffer("y", "u32", access="write")
    gx, gy, gz = (b.global_id(axis) for axis in range(3))
    width = b.mul(b.sreg("grid_dim", 0), b.sreg("block_dim", 0))
    height = b.mul(b.sreg("grid_dim", 1), b.sreg("block_dim", 1))
    linear = b.mad(b.mad(gz, height, gy), width, gx)
    b.stg(y, linear, b.add(linear, 1))
    config = LaunchConfig(grid, block)
    ids = np.zeros(config.num_blocks * config.lanes_per_block, np.uint32)
    launch_threaded(threaded, b.build(), config, [ids])
    assert ids.tolist() == list(range(1, ids.size + 1))


def fill_with_seven():
    """y[global_id] = 7."""
    b = Builder("fill_with_seven")
    y = b.buffer("y", "i32", access="write")
    b.stg(y, b.global_id(), 7)
    return b.build()


def test_a_parallel_launch_slower_than_one_thread_backs_off(threaded):
    program = fill_with_seven()
    ys = np.zeros(64, np.int32)
    launch_threaded(threaded, program, LaunchConfig(8, 8), [ys])
    timing = threaded.compile(program).timing_for(64)
    timing.seconds_per_lane = 1e-15  # claim one thread is all but instant: the pool loses
    timing.held_until, timing.backoff = 0.0, 1
    timing.losses = cpu.LOSSES_TO_HOLD - 1  # as after lost launches: this one holds
    timing.parallel_runs = max(timing.parallel_runs, cpu.PARALLEL_WARMUP)  # judged
    start = perf_counter()
    threaded.launch(program, LaunchConfig(8, 8), [ys])
    # Held from the launch's end for LOSS_AMORTISED times the time it lost: past its start.
    if threaded.threads > 1:
        assert timing.held_until > start and timing.backoff == 2
    else:
        assert (timing.held_until, timing.backoff) == (0.0, 1)
    assert ys.tolist() == [7] * 64
    timing.held_until, timing.backoff, timing.losses = 0.0, 1, 0  # kernels are shared


def test_a_kernels_first_parallel_launches_are_not_held_against_it(threaded):
    """The first parallel launches wake the pool and fault its code in: however long they
    took, only later ones may send the kernel back to one thread."""
    if threaded.threads < 2:
        pytest.skip("one thread: launches never go parallel")
    b = Builder("fill_with_eight_first_parallel")
    y = b.buffer("y", "i32", access="write")
    b.stg(y, b.global_id(), 8)
    program, config = b.build(), LaunchConfig(8, 8)
    ys = np.zeros(64, np.int32)
    for _ in range(cpu.SERIAL_PROBES):  # measure one thread
        threaded.launch(program, config, [ys])
    timing = threaded.compile(program).timing_for(64)
    timing.seconds_per_lane = 1e-15  # claim one thread is all but instant: the pool loses
    for runs in range(1, cpu.PARALLEL_WARMUP + 1):
        threaded.launch(program, config, [ys])
        assert (timing.parallel_runs, timing.held_until, timing.backoff) == (runs, 0.0, 1)
    for _ in range(cpu.LOSSES_TO_HOLD - 1):  # judged and lost, but one loss is noise
        threaded.launch(program, config, [ys])
        assert timing.held_until == 0.0
    start = perf_counter()
    threaded.launch(program, config, [ys])
    assert timing.held_until > start and timing.backoff == 2
    assert ys.tolist() == [8] * 64


SERIAL = 2.0**-13
"""One thread's best time in the back-off cases (about 122 us; exact in binary)."""


@pytest.mark.parametrize(
    ("elapsed", "hold", "backoff"),
    [
        (0.75 * SERIAL, None, 2),  # a win halves the back-off and holds nothing
        (1.125 * SERIAL, 16 * 0.125 * SERIAL * 4, 8),  # 16x the eighth it lost, times 4
        (161 * SERIAL, 16 * 160 * SERIAL * 4, 8),  # a stall: 16x the 160 launches it lost
        (10.0, cpu.MAX_HOLD_SECONDS, 8),  # at most MAX_HOLD_SECONDS
    ],
)
def test_a_lost_parallel_launch_holds_its_kernel_for_what_it_lost(elapsed, hold, backoff):
    timing = cpu._Timing(seconds_per_lane=SERIAL / 1000, serial_runs=3, backoff=4)
    timing.losses = cpu.LOSSES_TO_HOLD - 1  # lost before: this loss holds
    before = perf_counter()
    cpu._judge_parallel(timing, elapsed, SERIAL)
    after = perf_counter()
    assert timing.backoff == backoff
    if hold is None:
        assert timing.held_until == 0.0 and not timing.held()
    else:
        assert before + hold <= timing.held_until <= after + hold


def test_one_lost_parallel_launch_alone_holds_nothing():
    timing = cpu._Timing(seconds_per_lane=SERIAL / 1000, serial_runs=3)
    cpu._judge_parallel(timing, 100 * SERIAL, SERIAL)  # a thread woken late, once
    assert (timing.losses, timing.held_until, timing.backoff) == (1, 0.0, 1)
    cpu._judge_parallel(timing, 0.5 * SERIAL, SERIAL)  # a win forgets it
    assert (timing.losses, timing.held_until) == (0, 0.0)
    for _ in range(cpu.LOSSES_TO_HOLD):
        cpu._judge_parallel(timing, 100 * SERIAL, SERIAL)
    assert timing.held() and timing.backoff == 2


def test_a_parallel_launch_that_wins_eases_the_backoff(threaded):
    program = fill_with_seven()
    ys = np.zeros(64, np.int32)
    launch_threaded(threaded, program, LaunchConfig(8, 8), [ys])
    timing = threaded.compile(program).timing_for(64)
    timing.seconds_per_lane = 1.0  # claim one thread is slow: the pool can only win
    timing.held_until, timing.backoff = 0.0, 8
    timing.parallel_runs = max(timing.parallel_runs, cpu.PARALLEL_WARMUP)  # judged
    ys[:] = 0
    threaded.launch(program, LaunchConfig(8, 8), [ys])
    expected = (0.0, 4) if threaded.threads > 1 else (0.0, 8)
    assert (timing.held_until, timing.backoff) == expected
    assert ys.tolist() == [7] * 64


def test_launches_from_several_threads_at_once(threaded):
    program, config = fill_with_seven(), LaunchConfig(64, 64)
    for _ in range(cpu.SERIAL_PROBES):  # measure one thread
        threaded.launch(program, config, [np.zeros(4096, np.int32)])
    outputs = [np.zeros(4096, np.int32) for _ in range(4)]

    def run(out: np.ndarray) -> None:
        for _ in range(20):  # only one may hold Numba's pool; the others run on their thread
            threaded.launch(program, config, [out])

    workers = [threading.Thread(target=run, args=(out,)) for out in outputs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all((out == 7).all() for out in outputs)


# ---------------------------------------------------------------- intrinsics
def test_matmul_overlapping_outputs_keep_the_last_batch_and_extents_are_checked(
    backend, reference, rng
):
    b = Builder("overlap_c")
    a, bb = b.buffer("a", "f32"), b.buffer("b", "f32")
    c = b.buffer("c", "f32", access="write")
    b.matmul(a, bb, c, batch=3, m=2, n=2, k=3, stride_c=2)
    program = b.build()
    args = [rng.standard_normal(18).astype(np.float32), rng.standard_normal(18).astype(np.float32)]
    got = run_both(
        backend, reference, program, LaunchConfig(), [*args, np.zeros(8, np.float32)], rtol=1e-6
    )
    last = args[0][12:].reshape(2, 3) @ args[1][12:].reshape(3, 2)
    np.testing.assert_allclose(got[2][4:], last.reshape(-1), rtol=1e-6)
    with pytest.raises(MemoryAccessError, match="operand C needs 8 elements"):
        backend.launch(program, LaunchConfig(), [*args, np.zeros(7, np.float32)])


# ---------------------------------------------------------------- compilation and the cache
SECOND_PROCESS = textwrap.dedent(
    """
    import numpy as np
    from hologram.backends.cpu import CpuBackend
    from hologram.isa import Builder, LaunchConfig

    b = Builder("cached_in_two_processes")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.mul(b.ldg(x, i), 3.0))
    xs = np.arange(100, dtype=np.float32)
    ys = np.zeros(100, np.float32)
    backend = CpuBackend()
    backend.launch(b.build(), LaunchConfig.for_elements(100, 32), [xs, ys, 100])
    assert (ys == xs * 3).all()
    s = backend.stats
    print(s.compiled, s.cache_hits, s.cache_misses)
    """
)


def test_second_process_compiles_nothing(tmp_path):
    env = {**os.environ, "HOLOGRAM_CACHE_DIR": str(tmp_path)}

    def run() -> list[int]:
        done = subprocess.run(
            [sys.executable, "-c", SECOND_PROCESS],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return [int(v) for v in done.stdout.split()]

    compiled, hits, misses = run()
    assert compiled >= 1 and hits == 0 and misses == 1
    sources = list((tmp_path / "cpu").glob("*.py"))
    assert len(sources) == 1
    stamp = sources[0].stat().st_mtime_ns
    assert run() == [0, 1, 0]
    assert sources[0].stat().st_mtime_ns == stamp  # never rewritten: Numba keys on it


def test_compile_error_names_the_program_and_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("HOLOGRAM_CACHE_DIR", str(tmp_path))
    reload_settings()
    broken = "from numba import njit\n\n@njit\ndef kernel(*args):\n    return undefined_name\n"
    monkeypatch.setattr(
        cpu, "render_numba", lambda program, tag: NumbaSource(broken, "lane", False)
    )
    b = Builder("does_not_type")
    b.stg(b.buffer("y", "i32", access="write"), b.global_id(), 1)
    try:
        with pytest.raises(CompileError, match="does_not_type.*\\.py") as info:
            cpu.CpuBackend().compile(b.build())
    finally:
        monkeypatch.undo()
        reload_settings()
    assert str(tmp_path) in str(info.value)


def test_source_path_lives_in_the_cache_dir(backend):
    b = Builder("where_is_it")
    b.stg(b.buffer("y", "i32", access="write"), b.global_id(), 5)
    program = b.build()
    kernel = backend.compile(program)
    assert kernel.path == Path(cpu.settings().cache_dir) / "cpu" / f"{program.digest}.py"
    assert kernel.path.read_text() == kernel.source.text
    ys = np.zeros(4, np.int32)
    backend.launch(program, LaunchConfig(1, 4), [ys])
    assert ys.tolist() == [5, 5, 5, 5]


def test_read_only_arrays_are_read_but_never_written(backend):
    b = Builder("copy_read_only")
    x = b.buffer("x", "i32")
    y = b.buffer("y", "i32", access="write")
    i = b.global_id()
    b.stg(y, i, b.ldg(x, i))
    program = b.build()
    xs = np.arange(8, dtype=np.int32)
    xs.flags.writeable = False  # like a memory-mapped weight: its own Numba variant
    ys = np.zeros(8, np.int32)
    backend.launch(program, LaunchConfig(1, 8), [xs, ys])
    assert ys.tolist() == list(range(8))
    ys.flags.writeable = False
    with pytest.raises(LaunchError, match="'y' is read-only"):
        backend.launch(program, LaunchConfig(1, 8), [xs, ys])
