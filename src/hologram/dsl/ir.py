"""The kernel JSON IR: a versioned, readable, self-contained form of one kernel.

A document is `{"schema": "hologram.kernel", "version": [1, 0], "name", "source", "params",
"body", "funcs"}`. Statements and expressions are objects with a `node` field; every statement
carries its source `line` and `col`. `funcs` holds every `@hg.func` the kernel calls, directly
or not, so a document compiles without its Python source. The schema is specified in
`docs/kernel-ir.mdx`; `validate` checks a document against it and raises `KernelIRError`
naming the path of the first problem.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hologram.errors import KernelIRError

SCHEMA = "hologram.kernel"
VERSION = (1, 0)
"""The IR version written; readers accept the same major version."""

BINOPS = (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow",
    "and", "or", "xor", "lshift", "rshift",
)  # fmt: skip
UNOPS = ("neg", "pos", "not", "invert")
CMPOPS = ("eq", "ne", "lt", "le", "gt", "ge")
SPECIAL_FLOATS = ("nan", "inf", "-inf")

Doc = dict[str, Any]

STMT_FIELDS: dict[str, tuple[str, ...]] = {
    "assign": ("target", "value"),
    "shared": ("target", "shape", "dtype"),
    "store": ("array", "index", "value"),
    "if": ("test", "body", "orelse"),
    "for": ("var", "start", "stop", "step", "body"),
    "while": ("test", "body"),
    "break": (),
    "continue": (),
    "return": ("value",),
    "expr": ("value",),
}
"""The fields of each statement node, besides `node`, `line` and `col` (docs/kernel-ir.mdx)."""
EXPR_FIELDS: dict[str, tuple[str, ...]] = {
    "const": ("value",),
    "name": ("id",),
    "dtype": ("dtype",),
    "binop": ("op", "left", "right"),
    "unary": ("op", "operand"),
    "compare": ("op", "left", "right"),
    "boolop": ("op", "values"),
    "ifexp": ("test", "body", "orelse"),
    "load": ("array", "index"),
    "call": ("builtin", "args"),
    "invoke": ("func", "args"),
    "cast": ("type", "value"),
    "attr": ("value", "attr"),
}
"""The fields of each expression node, besides `node`."""


def to_json(doc: Doc) -> str:
    """The document as stable JSON text: a node that fits on one line stays on one line, and
    no line is longer than 100 characters unless a single value is."""
    return _format(doc, 0, 0) + "\n"


_LINE_WIDTH = 100


def _format(value: Any, indent: int, used: int) -> str:
    """`value` as JSON at `indent` spaces, on a line where `used` characters precede it."""
    flat = json.dumps(value)
    # +1 for the comma that may follow the value.
    if indent + used + len(flat) + 1 <= _LINE_WIDTH or not isinstance(value, (dict, list)):
        return flat
    if not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            key = f"{json.dumps(k)}: "
            items.append(f"{pad}{key}{_format(v, indent + 1, len(key))}")
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _format(v, indent + 1, 0) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def from_json(text: str | bytes) -> Doc:
    """Parse and validate a document."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KernelIRError(f"kernel IR is not valid JSON: {exc}") from None
    except RecursionError:
        raise KernelIRError("kernel IR is nested too deeply") from None
    validate(doc)
    return doc


def const_value(value: Any) -> int | float | bool:
    """The Python value of a `const` node's `value` (special floats are strings)."""
    if isinstance(value, str):
        return float(value)
    return value


def encode_const(value: int | float | bool) -> int | float | bool | str:
    """A number as a `const` node's `value` (JSON has no NaN or infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def validate(doc: Any) -> None:
    """Check `doc` against the schema; raise `KernelIRError` naming the first problem's path.

    Also checks that every `invoke` names a function in `funcs`.
    """
    from hologram.dsl.ir_validate import check

    check(doc)
