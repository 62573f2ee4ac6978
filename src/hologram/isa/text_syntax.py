"""Lexical pieces of the ISA text form shared by its printer, its parser and the JSON form:
float literals that round-trip bit for bit, attribute values, and the mnemonic modifiers."""

from __future__ import annotations

import json
import math
import re
import struct

from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op

AXES = "xyz"
"""Axis letters of special registers: `global_id.x` is axis 0."""
MODIFIER_ATTRS = {Op.SETP: "cmp", Op.REDUCE: "op", Op.ATOM: "op", Op.NEIGHBOR: "k"}
"""The attribute each of these opcodes shows as a mnemonic suffix: `setp.f32.lt`."""
DTYPE_NAMES = {d.value: d for d in DType}

CANONICAL_NAN_BITS = 0x7FF8000000000000
NAME_RE = re.compile(r"[A-Za-z0-9_.\-]+")
IDENT_RE = re.compile(r"[A-Za-z_]\w*")
INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)")
_NAN_BITS_RE = re.compile(r"nan\(0x([0-9a-fA-F]{16})\)")


def format_float(value: float) -> str:
    """An exact text form of a float: `repr`, or `nan(0x<64 bits>)` for a non-canonical NaN."""
    if math.isnan(value):
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        return "nan" if bits == CANONICAL_NAN_BITS else f"nan(0x{bits:016x})"
    return repr(float(value))


def parse_float(text: str) -> float | None:
    """The float written by `format_float`, or None when `text` is not a float literal."""
    match = _NAN_BITS_RE.fullmatch(text)
    if match:
        return struct.unpack("<d", struct.pack("<Q", int(match.group(1), 16)))[0]
    if _FLOAT_RE.fullmatch(text) and not INT_RE.fullmatch(text):
        return float(text)
    return None


def format_imm_value(value: object) -> str:
    """The literal of an immediate's value: `True`, `-3`, `2.5`, `nan`, `-inf`."""
    if isinstance(value, float):
        return format_float(value)
    return repr(value)


def format_attr_value(value: object) -> str:
    """An attribute value: `3`, `True`, `"text"` (JSON-quoted), `(1,2)` or `(1,)`."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        inner = ",".join(format_attr_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return format_imm_value(value)
