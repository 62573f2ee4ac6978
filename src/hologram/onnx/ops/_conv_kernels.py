"""The kernels of convolution (see `_convolve.py` for how they are put together).

- `onnx_im2col` writes the patch matrix, one lane per (group, patch row, image, run of output
  rows), copying along the output width (zeros where the window is in the padding);
- `onnx_conv_direct` convolves few-channel groups (depthwise) without one, one lane per run
  of output rows, adding each tap along the row;
- `onnx_conv_epilogue` adds the bias (and a residual input), applies the activation,
  converts, moves group-major results back to images first and, for QLinearConv,
  requantizes, one lane per element on a (row chunks, filters, images) grid;
- `onnx_conv_weights` converts the weights and subtracts their zero points.

Geometry travels in int64 tables (`Window.table3()` and what each kernel's docstring lists),
so one compiled kernel serves every shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hologram as hg

if TYPE_CHECKING:
    from hologram.compiler.context import OpContext

ROW_RUN = 512
"""Elements one im2col or direct-convolution lane writes, at least (whole output rows)."""

PLAIN = 0
QUANTIZE = 1

# Activations an epilogue applies after the bias and the residual (`ACTIVATIONS` by name).
NONE = 0
RELU = 1
CLIP = 2
SIGMOID = 3
SILU = 4
TANH = 5
LEAKY_RELU = 6
ACTIVATIONS = {
    "": NONE,
    "Relu": RELU,
    "Clip": CLIP,
    "Sigmoid": SIGMOID,
    "SiLU": SILU,
    "Tanh": TANH,
    "LeakyRelu": LEAKY_RELU,
}


def activation_attribute(ctx: OpContext) -> tuple[int, float, float]:
    """A fused node's `activation` attribute as its code (`ACTIVATIONS`) and its two
    parameters from `activation_params` (LeakyRelu's alpha; Clip's min and max; else 0)."""
    name = ctx.attr("activation", "")
    if name not in ACTIVATIONS:
        raise ctx.error(f"unknown activation {name!r}")
    params = [float(v) for v in ctx.attr("activation_params", [])]
    wanted = {"LeakyRelu": 1, "Clip": 2}.get(name, 0)
    if len(params) != wanted:
        raise ctx.error(f"activation {name} takes {wanted} parameters, got {params}")
    params += [0.0] * (2 - len(params))
    return ACTIVATIONS[name], params[0], params[1]


@hg.func
def onnx_conv_activation(v, act, low, high):
    """`v` through activation `act`: Clip limits it to [low, high], LeakyRelu scales the
    negatives by `low` (the same formulas as the unfused ops)."""
    # One return at the end: an early return inlines as a loop, which stops the caller's
    # loop from vectorising.
    r = v
    if act == RELU:
        r = max(v, 0)
    elif act == CLIP:
        r = min(max(v, low), high)
    elif act == SIGMOID:
        r = hg.sigmoid(v)
    elif act == SILU:
        r = v * hg.sigmoid(v)
    elif act == TANH:
        r = hg.tanh(v)
    elif act == LEAKY_RELU:
        r = v if v >= 0 else v * low
    return r


@hg.func
def onnx_row_low(start, stride, count):
    """The first `o` (at most `count`) with `o * stride + start >= 0`."""
    low = hg.int64(0)
    if start < 0:
        low = (stride - 1 - start) // stride
    return min(low, count)


@hg.func
def onnx_row_high(start, stride, extent, count, low):
    """One past the last `o < count` with `o * stride + start < extent` (at least `low`)."""
    high = hg.int64(0)
    if extent - 1 - start >= 0:
        high = (extent - 1 - start) // stride + 1
    return max(min(high, count), low)


@hg.kernel
def onnx_im2col(
    x: hg.Array,
    cols: hg.Array,
    zero: hg.Array,
    lanes: hg.int64,
    geo: hg.Array[hg.int64],
    shift: hg.Const[bool],
):
    """Lane j < lanes, j = (((g * rows + r) * N + n) * OD + od) * chunks + q, writes patch row
    r of group g for output rows oh in [q * chunk, (q + 1) * chunk) of plane od of image n: OW
    elements each, at `g * geo[25] + r * geo[26] + n * geo[27] + (od * OH + oh) * OW` of
    `cols`, converted to its dtype (less `zero[0]` with `shift`), from image `geo[30] + n` of
    `x`. `geo` is `Window.table3()`, then cg, groups, N, C, those three strides, chunks,
    chunk and the first image."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        in_d = geo[0]
        in_h = geo[7]
        in_w = geo[14]
        out_h = geo[12]
        out_w = geo[19]
        cg = geo[21]
        # Unsigned division: the lane's coordinates are never negative.
        k_d = hg.uint64(geo[1])
        k_h = hg.uint64(geo[8])
        k_w = hg.uint64(geo[15])
        chunks = hg.uint64(geo[28])
        rest = hg.uint64(j)
        q = rest % chunks
        rest = rest // chunks
        od = rest % hg.uint64(geo[5])
        rest = rest // hg.uint64(geo[5])
        n = rest % hg.uint64(geo[23])
        rest = rest // hg.uint64(geo[23])
        rows = hg.uint64(cg) * k_d * k_h * k_w
        r = rest % rows
        g = rest // rows
        kw = r % k_w
        rest = r // k_w
        kh = rest % k_h
        rest = rest // k_h
        kd = rest % k_d
        c = rest // k_d
        base = hg.int64(g) * geo[25] + hg.int64(r) * geo[26] + hg.int64(n) * geo[27]
        base += hg.int64(od) * out_h * out_w
        id_ = hg.int64(od) * geo[2] - geo[4] + hg.int64(kd) * geo[3]
        image = hg.int64(n) + geo[30]
        plane = ((image * geo[24] + hg.int64(g) * cg + hg.int64(c)) * in_d + id_) * in_h
        start = hg.int64(kw) * geo[17] - geo[18]
        step = geo[16]
        low = out_w
        high = out_w
        if step == 1:
            low = min(max(-start, 0), out_w)
            high = max(min(in_w - start, out_w), low)
        else:
            low = onnx_row_low(start, step, out_w)
            high = onnx_row_high(start, step, in_w, out_w, low)
        if id_ < 0 or id_ >= in_d:
            low = out_w
            high = out_w
        offset = cols.dtype(zero[0])
        first = hg.int64(q) * geo[29]
        for oh in range(first, min(first + geo[29], out_h)):
            dst = base + oh * out_w
            ih = oh * geo[9] - geo[11] + hg.int64(kh) * geo[10]
            row_low = low
            row_high = high
            if ih < 0 or ih >= in_h:
                row_low = out_w
                row_high = out_w
            src = (plane + ih) * in_w + start
            for ow in range(row_low):
                cols[dst + ow] = 0
            if shift:
                for ow in range(row_low, row_high):
                    cols[dst + ow] = cols.dtype(x[src + ow * step]) - offset
            elif step == 1:
                for ow in range(row_low, row_high):
                    cols[dst + ow] = x[src + ow]
            else:
                for ow in range(row_low, row_high):
                    cols[dst + ow] = x[src + ow * step]
            for ow in range(row_high, out_w):
                cols[dst + ow] = 0


