"""The ISA -> Numba-source renderer, checked as text: no JIT compiles here."""

from __future__ import annotations

import math
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

from hologram.codegen import NumbaSource, render_numba
from hologram.codegen.numba_exprs import literal, memory_dtype, narrow_value
from hologram.codegen.numba_lane import block_guard
from hologram.codegen.numba_source import render_mode
from hologram.isa import Builder, DType, Op
from programs import CORPUS


def elementwise_add(dtype: str = "f32") -> Builder:
    b = Builder(f"add_{dtype}")
    x, y = b.buffer("x", dtype), b.buffer("y", dtype)
    z = b.buffer("z", dtype, access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(z, i, b.add(b.ldg(x, i), b.ldg(y, i)))
    return b


def compiles(source: NumbaSource, name: str) -> None:
    compile(source.text, f"<{name}>", "exec")


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_every_corpus_program_renders_valid_python(case):
    program = case.build()
    if program.is_intrinsic:
        with pytest.raises(ValueError, match="intrinsic"):
            render_numba(program)
        return
    source = render_numba(program)
    compiles(source, case.name)
    assert source.mode == render_mode(program)
    assert (source.mode == "lane") == (not program.uses_block_features)
    assert source.atomics == any(inst.op is Op.ATOM for inst in program.instructions)
    assert "def kernel_parallel(" in source.text
    assert f"digest {program.digest}" in source.text


def test_lane_mode_inlines_the_body_in_the_lane_loop():
    source = render_numba(elementwise_add().build(), runtime_tag="abc")
    compiles(source, "add")
    text = source.text
    assert source.mode == "lane" and not source.atomics
    assert (
        "def kernel(first_block, last_block, gdx, gdy, gdz, bdx, bdy, bdz, a0, a1, a2, s3):" in text
    )
    assert "def run_block" not in text
    loop = text.index("for lx in range(bdx):")
    assert text.find("r3 = np.float32(r1 + r2)", loop) > loop
    assert "a2[r0] = r3" in text
    assert "runtime abc" in text
    assert "while True" not in text  # no EXIT: no exit wrapper


def test_lane_mode_maps_control_flow_to_python():
    b = Builder("flow")
    y = b.buffer("y", "i32", access="write")
    i = b.global_id()
    with b.loop(), b.if_(b.setp("gt", i, 3)):
        b.exit()
        b.else_()
        b.continue_()
    with b.if_(b.setp("eq", i, 0)):
        pass
    b.stg(y, i, 1)
    source = render_numba(b.build())
    compiles(source, "flow")
    lines = [line.strip() for line in source.text.splitlines()]
    # The exit wrapper and the ISA loop, in the block loop (no math function: no flat loop).
    assert lines.count("while True:") == 2
    assert "_exit = True" in lines and "if _exit:" in lines
    assert "else:" in lines and "continue" in lines and "pass" in lines


def test_lockstep_mode_keeps_masks_and_reports_divergence():
    b = Builder("block_sum")
    x = b.buffer("x", "f16")
    y = b.buffer("y", "f16", access="write")
    tile = b.shared("f16", 64)
    lane = b.sreg("lane_id")
    with b.range(0, 1):  # a barrier inside a loop keeps the program in lockstep mode
        b.sts(tile, lane, b.ldg(x, b.global_id()))
        b.barrier()
    total = b.reduce("add", b.lds(tile, lane))
    b.stg(y, b.global_id(), total)
    program = b.build()
    source = render_numba(program)
    compiles(source, "block_sum")
    text = source.text
    assert source.mode == "lockstep"
    assert "def run_block(bx, by, bz, bdx, bdy, bdz, gdx, gdy, gdz, a0, a1):" in text
    assert "sh0 = np.zeros(64, np.float32)" in text  # float16 lives as float32 in registers
    bar = next(i for i, inst in enumerate(program.instructions) if inst.op is Op.BAR)
    assert f"return np.int64({bar + 1})" in text
    assert "_rf16(acc" in text and "_f64_to_f16(" in text and "_f16_to_f32(" in text
    # the store to shared memory runs for every lane before the barrier's check
    store = next(line for line in text.splitlines() if line.strip().startswith("sh0["))
    assert text.index(store) < text.index(f"return np.int64({bar + 1})")


def test_atomics_get_a_compare_and_swap_variant_for_threads():
    b = Builder("count")
    counts = b.buffer("counts", "u32", access="readwrite")
    b.atom("add", counts, 0, 1)
    source = render_numba(b.build())
    compiles(source, "count")
    text = source.text
    assert source.atomics
    one_thread = text[text.index("def kernel(") : text.index("def kernel_atomic(")]
    threaded = text[text.index("def kernel_atomic(") : text.index("def kernel_parallel(")]
    assert "_old0 = a0[_at0]" in one_thread and "_cas(" not in one_thread
    assert "_cas(a0, _at0, _raw0, " in threaded
    assert "status[chunk] = kernel_atomic(low, high" in text


def test_signed_indices_are_taken_as_unsigned_bits():
    b = Builder("signed_index")
    y = b.buffer("y", "f32", access="write")
    b.stg(y, b.cvt(b.global_id(), "i32"), 1.0)
    assert "a0[np.uint64(r1)]" in render_numba(b.build()).text


def test_literals_are_typed_and_wrapped():
    assert literal(-1, DType.U8) == "np.uint8(255)"
    assert literal(2**31, DType.I32) == "np.int32(-2147483648)"
    assert literal(True, DType.BOOL) == "True"
    assert literal(math.nan, DType.F32) == "np.float32(np.nan)"
    assert literal(-math.inf, DType.F64) == "np.float64(-np.inf)"
    assert literal(-0.0, DType.F32) == "np.float32(-0.0)"
    assert literal(0.1, DType.F16) == f"np.float32({float(np.float16(0.1))!r})"


def test_bfloat16_immediates_round_once():
    # 1 + 2**-8 + 2**-40 lies just above a bfloat16 tie; rounding through float32 first would
    # land on the tie and round down to 1.
    value = 1 + 2**-8 + 2**-40
    assert narrow_value(value, DType.BF16) == 1 + 2**-7
    assert float(np.float32(value).astype(ml_dtypes.bfloat16)) == 1.0
    assert memory_dtype(DType.BF16) == np.uint16


def test_rendering_imports_no_jit():
    code = "import sys, hologram.codegen; assert 'numba' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_bounds_check_gets_a_whole_block_fast_path():
    program = elementwise_add().build()
    guard = block_guard(program)
    assert guard is not None
    assert program.instructions[guard.if_index].op is Op.IF
    text = render_numba(program).text
    assert f"if {guard.condition}:" in text
    assert text.count("for lx in range(bdx):") == 2 and "if True:" in text


def test_no_fast_path_when_the_lane_index_is_reassigned():
    b = Builder("moved_index")
    y = b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    b.assign(i, b.add(i, 1))
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, 1.0)
    program = b.build()
    assert block_guard(program) is None
    assert render_numba(program).text.count("for lx in range(bdx):") == 1


def test_every_value_opcode_and_dtype_the_verifier_admits_has_a_rendering_rule() -> None:
    from hologram.codegen.numba_exprs import Operands, value_expr
    from hologram.isa import SPECS, Group, Instruction, Program, Reg
    from hologram.isa.opcodes import Dst

    groups = {Group.ARITH, Group.LOGIC, Group.TRANSCENDENTAL}
    rendered = 0
    for op, spec in SPECS.items():
        if spec.group not in groups or spec.types is None:
            continue
        for dtype in spec.types:
            if dtype.is_bool and spec.dst is not Dst.VALUE:
                continue
            srcs = tuple(Reg(i) for i in range(spec.n_srcs))
            program = Program("rule", registers=(dtype,) * (spec.n_srcs + 1))
            inst = Instruction.make(op, dtype, Reg(spec.n_srcs), srcs)
            expr = value_expr(inst, Operands(program))
            compile(expr, f"<{op.value}.{dtype}>", "eval")
            rendered += 1
    assert rendered > 150
