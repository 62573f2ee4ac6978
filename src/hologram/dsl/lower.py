"""Lowering: a kernel IR document plus a signature → one ISA program.

The signature gives every generic parameter its dtype and every `Const` its value. Statements
lower here (`emit_<node>`), expressions in `lower_exprs.py`. `@hg.func` calls are inlined.

Local variables are typed by inference to a fixpoint: a variable takes the type of its first
assignment; when a later assignment needs a wider type (`acc = 0.0` then `acc += x[k]` with
f64 `x`), the kernel is lowered again with the unified type, until nothing changes. Array
access kinds (read, write, readwrite) are found the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hologram.dsl.ir import Doc, const_value
from hologram.dsl.lower_exprs import ExprLowering
from hologram.dsl.values import ArrayRef, DTypeVal, SharedRef, Val, Value, constant, unify
from hologram.errors import KernelTypeError
from hologram.isa.builder import Builder
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Pred, Program, Reg

MAX_PASSES = 16
"""Type inference gives up (an error) after this many lowerings without a fixpoint."""


class _Restart(Exception):
    """A variable's type or an array's access changed: lower again."""


@dataclass
class Scope:
    """The names visible in a kernel or one inlined func call."""

    key: str
    names: dict[str, Value] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)
    # inlined funcs: the result variable and the `returned` flag (for returns inside loops)
    result: str | None = None
    done: Pred | None = None
    loop_depth: int = 0


@dataclass
class Inference:
    """What the lowering learns across passes."""

    var_types: dict[tuple[str, str], tuple[DType, bool]] = field(default_factory=dict)
    access: dict[str, set[str]] = field(default_factory=dict)


class Lowerer(ExprLowering):
    """Lowers one document for one signature; `lower()` below drives the passes."""

    def __init__(self, doc: Doc, signature: Mapping[str, Any], inference: Inference):
        self.doc = doc
        self.file = doc["source"]["file"]
        self.signature = signature
        self.inference = inference
        self.b = Builder(program_name(doc["name"], signature))
        self.if_depth = 0
        self.invocations = 0
        self.call_stack: list[str] = []
        self.line: int | None = doc["source"]["line"]
        self.col: int | None = None
        self.scope = Scope("kernel")
        self.seen_access: dict[str, set[str]] = {}

    # ------------------------------------------------------------ errors
    def error(self, message: str, hint: str | None = None) -> KernelTypeError:
        """A type error at the statement being lowered."""
        return KernelTypeError(message, self.file, self.line, self.col, hint)

    # ------------------------------------------------------------ parameters
    def declare_params(self) -> None:
        for param in self.doc["params"]:
            name, kind = param["name"], param["kind"]
            value = self.signature.get(name, _MISSING)
            if kind == "const":
                if value is _MISSING:
                    value = _const_default(param)
                self.scope.names[name] = (
                    DTypeVal(value) if isinstance(value, DType) else constant(value, weak=False)
                )
                continue
            dtype = value if value is not _MISSING else _declared(param)
            if not isinstance(dtype, DType):
                raise self.error(f"parameter {name!r} needs a dtype in the signature")
            if kind == "array":
                access = self.inference.access.get(name, {"read"})
                self.scope.names[name] = ArrayRef(
                    name, self.b.buffer(name, dtype, _access(access)), dtype
                )
            else:
                self.scope.names[name] = Val(dtype, operand=self.b.scalar(name, dtype))

    def touch(self, array: ArrayRef, how: str) -> None:
        """Record that `array` is read or written (access kinds are inferred)."""
        self.seen_access.setdefault(array.name, set()).add(how)

    # ------------------------------------------------------------ variables
    def lookup(self, name: str) -> Value:
        """The value a name has in the current scope."""
        try:
            return self.scope.names[name]
        except KeyError:
            raise self.error(f"{name!r} is used before it is assigned") from None

    def assign(self, name: str, value: Value) -> None:
        """`name = value`: arrays and dtypes alias; numbers go to the variable's register."""
        if not isinstance(value, Val):
            current = self.scope.names.get(name)
            if current is not None and current is not value:
                raise self.error(f"{name!r} cannot be rebound to another array or dtype")
            self.scope.names[name] = value
            return
        key = (self.scope.key, name)
        wanted = (value.dtype, value.weak)
        known = self.inference.var_types.get(key)
        if known is None:
            self.inference.var_types[key] = wanted
            known = wanted
        else:
            merged = unify(known, wanted)
            if merged[0] is not known[0]:
                self.inference.var_types[key] = merged
                raise _Restart
        current = self.scope.names.get(name)
        if not (isinstance(current, Val) and isinstance(current.operand, (Reg, Pred))):
            reg = self.b.pred() if known[0].is_bool else self.b.reg(known[0])
            current = Val(known[0], operand=reg, weak=known[1])
            self.scope.names[name] = current
        self.b.assign(current.operand, self.operand(value, known[0]))  # type: ignore[arg-type]

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[dict[str, Any]]) -> None:
        for stmt in stmts:
            self.line, self.col = stmt["line"], stmt["col"]
            getattr(self, f"emit_{stmt['node']}")(stmt)

    def emit_assign(self, s: dict[str, Any]) -> None:
        self.assign(s["target"], self.expr(s["value"]))

    def emit_shared(self, s: dict[str, Any]) -> None:
        shape = tuple(self.static_int(d, "a shared array dimension") for d in s["shape"])
        dtype = self.static_dtype(s["dtype"])
        if any(d <= 0 for d in shape):
            raise self.error(f"shared array shape {shape} must be positive")
        size = 1
        for d in shape:
            size *= d
        ref = SharedRef(s["target"], self.b.shared(dtype, size), dtype, shape)
        self.assign(s["target"], ref)

    def emit_store(self, s: dict[str, Any]) -> None:
        target = self.lookup(s["array"])
        index = self.index(target, s["index"])
        value = self.expr(s["value"])
        if isinstance(target, ArrayRef):
            self.touch(target, "write")
            self.b.stg(target.arg, index, self.operand(value, target.dtype))
        else:
            self.b.sts(target.ref, index, self.operand(value, target.dtype))  # type: ignore[union-attr]

    def emit_if(self, s: dict[str, Any]) -> None:
        test = self.truth(self.expr(s["test"]))
        if test.is_const:
            self.block(s["body"] if test.const else s["orelse"])
            return
        with self.under_if(test):
            self.block(s["body"])
            if s["orelse"]:
                self.b.else_()
                self.block(s["orelse"])

    @contextmanager
    def under_if(self, test: Val) -> Iterator[None]:
        """IF test ... ENDIF, counting the depth (barriers must not be under an if)."""
        self.if_depth += 1
        try:
            with self.b.if_(test.operand):  # type: ignore[arg-type]
                yield
        finally:
            self.if_depth -= 1

    def emit_for(self, s: dict[str, Any]) -> None:
        start, stop = self.expr(s["start"]), self.expr(s["stop"])
        step = self.expr(s["step"])
        if not (isinstance(step, Val) and step.is_const and not step.dtype.is_float):
            raise self.error("a range step must be a constant integer",
                             "write the step as a number or a Const parameter")  # fmt: skip
        if step.const == 0:
            raise self.error("range step must not be zero")
        for v in (start, stop):
            if not isinstance(v, Val) or v.dtype.is_float:
                raise self.error("range bounds must be integers")
        dtype, weak = unify((start.dtype, start.weak), (stop.dtype, stop.weak))  # type: ignore[union-attr]
        dtype = DType.I32 if weak or dtype.is_bool else dtype
        counter_name = f"_for{self.invocations}_{self.line}_{self.col}"
        stop_val = stop if stop.is_const else self.materialize(stop, dtype)  # type: ignore[union-attr]
        self.assign(
            counter_name, self.binary("sub", self.cast(start, dtype), constant(step.const, dtype))
        )  # type: ignore[arg-type]
        counter = self.lookup(counter_name)
        with self.loop():
            self.b.assign(
                counter.operand,
                self.operand(self.binary("add", counter, constant(step.const, dtype)), dtype),
            )  # type: ignore[union-attr, arg-type]
            done = self.compare("ge" if step.const > 0 else "le", counter, stop_val)  # type: ignore[arg-type, operator]
            with self.under_if(done):
                self.b.break_()
            self.assign(s["var"], counter)
            self.block(s["body"])

    def emit_while(self, s: dict[str, Any]) -> None:
        with self.loop():
            test = self.truth(self.expr(s["test"]))
            if test.is_const:
                if not test.const:
                    self.b.break_()
            else:
                with self.under_if(self.logical_not(test)):
                    self.b.break_()
            self.block(s["body"])

    @contextmanager
    def loop(self) -> Iterator[None]:
        """LOOP ... ENDLOOP; inside an inlined func, a `return` in it also leaves the func."""
        scope = self.scope
        scope.loop_depth += 1
        with self.b.loop():
            yield
        scope.loop_depth -= 1
        if scope.done is not None:
            with self.under_if(Val(DType.BOOL, operand=scope.done)):
                self.b.break_()

    def emit_break(self, s: dict[str, Any]) -> None:
        self.b.break_()

    def emit_continue(self, s: dict[str, Any]) -> None:
        self.b.continue_()

    def emit_return(self, s: dict[str, Any]) -> None:
        scope = self.scope
        if scope.key == "kernel":
            self.b.exit()
            return
        if s.get("value") is not None:
            self.assign(scope.result, self.expr(s["value"]))  # type: ignore[arg-type]
        elif scope.result is not None and scope.result in scope.names:
            raise self.error("this func returns a value on some paths and not on others")
        if scope.done is not None:
            self.b.assign(scope.done, True)
            self.b.break_()

    def emit_expr(self, s: dict[str, Any]) -> None:
        self.expr(s["value"], discard=True)

    # ------------------------------------------------------------ funcs
    def invoke(self, name: str, args: list[Value]) -> Value | None:
        """Inline func `name` with `args`; its result value (None if it returns nothing)."""
        if name in self.call_stack:
            raise self.error(f"func {name!r} calls itself", "recursion is not supported")
        func = self.doc["funcs"][name]
        params = [p["name"] for p in func["params"]]
        if len(args) != len(params):
            raise self.error(f"func {name!r} takes {len(params)} arguments, got {len(args)}")
        self.invocations += 1
        outer, outer_pos = self.scope, (self.line, self.col)
        scope = Scope(f"{name}#{self.invocations}", result="_result")
        scope.assigned = _assigned(func["body"])
        self.scope = scope
        self.call_stack.append(name)
        try:
            for param, arg in zip(params, args, strict=True):
                if param in scope.assigned and isinstance(arg, Val):
                    self.assign(param, arg)  # the func may reassign it: pass by value
                else:
                    scope.names[param] = arg
            body = func["body"]
            if _needs_wrapper(body):
                scope.done = self.b.pred()
                self.b.assign(scope.done, False)
                self.b.emit(Op.LOOP)
                self.block(body)
                self.b.break_()
                self.b.emit(Op.ENDLOOP)
            else:
                self.block(body)
            return scope.names.get("_result")
        finally:
            self.call_stack.pop()
            self.scope = outer
            self.line, self.col = outer_pos


