"""The reference backend against the NumPy oracles of the corpus, and each ISA rule on its own."""

from __future__ import annotations

import math
import zlib

import ml_dtypes
import numpy as np
import pytest

import hologram.backends.reference as reference
from hologram.backends import get_backend
from hologram.backends._reference_values import erf
from hologram.backends.reference import BACKEND, ReferenceBackend
from hologram.errors import HologramError, LaunchError, MemoryAccessError
from hologram.isa import Builder, DType, LaunchConfig, Op
from hologram.isa.encoding import roundtrip_check
from programs import CORPUS, assert_outputs_match, run_case

BF16 = ml_dtypes.bfloat16


@pytest.fixture(scope="module")
def backend() -> ReferenceBackend:
    return ReferenceBackend()


def launch(backend: ReferenceBackend, b: Builder, args: list, grid=1, block=1) -> None:
    backend.launch(b.build(), LaunchConfig(grid, block), args)


def unary_program(name: str, op: Op, dtype: str, out_dtype: str | None = None) -> Builder:
    """y[i] = op(x[i]) for i < len(x), one lane per element."""
    b = Builder(name)
    x = b.buffer("x", dtype)
    y = b.buffer("y", out_dtype or dtype, access="write")
    i = b.global_id()
    b.stg(y, i, b.unary(op, b.ldg(x, i)))
    return b


def binary_program(name: str, op: Op, dtype: str) -> Builder:
    """z[i] = op(x[i], y[i])."""
    b = Builder(name)
    x, y = b.buffer("x", dtype), b.buffer("y", dtype)
    z = b.buffer("z", dtype, access="write")
    i = b.global_id()
    b.stg(z, i, b.binary(op, b.ldg(x, i), b.ldg(y, i)))
    return b


def run_binary(backend, op: Op, dtype: str, x, y) -> np.ndarray:
    """z = op(x, y) elementwise on the reference backend."""
    np_dtype = DType.of(dtype).numpy
    x, y = np.asarray(x).astype(np_dtype), np.asarray(y).astype(np_dtype)
    z = np.zeros_like(x)
    launch(backend, binary_program(f"{op.value}_{dtype}", op, dtype), [x, y, z], 1, x.size)
    return z


def run_cvt(backend, x: np.ndarray, dst: str) -> np.ndarray:
    """cvt every element of `x` to `dst`."""
    b = Builder("cvt")
    xs = b.buffer("x", DType.of(x.dtype))
    y = b.buffer("y", dst, access="write")
    i = b.global_id()
    b.stg(y, i, b.cvt(b.ldg(xs, i), dst))
    out = np.zeros(x.size, DType.of(dst).numpy)
    launch(backend, b, [x, out], 1, x.size)
    return out


# ---------------------------------------------------------------- the corpus
@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_corpus_case_matches_numpy_oracle(backend, case):
    roundtrip_check(case.build())
    inputs, outputs = run_case(backend, case, seed=zlib.crc32(case.name.encode()))
    assert_outputs_match(case, outputs, case.expected(inputs))


def test_corpus_names_are_unique():
    names = [c.name for c in CORPUS]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------- discovery and completeness
def test_backend_is_found_by_name_and_always_available():
    assert BACKEND is ReferenceBackend
    assert ReferenceBackend.availability() == (True, "NumPy is always available")
    assert isinstance(get_backend("reference"), ReferenceBackend)
    assert ReferenceBackend.name == "reference"


def test_every_opcode_is_implemented():
    structural = {Op.IF, Op.ELSE, Op.ENDIF, Op.LOOP, Op.ENDLOOP, Op.MATMUL, Op.CONV2D}
    assert set(Op) - structural == set(reference._HANDLERS)


# ---------------------------------------------------------------- integer semantics
def test_integer_division_truncates_and_division_by_zero_gives_zero(backend):
    x = [7, -7, 7, -7, 5, -128, -128, 3]
    y = [2, 2, -2, -2, 0, -1, 1, 0]
    assert run_binary(backend, Op.DIV, "i8", x, y).tolist() == [3, -3, -3, 3, 0, -128, -128, 0]
    assert run_binary(backend, Op.MOD, "i8", x, y).tolist() == [1, -1, 1, -1, 0, 0, 0, 0]
    assert run_binary(backend, Op.DIV, "u32", [7, 9], [0, 4]).tolist() == [0, 2]


