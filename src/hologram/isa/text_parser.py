"""The parser of the ISA text form (`hologram.isa.text.from_text` verifies what it returns)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from hologram.errors import EncodingError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import SPECS, Dst, Op
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
from hologram.isa.text_syntax import (
    AXES,
    DTYPE_NAMES,
    INT_RE,
    MODIFIER_ATTRS,
    NAME_RE,
    parse_float,
)

_OPERAND_RE = re.compile(r"([rp$@])(\d+)")
_ATTR_RE = re.compile(r"([A-Za-z_]\w*)\s*=\s*(.+)", re.S)
_SREG_RE = re.compile(r"([A-Za-z_]\w*)\.([xyz])")
_REG_RANGE_RE = re.compile(r"r(\d+)\.\.r(\d+)")
_PARAM_TYPE_RE = re.compile(r"(buffer|scalar|pool)<(\w+)>")
_SHARED_RE = re.compile(r"(\w+)\[(\d+)\]")


def parse_text(text: str) -> Program:
    """The program written in `text`, not yet verified; syntax errors name the line."""
    return _Parser().parse(text)


class _Parser:
    """Line-by-line parser; `error` raises with the current line number."""

    def __init__(self) -> None:
        self.line = 0
        self.name: str | None = None
        self.version: tuple[int, int] | None = None
        self.params: list[Param] = []
        self.registers: list[DType] = []
        self.predicates: int | None = None
        self.shared: list[SharedArray] = []
        self.instructions: list[Instruction] = []

    def error(self, message: str) -> EncodingError:
        return EncodingError(f"line {self.line}: {message}", program=self.name)

    def parse(self, text: str) -> Program:
        for number, raw in enumerate(text.splitlines(), start=1):
            self.line = number
            line = _strip_comment(raw).strip()
            if not line:
                continue
            try:
                if line.startswith("."):
                    self.directive(line)
                elif self.name is None:
                    raise self.error("the text must start with `.program <name>`")
                else:
                    self.instructions.append(self.instruction(line))
            except (ValueError, OverflowError) as exc:
                # Number literals too long for int(), for example.
                raise self.error(str(exc)) from None
        if self.name is None:
            raise EncodingError("no `.program <name>` line")
        return Program(
            name=self.name,
            params=tuple(self.params),
            registers=tuple(self.registers),
            predicates=self.predicates or 0,
            shared=tuple(self.shared),
            instructions=tuple(self.instructions),
            version=self.version or ISA_VERSION,
        )

    # ------------------------------------------------------------ directives
    def directive(self, line: str) -> None:
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        if self.instructions:
            raise self.error(f"directive {keyword} after the first instruction")
        if keyword == ".program":
            if self.name is not None:
                raise self.error("second .program line")
            self.name = self.program_name(rest)
            return
        if self.name is None:
            raise self.error("the text must start with `.program <name>`")
        handlers = {
            ".version": self.version_line,
            ".param": self.param_line,
            ".reg": self.reg_line,
            ".pred": self.pred_line,
            ".shared": self.shared_line,
        }
        if keyword not in handlers:
            raise self.error(f"unknown directive {keyword!r}")
        handlers[keyword](rest)

    def program_name(self, rest: str) -> str:
        if rest.startswith('"'):
            try:
                name = json.loads(rest)
            except ValueError as exc:
                raise self.error(f"bad quoted program name: {exc}") from None
            if not isinstance(name, str):
                raise self.error("program name must be a string")
            return name
        if not NAME_RE.fullmatch(rest):
            raise self.error(f"bad program name {rest!r} (quote it as a JSON string)")
        return rest

    def version_line(self, rest: str) -> None:
        match = re.fullmatch(r"(\d+)\.(\d+)", rest)
        if self.version is not None or not match:
            raise self.error(f"bad or repeated .version {rest!r}; expected one `major.minor`")
        self.version = (int(match.group(1)), int(match.group(2)))
        if self.version[0] > ISA_VERSION[0]:
            raise self.error(
                f"ISA version {rest} is newer than this reader's {ISA_VERSION[0]}.{ISA_VERSION[1]}"
            )

    def param_line(self, rest: str) -> None:
        words = rest.split()
        if len(words) not in (2, 3):
            raise self.error(f"expected `.param name kind<dtype> [access]`, got {rest!r}")
        match = _PARAM_TYPE_RE.fullmatch(words[1])
        if not match:
            raise self.error(f"bad parameter type {words[1]!r}; expected e.g. buffer<f32>")
        kind = ParamKind(match.group(1))
        access_word = words[2] if len(words) == 3 else "read"
        try:
            access = Access(access_word)
        except ValueError:
            raise self.error(
                f"bad access {access_word!r}; expected read, write or readwrite"
            ) from None
        self.params.append(Param(words[0], kind, self.dtype(match.group(2)), access))

    def reg_line(self, rest: str) -> None:
        words = rest.split()
        if len(words) < 2:
            raise self.error(f"expected `.reg dtype r<i> ...`, got {rest!r}")
        dtype = self.dtype(words[0])
        for word in words[1:]:
            match = _REG_RANGE_RE.fullmatch(word)
            first, last = (
                (int(match.group(1)), int(match.group(2)))
                if match
                else (self.reg_number(word),) * 2
            )
            if first != len(self.registers) or last < first:
                raise self.error(
                    f"registers must be declared in order: expected r{len(self.registers)}, "
                    f"got {word}"
                )
            self.registers.extend([dtype] * (last - first + 1))

    def reg_number(self, word: str) -> int:
        match = _OPERAND_RE.fullmatch(word)
        if not match or match.group(1) != "r":
            raise self.error(f"expected a register name r<i>, got {word!r}")
        return int(match.group(2))

    def pred_line(self, rest: str) -> None:
        if self.predicates is not None or not rest.isdigit():
            raise self.error(f"bad or repeated .pred {rest!r}; expected one count")
        self.predicates = int(rest)

    def shared_line(self, rest: str) -> None:
        match = _SHARED_RE.fullmatch(rest)
        if not match:
            raise self.error(f"expected `.shared dtype[size]`, got {rest!r}")
        self.shared.append(SharedArray(self.dtype(match.group(1)), int(match.group(2))))

    def dtype(self, word: str) -> DType:
        if word not in DTYPE_NAMES:
            raise self.error(f"unknown dtype {word!r}")
        return DTYPE_NAMES[word]

    # ------------------------------------------------------------ instructions
    def instruction(self, line: str) -> Instruction:
        head, _, rest = line.partition(" ")
        mnemonic, *suffixes = head.split(".")
        try:
            op = Op(mnemonic)
        except ValueError:
            raise self.error(f"unknown mnemonic {mnemonic!r}") from None
        dtype = None
        if suffixes and suffixes[0] in DTYPE_NAMES:
            dtype = DTYPE_NAMES[suffixes.pop(0)]
        attrs: dict[str, AttrValue] = {}
        if suffixes:
            attrs.update(self.modifier(op, suffixes))
        operands: list[Operand] = []
        for item in _split_top_level(rest) if rest.strip() else []:
            if not item:
                raise self.error("empty operand")
            attr = _ATTR_RE.fullmatch(item)
            sreg = _SREG_RE.fullmatch(item)
            if attr:
                key = attr.group(1)
                if key in attrs:
                    raise self.error(f"attribute {key!r} given twice")
                attrs[key] = self.attr_value(attr.group(2).strip())
            elif op is Op.SREG and sreg:
                attrs["sreg"], attrs["axis"] = sreg.group(1), AXES.index(sreg.group(2))
            else:
                operands.append(self.operand(item))
        dst = self.split_dst(op, operands)
        return Instruction(op, dtype, dst, tuple(operands), tuple(sorted(attrs.items())))

    def modifier(self, op: Op, suffixes: list[str]) -> dict[str, AttrValue]:
        name = MODIFIER_ATTRS.get(op)
        if name is None or len(suffixes) != 1:
            raise self.error(f"unexpected suffix .{'.'.join(suffixes)} on {op.value}")
        word = suffixes[0]
        if op is Op.NEIGHBOR:
            if not word.isdigit():
                raise self.error(f"neighbor suffix must be an int, got {word!r}")
            return {name: int(word)}
        return {name: word}

    def split_dst(self, op: Op, operands: list[Operand]) -> Reg | Pred | None:
        """Take the destination off the operand list, if the opcode writes one."""
        spec = SPECS[op]
        has_dst = spec.dst is not Dst.NONE and (
            spec.dst is not Dst.OPTIONAL or len(operands) > spec.n_srcs + spec.optional_srcs
        )
        if not has_dst or not operands:
            return None
        dst = operands.pop(0)
        if not isinstance(dst, (Reg, Pred)):
            raise self.error(f"{op.value} destination must be a register, got {dst}")
        return dst

    def operand(self, item: str) -> Operand:
        match = _OPERAND_RE.fullmatch(item)
        if match:
            cls = {"r": Reg, "p": Pred, "$": Arg, "@": Shared}[match.group(1)]
            return cls(int(match.group(2)))
        literal, colon, dtype_word = item.rpartition(":")
        if not colon:
            raise self.error(f"bad operand {item!r}; immediates are written value:dtype")
        return Imm(self.literal(literal.strip()), self.dtype(dtype_word.strip()))

    def literal(self, word: str) -> int | float | bool:
        if word in ("True", "true"):
            return True
        if word in ("False", "false"):
            return False
        if INT_RE.fullmatch(word):
            return int(word)
        value = parse_float(word)
        if value is None:
            raise self.error(f"bad literal {word!r}")
        return value

    def attr_value(self, word: str) -> AttrValue:
        if word.startswith('"'):
            try:
                value = json.loads(word)
            except ValueError as exc:
                raise self.error(f"bad string attribute {word}: {exc}") from None
            if not isinstance(value, str):
                raise self.error(f"bad string attribute {word}")
            return value
        if word.startswith("(") and word.endswith(")"):
            inner = word[1:-1].strip()
            items = [w.strip() for w in inner.split(",")] if inner else []
            if items and not items[-1]:
                items.pop()  # the trailing comma of a one-element tuple
            if not all(INT_RE.fullmatch(w) for w in items):
                raise self.error(f"tuple attributes hold ints only, got {word}")
            return tuple(int(w) for w in items)
        value = self.literal(word)
        if isinstance(value, float):
            raise self.error(f"attributes cannot be floats, got {word}")
        return value


def _unquoted(text: str) -> Iterator[tuple[int, str]]:
    """(index, char) for each character outside double-quoted strings (quotes excluded)."""
    in_string = escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        else:
            yield i, char


def _strip_comment(line: str) -> str:
    """The line up to a `;` that is not inside a double-quoted string."""
    for i, char in _unquoted(line):
        if char == ";":
            return line[:i]
    return line


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and double-quoted strings."""
    items, depth, start = [], 0, 0
    for i, char in _unquoted(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return items
