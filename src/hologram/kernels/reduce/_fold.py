"""Folding runs of elements into one value: the loops every row kernel is built on.

`fold(x, first, count, step, center, acc, op)` combines `x[first + k * step]` for `k` in
`[0, count)`, converted to the dtype `acc`, with the operation `op`:

    SUM      x0 + x1 + ...                      MIN, MAX   the smallest, the largest (NaN wins)
    SQUARES  (x0 - center)**2 + ...             EXP        exp(x0 - center) + ...
    MEAN     folds as SUM; `finish` divides the result by a count

For floats, eight partial results, each over every eighth element, are combined pairwise at
the end: the eight chains are independent, so a CPU overlaps them and packs them into vector
instructions instead of waiting on one long chain of dependent additions (which it may not
reorder, as that would change the rounding). For integers, where any order gives the same
result, a plain loop lets LLVM choose. MIN and MAX start from the first element (they have no
identity); an empty run gives 0 for every op.

`reduce_chunk` is one lane of the `reduce/` kernels; `fold_columns` folds eight side-by-side
runs at once, reading eight adjacent elements at a time.
"""

import hologram as hg

SUM = 0
MIN = 1
MAX = 2
SQUARES = 3
EXP = 4
MEAN = 5

DEVICE_SIGNATURES = [
    {"x": hg.float32, "out": hg.float32, "count": hg.float32, "acc": hg.float32, "op": SUM},
    {"x": hg.float32, "out": hg.float32, "count": hg.float32, "acc": hg.float32, "op": MAX},
    {"x": hg.float32, "out": hg.float32, "count": hg.float32, "acc": hg.float32, "op": MEAN},
    {"x": hg.int32, "out": hg.int64, "count": hg.int64, "acc": hg.int64, "op": SUM},
]
"""The specialisations the device reduction kernels (`kernels/device/`) build ahead of time."""


@hg.func
def term(v, center, op):
    """The value `op` folds for element `v`: `v`, `(v - center)**2` or `exp(v - center)`."""
    if op == SQUARES:
        d = v - center
        return d * d
    elif op == EXP:
        return hg.exp(v - center)
    else:
        return v


@hg.func
def combine(a, b, op):
    """Two partial results of `op` as one."""
    if op == MIN:
        return min(a, b)
    elif op == MAX:
        return max(a, b)
    else:
        return a + b


