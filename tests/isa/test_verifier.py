"""The verifier: a catalogue of malformed programs, each rejected at the right instruction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from hologram.errors import ProgramError, VerificationError
from hologram.isa import (
    Access,
    Arg,
    Builder,
    DType,
    Imm,
    Instruction,
    Op,
    Param,
    ParamKind,
    Pred,
    Program,
    Reg,
    Shared,
    SharedArray,
)
from hologram.isa.verifier import verify

F32, I32, U32, BOOL = DType.F32, DType.I32, DType.U32, DType.BOOL


def _program(*instructions: Instruction, **fields: object) -> Program:
    """A program with a small fixed declaration block and the given instructions.

    Parameters: $0 `src` f32 read buffer, $1 `dst` f32 write buffer, $2 `n` u32 scalar,
    $3 `acc` f32 readwrite buffer, $4 `pool` u8 pool, $5 `half` f16 read buffer.
    Registers: r0 f32, r1 f32, r2 u32, r3 i32. Predicates: p0, p1. Shared: @0 f32[64].
    """
    declarations: dict[str, object] = {
        "params": (
            Param("src", ParamKind.BUFFER, F32, Access.READ),
            Param("dst", ParamKind.BUFFER, F32, Access.WRITE),
            Param("n", ParamKind.SCALAR, U32),
            Param("acc", ParamKind.BUFFER, F32, Access.READWRITE),
            Param("pool", ParamKind.POOL, DType.U8, Access.READWRITE),
            Param("half", ParamKind.BUFFER, DType.F16, Access.READ),
        ),
        "registers": (F32, F32, U32, I32),
        "predicates": 2,
        "shared": (SharedArray(F32, 64),),
    }
    declarations.update(fields)
    return Program("case", instructions=instructions, **declarations)  # type: ignore[arg-type]


def ins(opcode: Op, dtype: DType | None = None, dst=None, /, *srcs, **attrs) -> Instruction:
    """Shorthand for `Instruction.make`."""
    return Instruction.make(opcode, dtype, dst, srcs, attrs)


r0, r1, r2, r3, r4, r9 = Reg(0), Reg(1), Reg(2), Reg(3), Reg(4), Reg(9)
p0, p1, p2 = Pred(0), Pred(1), Pred(2)
SRC, DST, N, ACC, POOL, HALF = (Arg(i) for i in range(6))
S0, S1 = Shared(0), Shared(1)


def f32(value: float) -> Imm:
    return Imm(value, F32)


def u32(value: int) -> Imm:
    return Imm(value, U32)


ADD = ins(Op.ADD, F32, r0, r0, r1)
IF_P0, ELSE, ENDIF = ins(Op.IF, None, None, p0), ins(Op.ELSE), ins(Op.ENDIF)
LOOP, ENDLOOP, BAR = ins(Op.LOOP), ins(Op.ENDLOOP), ins(Op.BAR)
MATMUL_ATTRS = {
    "batch": 1, "m": 2, "n": 2, "k": 2, "trans_a": False, "trans_b": False,
    "stride_a": 4, "stride_b": 4, "stride_c": 4,
}  # fmt: skip
CONV_ATTRS = {
    "n": 1, "c": 4, "h": 5, "w": 5, "k": 4, "r": 3, "s": 3, "stride": (1, 1),
    "pad": (0, 0, 0, 0), "dilation": (1, 1), "groups": 2,
}  # fmt: skip
MATMUL = ins(Op.MATMUL, F32, None, SRC, ACC, DST, **MATMUL_ATTRS)
CONV = ins(Op.CONV2D, F32, None, SRC, SRC, DST, **CONV_ATTRS)


def _with_attr(inst: Instruction, **changes: object) -> Instruction:
    attrs = {**inst.attr_dict, **changes}
    return Instruction.make(inst.op, inst.dtype, inst.dst, inst.srcs, attrs)  # type: ignore[arg-type]


def _duplicate_params() -> Program:
    b = Builder("dup")
    b.buffer("x", "f32")
    b.params.append(Param("x", ParamKind.SCALAR, F32))
    return b.build(verify=False)


def case(name: str, index: int | None, message: str, *instructions: Instruction, **fields):
    """A malformed program built from `instructions`, rejected at `index` with `message`."""
    return pytest.param(lambda: _program(*instructions, **fields), index, message, id=name)


def program_case(name: str, message: str, make: Callable[[], Program]):
    """A malformed program whose fault is in its declarations (no instruction index)."""
    return pytest.param(make, None, message, id=name)


CASES = [
    # ---- program level
    program_case("empty name", "non-empty", lambda: replace(_program(), name="")),
    program_case("newer major", "major version 2", lambda: replace(_program(), version=(2, 0))),
    program_case("older major", "major version 0", lambda: replace(_program(), version=(0, 9))),
    program_case("too many registers", "at most 4096", lambda: _program(registers=(F32,) * 4097)),
    program_case("too many predicates", "predicate count", lambda: _program(predicates=257)),
    program_case("duplicate param", "declared twice", _duplicate_params),
    program_case(
        "param not identifier",
        "not an identifier",
        lambda: _program(params=(Param("a-b", ParamKind.SCALAR, F32),)),
    ),
    program_case(
        "scalar written",
        "must have read access",
        lambda: _program(params=(Param("s", ParamKind.SCALAR, F32, Access.WRITE),)),
    ),
    program_case(
        "empty shared", "at least 1 element", lambda: _program(shared=(SharedArray(F32, 0),))
    ),
    # ---- dtypes
    case("missing dtype", 1, "needs a dtype", ADD, ins(Op.ADD, None, r0, r0, r1)),
    case("dtype on if", 0, "takes no dtype", ins(Op.IF, BOOL, None, p0), ENDIF),
    case("floor on int", 0, "not defined for dtype i32", ins(Op.FLOOR, I32, r3, r3)),
    case("sreg not u32", 0, "not defined", ins(Op.SREG, I32, r3, sreg="lane_id", axis=0)),
    case("shl on float", 0, "not defined for dtype f32", ins(Op.SHL, F32, r0, r0, r1)),
    # ---- destinations
    case("add into pred", 0, "general-register destination", ins(Op.ADD, F32, p0, r0, r1)),
    case("setp into reg", 0, "predicate destination", ins(Op.SETP, F32, r0, r0, r1, cmp="lt")),
    case("bool mov into reg", 0, "predicate destination", ins(Op.MOV, BOOL, r0, p0)),
    case("stg with dst", 0, "has no destination", ins(Op.STG, F32, r0, DST, r2, r0)),
    case("dst dtype", 1, "destination r2 is u32", ADD, ins(Op.ADD, F32, r2, r0, r1)),
    case("dst out of range", 0, "register r9 out of range", ins(Op.ADD, F32, r9, r0, r1)),
    case(
        "atom dst dtype", 0, "destination r2 is u32", ins(Op.ATOM, F32, r2, ACC, r2, r0, op="add")
    ),
    # ---- source counts and indices
    case("too few sources", 0, "takes 2 sources, got 1", ins(Op.ADD, F32, r0, r0)),
    case("too many sources", 0, "takes 1 sources, got 2", ins(Op.NEG, F32, r0, r0, r1)),
    case("conv2d five sources", 0, "takes 3 to 4 sources", replace(CONV, srcs=(SRC,) * 5)),
    case(
        "sreg with source", 0, "takes 0 sources", ins(Op.SREG, U32, r2, r2, sreg="lane_id", axis=0)
    ),
    case("reg out of range", 2, "r4 out of range", ADD, ADD, ins(Op.ADD, F32, r0, r0, r4)),
    case("negative reg", 0, "r-1 out of range", ins(Op.ADD, F32, r0, Reg(-1), r0)),
    case("pred out of range", 0, "p2 out of range", ins(Op.IF, None, None, p2), ENDIF),
    case("arg out of range", 0, "$6 out of range", ins(Op.LDG, F32, r0, Arg(6), r2)),
    case("not an operand", 0, "not an operand", ins(Op.ADD, F32, r0, r0, "r1")),
    # ---- attributes
    case("missing cmp", 0, "needs attribute 'cmp'", ins(Op.SETP, F32, p0, r0, r1)),
    case("bad cmp", 0, "cmp='lt2' must be one of", ins(Op.SETP, F32, p0, r0, r1, cmp="lt2")),
    case("exch is not a reduction", 0, "op='exch'", ins(Op.REDUCE, F32, r0, r1, op="exch")),
    case("bad atom op", 0, "op='mul'", ins(Op.ATOM, F32, None, ACC, r2, r0, op="mul")),
    case("bad sreg", 0, "sreg='warp_id'", ins(Op.SREG, U32, r2, sreg="warp_id", axis=0)),
    case(
        "bad axis",
        0,
        "axis=3 must be an int in [0, 2]",
        ins(Op.SREG, U32, r2, sreg="lane_id", axis=3),
    ),
    case("bool axis", 0, "axis=True", ins(Op.SREG, U32, r2, sreg="lane_id", axis=True)),
    case("bad neighbor", 0, "k=2", ins(Op.NEIGHBOR, U32, r2, r2, k=2)),
    case("unknown attr", 0, "no attribute 'fast'", ins(Op.ADD, F32, r0, r0, r1, fast=True)),
    case(
        "unsorted attrs",
        0,
        "sorted by name",
        Instruction(Op.SREG, U32, r2, (), (("sreg", "lane_id"), ("axis", 0))),
    ),
    case("matmul bool attr", 0, "trans_a=1 must be a bool", _with_attr(MATMUL, trans_a=1)),
    case("matmul m=0", 0, "m=0 must be an int in [1", _with_attr(MATMUL, m=0)),
    case("matmul negative stride", 0, "stride_c=-1", _with_attr(MATMUL, stride_c=-1)),
    case("conv2d short pad", 0, "a tuple of 4 ints", _with_attr(CONV, pad=(1, 1))),
    case("conv2d groups", 0, "groups=3 must divide c=4", _with_attr(CONV, groups=3)),
    case("conv2d window", 0, "window is larger", _with_attr(CONV, r=9)),
    # ---- operand types
    case("add mixes dtypes", 0, "source 1 r3 is i32", ins(Op.ADD, F32, r0, r0, r3)),
    case("scalar of wrong dtype", 0, "source 1 $2 is u32", ins(Op.ADD, F32, r0, r0, N)),
    case("setp operand dtype", 0, "source 0 r2 is u32", ins(Op.SETP, F32, p0, r2, r1, cmp="lt")),
    case("sel condition", 0, "must be a predicate register", ins(Op.SEL, F32, r0, r0, r0, r1)),
    case("if on register", 0, "predicate register", ins(Op.IF, None, None, r2), ENDIF),
    case("float index", 0, "integer dtype, got f32", ins(Op.LDG, F32, r0, SRC, r1)),
    case("bool index", 0, "integer dtype, got bool", ins(Op.LDS, F32, r0, S0, p0)),
    case("geometry on i32", 0, "r3 is i32, but mirror works on u32", ins(Op.MIRROR, U32, r2, r3)),
    case("cvt dst dtype", 0, "destination r0 is f32", ins(Op.CVT, I32, r0, r2)),
    # ---- immediates
    case(
        "u8 overflow",
        0,
        "300 does not fit in u8",
        ins(Op.ADD, DType.U8, r0, Imm(300, DType.U8), Imm(1, DType.U8)),
        registers=(DType.U8,),
    ),
    case("negative unsigned", 0, "-1 does not fit in u32", ins(Op.ADD, U32, r2, r2, u32(-1))),
    case("int imm for f32", 0, "must be a float", ins(Op.ADD, F32, r0, r0, Imm(2, F32))),
    case("float imm for i32", 0, "must be an int", ins(Op.ADD, I32, r3, r3, Imm(2.0, I32))),
    case("int imm for bool", 0, "True or False", ins(Op.MOV, BOOL, p0, Imm(1, BOOL))),
    case("bool imm for i32", 0, "must be an int", ins(Op.ADD, I32, r3, r3, Imm(True, I32))),
    # ---- memory operands and access
    case("load write-only", 0, "reads 'dst', whose access is write", ins(Op.LDG, F32, r0, DST, r2)),
    case(
        "store read-only",
        0,
        "writes 'src', whose access is read",
        ins(Op.STG, F32, None, SRC, r2, r0),
    ),
    case("atom read-only", 0, "writes 'src'", ins(Op.ATOM, F32, None, SRC, r2, r0, op="add")),
    case("atom write-only", 0, "reads 'dst'", ins(Op.ATOM, F32, None, DST, r2, r0, op="add")),
    case(
        "matmul writes read-only",
        0,
        "source 2: matmul writes 'src'",
        replace(MATMUL, srcs=(SRC, SRC, SRC)),
    ),
    case(
        "conv2d bias write-only",
        0,
        "source 3: conv2d reads 'dst'",
        replace(CONV, srcs=(SRC, SRC, DST, DST)),
    ),
    case("buffer as value", 0, "$0 is a buffer, not a value", ins(Op.ADD, F32, r0, r0, SRC)),
    case(
        "pool as value",
        0,
        "is a pool, not a value",
        ins(Op.MOV, DType.U8, r0, POOL),
        registers=(DType.U8,),
    ),
    case(
        "indexing a scalar",
        0,
        "scalar parameter 'n' cannot be indexed",
        ins(Op.LDG, U32, r2, N, r2),
    ),
    case("buffer dtype", 0, "'half' holds f16", ins(Op.LDG, F32, r0, HALF, r2)),
    case("ldg from register", 0, "must be a buffer parameter", ins(Op.LDG, F32, r0, r1, r2)),
    case(
        "ldg from pool",
        0,
        "must be a buffer, 'pool' is a pool",
        ins(Op.LDG, DType.U8, r0, POOL, r2),
        registers=(DType.U8, F32, U32),
    ),
    case(
        "pool_ld from buffer",
        0,
        "must be a pool, 'src' is a buffer",
        ins(Op.POOL_LD, F32, r0, SRC, r2),
    ),
    case("lds from param", 0, "must be a shared array", ins(Op.LDS, F32, r0, SRC, r2)),
    case("lds out of range", 0, "@1 out of range", ins(Op.LDS, F32, r0, S1, r2)),
    case("sts dtype", 0, "@0 holds f32, not u32", ins(Op.STS, U32, None, S0, r2, r2)),
    case("shared as value", 0, "cannot be used as a value", ins(Op.ADD, F32, r0, r0, S0)),
    # ---- structured control flow
    case("else without if", 1, "else without an open if", ADD, ELSE),
    case("else inside loop", 1, "else without an open if", LOOP, ELSE, ENDLOOP),
    case("two elses", 3, "second else for the if at instruction 0", IF_P0, ELSE, ADD, ELSE, ENDIF),
    case("endif without if", 0, "endif without a matching if (nothing open)", ENDIF),
    case(
        "crossed markers",
        2,
        "endif without a matching if (loop is open)",
        IF_P0,
        LOOP,
        ENDIF,
        ENDLOOP,
    ),
    case("break outside loop", 1, "break outside a loop", IF_P0, ins(Op.BREAK), ENDIF),
    case("continue outside loop", 0, "continue outside a loop", ins(Op.CONTINUE)),
    case("unclosed if", 1, "if is never closed (missing endif)", ADD, IF_P0, ADD),
    case("unclosed loop", 2, "loop is never closed", IF_P0, ENDIF, LOOP, IF_P0, ENDIF),
    case("bar under if", 1, "bar inside an if", IF_P0, BAR, ENDIF),
    case("bar under else", 2, "bar inside an if", IF_P0, ELSE, BAR, ENDIF),
    case(
        "reduce in loop in if",
        2,
        "reduce inside an if",
        IF_P0,
        LOOP,
        ins(Op.REDUCE, F32, r0, r1, op="add"),
        ENDLOOP,
        ENDIF,
    ),
    # ---- intrinsics
    case("kernel then intrinsic", 0, "solely of intrinsics", ADD, MATMUL),
    case("intrinsic then kernel", 2, "solely of intrinsics", MATMUL, CONV, BAR),
]


@pytest.mark.parametrize(("make", "index", "message"), CASES)
def test_malformed_program_is_rejected_at_its_instruction(
    make: Callable[[], Program], index: int | None, message: str
) -> None:
    program = make()
    with pytest.raises(VerificationError) as info:
        verify(program)
    assert info.value.index == index
    assert info.value.program == program.name
    assert message in str(info.value)
    if index is not None:
        assert f"instruction {index}:" in str(info.value)


def test_catalogue_is_large_and_distinct() -> None:
    names = [case.id for case in CASES]
    assert len(names) == len(set(names)) >= 25


def test_verification_error_is_a_program_error() -> None:
    with pytest.raises(ProgramError):
        verify(_program(ins(Op.CONTINUE)))


# ---------------------------------------------------------------- well-formed programs
def good(name: str, *instructions: Instruction, **fields):
    """A well-formed program built from `instructions`."""
    return pytest.param(lambda: _program(*instructions, **fields), id=name)


WELL_FORMED = [
    pytest.param(lambda: Program("empty"), id="empty"),
    good("declarations only"),
    good("cvt from any dtype", ins(Op.CVT, F32, r0, r3), ins(Op.CVT, BOOL, p0, r2)),
    good("setp on predicates", ins(Op.SETP, BOOL, p1, p0, Imm(True, BOOL), cmp="eq")),
    good("sel", ins(Op.SEL, F32, r0, p0, r1, f32(float("nan")))),
    good("bool logic", ins(Op.XOR, BOOL, p0, p0, p1), ins(Op.NOT, BOOL, p1, p0)),
    good(
        "index of any int type",
        ins(Op.LDG, F32, r0, SRC, r3),
        ins(Op.STG, F32, None, DST, Imm(-1, DType.I8), r0),
    ),
    good("atom without dst", ins(Op.ATOM, F32, None, ACC, r2, f32(1.0), op="add")),
    good("atom with dst", ins(Op.ATOM, F32, r1, ACC, N, r0, op="exch")),
    good(
        "pool",
        ins(Op.POOL_LD, DType.U8, r0, POOL, u32(7)),
        ins(Op.POOL_ST, DType.U8, None, POOL, u32(7), r0),
        registers=(DType.U8,),
    ),
    good(
        "shared",
        ins(Op.STS, F32, None, S0, r2, r0),
        BAR,
        ins(Op.LDS, F32, r1, S0, u32(0)),
    ),
    good(
        "bar and reduce in a loop",
        LOOP,
        BAR,
        ins(Op.REDUCE, F32, r0, r1, op="max"),
        ins(Op.BREAK),
        ENDLOOP,
    ),
    good("bar after an if", IF_P0, ELSE, ins(Op.EXIT), ENDIF, BAR),
    good(
        "jumps in an if in a loop",
        LOOP,
        IF_P0,
        ins(Op.BREAK),
        ELSE,
        ins(Op.CONTINUE),
        ENDIF,
        ENDLOOP,
    ),
    good(
        "geometry",
        ins(Op.ADDR, U32, r2, r2, u32(3), N),
        ins(Op.NEIGHBOR, U32, r2, r2, k=1),
    ),
    good(
        "extreme immediates",
        ins(Op.ADD, DType.U64, r0, Imm(2**64 - 1, DType.U64), Imm(0, DType.U64)),
        registers=(DType.U64,),
    ),
    good("intrinsics", MATMUL, CONV, replace(CONV, srcs=(SRC, SRC, DST, SRC))),
]


@pytest.mark.parametrize("make", WELL_FORMED)
def test_well_formed_program_passes(make: Callable[[], Program]) -> None:
    program = make()
    assert verify(program) is None


def test_builder_example_passes_and_tampering_fails() -> None:
    b = Builder("scale")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.mul(b.ldg(x, i), 2.0))
    program = b.build()
    verify(program)
    # Dropping the ENDIF leaves the IF (instruction 2) open.
    broken = replace(program, instructions=program.instructions[:-1])
    with pytest.raises(VerificationError, match="never closed") as info:
        verify(broken)
    assert info.value.index == 2
