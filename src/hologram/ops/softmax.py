"""softmax(x, axis=-1): exp(x - max) / sum(exp(x - max)) along one axis.

Floating-point inputs only (f16, bf16, f32, f64; integers raise DTypeError); f16 and bf16 are
computed in f32. Subtracting the row maximum keeps exp from overflowing.

Program: the input is viewed as `(outer, r, inner)` around `axis` and one lane handles one
`(outer, inner)` row in three sweeps: the maximum; the exponentials and their sum (stored in
the output when it has the compute dtype, recomputed in the last sweep otherwise, so that f16
and bf16 are rounded once); the normalisation.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from hologram.errors import ShapeError
from hologram.isa.builder import Builder
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Program
from hologram.ops._launch import Prepared, lanes
from hologram.ops._operands import (
    Output,
    check_size,
    is_buffer,
    promote,
    resolve_executor,
    to_operand,
)
from hologram.ops._rows import counted_loop, load_as, normalize_axes, split, widened

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor


@cache
def softmax_program(dtype: DType) -> Program:
    """The softmax program for `dtype`.

    Parameters: `x`, `out`, `n` (rows: outer * inner), `r`, `inner`, `row` (r * inner), all u32
    but the buffers.
    """
    compute = widened(dtype)
    store = compute is dtype
    b = Builder(f"softmax_{dtype}")
    x = b.buffer("x", dtype)
    out = b.buffer("out", dtype, access="readwrite" if store else "write")
    n, r, inner, row = (b.scalar(name, "u32") for name in ("n", "r", "inner", "row"))
    j = b.global_id()
    with b.if_(b.setp("lt", j, n)):
        o = b.div(j, inner)
        base = b.add(b.mul(o, row), b.sub(j, b.mul(o, inner)))
        top = b.mov(load_as(b, x, base, compute))
        with counted_loop(b, 1, r) as k:
            b.assign(top, b.max(top, load_as(b, x, b.mad(k, inner, base), compute)))
        total = b.mov(0, compute)
        with counted_loop(b, 0, r) as k:
            index = b.mad(k, inner, base)
            e = b.unary(Op.EXP, b.sub(load_as(b, x, index, compute), top))
            b.assign(total, b.add(total, e))
            if store:
                b.stg(out, index, e)
        scale = b.div(1.0, total)
        with counted_loop(b, 0, r) as k:
            index = b.mad(k, inner, base)
            if store:
                e = b.ldg(out, index)
            else:
                e = b.unary(Op.EXP, b.sub(load_as(b, x, index, compute), top))
            y = b.mul(e, scale)
            b.stg(out, index, y if store else b.cvt(y, dtype))
    return b.build()


def prepare_softmax(
    x: Any, axis: int = -1, executor: Executor | None = None, out: Any = None
) -> Prepared:
    """Plan the launch of softmax along `axis`."""
    ex = resolve_executor([x], executor, "softmax")
    dtype = promote([x], "softmax", float_only=True)
    operand = to_operand(x, ex, "softmax", dtype)
    shape = operand.shape
    check_size(shape, "softmax")
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ShapeError(f"softmax: axis must be an int, got {axis!r}")
    (a,) = normalize_axes(axis, max(len(shape), 1), "softmax")
    output = Output(ex, shape, dtype, is_buffer(x), out, "softmax")
    prepared = Prepared(ex, finish=output.result)
    outer, r, inner = split(shape, a, a) if shape else (1, 1, 1)
    if outer * r * inner:
        args = (operand.arg, output.arg, outer * inner, r, inner, r * inner)
        prepared.launches.append(lanes(softmax_program(dtype), outer * inner, args))
    return prepared


def softmax(x: Any, axis: int = -1, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The softmax of `x` along `axis`."""
    return prepare_softmax(x, axis, executor, out)()
