"""The text form: exact round trips, the documented syntax, and errors that name the line."""

from __future__ import annotations

import contextlib
import math
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isa_samples import programs, sample_programs

from hologram.errors import EncodingError, HologramError, VerificationError
from hologram.isa import Builder, DType, Imm, Instruction, Op, Program, Reg
from hologram.isa.text import format_float, format_instruction, from_text, parse_float, to_text

SAMPLES = sample_programs()

VECTOR_ADD_TEXT = """\
.program vector_add
.version 1.0
.param a buffer<f32> read
.param out buffer<f32> write
.param n scalar<u32>
.reg u32 r0
.reg f32 r1 r2
.pred 1
    sreg.u32 r0, global_id.x
    setp.u32.lt p0, r0, $2
    if p0
        ldg.f32 r1, $0, r0
        mul.f32 r2, r1, 2.0:f32
        stg.f32 $1, r0, r2
    endif
"""


def _vector_add() -> Program:
    b = Builder("vector_add")
    a = b.buffer("a", "f32")
    out = b.buffer("out", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(out, i, b.mul(b.ldg(a, i), 2.0))
    return b.build()


# ---------------------------------------------------------------- printing and round trips
def test_to_text_matches_the_documented_example() -> None:
    program = _vector_add()
    assert to_text(program) == VECTOR_ADD_TEXT
    assert str(program) == VECTOR_ADD_TEXT
    assert from_text(VECTOR_ADD_TEXT) == program


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_round_trips(name: str) -> None:
    program = SAMPLES[name]
    text = to_text(program)
    assert from_text(text) == program
    assert to_text(from_text(text)) == text


@settings(max_examples=150, deadline=None)
@given(programs())
def test_random_programs_round_trip(program: Program) -> None:
    assert from_text(to_text(program)) == program


def test_indentation_follows_nesting() -> None:
    lines = to_text(SAMPLES["control_flow"]).splitlines()
    body = [line for line in lines if not line.startswith(".")]
    depth = 1
    for line in body:
        word = line.split()[0]
        if word in ("endif", "endloop"):
            depth -= 1
        expected = depth - 1 if word == "else" else depth
        assert line == "    " * expected + line.strip(), line
        if word in ("if", "loop"):
            depth += 1
    assert depth == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1e300, "1e+300"),
        (5e-324, "5e-324"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (-math.nan, "nan(0xfff8000000000000)"),
        (struct.unpack("<d", bytes.fromhex("010000000000f07f"))[0], "nan(0x7ff0000000000001)"),
    ],
)
def test_float_literals_are_exact(value: float, text: str) -> None:
    assert format_float(value) == text
    parsed = parse_float(text)
    assert parsed is not None
    assert struct.pack("<d", parsed) == struct.pack("<d", value)


@pytest.mark.parametrize("text", ["2", "-7", "1.5x", "", "nan(0x12)", "infinity", "1_0.5"])
def test_non_float_literals_are_refused(text: str) -> None:
    assert parse_float(text) is None


@pytest.mark.parametrize(
    ("instruction", "text"),
    [
        (Instruction.make(Op.SETP, DType.F32, None, (), {"cmp": "ge"}), "setp.f32.ge"),
        (
            Instruction.make(Op.NEIGHBOR, DType.U32, Reg(1), (Reg(0),), {"k": 1}),
            "neighbor.u32.1 r1, r0",
        ),
        (
            Instruction.make(Op.ATOM, DType.I64, None, (), {"op": "max"}),
            "atom.i64.max",
        ),
        (
            Instruction.make(Op.SREG, DType.U32, Reg(0), (), {"sreg": "block_dim", "axis": 2}),
            "sreg.u32 r0, block_dim.z",
        ),
        (
            Instruction.make(Op.MOV, DType.BOOL, None, (Imm(True, DType.BOOL),), {}),
            "mov.bool True:bool",
        ),
    ],
)
def test_instruction_syntax(instruction: Instruction, text: str) -> None:
    assert format_instruction(instruction) == text


