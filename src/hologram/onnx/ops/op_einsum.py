"""Einsum: any equation, as strided gathers and batched MATMUL launches.

Each operand is first reduced to distinct labels: a repeated label takes the diagonal and a
label no other operand and not the output needs is summed away (one `gather` launch, skipped
when there is nothing to do). The operands are then contracted left to right: with batch
labels (in both, still needed), contracted labels (in both, no longer needed) and each side's
own labels, the pair is one batched matrix product

    (batch, left, contracted) @ (batch, contracted, right) -> (batch, left, right)

where an operand already laid out either way round is read in place (the intrinsic's
transpose flags) and otherwise copied into that order, broadcast where an ellipsis axis of
extent 1 meets a longer one. A last gather puts the result's axes in the output's order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._nn_kernels import fill, gather, launch_matmul, row_major_strides
from hologram.onnx.ops.op_matmul import NUMERIC
from hologram.onnx.registry import onnx_op

Label = str
"""A letter, or `.k` for axis k of the broadcast ellipsis."""


@dataclass(frozen=True)
class Term:
    """An operand and the label of each of its axes."""

    ref: TensorRef
    labels: tuple[Label, ...]

    def size(self, label: Label) -> int:
        """The operand's extent along `label` (1 when it lacks the label: a broadcast)."""
        return self.ref.shape[self.labels.index(label)] if label in self.labels else 1

    def stride(self, label: Label) -> int:
        """The element stride along `label`, summed over its axes (a diagonal); 0 where the
        operand broadcasts along it."""
        strides = row_major_strides(self.ref.shape)
        total = sum(s for s, lab in zip(strides, self.labels, strict=True) if lab == label)
        return 0 if self.size(label) == 1 else total


def parse(ctx: OpContext, equation: str, ranks: list[int]) -> tuple[list[list[Label]], list[Label]]:
    """The labels of each operand's axes and of the output's, for `equation`."""
    text = equation.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ranks):
        raise ctx.error(f"equation {equation!r} names {len(terms)} operands, got {len(ranks)}")
    ellipsis = 0
    for term, rank in zip(terms, ranks, strict=True):
        if "..." in term:
            ellipsis = max(ellipsis, rank - len(term.replace("...", "")))
    labels: list[list[Label]] = [
        _labels(ctx, t, r, ellipsis) for t, r in zip(terms, ranks, strict=True)
    ]
    if arrow:
        out = _labels(ctx, output, None, ellipsis)
    else:
        letters = [lab for term in labels for lab in term if not lab.startswith(".")]
        dots = [f".{k}" for k in range(ellipsis) if any(f".{k}" in t for t in labels)]
        out = dots + sorted(lab for lab in set(letters) if letters.count(lab) == 1)
    for lab in out:
        if out.count(lab) > 1 or not any(lab in term for term in labels):
            raise ctx.error(f"equation {equation!r}: output label {lab!r} is repeated or unknown")
    return labels, out


def _labels(ctx: OpContext, term: str, rank: int | None, ellipsis: int) -> list[Label]:
    head, dots, tail = term.partition("...")
    for letter in head + tail:
        if not letter.isalpha():
            raise ctx.error(f"einsum term {term!r} has {letter!r}, not a letter")
    if not dots:
        if rank is not None and len(head) != rank:
            raise ctx.error(f"einsum term {term!r} has {len(head)} labels for rank {rank}")
        return list(head)
    count = ellipsis if rank is None else rank - len(head) - len(tail)
    if count < 0:
        raise ctx.error(f"einsum term {term!r} has more labels than rank {rank}")
    return [*head, *(f".{k}" for k in range(ellipsis - count, ellipsis)), *tail]


