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
from collections.abc import Callable
from typing import Any

from hologram.dsl.builtins import BUILTINS
from hologram.dsl.types import CONST_KINDS
from hologram.errors import KernelIRError
from hologram.isa.dtypes import DType

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


def to_json(doc: Doc) -> str:
    """The document as stable JSON text: a node that fits on one line stays on one line."""
    return _format(doc, 0) + "\n"


_LINE_WIDTH = 100


def _format(value: Any, indent: int) -> str:
    flat = json.dumps(value)
    if len(flat) + indent <= _LINE_WIDTH or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {_format(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _format(v, indent + 1) for v in value]
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


# ---------------------------------------------------------------- validation
class _Checker:
    def __init__(self) -> None:
        self.path: list[str] = []

    def fail(self, message: str) -> None:
        where = "".join(self.path) or "document"
        raise KernelIRError(f"kernel IR {where}: {message}")

    def field(self, obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in obj:
            self.fail(f"missing field {key!r}")
        value = obj[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(f"field {key!r} has the wrong type ({type(value).__name__})")
        return value

    def within(self, label: str, fn: Callable[[], None]) -> None:
        self.path.append(label)
        try:
            fn()
        finally:
            self.path.pop()

    # -------------------------------------------------------- document
    def document(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            self.fail("is not an object")
        if doc.get("schema") != SCHEMA:
            self.fail(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
        version = self.field(doc, "version", list)
        if len(version) != 2 or not all(isinstance(v, int) for v in version):
            self.fail("version must be [major, minor]")
        if version[0] != VERSION[0]:
            self.fail(f"version {version[0]}.{version[1]} is not readable by IR {VERSION[0]}.x")
        self.name(self.field(doc, "name", str))
        source = self.field(doc, "source", dict)
        self.field(source, "file", str)
        self.field(source, "line", int)
        params = self.field(doc, "params", list)
        for k, param in enumerate(params):
            self.within(f".params[{k}]", lambda p=param: self.param(p))
        self.within(".body", lambda: self.block(self.field(doc, "body", list)))
        funcs = self.field(doc, "funcs", dict)
        for name, func in funcs.items():
            self.within(f".funcs.{name}", lambda f=func, n=name: self.func(n, f))

    def name(self, value: str) -> None:
        if not value.isidentifier():
            self.fail(f"{value!r} is not an identifier")

    def dtype(self, value: Any) -> None:
        try:
            DType(value)
        except ValueError:
            self.fail(f"unknown dtype {value!r}")

    def param(self, param: Any) -> None:
        if not isinstance(param, dict):
            self.fail("is not an object")
        self.name(self.field(param, "name", str))
        kind = self.field(param, "kind", str)
        if kind == "array" or kind == "scalar":
            if param.get("dtype") is not None:
                self.dtype(param["dtype"])
        elif kind == "const":
            if param.get("type") is not None and param["type"] not in CONST_KINDS:
                self.fail(f"const type must be one of {CONST_KINDS}")
        else:
            self.fail(f"unknown parameter kind {kind!r}")

    def func(self, name: str, func: Any) -> None:
        self.name(name)
        if not isinstance(func, dict):
            self.fail("is not an object")
        for k, param in enumerate(self.field(func, "params", list)):
            self.within(f".params[{k}]", lambda p=param: self.name(self.field(p, "name", str)))
        self.within(".body", lambda: self.block(self.field(func, "body", list)))

    # -------------------------------------------------------- statements
    def block(self, body: list[Any]) -> None:
        for k, stmt in enumerate(body):
            self.within(f"[{k}]", lambda s=stmt: self.stmt(s))

    def stmt(self, stmt: Any) -> None:
        if not isinstance(stmt, dict):
            self.fail("is not an object")
        node = self.field(stmt, "node", str)
        self.field(stmt, "line", int)
        self.field(stmt, "col", int)
        check = _STMTS.get(node)
        if check is None:
            self.fail(f"unknown statement node {node!r}")
        check(self, stmt)

    def expr_field(self, obj: dict[str, Any], key: str) -> None:
        self.within(f".{key}", lambda: self.expr(self.field(obj, key, dict)))

    def exprs_field(self, obj: dict[str, Any], key: str) -> None:
        for k, item in enumerate(self.field(obj, key, list)):
            self.within(f".{key}[{k}]", lambda e=item: self.expr(e))

    def body_field(self, obj: dict[str, Any], key: str) -> None:
        self.within(f".{key}", lambda: self.block(self.field(obj, key, list)))

    # -------------------------------------------------------- expressions
    def expr(self, expr: Any) -> None:
        node = self.field(expr, "node", str)
        check = _EXPRS.get(node)
        if check is None:
            self.fail(f"unknown expression node {node!r}")
        check(self, expr)


def _s_assign(c: _Checker, s: dict[str, Any]) -> None:
    c.name(c.field(s, "target", str))
    c.expr_field(s, "value")


def _s_shared(c: _Checker, s: dict[str, Any]) -> None:
    c.name(c.field(s, "target", str))
    if not c.field(s, "shape", list):
        c.fail("shared shape must not be empty")
    c.exprs_field(s, "shape")
    c.expr_field(s, "dtype")


def _s_store(c: _Checker, s: dict[str, Any]) -> None:
    c.name(c.field(s, "array", str))
    c.exprs_field(s, "index")
    c.expr_field(s, "value")


def _s_if(c: _Checker, s: dict[str, Any]) -> None:
    c.expr_field(s, "test")
    c.body_field(s, "body")
    c.body_field(s, "orelse")


def _s_for(c: _Checker, s: dict[str, Any]) -> None:
    c.name(c.field(s, "var", str))
    for key in ("start", "stop", "step"):
        c.expr_field(s, key)
    c.body_field(s, "body")


def _s_while(c: _Checker, s: dict[str, Any]) -> None:
    c.expr_field(s, "test")
    c.body_field(s, "body")


def _s_return(c: _Checker, s: dict[str, Any]) -> None:
    if s.get("value") is not None:
        c.expr_field(s, "value")


def _s_expr(c: _Checker, s: dict[str, Any]) -> None:
    c.expr_field(s, "value")


def _nothing(c: _Checker, s: dict[str, Any]) -> None:
    return None


_STMTS: dict[str, Callable[[_Checker, dict[str, Any]], None]] = {
    "assign": _s_assign,
    "shared": _s_shared,
    "store": _s_store,
    "if": _s_if,
    "for": _s_for,
    "while": _s_while,
    "break": _nothing,
    "continue": _nothing,
    "return": _s_return,
    "expr": _s_expr,
}


def _e_const(c: _Checker, e: dict[str, Any]) -> None:
    value = e.get("value")
    if isinstance(value, str):
        if value not in SPECIAL_FLOATS:
            c.fail(f"const string must be one of {SPECIAL_FLOATS}")
    elif not isinstance(value, (bool, int, float)):
        c.fail("const value must be a number or a bool")


def _e_name(c: _Checker, e: dict[str, Any]) -> None:
    c.name(c.field(e, "id", str))


def _e_dtype(c: _Checker, e: dict[str, Any]) -> None:
    c.dtype(c.field(e, "dtype", str))


def _op_field(c: _Checker, e: dict[str, Any], allowed: tuple[str, ...]) -> None:
    if c.field(e, "op", str) not in allowed:
        c.fail(f"op must be one of {allowed}")


def _e_binop(c: _Checker, e: dict[str, Any]) -> None:
    _op_field(c, e, BINOPS)
    c.expr_field(e, "left")
    c.expr_field(e, "right")


def _e_unary(c: _Checker, e: dict[str, Any]) -> None:
    _op_field(c, e, UNOPS)
    c.expr_field(e, "operand")


def _e_compare(c: _Checker, e: dict[str, Any]) -> None:
    _op_field(c, e, CMPOPS)
    c.expr_field(e, "left")
    c.expr_field(e, "right")


def _e_boolop(c: _Checker, e: dict[str, Any]) -> None:
    _op_field(c, e, ("and", "or"))
    c.exprs_field(e, "values")
    if len(e["values"]) < 2:
        c.fail("boolop needs at least two values")


def _e_ifexp(c: _Checker, e: dict[str, Any]) -> None:
    for key in ("test", "body", "orelse"):
        c.expr_field(e, key)


def _e_load(c: _Checker, e: dict[str, Any]) -> None:
    c.name(c.field(e, "array", str))
    c.exprs_field(e, "index")


def _e_call(c: _Checker, e: dict[str, Any]) -> None:
    name = c.field(e, "builtin", str)
    if name not in BUILTINS:
        c.fail(f"unknown builtin {name!r}")
    c.exprs_field(e, "args")


def _e_invoke(c: _Checker, e: dict[str, Any]) -> None:
    c.name(c.field(e, "func", str))
    c.exprs_field(e, "args")


def _e_cast(c: _Checker, e: dict[str, Any]) -> None:
    c.expr_field(e, "type")
    c.expr_field(e, "value")


def _e_attr(c: _Checker, e: dict[str, Any]) -> None:
    c.expr_field(e, "value")
    if c.field(e, "attr", str) != "dtype":
        c.fail("the only attribute is 'dtype'")


_EXPRS: dict[str, Callable[[_Checker, dict[str, Any]], None]] = {
    "const": _e_const,
    "name": _e_name,
    "dtype": _e_dtype,
    "binop": _e_binop,
    "unary": _e_unary,
    "compare": _e_compare,
    "boolop": _e_boolop,
    "ifexp": _e_ifexp,
    "load": _e_load,
    "call": _e_call,
    "invoke": _e_invoke,
    "cast": _e_cast,
    "attr": _e_attr,
}


def validate(doc: Any) -> None:
    """Check `doc` against the schema; raise `KernelIRError` naming the first problem's path.

    Also checks that every `invoke` names a function in `funcs`.
    """
    try:
        _Checker().document(doc)
    except RecursionError:
        raise KernelIRError("kernel IR is nested too deeply") from None
    funcs = doc["funcs"]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("node") == "invoke" and value["func"] not in funcs:
                raise KernelIRError(f"kernel IR: call of unknown func {value['func']!r}")
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(doc["body"])
    for func in funcs.values():
        walk(func["body"])
