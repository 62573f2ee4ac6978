"""TfIdfVectorizer: count the n-grams of a pool in each row of integers, then weight them.

The pool (`pool_int64s`) holds n-grams grouped by length: `ngram_counts[k]` is where the
(k+1)-grams start. Pool n-gram `j` counts into output column `ngram_indexes[j]`; only
lengths from `min_gram_length` to `max_gram_length` count. An n-gram of length 2 or more is
counted at every item distance `d` from 1 to `max_skip_count + 1` (`x[s], x[s+d], ...`), a
1-gram once. The mode turns the count `c` of pool n-gram `j` into `c` (TF), `weights[j]` when
`c > 0` (IDF) or `c * weights[j]` (TFIDF), summed over the n-grams of a column; without
weights, every weight is 1. A counted n-gram may be listed only once. String pools cannot be
computed with.

While planning, the pool becomes a table of the n-grams of each output column; one lane
counts one column of one row.
"""

from __future__ import annotations

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op

BLOCK = 256
_MODES = {"TF": 0, "IDF": 1, "TFIDF": 2}


@hg.kernel
def onnx_tfidf_count(
    x: hg.Array,
    pool: hg.Array[hg.int64],
    grams: hg.Array[hg.int32],
    columns: hg.Array[hg.int32],
    weights: hg.Array[hg.float32],
    out: hg.Array[hg.float32],
    n: hg.uint32,
    width: hg.int32,
    row_size: hg.int32,
    skips: hg.int32,
    mode: hg.Const[int] = 0,
):
    """Lane `i < n` of `out` viewed as `(rows, width)` at `(r, k)` counts the n-grams
    `columns[k]` to `columns[k + 1]` of `grams` (pairs: pool offset, length; `weights` has
    one per n-gram) in row `r` of `x` (`row_size` items) and weights the counts (see the
    module docstring)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        row = hg.int32(i // width)
        column = hg.int32(i) - row * width
        base = row * row_size
        total = hg.float32(0.0)
        for g in range(columns[column], columns[column + 1]):
            count = 0
            start = grams[2 * g]
            length = grams[2 * g + 1]
            distances = 1 if length == 1 else skips + 1
            for d in range(1, distances + 1):
                for s in range(row_size - (length - 1) * d):
                    k = 0
                    while k < length and hg.int64(x[base + s + k * d]) == pool[start + k]:
                        k += 1
                    if k == length:
                        count += 1
            if mode == 0:
                total += hg.float32(count)
            elif mode == 1:
                total += weights[g] if count > 0 else 0.0
            else:
                total += hg.float32(count) * weights[g]
        out[i] = total


@onnx_op("TfIdfVectorizer", since=9)
def tf_idf_vectorizer(ctx: OpContext) -> None:
    """Integer input `[C]` or `[B, C]`; float output `[W]` or `[B, W]`, `W` the largest
    `ngram_indexes` entry plus one."""
    x = ctx.input(0)
    if x.elem == types.STRING or "pool_strings" in ctx.node.attrs:
        raise ctx.unsupported("string n-grams cannot be computed with")
    if x.elem not in (types.INT32, types.INT64):
        raise ctx.error(f"input must be int32 or int64, got {types.elem_name(x.elem)}")
    if x.rank > 2:
        raise ctx.error(f"input must have shape [C] or [B, C], got {list(x.shape)}")
    mode = ctx.attr("mode")
    if mode not in _MODES:
        raise ctx.error(f"mode must be TF, IDF or TFIDF, got {mode!r}")
    indexes = [int(v) for v in ctx.attr("ngram_indexes")]
    if not indexes or min(indexes) < 0:
        raise ctx.error("ngram_indexes must be non-empty and non-negative")
    width = max(indexes) + 1
    weights = np.asarray(ctx.attr("weights", [1.0] * len(indexes)), np.float32)
    if weights.size < len(indexes):
        raise ctx.error(f"weights has {weights.size} entries for {len(indexes)} n-grams")
    rows, row_size = (x.shape[0], x.shape[1]) if x.rank == 2 else (1, x.size)
    out = ctx.output(0, [x.shape[0], width] if x.rank == 2 else [width], types.FLOAT)
    if out.size == 0:
        return
    pool = np.asarray(ctx.attr("pool_int64s"), np.int64)
    grams, gram_weights, columns = _gram_table(ctx, pool, indexes, weights, width)
    args = [
        x,
        ctx.constant(pool if pool.size else np.zeros(1, np.int64)),
        ctx.constant(grams),
        ctx.constant(columns),
        ctx.constant(gram_weights),
        out,
        out.size,
        width,
        row_size,
        int(ctx.attr("max_skip_count")),
        _MODES[mode],
    ]
    ctx.launch(onnx_tfidf_count, hg.blocks(rows * width, BLOCK), BLOCK, args)


def _gram_table(
    ctx: OpContext, pool: np.ndarray, indexes: list[int], weights: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The counted n-grams as (pool offset, length) pairs grouped by output column, their
    weights, and each column's first pair (one more entry: the end)."""
    counts = [int(v) for v in ctx.attr("ngram_counts")]
    shortest, longest = int(ctx.attr("min_gram_length")), int(ctx.attr("max_gram_length"))
    if ctx.attr("max_skip_count") < 0 or not 1 <= shortest <= longest:
        raise ctx.error("needs max_skip_count >= 0 and 1 <= min_gram_length <= max_gram_length")
    if counts != sorted(counts) or (counts and (counts[0] < 0 or counts[-1] > pool.size)):
        raise ctx.error("ngram_counts must be ascending offsets into the pool")
    listed: dict[tuple[int, ...], tuple[int, int, int, float]] = {}
    number = 0
    for k, begin in enumerate(counts):
        length = k + 1
        end = counts[k + 1] if k + 1 < len(counts) else pool.size
        for start in range(begin, end - length + 1, length):
            if number >= len(indexes):
                raise ctx.error(f"the pool has more n-grams than ngram_indexes ({len(indexes)})")
            if shortest <= length <= longest:
                gram = tuple(int(v) for v in pool[start : start + length])
                if gram in listed:
                    raise ctx.error(f"the n-gram {list(gram)} is listed twice in the pool")
                listed[gram] = (indexes[number], start, length, float(weights[number]))
            number += 1
    by_column: list[list[tuple[int, int, float]]] = [[] for _ in range(width)]
    for column, start, length, weight in listed.values():
        by_column[column].append((start, length, weight))
    entries = [entry for column in by_column for entry in column] or [(0, 0, 0.0)]
    columns = np.cumsum([0, *(len(column) for column in by_column)]).astype(np.int32)
    grams = np.asarray([(start, length) for start, length, _ in entries], np.int32)
    gram_weights = np.asarray([weight for _, _, weight in entries], np.float32)
    return grams.reshape(-1), gram_weights, columns