@onnx_op("Einsum", since=12)
def einsum(ctx: OpContext) -> None:
    """Output 0 from the inputs by the `equation` attribute."""
    refs = [ctx.input(i) for i in range(ctx.n_inputs)]
    elem = refs[0].elem
    if any(r.elem != elem for r in refs) or elem not in NUMERIC:
        raise ctx.unsupported(f"Einsum of {', '.join(types.elem_name(r.elem) for r in refs)}")
    labels, out_labels = parse(ctx, str(ctx.attr("equation")), [r.rank for r in refs])
    terms = [Term(r, tuple(lab)) for r, lab in zip(refs, labels, strict=True)]
    extents: dict[Label, int] = {}
    for term in terms:
        for lab, size in zip(term.labels, term.ref.shape, strict=True):
            known = extents.get(lab, 1)
            if size != 1 and known not in (1, size):
                raise ctx.error(f"label {lab!r} has extents {known} and {size}")
            extents[lab] = max(known, size) if size != 1 else known
    out = ctx.output(0, [extents[lab] for lab in out_labels], elem)
    if out.size == 0:
        return
    current = terms[0]
    for position in range(1, len(terms)):
        later = set(out_labels).union(*(t.labels for t in terms[position + 1 :]))
        other = terms[position]
        current = _reduce(ctx, current, later | set(other.labels), extents)
        other = _reduce(ctx, other, later | set(current.labels), extents)
        current = _contract(ctx, current, other, later, extents, out, out_labels)
    if current.ref is out:
        return
    # One gather writes the output: its axes in order, diagonals taken, the rest summed.
    dims = [extents[lab] for lab in out_labels]
    strides = [current.stride(lab) for lab in out_labels]
    summed = [lab for lab in dict.fromkeys(current.labels) if lab not in out_labels]
    gather(
        ctx,
        current.ref,
        out,
        dims,
        strides,
        reduce_dims=[current.size(lab) for lab in summed],
        reduce_strides=[current.stride(lab) for lab in summed],
    )


def _reduce(ctx: OpContext, term: Term, needed: set[Label], extents: dict[Label, int]) -> Term:
    """`term` with distinct labels, those not `needed` summed away (itself when it has
    neither repeats nor such labels)."""
    distinct = list(dict.fromkeys(term.labels))
    kept = [lab for lab in distinct if lab in needed]
    summed = [lab for lab in distinct if lab not in needed]
    if not summed and len(distinct) == len(term.labels):
        return term
    result = ctx.scratch([term.size(lab) for lab in kept], term.ref.elem)
    gather(
        ctx,
        term.ref,
        result,
        [term.size(lab) for lab in kept],
        [term.stride(lab) for lab in kept],
        reduce_dims=[term.size(lab) for lab in summed],
        reduce_strides=[term.stride(lab) for lab in summed],
    )
    return Term(result, tuple(kept))


def _contract(
    ctx: OpContext,
    a: Term,
    b: Term,
    later: set[Label],
    extents: dict[Label, int],
    out: TensorRef,
    out_labels: list[Label],
) -> Term:
    """The product of two reduced terms over their shared labels that `later` lacks."""
    batch = [lab for lab in a.labels if lab in b.labels and lab in later]
    summed = [lab for lab in a.labels if lab in b.labels and lab not in later]
    left = [lab for lab in a.labels if lab not in b.labels]
    right = [lab for lab in b.labels if lab not in a.labels]
    size = lambda labels: math.prod(extents[lab] for lab in labels)  # noqa: E731
    count, m, k, n = size(batch), size(left), size(summed), size(right)
    labels = (*batch, *left, *right)
    if list(labels) == out_labels:
        result = out
    else:
        result = ctx.scratch([extents[lab] for lab in labels], out.elem)
    if k == 0 or count * m * n == 0:
        fill(ctx, result, 0)
        return Term(result, labels)
    a_ref, trans_a = _operand(ctx, a, batch, left, summed, extents)
    b_ref, trans_b = _operand(ctx, b, batch, summed, right, extents)
    strides = (m * k, k * n, m * n)
    launch_matmul(ctx, a_ref, b_ref, result, m, n, k, count, trans_a, trans_b, strides)
    return Term(result, labels)


def _operand(
    ctx: OpContext,
    term: Term,
    batch: list[Label],
    rows: list[Label],
    cols: list[Label],
    extents: dict[Label, int],
) -> tuple[TensorRef, bool]:
    """`term` as matrices (batch, rows, cols): in place when laid out so or as (batch, cols,
    rows) (then transposed, True), else a copy in that order."""
    full = all(term.size(lab) == extents[lab] for lab in term.labels) and len(term.labels) == len(
        batch
    ) + len(rows) + len(cols)
    if full and term.labels == (*batch, *rows, *cols):
        return term.ref, False
    if full and term.labels == (*batch, *cols, *rows):
        return term.ref, True
    order = [*batch, *rows, *cols]
    dims = [extents[lab] for lab in order]
    result = ctx.scratch(dims, term.ref.elem)
    gather(ctx, term.ref, result, dims, [term.stride(lab) for lab in order])
    return result, False
