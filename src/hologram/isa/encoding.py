"""Versioned encodings of ISA programs: a compact binary form and a JSON form.

The binary layout is specified byte for byte in `docs/isa.mdx` under *Binary encoding*:
magic `ATLS`, the ISA version, a little-endian body, and a trailing XXH3-64 checksum.
The JSON form lives in `hologram.isa.json_form` and is re-exported here. Every decoder
raises `EncodingError` (with a byte offset or JSON path) on malformed input and runs the
verifier on what it decodes.
"""

from __future__ import annotations

import struct

import xxhash

from hologram.errors import DTypeError, EncodingError
from hologram.isa.dtypes import DType
from hologram.isa.json_form import from_dict, from_json, to_dict, to_json
from hologram.isa.opcodes import Op
from hologram.isa.program import (
    ISA_VERSION,
    Access,
    Arg,
    AttrValue,
    Imm,
    Instruction,
    Operand,
    Param,
    ParamKind,
    Pred,
    Program,
    Reg,
    Shared,
    SharedArray,
)
from hologram.isa.text import from_text, to_text
from hologram.isa.verifier import verify

__all__ = [
    "MAGIC",
    "OPCODES",
    "from_bytes",
    "from_dict",
    "from_json",
    "roundtrip_check",
    "to_bytes",
    "to_dict",
    "to_json",
]

MAGIC = b"ATLS"
HEADER = struct.Struct("<4sHH")
CHECKSUM = struct.Struct("<Q")

OPCODES: tuple[Op, ...] = tuple(
    Op(m)
    for m in """
    ldg stg lds sts mov cvt pool_ld pool_st
    add sub mul div mod mad fma min max abs neg floor ceil round trunc
    and or xor not shl shr setp sel
    if else endif loop endloop break continue exit bar fence reduce atom
    exp log sqrt rsqrt sin cos tanh sigmoid erf pow
    sreg class_of page_of byte_of mirror neighbor addr matmul conv2d
    """.split()  # noqa: SIM905  (a table reads better than 62 quoted strings)
)
"""Opcode byte codes: the opcode's position in this tuple. Append only; never reorder."""
_OPCODE_OF = {op: code for code, op in enumerate(OPCODES)}

NO_DTYPE = 0xFF
PARAM_KINDS = (ParamKind.BUFFER, ParamKind.SCALAR, ParamKind.POOL)
ACCESSES = (Access.READ, Access.WRITE, Access.READWRITE)
# operand tags; 0 is also "no destination"
TAG_NONE, TAG_REG, TAG_PRED, TAG_IMM, TAG_ARG, TAG_SHARED = range(6)
_INDEX_TAGS = {TAG_REG: Reg, TAG_PRED: Pred, TAG_ARG: Arg, TAG_SHARED: Shared}
_TAG_OF = {cls: tag for tag, cls in _INDEX_TAGS.items()}
# attribute value tags
ATTR_INT, ATTR_BOOL, ATTR_STR, ATTR_TUPLE = range(4)

_U8, _U16, _U32 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<I")
_I64, _U64, _F64 = struct.Struct("<q"), struct.Struct("<Q"), struct.Struct("<d")


# ---------------------------------------------------------------- writing
def to_bytes(program: Program) -> bytes:
    """The binary encoding of `program` (deterministic). Raises EncodingError if unencodable."""
    writer = _Writer(program)
    writer.program()
    body = b"".join(writer.parts)
    return body + CHECKSUM.pack(xxhash.xxh3_64_intdigest(body))


