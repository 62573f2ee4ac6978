"""The JSON form of ISA programs: readable, versioned, exact.

    {"format": "atlas-isa", "version": [1, 0], "name": "scale", "params": [...],
     "registers": ["u32", "f32"], "predicates": 1, "shared": [],
     "instructions": [{"op": "sreg", "dtype": "u32", "dst": {"reg": 0},
                       "attrs": {"axis": 0, "sreg": "global_id"}}, ...]}

Float immediates are strings in the text form's float syntax (`"0.1"`, `"nan"`, `"-inf"`),
so they round-trip bit for bit. The schema is in `docs/isa.mdx` under *JSON form*.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn

from hologram.errors import EncodingError
from hologram.isa.dtypes import DType
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
from hologram.isa.text_syntax import format_float, parse_float
from hologram.isa.verifier import verify

FORMAT = "atlas-isa"
_OPERAND_KEYS: dict[str, type[Reg | Pred | Arg | Shared]] = {
    "reg": Reg,
    "pred": Pred,
    "arg": Arg,
    "shared": Shared,
}
_KEY_OF = {cls: key for key, cls in _OPERAND_KEYS.items()}
_PROGRAM_KEYS = {
    "format",
    "version",
    "name",
    "params",
    "registers",
    "predicates",
    "shared",
    "instructions",
}
_INSTRUCTION_KEYS = {"op", "dtype", "dst", "srcs", "attrs"}


# ---------------------------------------------------------------- writing
def to_dict(program: Program) -> dict[str, Any]:
    """The JSON-compatible dict form of `program` (plain dicts, lists, str, int, bool)."""
    try:
        return _program_dict(program)
    except (AttributeError, TypeError) as exc:
        # a field of the wrong Python type, in a program that was never verified
        raise EncodingError(f"cannot encode: {exc}", program=str(program.name)) from None


def _program_dict(program: Program) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": list(program.version),
        "name": program.name,
        "params": [
            {"name": p.name, "kind": p.kind.value, "dtype": p.dtype.value, "access": p.access.value}
            for p in program.params
        ],
        "registers": [d.value for d in program.registers],
        "predicates": program.predicates,
        "shared": [{"dtype": a.dtype.value, "size": a.size} for a in program.shared],
        "instructions": [_instruction_dict(i) for i in program.instructions],
    }


def _instruction_dict(inst: Instruction) -> dict[str, Any]:
    entry: dict[str, Any] = {"op": inst.op.value}
    if inst.dtype is not None:
        entry["dtype"] = inst.dtype.value
    if inst.dst is not None:
        entry["dst"] = _operand_dict(inst.dst)
    if inst.srcs:
        entry["srcs"] = [_operand_dict(s) for s in inst.srcs]
    if inst.attrs:
        entry["attrs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in inst.attrs}
    return entry


def _operand_dict(operand: Operand) -> dict[str, Any]:
    if isinstance(operand, Imm):
        value = operand.value
        shown = format_float(value) if isinstance(value, float) else value
        return {"imm": shown, "dtype": operand.dtype.value}
    key = _KEY_OF.get(type(operand))
    if key is None:
        raise EncodingError(f"cannot encode {operand!r} as an operand")
    return {key: operand.index}


def to_json(program: Program) -> str:
    """The JSON form as text: deterministic, one parameter, array or instruction per line."""
    data = to_dict(program)
    try:
        fields = [f"  {json.dumps(key)}: {_json_value(value)}" for key, value in data.items()]
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"cannot encode as JSON: {exc}", program=str(program.name)) from None
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _json_value(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        items = ",\n".join(f"    {json.dumps(item)}" for item in value)
        return f"[\n{items}\n  ]"
    return json.dumps(value)


# ---------------------------------------------------------------- reading
def from_json(text: str | bytes) -> Program:
    """Parse and verify the JSON form; malformed input raises EncodingError naming the path."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, TypeError, RecursionError) as exc:
        raise EncodingError(f"not valid JSON: {exc}") from None
    return from_dict(data)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in object with keys {keys}")
    return dict(pairs)


def from_dict(data: object) -> Program:
    """Build and verify a program from its dict form."""
    program = _DictReader().program(data)
    verify(program)
    return program


