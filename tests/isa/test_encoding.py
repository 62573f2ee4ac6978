"""Binary and JSON encodings: exact round trips, determinism and adversarial input."""

from __future__ import annotations

import contextlib
import json
import math
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isa_samples import SPECIAL_FLOATS, programs, sample_programs

from hologram.errors import EncodingError, HologramError, ProgramError, VerificationError
from hologram.isa import DType, Imm, Instruction, Op, Program
from hologram.isa.encoding import (
    MAGIC,
    OPCODES,
    from_bytes,
    from_dict,
    from_json,
    roundtrip_check,
    to_bytes,
    to_dict,
    to_json,
)
from hologram.isa.text import from_text

SAMPLES = sample_programs()
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _reseal(body: bytes) -> bytes:
    """`body` followed by its correct checksum, so that the decoder parses it."""
    return body + struct.pack("<Q", xxhash.xxh3_64_intdigest(body))


def _bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_round_trips_through_every_form(name: str) -> None:
    program = SAMPLES[name]
    assert from_bytes(to_bytes(program)) == program
    assert from_json(to_json(program)) == program
    assert from_dict(to_dict(program)) == program
    roundtrip_check(program)


def test_samples_cover_every_opcode_and_dtype() -> None:
    ops = {i.op for p in SAMPLES.values() for i in p.instructions}
    dtypes = {i.dtype for p in SAMPLES.values() for i in p.instructions}
    assert ops == set(Op)
    assert dtypes - {None} == set(DType)


@settings(max_examples=150, deadline=None)
@given(programs())
def test_random_programs_round_trip(program: Program) -> None:
    roundtrip_check(program)
    assert from_bytes(to_bytes(program)) == program


def test_special_floats_keep_their_bits() -> None:
    program = SAMPLES["float_math"]
    for decoded in (from_bytes(to_bytes(program)), from_json(to_json(program))):
        got = [s.value for i in decoded.instructions for s in i.srcs if isinstance(s, Imm)]
        want = [s.value for i in program.instructions for s in i.srcs if isinstance(s, Imm)]
        assert [_bits(v) for v in got] == [_bits(v) for v in want]
        assert any(math.isnan(v) for v in got) and any(v == -math.inf for v in got)
    # immediates compare by their bits
    assert Imm(-0.0, DType.F32) != Imm(0.0, DType.F32)
    assert Imm(math.nan, DType.F32) == Imm(float("nan"), DType.F32)


def test_encoding_is_deterministic_and_digest_stable() -> None:
    program = SAMPLES["control_flow"]
    rebuilt = from_bytes(to_bytes(program))
    assert to_bytes(rebuilt) == to_bytes(program)
    assert to_json(rebuilt) == to_json(program)
    assert rebuilt.digest == program.digest
    assert replace(program, name="other").digest != program.digest


def test_binary_layout_header() -> None:
    data = to_bytes(SAMPLES["empty"])
    assert data[:4] == MAGIC
    assert struct.unpack_from("<HH", data, 4) == (1, 0)
    # name "empty", then zero params, registers, predicates, shared arrays and instructions
    body = struct.pack("<H", 5) + b"empty" + struct.pack("<HHHHI", 0, 0, 0, 0, 0)
    assert data[8:-8] == body
    assert data == _reseal(data[:-8])


def test_opcode_table_is_complete() -> None:
    assert sorted(OPCODES, key=lambda o: o.value) == sorted(Op, key=lambda o: o.value)
    assert len(set(OPCODES)) == len(OPCODES)


def test_json_form_is_readable() -> None:
    text = to_json(SAMPLES["control_flow"])
    data = json.loads(text)
    assert data["format"] == "atlas-isa" and data["version"] == [1, 0]
    assert data["instructions"][0] == {
        "op": "sreg",
        "dtype": "u32",
        "dst": {"reg": 0},
        "attrs": {"axis": 0, "sreg": "global_id"},
    }
    # one instruction per line
    assert text.count("\n") > len(data["instructions"])


