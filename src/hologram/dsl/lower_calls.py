"""Lowering of builtin calls: ids, math, select, shared memory, barriers, reductions, atomics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hologram.dsl import fold
from hologram.dsl.builtins import ATOMICS, BLOCK_REDUCTIONS, FLOAT_UNARY, ID_BUILTINS
from hologram.dsl.fold import convert
from hologram.dsl.values import ArrayRef, Val, combine, constant
from hologram.errors import KernelSyntaxError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op

if TYPE_CHECKING:
    from hologram.dsl.lower import Lowerer

_UNARY_OPS = {
    "exp": Op.EXP, "log": Op.LOG, "sqrt": Op.SQRT, "rsqrt": Op.RSQRT, "sin": Op.SIN,
    "cos": Op.COS, "tanh": Op.TANH, "sigmoid": Op.SIGMOID, "erf": Op.ERF, "floor": Op.FLOOR,
    "ceil": Op.CEIL, "round": Op.ROUND, "trunc": Op.TRUNC,
}  # fmt: skip
_ARITIES = {
    **dict.fromkeys(FLOAT_UNARY, (1, 1)), **dict.fromkeys(ID_BUILTINS, (0, 1)),
    **dict.fromkeys(BLOCK_REDUCTIONS, (1, 1)), **dict.fromkeys(ATOMICS, (3, 3)),
    "abs": (1, 1), "min": (2, 99), "max": (2, 99), "pow": (2, 2), "fma": (3, 3),
    "select": (3, 3), "barrier": (0, 0), "fence": (0, 0), "shared": (2, 2), "matmul": (6, 12),
}  # fmt: skip


def lower_builtin(lw: Lowerer, name: str, arg_nodes: list[dict[str, Any]], discard: bool) -> Any:
    """Lower `hg.<name>(*args)`; `discard` marks a call whose value is unused."""
    low, high = _ARITIES[name]
    if not low <= len(arg_nodes) <= high:
        count = f"{low}" if low == high else f"{low} to {high}"
        noun = "argument" if count == "1" else "arguments"
        raise lw.error(f"hg.{name} takes {count} {noun}, got {len(arg_nodes)}")
    if name in ID_BUILTINS:
        axis = lw.static_int(arg_nodes[0], "the axis") if arg_nodes else 0
        if axis not in (0, 1, 2):
            raise lw.error(f"axis must be 0, 1 or 2, got {axis}")
        return Val(DType.I32, operand=lw.b.cvt(lw.b.sreg(name, axis), DType.I32))
    if name in ("barrier", "fence"):
        if name == "barrier":
            _uniform(lw, "hg.barrier()")
            lw.b.barrier()
        else:
            lw.b.fence()
        return constant(0)
    if name in ATOMICS:
        return _atomic(lw, name, arg_nodes, discard)
    if name == "matmul":
        return _matmul(lw, arg_nodes)
    args = [lw.scalar(lw.expr(a)) for a in arg_nodes]
    if name in FLOAT_UNARY:
        (x,) = args
        if name in ("floor", "ceil", "round", "trunc") and not x.dtype.is_float:
            return x  # already whole
        dtype = x.dtype if x.dtype.is_float else DType.F32
        if x.is_const:
            value = fold.math_function(name, float(x.const))  # type: ignore[arg-type]
            return constant(value) if x.weak else constant(value, dtype)
        return Val(dtype, operand=lw.b.unary(_UNARY_OPS[name], lw.operand(x, dtype)))
    if name == "abs":
        (x,) = args
        if x.dtype.is_bool:
            x = lw.cast(x, DType.I32)
        if x.is_const:
            return constant(abs(x.const)) if x.weak else constant(abs(x.const), x.dtype)  # type: ignore[arg-type]
        return Val(x.dtype, operand=lw.b.unary(Op.ABS, x.operand), weak=x.weak)  # type: ignore[arg-type]
    if name in ("min", "max"):
        result = args[0]
        for other in args[1:]:
            result = _min_max(lw, name, result, other)
        return result
    if name == "pow":
        return lw.binary("pow", args[0], args[1])
    if name == "fma":
        dtype, _ = combine(combine_val(args[0], args[1]), args[2])
        dtype = dtype if dtype.is_float else DType.F32
        a, b, c = (lw.operand(v, dtype) for v in args)
        return Val(dtype, operand=lw.b.fma(a, b, c))
    if name == "select":
        cond, a, b = lw.truth(args[0]), args[1], args[2]
        dtype, _ = combine(a, b)
        if cond.is_const:
            return lw.cast(a if cond.const else b, dtype)
        return Val(
            dtype, operand=lw.b.sel(cond.operand, lw.operand(a, dtype), lw.operand(b, dtype))
        )  # type: ignore[arg-type]
    if name in BLOCK_REDUCTIONS:
        _uniform(lw, f"hg.{name}()")
        (x,) = args
        dtype = DType.I32 if x.dtype.is_bool or (x.weak and x.dtype.is_int) else x.dtype
        return Val(dtype, operand=lw.b.reduce(BLOCK_REDUCTIONS[name], lw.operand(x, dtype)))
    raise KernelSyntaxError(f"hg.{name} must be assigned to a variable", lw.file, lw.line, lw.col)


def _min_max(lw: Lowerer, name: str, a: Val, b: Val) -> Val:
    dtype, weak = combine(a, b)
    if a.is_const and b.is_const:
        if weak:
            return constant(fold.min_max(name, a.const, b.const))  # type: ignore[arg-type]
        x, y = convert(a.const, dtype), convert(b.const, dtype)  # type: ignore[arg-type]
        return constant(fold.min_max(name, x, y), dtype)
    x, y = lw.operand(a, dtype), lw.operand(b, dtype)
    if dtype.is_bool:  # the smaller of two bools is their `and`, the larger their `or`
        return Val(dtype, operand=lw.b.binary(Op.AND if name == "min" else Op.OR, x, y))
    op = lw.b.min if name == "min" else lw.b.max
    return Val(dtype, operand=op(x, y), weak=weak)


def combine_val(a: Val, b: Val) -> Val:
    """A placeholder value of the combined type of `a` and `b` (for three-way promotion)."""
    dtype, weak = combine(a, b)
    return Val(dtype, const=0, weak=weak)


def _uniform(lw: Lowerer, what: str) -> None:
    if lw.if_depth:
        raise KernelSyntaxError(
            f"{what} must not be inside an if: every lane of the block must reach it",
            lw.file, lw.line, lw.col,
            "move it out of the if, and use a neutral value (0 for a sum) for inactive lanes",
        )  # fmt: skip


def _atomic(lw: Lowerer, name: str, arg_nodes: list[dict[str, Any]], discard: bool) -> Any:
    target = lw.expr(arg_nodes[0])
    if not isinstance(target, ArrayRef):
        raise lw.error(f"hg.{name} needs a global array as its first argument")
    if target.dtype.is_bool:
        raise lw.error(f"hg.{name} needs a numeric array, not bool")
    index = lw.index_operand(lw.expr(arg_nodes[1]))
    value = lw.operand(lw.expr(arg_nodes[2]), target.dtype)
    lw.touch(target, "read")
    lw.touch(target, "write")
    old = lw.b.atom(ATOMICS[name], target.arg, index, value, want_old=not discard)
    return constant(0) if old is None else Val(target.dtype, operand=old)


def _matmul(lw: Lowerer, arg_nodes: list[dict[str, Any]]) -> Val:
    arrays = [lw.expr(a) for a in arg_nodes[:3]]
    if not all(isinstance(a, ArrayRef) for a in arrays):
        raise lw.error("hg.matmul takes three global arrays first: a, b and c")
    sizes = [lw.static_int(a, "a matmul size") for a in arg_nodes[3:6]]
    flags = [lw.expr(a) for a in arg_nodes[6:9]]
    for flag in flags:
        if not (isinstance(flag, Val) and flag.is_const):
            raise lw.error("matmul's batch and transpose flags must be compile-time constants")
    names = ("batch", "trans_a", "trans_b")
    attrs: dict[str, Any] = {
        name: (int(f.const) if name == "batch" else bool(f.const))  # type: ignore[union-attr, arg-type]
        for name, f in zip(names, flags, strict=False)
    }
    # Optional element strides between the batch's matrices (0 repeats one matrix).
    for name, node in zip(("stride_a", "stride_b", "stride_c"), arg_nodes[9:], strict=False):
        stride = lw.static_int(node, f"matmul's {name}")
        if stride < 0:
            raise lw.error(f"matmul's {name} must be at least 0, got {stride}")
        attrs[name] = stride
    a, b, c = arrays
    lw.touch(a, "read")  # type: ignore[arg-type]
    lw.touch(b, "read")  # type: ignore[arg-type]
    lw.touch(c, "write")  # type: ignore[arg-type]
    m, n, k = sizes
    for what, size in zip(("m", "n", "k", "batch"), (*sizes, attrs.get("batch", 1)), strict=True):
        if size < 1:
            raise lw.error(f"matmul's {what} must be at least 1, got {size}")
    lw.intrinsic_at = (lw.line, lw.col)
    lw.b.matmul(a.arg, b.arg, c.arg, m=m, n=n, k=k, **attrs)  # type: ignore[union-attr]
    return constant(0)
