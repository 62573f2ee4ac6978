"""Kernels shared by the matrix-product, convolution and pooling ops.

- `launch_matmul`: the MATMUL intrinsic (`hg.matmul`) on whole tensors, with element strides
  between the matrices of a batch (a stride of 0 repeats one matrix), so that a weight shared
  by every image or a broadcast operand is never copied.
- `gather`: a strided copy, `out[i] = x[offset + sum_d index_d(i) * stride_d]`, optionally
  summing over further strided dimensions. With strides of 0 it broadcasts, with permuted
  strides it transposes, with summed strides it takes a diagonal; it converts to the output's
  dtype on the way. `permute`, `broadcast_to` and `convert` are its common uses.
- `fill`: every element set to one value.

Sizes and strides travel in an int64 table (`ctx.constant`), so one compiled kernel serves
every shape; only the dtypes select a specialisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType

BLOCK = 256


@hg.kernel
def onnx_batched_matmul(
    a: hg.Array,
    b: hg.Array,
    c: hg.Array,
    m: hg.Const[int],
    n: hg.Const[int],
    k: hg.Const[int],
    batch: hg.Const[int],
    trans_a: hg.Const[bool],
    trans_b: hg.Const[bool],
    stride_a: hg.Const[int],
    stride_b: hg.Const[int],
    stride_c: hg.Const[int],
):
    """c[i] = op(a[i]) @ op(b[i]) for i < batch, matrix i of each at i * its stride."""
    hg.matmul(a, b, c, m, n, k, batch, trans_a, trans_b, stride_a, stride_b, stride_c)


def launch_matmul(
    ctx: OpContext,
    a: TensorRef,
    b: TensorRef,
    c: TensorRef,
    m: int,
    n: int,
    k: int,
    batch: int = 1,
    trans_a: bool = False,
    trans_b: bool = False,
    strides: tuple[int, int, int] | None = None,
) -> None:
    """`c[i] = op(a[i]) @ op(b[i])` for `i < batch` on the MATMUL intrinsic (all one dtype).

    `strides` are the element distances between consecutive matrices of a, b and c (packed
    by default; 0 repeats one matrix).
    """
    stride_a, stride_b, stride_c = strides or (m * k, k * n, m * n)
    if batch == 1:
        stride_a, stride_b, stride_c = m * k, k * n, m * n
    args = [a, b, c, m, n, k, batch, bool(trans_a), bool(trans_b), stride_a, stride_b, stride_c]
    ctx.launch(onnx_batched_matmul, 1, 1, args)


@hg.kernel
def onnx_gather_strided(
    x: hg.Array,
    out: hg.Array,
    total: hg.int64,
    table: hg.Array[hg.int64],
    rank: hg.int32,
    reduce_rank: hg.int32,
    reduce_count: hg.int64,
    acc: hg.Const[hg.dtype],
):
    """Lane i < total writes out[i]: x at `table[0] + sum_d index_d(i) * stride_d`, where
    `index_d` are the digits of i over the sizes `table[1 : 1 + rank]` and the strides are
    `table[1 + rank : 1 + 2 * rank]`; with `reduce_rank > 0`, the sum (in `acc`) of x over the
    further `reduce_count` positions of sizes and strides in the next `2 * reduce_rank` entries.
    """
    i = hg.int64(hg.global_id())
    if i < total:
        rest = i
        offset = table[0]
        for d in range(rank - 1, -1, -1):
            size = table[1 + d]
            quotient = rest // size
            offset += (rest - quotient * size) * table[1 + rank + d]
            rest = quotient
        if reduce_rank == 0:
            out[i] = x[offset]
        else:
            base = 1 + 2 * rank
            total_value = acc(0)
            for j in range(reduce_count):
                rest = j
                position = offset
                for d in range(reduce_rank - 1, -1, -1):
                    size = table[base + d]
                    quotient = rest // size
                    position += (rest - quotient * size) * table[base + reduce_rank + d]
                    rest = quotient
                total_value += acc(x[position])
            out[i] = total_value


def _collapse(dims: Sequence[int], strides: Sequence[int]) -> tuple[list[int], list[int]]:
    """Drop size-1 dimensions and merge neighbours walked contiguously (fewer divisions)."""
    kept = [(d, s) for d, s in zip(dims, strides, strict=True) if d != 1]
    out_dims: list[int] = []
    out_strides: list[int] = []
    for size, stride in kept:
        if out_dims and out_strides[-1] == stride * size:
            out_dims[-1] *= size
            out_strides[-1] = stride
        else:
            out_dims.append(size)
            out_strides.append(stride)
    return out_dims, out_strides


def accumulator(dtype: DType) -> DType:
    """The dtype sums are added up in: f32 for the narrow floats, i64/u64 for integers."""
    if dtype in (DType.F16, DType.BF16, DType.F32):
        return DType.F32
    if dtype == DType.F64:
        return DType.F64
    return DType.I64 if dtype.is_signed or dtype.is_bool else DType.U64


def gather(
    ctx: OpContext,
    x: TensorRef,
    out: TensorRef,
    dims: Sequence[int],
    strides: Sequence[int],
    offset: int = 0,
    reduce_dims: Sequence[int] = (),
    reduce_strides: Sequence[int] = (),
) -> TensorRef:
    """Fill `out` (whose elements are indexed by `dims`, row-major) from `x` (see the module
    docstring); `out`."""
    if out.size == 0:
        return out
    dims, strides = _collapse(dims, strides)
    reduce_dims, reduce_strides = _collapse(reduce_dims, reduce_strides)
    count = math.prod(reduce_dims)
    if reduce_dims and count == 0:
        return fill(ctx, out, 0)
    table = np.array([offset, *dims, *strides, *reduce_dims, *reduce_strides, 0], np.int64)
    args = [x, out, out.size, ctx.constant(table), len(dims), len(reduce_dims), count]
    ctx.launch(
        onnx_gather_strided, hg.blocks(out.size, BLOCK), BLOCK, [*args, accumulator(x.dtype)]
    )
    return out


def row_major_strides(shape: Sequence[int]) -> list[int]:
    """The element strides of a packed row-major tensor of `shape`."""
    strides = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * shape[axis + 1]
    return strides


def permute(
    ctx: OpContext,
    x: TensorRef,
    perm: Sequence[int],
    elem: int | None = None,
    view: Sequence[int] | None = None,
) -> TensorRef:
    """A scratch copy of `x` (viewed as shape `view` when given) with its axes in the order
    `perm`, converted to `elem`."""
    view = x.shape if view is None else tuple(view)
    strides = row_major_strides(view)
    shape = [view[p] for p in perm]
    out = ctx.scratch(shape, x.elem if elem is None else elem)
    return gather(ctx, x, out, shape, [strides[p] for p in perm])


def broadcast_to(
    ctx: OpContext, x: TensorRef, shape: Sequence[int], elem: int | None = None
) -> TensorRef:
    """A scratch copy of `x` broadcast to `shape` (converted to `elem`)."""
    own = row_major_strides(x.shape)
    lead = len(shape) - x.rank
    strides = [0] * lead + [0 if x.shape[a] == 1 else own[a] for a in range(x.rank)]
    out = ctx.scratch(shape, x.elem if elem is None else elem)
    return gather(ctx, x, out, shape, strides)


def convert(ctx: OpContext, x: TensorRef, elem: int) -> TensorRef:
    """`x` in element type `elem` (itself when it already is)."""
    if x.elem == elem:
        return x
    out = ctx.scratch(x.shape, elem)
    return gather(ctx, x, out, [x.size], [1])


@hg.kernel
def onnx_fill(out: hg.Array, total: hg.int64, value: hg.Array):
    """out[i] = value[0] for i < total."""
    i = hg.int64(hg.global_id())
    if i < total:
        out[i] = value[0]


def fill(ctx: OpContext, out: TensorRef, value: float) -> TensorRef:
    """Set every element of `out` to `value`; `out`."""
    if out.size:
        constant = ctx.constant(np.array([value], out.dtype.numpy), out.elem)
        ctx.launch(onnx_fill, hg.blocks(out.size, BLOCK), BLOCK, [out, out.size, constant])
    return out


def compute_elem(elem: int) -> int:
    """The element type arithmetic on `elem` runs in: float for float16 and bfloat16."""
    return types.FLOAT if elem in (types.FLOAT16, types.BFLOAT16) else elem
