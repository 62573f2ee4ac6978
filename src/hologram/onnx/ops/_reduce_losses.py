"""The negative log-likelihood loss that NegativeLogLikelihoodLoss and
SoftmaxCrossEntropyLoss share.

Over log-probabilities `(N, C, d1, ...)` and targets `(N, d1, ...)`, each position's loss is
`-logp[n, t, d] * w[t]`, where `t` is its target and `w` the optional class weights (1
without them); a target equal to `ignore_index`, or outside `[0, C)`, gives loss 0 and weight
0. `reduction` `none` returns the losses; `sum` their sum; `mean` their sum divided by the sum
of the weights (the count of positions not ignored, without weights). The sums accumulate in
f32 for f16 and bf16.
"""

from __future__ import annotations

import math

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.ops._reduce_kernels import accumulator, launch_reduce

BLOCK = 256
"""Lanes per block of every launch here."""

REDUCTIONS = ("none", "sum", "mean")


@hg.kernel
def onnx_nll_terms(
    logp: hg.Array,
    target: hg.Array,
    weight: hg.Array,
    loss: hg.Array,
    weights: hg.Array,
    n: hg.uint32,
    classes: hg.int64,
    inner: hg.uint32,
    ignore: hg.int64,
    compute: hg.Const[hg.dtype],
    has_weight: hg.Const[bool],
    keep_weights: hg.Const[bool],
):
    """Lane `i < n` writes position `i`'s loss to `loss[i]` and, with `keep_weights`, its
    weight to `weights[n + i]` (see the module docstring)."""
    i = hg.uint32(hg.global_id())
    if i < n:
        o = i // inner
        t = hg.int64(target[i])
        w = compute(0)
        value = compute(0)
        if t != ignore and t >= 0 and t < classes:
            w = compute(1)
            if has_weight:
                w = compute(weight[t])
            value = 0 - compute(logp[(hg.int64(o) * classes + t) * inner + (i - o * inner)]) * w
        loss[i] = value
        if keep_weights:
            weights[n + i] = w


@hg.kernel
def onnx_nll_finish(sums: hg.Array, out: hg.Array, mean: hg.Const[bool]):
    """One lane: the summed loss, divided by the summed weights when `mean`."""
    if hg.global_id() == 0:
        if mean:
            out[0] = sums[0] / sums[1]
        else:
            out[0] = sums[0]


def launch_nll(
    ctx: OpContext, logp: TensorRef, target: TensorRef, weight: TensorRef | None, output: int
) -> None:
    """Declare output `output` of the node as the loss of log-probabilities `logp` and fill
    it (attributes `reduction` and `ignore_index` of the node)."""
    reduction = ctx.attr("reduction", "mean")
    if isinstance(reduction, bytes):
        reduction = reduction.decode()
    if reduction not in REDUCTIONS:
        raise ctx.error(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if logp.rank < 2:
        raise ctx.error(f"takes input of rank 2 or more, got shape {list(logp.shape)}")
    classes = logp.shape[1]
    expected = (logp.shape[0], *logp.shape[2:])
    if tuple(target.shape) != expected:
        raise ctx.error(f"target shape {list(target.shape)} does not match {list(expected)}")
    if target.elem not in (types.INT32, types.INT64):
        raise ctx.error(f"target must be int32 or int64, got {types.elem_name(target.elem)}")
    if weight is not None and weight.size != classes:
        raise ctx.error(f"weight has {weight.size} elements, expected {classes}")
    ignore = int(ctx.attr("ignore_index", -(2**63)))
    positions = target.size
    inner = math.prod(logp.shape[2:])
    if reduction == "none":
        loss = ctx.output(output, target.shape, logp.elem)
        terms = loss
    else:
        loss = ctx.output(output, (), logp.elem)
        terms = ctx.scratch((2, positions), accumulator(logp.elem))
    compute = widened(logp.dtype)
    if positions:
        args = [
            logp,
            target,
            logp if weight is None else weight,
            terms,
            terms,
            positions,
            classes,
            max(inner, 1),
            ignore,
            compute,
            weight is not None,
            reduction != "none",
        ]
        ctx.launch(onnx_nll_terms, hg.blocks(positions, BLOCK), BLOCK, args)
    if reduction != "none":
        sums = ctx.scratch((2,), accumulator(logp.elem))
        launch_reduce(ctx, terms, [1], "sum", sums)
        ctx.launch(onnx_nll_finish, 1, 1, [sums, loss, reduction == "mean"])
