"""Pooling kernels: sliding windows (MaxPool, AveragePool, LpPool) and whole planes
(GlobalMaxPool, GlobalAveragePool, GlobalLpPool).

`onnx_pool_rows` runs one lane per output row (image and channel, output plane and row):
each tap of the window updates the running max or sum of the whole row, so the inner loop
runs along contiguous output (and, at stride 1, input) elements. Only window positions inside
the input take part (padding counts only in the divisor of AveragePool with
`count_include_pad`). Windows are 3-D (`Window.table3()`), so one kernel serves 1-D to 3-D
pooling. `onnx_max_pool_indices` serves MaxPool's Indices output, element by element: the
flat position of the first maximum in the whole input, row-major or, with `storage_order` 1,
with the spatial axes column-major.

MaxPool and AveragePool of float32 and float64 over 1-D and 2-D windows without the Indices
output run `onnx_pool_padded` instead (`_pool_padded.py`).

`onnx_global_pool` folds one contiguous plane per lane with the standard library's `fold`
(eight independent partial results, so the loop vectorises).
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.kernels.reduce._fold import MAX, SQUARES, SUM, fold
from hologram.onnx.ops._conv_kernels import onnx_row_high, onnx_row_low
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.ops._nn_geometry import Window
from hologram.onnx.ops._nn_kernels import BLOCK, convert, gather
from hologram.onnx.ops._pool_padded import launch_padded_pool, padded_pool_applies

MAX_POOL = 0
AVERAGE_POOL = 1
LP_POOL = 2


@hg.kernel
def onnx_max_pool_indices(
    x: hg.Array,
    out: hg.Array,
    indices: hg.Array,
    lanes: hg.int64,
    geo: hg.Array[hg.int64],
):
    """Lane j < lanes, j = (nc * OD + od) * OH + oh, writes output row (nc, od, oh) of
    MaxPool: each element's window maximum (the first NaN wins, as in `max`) and its flat
    position in x. `geo` is `Window.table3()`, then storage_order (1: the spatial axes
    column-major in the positions)."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        in_d = geo[0]
        in_h = geo[7]
        in_w = geo[14]
        out_h = hg.uint64(geo[12])
        out_d = hg.uint64(geo[5])
        out_w = geo[19]
        rest = hg.uint64(j)
        oh = hg.int64(rest % out_h)
        rest = rest // out_h
        od = hg.int64(rest % out_d)
        nc = hg.int64(rest // out_d)
        base = nc * in_d * in_h * in_w
        for ow in range(out_w):
            best = x[base]
            best_at = hg.int64(-1)
            for kd in range(geo[1]):
                id_ = od * geo[2] - geo[4] + kd * geo[3]
                for kh in range(geo[8]):
                    ih = oh * geo[9] - geo[11] + kh * geo[10]
                    for kw in range(geo[15]):
                        iw = ow * geo[16] - geo[18] + kw * geo[17]
                        inside = id_ >= 0 and id_ < in_d and ih >= 0 and ih < in_h
                        if inside and iw >= 0 and iw < in_w:
                            at = ((nc * in_d + id_) * in_h + ih) * in_w + iw
                            v = x[at]
                            if best_at < 0 or v > best or (v != v and best == best):
                                best = v
                                best_at = at
                                if geo[21] != 0:
                                    best_at = base + id_ + (ih + iw * in_h) * in_d
            out[j * out_w + ow] = best
            indices[j * out_w + ow] = best_at


@hg.func
def onnx_pool_step(total, v, power, mode):
    """A window's running max or sum `total` after element `v`."""
    if mode == 0:
        return max(total, v)
    elif mode == 1:
        return total + v
    elif power == 2.0:
        return total + v * v
    else:
        return total + hg.pow(abs(v), power)


@hg.kernel
def onnx_pool_rows(
    x: hg.Array,
    out: hg.Array,
    counts: hg.Array,
    lanes: hg.int64,
    geo: hg.Array[hg.int64],
    power: hg.float64,
    mode: hg.Const[int],
):
    """Lane j < lanes, j = (nc * OD + od) * OH + oh, writes output row (nc, od, oh): per
    element the max, the average (the sum over `counts[(od * OH + oh) * OW + ow]`) or the Lp
    norm (`power`) of its window, by `mode`, tap by tap along the whole row: each tap updates
    the row's running max or sum in `out` (float32 or float64). `geo` is
    `Window.table3()`."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        in_d = geo[0]
        in_h = geo[7]
        in_w = geo[14]
        out_h = hg.uint64(geo[12])
        out_d = hg.uint64(geo[5])
        out_w = geo[19]
        step = geo[16]
        rest = hg.uint64(j)
        oh = hg.int64(rest % out_h)
        rest = rest // out_h
        od = hg.int64(rest % out_d)
        nc = hg.int64(rest // out_d)
        dst = j * out_w
        for ow in range(out_w):
            out[dst + ow] = -math.inf if mode == 0 else 0
        for kd in range(geo[1]):
            id_ = od * geo[2] - geo[4] + kd * geo[3]
            for kh in range(geo[8]):
                ih = oh * geo[9] - geo[11] + kh * geo[10]
                if id_ >= 0 and id_ < in_d and ih >= 0 and ih < in_h:
                    row = ((nc * in_d + id_) * in_h + ih) * in_w
                    for kw in range(geo[15]):
                        start = kw * geo[17] - geo[18]
                        low = onnx_row_low(start, step, out_w)
                        high = onnx_row_high(start, step, in_w, out_w, low)
                        src = row + start
                        if step == 1:
                            for ow in range(low, high):
                                v = x[src + ow]
                                out[dst + ow] = onnx_pool_step(out[dst + ow], v, power, mode)
                        else:
                            for ow in range(low, high):
                                v = x[src + ow * step]
                                out[dst + ow] = onnx_pool_step(out[dst + ow], v, power, mode)
        if mode == 1:
            first = hg.int64(od * out_h + oh) * out_w
            for ow in range(out_w):
                out[dst + ow] = out[dst + ow] / counts[first + ow]
        elif mode == 2:
            for ow in range(out_w):
                if power == 2.0:
                    out[dst + ow] = hg.sqrt(out[dst + ow])
                else:
                    out[dst + ow] = hg.pow(out[dst + ow], 1.0 / power)


def window_counts(win: Window, include_pad: bool) -> np.ndarray:
    """AveragePool's divisor of every output position (OD x OH x OW, flat): the window taps
    inside the input, or with `include_pad` inside the padded input (not past it, where ceil
    mode lets the last window reach)."""
    table = np.array(win.table3(), np.int64).reshape(3, 7)
    per_axis = []
    for extent, kernel, stride, dilation, begin, out, end in table:
        starts = np.arange(out)[:, None] * stride - begin + np.arange(kernel)[None, :] * dilation
        low, high = (-begin, extent + end) if include_pad else (0, extent)
        per_axis.append(((starts >= low) & (starts < high)).sum(axis=1))
    counts = per_axis[0][:, None, None] * per_axis[1][None, :, None] * per_axis[2][None, None, :]
    return np.maximum(counts, 1).reshape(-1)


def launch_pool(
    ctx: OpContext,
    x: TensorRef,
    out: TensorRef,
    win: Window,
    mode: int,
    indices: TensorRef | None = None,
    include_pad: bool = False,
    power: float = 2.0,
    column_major: bool = False,
) -> None:
    """Fill `out` (N, C, *win.out) by pooling `x` over `win` (and `indices` for MaxPool).

    Without indices, types other than float32 and float64 pool through float32 copies (exact
    for the max, and the sums of narrow floats want float32 anyway), so that one compiled
    kernel per mode serves them all.
    """
    if out.size == 0:
        return
    lanes = out.size // win.out[-1]
    if indices is not None:
        geo = ctx.constant(np.array([*win.table3(), int(column_major)], np.int64))
        args = [x, out, indices, lanes, geo]
        ctx.launch(onnx_max_pool_indices, hg.blocks(lanes, BLOCK), BLOCK, args)
        return
    divisors = window_counts(win, include_pad) if mode == AVERAGE_POOL else np.ones(1)
    if padded_pool_applies(x, win, mode):
        launch_padded_pool(ctx, x, out, win, mode, divisors)
        return
    geo = ctx.constant(np.array(win.table3(), np.int64))
    exact = x.elem in (types.FLOAT, types.DOUBLE)
    elem = x.elem if exact else types.FLOAT
    source = x if exact else convert(ctx, x, types.FLOAT)
    result = out if exact else ctx.scratch(out.shape, types.FLOAT)
    counts = ctx.constant(divisors.astype(types.storage_dtype(elem).numpy), elem)
    args = [source, result, counts, lanes, geo, float(power), mode]
    ctx.launch(onnx_pool_rows, hg.blocks(lanes, BLOCK), BLOCK, args)
    if not exact:
        gather(ctx, result, out, [out.size], [1])


@hg.kernel
def onnx_global_pool(
    x: hg.Array,
    out: hg.Array,
    planes: hg.int64,
    size: hg.int64,
    power: hg.float64,
    mode: hg.Const[int],
    acc: hg.Const[hg.dtype],
):
    """Lane j < planes writes out[j]: the max, mean or Lp norm (`power`) of the `size`
    elements of plane j, by `mode`."""
    j = hg.int64(hg.global_id())
    if j < planes:
        first = j * size
        count = hg.uint64(size)
        if mode == 0:
            out[j] = fold(x, first, count, hg.int64(1), 0, acc, MAX)
        elif mode == 1:
            out[j] = fold(x, first, count, hg.int64(1), 0, acc, SUM) / acc(size)
        elif power == 2.0:
            out[j] = hg.sqrt(fold(x, first, count, hg.int64(1), 0, acc, SQUARES))
        else:
            total = acc(0)
            for k in range(size):
                total += hg.pow(abs(acc(x[first + k])), acc(power))
            out[j] = hg.pow(total, acc(1.0 / power))


def global_pool(ctx: OpContext, mode: int, power: float = 2.0) -> None:
    """The Global*Pool node: input 0 (N, C, *spatial) to output 0 (N, C, 1, ...)."""
    x = ctx.input(0)
    if x.rank < 3:
        raise ctx.error(f"X must be N x C x spatial, got shape {x.shape}")
    if x.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"{ctx.op_type} of {types.elem_name(x.elem)} tensors")
    out = ctx.output(0, (*x.shape[:2], *([1] * (x.rank - 2))), x.elem)
    size = x.size // max(out.size, 1)
    if out.size == 0 or size == 0:
        return
    args = [x, out, out.size, size, float(power), mode, widened(x.dtype)]
    ctx.launch(onnx_global_pool, hg.blocks(out.size, BLOCK), BLOCK, args)