@hg.func
def fold(x, first, count, step, center, acc, op):
    """`op` over `x[first + k * step]` for `k < count`, in dtype `acc` (see the module doc).

    `first` and `step` are i64 (so that the element index of each partial is a plain linear
    function of the loop counter, which is what lets LLVM vectorise), `count` is unsigned.
    """
    t0 = acc(0)
    # Min and max have no identity to start from: they start from an element. (`op in (...)`
    # would read better, but kernels have no tuples.)
    if (op == MIN or op == MAX) and count > 0:  # noqa: SIM109
        t0 = acc(x[first])
    if acc(0.5) == 0:
        # Integers (0.5 converts to 0 at compile time only for them): any order of combining
        # gives the same result, so LLVM vectorises this plain loop by itself.
        for k in range(hg.int64(count)):
            t0 = combine(t0, term(acc(x[first + k * step]), center, op), op)
    else:
        groups = hg.int64(count // 8)
        if groups > 0:  # short runs skip the partials, and the combining of them
            t1 = t0
            t2 = t0
            t3 = t0
            t4 = t0
            t5 = t0
            t6 = t0
            t7 = t0
            for g in range(groups):
                p = first + g * 8 * step
                t0 = combine(t0, term(acc(x[p]), center, op), op)
                t1 = combine(t1, term(acc(x[p + step]), center, op), op)
                t2 = combine(t2, term(acc(x[p + 2 * step]), center, op), op)
                t3 = combine(t3, term(acc(x[p + 3 * step]), center, op), op)
                t4 = combine(t4, term(acc(x[p + 4 * step]), center, op), op)
                t5 = combine(t5, term(acc(x[p + 5 * step]), center, op), op)
                t6 = combine(t6, term(acc(x[p + 6 * step]), center, op), op)
                t7 = combine(t7, term(acc(x[p + 7 * step]), center, op), op)
            low = combine(combine(t0, t1, op), combine(t2, t3, op), op)
            high = combine(combine(t4, t5, op), combine(t6, t7, op), op)
            t0 = combine(low, high, op)
        for k in range(groups * 8, hg.int64(count)):
            t0 = combine(t0, term(acc(x[first + k * step]), center, op), op)
    return t0


@hg.func
def finish(value, count, op):
    """The result of `op` from its fold: MEAN divides by `count`, the others keep it."""
    if op == MEAN:
        return value / count
    else:
        return value


@hg.func
def reduce_chunk(x, out, j, r, inner, chunk, chunks, count, acc, op, columns):
    """Lane `j`'s share of reducing `x` viewed as `(outer, r, inner)` into `out` viewed as
    `(outer, chunks, inner)`: `out[o, c, i]` is `op` over chunk `c` of row `(o, i)`, its
    elements `[c * chunk, (c + 1) * chunk)` clipped to `r`.

    Without `columns`, lane `j = (o * chunks + c) * inner + i` does row `(o, i)`. With
    `columns`, lane `j = (o * chunks + c) * ceil(inner / 8) + g` does rows `(o, 8g)` to
    `(o, 8g + 7)` (fewer in the last group), which lie side by side in memory: it reads eight
    adjacent elements at a time, which suits a reduction over a leading axis (large `inner`).
    """
    if columns:
        groups = (inner + 7) // 8
        t = j // groups
        i = (j - t * groups) * 8
    else:
        t = j // inner
        i = j - t * inner
    o = t // chunks
    c = t - o * chunks
    start = c * chunk
    stop = min(start + chunk, r)
    step = hg.int64(inner)
    first = (hg.int64(o) * r + start) * step + i
    target = hg.int64(t) * step + i
    if not columns:
        out[target] = finish(fold(x, first, stop - start, step, 0, acc, op), acc(count), op)
    elif i + 8 <= inner:
        fold_columns(x, out, first, stop - start, step, target, acc(count), acc, op)
    else:
        for v in range(hg.int64(inner - i)):
            value = fold(x, first + v, stop - start, step, 0, acc, op)
            out[target + v] = finish(value, acc(count), op)


@hg.func
def fold_columns(x, out, first, count, step, target, total, acc, op):
    """`op` over `x[first + v + k * step]` for `k < count`, for each column `v < 8`, written
    to `out[target + v]` (through `finish` with `total`): eight independent chains whose
    loads are adjacent."""
    t0 = acc(0)
    t1 = acc(0)
    t2 = acc(0)
    t3 = acc(0)
    t4 = acc(0)
    t5 = acc(0)
    t6 = acc(0)
    t7 = acc(0)
    if (op == MIN or op == MAX) and count > 0:  # noqa: SIM109 (see fold)
        t0 = acc(x[first])
        t1 = acc(x[first + 1])
        t2 = acc(x[first + 2])
        t3 = acc(x[first + 3])
        t4 = acc(x[first + 4])
        t5 = acc(x[first + 5])
        t6 = acc(x[first + 6])
        t7 = acc(x[first + 7])
    for k in range(hg.int64(count)):
        p = first + k * step
        t0 = combine(t0, acc(x[p]), op)
        t1 = combine(t1, acc(x[p + 1]), op)
        t2 = combine(t2, acc(x[p + 2]), op)
        t3 = combine(t3, acc(x[p + 3]), op)
        t4 = combine(t4, acc(x[p + 4]), op)
        t5 = combine(t5, acc(x[p + 5]), op)
        t6 = combine(t6, acc(x[p + 6]), op)
        t7 = combine(t7, acc(x[p + 7]), op)
    out[target] = finish(t0, total, op)
    out[target + 1] = finish(t1, total, op)
    out[target + 2] = finish(t2, total, op)
    out[target + 3] = finish(t3, total, op)
    out[target + 4] = finish(t4, total, op)
    out[target + 5] = finish(t5, total, op)
    out[target + 6] = finish(t6, total, op)
    out[target + 7] = finish(t7, total, op)
