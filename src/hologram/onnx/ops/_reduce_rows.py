"""Kernels along one axis: arg-extremes and the softmax family, one lane per row.

A tensor is viewed as `(outer, r, inner)` around the axis: lane `j = o * inner + i` works on
row `(o, i)`, the `r` elements `inner` apart from `o * r * inner + i`. `softmax_rows` finds
that view for the softmax family: since opset 13 around one axis, before it (the "coerce to
2-D" semantics) over rows of every axis from `axis` on (`inner == 1`).
"""

from __future__ import annotations

import math

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.kernels.reduce._fold import EXP, MAX, fold
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.registry import onnx_op

BLOCK = 256
"""Lanes per block of every launch here."""


@hg.func
def onnx_row_start(j, r, inner):
    """The offset of row `j`'s first element in a tensor viewed as `(outer, r, inner)`."""
    o = j // inner
    return hg.int64(o) * r * inner + (j - o * inner)


@hg.func
def onnx_arg_better(v, best, largest, last):
    """Whether `v` replaces `best` as the extreme so far: the largest (or smallest) value, the
    first (or with `last`, the last) of equal ones; NaN beats every number, as in NumPy."""
    if largest and last:
        return v >= best or v != v
    elif largest:
        return v > best or (v != v and best == best)
    elif last:
        return v <= best or v != v
    else:
        return v < best or (v != v and best == best)


@hg.kernel
def onnx_arg_extreme(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    inner: hg.uint32,
    largest: hg.Const[bool],
    last: hg.Const[bool],
):
    """Lane `j < n` writes the index along the row of its largest (or smallest) element (see
    `onnx_arg_better`); rows are not empty."""
    j = hg.uint32(hg.global_id())
    if j < n:
        first = onnx_row_start(j, r, inner)
        step = hg.int64(inner)
        best = x[first]
        found = hg.int64(0)
        for k in range(1, hg.int64(r)):
            v = x[first + k * step]
            if onnx_arg_better(v, best, largest, last):
                best = v
                found = k
        out[j] = found


@hg.kernel
def onnx_log_softmax(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    inner: hg.uint32,
    compute: hg.Const[hg.dtype],
):
    """Lane `j < n` writes `x - max - log(sum(exp(x - max)))` along its row, in `compute`."""
    j = hg.uint32(hg.global_id())
    if j < n:
        first = onnx_row_start(j, r, inner)
        step = hg.int64(inner)
        top = fold(x, first, r, step, 0, compute, MAX)
        shift = top + hg.log(fold(x, first, r, step, top, compute, EXP))
        for k in range(hg.int64(r)):
            out[first + k * step] = compute(x[first + k * step]) - shift


def rows(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """(outer, r, inner) around `axis` (non-negative) of `shape`."""
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


def axis_of(ctx: OpContext, rank: int, default: int) -> int:
    """The `axis` attribute made non-negative; a ModelError if out of range."""
    axis = int(ctx.attr("axis", default))
    if not -rank <= axis < max(rank, 1):
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def softmax_rows(ctx: OpContext, x: TensorRef) -> tuple[int, int, int]:
    """The `(outer, r, inner)` view a softmax-family op works along (see the module doc)."""
    if ctx.opset >= 13:
        if x.rank == 0:
            return 1, 1, 1
        return rows(x.shape, axis_of(ctx, x.rank, -1))
    axis = axis_of(ctx, x.rank, 1)
    return math.prod(x.shape[:axis]), math.prod(x.shape[axis:]), 1


FLOATS = frozenset({types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16})


def float_tensors(ctx: OpContext, *refs: TensorRef | None) -> None:
    """A ModelError unless every given tensor holds floating-point numbers."""
    for ref in refs:
        if ref is not None and ref.elem not in FLOATS:
            raise ctx.error(f"takes floating-point tensors, got {types.elem_name(ref.elem)}")


def compute_dtype(elem: int) -> DType:
    """The dtype a row of `elem` is computed in: f32 for f16 and bf16, else its own."""
    return widened(types.storage_dtype(elem))


def launch_log_softmax(
    ctx: OpContext, x: TensorRef, out: TensorRef, view: tuple[int, int, int]
) -> None:
    """Fill `out` with the log-softmax of `x` along the rows of `view` (outer, r, inner)."""
    outer, r, inner = view
    n = outer * inner
    if n * r:
        args = [x, out, n, r, inner, compute_dtype(x.elem)]
        ctx.launch(onnx_log_softmax, hg.blocks(n, BLOCK), BLOCK, args)


def register_arg_extreme(op_type: str, largest: bool) -> None:
    """Register ArgMax (`largest`) or ArgMin: `axis` (default 0), `keepdims` (default 1),
    `select_last_index` (default 0)."""

    def lower(ctx: OpContext) -> None:
        x = ctx.input(0)
        if x.elem == types.STRING or types.is_byte_coded(x.elem):
            raise ctx.unsupported(f"cannot compare {types.elem_name(x.elem)} elements")
        if x.rank == 0:
            raise ctx.error("takes a tensor of rank 1 or more")
        axis = axis_of(ctx, x.rank, 0)
        keepdims = bool(ctx.attr("keepdims", 1))
        last = bool(ctx.attr("select_last_index", 0))
        shape = [1 if a == axis else d for a, d in enumerate(x.shape) if keepdims or a != axis]
        out = ctx.output(0, shape, types.INT64)
        outer, r, inner = rows(x.shape, axis)
        if out.size == 0:
            return
        if r == 0:
            raise ctx.error(f"axis {axis} of shape {list(x.shape)} is empty")
        n = outer * inner
        args = [x, out, n, r, inner, largest, last]
        ctx.launch(onnx_arg_extreme, hg.blocks(n, BLOCK), BLOCK, args)

    lower.__doc__ = f"{op_type}: see `register_arg_extreme`."
    onnx_op(op_type, since=1)(lower)