def test_intrinsic_attributes_are_key_value_pairs() -> None:
    text = to_text(SAMPLES["convolutions"])
    assert "conv2d.bf16 $0, $1, $3, $2, c=4, dilation=(2,1), groups=2, h=9, k=6, n=2," in text
    assert "pad=(1,0,1,2), r=3, s=2, stride=(2,1), w=7" in text
    assert "trans_a=True" in to_text(SAMPLES["matmuls"])


def test_quoted_names_round_trip() -> None:
    program = SAMPLES["weird"]
    first = to_text(program).splitlines()[0]
    assert first.startswith('.program "weird \\"name\\"; with\\t')
    assert from_text(to_text(program)).name == program.name


def test_long_register_runs_are_ranges() -> None:
    b = Builder("runs")
    for dtype in ["f32"] * 5 + ["i8"] * 2 + ["f32"]:
        b.reg(dtype)
    text = to_text(b.build())
    assert ".reg f32 r0..r4\n.reg i8 r5 r6\n.reg f32 r7\n" in text
    assert from_text(text).registers == b.build().registers


def test_to_text_prints_malformed_programs() -> None:
    bad = Program(
        "bad",
        registers=(DType.F32,),
        instructions=(
            Instruction(Op.ADD, None, Reg(7), (Imm("x", DType.F32), "junk")),  # type: ignore[arg-type]
            Instruction(Op.ELSE),
            Instruction(Op.ENDLOOP),
            Instruction(Op.SREG, DType.U32, Reg(0), (), (("axis", 9), ("sreg", "no such"))),
            Instruction(Op.SETP, DType.F32, None, (), (("cmp", "f32"),)),
        ),
    )
    text = to_text(bad)
    assert "add r7, 'x':f32, 'junk'" in text
    assert 'sreg.u32 r0, axis=9, sreg="no such"' in text
    assert 'setp.f32 cmp="f32"' in text


# ---------------------------------------------------------------- parsing
def test_parser_accepts_comments_blank_lines_and_free_indentation() -> None:
    text = """
    ; a comment before everything
    .program vector_add   ; trailing comment
    .param a buffer<f32>
    .param out buffer<f32> write
    .param n scalar<u32> read
    .reg u32 r0
    .reg f32 r1..r2

    .pred 1
    sreg.u32 r0,global_id.x
    setp.u32.lt   p0 ,  r0 , $2
    if p0
    ldg.f32 r1, $0, r0
            mul.f32 r2, r1, 2.0 : f32   ; spaces around the colon
      stg.f32 $1, r0, r2
    endif
    """
    assert from_text(text) == _vector_add()