def test_integer_arithmetic_wraps(backend):
    assert run_binary(backend, Op.ADD, "i8", [127, -128], [1, -1]).tolist() == [-128, 127]
    assert run_binary(backend, Op.MUL, "u16", [300], [300]).tolist() == [90000 % 65536]
    assert run_binary(backend, Op.SUB, "u64", [0], [1]).tolist() == [2**64 - 1]
    b = unary_program("abs_min", Op.ABS, "i32")
    x = np.array([-(2**31), -5], np.int32)
    y = np.zeros(2, np.int32)
    launch(backend, b, [x, y], 1, 2)
    assert y.tolist() == [-(2**31), 5]


def test_shift_amount_is_taken_modulo_the_bit_width(backend):
    assert run_binary(backend, Op.SHL, "u8", [1, 1, 1], [3, 8, 9]).tolist() == [8, 1, 2]
    assert run_binary(backend, Op.SHR, "i8", [-128, -128], [1, 7]).tolist() == [-64, -1]
    assert run_binary(backend, Op.SHR, "u8", [128], [1]).tolist() == [64]
    # A negative amount is reduced modulo the width too: -1 mod 32 is 31.
    assert run_binary(backend, Op.SHL, "i32", [1], [-1]).tolist() == [-(2**31)]


# ---------------------------------------------------------------- float semantics
def test_min_max_propagate_nan(backend):
    nan = np.nan
    got_min = run_binary(backend, Op.MIN, "f32", [nan, 1.0, 2.0], [1.0, nan, 3.0])
    got_max = run_binary(backend, Op.MAX, "f16", [nan, 1.0, 2.0], [1.0, nan, 3.0])
    assert np.isnan(got_min[:2]).all() and got_min[2] == 2.0
    assert np.isnan(got_max[:2]).all() and got_max[2] == 3.0


def test_round_is_half_to_even_and_trunc_toward_zero(backend):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.7, 2.7], np.float32)
    for op, want in ((Op.ROUND, [0, 2, 2, -0, -2, -3, 3]), (Op.TRUNC, [0, 1, 2, 0, -1, -2, 2])):
        y = np.zeros_like(x)
        launch(backend, unary_program(op.value, op, "f32"), [x, y], 1, x.size)
        assert y.tolist() == want


def test_half_precision_rounds_after_every_instruction(backend):
    # 2048 + 1 is a tie in float16 and rounds to the even 2048; in float32 it would be 2049.
    assert run_binary(backend, Op.ADD, "f16", [2048.0, 2048.0], [1.0, 3.0]).tolist() == [
        2048.0,
        2052.0,
    ]
    # bfloat16 keeps 8 significant bits: 256 + 1 -> 256, 256 + 3 -> 260 (nearest-even).
    got = run_binary(backend, Op.ADD, "bf16", [256.0, 256.0], [1.0, 3.0])
    assert got.dtype == BF16 and got.astype(np.float64).tolist() == [256.0, 260.0]


def test_fma_rounds_once_and_mad_may_round_twice(backend):
    a = np.array([1 + 2**-13], np.float32)
    bvals = np.array([1 - 2**-13], np.float32)
    c = np.array([-1.0], np.float32)
    b = Builder("fma_vs_mad")
    xa, xb, xc = b.buffer("a", "f32"), b.buffer("b", "f32"), b.buffer("c", "f32")
    out = b.buffer("out", "f32", access="write")
    va, vb, vc = b.ldg(xa, 0), b.ldg(xb, 0), b.ldg(xc, 0)
    b.stg(out, 0, b.fma(va, vb, vc))
    b.stg(out, 1, b.mad(va, vb, vc))
    result = np.zeros(2, np.float32)
    launch(backend, b, [a, bvals, c, result])
    assert result[0] == np.float32(-(2.0**-26))  # exact a*b - 1
    assert result[1] == 0.0  # a*b rounds to 1 in float32 first


def test_transcendentals_match_float64_math(backend):
    x = np.linspace(-5, 5, 101)
    for op, fn in (
        (Op.ERF, np.vectorize(math.erf)),
        (Op.SIGMOID, lambda v: 1 / (1 + np.exp(-v))),
        (Op.TANH, np.tanh),
    ):
        y = np.zeros_like(x)
        launch(backend, unary_program(op.value, op, "f64"), [x, y], 1, x.size)
        np.testing.assert_allclose(y, fn(x), rtol=4e-16, atol=1e-300)
    p = np.array([0.25, 4.0, 0.0, -1.0])
    y = np.zeros_like(p)
    launch(backend, unary_program("rsqrt", Op.RSQRT, "f64"), [p, y], 1, p.size)
    assert y[:3].tolist() == [2.0, 0.5, np.inf] and np.isnan(y[3])


