"""Kernels of the resampling ops (Resize, GridSample, AffineGrid, RoiAlign).

Resize is separable: each resized axis is one launch of `onnx_resize_axis`, which mixes a
few source elements along that axis with weights from a per-output-position table that the
lowering computes from the shapes and attributes alone.
"""

from __future__ import annotations

import hologram as hg


@hg.kernel
def onnx_resize_axis(
    src: hg.Array,
    dst: hg.Array,
    n: hg.int64,
    inner: hg.int64,
    in_width: hg.int64,
    out_width: hg.int64,
    taps: hg.int64,
    index: hg.Array[hg.int64],
    weight: hg.Array[hg.float64],
    outside: hg.Array[hg.bool_],
    fill: hg.float64,
    compute: hg.Const[hg.dtype],
    round_int: hg.Const[bool],
    has_outside: hg.Const[bool],
):
    """Lane `o < n` writes output element `o = (outer * out_width + y) * inner + k`: the sum
    over `t < taps` of `weight[y, t] * src[(outer * in_width + index[y, t]) * inner + k]`,
    computed in `compute`.

    Zero weights are skipped (so nearest-neighbour tables read one element, and an infinite
    neighbour with weight 0 adds nothing). Positions flagged in `outside` (with
    `has_outside`) get `fill`. With `round_int` the sum is rounded half to even before the
    store converts it (saturating) to an integer `dst`.
    """
    o = hg.int64(hg.global_id())
    if o < n:
        k = o % inner
        rest = o // inner
        y = rest % out_width
        outer = rest // out_width
        base = outer * in_width * inner + k
        acc = compute(0)
        row = y * taps
        for t in range(taps):
            w = weight[row + t]
            if w != 0:
                acc += compute(w) * compute(src[base + index[row + t] * inner])
        if has_outside and outside[y]:
            acc = compute(fill)
        if round_int:
            acc = round(acc)
        dst[o] = acc
