"""Transpose: the input's axes permuted (`perm`, reversed by default), copied by one kernel."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import copy_permuted
from hologram.onnx.registry import onnx_op


@onnx_op("Transpose", since=1)
def transpose(ctx: OpContext) -> None:
    """Output axis `d` is input axis `perm[d]`."""
    x = ctx.input(0)
    perm = [int(p) for p in ctx.attr("perm", list(range(x.rank - 1, -1, -1)))]
    perm = [p + x.rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(x.rank)):
        raise ctx.error(f"perm {perm} is not a permutation of the {x.rank} axes")
    out = ctx.output(0, [x.shape[p] for p in perm], x.elem)
    copy_permuted(ctx, x, out, x.shape, perm)