def test_erf_is_within_two_ulp_of_the_c_library():
    x = np.random.default_rng(7).uniform(-7, 7, 20000)
    want = np.array([math.erf(v) for v in x])
    ulps = np.abs(erf(x) - want) / np.spacing(np.abs(want))
    assert ulps.max() <= 2
    assert erf(np.array([0.0, np.inf, -np.inf])).tolist() == [0.0, 1.0, -1.0]
    assert np.isnan(erf(np.array([np.nan])))[0]


def test_setp_with_nan_is_false_except_ne(backend):
    b = Builder("setp_nan")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "u8", access="write")
    v = b.ldg(x, 0)
    for k, cmp in enumerate(("eq", "ne", "lt", "le", "gt", "ge")):
        b.stg(y, k, b.cvt(b.setp(cmp, v, v), "u8"))
    out = np.zeros(6, np.uint8)
    launch(backend, b, [np.array([np.nan], np.float32), out])
    assert out.tolist() == [0, 1, 0, 0, 0, 0]


# ---------------------------------------------------------------- conversions
def test_float_to_int_truncates_saturates_and_maps_nan_to_zero(backend):
    x = np.array([2.9, -2.9, 300.0, -300.0, np.nan, np.inf, -np.inf], np.float32)
    assert run_cvt(backend, x, "i8").tolist() == [2, -2, 127, -128, 0, 127, -128]
    assert run_cvt(backend, x, "u8").tolist() == [2, 0, 255, 0, 0, 255, 0]
    big = np.array([1.8e19, 2.0**64, 2.0**63, -(2.0**63), 2.0**63 - 1024], np.float64)
    assert run_cvt(backend, big, "u64").tolist() == [
        18000000000000000000,
        2**64 - 1,
        2**63,
        0,
        2**63 - 1024,
    ]
    assert run_cvt(backend, big, "i64").tolist() == [2**63 - 1] * 3 + [-(2**63), 2**63 - 1024]


def test_int_to_int_keeps_low_bits_and_extends(backend):
    assert run_cvt(backend, np.array([300, -1, 128], np.int32), "i8").tolist() == [44, -1, -128]
    assert run_cvt(backend, np.array([-1, 5], np.int8), "u32").tolist() == [2**32 - 1, 5]
    assert run_cvt(backend, np.array([2**32 - 1], np.uint32), "i64").tolist() == [2**32 - 1]


def test_int_to_narrow_float_rounds_once(backend):
    # 2**24 + 2**16 + 1 lies just above the midpoint of two bfloat16 values: it must round up,
    # whereas rounding through float32 first would land on the midpoint and round to even.
    x = np.array([2**24 + 2**16 + 1, 2**24 + 2**16], np.int32)
    got = run_cvt(backend, x, "bf16").astype(np.float64)
    assert got.tolist() == [2**24 + 2**17, 2**24]
    wide = np.array([2**60 + 2**36 + 1, -(2**63)], np.int64)
    assert run_cvt(backend, wide, "f32").astype(np.float64).tolist() == [2**60 + 2**37, -(2.0**63)]
    assert run_cvt(backend, np.array([70000], np.int32), "f16").tolist() == [np.inf]


def test_float64_to_bfloat16_rounds_once(backend):
    x = np.array([1 + 2**-8 + 2**-30, 1 + 2**-8], np.float64)
    assert run_cvt(backend, x, "bf16").astype(np.float64).tolist() == [1 + 2**-7, 1.0]


def test_bool_conversions(backend):
    x = np.array([0.0, -0.0, 0.1, np.nan], np.float32)
    assert run_cvt(backend, x, "bool").tolist() == [False, False, True, True]
    assert run_cvt(backend, np.array([True, False]), "f32").tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- control flow
def test_exit_inside_a_loop_skips_the_rest_of_the_program(backend):
    b = Builder("exit_loop")
    y = b.buffer("y", "i32", access="write")
    i = b.cvt(b.sreg("lane_id"), "i32")
    with b.range(0, 10) as j, b.if_(b.setp("eq", j, i)):
        b.exit()
    b.stg(y, i, 1)  # reached only by lanes 10 and above
    out = np.zeros(16, np.int32)
    launch(backend, b, [out], 1, 16)
    assert out.tolist() == [0] * 10 + [1] * 6


def test_continue_skips_to_the_next_iteration(backend):
    b = Builder("continue")
    y = b.buffer("y", "i32", access="write")
    lane = b.cvt(b.sreg("lane_id"), "i32")
    total = b.mov(0, "i32")
    with b.range(0, 8) as j:
        with b.if_(b.setp("lt", j, lane)):
            b.continue_()
        b.assign(total, b.add(total, j))
    b.stg(y, lane, total)
    out = np.zeros(4, np.int32)
    launch(backend, b, [out], 1, 4)
    assert out.tolist() == [sum(range(k, 8)) for k in range(4)]


