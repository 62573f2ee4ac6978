"""Reductions along axes: sum, min, max and mean (`axis`: int, tuple or None; `keepdims`).

Dtypes: sum, min and max take every numeric dtype, mean floating-point ones only (integers
raise DTypeError). Like NumPy, sum returns i64 for signed and u64 for unsigned integers (no
overflow at small widths); min and max keep the input dtype. f16 and bf16 accumulate in f32
and round once into the result. min and max propagate NaN; reducing an empty axis gives 0 for
sum, NaN for mean and a ShapeError for min and max, which have no identity.

Kernels: `kernels/reduce/{sum,min,max,mean}.py`. The input is viewed as `(outer, r, inner)`
around each run of consecutive reduced axes, and one lane reduces one chunk of up to `chunk`
elements of one `(outer, inner)` position, in eight interleaved partial results that a CPU
overlaps and packs into vector instructions; when `inner >= 8` (a leading axis), one lane
reduces eight adjacent positions at once instead, reading eight adjacent elements at a time.
Long rows over few positions are split into chunks whose partial results a second pass
combines, so that large reductions use every core. Reduced axes that are not consecutive are
reduced one run at a time, last run first, through intermediate buffers. Mean sums in every
pass but the last, which divides by the count.

On device backends (`not backend.is_host`), a run over contiguous rows (`inner = 1`) of at
least `BLOCK_MIN_ROW` elements goes to `kernels/device/block_reduce.py` instead: one block of
256 lanes per chunk of a row, adjacent lanes reading adjacent elements, combined with the
ISA's block reductions; long rows over few rows are split into about `DEVICE_BLOCKS` chunks
whose partial results a second block pass combines. A run over rows whose elements are
`inner > 1` apart (a leading or middle axis) goes to `kernels/device/column_reduce.py`: one
lane per column, adjacent lanes reading adjacent elements, each lane folding every
`slices`-th row; when that leaves fewer than about `DEVICE_LANES` lanes, the rows are split
into `slices` interleaved slices, so that all lanes sweep the array together, and one pass of
`kernels/device/tile_reduce.py` combines the `slices` partial results of every column at
once (a block per tile of adjacent columns, its lanes standing deep over each column and
combining in shared memory, in a fixed order). A reduction over a leading or middle axis is
thus one or two launches. The one-lane-per-row design (and the CPU's `columns` mode, eight
adjacent columns a lane) reads a GPU's memory in scattered pieces, from too few lanes, and
reached a few percent of its bandwidth. Combining the slices with further column passes took
up to three more launches of a few microseconds each; a tile kernel as the big pass (each
block over its own contiguous chunk of rows) read memory at under half the rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from hologram import kernels
from hologram.errors import ShapeError
from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, Program
from hologram.ops._launch import BLOCK_LANES, Launch, Prepared, lanes
from hologram.ops._operands import (
    Operand,
    Output,
    check_size,
    is_buffer,
    promote,
    resolve_executor,
    to_operand,
)
from hologram.ops._plans import apply, static_key
from hologram.ops._rows import axis_runs, normalize_axes, split, widened

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor

Axis = int | tuple[int, ...] | None

_MIN_CHUNK = 4096
"""Rows shorter than this are never split: one lane handles them whole."""
_TARGET_LANES = 4096
"""Split long rows until about this many lanes share the work."""
COLUMNS = 8
"""The rows side by side that a lane of the kernels' `columns` mode reduces at once; used
when `inner` is at least this."""
BLOCK_MIN_ROW = 128
"""On device backends, contiguous rows at least this long get a block each (or more)."""
DEVICE_BLOCKS = 4096
"""Split long rows until about this many blocks share the work: several waves of blocks on
every multiprocessor of a large GPU, so that the last wave's imbalance costs little."""
_DEVICE_MIN_CHUNK = 16 * BLOCK_LANES
"""A block's chunk is at least this long: 16 elements a lane, four rounds of four loads."""
DEVICE_LANES = 1 << 18
"""Split columns into row slices until about this many lanes share the work: the threads a
large GPU runs at once (132 multiprocessors of 2,048); twice as many measured slower."""
_DEVICE_MIN_ROWS = 32
"""A lane of a column pass that splits rows folds at least this many."""
_MIN_SLICES = 4
"""Fewer slices than this are not worth a combining pass: a lane takes a whole column."""
_WARP = 32
"""Lanes of a warp: tile blocks take at least this many adjacent columns where they can."""
_COMBINE_ROWS = 16
"""A lane of the combining tile pass folds at most about this many slices' results (unless
a whole block stands over one column): two rounds of eight loads in flight, so the pass
takes little more than its launch."""


