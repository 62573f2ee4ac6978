"""MatMul: NumPy's matmul, on the MATMUL intrinsic (BLAS on the cpu).

A 1-D left operand is a row and a 1-D right operand a column, removed from the result; the
leading batch dimensions broadcast. An operand that repeats one matrix for the whole batch is
read with a batch stride of 0; a stack of left matrices against one right matrix is a single
product of all their rows; only an operand broadcast along some batch dimensions and not
others is copied out at the full batch shape first.
"""

from __future__ import annotations

import math

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.errors import ShapeError
from hologram.onnx.ops._nn_kernels import broadcast_to, fill, launch_matmul
from hologram.onnx.registry import onnx_op
from hologram.ops._broadcast import broadcast_shapes

NUMERIC = frozenset(
    {
        types.FLOAT,
        types.DOUBLE,
        types.FLOAT16,
        types.BFLOAT16,
        types.INT8,
        types.INT16,
        types.INT32,
        types.INT64,
        types.UINT8,
        types.UINT16,
        types.UINT32,
        types.UINT64,
    }
)


@onnx_op("MatMul", since=1)
def matmul(ctx: OpContext) -> None:
    """`A @ B` with NumPy semantics."""
    a, b = ctx.input(0), ctx.input(1)
    if a.elem != b.elem:
        raise ctx.error(f"A is {types.elem_name(a.elem)} but B is {types.elem_name(b.elem)}")
    if a.elem not in NUMERIC:
        raise ctx.unsupported(f"MatMul of {types.elem_name(a.elem)} tensors")
    out_shape, batch_shape, m, n, k = product_shape(ctx, a, b)
    out = ctx.output(0, out_shape, a.elem)
    if out.size == 0:
        return
    if k == 0:
        fill(ctx, out, 0)
        return
    batch_matmul(ctx, a, b, out, batch_shape, m, n, k)


def product_shape(
    ctx: OpContext, a: TensorRef, b: TensorRef
) -> tuple[tuple[int, ...], tuple[int, ...], int, int, int]:
    """`(shape of a @ b, its batch shape, m, n, k)`; a ModelError if the shapes do not fit."""
    if a.rank == 0 or b.rank == 0:
        raise ctx.error(f"operands must have at least one dimension, got {a.shape} and {b.shape}")
    m, k = (1, a.shape[0]) if a.rank == 1 else a.shape[-2:]
    k_b, n = (b.shape[0], 1) if b.rank == 1 else b.shape[-2:]
    if k != k_b:
        raise ctx.error(f"shapes {a.shape} and {b.shape} do not align ({k} != {k_b})")
    a_batch, b_batch = a.shape[:-2], b.shape[:-2]
    try:
        batch_shape = broadcast_shapes([a_batch, b_batch], "MatMul")
    except ShapeError as exc:
        raise ctx.error(str(exc)) from None
    out_shape = (*batch_shape, *([m] if a.rank > 1 else []), *([n] if b.rank > 1 else []))
    return out_shape, batch_shape, m, n, k


def batch_matmul(
    ctx: OpContext,
    a: TensorRef,
    b: TensorRef,
    out: TensorRef,
    batch_shape: tuple[int, ...],
    m: int,
    n: int,
    k: int,
) -> None:
    """`out = a @ b` for operands whose batch dimensions broadcast to `batch_shape`."""
    batch = math.prod(batch_shape)
    a_count, b_count = math.prod(a.shape[:-2]), math.prod(b.shape[:-2])
    if batch > 1 and a_count == batch and b_count == 1:
        # Every left matrix against one right matrix: one product of all the stacked rows.
        launch_matmul(ctx, a, b, out, batch * m, n, k)
        return
    a = _batched(ctx, a, batch_shape, batch)
    b = _batched(ctx, b, batch_shape, batch)
    stride_a = 0 if math.prod(a.shape[:-2]) != batch else m * k
    stride_b = 0 if math.prod(b.shape[:-2]) != batch else k * n
    launch_matmul(ctx, a, b, out, m, n, k, batch, strides=(stride_a, stride_b, m * n))


def _batched(ctx: OpContext, x: TensorRef, batch_shape: tuple[int, ...], batch: int) -> TensorRef:
    """`x` itself when it holds all `batch` matrices or just one; else a copy broadcast to the
    full batch."""
    count = math.prod(x.shape[:-2])
    if count in (1, batch) or x.rank < 3:
        return x
    return broadcast_to(ctx, x, (*batch_shape, *x.shape[-2:]))
