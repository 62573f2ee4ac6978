"""The integer matrix product of MatMulInteger and QLinearMatMul.

`(a - a_zero) @ (b - b_zero)` accumulated in int32, NumPy `matmul` shapes (1-D operands,
broadcast batch dimensions). Zero points and scales apply per tensor (one element) or per
row of `a`, per column of `b`, per row of the result. QLinearMatMul then requantizes:
`clamp(round(acc * (a_scale * b_scale / y_scale)) + y_zero)`, the multiplier computed in the
scales' type and the product in float64, as onnx's reference does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef

BLOCK = 256


@dataclass(frozen=True)
class MatmulShape:
    """The shapes of a matrix product with its batch offsets (elements of a and b per
    output batch, as an int64 table of pairs)."""

    out_shape: tuple[int, ...]
    rows: int
    depth: int
    cols: int
    offsets: np.ndarray


def matmul_shape(ctx: OpContext, a: TensorRef, b: TensorRef) -> MatmulShape:
    """The product's shape of `a @ b` (NumPy rules); a ModelError when they do not fit."""
    a_shape = (1, *a.shape) if a.rank == 1 else a.shape
    b_shape = (*b.shape, 1) if b.rank == 1 else b.shape
    if a.rank == 0 or b.rank == 0 or a_shape[-1] != b_shape[-2]:
        raise ctx.error(f"cannot multiply shapes {list(a.shape)} and {list(b.shape)}")
    rows, depth, cols = a_shape[-2], a_shape[-1], b_shape[-1]
    try:
        batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ctx.error(f"batch dimensions of {list(a.shape)} and {list(b.shape)} do not "
                        "broadcast") from None  # fmt: skip
    count = math.prod(batch)
    a_index = np.broadcast_to(np.arange(math.prod(a_shape[:-2])).reshape(a_shape[:-2]), batch)
    b_index = np.broadcast_to(np.arange(math.prod(b_shape[:-2])).reshape(b_shape[:-2]), batch)
    offsets = np.stack(
        [a_index.reshape(count) * rows * depth, b_index.reshape(count) * depth * cols], axis=1
    ).astype(np.int64)
    out = list(batch) + ([rows] if a.rank > 1 else []) + ([cols] if b.rank > 1 else [])
    return MatmulShape(tuple(out), rows, depth, cols, offsets.reshape(-1))


@hg.kernel
def onnx_integer_matmul(
    a: hg.Array,
    b: hg.Array,
    a_zero: hg.Array,
    b_zero: hg.Array,
    a_scale: hg.Array,
    b_scale: hg.Array,
    y_scale: hg.Array,
    y_zero: hg.Array,
    out: hg.Array,
    offsets: hg.Array[hg.int64],
    n: hg.uint32,
    rows: hg.uint32,
    depth: hg.uint32,
    cols: hg.uint32,
    low: hg.int32,
    high: hg.int32,
    a_by_row: hg.Const[bool],
    b_by_col: hg.Const[bool],
    y_by_row: hg.Const[bool],
    requantize: hg.Const[bool],
):
    """out[i]: one element of the product (see the module docstring)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        col = i % cols
        row = (i // cols) % rows
        batch = i // (cols * rows)
        a_at = offsets[2 * batch] + hg.int64(row) * depth
        b_at = offsets[2 * batch + 1] + hg.int64(col)
        pa = row if a_by_row else hg.uint32(0)
        pb = col if b_by_col else hg.uint32(0)
        za = hg.int32(a_zero[pa])
        zb = hg.int32(b_zero[pb])
        acc = hg.int32(0)
        for t in range(depth):
            acc += (hg.int32(a[a_at + t]) - za) * (hg.int32(b[b_at + hg.int64(t) * cols]) - zb)
        if requantize:
            py = row if y_by_row else hg.uint32(0)
            multiplier = a_scale[pa] * b_scale[pb] / y_scale[py]
            value = hg.float64(acc) * hg.float64(multiplier) + hg.float64(y_zero[py])
            out[i] = min(max(round(value), hg.float64(low)), hg.float64(high))
        else:
            out[i] = acc


def per_index(ctx: OpContext, ref: TensorRef, length: int, what: str) -> bool:
    """True when `ref` holds one value per row/column (`length` of them), False for one
    value in all; a ModelError otherwise."""
    if ref.size == 1:
        return False
    if ref.rank == 1 and ref.size == length:
        return True
    raise ctx.error(f"{what} of shape {list(ref.shape)} is neither one value nor {length}")


def zero_of(ctx: OpContext, ref: TensorRef | None, like: TensorRef, size: int = 1) -> TensorRef:
    """`ref`, or `size` zeros of `like`'s type when the zero point is omitted."""
    if ref is not None:
        if ref.elem != like.elem:
            raise ctx.error(f"zero point of {types.elem_name(ref.elem)} for an input of "
                            f"{types.elem_name(like.elem)}")  # fmt: skip
        return ref
    return ctx.constant(np.zeros(size, types.numpy_dtype(like.elem)), like.elem)


def check_8bit(ctx: OpContext, *refs: TensorRef) -> None:
    """The integer products take int8 and uint8 tensors."""
    for ref in refs:
        if ref.elem not in (types.INT8, types.UINT8):
            raise ctx.unsupported(f"takes int8 or uint8 tensors, got {types.elem_name(ref.elem)}")