@cache
def reduce_program(
    kind: str, in_dtype: DType, out_dtype: DType, acc_dtype: DType, columns: bool
) -> Program:
    """The `reduce/<kind>` kernel (sum, min, max, mean) specialised to these dtypes.

    Parameters: `x`, `out`, `n` (lanes: outer * chunks * inner, or with `columns` outer *
    chunks * ceil(inner / 8)), `r`, `inner`, `chunk`, `chunks` (u32) and, for mean, `count`
    (acc dtype) that the sum is divided by. `out[o, c, i]` receives the reduction of
    `x[o, c*chunk : (c+1)*chunk, i]`.
    """
    signature: dict[str, object] = {
        "x": in_dtype,
        "out": out_dtype,
        "acc": acc_dtype,
        "columns": columns,
    }
    if kind == "mean":
        signature["count"] = acc_dtype
    return kernels.load(f"reduce/{kind}").specialize(signature)


@cache
def block_reduce_program(kind: str, in_dtype: DType, out_dtype: DType, acc_dtype: DType) -> Program:
    """The `device/block_reduce` kernel for `kind` (sum, min, max, mean) and these dtypes.

    Parameters: `x`, `out`, `r`, `chunk`, `chunks` (u32) and `count` (acc dtype, the divisor
    of mean). Launched as `outer * chunks` blocks; block `o * chunks + c` writes `out[o, c]`.
    """
    return _device_program("device/block_reduce", kind, in_dtype, out_dtype, acc_dtype)


@cache
def column_reduce_program(
    kind: str, in_dtype: DType, out_dtype: DType, acc_dtype: DType
) -> Program:
    """The `device/column_reduce` kernel for `kind` (sum, min, max, mean) and these dtypes.

    Parameters: `x`, `out`, `n` (lanes: outer * slices * inner), `r`, `inner`, `slices` (u32)
    and `count` (acc dtype, the divisor of mean); `out[o, s, i]` receives the reduction of
    the rows `s, s + slices, ...` of column `(o, i)`.
    """
    return _device_program("device/column_reduce", kind, in_dtype, out_dtype, acc_dtype)


@cache
def tile_reduce_program(kind: str, in_dtype: DType, out_dtype: DType, acc_dtype: DType) -> Program:
    """The `device/tile_reduce` kernel for `kind` (sum, min, max, mean) and these dtypes.

    Parameters: `x`, `out`, `r`, `inner`, `width` (u32) and `count` (acc dtype, the divisor
    of mean). Launched as `outer * ceil(inner / width)` blocks; `out[o, i]` receives the
    reduction of the `r` rows of column `(o, i)` (the slices' results, viewed as
    `(outer, r, inner)`).
    """
    return _device_program("device/tile_reduce", kind, in_dtype, out_dtype, acc_dtype)


