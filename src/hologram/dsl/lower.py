"""Lowering: a kernel IR document plus a signature → one ISA program.

The signature gives every generic parameter its dtype and every `Const` its value. Statements
lower here (`emit_<node>`), expressions in `lower_exprs.py`. `@hg.func` calls are inlined.

Local variables are typed by inference to a fixpoint: a variable takes the type of its first
assignment; when a later assignment needs a wider type (`acc = 0.0` then `acc += x[k]` with
f64 `x`), the kernel is lowered again with the unified type, until nothing changes. Array
access kinds (read, write, readwrite) are found the same way. A variable assigned once, outside
any loop, to a constant is that constant (it folds like a literal and needs no register).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hologram.dsl.fold import convert
from hologram.dsl.ir import Doc, const_value
from hologram.dsl.lower_exprs import ExprLowering
from hologram.dsl.lower_funcs import FuncLowering, Scope, assignment_counts
from hologram.dsl.peephole import simplify
from hologram.dsl.values import ArrayRef, DTypeVal, SharedRef, Val, Value, constant, unify
from hologram.errors import KernelError, KernelTypeError
from hologram.isa.builder import Builder
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Pred, Program, Reg

MAX_PASSES = 16
"""Type inference gives up (an error) after this many lowerings without a fixpoint."""
MAX_SHARED_ELEMENTS = 2**32 - 1
"""The most elements one shared array may have (the ISA's binary encoding stores a u32)."""


@dataclass
class Inference:
    """What the lowering learns across passes."""

    var_types: dict[tuple[str, str], tuple[DType, bool]] = field(default_factory=dict)
    access: dict[str, set[str]] = field(default_factory=dict)


class Lowerer(ExprLowering, FuncLowering):
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
        self.scope = Scope("kernel", counts=assignment_counts(doc["body"]))
        self.seen_access: dict[str, set[str]] = {}
        self.dirty = False  # a variable's type widened: this pass is provisional
        self.intrinsic_at: tuple[int | None, int | None] | None = None

    # ------------------------------------------------------------ errors
    def error(self, message: str, hint: str | None = None) -> KernelTypeError:
        """A type error at the statement being lowered."""
        return KernelTypeError(message, self.file, self.line, self.col, hint)

    # ------------------------------------------------------------ parameters
    def declare_params(self) -> None:
        """Bind every parameter: arrays and scalars become ISA parameters, Consts values."""
        params = {p["name"]: p for p in self.doc["params"]}
        for name, value in self.signature.items():
            param = params.get(name)
            if param is None:
                raise self.error(f"kernel {self.doc['name']!r} has no parameter {name!r}")
            declared = param.get("dtype") if param["kind"] != "const" else None
            if declared is not None and value != DType(declared):
                raise self.error(f"parameter {name!r} is declared {declared}, "
                                 f"so its dtype cannot be {value}")  # fmt: skip
        for param in self.doc["params"]:
            name, kind = param["name"], param["kind"]
            value = self.signature.get(name, _MISSING)
            if kind == "const":
                if value is _MISSING:
                    value = _const_default(param)
                self.scope.names[name] = self.const_param(param, value)
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

    def const_param(self, param: dict[str, Any], value: Any) -> Value:
        """A Const parameter's value: a dtype, or a number that acts as a literal would."""
        kind, name = param.get("type"), param["name"]
        if isinstance(value, DType):
            if kind not in (None, "dtype"):
                raise self.error(f"Const {name!r} must be {kind}, got the dtype {value}")
            return DTypeVal(value)
        if not isinstance(value, (bool, int, float)) or kind == "dtype":
            raise self.error(f"Const {name!r} must be {kind or 'a number, a bool or a dtype'}, "
                             f"got {value!r}")  # fmt: skip
        if kind == "bool" and not isinstance(value, bool):
            raise self.error(f"Const {name!r} must be a bool, got {value!r}")
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.error(f"Const {name!r} must be an int, got {value!r}")
        return constant(float(value) if kind == "float" else value)

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
        scope = self.scope
        if value.is_const and scope.loop_depth == 0 and scope.counts.get(name) == 1:
            scope.names[name] = value
            return
        key = (scope.key, name)
        wanted = (value.dtype, value.weak)
        known = self.inference.var_types.get(key)
        if known is None:
            self.inference.var_types[key] = wanted
            known = wanted
        else:
            merged = unify(known, wanted)
            if merged[0] is not known[0]:
                # Go on with the known type; the next pass starts with the wider one.
                self.inference.var_types[key] = merged
                self.dirty = True
        current = self.scope.names.get(name)
        if not (isinstance(current, Val) and isinstance(current.operand, (Reg, Pred))):
            reg = self.b.pred() if known[0].is_bool else self.b.reg(known[0])
            current = Val(known[0], operand=reg, weak=known[1])
            self.scope.names[name] = current
        self.b.assign(current.operand, self.operand(value, known[0]))  # type: ignore[arg-type]

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[dict[str, Any]]) -> None:
        """Lower a list of statements, tracking the position for errors."""
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
        size = math.prod(shape)
        if size > MAX_SHARED_ELEMENTS:
            raise self.error(f"shared array of {size} elements is too large "
                             f"(at most {MAX_SHARED_ELEMENTS})")  # fmt: skip
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
        dtype = _counter_dtype(start, stop)  # type: ignore[arg-type]
        stride = int(step.const)  # type: ignore[arg-type]
        if start.is_const and stop.is_const:  # type: ignore[union-attr]
            first, last = convert(start.const, dtype), convert(stop.const, dtype)  # type: ignore[union-attr, arg-type]
            if not range(int(first), int(last), stride):
                return  # an empty range: no loop at all
        counter_name = f"_for{self.invocations}_{self.line}_{self.col}"
        stop_val = stop if stop.is_const else self.materialize(stop, dtype)  # type: ignore[union-attr]
        first = self.binary("sub", self.cast(start, dtype), constant(stride, dtype))
        self.assign(counter_name, first)
        counter = self.lookup(counter_name)
        with self.loop():
            # The counter steps at the top, so that `continue` in the body steps it too.
            stepped = self.binary("add", counter, constant(stride, dtype))
            self.b.assign(counter.operand, self.operand(stepped, dtype))  # type: ignore[union-attr, arg-type]
            done = self.compare("ge" if stride > 0 else "le", counter, stop_val)  # type: ignore[arg-type]
            if done.is_const:
                if done.const:
                    self.b.break_()
            else:
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
        if not self.scope.loop_depth:
            raise self.error("`break` outside a loop")
        self.b.break_()

    def emit_continue(self, s: dict[str, Any]) -> None:
        if not self.scope.loop_depth:
            raise self.error("`continue` outside a loop")
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

    # ------------------------------------------------------------ result
    def finish(self) -> Program:
        """The built and verified program."""
        if self.intrinsic_at is not None and any(
            ins.op not in (Op.MATMUL, Op.CONV2D) for ins in self.b.instructions
        ):
            self.line, self.col = self.intrinsic_at
            raise self.error("a kernel that calls hg.matmul may contain nothing else",
                             "give the matmul a kernel of its own")  # fmt: skip
        self.b.instructions = simplify(self.b.instructions, self.b.registers, self.b.params)
        return self.b.build()


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


def _counter_dtype(start: Val, stop: Val) -> DType:
    """The type of a `for` loop's counter: the bounds' common type; int32 for literals. A
    negative constant bound with an unsigned one (`range(n - 1, -1, -1)`) counts signed."""
    dtype, weak = unify((start.dtype, start.weak), (stop.dtype, stop.weak))
    if weak or dtype.is_bool:
        return DType.I32
    negative = any(v.is_const and v.const < 0 for v in (start, stop))  # type: ignore[operator]
    if negative and dtype.is_int and not dtype.is_signed:
        return DType.I64 if dtype.itemsize == 8 else DType.I32
    return dtype


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
        except KernelError:
            if lowerer.dirty:
                continue  # raised while a variable had a stale type
            raise
        except RecursionError:
            raise lowerer.error("the kernel is nested too deeply") from None
        if lowerer.dirty:
            continue
        seen = {name: lowerer.seen_access.get(name, {"read"}) for name in lowerer.seen_access}
        changed = {
            n: s
            for n, s in seen.items()
            if _access(s) != _access(inference.access.get(n, {"read"}))
        }
        if changed:
            inference.access.update(changed)
            continue
        return lowerer.finish()
    raise KernelTypeError(f"kernel {doc['name']!r}: variable types did not settle")
