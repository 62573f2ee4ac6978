"""NonMaxSuppression (opsets 10 and 11): greedy box selection per batch and class.

For each (batch, class), boxes are visited from the highest score down (ties: lower index
first), skipping scores not above `score_threshold` when it is given; a box is kept unless
its IoU with a box already kept exceeds `iou_threshold`, until `max_output_boxes_per_class`
are kept. The output lists `[batch, class, box]` of the kept boxes, batch by batch, class by
class, in the order they were kept.

The number of rows depends on the data: one launch selects (one lane per batch and class),
one adds up the counts, and the output is declared once the total is read back.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_nms_overlaps(boxes, a, b, center, threshold, compute):
    """Whether boxes `a` and `b` (element offsets into `boxes`) overlap by an IoU above
    `threshold`; corners `(y1, x1, y2, x2)` in any order, or `(x, y, w, h)` with
    `center`."""
    ax0 = compute(boxes[a + 1])
    ax1 = compute(boxes[a + 3])
    ay0 = compute(boxes[a])
    ay1 = compute(boxes[a + 2])
    bx0 = compute(boxes[b + 1])
    bx1 = compute(boxes[b + 3])
    by0 = compute(boxes[b])
    by1 = compute(boxes[b + 2])
    if center:
        ax0 = compute(boxes[a]) - compute(boxes[a + 2]) / 2
        ax1 = compute(boxes[a]) + compute(boxes[a + 2]) / 2
        ay0 = compute(boxes[a + 1]) - compute(boxes[a + 3]) / 2
        ay1 = compute(boxes[a + 1]) + compute(boxes[a + 3]) / 2
        bx0 = compute(boxes[b]) - compute(boxes[b + 2]) / 2
        bx1 = compute(boxes[b]) + compute(boxes[b + 2]) / 2
        by0 = compute(boxes[b + 1]) - compute(boxes[b + 3]) / 2
        by1 = compute(boxes[b + 1]) + compute(boxes[b + 3]) / 2
    else:
        low = min(ax0, ax1)
        ax1 = max(ax0, ax1)
        ax0 = low
        low = min(ay0, ay1)
        ay1 = max(ay0, ay1)
        ay0 = low
        low = min(bx0, bx1)
        bx1 = max(bx0, bx1)
        bx0 = low
        low = min(by0, by1)
        by1 = max(by0, by1)
        by0 = low
    ix = min(ax1, bx1) - max(ax0, bx0)
    iy = min(ay1, by1) - max(ay0, by0)
    result = False
    if ix > 0 and iy > 0:
        inter = ix * iy
        area_a = (ax1 - ax0) * (ay1 - ay0)
        area_b = (bx1 - bx0) * (by1 - by0)
        union = area_a + area_b - inter
        if inter > 0 and area_a > 0 and area_b > 0 and union > 0:
            result = inter / union > threshold
    return result


@hg.kernel
def onnx_nms_select(
    boxes: hg.Array,
    scores: hg.Array,
    limits: hg.Array,
    iou: hg.Array,
    floor: hg.Array,
    done: hg.Array[hg.bool_],
    kept: hg.Array[hg.int64],
    counts: hg.Array[hg.int64],
    pairs: hg.int64,
    classes: hg.int64,
    count: hg.int64,
    compute: hg.Const[hg.dtype],
    center: hg.Const[bool],
    has_limit: hg.Const[bool],
    has_iou: hg.Const[bool],
    has_floor: hg.Const[bool],
):
    """Lane `p < pairs` (batch `p // classes`, class `p % classes`) keeps its boxes in
    `kept[p * count:]` and their number in `counts[p]`; `done` marks the visited boxes."""
    p = hg.int64(hg.global_id())
    if p < pairs:
        batch = p // classes
        row = p * count
        limit = hg.int64(0)
        if has_limit:
            limit = max(hg.int64(limits[0]), 0)
        threshold = compute(0)
        if has_iou:
            threshold = compute(iou[0])
        for j in range(count):
            done[row + j] = False
        selected = hg.int64(0)
        while selected < limit:
            best = hg.int64(-1)
            best_score = compute(0)
            for j in range(count):
                s = compute(scores[row + j])
                eligible = not done[row + j] and (not has_floor or s > compute(floor[0]))
                if eligible and (best < 0 or s > best_score):
                    best = j
                    best_score = s
            if best < 0:
                break
            done[row + best] = True
            keep = True
            for k in range(selected):
                other = kept[row + k]
                if onnx_nms_overlaps(
                    boxes, (batch * count + best) * 4, (batch * count + other) * 4, center,
                    threshold, compute,
                ):  # fmt: skip
                    keep = False
                    break
            if keep:
                kept[row + selected] = best
                selected += 1
        counts[p] = selected


@hg.kernel
def onnx_nms_offsets(
    counts: hg.Array[hg.int64],
    offsets: hg.Array[hg.int64],
    total: hg.Array[hg.int64],
    pairs: hg.int64,
):
    """One lane writes the running totals of `counts` to `offsets`, and their sum to
    `total[0]`."""
    if hg.global_id() == 0:
        running = hg.int64(0)
        for p in range(pairs):
            offsets[p] = running
            running += counts[p]
        total[0] = running


@hg.kernel
def onnx_nms_gather(
    kept: hg.Array[hg.int64],
    counts: hg.Array[hg.int64],
    offsets: hg.Array[hg.int64],
    out: hg.Array[hg.int64],
    pairs: hg.int64,
    classes: hg.int64,
    count: hg.int64,
):
    """Lane `p < pairs` writes its kept boxes as `[batch, class, box]` rows from row
    `offsets[p]`."""
    p = hg.int64(hg.global_id())
    if p < pairs:
        first = offsets[p]
        for k in range(counts[p]):
            out[(first + k) * 3] = p // classes
            out[(first + k) * 3 + 1] = p % classes
            out[(first + k) * 3 + 2] = kept[p * count + k]


@onnx_op("NonMaxSuppression", since=10)
def non_max_suppression(ctx: OpContext) -> None:
    """Select boxes (see the module docstring)."""
    boxes, scores = ctx.input(0), ctx.input(1)
    if boxes.rank != 3 or boxes.shape[2] != 4 or scores.rank != 3:
        raise ctx.error(f"boxes {boxes.shape} and scores {scores.shape} must be 3-D")
    batches, classes, count = scores.shape
    if boxes.shape[:2] != (batches, count):
        raise ctx.error(f"boxes {boxes.shape} do not fit scores {scores.shape}")
    if boxes.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"takes float boxes, got {types.elem_name(boxes.elem)}")
    optional = [ctx.optional_input(i) for i in (2, 3, 4)]
    present = [ref is not None and ref.size > 0 for ref in optional]
    dummy = ctx.constant(np.zeros(1, np.float32))
    limit, iou, floor = (ref if ok else dummy for ref, ok in zip(optional, present, strict=True))
    pairs = batches * classes
    if pairs * count == 0 or not present[0]:
        ctx.output(0, (0, 3), types.INT64)
        return
    done = ctx.scratch((pairs, count), types.BOOL)
    kept = ctx.scratch((pairs, count), types.INT64)
    counts = ctx.scratch((pairs,), types.INT64)
    grid = math.ceil(pairs / 64)
    ctx.launch(
        onnx_nms_select,
        grid,
        64,
        [boxes, scores, limit, iou, floor, done, kept, counts, pairs, classes, count]
        + [widened(boxes.dtype), bool(ctx.attr("center_point_box", 0)), *present],
    )
    offsets = ctx.scratch((pairs,), types.INT64)
    total_ref = ctx.scratch((1,), types.INT64)
    ctx.launch(onnx_nms_offsets, 1, 1, [counts, offsets, total_ref, pairs])
    total = int(np.asarray(ctx.value(total_ref)).reshape(-1)[0])
    out = ctx.output(0, (total, 3), types.INT64)
    if total:
        ctx.launch(onnx_nms_gather, grid, 64, [kept, counts, offsets, out, pairs, classes, count])
