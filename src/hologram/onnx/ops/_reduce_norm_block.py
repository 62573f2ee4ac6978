"""Row normalisation with one block per row, for long rows.

The lanes of a block stride over the row: in pass `k`, lane `l` takes element `k * width + l`,
so adjacent lanes read adjacent elements (coalesced on a GPU). Every lane makes the same
number of full passes, `r // width`, then a partial pass when `r % width` is not 0: a loop of
0 or 1 trips whose lanes past the row take the row's last element instead (masked out of the
sums; its rewrite stores the same value). Trip counts that are the same for the whole block
let the cpu renderer run each pass as one vectorised loop over the lanes
(`codegen/numba_uniform.py`), and a row without a partial pass skips it whole rather than
testing each lane (a per-lane test is a masked loop over every lane of every row); a GPU
unrolls them.
Each lane sums its elements, a block reduction combines them into the mean, then the same
again for the centred squares, and every lane writes its own elements. `_reduce_norm`
describes the rows and picks this form for rows long enough to fill a block; shorter rows keep
one lane per row.
"""

from __future__ import annotations

import hologram as hg
from hologram.onnx.ops._conv_kernels import NONE, onnx_conv_activation


@hg.func
def _write(x, scale, bias, out, first, k, mean, rstd, channel, spatial, compute, per_element,
           has_bias, aligned, base, act, low, high):  # fmt: skip
    """Normalise element `k` of the row at `first`, then apply activation `act`
    (`onnx_conv_activation`). Without `per_element`, the element's channel is `channel + k //
    spatial`; with `aligned` (every lane of the pass in the same channel) it is `channel +
    base // spatial`, where `base` is the pass's first element, the same for the whole
    block."""
    if per_element:
        y = (compute(x[first + k]) - mean) * rstd * compute(scale[k])
        if has_bias:
            y += compute(bias[k])
    else:
        # Not a conditional expression: that would compute (and divide) both sides.
        if aligned:  # noqa: SIM108
            c = channel + hg.uint32(base) // spatial
        else:
            c = channel + hg.uint32(k) // spatial
        y = (compute(x[first + k]) - mean) * (rstd * compute(scale[c]))
        if has_bias:
            y += compute(bias[c])
    out[first + k] = onnx_conv_activation(y, act, compute(low), compute(high))


@hg.func
def _normalize_row(x, scale, bias, out, mean_out, rstd_out, r, groups, per_group, spatial, eps,
                   compute, centred, per_element, has_bias, stats, aligned, act, low,
                   high):  # fmt: skip
    """Block `block_id()` normalises its row (see `onnx_normalize_rows_block`)."""
    j = hg.uint32(hg.block_id())
    lane = hg.int64(hg.lane_id())
    width = hg.int64(hg.block_dim())
    first = hg.int64(j) * r
    passes = hg.int64(r // hg.uint32(width))  # unsigned: no floor-division sign fixes
    tail = passes * width
    more = hg.int64(r) - tail  # the partial pass's elements
    ends = passes + hg.select(more > 0, 1, 0)
    inside = lane < more
    last = min(tail + lane, hg.int64(r) - 1)
    count = compute(r)
    total = compute(0)
    if centred:
        for k in range(passes):
            total += compute(x[first + k * width + lane])
        for _ in range(passes, ends):
            total += hg.select(inside, compute(x[first + last]), compute(0))
    # One write of the mean (an uncentred row's sum is 0), so that it is a block scalar.
    mean = hg.block_sum(total) / count
    squares = compute(0)
    for k in range(passes):
        d = compute(x[first + k * width + lane]) - mean
        squares += d * d
    for _ in range(passes, ends):
        e = hg.select(inside, compute(x[first + last]) - mean, compute(0))
        squares += e * e
    rstd = 1.0 / hg.sqrt(hg.block_sum(squares) / count + compute(eps))
    if stats and lane == 0:
        mean_out[j] = mean
        rstd_out[j] = rstd
    channel = (j % groups) * per_group
    for k in range(passes):
        _write(x, scale, bias, out, first, k * width + lane, mean, rstd, channel, spatial,
               compute, per_element, has_bias, aligned, k * width, act, low, high)  # fmt: skip
    for _ in range(passes, ends):
        _write(x, scale, bias, out, first, last, mean, rstd, channel, spatial, compute,
               per_element, has_bias, aligned, tail, act, low, high)  # fmt: skip


@hg.kernel
def onnx_normalize_rows_block(
    x: hg.Array,
    scale: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    mean_out: hg.Array,
    rstd_out: hg.Array,
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
    aligned: hg.Const[bool],
):
    """Block `j` normalises row `j` as `onnx_normalize_rows` lane `j` does (same arguments
    but the row count, which is the grid). `aligned`: `spatial` is a multiple of the block
    width or the row is one channel, so that the lanes of a pass share a channel."""
    _normalize_row(x, scale, bias, out, mean_out, rstd_out, r, groups, per_group, spatial, eps,
                   compute, centred, per_element, has_bias, stats, aligned, NONE, 0.0,
                   0.0)  # fmt: skip


@hg.kernel
def onnx_normalize_rows_block_act(
    x: hg.Array,
    scale: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    r: hg.uint32,
    groups: hg.uint32,
    per_group: hg.uint32,
    spatial: hg.uint32,
    eps: hg.Scalar,
    compute: hg.Const[hg.dtype],
    has_bias: hg.Const[bool],
    aligned: hg.Const[bool],
    act: hg.Const[int],
    low: hg.float64,
    high: hg.float64,
):
    """`onnx_normalize_rows_block` of a centred row with a scale and bias per channel (group
    and instance normalisation), without statistics outputs, then activation `act` with
    bounds `low` and `high` (`onnx_conv_activation`) before the store: a normalisation and the
    activation after it in one pass over memory."""
    _normalize_row(x, scale, bias, out, out, out, r, groups, per_group, spatial, eps, compute,
                   True, False, has_bias, False, aligned, act, low, high)  # fmt: skip


@hg.kernel
def onnx_activation_in_place(
    x: hg.Array, n: hg.int64, act: hg.Const[int], low: hg.float64, high: hg.float64
):
    """Lane `i < n` applies activation `act` (`onnx_conv_activation`) to `x[i]`: for rows too
    short for a block each, the normalisation's output then goes through it once more."""
    i = hg.int64(hg.global_id())
    if i < n:
        x[i] = onnx_conv_activation(x[i], act, x.dtype(low), x.dtype(high))
