"""softmax: `exp(x - max) / sum(exp(x - max))` along the rows of `x` as `(outer, r, inner)`."""

import hologram as hg
from hologram.kernels.reduce._fold import EXP, MAX, SUM, fold


@hg.kernel(
    signatures=[
        {"x": hg.float32, "out": hg.float32, "compute": hg.float32, "stash": True},
        {"x": hg.float64, "out": hg.float64, "compute": hg.float64, "stash": True},
        {"x": hg.float16, "out": hg.float16, "compute": hg.float32, "stash": False},
        {"x": hg.bfloat16, "out": hg.bfloat16, "compute": hg.float32, "stash": False},
    ]
)
def softmax(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    inner: hg.uint32,
    compute: hg.Const[hg.dtype],
    stash: hg.Const[bool],
):
    """Lane `j < n` writes the softmax of row `(o, i)`, where `j = o * inner + i`: the `r`
    elements `inner` apart from `o * r * inner + i`, computed in `compute`.

    Subtracting the row maximum keeps exp from overflowing. With `stash` (only when `out`
    has the dtype `compute`) the exponentials are written to `out` and summed: for contiguous
    rows (`inner == 1`) in a loop of their own (which vectorises) and then from `out`, for
    strided rows as they are computed. Without `stash` they are summed as computed and
    computed again for the output, so that a narrower `out` is rounded once.
    """
    j = hg.uint32(hg.global_id())
    if j < n:
        o = j // inner
        step = hg.int64(inner)
        first = hg.int64(o) * r * step + (j - o * inner)
        top = fold(x, first, r, step, 0, compute, MAX)
        if stash:
            total = compute(0)
            if inner == 1:
                for k in range(hg.int64(r)):
                    out[first + k] = hg.exp(compute(x[first + k]) - top)
                total = fold(out, first, r, step, 0, compute, SUM)
            else:
                for k in range(hg.int64(r)):
                    e = hg.exp(compute(x[first + k * step]) - top)
                    out[first + k * step] = e
                    total += e
            scale = 1.0 / total
            for k in range(hg.int64(r)):
                out[first + k * step] = out[first + k * step] * scale
        else:
            scale = 1.0 / fold(x, first, r, step, top, compute, EXP)
            for k in range(hg.int64(r)):
                out[first + k * step] = hg.exp(compute(x[first + k * step]) - top) * scale
