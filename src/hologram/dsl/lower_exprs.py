"""Expression lowering (a mixin of `Lowerer`): one `expr_<node>` method per IR expression.

Operations on compile-time constants fold (`fold.py`, with the ISA's semantics); everything
else emits ISA instructions through the builder. `//` and `%` follow Python (floor division,
the sign of the divisor), not C; by a constant, they skip what the constant decides.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hologram.dsl import fold
from hologram.dsl.builtins import ATOMICS, BLOCK_REDUCTIONS
from hologram.dsl.fold import convert
from hologram.dsl.ir import const_value
from hologram.dsl.values import ArrayRef, DTypeVal, SharedRef, Val, Value, combine, constant
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Operand, Pred

if TYPE_CHECKING:
    from hologram.dsl.lower import Lowerer

_ARITH = {"add": Op.ADD, "sub": Op.SUB, "mul": Op.MUL}
_BITWISE = {"and": Op.AND, "or": Op.OR, "xor": Op.XOR, "lshift": Op.SHL, "rshift": Op.SHR}
_MAX_UNROLLED_POWER = 8


class ExprLowering:
    """Expression lowering; mixed into `Lowerer`, whose state it uses."""

    # ------------------------------------------------------------ operands
    def operand(self: Lowerer, value: Value, dtype: DType) -> Operand:
        """`value` as an operand of `dtype`, converting (a `cvt`) when needed."""
        val = self.scalar(value)
        if val.is_const:
            return self.b.imm(convert(val.const, dtype), dtype)  # type: ignore[arg-type]
        if val.dtype is dtype:
            return val.operand  # type: ignore[return-value]
        return self.b.cvt(val.operand, dtype)  # type: ignore[arg-type]

    def cast(self: Lowerer, value: Value, dtype: DType) -> Val:
        """`value` converted to `dtype` (a strong value)."""
        val = self.scalar(value)
        if val.is_const:
            return constant(val.const, dtype)  # type: ignore[arg-type]
        if val.dtype is dtype:
            return Val(dtype, operand=val.operand)
        return Val(dtype, operand=self.operand(val, dtype))

    def materialize(self: Lowerer, value: Val, dtype: DType) -> Val:
        """`value` in a register of `dtype` (evaluated once, here)."""
        reg = self.b.mov(self.operand(value, dtype), dtype)
        return Val(dtype, operand=reg)

    def scalar(self: Lowerer, value: Value) -> Val:
        """`value` if it is a number; an error for an array or a dtype."""
        if not isinstance(value, Val):
            what = "an array" if isinstance(value, (ArrayRef, SharedRef)) else "a dtype"
            raise self.error(f"expected a number, got {what}")
        return value

    def static_int(self: Lowerer, e: dict[str, Any], what: str) -> int:
        """An expression that must fold to an integer at compile time."""
        val = self.expr(e)
        if not (isinstance(val, Val) and val.is_const and isinstance(val.const, int)):
            raise self.error(f"{what} must be a compile-time integer",
                             "use a number, a module constant or a Const parameter")  # fmt: skip
        return int(val.const)  # type: ignore[arg-type]

    def static_dtype(self: Lowerer, e: dict[str, Any]) -> DType:
        """An expression that must be a dtype (`hg.float32`, `x.dtype`, a Const dtype)."""
        val = self.expr(e)
        if not isinstance(val, DTypeVal):
            raise self.error("expected a dtype", "e.g. hg.float32 or x.dtype")
        return val.dtype

    # ------------------------------------------------------------ dispatch
    def expr(self: Lowerer, e: dict[str, Any], discard: bool = False) -> Value:
        """Lower one expression; `discard` marks an expression statement."""
        if e["node"] == "call":
            return self.expr_call(e, discard)
        return getattr(self, f"expr_{e['node']}")(e)

    def expr_const(self: Lowerer, e: dict[str, Any]) -> Value:
        return constant(const_value(e["value"]))

    def expr_name(self: Lowerer, e: dict[str, Any]) -> Value:
        return self.lookup(e["id"])

    def expr_dtype(self: Lowerer, e: dict[str, Any]) -> Value:
        return DTypeVal(DType(e["dtype"]))

    def expr_attr(self: Lowerer, e: dict[str, Any]) -> Value:
        value = self.expr(e["value"])
        if isinstance(value, DTypeVal):
            raise self.error("a dtype has no .dtype")
        return DTypeVal(value.dtype)

    def expr_cast(self: Lowerer, e: dict[str, Any]) -> Value:
        return self.cast(self.expr(e["value"]), self.static_dtype(e["type"]))

    def expr_load(self: Lowerer, e: dict[str, Any]) -> Value:
        target = self.lookup(e["array"])
        index = self.index(target, e["index"])
        if isinstance(target, ArrayRef):
            self.touch(target, "read")
            return Val(target.dtype, operand=self.b.ldg(target.arg, index))
        return Val(target.dtype, operand=self.b.lds(target.ref, index))  # type: ignore[union-attr]

    def index(self: Lowerer, target: Value, items: list[dict[str, Any]]) -> Operand:
        """The flat element index of `target[items]`."""
        if isinstance(target, ArrayRef):
            if len(items) != 1:
                raise self.error(f"array {target.name!r} is 1-D; index it with one flat offset",
                                 "write a[y * width + x]")  # fmt: skip
            return self.index_operand(self.expr(items[0]))
        if not isinstance(target, SharedRef):
            raise self.error("only arrays can be indexed")
        if len(items) != len(target.shape):
            raise self.error(f"shared array {target.name!r} has {len(target.shape)} dimensions, "
                             f"indexed with {len(items)}")  # fmt: skip
        flat: Val | None = None
        for k, item in enumerate(items):
            term = self.scalar(self.expr(item))
            stride = math.prod(target.shape[k + 1 :])
            if stride != 1:
                term = self.binary("mul", term, constant(stride))
            flat = term if flat is None else self.binary("add", flat, term)
        return self.index_operand(flat)  # type: ignore[arg-type]

    def index_operand(self: Lowerer, value: Value) -> Operand:
        """An integer index as an ISA operand (constants must be non-negative)."""
        val = self.scalar(value)
        if not (val.dtype.is_int or val.dtype.is_bool):
            raise self.error(f"an index must be an integer, got {val.dtype}",
                             "convert it with hg.int32(...)")  # fmt: skip
        if val.is_const:
            index = int(convert(val.const, val.dtype))  # type: ignore[arg-type]
            if not 0 <= index < 1 << 32:
                raise self.error(f"index {index} is out of range",
                                 "indices count elements from 0")  # fmt: skip
            return self.b.imm(index, DType.U32)
        return self.operand(val, DType.I32 if val.dtype.is_bool else val.dtype)

    # ------------------------------------------------------------ operators
    def expr_binop(self: Lowerer, e: dict[str, Any]) -> Value:
        return self.binary(e["op"], self.expr(e["left"]), self.expr(e["right"]))

    def binary(self: Lowerer, op: str, left: Value, right: Value) -> Val:
        """`left op right` with the kernel language's promotion rules."""
        a, b = self.scalar(left), self.scalar(right)
        dtype, weak = combine(a, b)
        if op == "pow":
            return self.power(a, b, dtype)
        if weak and a.is_const and b.is_const:
            return constant(self.folded(fold.weak_binary, op, a.const, b.const))
        if op == "truediv" and not dtype.is_float:
            raise self.error("`/` on integers is not supported",
                             "use `//` for integer division, or cast to a float first")  # fmt: skip
        if op in _BITWISE and dtype.is_float:
            raise self.error(f"bitwise `{op}` needs integers or bools, got {dtype}")
        if dtype.is_bool and op not in ("and", "or", "xor"):
            dtype = DType.I32  # arithmetic and shifts on bools count in int32, as in Python
        if a.is_const and b.is_const:
            x, y = convert(a.const, dtype), convert(b.const, dtype)  # type: ignore[arg-type]
            return constant(fold.typed_binary(op, x, y, dtype), dtype)
        x, y = self.operand(a, dtype), self.operand(b, dtype)
        if op in _ARITH:
            return Val(dtype, operand=self.b.binary(_ARITH[op], x, y))
        if op in _BITWISE:
            return Val(dtype, operand=self.b.binary(_BITWISE[op], x, y))
        if op == "truediv":
            return Val(dtype, operand=self.b.div(x, y))
        divisor = convert(b.const, dtype) if b.is_const else None  # type: ignore[arg-type]
        if op == "floordiv":
            return self.floordiv(x, y, dtype, divisor)
        return self.modulo(x, y, dtype, divisor)

    def folded(self: Lowerer, fn: Any, *args: Any) -> Any:
        """`fn(*args)` from `fold`, its FoldError reported at this statement."""
        try:
            return fn(*args)
        except fold.FoldError as exc:
            raise self.error(str(exc)) from None

    def floordiv(self: Lowerer, x: Operand, y: Operand, dtype: DType, divisor: Any) -> Val:
        """Python's `x // y`; `divisor` is y's value when it is a constant, else None."""
        if dtype.is_int and divisor == 1:
            return Val(dtype, operand=x)
        if dtype.is_int and _power_of_two(divisor):
            shift = self.b.imm(int(divisor).bit_length() - 1, dtype)
            return Val(dtype, operand=self.b.binary(Op.SHR, x, shift))  # floor, for any sign
        if dtype.is_float:
            return self.float_floordiv(x, y, dtype, divisor)
        q = self.b.div(x, y)
        if not dtype.is_signed or divisor == 0:
            return Val(dtype, operand=q)
        # Truncation rounds toward zero; step down when the exact quotient is negative. The
        # remainder comes from `mod`, which is 0 for a zero divisor (as the quotient is).
        r = self.b.mod(x, y)
        adjust = self.wrong_sign(r, y, divisor)
        one, zero = self.b.imm(1, dtype), self.b.imm(0, dtype)
        return Val(dtype, operand=self.b.sub(q, self.b.sel(adjust, one, zero)))

    def float_floordiv(self: Lowerer, x: Operand, y: Operand, dtype: DType, divisor: Any) -> Val:
        """Python's (and NumPy's) float `//`: exact where floor(x / y) is not, as when x / y
        rounds up to a whole number: from the exact remainder, then rounded to the nearest
        whole quotient. By zero it is x / y (an infinity or NaN), as NumPy's."""
        b = self.b
        one, zero = b.imm(1.0, dtype), b.imm(0.0, dtype)
        mod = b.mod(x, y)
        div = b.div(b.sub(x, mod), y)
        div = b.sub(div, b.sel(self.wrong_sign(mod, y, divisor), one, zero))
        floor = b.unary(Op.FLOOR, div)
        up = b.setp("gt", b.sub(div, floor), b.imm(0.5, dtype))
        result = b.add(floor, b.sel(up, one, zero))
        if divisor is not None and divisor != 0:
            return Val(dtype, operand=result)
        by_zero = b.setp("eq", y, zero)
        return Val(dtype, operand=b.sel(by_zero, b.div(x, y), result))

    def modulo(self: Lowerer, x: Operand, y: Operand, dtype: DType, divisor: Any) -> Val:
        """Python's `x % y`, with the sign of the divisor; `divisor` as for `floordiv`."""
        if dtype.is_int and divisor == 1:
            return constant(0, dtype)
        if dtype.is_int and _power_of_two(divisor):
            mask = self.b.imm(int(divisor) - 1, dtype)
            return Val(dtype, operand=self.b.binary(Op.AND, x, mask))  # non-negative, as Python's
        r = self.b.mod(x, y)
        if (dtype.is_int and not dtype.is_signed) or divisor == 0:
            return Val(dtype, operand=r)
        # C's remainder has the dividend's sign; Python's has the divisor's.
        adjust = self.wrong_sign(r, y, divisor)
        return Val(dtype, operand=self.b.sel(adjust, self.b.add(r, y), r))

    def wrong_sign(self: Lowerer, r: Operand, y: Operand, divisor: Any) -> Operand:
        """A predicate: remainder `r` is non-zero and its sign is not divisor `y`'s."""
        if divisor is not None and divisor == divisor:  # a constant, not NaN: its sign is known
            return self.b.setp("lt" if divisor > 0 else "gt", r, 0)
        inexact = self.b.setp("ne", r, 0)
        differ = self.b.setp("ne", self.b.setp("lt", r, 0), self.b.setp("lt", y, 0))
        return self.b.binary(Op.AND, inexact, differ)

    def power(self: Lowerer, a: Val, b: Val, dtype: DType) -> Val:
        """`a ** b`: folded, unrolled for small constant exponents, else the ISA `pow`."""
        if dtype.is_bool:
            dtype = DType.I32
        if a.is_const and b.is_const:
            if a.weak and b.weak:
                return constant(self.folded(fold.power, a.const, b.const, None))
            x, y = convert(a.const, dtype), convert(b.const, dtype)  # type: ignore[arg-type]
            if dtype.is_int and y < 0:  # type: ignore[operator]
                raise self.error("integer `**` needs a non-negative exponent",
                                 "cast the base to a float")  # fmt: skip
            return constant(self.folded(fold.power, x, y, dtype), dtype)
        if b.is_const and not b.dtype.is_float and 0 <= b.const <= _MAX_UNROLLED_POWER:  # type: ignore[operator]
            base = self.cast(a, dtype)
            result = constant(1, dtype)
            for _ in range(int(b.const)):  # type: ignore[arg-type]
                result = base if result.is_const else self.binary("mul", result, base)
            return result
        if not dtype.is_float:
            raise self.error("integer `**` needs a constant exponent from 0 to 8",
                             "cast the base to a float")  # fmt: skip
        x, y = self.operand(a, dtype), self.operand(b, dtype)
        return Val(dtype, operand=self.b.binary(Op.POW, x, y))

    def expr_unary(self: Lowerer, e: dict[str, Any]) -> Value:
        val = self.scalar(self.expr(e["operand"]))
        op = e["op"]
        if op == "pos":
            return self.cast(val, DType.I32) if val.dtype.is_bool else val
        if op == "not" or (op == "invert" and val.dtype.is_bool):
            return self.logical_not(self.truth(val))
        if op == "invert" and val.dtype.is_float:
            raise self.error("`~` needs an integer or a bool")
        if val.dtype.is_bool:
            val = self.cast(val, DType.I32)
        if val.is_const:
            value = ~int(val.const) if op == "invert" else -val.const  # type: ignore[operator]
            return constant(value) if val.weak else constant(value, val.dtype)
        opcode = Op.NOT if op == "invert" else Op.NEG
        return Val(val.dtype, operand=self.b.unary(opcode, val.operand), weak=val.weak)  # type: ignore[arg-type]

    def truth(self: Lowerer, value: Value) -> Val:
        """`value` as a bool (non-zero is true)."""
        val = self.scalar(value)
        if val.dtype.is_bool:
            if val.is_const or isinstance(val.operand, Pred):
                return val
            # A bool scalar parameter is a value, not a predicate: conditions need a predicate.
            return Val(DType.BOOL, operand=self.b.mov(val.operand, DType.BOOL))  # type: ignore[arg-type]
        if val.is_const:
            return constant(bool(val.const))
        return Val(DType.BOOL, operand=self.b.setp("ne", val.operand, 0))  # type: ignore[arg-type]

    def logical_not(self: Lowerer, val: Val) -> Val:
        """`not val` for a bool."""
        if val.is_const:
            return constant(not val.const)
        return Val(DType.BOOL, operand=self.b.unary(Op.NOT, val.operand))  # type: ignore[arg-type]

    def expr_compare(self: Lowerer, e: dict[str, Any]) -> Value:
        return self.compare(e["op"], self.expr(e["left"]), self.expr(e["right"]))

    def compare(self: Lowerer, op: str, left: Value, right: Value) -> Val:
        """`left op right` as a bool, in the operands' common type."""
        a, b = self.scalar(left), self.scalar(right)
        dtype, weak = combine(a, b)
        if a.is_const and b.is_const:
            if weak:
                return constant(fold.compare(op, a.const, b.const))
            x, y = convert(a.const, dtype), convert(b.const, dtype)  # type: ignore[arg-type]
            return constant(fold.compare(op, x, y))
        outside = _outside_range(a, b, dtype)
        if outside is not None:
            return constant(outside(op))
        return Val(
            DType.BOOL, operand=self.b.setp(op, self.operand(a, dtype), self.operand(b, dtype))
        )

    def expr_boolop(self: Lowerer, e: dict[str, Any]) -> Value:
        # Short-circuit: later operands are evaluated only when they decide the result, so
        # `i < n and x[i] > 0` never reads out of bounds. Operands without loads, calls or
        # atomics have no effects, and combine with a plain and/or.
        is_and = e["op"] == "and"
        result: Val | None = None
        for item in e["values"]:
            if result is not None and result.is_const:
                if result.const is not is_and:
                    return result  # decided: False for and, True for or
                result = None
            if result is None:
                result = self.truth(self.expr(item))
                continue
            if _pure(item):
                value = self.truth(self.expr(item))
                if value.is_const:
                    if value.const is not is_and:
                        return value
                    continue
                op = Op.AND if is_and else Op.OR
                result = Val(DType.BOOL, operand=self.b.binary(op, result.operand, value.operand))  # type: ignore[arg-type]
                continue
            acc = self.b.mov(result.operand, DType.BOOL)
            test = result if is_and else self.logical_not(result)
            with self.under_if(test):
                value = self.truth(self.expr(item))  # a constant too: `f(x) and True`
                self.b.assign(acc, self.operand(value, DType.BOOL))
            result = Val(DType.BOOL, operand=acc)
        return result  # type: ignore[return-value]

    def expr_ifexp(self: Lowerer, e: dict[str, Any]) -> Value:
        test = self.truth(self.expr(e["test"]))
        if test.is_const:
            return self.expr(e["body"] if test.const else e["orelse"])
        if _pure(e["body"]) and _pure(e["orelse"]):
            a, b = self.scalar(self.expr(e["body"])), self.scalar(self.expr(e["orelse"]))
            dtype, weak = combine(a, b)
            out = self.b.sel(test.operand, self.operand(a, dtype), self.operand(b, dtype))  # type: ignore[arg-type]
            return Val(dtype, operand=out, weak=weak)
        name = f"_ifexp_{self.line}_{self.col}_{id(e)}"
        with self.under_if(test):
            self.assign(name, self.expr(e["body"]))
            self.b.else_()
            self.assign(name, self.expr(e["orelse"]))
        return self.lookup(name)

    # ------------------------------------------------------------ calls
    def expr_invoke(self: Lowerer, e: dict[str, Any]) -> Value:
        args = [self.expr(a) for a in e["args"]]
        result = self.invoke(e["func"], args)
        if result is None:
            return constant(0)
        return result

    def expr_call(self: Lowerer, e: dict[str, Any], discard: bool = False) -> Value:
        from hologram.dsl.lower_calls import lower_builtin

        return lower_builtin(self, e["builtin"], e["args"], discard)