def test_json_float_immediates_are_strings() -> None:
    data = to_dict(SAMPLES["float_math"])
    imms = [s for i in data["instructions"] for s in i.get("srcs", []) if "imm" in s]
    assert {"imm": "nan", "dtype": "f16"} in imms
    assert {"imm": "-inf", "dtype": "f32"} in imms
    assert {"imm": "-0.0", "dtype": "f64"} in imms
    assert any(s["imm"].startswith("nan(0x") for s in imms)


# ---------------------------------------------------------------- adversarial binary input
def test_every_truncation_is_rejected() -> None:
    data = to_bytes(SAMPLES["block_features"])
    for length in range(len(data)):
        with pytest.raises(EncodingError):
            from_bytes(data[:length])


def test_every_single_bit_flip_is_rejected() -> None:
    data = bytearray(to_bytes(SAMPLES["control_flow"]))
    for position in range(len(data)):
        for bit in range(8):
            data[position] ^= 1 << bit
            with pytest.raises(EncodingError):
                from_bytes(bytes(data))
            data[position] ^= 1 << bit


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"ATLX" + d[4:], "byte 0: bad magic"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "checksum mismatch"),
        (lambda d: d + b"\0", "checksum mismatch"),
        (lambda d: d[:6], "truncated"),
        (lambda d: d[:10], "too short to hold a checksum"),
    ],
    ids=["magic", "checksum", "trailing byte", "short header", "no checksum"],
)
def test_malformed_bytes_name_the_problem(mutate, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        from_bytes(mutate(to_bytes(SAMPLES["int_math"])))


def test_resealed_corruption_names_the_byte_offset() -> None:
    body = bytearray(to_bytes(SAMPLES["empty"])[:-8])
    body[-4:] = struct.pack("<I", 1)  # one instruction, but no bytes for it
    with pytest.raises(EncodingError, match=r"byte 27: truncated while reading opcode"):
        from_bytes(_reseal(bytes(body)))
    bad_opcode = bytes(body) + bytes([len(OPCODES)])
    with pytest.raises(EncodingError, match=rf"byte 27: unknown opcode code {len(OPCODES)}"):
        from_bytes(_reseal(bad_opcode))
    bad_dtype = bytes(body) + bytes([OPCODES.index(Op.ADD), 200])
    with pytest.raises(EncodingError, match="byte 28: unknown dtype code 200"):
        from_bytes(_reseal(bad_dtype))
    extra = to_bytes(SAMPLES["empty"])[:-8] + b"\0"
    with pytest.raises(EncodingError, match="1 unexpected bytes"):
        from_bytes(_reseal(extra))


def test_bad_utf8_name_is_an_encoding_error() -> None:
    body = bytearray(to_bytes(SAMPLES["empty"])[:-8])
    body[10] = 0xFF
    with pytest.raises(EncodingError, match="byte 10: program name is not valid UTF-8"):
        from_bytes(_reseal(bytes(body)))


def test_semantic_garbage_is_a_verification_error() -> None:
    program = SAMPLES["control_flow"]
    data = bytearray(to_bytes(program)[:-8])
    # the first instruction is `sreg.u32 r0, global_id.x`: point its destination at r999
    start = data.index(bytes([OPCODES.index(Op.SREG), DType.U32.code, 1]))
    data[start + 3 : start + 5] = struct.pack("<H", 999)
    with pytest.raises(VerificationError, match="r999 out of range") as info:
        from_bytes(_reseal(bytes(data)))
    assert isinstance(info.value, ProgramError)


def test_newer_major_version_is_refused() -> None:
    data = to_bytes(SAMPLES["int_math"])
    newer = _reseal(data[:4] + struct.pack("<HH", 2, 0) + data[8:-8])
    with pytest.raises(EncodingError, match="newer"):
        from_bytes(newer)
    newer_minor = _reseal(data[:4] + struct.pack("<HH", 1, 7) + data[8:-8])
    assert from_bytes(newer_minor).version == (1, 7)
    older = _reseal(data[:4] + struct.pack("<HH", 0, 9) + data[8:-8])
    with pytest.raises(VerificationError, match="major version 0"):
        from_bytes(older)
    text = to_json(SAMPLES["int_math"]).replace('"version": [1, 0]', '"version": [2, 0]')
    with pytest.raises(EncodingError, match=r"\$\.version: ISA version 2\.0 is newer"):
        from_json(text)


def test_decoders_refuse_non_bytes() -> None:
    with pytest.raises(EncodingError, match="expected bytes"):
        from_bytes("ATLS")  # type: ignore[arg-type]
    assert from_bytes(bytearray(to_bytes(SAMPLES["empty"]))) == SAMPLES["empty"]
    assert from_bytes(memoryview(to_bytes(SAMPLES["empty"]))) == SAMPLES["empty"]


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    for candidate in (data, MAGIC + b"\1\0" + data, _reseal(MAGIC + b"\1\0" + data)):
        with contextlib.suppress(HologramError):
            from_bytes(candidate)


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_fuzz_mutated_encodings(name: str, data: st.DataObject) -> None:
    """Mutations of a valid encoding, resealed so that they reach the body parser."""
    body = bytearray(to_bytes(SAMPLES[name])[:-8])
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(8, max(8, len(body) - 1)))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set" and position < len(body):
            body[position] = data.draw(st.integers(0, 255))
        elif action == "insert":
            body[position:position] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            del body[position : position + data.draw(st.integers(1, 4))]
    with contextlib.suppress(HologramError):
        from_bytes(_reseal(bytes(body)))