def test_a_loop_no_lane_enters_is_skipped(backend):
    b = Builder("skipped_loop")
    y = b.buffer("y", "i32", access="write")
    with b.if_(b.setp("eq", b.sreg("lane_id"), 99)), b.loop():
        b.stg(y, 0, 1)  # an endless loop if any lane ever entered it
    b.stg(y, 1, 2)
    out = np.zeros(2, np.int32)
    launch(backend, b, [out], 1, 8)
    assert out.tolist() == [0, 2]


def test_undefined_registers_read_as_zero(backend):
    b = Builder("zeros")
    y = b.buffer("y", "f32", access="write")
    p = b.pred()
    r = b.reg("f32")
    b.stg(y, 0, r)
    b.stg(y, 1, b.sel(p, 5.0, 7.0))
    out = np.ones(2, np.float32)
    launch(backend, b, [out])
    assert out.tolist() == [0.0, 7.0]


# ---------------------------------------------------------------- memory
def test_out_of_range_index_names_the_instruction_lane_and_bound(backend):
    b = Builder("oob")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    i = b.global_id()
    b.stg(y, i, b.ldg(x, b.add(i, 3)))
    program = b.build()
    load_index = next(k for k, ins in enumerate(program.instructions) if ins.op is Op.LDG)
    with pytest.raises(MemoryAccessError) as info:
        backend.launch(
            program, LaunchConfig(2, 4), [np.zeros(8, np.float32), np.zeros(8, np.float32)]
        )
    message = str(info.value)
    assert f"instruction {load_index} (ldg" in message and "'oob'" in message
    assert "index 8" in message and "[0, 8)" in message and "global id (5, 0, 0)" in message


def test_negative_index_is_out_of_range(backend):
    b = Builder("negative")
    y = b.buffer("y", "i32", access="write")
    b.stg(y, b.mov(-1, "i32"), 1)
    with pytest.raises(MemoryAccessError, match="index -1"):
        launch(backend, b, [np.zeros(4, np.int32)])


def test_inactive_lanes_are_not_bounds_checked(backend):
    b = Builder("guarded")
    y = b.buffer("y", "u32", access="write")
    i = b.global_id()
    with b.if_(b.setp("lt", i, 5)):
        b.stg(y, i, i)
    out = np.zeros(5, np.uint32)
    launch(backend, b, [out], 2, 8)
    assert out.tolist() == [0, 1, 2, 3, 4]


def test_conflicting_stores_keep_the_highest_lane(backend):
    b = Builder("conflict")
    y = b.buffer("y", "u32", access="write")
    lane = b.sreg("lane_id")
    b.stg(y, b.mod(lane, 3), lane)
    out = np.zeros(3, np.uint32)
    launch(backend, b, [out], 1, 10)
    assert out.tolist() == [9, 7, 8]


def test_atomics_apply_in_lane_order(backend):
    b = Builder("atomic_order")
    slot = b.buffer("slot", "i32", access="readwrite")
    total = b.buffer("total", "f32", access="readwrite")
    old = b.buffer("old", "i32", access="write")
    values = b.buffer("values", "f32")
    lane = b.sreg("lane_id")
    b.stg(old, lane, b.atom("exch", slot, 0, b.cvt(lane, "i32"), want_old=True))
    b.atom("add", total, 0, b.ldg(values, lane))
    lanes = 64
    vals = np.random.default_rng(3).uniform(-1, 1, lanes).astype(np.float32) * 1e4
    slot_arr, total_arr = np.array([-5], np.int32), np.zeros(1, np.float32)
    old_arr = np.zeros(lanes, np.int32)
    launch(backend, b, [slot_arr, total_arr, old_arr, vals], 1, lanes)
    assert old_arr.tolist() == [-5, *range(lanes - 1)]
    assert slot_arr[0] == lanes - 1
    sequential = np.float32(0)
    for v in vals:
        sequential = np.float32(sequential + v)
    assert total_arr[0] == sequential


def test_shared_memory_is_fresh_and_zero_in_every_block(backend):
    b = Builder("fresh_shared")
    y = b.buffer("y", "f32", access="write")
    tile = b.shared("f32", 4)
    lane = b.sreg("lane_id")
    before = b.lds(tile, lane)
    b.sts(tile, lane, 9.0)
    b.barrier()
    b.stg(y, b.global_id(), before)
    out = np.ones(12, np.float32)
    launch(backend, b, [out], 3, 4)
    assert out.tolist() == [0.0] * 12