def _pure(e: dict[str, Any]) -> bool:
    """Whether evaluating `e` can have no effect (no loads, calls, funcs or atomics)."""
    node = e["node"]
    if node in ("load", "invoke", "ifexp", "boolop"):
        return False
    if node == "call":
        name = e["builtin"]
        if name in ATOMICS or name in BLOCK_REDUCTIONS or name in ("barrier", "fence", "shared"):
            return False
    for value in e.values():
        if isinstance(value, dict) and not _pure(value):
            return False
        if isinstance(value, list) and not all(_pure(v) for v in value if isinstance(v, dict)):
            return False
    return True


def _power_of_two(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value > 0
        and not (value & (value - 1))
    )


def _outside_range(a: Val, b: Val, dtype: DType) -> Any:
    """For an integer compared with a weak constant its type cannot hold (`x_u8 < 300`,
    `i_u32 > -1`), a function of the operator that gives the result, known at compile time:
    every value of the type compares alike, so a representative decides."""
    if not dtype.is_int:
        return None
    for const, other, const_left in ((a, b, True), (b, a, False)):
        if const.is_const and const.weak and not other.is_const and other.dtype.is_int:
            lo, hi = fold.int_range(dtype)
            if not lo <= const.const <= hi:  # type: ignore[operator]
                if const_left:
                    return lambda op: fold.compare(op, const.const, lo)
                return lambda op: fold.compare(op, lo, const.const)
    return None
