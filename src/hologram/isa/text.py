"""The ISA's text form: a readable assembly that round-trips exactly.

    .program scale
    .version 1.0
    .param x buffer<f32> read
    .param n scalar<u32>
    .reg u32 r0
    .pred 1
        sreg.u32 r0, global_id.x
        setp.u32.lt p0, r0, $1

The grammar is specified in `docs/isa.mdx` under *Text form*. `from_text(to_text(p)) == p` for
every verified program; `to_text` accepts any program (it also prints malformed ones, for
error messages), `from_text` verifies what it parses.
"""

from __future__ import annotations

import enum
import json

from hologram.errors import EncodingError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import (
    Access,
    Arg,
    AttrValue,
    Imm,
    Instruction,
    Param,
    ParamKind,
    Pred,
    Program,
    Reg,
    Shared,
)
from hologram.isa.text_parser import parse_text
from hologram.isa.text_syntax import (
    AXES,
    DTYPE_NAMES,
    IDENT_RE,
    MODIFIER_ATTRS,
    NAME_RE,
    format_attr_value,
    format_float,
    format_imm_value,
    parse_float,
)
from hologram.isa.verifier import verify

__all__ = [
    "format_float",
    "format_instruction",
    "format_operand",
    "from_text",
    "parse_float",
    "to_text",
]

INDENT = "    "
_AXIS_NUMBERS = {0, 1, 2}


# ---------------------------------------------------------------- printing
def _format_name(name: object) -> str:
    if isinstance(name, str) and NAME_RE.fullmatch(name):
        return name
    return json.dumps(name if isinstance(name, str) else str(name))


def _word(value: object) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def to_text(program: Program) -> str:
    """The text form of `program` (any program, verified or not)."""
    lines = [f".program {_format_name(program.name)}"]
    version = program.version
    if isinstance(version, tuple) and len(version) == 2:
        lines.append(f".version {version[0]}.{version[1]}")
    for param in program.params:
        lines.append(_format_param(param))
    lines.extend(_format_registers(program.registers))
    if program.predicates:
        lines.append(f".pred {program.predicates}")
    for arr in program.shared:
        lines.append(f".shared {_word(arr.dtype)}[{arr.size}]")
    depth = 1
    for inst in program.instructions:
        op = getattr(inst, "op", None)
        if op in (Op.ENDIF, Op.ENDLOOP):
            depth = max(1, depth - 1)
        shown_depth = max(1, depth - 1) if op is Op.ELSE else depth
        lines.append(INDENT * shown_depth + format_instruction(inst))
        if op in (Op.IF, Op.LOOP):
            depth += 1
    return "\n".join(lines) + "\n"


def _format_param(param: Param) -> str:
    text = f".param {param.name} {_word(param.kind)}<{_word(param.dtype)}>"
    if param.kind is not ParamKind.SCALAR or param.access is not Access.READ:
        text += f" {_word(param.access)}"
    return text


def _format_registers(registers: tuple[DType, ...]) -> list[str]:
    """One `.reg` line per run of same-dtype registers; long runs as `rA..rB`."""
    lines = []
    start = 0
    while start < len(registers):
        end = start
        while end + 1 < len(registers) and registers[end + 1] == registers[start]:
            end += 1
        if end - start >= 2:
            names = f"r{start}..r{end}"
        else:
            names = " ".join(f"r{i}" for i in range(start, end + 1))
        lines.append(f".reg {_word(registers[start])} {names}")
        start = end + 1
    return lines


def format_operand(operand: object) -> str:
    """`r3`, `p0`, `$1`, `@0` or an immediate `2.0:f32`."""
    if isinstance(operand, Imm):
        return f"{format_imm_value(operand.value)}:{_word(operand.dtype)}"
    if isinstance(operand, (Reg, Pred, Arg, Shared)):
        return str(operand)
    return repr(operand)


def format_instruction(inst: Instruction) -> str:
    """One instruction, without indentation: `mnemonic[.dtype][.modifier] operands, key=value`."""
    op = inst.op
    head = _word(op)
    if inst.dtype is not None:
        head += f".{_word(inst.dtype)}"
    attrs = list(inst.attrs) if isinstance(inst.attrs, tuple) else []
    modifier = MODIFIER_ATTRS.get(op) if isinstance(op, Op) else None
    for item in list(attrs):
        if modifier is not None and item[0] == modifier and _is_modifier(op, item[1]):
            head += f".{item[1]}"
            attrs.remove(item)
    operands = [] if inst.dst is None else [format_operand(inst.dst)]
    if op is Op.SREG:
        named = dict(a for a in attrs if isinstance(a, tuple) and len(a) == 2)
        sreg, axis = named.get("sreg"), named.get("axis")
        if isinstance(sreg, str) and IDENT_RE.fullmatch(sreg) and _is_axis(axis):
            operands.append(f"{sreg}.{AXES[axis]}")  # type: ignore[index]
            attrs = [a for a in attrs if a[0] not in ("sreg", "axis")]
    operands.extend(format_operand(s) for s in inst.srcs)
    operands.extend(
        f"{a[0]}={format_attr_value(a[1])}" if isinstance(a, tuple) and len(a) == 2 else repr(a)
        for a in attrs
    )
    return f"{head} {', '.join(operands)}" if operands else head


def _is_axis(value: object) -> bool:
    return type(value) is int and value in _AXIS_NUMBERS


def _is_modifier(op: Op, value: AttrValue) -> bool:
    if op is Op.NEIGHBOR:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return isinstance(value, str) and bool(IDENT_RE.fullmatch(value)) and value not in DTYPE_NAMES


# ---------------------------------------------------------------- parsing
# ---------------------------------------------------------------- parsing
def from_text(text: str) -> Program:
    """Parse and verify the text form; syntax errors raise `EncodingError` naming the line."""
    if not isinstance(text, str):
        raise EncodingError(f"text form must be a str, got {type(text).__name__}")
    program = parse_text(text)
    verify(program)
    return program
