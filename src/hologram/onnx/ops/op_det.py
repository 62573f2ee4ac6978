"""Det: the determinant of each square matrix of the last two axes, by LU decomposition with
partial pivoting, one lane per matrix, in float64 whatever the input's float type."""

from __future__ import annotations

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._nn_kernels import BLOCK
from hologram.onnx.ops.op_conv import FLOATS
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_det(x: hg.Array, work: hg.Array, out: hg.Array, count: hg.int64, size: hg.int64):
    """Lane b < count writes out[b], the determinant of matrix b (size x size) of x,
    eliminating in its copy in `work` (whose dtype it computes in)."""
    b = hg.int64(hg.global_id())
    if b < count:
        base = b * size * size
        for i in range(size * size):
            work[base + i] = work.dtype(x[base + i])
        det = work.dtype(1)
        for c in range(size):
            pivot_row = c
            best = abs(work[base + c * size + c])
            for r in range(c + 1, size):
                candidate = abs(work[base + r * size + c])
                if candidate > best:
                    best = candidate
                    pivot_row = r
            if best == 0:
                det = work.dtype(0)
                break
            if pivot_row != c:
                det = -det
                for k in range(c, size):
                    kept = work[base + c * size + k]
                    work[base + c * size + k] = work[base + pivot_row * size + k]
                    work[base + pivot_row * size + k] = kept
            pivot = work[base + c * size + c]
            det = det * pivot
            for r in range(c + 1, size):
                factor = work[base + r * size + c] / pivot
                for k in range(c + 1, size):
                    work[base + r * size + k] -= factor * work[base + c * size + k]
        out[b] = det


@onnx_op("Det", since=11)
def det(ctx: OpContext) -> None:
    """Y (X's shape without the last two axes) from X (..., M, M)."""
    x = ctx.input(0)
    if x.elem not in FLOATS:
        raise ctx.unsupported(f"Det of {types.elem_name(x.elem)} tensors")
    if x.rank < 2 or x.shape[-1] != x.shape[-2]:
        raise ctx.error(f"X must end in square matrices, got shape {x.shape}")
    out = ctx.output(0, x.shape[:-2], x.elem)
    if out.size == 0:
        return
    work = ctx.scratch((max(x.size, 1),), types.DOUBLE)
    args = [x, work, out, out.size, x.shape[-1]]
    ctx.launch(onnx_det, hg.blocks(out.size, BLOCK), BLOCK, args)