# ---------------------------------------------------------------- adversarial JSON input
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", r"\$: expected dict, got list"),
        ('{"format": "atlas-isa"}', r"\$: missing key"),
        ("\xff", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
    ids=["truncated", "array", "missing keys", "not utf-8", "deep nesting"],
)
def test_garbage_json_is_rejected(text: str, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        from_json(text)


def _json_with(edit) -> str:
    data = to_dict(SAMPLES["control_flow"])
    edit(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d.update(format="other"), r"\$\.format"),
        (lambda d: d.update(extra=1), r"\$: unknown key"),
        (lambda d: d.update(version=[1]), r"\$\.version: expected \[major, minor\]"),
        (lambda d: d.update(predicates="2"), r"\$\.predicates: expected int"),
        (lambda d: d.update(predicates=True), r"\$\.predicates: expected int, got bool"),
        (lambda d: d["params"][1].update(kind="tensor"), r"\$\.params\[1\]\.kind: unknown"),
        (lambda d: d["registers"].__setitem__(2, "f128"), r"\$\.registers\[2\]: unknown"),
        (lambda d: d["instructions"][3].update(op="jump"), r"\$\.instructions\[3\]\.op"),
        (
            lambda d: d["instructions"][0].update(dst={"reg": 0, "pred": 1}),
            r"\$\.instructions\[0\]\.dst: expected one of",
        ),
        (
            lambda d: d["instructions"][0].update(dst={"arg": 0}),
            r"\$\.instructions\[0\]\.dst: a destination is a reg or a pred",
        ),
        (
            lambda d: d["instructions"][0]["attrs"].update(axis=0.5),
            r"\$\.instructions\[0\]\.attrs\.axis: expected bool/int/str, got float",
        ),
        (
            lambda d: d["instructions"][1]["srcs"].append({"imm": 1.5, "dtype": "f32"}),
            r"\$\.instructions\[1\]\.srcs\[1\]\.imm: expected bool/int, got float",
        ),
        (
            lambda d: d["instructions"][1]["srcs"].append({"imm": "1.5x", "dtype": "f32"}),
            r"\$\.instructions\[1\]\.srcs\[1\]\.imm: bad float literal",
        ),
        (
            lambda d: d["instructions"][1].update(srcs=[{"reg": "0"}]),
            r"\$\.instructions\[1\]\.srcs\[0\]\.reg: expected int",
        ),
    ],
)
def test_wrong_json_types_name_the_path(edit, path: str) -> None:
    with pytest.raises(EncodingError, match=path):
        from_json(_json_with(edit))


