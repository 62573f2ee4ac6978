"""Kernels of the ops that make tensors from shapes and attributes: fills, identity
matrices and ranges (ConstantOfShape, Dropout's mask, EyeLike, Range)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef

BLOCK = 256


@hg.kernel
def onnx_fill_constant(out: hg.Array, n: hg.uint32, value: hg.Array):
    """out[i] = value[0] for i < n."""
    i = hg.uint32(hg.global_id())
    if i < n:
        out[i] = value[0]


@hg.kernel
def onnx_eye(out: hg.Array, n: hg.uint32, columns: hg.uint32, k: hg.int64):
    """out viewed as `(n / columns, columns)` is 1 on diagonal `k` (column - row == k)
    and 0 elsewhere."""
    i = hg.uint32(hg.global_id())
    if i < n:
        offset = hg.int64(i % columns) - hg.int64(i // columns)
        out[i] = hg.select(offset == k, 1, 0)


@hg.kernel
def onnx_range(
    start: hg.Array, delta: hg.Array, out: hg.Array, n: hg.uint32, acc: hg.Const[hg.dtype]
):
    """out[i] = start[0] + i * delta[0], computed in `acc`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        out[i] = acc(start[0]) + acc(i) * acc(delta[0])


def fill(
    ctx: OpContext, output: int, shape: Sequence[int], elem: int, value: float | int | bool
) -> TensorRef:
    """Output `output` of the node: a tensor of `shape` and `elem` holding `value`
    everywhere."""
    result = ctx.output(output, shape, elem)
    if result.size:
        array = np.array([value]).astype(types.numpy_dtype(elem))
        constant = ctx.constant(array, elem)
        args = [result, result.size, constant]
        ctx.launch(onnx_fill_constant, hg.blocks(result.size, BLOCK), BLOCK, args)
    return result
