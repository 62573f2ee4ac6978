"""Reductions along axes: sum, min, max and mean (`axis`: int, tuple or None; `keepdims`).

Dtypes: sum, min and max take every numeric dtype, mean floating-point ones only (integers
raise DTypeError). Like NumPy, sum returns i64 for signed and u64 for unsigned integers (no
overflow at small widths); min and max keep the input dtype. f16 and bf16 accumulate in f32
and round once into the result. min and max propagate NaN; reducing an empty axis gives 0 for
sum, NaN for mean and a ShapeError for min and max, which have no identity.

Programs: the input is viewed as `(outer, r, inner)` around each run of consecutive reduced
axes, and one lane reduces one chunk of up to `chunk` elements of one `(outer, inner)`
position. Long rows over few positions are split into chunks whose partial results a second
pass combines, so that large reductions use every core. Reduced axes that are not consecutive
are reduced one run at a time, last run first, through intermediate buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from hologram.errors import ShapeError
from hologram.isa.builder import Builder
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Program
from hologram.ops._launch import Launch, Prepared, lanes
from hologram.ops._operands import (
    Operand,
    Output,
    check_size,
    is_buffer,
    promote,
    resolve_executor,
    to_operand,
)
from hologram.ops._rows import axis_runs, counted_loop, load_as, normalize_axes, split, widened

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor

Axis = int | tuple[int, ...] | None

_COMBINE = {"sum": Op.ADD, "mean": Op.ADD, "min": Op.MIN, "max": Op.MAX}
_MIN_CHUNK = 4096
"""Rows shorter than this are never split: one lane handles them whole."""
_TARGET_LANES = 4096
"""Split long rows until about this many lanes share the work."""


@cache
def reduce_program(
    kind: str, in_dtype: DType, out_dtype: DType, acc_dtype: DType, divide: bool
) -> Program:
    """The program reducing chunks of rows with `kind` (sum, min, max).

    Parameters: `x`, `out`, `n` (lanes: outer * chunks * inner), `r`, `inner`, `chunk`,
    `chunks` (u32) and, when `divide`, `count` (acc dtype) that the result is divided by.
    Lane j writes `out[j]`, the reduction of `x[o, c*chunk : (c+1)*chunk, i]` where
    `j = (o * chunks + c) * inner + i`.
    """
    b = Builder(f"reduce_{kind}_{in_dtype}_to_{out_dtype}")
    x = b.buffer("x", in_dtype)
    out = b.buffer("out", out_dtype, access="write")
    n, r, inner, chunk, chunks = (
        b.scalar(name, "u32") for name in ("n", "r", "inner", "chunk", "chunks")
    )
    count = b.scalar("count", acc_dtype) if divide else None
    j = b.global_id()
    with b.if_(b.setp("lt", j, n)):
        t = b.div(j, inner)
        i = b.sub(j, b.mul(t, inner))
        o = b.div(t, chunks)
        c = b.sub(t, b.mul(o, chunks))
        base = b.add(b.mul(b.mul(o, r), inner), i)
        start = b.mul(c, chunk)
        stop = b.min(b.add(start, chunk), r)
        combine = _COMBINE[kind]
        if combine is Op.ADD:
            acc = b.mov(0, acc_dtype)
            first = start
        else:
            acc = b.mov(load_as(b, x, b.mad(start, inner, base), acc_dtype))
            first = b.add(start, 1)
        with counted_loop(b, first, stop) as k:
            value = load_as(b, x, b.mad(k, inner, base), acc_dtype)
            b.assign(acc, b.binary(combine, acc, value))
        result = b.div(acc, count) if count is not None else acc
        b.stg(out, j, result if acc_dtype is out_dtype else b.cvt(result, out_dtype))
    return b.build()


def result_dtype(kind: str, dtype: DType) -> DType:
    """The dtype a reduction returns for inputs of `dtype` (NumPy's rule)."""
    if kind == "sum" and dtype.is_int:
        return DType.I64 if dtype.is_signed else DType.U64
    return dtype


@dataclass(frozen=True)
class _Pass:
    outer: int
    r: int
    inner: int
    chunks: int
    chunk: int

    @property
    def lanes(self) -> int:
        return self.outer * self.chunks * self.inner


def _passes(shape: tuple[int, ...], axes: tuple[int, ...]) -> list[tuple[_Pass, tuple[int, ...]]]:
    """The passes reducing `axes` of `shape`, each with the shape it leaves behind."""
    current = list(shape)
    runs = axis_runs(axes) or [(len(shape), len(shape) - 1)]  # no axes: a pass of r = 1
    plan = []
    for first, last in reversed(runs):
        outer, r, inner = split(current, first, last)
        positions = outer * inner
        chunks = 1
        if r >= 2 * _MIN_CHUNK and positions < _TARGET_LANES:
            chunks = min(r // _MIN_CHUNK, max(1, _TARGET_LANES // max(positions, 1)))
        chunk = -(-r // chunks) if r else 0
        chunks = -(-r // chunk) if chunk else 1
        if chunks > 1:
            plan.append((_Pass(outer, r, inner, chunks, chunk), (outer, chunks, inner)))
            r, chunks, chunk = chunks, 1, chunks
        current[first : last + 1] = [1] * (last + 1 - first)
        plan.append((_Pass(outer, r, inner, 1, max(r, 1)), tuple(current)))
    return plan


def prepare_reduce(
    kind: str,
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    executor: Executor | None = None,
    out: Any = None,
) -> Prepared:
    """Plan the launches of a reduction (`kind`: sum, min, max or mean)."""
    ex = resolve_executor([x], executor, kind)
    dtype = promote([x], kind, float_only=kind == "mean")
    operand = to_operand(x, ex, kind, dtype)
    shape = operand.shape
    axes = normalize_axes(axis, len(shape), kind)
    out_dtype = result_dtype(kind, dtype)
    acc_dtype = widened(out_dtype)
    out_shape = tuple(
        1 if a in axes else d for a, d in enumerate(shape) if keepdims or a not in axes
    )
    check_size(shape, kind)
    count = math.prod(shape[a] for a in axes)
    if kind in ("min", "max") and count == 0 and math.prod(out_shape) > 0:
        raise ShapeError(f"{kind}: reducing an empty axis of shape {shape} has no identity")
    output = Output(ex, out_shape, out_dtype, is_buffer(x), out, kind)
    prepared = Prepared(ex, finish=output.result)
    if math.prod(out_shape) == 0:
        return prepared
    plan = _passes(shape, axes)
    current = operand
    for index, (step, step_shape) in enumerate(plan):
        last = index == len(plan) - 1
        step_kind = "sum" if kind == "mean" else kind
        if last:
            target = output.operand
        else:
            target = Operand(ex.allocate(step_shape, acc_dtype), step_shape, acc_dtype)
        launch = _launch(
            step_kind, current, target, step, acc_dtype, count if last and kind == "mean" else None
        )
        prepared.launches.append(launch)
        current = target
    return prepared


def _launch(
    kind: str, source: Operand, target: Operand, step: _Pass, acc_dtype: DType, count: int | None
) -> Launch:
    divide = count is not None
    program = reduce_program(kind, source.dtype, target.dtype, acc_dtype, divide)
    args: tuple[Any, ...] = (
        source.arg,
        target.arg,
        step.lanes,
        step.r,
        step.inner,
        step.chunk,
        step.chunks,
    )
    if divide:
        args += (count,)
    return lanes(program, step.lanes, args)


def reduce_sum(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The sum along `axis` (None: all axes)."""
    return prepare_reduce("sum", x, axis, keepdims, executor, out)()


def reduce_min(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The minimum along `axis` (None: all axes); NaN if any element is NaN."""
    return prepare_reduce("min", x, axis, keepdims, executor, out)()


def reduce_max(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The maximum along `axis` (None: all axes); NaN if any element is NaN."""
    return prepare_reduce("max", x, axis, keepdims, executor, out)()


def reduce_mean(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The arithmetic mean along `axis` (None: all axes), of floating-point inputs."""
    return prepare_reduce("mean", x, axis, keepdims, executor, out)()