def _device_program(
    key: str, kind: str, in_dtype: DType, out_dtype: DType, acc_dtype: DType
) -> Program:
    from hologram.kernels.reduce._fold import MAX, MEAN, MIN, SUM

    ops = {"sum": SUM, "min": MIN, "max": MAX, "mean": MEAN}
    signature: dict[str, object] = {
        "x": in_dtype,
        "out": out_dtype,
        "count": acc_dtype,
        "acc": acc_dtype,
        "op": ops[kind],
    }
    return kernels.load(key).specialize(signature)


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
    block: bool = False
    """One block of `BLOCK_LANES` lanes per chunk (`block_reduce`; `inner` is 1)."""
    column: bool = False
    """A lane per column and interleaved slice of rows (`column_reduce`; `chunks` slices)."""
    width: int = 0
    """The adjacent columns a block of the combining tile pass takes (`tile_reduce`; `chunks`
    is 1); 0: no tile pass."""

    @property
    def columns(self) -> bool:
        """Whether each lane reduces `COLUMNS` adjacent rows (the kernels' `columns` mode)."""
        return self.inner >= COLUMNS and not self.column

    @property
    def lanes(self) -> int:
        if self.column:
            return self.outer * self.chunks * self.inner
        return self.outer * self.chunks * _groups(self.inner)

    @property
    def config(self) -> LaunchConfig:
        """A block or tile pass's launch: a block per chunk of each row, or of each tile of
        `width` columns."""
        tiles = -(-self.inner // self.width) if self.width else 1
        return LaunchConfig(self.outer * self.chunks * tiles, BLOCK_LANES)


def _groups(inner: int) -> int:
    """The lanes that cover `inner` adjacent rows: one per row, or per `COLUMNS` of them."""
    return -(-inner // COLUMNS) if inner >= COLUMNS else inner


def _passes(
    shape: tuple[int, ...], axes: tuple[int, ...], device: bool = False
) -> list[tuple[_Pass, tuple[int, ...]]]:
    """The passes reducing `axes` of `shape`, each with the shape it leaves behind (`device`:
    block passes for long contiguous rows, column passes for the others)."""
    current = list(shape)
    runs = axis_runs(axes) or [(len(shape), len(shape) - 1)]  # no axes: a pass of r = 1
    plan = []
    for first, last in reversed(runs):
        outer, r, inner = split(current, first, last)
        if device and inner == 1 and r >= BLOCK_MIN_ROW:
            current[first : last + 1] = [1] * (last + 1 - first)
            plan += _block_passes(outer, r, tuple(current))
            continue
        if device and inner > 1:
            current[first : last + 1] = [1] * (last + 1 - first)
            plan += _column_passes(outer, r, inner, tuple(current))
            continue
        positions = outer * _groups(inner)
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


def _block_passes(
    outer: int, r: int, shape: tuple[int, ...]
) -> list[tuple[_Pass, tuple[int, ...]]]:
    """Block passes reducing rows of `r` contiguous elements: one, or a split and a combine."""
    chunks = 1
    if outer < DEVICE_BLOCKS and r >= 2 * _DEVICE_MIN_CHUNK:
        chunks = min(r // _DEVICE_MIN_CHUNK, max(1, DEVICE_BLOCKS // outer))
    chunk = -(-r // chunks)
    chunks = -(-r // chunk)
    if chunks == 1:
        return [(_Pass(outer, r, 1, 1, r, block=True), shape)]
    return [
        (_Pass(outer, r, 1, chunks, chunk, block=True), (outer, chunks)),
        (_Pass(outer, chunks, 1, 1, chunks, block=True), shape),
    ]


def _column_passes(
    outer: int, r: int, inner: int, shape: tuple[int, ...]
) -> list[tuple[_Pass, tuple[int, ...]]]:
    """Passes reducing `r` rows `inner` elements apart: a column pass that splits the rows
    into as many interleaved slices as fill about `DEVICE_LANES` lanes, then one tile pass
    that combines the slices of every column; a lane per whole column where the columns fill
    the device or the rows are few."""
    slices = min(r // _DEVICE_MIN_ROWS, DEVICE_LANES // (outer * inner))
    if slices < _MIN_SLICES:
        return [(_Pass(outer, r, inner, 1, max(r, 1), column=True), shape)]
    width = _tile_width(inner, -(-slices // _COMBINE_ROWS))
    return [
        (_Pass(outer, r, inner, slices, 0, column=True), (outer, slices, inner)),
        (_Pass(outer, slices, inner, 1, slices, width=width), shape),
    ]


def _tile_width(inner: int, depth: int) -> int:
    """The columns a tile block takes so that each has about `depth` of its lanes (at least
    one), spread evenly over the blocks that cover `inner` columns, and narrowed (no further
    than a warp's width) while more than an eighth of the block's lanes would have none."""
    width = min(inner, max(1, BLOCK_LANES // max(depth, 1)))
    groups = -(-inner // width)
    while True:
        width = -(-inner // groups)
        if 8 * (BLOCK_LANES // width) * width >= 7 * BLOCK_LANES or width <= _WARP:
            return width
        groups += 1


def prepare_reduce(
    kind: str,
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    executor: Executor | None = None,
    out: Any = None,
    *,
    blocks: bool | None = None,
) -> Prepared:
    """Plan the launches of a reduction (`kind`: sum, min, max or mean).

    `blocks` picks the device passes, block passes for long contiguous rows and column
    passes for the others (None: on device backends).
    """
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
    prepared = Prepared(ex, finish=output.result, output=output)
    prepared.mark_input(0, operand, x)
    if math.prod(out_shape) == 0:
        return prepared
    plan = _passes(shape, axes, device=not ex.backend.is_host if blocks is None else blocks)
    current = operand
    for index, (step, step_shape) in enumerate(plan):
        last = index == len(plan) - 1
        step_kind = "sum" if kind == "mean" else kind
        if last:
            target = output.operand
        else:
            target = Operand(ex.allocate(step_shape, acc_dtype), step_shape, acc_dtype)
            prepared.mark_scratch(target)
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
    if step.column:
        kind = "mean" if divide else kind
        column = column_reduce_program(kind, source.dtype, target.dtype, acc_dtype)
        args = (source.arg, target.arg, step.lanes, step.r, step.inner, step.chunks)
        return lanes(column, step.lanes, (*args, 1 if count is None else count))
    if step.width:
        kind = "mean" if divide else kind
        tile = tile_reduce_program(kind, source.dtype, target.dtype, acc_dtype)
        args = (source.arg, target.arg, step.r, step.inner, step.width)
        return Launch(tile, step.config, (*args, 1 if count is None else count))
    if step.block:
        kind = "mean" if divide else kind
        block = block_reduce_program(kind, source.dtype, target.dtype, acc_dtype)
        args = (
            source.arg,
            target.arg,
            step.r,
            step.chunk,
            step.chunks,
            1 if count is None else count,
        )
        return Launch(block, step.config, args)
    program = reduce_program(
        "mean" if divide else kind, source.dtype, target.dtype, acc_dtype, step.columns
    )
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


def _reduce(
    kind: str, x: Any, axis: Axis, keepdims: bool, executor: Executor | None, out: Any
) -> Any:
    """`prepare_reduce(...)()`, planned once per signature (see `_plans`)."""
    static = static_key(kind, axis, bool(keepdims)) if out is None else None
    return apply(
        static, (x,), executor, lambda ex: prepare_reduce(kind, x, axis, keepdims, ex, out)
    )


def reduce_sum(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The sum along `axis` (None: all axes)."""
    return _reduce("sum", x, axis, keepdims, executor, out)


def reduce_min(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The minimum along `axis` (None: all axes); NaN if any element is NaN."""
    return _reduce("min", x, axis, keepdims, executor, out)


def reduce_max(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The maximum along `axis` (None: all axes); NaN if any element is NaN."""
    return _reduce("max", x, axis, keepdims, executor, out)


def reduce_mean(
    x: Any,
    axis: Axis = None,
    keepdims: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """The arithmetic mean along `axis` (None: all axes), of floating-point inputs."""
    return _reduce("mean", x, axis, keepdims, executor, out)
