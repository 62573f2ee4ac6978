"""layer_norm: `(x - mean) / sqrt(var + eps) * weight + bias` over contiguous rows of `x`."""

import hologram as hg
from hologram.kernels.reduce._fold import SQUARES, SUM, fold


@hg.kernel(
    signatures=[
        {"x": hg.float32, "weight": hg.float32, "bias": hg.float32, "out": hg.float32,
         "eps": hg.float32, "compute": hg.float32, "has_weight": True, "has_bias": True},
        {"x": hg.float32, "weight": hg.float32, "bias": hg.float32, "out": hg.float32,
         "eps": hg.float32, "compute": hg.float32, "has_weight": False, "has_bias": False},
    ]
)  # fmt: skip
def layer_norm(
    x: hg.Array,
    weight: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    eps: hg.Scalar,
    compute: hg.Const[hg.dtype],
    has_weight: hg.Const[bool],
    has_bias: hg.Const[bool],
):
    """Lane `j < n` normalises row `j`, the `r` elements from `j * r`, in `compute`: the
    mean, then the (biased) variance around it (two sweeps, for accuracy), then the output
    scaled by `weight[k]` and shifted by `bias[k]` (`r` elements each) where `has_weight`
    and `has_bias` say so; an absent one is never read, so any array will do for it."""
    j = hg.uint32(hg.global_id())
    if j < n:
        first = hg.int64(j) * r
        count = compute(r)
        mean = fold(x, first, r, 1, 0, compute, SUM) / count
        var = fold(x, first, r, 1, mean, compute, SQUARES) / count
        rstd = 1.0 / hg.sqrt(var + compute(eps))
        for k in range(hg.int64(r)):
            y = (compute(x[first + k]) - mean) * rstd
            if has_weight:
                y = y * compute(weight[k])
            if has_bias:
                y = y + compute(bias[k])
            out[first + k] = y
