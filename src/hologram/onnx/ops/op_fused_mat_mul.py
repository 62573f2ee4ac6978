"""ai.hologram.FusedMatMul: a MatMul or Gemm with its elementwise epilogue, in two launches.

Made by `compiler/passes/fuse_matmul_epilogue.py` from `MatMul -> [Reshape] -> elementwise
nodes` (a bias Add, an activation, a residual Add, ...). Inputs: A, B, then the epilogue's
other operands. Attributes:

- `kind`: `MatMul`, or `Gemm` with `transA` / `transB` (alpha 1; a C is an epilogue Add);
- `reshape` (optional, with `allowzero`): the constant shape the product was reshaped to;
- `steps`, `opset`, `label`: the epilogue as `FusedElementwise` writes it, over value 0 (the
  product) and the node's inputs from 2 on (values 1, 2, ...).

The product goes straight into the output, and one epilogue kernel (`_epilogue_kernels.py`)
updates it in place, reading a bias by its column and a residual by its element, with no
division per element. When the epilogue would broadcast the product itself, change its
element type, or read an operand broadcast some other way, the product goes to a scratch
tensor and the general broadcasting kernel computes the output from it.
"""

from __future__ import annotations

import hashlib
import json
import math

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.errors import ShapeError
from hologram.onnx.ops._elementwise import launch_map
from hologram.onnx.ops._epilogue_kernels import FULL, SCALAR, launch_epilogue, plan_steps, read_mode
from hologram.onnx.ops._nn_kernels import fill, launch_matmul
from hologram.onnx.ops.op_matmul import NUMERIC, batch_matmul, product_shape
from hologram.onnx.registry import HOLOGRAM_DOMAIN, onnx_op
from hologram.ops._broadcast import broadcast_shapes


@onnx_op("FusedMatMul", since=1, domain=HOLOGRAM_DOMAIN)
def fused_mat_mul(ctx: OpContext) -> None:
    """`epilogue(reshape(op(A) @ op(B)), inputs[2:])` (see the module doc)."""
    a, b = ctx.input(0), ctx.input(1)
    if a.elem != b.elem:
        raise ctx.error(f"A is {types.elem_name(a.elem)} but B is {types.elem_name(b.elem)}")
    if a.elem not in NUMERIC:
        raise ctx.unsupported(f"FusedMatMul of {types.elem_name(a.elem)} tensors")
    gemm = ctx.attr("kind", "MatMul") == "Gemm"
    trans_a, trans_b = bool(ctx.attr("transA", 0)), bool(ctx.attr("transB", 0))
    if gemm:
        if a.rank != 2 or b.rank != 2:
            raise ctx.error(f"Gemm's A and B must be 2-D, got {a.shape} and {b.shape}")
        m, k = a.shape[::-1] if trans_a else a.shape
        k_b, n = b.shape[::-1] if trans_b else b.shape
        if k != k_b:
            raise ctx.error(f"op(A) is {m}x{k} and op(B) is {k_b}x{n}: inner dimensions differ")
        shape: tuple[int, ...] = (m, n)
        batch_shape: tuple[int, ...] = ()
    else:
        shape, batch_shape, m, n, k = product_shape(ctx, a, b)
    if ctx.attr("reshape", None) is not None:
        shape = _reshaped(ctx, shape, ctx.attr("reshape"), bool(ctx.attr("allowzero", 0)))
    leaves = [ctx.input(i) for i in range(2, ctx.n_inputs)]
    try:
        out_shape = broadcast_shapes([shape, *(ref.shape for ref in leaves)], ctx.op_type)
    except ShapeError as exc:
        raise ctx.error(str(exc)) from None
    opset = int(ctx.attr("opset", 1))
    steps, scalars, compute, out_elem = plan_steps(
        ctx, json.loads(ctx.attr("steps")), opset, [a.elem, *(ref.elem for ref in leaves)]
    )
    modes = [read_mode(ref.shape, out_shape) for ref in leaves]
    in_place = out_shape == shape and out_elem == a.elem and None not in modes
    out = ctx.output(0, out_shape, out_elem)
    product = out if in_place else ctx.scratch(shape, a.elem)
    if product.size == 0:
        return
    if k == 0:
        fill(ctx, product, 0)
    elif gemm:
        launch_matmul(ctx, a, b, product, m, n, k, trans_a=trans_a, trans_b=trans_b)
    else:
        batch_matmul(ctx, a, b, product, batch_shape, m, n, k)
    name = _kernel_name(ctx)
    inputs: list[TensorRef] = [product, *leaves, *scalars]
    if in_place:
        read = [FULL, *modes, *([SCALAR] * len(scalars))]
        launch_epilogue(ctx, steps, inputs, read, out, compute, name)  # type: ignore[arg-type]
    else:
        launch_map(ctx, steps, inputs, out, compute, name)


def _reshaped(
    ctx: OpContext, shape: tuple[int, ...], target: list[int], allowzero: bool
) -> tuple[int, ...]:
    """`shape` after ONNX Reshape to `target` (0 copies a dimension unless `allowzero`, one
    -1 is inferred)."""
    dims = [
        shape[i] if d == 0 and not allowzero and i < len(shape) else int(d)
        for i, d in enumerate(target)
    ]
    known = math.prod(d for d in dims if d != -1)
    if dims.count(-1) == 1 and known:
        dims[dims.index(-1)] = math.prod(shape) // known
    if any(d < 0 for d in dims) or math.prod(dims) != math.prod(shape):
        raise ctx.error(f"cannot reshape the product of shape {shape} to {target}")
    return tuple(dims)


def _kernel_name(ctx: OpContext) -> str:
    label = "".join(c if c.isalnum() else "_" for c in str(ctx.attr("label", "epilogue")))
    digest = hashlib.sha1(str(ctx.attr("steps")).encode()).hexdigest()[:8]
    return f"onnx_matmul_{label[:40]}_{digest}"
