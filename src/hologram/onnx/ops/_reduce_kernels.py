"""Reductions over any set of axes, for the Reduce* ops and the normalisations built on them.

A reduction is seen through a table of `(size, stride)` pairs. `reduce_layout` drops the
dimensions of size 1 and merges neighbours that walk memory together, so most reductions are
one kept run and one reduced run; it then lists the kept dimensions (whose row-major order is
the output's), followed by the reduced ones but the innermost. Output position `p` starts at
the offset its kept coordinates give; its reduced elements are runs of the innermost reduced
dimension (`run` elements `step` apart), one run per position of the other reduced dimensions.
Runs are folded in blocks of at most `FOLD_BLOCK` elements, by `kernels/reduce/_fold.py`
(eight interleaved partials for floats, which a CPU overlaps and packs into vector
instructions) or, for the sum of absolute values and the product, by `onnx_fold_more`.

Few output positions over many elements split each position's elements into chunks: a first
launch folds the chunks into partial results, in the accumulation dtype, and a second
combines each position's partials. f16 and bf16 accumulate in f32 and round once at the end.

Each `ReduceKind` is the element term folded, how partial results combine, its identity
(what an empty reduction gives) and how the result is finished: divided by the count (mean),
its square root (L2) or its logarithm plus the position's centre (log-sum, log-sum-exp). The
centre is a per-position value read from another tensor: the maximum that log-sum-exp
subtracts before `exp`, the mean that a variance squares the distance to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.kernels.reduce._fold import EXP, MAX, MIN, SQUARES, SUM, fold

BLOCK = 256
"""Lanes per block of every launch here."""

ABS_SUM = 16
"""Fold code of the sum of absolute values (beside `_fold`'s SUM, MIN, MAX, SQUARES, EXP)."""
PROD = 17
"""Fold code of the product."""

KEEP = 0
DIVIDE = 1
SQRT = 2
LOG = 3
"""How a result is finished: kept, divided by the count, its square root, or its logarithm
plus the position's centre."""

FOLD_BLOCK = 4096
"""The most elements one fold covers; longer runs are folded block by block and the blocks'
results added up, which bounds the rounding error's growth (a two-level summation)."""
_MIN_CHUNK = 4096
"""Positions with fewer elements than twice this are never split into chunks."""
_TARGET_LANES = 4096
"""Split into chunks until about this many lanes share the work."""


@hg.func
def onnx_reduce_offset(index, layout, first, rank):
    """The element offset of `index` decoded over the `rank` (size, stride) pairs of `layout`
    from pair `first` on, the last one varying fastest."""
    offset = hg.int64(0)
    rest = hg.int64(index)
    for d in range(rank - 1, -1, -1):
        size = layout[2 * (first + d)]
        q = rest // size
        offset += (rest - q * size) * layout[2 * (first + d) + 1]
        rest = q
    return offset


@hg.func
def onnx_fold_more(x, first, count, step, acc, op):
    """ABS_SUM or PROD over `x[first + k * step]` for `k < count`, in dtype `acc`; four
    interleaved partials for floats, as `_fold.fold` does with eight."""
    t0 = acc(1) if op == PROD else acc(0)
    if acc(0.5) == 0:
        for k in range(count):
            t0 = onnx_fold_step(t0, acc(x[first + k * step]), op)
    else:
        groups = count // 4
        if groups > 0:
            t1 = t0
            t2 = t0
            t3 = t0
            for g in range(groups):
                p = first + g * 4 * step
                t0 = onnx_fold_step(t0, acc(x[p]), op)
                t1 = onnx_fold_step(t1, acc(x[p + step]), op)
                t2 = onnx_fold_step(t2, acc(x[p + 2 * step]), op)
                t3 = onnx_fold_step(t3, acc(x[p + 3 * step]), op)
            t0 = onnx_reduce_combine(
                onnx_reduce_combine(t0, t1, op), onnx_reduce_combine(t2, t3, op), op
            )
        for k in range(groups * 4, count):
            t0 = onnx_fold_step(t0, acc(x[first + k * step]), op)
    return t0


@hg.func
def onnx_fold_step(total, v, op):
    """`total` with element `v` folded in: `|v|` added (ABS_SUM) or `v` multiplied (PROD)."""
    if op == PROD:
        return total * v
    else:
        return total + abs(v)


@hg.func
def onnx_reduce_combine(a, b, op):
    """Two partial results of fold `op` as one."""
    if op == MIN:
        return min(a, b)
    elif op == MAX:
        return max(a, b)
    elif op == PROD:
        return a * b
    else:
        return a + b


@hg.func
def onnx_reduce_finish(value, centre, count, finish):
    """The result from the combined fold `value` (see `KEEP`, `DIVIDE`, `SQRT`, `LOG`)."""
    if finish == DIVIDE:
        return value / count
    elif finish == SQRT:
        return hg.sqrt(value)
    elif finish == LOG:
        return hg.log(value) + centre
    else:
        return value


@hg.kernel
def onnx_reduce(
    x: hg.Array,
    centre: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    chunks: hg.uint32,
    chunk: hg.int64,
    total: hg.int64,
    run: hg.int64,
    step: hg.int64,
    layout: hg.Array[hg.int64],
    kept: hg.uint32,
    outer: hg.uint32,
    identity: hg.Scalar,
    count: hg.Scalar,
    acc: hg.Const[hg.dtype],
    op: hg.Const[int],
    finish: hg.Const[int],
    centred: hg.Const[bool],
):
    """Lane `j < n` folds chunk `c` of output position `p` (`j = p * chunks + c`): elements
    `[c * chunk, (c + 1) * chunk)` of the position's `total`, clipped, starting from
    `identity`, then finishes the result into `out[j]` (see the module docstring). With
    `centred`, `centre[p]` is the position's centre (an infinite one counts as 0)."""
    j = hg.uint32(hg.global_id())
    if j < n:
        p = j // chunks
        base = onnx_reduce_offset(p, layout, 0, kept)
        shift = acc(0)
        if centred:
            shift = acc(centre[p])
            if shift - shift != 0:
                shift = acc(0)
        value = acc(identity)
        k = hg.int64(j - p * chunks) * chunk
        stop = min(k + chunk, total)
        while k < stop:
            q = k // run
            i = k - q * run
            m = min(run - i, stop - k, FOLD_BLOCK)
            first = base + onnx_reduce_offset(q, layout, kept, outer) + i * step
            if op == ABS_SUM or op == PROD:  # noqa: SIM109 (kernels have no tuples)
                part = onnx_fold_more(x, first, m, step, acc, op)
            else:
                part = fold(x, first, m, step, shift, acc, op)
            value = onnx_reduce_combine(value, part, op)
            k += m
        out[j] = onnx_reduce_finish(value, shift, count, finish)


@dataclass(frozen=True)
class ReduceKind:
    """One reduction: the fold of its elements, how it is finished, what empty gives."""

    fold: int
    finish: int = KEEP
    identity: str = "zero"
    """`zero`, `one`, `lowest` (the max's identity) or `highest` (the min's)."""

    @property
    def combine(self) -> int:
        """The fold that combines partial results (the sums of terms are summed)."""
        return self.fold if self.fold in (MIN, MAX, PROD) else SUM


KINDS = {
    "sum": ReduceKind(SUM),
    "mean": ReduceKind(SUM, DIVIDE),
    "max": ReduceKind(MAX, identity="lowest"),
    "min": ReduceKind(MIN, identity="highest"),
    "prod": ReduceKind(PROD, identity="one"),
    "l1": ReduceKind(ABS_SUM),
    "l2": ReduceKind(SQUARES, SQRT),
    "sum_square": ReduceKind(SQUARES),
    "log_sum": ReduceKind(SUM, LOG),
    "log_sum_exp": ReduceKind(EXP, LOG),
    "variance": ReduceKind(SQUARES, DIVIDE),
}
"""The reductions by name. `log_sum_exp` and `variance` need a centre (the maximum, the
mean)."""


_FRACTIONAL = frozenset({"mean", "l2", "log_sum", "log_sum_exp", "variance"})
"""The reductions whose result is no integer even for integer elements."""


def accumulator(elem: int, kind: str = "sum") -> int:
    """The element type a reduction of `elem` accumulates in: f32 for f16 and bf16, int32
    for bool, f64 for integers reduced to a fraction (a mean, a norm, a logarithm: stored
    truncated toward zero), else `elem` itself."""
    if elem in (types.FLOAT16, types.BFLOAT16):
        return types.FLOAT
    if elem == types.BOOL:
        return types.INT32
    if kind in _FRACTIONAL and elem != types.FLOAT:
        return types.DOUBLE
    return elem


def identity_value(kind: str, acc_elem: int, bool_input: bool = False) -> np.generic:
    """What an empty reduction of `kind` starts from, as a scalar of the accumulator type
    (bool inputs range over 0 and 1 only)."""
    dtype = types.numpy_dtype(acc_elem)
    name = KINDS[kind].identity
    if bool_input and name in ("lowest", "highest"):
        return dtype.type(0 if name == "lowest" else 1)
    if name in ("lowest", "highest"):
        if dtype.kind == "f":
            return dtype.type(-np.inf if name == "lowest" else np.inf)
        info = np.iinfo(dtype)
        return dtype.type(info.min if name == "lowest" else info.max)
    return dtype.type(1 if name == "one" else 0)


@dataclass(frozen=True)
class ReduceLayout:
    """A reduction's view of its input (see the module docstring)."""

    kept: list[tuple[int, int]]
    outer: list[tuple[int, int]]
    run: int
    step: int

    @property
    def positions(self) -> int:
        """The output positions (the product of the kept sizes)."""
        return math.prod(size for size, _ in self.kept)

    @property
    def total(self) -> int:
        """The elements reduced into each position."""
        return self.run * math.prod(size for size, _ in self.outer)


def reduce_layout(shape: Sequence[int], axes: Sequence[int]) -> ReduceLayout:
    """The layout reducing `axes` (non-negative) of a contiguous tensor of `shape`."""
    reduced = set(axes)
    dims: list[tuple[int, int, bool]] = []
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        size = shape[axis]
        if size != 1:
            dims.append((size, stride, axis in reduced))
        stride *= size
    dims.reverse()
    merged: list[tuple[int, int, bool]] = []
    for size, step, is_reduced in dims:
        if merged and merged[-1][2] == is_reduced and merged[-1][1] == size * step:
            merged[-1] = (merged[-1][0] * size, step, is_reduced)
        else:
            merged.append((size, step, is_reduced))
    kept = [(size, step) for size, step, r in merged if not r]
    rest = [(size, step) for size, step, r in merged if r]
    if any(size == 0 for size, _, _ in dims):
        # Nothing to read: every position is the identity (or there are no positions).
        kept = [(math.prod(s for a, s in enumerate(shape) if a not in reduced), 0)]
        return ReduceLayout(kept, [], 0, 1)
    run, step = rest.pop() if rest else (1, 1)
    return ReduceLayout(kept, rest, run, step)


def launch_reduce(
    ctx: OpContext,
    x: TensorRef,
    axes: Sequence[int],
    kind: str,
    target: TensorRef,
    centre: TensorRef | None = None,
) -> None:
    """Fill `target` (any shape of the right size, in any dtype) with the `kind` reduction of
    `x` over `axes`; `centre` holds one value per output position where the kind needs it."""
    layout = reduce_layout(x.shape, axes)
    if target.size == 0:
        return
    spec = KINDS[kind]
    acc_elem = accumulator(x.elem, kind)
    acc = types.storage_dtype(acc_elem)
    identity = identity_value(kind, acc_elem, x.elem == types.BOOL)
    fixed = _Fixed(centre, acc, identity, acc.numpy.type(layout.total))
    positions, total = layout.positions, layout.total
    chunks = 1
    if total >= 2 * _MIN_CHUNK and positions < _TARGET_LANES:
        chunks = min(total // _MIN_CHUNK, max(1, _TARGET_LANES // positions))
    chunk = -(-total // chunks) if total else 1
    chunks = -(-total // chunk) if total else 1
    if chunks == 1:
        fixed.launch(ctx, x, target, layout, 1, chunk, spec.fold, spec.finish)
        return
    partials = ctx.scratch((positions * chunks,), acc_elem)
    fixed.launch(ctx, x, partials, layout, chunks, chunk, spec.fold, KEEP)
    rows = ReduceLayout([(positions, chunks)], [], chunks, 1)
    fixed.launch(ctx, partials, target, rows, 1, chunks, spec.combine, spec.finish)


@dataclass(frozen=True)
class _Fixed:
    """What every launch of one reduction shares: the centres, the accumulator's dtype, the
    identity and the count of elements (scalars of that dtype)."""

    centre: TensorRef | None
    acc: DType
    identity: np.generic
    count: np.generic

    def launch(
        self,
        ctx: OpContext,
        x: TensorRef,
        out: TensorRef,
        layout: ReduceLayout,
        chunks: int,
        chunk: int,
        op: int,
        finish: int,
    ) -> None:
        """One launch of `onnx_reduce`: `op` folds chunks of `chunk` elements, `chunks` per
        position of `layout` over `x`, into `out`, finished as `finish` says."""
        pairs = [*layout.kept, *layout.outer] or [(1, 0)]
        table = ctx.constant(np.array(pairs, np.int64).reshape(-1), types.INT64)
        lanes = layout.positions * chunks
        centre = x if self.centre is None else self.centre
        sizes = [lanes, chunks, chunk, layout.total, max(layout.run, 1), layout.step]
        ranks = [len(layout.kept), len(layout.outer)]
        consts = [self.acc, op, finish, self.centre is not None]
        args = [x, centre, out, *sizes, table, *ranks, self.identity, self.count, *consts]
        ctx.launch(onnx_reduce, hg.blocks(lanes, BLOCK), BLOCK, args)
