"""Range: `start, start + delta, ...` up to (not including) `limit`."""

import math

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.isa.dtypes import DType
from hologram.onnx.ops._generator_kernels import BLOCK, onnx_range
from hologram.onnx.registry import onnx_op


@onnx_op("Range", since=11)
def range_(ctx: OpContext) -> None:
    """`max(ceil((limit - start) / delta), 0)` elements (the count is a shape, so the three
    scalars are read on the host; the elements are computed by a kernel)."""
    start, limit, delta = (ctx.input(i) for i in range(3))
    if any(ref.size != 1 for ref in (start, limit, delta)):
        raise ctx.error("start, limit and delta must be scalars")
    values = [ctx.value(i).reshape(-1)[0] for i in range(3)]
    if start.dtype.is_float:
        first, last, step = (float(v) for v in values)
        if math.isnan(first) or math.isnan(last) or math.isnan(step):
            raise ctx.error("start, limit or delta is NaN")
        count = math.ceil((last - first) / step) if step else 0
    else:
        first, last, step = (int(v) for v in values)
        count = -((first - last) // step) if step else 0
    if step == 0:
        raise ctx.error("delta is 0")
    count = max(count, 0)
    out = ctx.output(0, (count,), start.elem)
    if count:
        acc = DType.F64 if start.dtype.is_float else DType.I64
        args = [start, delta, out, count, acc]
        ctx.launch(onnx_range, hg.blocks(count, BLOCK), BLOCK, args)
