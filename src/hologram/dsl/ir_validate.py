"""The kernel IR's validator: a document against the schema of `docs/kernel-ir.mdx`.

One check per node kind, walking the document once; the first problem raises `KernelIRError`
naming its JSON path (`$.body[1].test: op must be one of ...`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hologram.dsl.builtins import BUILTINS
from hologram.dsl.ir import (
    BINOPS,
    CMPOPS,
    EXPR_FIELDS,
    SCHEMA,
    SPECIAL_FLOATS,
    STMT_FIELDS,
    UNOPS,
    VERSION,
)
from hologram.dsl.types import CONST_KINDS
from hologram.errors import KernelIRError
from hologram.isa.dtypes import DType

_DTYPE_NAMES = frozenset(d.value for d in DType)
_PARAM_FIELDS = {
    "array": ("name", "kind", "dtype"),
    "scalar": ("name", "kind", "dtype"),
    "const": ("name", "kind", "type", "default"),
}


class _Checker:
    """Walks a document once; `path` is the JSON path of the value being checked."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.func_names: set[str] = set()

    def fail(self, message: str) -> None:
        where = "$" + "".join(self.path)
        raise KernelIRError(f"kernel IR {where}: {message}")

    def field(self, obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(obj, dict):
            self.fail(f"is not an object (a {type(obj).__name__})")
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
        self.known_keys(doc, ("schema", "version", "name", "source", "params", "body", "funcs"))
        if doc.get("schema") != SCHEMA:
            self.fail(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
        version = self.field(doc, "version", list)
        if len(version) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in version
        ):
            self.fail("version must be [major, minor]")
        if version[0] != VERSION[0]:
            self.fail(f"version {version[0]}.{version[1]} is not readable by IR {VERSION[0]}.x")
        self.name(self.field(doc, "name", str))
        source = self.field(doc, "source", dict)
        self.within(".source", lambda: self.source(source))
        params = self.field(doc, "params", list)
        for k, param in enumerate(params):
            self.within(f".params[{k}]", lambda p=param: self.param(p))
        self.unique([p["name"] for p in params], ".params")
        funcs = self.field(doc, "funcs", dict)
        self.func_names = set(funcs)
        body = self.field(doc, "body", list)
        self.within(".body", lambda: self.block(body))
        for name, func in funcs.items():
            self.within(f".funcs.{name}", lambda f=func, n=name: self.func(n, f))

    def source(self, source: dict[str, Any]) -> None:
        self.known_keys(source, ("file", "line"))
        self.field(source, "file", str)
        self.field(source, "line", int)

    def name(self, value: str) -> None:
        if not value.isidentifier():
            self.fail(f"{value!r} is not an identifier")

    def dtype(self, value: Any) -> None:
        if not isinstance(value, str) or value not in _DTYPE_NAMES:
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
            const = param.get("type")
            if const is not None and (not isinstance(const, str) or const not in CONST_KINDS):
                self.fail(f"const type must be one of {CONST_KINDS}")
            if "default" in param:
                self.within(".default", lambda: self.const_default(param["default"], const))
        else:
            self.fail(f"unknown parameter kind {kind!r}")
        self.known_keys(param, _PARAM_FIELDS[kind])

    def const_default(self, value: Any, kind: str | None) -> None:
        if isinstance(value, dict):
            if set(value) != {"dtype"} or kind not in (None, "dtype"):
                self.fail('a dtype default is {"dtype": name}, for a dtype Const')
            self.dtype(value["dtype"])
            return
        ok = {
            None: (bool, int, float, str),
            "bool": (bool,),
            "int": (int,),
            "float": (int, float, str),
        }.get(kind, ())
        if not isinstance(value, ok) or (kind == "int" and isinstance(value, bool)):
            self.fail(f"a default of a {kind or 'untyped'} Const cannot be {value!r}")
        if isinstance(value, str) and value not in SPECIAL_FLOATS:
            self.fail(f"a string default must be one of {SPECIAL_FLOATS}")

    def func_param(self, param: Any) -> None:
        self.name(self.field(param, "name", str))
        self.known_keys(param, ("name",))

    def unique(self, names: list[str], where: str) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                self.path.append(where)
                self.fail(f"{name!r} is declared twice")
            seen.add(name)

    def func(self, name: str, func: Any) -> None:
        self.name(name)
        if not isinstance(func, dict):
            self.fail("is not an object")
        self.known_keys(func, ("source", "params", "body"))
        if "source" in func:
            source = self.field(func, "source", dict)
            self.within(".source", lambda: self.source(source))
        params = self.field(func, "params", list)
        for k, param in enumerate(params):
            self.within(f".params[{k}]", lambda p=param: self.func_param(p))
        self.unique([p["name"] for p in params], ".params")
        body = self.field(func, "body", list)
        self.within(".body", lambda: self.block(body))

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
        self.known_keys(stmt, STMT_FIELDS[node] + ("node", "line", "col"))
        check(self, stmt)

    def known_keys(self, obj: dict[str, Any], allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(obj) - set(allowed), key=str)
        if unknown:
            what = f"a {obj['node']!r} node" if "node" in obj else "this object"
            self.fail(f"unknown field {unknown[0]!r} in {what}")

    def expr_field(self, obj: dict[str, Any], key: str) -> None:
        value = self.field(obj, key, dict)
        self.within(f".{key}", lambda: self.expr(value))

    def exprs_field(self, obj: dict[str, Any], key: str) -> None:
        for k, item in enumerate(self.field(obj, key, list)):
            self.within(f".{key}[{k}]", lambda e=item: self.expr(e))

    def body_field(self, obj: dict[str, Any], key: str) -> None:
        stmts = self.field(obj, key, list)
        self.within(f".{key}", lambda: self.block(stmts))

    # -------------------------------------------------------- expressions
    def expr(self, expr: Any) -> None:
        node = self.field(expr, "node", str)
        check = _EXPRS.get(node)
        if check is None:
            self.fail(f"unknown expression node {node!r}")
        self.known_keys(expr, EXPR_FIELDS[node] + ("node",))
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
    name = c.field(e, "func", str)
    if name not in c.func_names:
        c.fail(f"call of unknown func {name!r}")
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


def check(doc: Any) -> None:
    """Check `doc` against the schema; raise `KernelIRError` naming the first problem's path.

    Also checks that every `invoke` names a function in `funcs`.
    """
    try:
        _Checker().document(doc)
    except RecursionError:
        raise KernelIRError("kernel IR is nested too deeply") from None
