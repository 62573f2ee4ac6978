"""Kernels whose JSON IR is kept in `golden/<name>.json` (see test_golden.py).

Edit with care: any change here changes the golden files (line numbers included).
"""

from __future__ import annotations

import hologram as hg

BLOCK = 64


@hg.kernel
def saxpy(a: hg.float32, x: hg.Array[hg.float32], y: hg.Array, out: hg.Array, n: hg.uint32):
    """out = a * x + y."""
    i = hg.global_id()
    if i < n:
        out[i] = a * x[i] + y[i]


@hg.func
def clamp(v, lo, hi):
    """v limited to [lo, hi]."""
    return hg.min(hg.max(v, lo), hi)


@hg.func
def first_at_least(x, n, threshold):
    """The first index k < n with x[k] >= threshold, or n."""
    for k in range(n):
        if x[k] >= threshold:
            return k
    return n


@hg.kernel
def clamp_shift(x: hg.Array, out: hg.Array, n: hg.int32, lo: hg.float32, hi: hg.float32):
    """out[i] = clamp(x[i]) + the first index whose value reaches hi."""
    i = hg.global_id()
    if i < n:
        out[i] = clamp(x[i], lo, hi) + first_at_least(x, n, hi)


@hg.kernel
def block_sums(x: hg.Array, partial: hg.Array, n: hg.uint32):
    """partial[b] = the sum of block b's elements, by a tree reduction in shared memory."""
    tile = hg.shared(BLOCK, x.dtype)
    lane = hg.lane_id()
    i = hg.global_id()
    tile[lane] = x[i] if i < n else x.dtype(0)
    hg.barrier()
    stride = BLOCK // 2
    while stride > 0:
        if lane < stride:
            tile[lane] += tile[lane + stride]
        hg.barrier()
        stride //= 2
    if lane == 0:
        partial[hg.block_id()] = tile[0]


@hg.kernel
def cast_scale(x: hg.Array, out: hg.Array, n: hg.int32, T: hg.Const[hg.dtype] = hg.float32,
               scale: hg.Const[float] = 0.5):  # fmt: skip
    """out[i] = T(x[i]) * scale, computed in T."""
    i = hg.global_id()
    if i < n:
        out[i] = T(x[i]) * T(scale)