@hg.kernel
def onnx_conv_direct(
    x: hg.Array,
    w: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    residual: hg.Array,
    lanes: hg.int64,
    geo: hg.Array[hg.int64],
    lower: hg.float64,
    upper: hg.float64,
    act: hg.Const[int],
    has_residual: hg.Const[bool],
):
    """Lane j < lanes, j = ((n * K + k) * OD + od) * chunks + q, writes output rows oh in
    [q * chunk, (q + 1) * chunk) of plane (n, k, od) of `out` (in its dtype): bias[k], then
    each tap of the window added along the rows, then (with `has_residual`) the same elements
    of `residual` and activation `act` with bounds `lower` and `upper`
    (`onnx_conv_activation`). `geo` is
    `Window.table3()`, then cg, kg, K, C, chunks and chunk."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        in_d = geo[0]
        k_d = geo[1]
        in_h = geo[7]
        k_h = geo[8]
        in_w = geo[14]
        k_w = geo[15]
        out_h = geo[12]
        out_w = geo[19]
        cg = geo[21]
        # Unsigned division: the lane's coordinates are never negative.
        chunks = hg.uint64(geo[25])
        rest = hg.uint64(j)
        q = rest % chunks
        rest = rest // chunks
        od = hg.int64(rest % hg.uint64(geo[5]))
        rest = rest // hg.uint64(geo[5])
        k = hg.int64(rest % hg.uint64(geo[23]))
        n = hg.int64(rest // hg.uint64(geo[23]))
        first = hg.int64(q) * geo[26]
        last = min(first + geo[26], out_h)
        plane = ((n * geo[23] + k) * geo[5] + od) * out_h * out_w
        b = out.dtype(bias[k])
        for i in range(plane + first * out_w, plane + last * out_w):
            out[i] = b
        step = geo[16]
        stride_d = geo[2]
        pad_d = geo[4]
        dilation_d = geo[3]
        stride_h = geo[9]
        pad_h = geo[11]
        dilation_h = geo[10]
        dilation_w = geo[17]
        pad_w = geo[18]
        group_first = (k // geo[22]) * cg
        for c in range(cg):
            for kd in range(k_d):
                id_ = od * stride_d - pad_d + kd * dilation_d
                if id_ >= 0 and id_ < in_d:
                    channel = ((n * geo[24] + group_first + c) * in_d + id_) * in_h
                    taps = ((k * cg + c) * k_d + kd) * k_h
                    for kw in range(k_w):
                        start = kw * dilation_w - pad_w
                        low = out_w
                        high = out_w
                        if step == 1:
                            low = min(max(-start, 0), out_w)
                            high = max(min(in_w - start, out_w), low)
                        else:
                            low = onnx_row_low(start, step, out_w)
                            high = onnx_row_high(start, step, in_w, out_w, low)
                        for kh in range(k_h):
                            weight = out.dtype(w[(taps + kh) * k_w + kw])
                            for oh in range(first, last):
                                ih = oh * stride_h - pad_h + kh * dilation_h
                                if ih >= 0 and ih < in_h:
                                    src = (channel + ih) * in_w + start
                                    dst = plane + oh * out_w
                                    if step == 1:
                                        for ow in range(low, high):
                                            out[dst + ow] += weight * x[src + ow]
                                    else:
                                        for ow in range(low, high):
                                            out[dst + ow] += weight * x[src + ow * step]
        if has_residual or act != NONE:
            lo = out.dtype(lower)
            hi = out.dtype(upper)
            for i in range(plane + first * out_w, plane + last * out_w):
                v = out[i]
                if has_residual:
                    v += out.dtype(residual[i])
                out[i] = onnx_conv_activation(v, act, lo, hi)


@hg.kernel
def onnx_conv_epilogue(
    acc: hg.Array,
    out: hg.Array,
    bias: hg.Array,
    scale: hg.Array,
    zero: hg.Array,
    residual: hg.Array,
    size: hg.int64,
    channels: hg.int64,
    image_stride: hg.int64,
    row_stride: hg.int64,
    first: hg.int64,
    lower: hg.float64,
    upper: hg.float64,
    mode: hg.Const[int],
    act: hg.Const[int],
    has_residual: hg.Const[bool],
    in_place: hg.Const[bool],
):
    """Lane (p, k) < (size, channels) of block (_, _, n) writes element p of row
    (first + n, k) of `out`, of `size` elements, from `acc` at
    `n * image_stride + k * row_stride + p`:
    `act(acc + bias[k] + residual)` (the residual, with `has_residual`, at the same place as
    the output; `act` with bounds `lower` and `upper` as in `onnx_conv_activation`), or with
    QUANTIZE `round((acc + bias[k]) * scale[k]) + zero[0]` (the store saturates). With
    `in_place`, `acc` is `out` itself at the same places and the kernel reads `out`."""
    # One lane per element, the row from the lane's y (a block holds several short rows): no
    # per-lane division, and the bounds check on the lane's x lets whole blocks run
    # vectorised. The geometry comes in scalars: addresses computed from loaded values
    # defeat the vectoriser.
    p = hg.int64(hg.global_id(0))
    k = hg.int64(hg.global_id(1))
    if p < size:  # noqa: SIM102
        if k < channels:
            n = hg.int64(hg.block_id(2))
            src = n * image_stride + k * row_stride + p
            dst = ((n + first) * channels + k) * size + p
            v = acc[src]
            if in_place:
                # The same array and index for the load and the store: two array arguments
                # over one buffer would fail the vectoriser's overlap check at run time.
                v = out[dst]
            v += acc.dtype(bias[k])
            if mode == 1:
                out[dst] = hg.round(v * acc.dtype(scale[k])) + acc.dtype(zero[0])
            else:
                if has_residual:
                    v += acc.dtype(residual[dst])
                out[dst] = onnx_conv_activation(v, act, acc.dtype(lower), acc.dtype(upper))


@hg.kernel
def onnx_conv_weights(
    w: hg.Array,
    out: hg.Array,
    zero: hg.Array,
    total: hg.int64,
    per_channel: hg.int64,
    zero_count: hg.int64,
):
    """out[i] = w[i] - zero[k] in out's dtype, for i < total in output channel k =
    i // per_channel (zero[0] for every channel when zero_count is 1)."""
    i = hg.int64(hg.global_id())
    if i < total:
        k = i // per_channel
        if zero_count == 1:
            k = hg.int64(0)
        out[i] = out.dtype(w[i]) - out.dtype(zero[k])