class _DictReader:
    """Type-checked access to the decoded JSON; errors carry a JSON path like `$.params[1]`."""

    def fail(self, path: str, message: str) -> NoReturn:
        raise EncodingError(f"{path}: {message}")

    def expect(self, value: object, kind: type | tuple[type, ...], path: str) -> Any:
        bool_ok = kind is bool or (isinstance(kind, tuple) and bool in kind)
        if not isinstance(value, kind) or (isinstance(value, bool) and not bool_ok):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.fail(path, f"expected {names}, got {type(value).__name__} {_short(value)}")
        return value

    def fields(self, value: object, path: str, required: set[str], allowed: set[str]) -> dict:
        obj = self.expect(value, dict, path)
        missing = required - obj.keys()
        if missing:
            self.fail(path, f"missing key(s) {sorted(missing)}")
        unknown = obj.keys() - allowed
        if unknown:
            self.fail(path, f"unknown key(s) {sorted(unknown)}")
        return obj

    def enum(self, value: object, cls: Callable[[str], Any], path: str) -> Any:
        text = self.expect(value, str, path)
        try:
            return cls(text)
        except ValueError:
            self.fail(path, f"unknown value {text!r}")

    def dtype(self, value: object, path: str) -> DType:
        return self.enum(value, DType, path)

    def int_list(self, value: object, path: str) -> list[int]:
        items = self.expect(value, list, path)
        return [self.expect(v, int, f"{path}[{i}]") for i, v in enumerate(items)]

    def program(self, data: object) -> Program:
        obj = self.fields(data, "$", _PROGRAM_KEYS, _PROGRAM_KEYS)
        if obj["format"] != FORMAT:
            self.fail("$.format", f"expected {FORMAT!r}, got {_short(obj['format'])}")
        version = self.int_list(obj["version"], "$.version")
        if len(version) != 2:
            self.fail("$.version", f"expected [major, minor], got {version}")
        if version[0] > ISA_VERSION[0]:
            self.fail(
                "$.version",
                f"ISA version {version[0]}.{version[1]} is newer than this reader's "
                f"{ISA_VERSION[0]}.{ISA_VERSION[1]}",
            )
        params = []
        for i, entry in enumerate(self.expect(obj["params"], list, "$.params")):
            path = f"$.params[{i}]"
            keys = {"name", "kind", "dtype", "access"}
            p = self.fields(entry, path, keys, keys)
            params.append(
                Param(
                    self.expect(p["name"], str, f"{path}.name"),
                    self.enum(p["kind"], ParamKind, f"{path}.kind"),
                    self.dtype(p["dtype"], f"{path}.dtype"),
                    self.enum(p["access"], Access, f"{path}.access"),
                )
            )
        registers = [
            self.dtype(d, f"$.registers[{i}]")
            for i, d in enumerate(self.expect(obj["registers"], list, "$.registers"))
        ]
        shared = []
        for i, entry in enumerate(self.expect(obj["shared"], list, "$.shared")):
            path = f"$.shared[{i}]"
            a = self.fields(entry, path, {"dtype", "size"}, {"dtype", "size"})
            size = self.expect(a["size"], int, f"{path}.size")
            shared.append(SharedArray(self.dtype(a["dtype"], f"{path}.dtype"), size))
        instructions = [
            self.instruction(entry, f"$.instructions[{i}]")
            for i, entry in enumerate(self.expect(obj["instructions"], list, "$.instructions"))
        ]
        return Program(
            name=self.expect(obj["name"], str, "$.name"),
            params=tuple(params),
            registers=tuple(registers),
            predicates=self.expect(obj["predicates"], int, "$.predicates"),
            shared=tuple(shared),
            instructions=tuple(instructions),
            version=(version[0], version[1]),
        )

    def instruction(self, entry: object, path: str) -> Instruction:
        obj = self.fields(entry, path, {"op"}, _INSTRUCTION_KEYS)
        op = self.enum(obj["op"], Op, f"{path}.op")
        dtype = obj.get("dtype")
        dtype = None if dtype is None else self.dtype(dtype, f"{path}.dtype")
        dst = obj.get("dst")
        if dst is not None:
            dst = self.operand(dst, f"{path}.dst")
            if not isinstance(dst, (Reg, Pred)):
                self.fail(f"{path}.dst", "a destination is a reg or a pred")
        srcs = [
            self.operand(s, f"{path}.srcs[{i}]")
            for i, s in enumerate(self.expect(obj.get("srcs", []), list, f"{path}.srcs"))
        ]
        attrs = self.expect(obj.get("attrs", {}), dict, f"{path}.attrs")
        # attributes are canonically sorted by name (the verifier insists on it)
        pairs = tuple(
            (key, self.attr_value(attrs[key], f"{path}.attrs.{key}")) for key in sorted(attrs)
        )
        return Instruction(op, dtype, dst, tuple(srcs), pairs)

    def operand(self, value: object, path: str) -> Operand:
        obj = self.expect(value, dict, path)
        if obj.keys() == {"imm", "dtype"}:
            dtype = self.dtype(obj["dtype"], f"{path}.dtype")
            return Imm(self.imm_value(obj["imm"], f"{path}.imm"), dtype)
        if len(obj) != 1 or next(iter(obj)) not in _OPERAND_KEYS:
            self.fail(path, f"expected one of {sorted(_OPERAND_KEYS)} or imm+dtype, got {obj}")
        ((key, index),) = obj.items()
        return _OPERAND_KEYS[key](self.expect(index, int, f"{path}.{key}"))

    def imm_value(self, value: object, path: str) -> int | float | bool:
        if isinstance(value, str):
            parsed = parse_float(value)
            if parsed is None:
                self.fail(path, f"bad float literal {_short(value)}")
            return parsed
        # floats travel as strings, so a JSON number with a fraction is refused here
        return self.expect(value, (bool, int), path)

    def attr_value(self, value: object, path: str) -> AttrValue:
        if isinstance(value, list):
            return tuple(self.int_list(value, path))
        return self.expect(value, (bool, int, str), path)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
