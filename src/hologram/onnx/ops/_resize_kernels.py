"""Kernels of the resampling ops (Resize, GridSample, AffineGrid, RoiAlign).

Resize is separable: an output element mixes a few source elements along each resized axis
with weights from per-axis, per-output-position tables that the lowering computes from the
shapes and attributes alone. `onnx_resize_plane` resizes the last two axes in one pass, a lane
per output row (nearest neighbours with one tap of weight 1 per axis are a gather);
`onnx_resize_axis` resizes any one axis, a lane per output element.
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


@hg.kernel
def onnx_resize_plane(
    src: hg.Array,
    dst: hg.Array,
    rows: hg.int64,
    in_h: hg.int64,
    in_w: hg.int64,
    out_h: hg.int64,
    out_w: hg.int64,
    taps_h: hg.int64,
    taps_w: hg.int64,
    index_h: hg.Array[hg.int64],
    weight_h: hg.Array[hg.float64],
    index_w: hg.Array[hg.int64],
    weight_w: hg.Array[hg.float64],
    compute: hg.Const[hg.dtype],
    round_int: hg.Const[bool],
    gather: hg.Const[bool],
):
    """Lane j < rows, j = plane * out_h + y, writes output row y of plane `plane` (in_h x in_w
    in, out_h x out_w out): element x is the sum over `tw < taps_w` of `weight_w[x, tw]` times
    the sum over `th < taps_h` of `weight_h[y, th] * src[plane, index_h[y, th], index_w[x,
    tw]]`, computed in `compute` (the order of two passes, the first along the rows). Zero
    weights are skipped; with `round_int` the sum is rounded half to even. With `gather`
    (every weight 1, one tap per axis) the source element is copied as it is."""
    j = hg.int64(hg.global_id())
    if j < rows:
        y = j % out_h
        plane = (j // out_h) * in_h * in_w
        first = j * out_w
        if gather:
            row = plane + index_h[y] * in_w
            for x in range(out_w):
                dst[first + x] = src[row + index_w[x]]
        else:
            for x in range(out_w):
                acc = compute(0)
                for tw in range(taps_w):
                    ww = weight_w[x * taps_w + tw]
                    if ww != 0:
                        column = plane + index_w[x * taps_w + tw]
                        part = compute(0)
                        for th in range(taps_h):
                            wh = weight_h[y * taps_h + th]
                            if wh != 0:
                                at = column + index_h[y * taps_h + th] * in_w
                                part += compute(wh) * compute(src[at])
                        acc += compute(ww) * part
                if round_int:
                    acc = round(acc)
                dst[first + x] = acc


@hg.func
def _repeat_row(dst, at, v, repeat_w):
    """`v` to the `repeat_w` elements of `dst` from `at`: written out for factors 1 and 2,
    since a loop in the lane's body keeps the cpu from vectorising the lanes."""
    if repeat_w == 1:
        dst[at] = v
    elif repeat_w == 2:
        dst[at] = v
        dst[at + 1] = v
    else:
        for b in range(repeat_w):
            dst[at + b] = v


@hg.kernel
def onnx_resize_repeat(
    src: hg.Array,
    dst: hg.Array,
    in_h: hg.int64,
    in_w: hg.int64,
    repeat_h: hg.Const[int],
    repeat_w: hg.Const[int],
    planes: hg.int64,
    first: hg.int64,
):
    """Lane (ix, iy, z') of plane z = first + z' (z' < planes) copies element (iy, ix) of
    plane z of `src` (in_h x in_w) to the `repeat_h` x `repeat_w` elements it becomes in
    `dst` (planes of in_h * repeat_h rows of in_w * repeat_w): nearest-neighbour upsampling
    by whole factors, where every output element copies one input element. The factors are
    constants, so that a row's stores have a known stride (vectorised on the cpu, where a
    gather through an index table is not)."""
    ix = hg.int64(hg.global_id(0))
    iy = hg.int64(hg.global_id(1))
    zl = hg.int64(hg.global_id(2))
    # The lane's x alone first: a block whose lanes all pass it runs unmasked.
    if ix < in_w:  # noqa: SIM102
        if iy < in_h and zl < planes:
            z = zl + first
            v = src[(z * in_h + iy) * in_w + ix]
            out_w = in_w * repeat_w
            at = (z * in_h + iy) * repeat_h * out_w + ix * repeat_w
            if repeat_h == 2:
                _repeat_row(dst, at, v, repeat_w)
                _repeat_row(dst, at + out_w, v, repeat_w)
            else:
                for a in range(repeat_h):
                    _repeat_row(dst, at + a * out_w, v, repeat_w)