def test_parser_accepts_lowercase_bools_and_one_element_tuples() -> None:
    program = from_text(
        ".program t\n.pred 1\n    mov.bool p0, true:bool\n    and.bool p0, p0, false:bool\n"
    )
    assert program.instructions[0].srcs == (Imm(True, DType.BOOL),)
    assert program.instructions[1].srcs[1] == Imm(False, DType.BOOL)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no `.program"),
        ("    add.f32 r0, r0, r0\n", "line 1: the text must start with `.program"),
        (".param a buffer<f32>\n", "line 1: the text must start"),
        (".program a b\n", "line 1: bad program name"),
        ('.program "a\n', "line 1: bad quoted program name"),
        (".program p\n.program q\n", "line 2: second .program"),
        (".program p\n.version 1\n", "line 2: bad or repeated .version"),
        (".program p\n.version 2.0\n", "line 2: ISA version 2.0 is newer"),
        (".program p\n.param a tensor<f32>\n", "line 2: bad parameter type"),
        (".program p\n.param a buffer<f32> sometimes\n", "line 2: bad access"),
        (".program p\n.param a buffer<f128>\n", "line 2: unknown dtype 'f128'"),
        (".program p\n.reg f32 r1\n", "line 2: registers must be declared in order: expected r0"),
        (".program p\n.reg f32 r0 x1\n", "line 2: expected a register name"),
        (".program p\n.pred 1\n.pred 2\n", "line 3: bad or repeated .pred"),
        (".program p\n.shared f32\n", "line 2: expected `.shared dtype[size]`"),
        (".program p\n.bogus\n", "line 2: unknown directive"),
        (".program p\n    bar\n.pred 1\n", "line 3: directive .pred after the first"),
        (".program p\n    jump\n", "line 2: unknown mnemonic 'jump'"),
        (".program p\n    add.f32.lt r0, r0, r0\n", "line 2: unexpected suffix .lt on add"),
        (".program p\n    neighbor.u32.x r0, r0\n", "line 2: neighbor suffix must be an int"),
        (".program p\n    add.f32 r0, r0, q7\n", "line 2: bad operand 'q7'"),
        (".program p\n    add.f32 r0, r0, 1.5x:f32\n", "line 2: bad literal '1.5x'"),
        (".program p\n    add.f32 r0, r0, 1.5:f128\n", "line 2: unknown dtype 'f128'"),
        (".program p\n    add.f32 r0, , r0\n", "line 2: empty operand"),
        (".program p\n    add.f32 $0, r0, r0\n", "line 2: add destination must be a register"),
        (".program p\n    matmul.f32 $0, m=1, m=2\n", "line 2: attribute 'm' given twice"),
        (".program p\n    matmul.f32 $0, m=1.5\n", "line 2: attributes cannot be floats"),
        (".program p\n    matmul.f32 $0, pad=(1,x)\n", "line 2: tuple attributes hold ints"),
        ('.program p\n    matmul.f32 $0, s="x\n', "line 2: bad string attribute"),
        (".program p\n    add.i32 r0, r0, " + "9" * 5000 + ":i32\n", "line 2: "),
    ],
)
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(EncodingError) as info:
        from_text(text)
    assert message in str(info.value)


def test_semantic_errors_are_verification_errors() -> None:
    text = VECTOR_ADD_TEXT.replace("mul.f32 r2, r1, 2.0:f32", "mul.f32 r2, r1, 2:f32")
    with pytest.raises(VerificationError, match="instruction 4: source 1 immediate 2 of dtype"):
        from_text(text)
    with pytest.raises(VerificationError, match="if is never closed"):
        from_text(VECTOR_ADD_TEXT.replace("    endif\n", ""))


def test_from_text_refuses_non_text() -> None:
    with pytest.raises(EncodingError, match="must be a str"):
        from_text(b".program p")  # type: ignore[arg-type]


def test_older_minor_and_default_version() -> None:
    assert from_text(".program p\n").version == (1, 0)
    assert from_text(".program p\n.version 1.9\n").version == (1, 9)
    with pytest.raises(VerificationError, match="major version 0"):
        from_text(".program p\n.version 0.3\n")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_fuzz_mutated_text(name: str, data: st.DataObject) -> None:
    """Random edits of a valid text form raise nothing but HologramError subclasses."""
    text = to_text(SAMPLES[name])
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 4))
        insert = data.draw(st.text(alphabet='.;:,=()"$@rp0123456789xf -\n', max_size=4))
        text = text[:position] + insert + text[position + cut :]
    with contextlib.suppress(HologramError):
        from_text(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_random_text(text: str) -> None:
    with contextlib.suppress(HologramError):
        from_text(".program fuzz\n" + text)


def test_text_of_edited_program_differs() -> None:
    program = _vector_add()
    edited = replace(program, registers=(DType.U32, DType.F32, DType.F64))
    assert ".reg f32 r1\n.reg f64 r2\n" in to_text(edited)


def test_documented_example_is_current() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "isa.mdx").read_text(encoding="utf-8")
    assert f"```\n{VECTOR_ADD_TEXT}```" in doc