_MISSING = object()


def _declared(param: dict[str, Any]) -> DType | object:
    return DType(param["dtype"]) if param.get("dtype") is not None else _MISSING


def _const_default(param: dict[str, Any]) -> Any:
    if "default" not in param:
        raise KernelTypeError(f"Const parameter {param['name']!r} has no value and no default")
    return const_param_value(param["default"])


def const_param_value(value: Any) -> Any:
    """A Const default (or signature value) in IR form as its Python value."""
    if isinstance(value, dict) and "dtype" in value:
        return DType(value["dtype"])
    return const_value(value)


def _access(seen: set[str]) -> str:
    if seen == {"write"}:
        return "write"
    return "readwrite" if "write" in seen else "read"


def _assigned(body: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for stmt in body:
        if stmt["node"] in ("assign", "shared"):
            names.add(stmt["target"])
        elif stmt["node"] == "for":
            names.add(stmt["var"])
        for key in ("body", "orelse"):
            if key in stmt:
                names |= _assigned(stmt[key])
    return names


def _needs_wrapper(body: list[dict[str, Any]]) -> bool:
    """Whether a func returns from anywhere but a tail position (the end of its body, or
    the end of each arm of a final `if`); tail returns need no loop to jump out of."""

    def has_return(stmts: list[dict[str, Any]]) -> bool:
        return any(
            s["node"] == "return"
            or has_return(s.get("body", []))
            or has_return(s.get("orelse", []))
            for s in stmts
        )

    def tail_only(stmts: list[dict[str, Any]]) -> bool:
        if not stmts:
            return True
        *head, last = stmts
        if has_return(head):
            return False
        if last["node"] == "if":
            return tail_only(last["body"]) and tail_only(last["orelse"])
        return last["node"] == "return" or not has_return([last])

    return not tail_only(body)


def program_name(name: str, signature: Mapping[str, Any]) -> str:
    """The ISA program name of one specialisation: the kernel name and its signature."""
    parts = [name]
    for key in sorted(signature):
        value = signature[key]
        text = value.value if isinstance(value, DType) else str(value)
        parts.append(f"{key}={text}")
    return "__".join(parts) if len(parts) > 1 else name


def lower(doc: Doc, signature: Mapping[str, Any]) -> Program:
    """The ISA program of kernel `doc` specialised for `signature` (name → DType or value)."""
    inference = Inference()
    for _ in range(MAX_PASSES):
        lowerer = Lowerer(doc, signature, inference)
        try:
            lowerer.declare_params()
            lowerer.block(doc["body"])
        except _Restart:
            continue
        except RecursionError:
            raise lowerer.error("the kernel is nested too deeply") from None
        seen = {name: lowerer.seen_access.get(name, {"read"}) for name in lowerer.seen_access}
        changed = {
            n: s
            for n, s in seen.items()
            if _access(s) != _access(inference.access.get(n, {"read"}))
        }
        if changed:
            inference.access.update(changed)
            continue
        return lowerer.b.build()
    raise KernelTypeError(f"kernel {doc['name']!r}: variable types did not settle")
