"""Row normalisation with one block per row, for long rows.

The lanes of a block stride over the row: in pass `k`, lane `l` takes element `k * width + l`,
so adjacent lanes read adjacent elements (coalesced on a GPU). Every lane makes the same
number of full passes, `r // width`, and the lanes below `r % width` then take one more
element each. Trip counts that are the same for the whole block let the cpu renderer run each
pass as one vectorised loop over the lanes (`codegen/numba_uniform.py`); a GPU unrolls them.
Each lane sums its elements, a block reduction combines them into the mean, then the same
again for the centred squares, and every lane writes its own elements. `_reduce_norm`
describes the rows and picks this form for rows long enough to fill a block; shorter rows keep
one lane per row.
"""

from __future__ import annotations

import hologram as hg


@hg.func
def _write(x, scale, bias, out, first, k, mean, rstd, channel, spatial, compute, per_element,
           has_bias, aligned, base):  # fmt: skip
    """Normalise element `k` of the row at `first`. Without `per_element`, the element's
    channel is `channel + k // spatial`; with `aligned` (every lane of the pass in the same
    channel) it is `channel + base // spatial`, where `base` is the pass's first element, the
    same for the whole block."""
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
    out[first + k] = y


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
    j = hg.uint32(hg.block_id())
    lane = hg.int64(hg.lane_id())
    width = hg.int64(hg.block_dim())
    first = hg.int64(j) * r
    passes = hg.int64(r // hg.uint32(width))  # unsigned: no floor-division sign fixes
    tail = passes * width
    extra = lane < hg.int64(r) - tail  # this lane takes one element after the full passes
    count = compute(r)
    total = compute(0)
    if centred:
        for k in range(passes):
            total += compute(x[first + k * width + lane])
        if extra:
            total += compute(x[first + tail + lane])
    # One write of the mean (an uncentred row's sum is 0), so that it is a block scalar.
    mean = hg.block_sum(total) / count
    squares = compute(0)
    for k in range(passes):
        d = compute(x[first + k * width + lane]) - mean
        squares += d * d
    if extra:
        e = compute(x[first + tail + lane]) - mean
        squares += e * e
    rstd = 1.0 / hg.sqrt(hg.block_sum(squares) / count + compute(eps))
    if stats and lane == 0:
        mean_out[j] = mean
        rstd_out[j] = rstd
    channel = (j % groups) * per_group
    for k in range(passes):
        _write(x, scale, bias, out, first, k * width + lane, mean, rstd, channel, spatial,
               compute, per_element, has_bias, aligned, k * width)  # fmt: skip
    if extra:
        _write(x, scale, bias, out, first, tail + lane, mean, rstd, channel, spatial, compute,
               per_element, has_bias, aligned, tail)  # fmt: skip
