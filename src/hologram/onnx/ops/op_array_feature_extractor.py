"""ai.onnx.ml ArrayFeatureExtractor: pick columns of the last axis by index.

`Z[..., j] = X[..., Y.flat[j]]`; the output has X's leading axes (a 1-D X counts as one row)
and one column per index. Indices outside `[0, X.shape[-1])` are an error when they are
known while planning; found at run time, they give 0.
"""

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op

BLOCK = 256


@hg.kernel
def onnx_array_feature_extract(
    x: hg.Array,
    indices: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    picks: hg.uint32,
    width: hg.int64,
):
    """Lane `i < n` of `out` viewed as `(rows, picks)` at `(r, j)` is `x[r * width + k]` for
    `k = indices[j]`, or 0 when `k` is outside `[0, width)`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        row = i // picks
        k = hg.int64(indices[i - row * picks])
        if 0 <= k < width:
            out[i] = x[hg.int64(row) * width + k]
        else:
            out[i] = out.dtype(0)


@onnx_op("ArrayFeatureExtractor", since=1, domain="ai.onnx.ml")
def array_feature_extractor(ctx: OpContext) -> None:
    """Inputs `X` (rank 1 or more) and integer indices `Y` (any shape)."""
    x, indices = ctx.input(0), ctx.input(1)
    if x.elem == types.STRING:
        raise ctx.unsupported("string tensors cannot be computed with")
    if indices.elem not in (types.INT64, types.INT32):
        raise ctx.error(f"indices must be int64, got {types.elem_name(indices.elem)}")
    if x.rank == 0:
        raise ctx.error("X must have at least one axis")
    width = x.shape[-1]
    if indices.is_constant:
        values = np.asarray(indices.value).reshape(-1)
        bad = values[(values < 0) | (values >= width)]
        if bad.size:
            raise ctx.error(f"index {int(bad[0])} is out of range for {width} columns")
    leading = x.shape[:-1] if x.rank > 1 else (1,)
    out = ctx.output(0, [*leading, indices.size], x.elem)
    if out.size == 0:
        return
    args = [x, indices, out, out.size, indices.size, width]
    ctx.launch(onnx_array_feature_extract, hg.blocks(out.size, BLOCK), BLOCK, args)