def test_duplicate_json_keys_are_rejected() -> None:
    text = to_json(SAMPLES["empty"]).replace('"predicates": 0', '"predicates": 0, "predicates": 1')
    with pytest.raises(EncodingError, match="duplicate key"):
        from_json(text)


def test_json_semantic_garbage_is_a_verification_error() -> None:
    def bad_register(d: dict) -> None:
        d["instructions"][0]["dst"] = {"reg": 1000}

    with pytest.raises(VerificationError, match="instruction 0: destination register r1000"):
        from_json(_json_with(bad_register))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@FUZZ
@given(JSON_VALUES)
def test_fuzz_random_json_values(value: object) -> None:
    with contextlib.suppress(HologramError):
        from_dict(value)


def _json_nodes(node: object, path: tuple = ()) -> list[tuple]:
    """The paths of every value inside a decoded JSON document."""
    paths = [path]
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        paths += _json_nodes(child, (*path, key))
    return paths


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_fuzz_mutated_json(name: str, data: st.DataObject) -> None:
    """Replace one node of a valid document by a random value, or corrupt its text."""
    document = to_dict(SAMPLES[name])
    path = data.draw(st.sampled_from(_json_nodes(document)[1:]))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(JSON_VALUES)
    text = json.dumps(document)
    position = data.draw(st.integers(0, len(text)))
    text = text[:position] + data.draw(st.text(max_size=3)) + text[position + 1 :]
    for decode, candidate in ((from_dict, document), (from_json, text)):
        with contextlib.suppress(HologramError):
            decode(candidate)


# ---------------------------------------------------------------- encoding unencodable programs
def test_unencodable_programs_raise_encoding_errors() -> None:
    program = SAMPLES["int_math"]
    wide = replace(program, registers=(DType.I32,) * 70_000)
    with pytest.raises(EncodingError, match="register count 70000 does not fit"):
        to_bytes(wide)
    first = program.instructions[0]
    bad_imm = replace(first, srcs=(Imm("x", DType.I8),))  # type: ignore[arg-type]
    with pytest.raises(EncodingError, match="instruction 0: .*is not an int"):
        to_bytes(replace(program, instructions=(bad_imm,)))
    with pytest.raises(EncodingError, match="not an operand"):
        to_bytes(replace(program, instructions=(replace(first, srcs=("r1",)),)))  # type: ignore[arg-type]


def test_roundtrip_check_reports_invalid_programs() -> None:
    program = SAMPLES["control_flow"]
    broken = replace(program, instructions=(*program.instructions, Instruction(Op.ELSE)))
    with pytest.raises(VerificationError, match="else without an open if"):
        roundtrip_check(broken)


def test_roundtrip_check_accepts_every_special_float() -> None:
    values = np.array(SPECIAL_FLOATS, dtype=np.float64)
    assert np.isnan(values).sum() == 3
    for value in SPECIAL_FLOATS:
        program = Program(
            "special",
            registers=(DType.F64,),
            instructions=(
                replace(
                    SAMPLES["float_math"].instructions[0],
                    dtype=DType.F64,
                    srcs=(Imm(value, DType.F64),),
                ),
            ),
        )
        roundtrip_check(program)


def test_documented_examples_are_current() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "isa.mdx").read_text(encoding="utf-8")
    assert to_bytes(Program("empty")).hex(" ") in doc
    text_example = doc.split("## Text form", 1)[1].split("```\n", 2)[1]
    assert f"```json\n{to_json(from_text(text_example))}```" in doc
    assert "byte 27: unknown opcode code 62" in doc and len(OPCODES) == 62