class _Writer:
    """Appends packed fields to `parts`; `error` names the instruction being written."""

    def __init__(self, program: Program):
        self.source = program
        self.parts: list[bytes] = []
        self.index: int | None = None

    def error(self, message: str) -> EncodingError:
        name = self.source.name if isinstance(self.source.name, str) else None
        return EncodingError(f"cannot encode: {message}", index=self.index, program=name)

    def pack(self, fmt: struct.Struct, value: object, what: str) -> None:
        try:
            self.parts.append(fmt.pack(value))
        except (struct.error, TypeError, OverflowError):
            raise self.error(f"{what} {value!r} does not fit its field ({fmt.format})") from None

    def string(self, text: object, what: str) -> None:
        if not isinstance(text, str):
            raise self.error(f"{what} must be a str, got {text!r}")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.error(f"{what} {text!r} is not valid UTF-8 text") from None
        self.pack(_U16, len(data), f"length of {what}")
        self.parts.append(data)

    def code(self, table: dict, value: object, what: str) -> None:
        try:
            self.parts.append(_U8.pack(table[value]))
        except (KeyError, TypeError):
            raise self.error(f"unknown {what} {value!r}") from None

    def program(self) -> None:
        p = self.source
        version = p.version
        if not isinstance(version, tuple) or len(version) != 2:
            raise self.error(f"version must be (major, minor), got {version!r}")
        try:
            self.parts.append(HEADER.pack(MAGIC, *version))
        except (struct.error, TypeError):
            raise self.error(f"version {version!r} does not fit two u16 fields") from None
        self.string(p.name, "program name")
        self.pack(_U16, len(p.params), "parameter count")
        for param in p.params:
            if not isinstance(param, Param):
                raise self.error(f"not a Param: {param!r}")
            self.string(param.name, "parameter name")
            self.code(_KIND_CODE, param.kind, "parameter kind")
            self.dtype(param.dtype)
            self.code(_ACCESS_CODE, param.access, "access")
        self.pack(_U16, len(p.registers), "register count")
        for dtype in p.registers:
            self.dtype(dtype)
        self.pack(_U16, p.predicates, "predicate count")
        self.pack(_U16, len(p.shared), "shared array count")
        for arr in p.shared:
            if not isinstance(arr, SharedArray):
                raise self.error(f"not a SharedArray: {arr!r}")
            self.dtype(arr.dtype)
            self.pack(_U32, arr.size, "shared array size")
        self.pack(_U32, len(p.instructions), "instruction count")
        for self.index, inst in enumerate(p.instructions):
            self.instruction(inst)
        self.index = None

    def dtype(self, dtype: object) -> None:
        if not isinstance(dtype, DType):
            raise self.error(f"unknown dtype {dtype!r}")
        self.parts.append(_U8.pack(dtype.code))

    def instruction(self, inst: Instruction) -> None:
        if not isinstance(inst, Instruction):
            raise self.error(f"not an Instruction: {inst!r}")
        self.code(_OPCODE_OF, inst.op, "opcode")
        if inst.dtype is None:
            self.parts.append(_U8.pack(NO_DTYPE))
        else:
            self.dtype(inst.dtype)
        if inst.dst is None:
            self.parts.append(_U8.pack(TAG_NONE))
        elif isinstance(inst.dst, (Reg, Pred)):
            self.operand(inst.dst)
        else:
            raise self.error(f"destination must be a Reg, a Pred or None, got {inst.dst!r}")
        self.pack(_U8, len(inst.srcs), "source count")
        for src in inst.srcs:
            self.operand(src)
        self.pack(_U8, len(inst.attrs), "attribute count")
        for item in inst.attrs:
            if not isinstance(item, tuple) or len(item) != 2:
                raise self.error(f"attribute must be a (name, value) pair, got {item!r}")
            self.string(item[0], "attribute name")
            self.attr_value(item[0], item[1])

    def operand(self, operand: Operand) -> None:
        if isinstance(operand, Imm):
            self.parts.append(_U8.pack(TAG_IMM))
            self.dtype(operand.dtype)
            self.imm_value(operand)
            return
        tag = _TAG_OF.get(type(operand))
        if tag is None:
            raise self.error(f"not an operand: {operand!r}")
        self.parts.append(_U8.pack(tag))
        self.pack(_U16, operand.index, f"index of {operand}")

    def imm_value(self, imm: Imm) -> None:
        dtype, value = imm.dtype, imm.value
        if dtype.is_bool:
            if not isinstance(value, bool):
                raise self.error(f"immediate {value!r} of dtype bool is not a bool")
            self.parts.append(_U8.pack(value))
        elif dtype.is_int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.error(f"immediate {value!r} of dtype {dtype} is not an int")
            self.pack(_I64 if dtype.is_signed else _U64, value, f"immediate of {dtype}")
        else:
            if not isinstance(value, float):
                raise self.error(f"immediate {value!r} of dtype {dtype} is not a float")
            self.parts.append(_F64.pack(value))

    def attr_value(self, name: str, value: object) -> None:
        what = f"attribute {name}"
        if isinstance(value, bool):
            self.parts.append(_U8.pack(ATTR_BOOL) + _U8.pack(value))
        elif isinstance(value, int):
            self.parts.append(_U8.pack(ATTR_INT))
            self.pack(_I64, value, what)
        elif isinstance(value, str):
            self.parts.append(_U8.pack(ATTR_STR))
            self.string(value, what)
        elif isinstance(value, tuple):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise self.error(f"{what}: tuples hold ints only, got {value!r}")
            self.parts.append(_U8.pack(ATTR_TUPLE))
            self.pack(_U8, len(value), f"length of {what}")
            for item in value:
                self.pack(_I64, item, what)
        else:
            raise self.error(f"{what} has unsupported value {value!r}")


