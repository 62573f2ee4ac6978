"""Gemm: `alpha * op(A) @ op(B) + beta * C`, op transposing when `transA` / `transB`.

The product runs on the MATMUL intrinsic straight into the output (the transposes are the
intrinsic's flags, never copies); one elementwise pass then applies alpha and adds the
broadcast `beta * C`, in place. It is skipped when alpha is 1 and there is no C (or beta is
0, where ONNX ignores C).
"""

from __future__ import annotations

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import launch_map, widened
from hologram.onnx.ops._nn_kernels import fill, launch_matmul
from hologram.onnx.ops.op_matmul import NUMERIC
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_gemm_scale_add(y, c, alpha, beta):
    """The Gemm epilogue of one element: alpha * y + beta * c."""
    return alpha * y + beta * c


@hg.func
def onnx_gemm_scale(y, alpha):
    """The Gemm epilogue without C: alpha * y."""
    return alpha * y


@onnx_op("Gemm", since=1)
def gemm(ctx: OpContext) -> None:
    """Y (M x N) from A (M x K, or K x M with transA), B (K x N, or N x K with transB) and an
    optional C broadcast to M x N."""
    a, b = ctx.input(0), ctx.input(1)
    c = ctx.optional_input(2)
    for ref in (b, c):
        if ref is not None and ref.elem != a.elem:
            raise ctx.error(
                f"inputs must share one type, got {types.elem_name(a.elem)} "
                f"and {types.elem_name(ref.elem)}"
            )
    if a.elem not in NUMERIC:
        raise ctx.unsupported(f"Gemm of {types.elem_name(a.elem)} tensors")
    if a.rank != 2 or b.rank != 2:
        raise ctx.error(f"A and B must be 2-D, got {a.shape} and {b.shape}")
    trans_a, trans_b = bool(ctx.attr("transA", 0)), bool(ctx.attr("transB", 0))
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    m, k = a.shape[::-1] if trans_a else a.shape
    k_b, n = b.shape[::-1] if trans_b else b.shape
    if k != k_b:
        raise ctx.error(f"op(A) is {m}x{k} and op(B) is {k_b}x{n}: inner dimensions differ")
    if c is not None and not _broadcasts(c.shape, (m, n)):
        raise ctx.error(f"C of shape {c.shape} does not broadcast to {(m, n)}")
    out = ctx.output(0, (m, n), a.elem)
    if out.size == 0:
        return
    if k == 0:
        fill(ctx, out, 0)
    else:
        launch_matmul(ctx, a, b, out, m, n, k, trans_a=trans_a, trans_b=trans_b)
    compute = widened(out.dtype)
    scalars = [ctx.constant(np.array([v], compute.numpy)) for v in (alpha, beta)]
    if c is not None and beta != 0:
        steps = [(onnx_gemm_scale_add, (0, 1, 2, 3))]
        launch_map(ctx, steps, [out, c, *scalars], out, compute, "onnx_gemm_epilogue")
    elif alpha != 1:
        steps = [(onnx_gemm_scale, (0, 1))]
        launch_map(ctx, steps, [out, scalars[0]], out, compute, "onnx_gemm_scale")


def _broadcasts(shape: tuple[int, ...], target: tuple[int, int]) -> bool:
    """True when `shape` broadcasts unidirectionally to `target`."""
    if len(shape) > 2:
        return False
    padded = (1,) * (2 - len(shape)) + tuple(shape)
    return all(d in (1, t) for d, t in zip(padded, target, strict=True))
