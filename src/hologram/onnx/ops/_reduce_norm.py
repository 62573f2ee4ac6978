"""Normalising contiguous rows: LayerNormalization, RMSNormalization, GroupNormalization and
InstanceNormalization share these kernels.

Each normalises rows of `r` contiguous elements: `(x - mean) / sqrt(var + eps)` (or, for RMS,
`x / sqrt(mean(x^2) + eps)`), times a scale and plus a bias. Where the scale and bias are read
is what differs, and two numbers describe it: with `per_element`, element `k` of a row reads
`scale[k]` (LayerNormalization, after broadcasting the scale to the normalised shape); else a
row is `r / spatial` blocks of `spatial` elements, and block `b` of row `j` reads
`scale[(j % groups) * per_group + b]`:

    GroupNormalization (opset 21)   rows (N, G)   groups G, per_group C / G, spatial H*W...
    GroupNormalization (opset 18)   rows (N, G)   groups G, per_group 1,     spatial r
    InstanceNormalization           rows (N, C)   groups C, per_group 1,     spatial r

The mean and the variance around it are two sweeps (for accuracy), each folded in eight
interleaved partials (`kernels/reduce/_fold.py`), in f32 for f16 and bf16.
"""

from __future__ import annotations

from dataclasses import dataclass

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.kernels.reduce._fold import SQUARES, SUM, fold
from hologram.onnx.ops._elementwise import launch_map, widened
from hologram.onnx.ops._reduce_norm_block import onnx_normalize_rows_block

BLOCK = 256
"""Lanes per block of every launch here."""

BLOCK_ROWS_FROM = 1024
"""Rows of at least this many elements are normalised by a block each
(`onnx_normalize_rows_block`), shorter ones by a lane each: a block's lanes then each have
several elements to sum, and a GPU reads the row coalesced."""


@hg.kernel
def onnx_normalize_rows(
    x: hg.Array,
    scale: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    mean_out: hg.Array,
    rstd_out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    groups: hg.uint32,
    per_group: hg.uint32,
    spatial: hg.uint32,
    eps: hg.Scalar,
    compute: hg.Const[hg.dtype],
    centred: hg.Const[bool],
    per_element: hg.Const[bool],
    has_bias: hg.Const[bool],
    stats: hg.Const[bool],
):
    """Lane `j < n` normalises row `j` (the `r` elements from `j * r`; see the module
    docstring), without subtracting the mean unless `centred`; with `stats` it writes the
    row's mean and `1 / sqrt(var + eps)` to `mean_out[j]` and `rstd_out[j]`. An absent bias
    (`has_bias` False) is never read, nor are the stats arrays without `stats`."""
    j = hg.uint32(hg.global_id())
    if j < n:
        first = hg.int64(j) * r
        count = compute(r)
        mean = compute(0)
        if centred:
            mean = fold(x, first, r, 1, 0, compute, SUM) / count
        rstd = 1.0 / hg.sqrt(fold(x, first, r, 1, mean, compute, SQUARES) / count + compute(eps))
        if stats:
            mean_out[j] = mean
            rstd_out[j] = rstd
        if per_element:
            for k in range(hg.int64(r)):
                y = (compute(x[first + k]) - mean) * rstd * compute(scale[k])
                if has_bias:
                    y += compute(bias[k])
                out[first + k] = y
        else:
            channel = (j % groups) * per_group
            for b in range(hg.int64(r // spatial)):
                factor = rstd * compute(scale[channel + b])
                shift = compute(0) - mean * factor
                if has_bias:
                    shift += compute(bias[channel + b])
                start = first + b * spatial
                for k in range(hg.int64(spatial)):
                    out[start + k] = compute(x[start + k]) * factor + shift


@dataclass(frozen=True)
class RowNorm:
    """How one op normalises: its rows (see the module docstring) and what it computes."""

    rows: int
    r: int
    groups: int = 1
    per_group: int = 0
    spatial: int = 1
    per_element: bool = True
    centred: bool = True


def stash_dtype(ctx: OpContext, x: TensorRef) -> tuple[int, DType]:
    """The `stash_type` element type (default float) and the dtype to compute in: f64 when
    either the input or the stash type is f64, else f32."""
    stash = int(ctx.attr("stash_type", types.FLOAT))
    if stash not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.error(f"stash_type {types.elem_name(stash)} is not a floating-point type")
    wide = DType.F64 if DType.F64 in (x.dtype, types.storage_dtype(stash)) else DType.F32
    return stash, wide


def broadcast_to(ctx: OpContext, ref: TensorRef, shape: tuple[int, ...]) -> TensorRef:
    """`ref` as a contiguous tensor of `shape` (itself when it already has that many
    elements, so its flat index is already right)."""
    size = 1
    for d in shape:
        size *= d
    if ref.size == size:
        return ref
    result = ctx.scratch(shape, ref.elem)
    launch_map(ctx, [], [ref], result, widened(ref.dtype))
    return result


def launch_row_norm(
    ctx: OpContext,
    norm: RowNorm,
    x: TensorRef,
    scale: TensorRef,
    bias: TensorRef | None,
    out: TensorRef,
    compute: DType,
    stats: tuple[TensorRef, TensorRef] | None = None,
) -> None:
    """Normalise `x` into `out` as `norm` says, reading `scale` and `bias` (None: no bias);
    `stats` are tensors of one element per row for the means and inverse deviations."""
    if norm.rows == 0:
        return
    mean_out, rstd_out = stats if stats is not None else (out, out)
    eps = compute.numpy.type(float(ctx.attr("epsilon", 1e-5)))
    head = [x, scale, scale if bias is None else bias, out, mean_out, rstd_out]
    tail = [
        norm.r,
        norm.groups,
        norm.per_group,
        max(norm.spatial, 1),
        eps,
        compute,
        norm.centred,
        norm.per_element,
        bias is not None,
        stats is not None,
    ]
    if norm.r >= BLOCK_ROWS_FROM:
        # The lanes of a pass share a channel when a row is one channel, or its channels
        # are whole passes long.
        aligned = not norm.per_element and (norm.per_group == 1 or norm.spatial % BLOCK == 0)
        ctx.launch(onnx_normalize_rows_block, norm.rows, BLOCK, [*head, *tail, aligned])
    else:
        grid = hg.blocks(norm.rows, BLOCK)
        ctx.launch(onnx_normalize_rows, grid, BLOCK, [*head, norm.rows, *tail])
