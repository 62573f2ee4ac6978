"""Bernoulli: 1 with the probability each input element gives, else 0 (see
`_random_kernels`; onnx's tests expect NumPy's generator, whose draws these are not)."""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._random_kernels import BLOCK, onnx_bernoulli, seed_of
from hologram.onnx.registry import onnx_op


@onnx_op("Bernoulli", since=15, pure=False)
def bernoulli(ctx: OpContext) -> None:
    """Output 0 has the input's shape and `dtype` (the input's type by default)."""
    p = ctx.input(0)
    elem = ctx.attr("dtype", p.elem)
    if types.is_byte_coded(elem) or elem == types.STRING:
        raise ctx.unsupported(f"outputs of {types.elem_name(elem)} are not supported")
    out = ctx.output(0, p.shape, elem)
    if out.size:
        args = [p, out, out.size, seed_of(ctx)]
        ctx.launch(onnx_bernoulli, hg.blocks(out.size, BLOCK), BLOCK, args)