def test_pool_is_viewed_as_its_element_type(backend):
    b = Builder("pool_view")
    pool = b.pool("pool", "u16")
    i = b.global_id()
    b.pool_st(pool, i, b.add(b.pool_ld(pool, i), 1))
    raw = backend.allocate_pool(9)  # 4 whole u16 elements; the odd byte is not addressable
    backend.copy_to_pool(raw, np.arange(9, dtype=np.uint8))
    backend.launch(b.build(), LaunchConfig(1, 4), [raw])
    assert raw[:8].view(np.uint16).tolist() == [0x0100 + 1, 0x0302 + 1, 0x0504 + 1, 0x0706 + 1]
    with pytest.raises(MemoryAccessError, match=r"\[0, 4\)"):
        backend.launch(b.build(), LaunchConfig(1, 5), [raw])


# ---------------------------------------------------------------- barriers and reductions
def test_divergent_barrier_is_an_error(backend):
    # The verifier forbids BAR under an IF; lanes that left a loop early still diverge.
    b = Builder("divergent_bar")
    with b.loop():
        with b.if_(b.setp("lt", b.sreg("lane_id"), 2)):
            b.break_()
        b.barrier()
        b.break_()
    with pytest.raises(LaunchError, match="divergent barrier.*2 of 4 live lanes"):
        launch(backend, b, [], 1, 4)


def test_barrier_after_exit_waits_only_for_live_lanes(backend):
    b = Builder("bar_after_exit")
    y = b.buffer("y", "i32", access="write")
    lane = b.sreg("lane_id")
    with b.if_(b.setp("ge", lane, 3)):
        b.exit()
    b.barrier()
    b.stg(y, lane, b.reduce("add", b.cvt(lane, "i32")))
    out = np.full(8, -1, np.int32)
    launch(backend, b, [out], 1, 8)
    assert out.tolist() == [3, 3, 3] + [-1] * 5


def test_reduce_inside_a_loop_after_a_break_is_divergent(backend):
    b = Builder("divergent_reduce")
    lane = b.sreg("lane_id")
    with b.loop():
        with b.if_(b.setp("eq", lane, 0)):
            b.break_()
        b.reduce("add", lane)
        b.break_()
    with pytest.raises(LaunchError, match="instruction"):
        launch(backend, b, [], 1, 4)


# ---------------------------------------------------------------- batching and lane order
def test_batched_execution_matches_block_by_block_in_small_chunks(backend, monkeypatch):
    b = Builder("ids")
    y = b.buffer("y", "u32", access="write")
    gx, gy = b.global_id(0), b.global_id(1)
    linear = b.mad(gy, 12, gx)
    b.stg(y, linear, b.mad(b.sreg("block_id", 1), 1000, b.sreg("lane_id", 0)))
    program = b.build()
    config = LaunchConfig((3, 2), (4, 5))
    whole = np.zeros(120, np.uint32)
    ReferenceBackend().launch(program, config, [whole])
    monkeypatch.setattr(reference, "CHUNK_LANES", 7)  # fewer lanes than a block: one at a time
    chunked = np.zeros(120, np.uint32)
    ReferenceBackend().launch(program, config, [chunked])
    gxs, gys = np.meshgrid(np.arange(12), np.arange(10))
    expected = (gys // 5) * 1000 + gxs % 4
    assert whole.tolist() == chunked.tolist() == expected.reshape(-1).tolist()


# ---------------------------------------------------------------- intrinsics
def test_matmul_checks_buffer_extents(backend):
    b = Builder("small_c")
    a, bb = b.buffer("a", "f32"), b.buffer("b", "f32")
    c = b.buffer("c", "f32", access="write")
    b.matmul(a, bb, c, m=2, n=2, k=2)
    args = [np.ones(4, np.float32), np.ones(4, np.float32), np.zeros(3, np.float32)]
    with pytest.raises(MemoryAccessError, match="operand C needs 4 elements"):
        launch(backend, b, args)


def test_conv2d_rejects_inconsistent_groups(backend):
    b = Builder("bad_groups")
    x, w = b.buffer("x", "f32"), b.buffer("w", "f32")
    y = b.buffer("y", "f32", access="write")
    b.conv2d(x, w, y, n=1, c=3, h=4, w=4, k=2, r=1, s=1, groups=2)
    args = [np.zeros(48, np.float32), np.zeros(6, np.float32), np.zeros(32, np.float32)]
    with pytest.raises(HologramError, match="groups"):
        launch(backend, b, args)