_KIND_CODE = {kind: code for code, kind in enumerate(PARAM_KINDS)}
_ACCESS_CODE = {access: code for code, access in enumerate(ACCESSES)}


# ---------------------------------------------------------------- reading
def from_bytes(data: bytes) -> Program:
    """Decode and verify a binary program; malformed bytes raise EncodingError with the offset."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise EncodingError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER.size:
        raise EncodingError(f"truncated: {len(data)} bytes, the header alone is {HEADER.size}")
    magic, major, minor = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise EncodingError(f"byte 0: bad magic {magic!r}, expected {MAGIC!r}")
    if major > ISA_VERSION[0]:
        raise EncodingError(
            f"byte 4: ISA version {major}.{minor} is newer than this reader's "
            f"{ISA_VERSION[0]}.{ISA_VERSION[1]}"
        )
    if len(data) < HEADER.size + CHECKSUM.size:
        raise EncodingError(f"truncated: {len(data)} bytes, too short to hold a checksum")
    body_end = len(data) - CHECKSUM.size
    (stored,) = CHECKSUM.unpack_from(data, body_end)
    if stored != xxhash.xxh3_64_intdigest(data[:body_end]):
        raise EncodingError(f"byte {body_end}: checksum mismatch (corrupt or truncated data)")
    program = _Reader(data, body_end).program((major, minor))
    verify(program)
    return program


class _Reader:
    """Reads fields from `data[offset:end]`; every overrun or bad code names the byte offset."""

    def __init__(self, data: bytes, end: int):
        self.data = data
        self.end = end
        self.offset = HEADER.size

    def error(self, message: str, at: int | None = None) -> EncodingError:
        return EncodingError(f"byte {self.offset if at is None else at}: {message}")

    def unpack(self, fmt: struct.Struct, what: str) -> int | float:
        if self.offset + fmt.size > self.end:
            raise self.error(f"truncated while reading {what}")
        (value,) = fmt.unpack_from(self.data, self.offset)
        self.offset += fmt.size
        return value

    def u8(self, what: str) -> int:
        return int(self.unpack(_U8, what))

    def u16(self, what: str) -> int:
        return int(self.unpack(_U16, what))

    def string(self, what: str) -> str:
        length = self.u16(f"length of {what}")
        start = self.offset
        if start + length > self.end:
            raise self.error(f"truncated while reading {what} ({length} bytes)")
        self.offset += length
        try:
            return self.data[start : self.offset].decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f"{what} is not valid UTF-8", at=start) from None

    def code(self, table: tuple, what: str):  # type: ignore[no-untyped-def]
        at = self.offset
        code = self.u8(what)
        if code >= len(table):
            raise self.error(f"unknown {what} code {code}", at=at)
        return table[code]

    def dtype(self) -> DType:
        at = self.offset
        code = self.u8("dtype")
        try:
            return DType.from_code(code)
        except DTypeError:
            raise self.error(f"unknown dtype code {code}", at=at) from None

    def program(self, version: tuple[int, int]) -> Program:
        name = self.string("program name")
        params = []
        for _ in range(self.u16("parameter count")):
            pname = self.string("parameter name")
            kind = self.code(PARAM_KINDS, "parameter kind")
            dtype = self.dtype()
            access = self.code(ACCESSES, "access")
            params.append(Param(pname, kind, dtype, access))
        registers = tuple(self.dtype() for _ in range(self.u16("register count")))
        predicates = self.u16("predicate count")
        shared = []
        for _ in range(self.u16("shared array count")):
            dtype = self.dtype()
            shared.append(SharedArray(dtype, int(self.unpack(_U32, "shared array size"))))
        count = int(self.unpack(_U32, "instruction count"))
        instructions = []
        for _ in range(count):
            instructions.append(self.instruction())
        if self.offset != self.end:
            raise self.error(
                f"{self.end - self.offset} unexpected bytes after the last instruction"
            )
        return Program(
            name=name,
            params=tuple(params),
            registers=registers,
            predicates=predicates,
            shared=tuple(shared),
            instructions=tuple(instructions),
            version=version,
        )

    def instruction(self) -> Instruction:
        op = self.code(OPCODES, "opcode")
        dtype: DType | None = None
        if self.offset < self.end and self.data[self.offset] == NO_DTYPE:
            self.offset += 1
        else:
            dtype = self.dtype()
        dst_at = self.offset
        dst = self.operand("destination")
        if dst is not None and not isinstance(dst, (Reg, Pred)):
            raise self.error("destination must be a register or a predicate", at=dst_at)
        srcs = []
        for _ in range(self.u8("source count")):
            at = self.offset
            src = self.operand("source")
            if src is None:
                raise self.error("a source operand cannot be empty", at=at)
            srcs.append(src)
        attrs = []
        for _ in range(self.u8("attribute count")):
            key = self.string("attribute name")
            attrs.append((key, self.attr_value(key)))
        return Instruction(op, dtype, dst, tuple(srcs), tuple(attrs))

    def operand(self, what: str) -> Operand | None:
        at = self.offset
        tag = self.u8(f"{what} tag")
        if tag == TAG_NONE:
            return None
        if tag == TAG_IMM:
            dtype = self.dtype()
            return Imm(self.imm_value(dtype), dtype)
        cls = _INDEX_TAGS.get(tag)
        if cls is None:
            raise self.error(f"unknown {what} tag {tag}", at=at)
        return cls(self.u16(f"{what} index"))

    def imm_value(self, dtype: DType) -> int | float | bool:
        if dtype.is_bool:
            return self.boolean("bool immediate")
        if dtype.is_int:
            return int(self.unpack(_I64 if dtype.is_signed else _U64, f"{dtype} immediate"))
        return float(self.unpack(_F64, f"{dtype} immediate"))

    def boolean(self, what: str) -> bool:
        at = self.offset
        value = self.u8(what)
        if value > 1:
            raise self.error(f"{what} must be 0 or 1, got {value}", at=at)
        return bool(value)

    def attr_value(self, key: str) -> AttrValue:
        at = self.offset
        tag = self.u8(f"tag of attribute {key}")
        what = f"attribute {key}"
        if tag == ATTR_INT:
            return int(self.unpack(_I64, what))
        if tag == ATTR_BOOL:
            return self.boolean(what)
        if tag == ATTR_STR:
            return self.string(what)
        if tag == ATTR_TUPLE:
            return tuple(int(self.unpack(_I64, what)) for _ in range(self.u8(f"length of {what}")))
        raise self.error(f"unknown tag {tag} of {what}", at=at)


# ---------------------------------------------------------------- round trips
def roundtrip_check(program: Program) -> None:
    """Check that the binary, JSON and text forms of `program` all decode to it exactly.

    Raises `EncodingError` naming the form that does not round-trip (and the verifier's
    error, if the program is not well formed).
    """
    encoded = to_bytes(program)
    forms = {
        "binary": lambda: from_bytes(encoded),
        "JSON": lambda: from_json(to_json(program)),
        "text": lambda: from_text(to_text(program)),
    }
    for form, decode in forms.items():
        decoded = decode()
        if decoded != program:
            raise EncodingError(f"the {form} form does not round-trip", program=program.name)
    if to_bytes(from_bytes(encoded)) != encoded:
        raise EncodingError("the binary form is not deterministic", program=program.name)
