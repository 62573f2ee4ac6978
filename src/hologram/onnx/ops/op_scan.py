"""Scan: the body planned inline once per slice of the scan inputs, its outputs stacked.

Opset 9 and later scan along any axis, in either direction, per input and per output.
Opset 8 scans axis 1 of inputs with a batch axis 0, batch entry by batch entry, each for its
own sequence length.
"""

from collections.abc import Sequence
from typing import Any

from hologram.compiler.context import OpContext, Ref, TensorRef
from hologram.onnx.ops._sequence_utils import (
    contiguous_strides,
    copy_region,
    fill,
    normalize_axis,
    stack_into,
    take_slice,
)
from hologram.onnx.registry import onnx_op


@onnx_op("Scan", since=9)
def scan(ctx: OpContext) -> None:
    """Inputs: the initial states, then `num_scan_inputs` tensors scanned along
    `scan_input_axes` (backwards where `scan_input_directions` is 1). Outputs: the final
    states, then each scan output stacked along `scan_output_axes` (in reverse order of the
    iterations where `scan_output_directions` is 1)."""
    body = ctx.attr("body")
    n_scan_in = int(ctx.attr("num_scan_inputs"))
    n_states = ctx.n_inputs - n_scan_in
    n_scan_out = len(body.outputs) - n_states
    if n_states < 0 or n_scan_out < 0 or len(body.inputs) != ctx.n_inputs:
        raise ctx.error("the body's inputs and outputs do not match the node's")
    states: list[Ref] = [ctx.input_ref(i) for i in range(n_states)]
    scanned = [ctx.input(n_states + k) for k in range(n_scan_in)]
    in_axes = [
        normalize_axis(ctx, a, ref.rank, "scan input axis")
        for a, ref in zip(_per(ctx, "scan_input_axes", n_scan_in), scanned, strict=True)
    ]
    in_dirs = _per(ctx, "scan_input_directions", n_scan_in)
    lengths = {ref.shape[axis] for ref, axis in zip(scanned, in_axes, strict=True)}
    if len(lengths) > 1:
        raise ctx.error(f"the scan inputs have different lengths {sorted(lengths)}")
    length = lengths.pop() if lengths else 0
    states, items = _iterate(ctx, body, states, scanned, in_axes, in_dirs, length, n_scan_out)
    for k, ref in enumerate(states):
        ctx.set_output(k, ref)
    out_axes = _per(ctx, "scan_output_axes", n_scan_out)
    out_dirs = _per(ctx, "scan_output_directions", n_scan_out)
    for j in range(n_scan_out):
        index = n_states + j
        if not ctx.has_output(index):
            continue
        if not items[j]:
            ctx.output(index, [0], body.outputs[index].type.elem)
            continue
        first = items[j][0]
        axis = normalize_axis(ctx, out_axes[j], first.rank + 1, "scan output axis")
        shape = [*first.shape[:axis], length, *first.shape[axis:]]
        out = ctx.output(index, shape, first.elem)
        positions = [length - 1 - t if out_dirs[j] else t for t in range(length)]
        stack_into(ctx, out, items[j], axis, positions)


@onnx_op("Scan", since=8, until=8)
def scan_batched(ctx: OpContext) -> None:
    """Opset 8: input 0 is the optional `sequence_lens`; states are `[batch, ...]` and scan
    inputs `[batch, sequence, ...]`. Each batch entry is scanned for its own length; scan
    outputs are zero past it."""
    body = ctx.attr("body")
    n_scan_in = int(ctx.attr("num_scan_inputs"))
    n_states = ctx.n_inputs - 1 - n_scan_in
    n_scan_out = len(body.outputs) - n_states
    if n_states < 0 or n_scan_out < 0 or len(body.inputs) != ctx.n_inputs - 1:
        raise ctx.error("the body's inputs and outputs do not match the node's")
    states = [ctx.input(1 + i) for i in range(n_states)]
    scanned = [ctx.input(1 + n_states + k) for k in range(n_scan_in)]
    every = [*states, *scanned]
    if not every or any(ref.rank < 1 for ref in every) or any(r.rank < 2 for r in scanned):
        raise ctx.error("states need a batch axis, scan inputs a batch and a sequence axis")
    batch = every[0].shape[0]
    length = scanned[0].shape[1] if scanned else 0
    if any(ref.shape[0] != batch for ref in every) or any(
        ref.shape[1] != length for ref in scanned
    ):
        raise ctx.error("the inputs disagree on the batch or sequence length")
    lengths = ctx.ints(0) if ctx.has_input(0) else [length] * batch
    if len(lengths) != batch or any(not 0 <= n <= length for n in lengths):
        raise ctx.error(f"sequence_lens {lengths} do not fit batch {batch}, length {length}")
    dirs = _per(ctx, "directions", n_scan_in)
    final: list[list[TensorRef]] = [[] for _ in range(n_states)]
    per_batch: list[list[list[TensorRef]]] = []
    for b in range(batch):
        entry: list[Ref] = [take_slice(ctx, ref, 0, b) for ref in states]
        rows = [take_slice(ctx, ref, 0, b) for ref in scanned]
        axes = [0] * n_scan_in
        entry, items = _iterate(ctx, body, entry, rows, axes, dirs, lengths[b], n_scan_out)
        for k, ref in enumerate(entry):
            final[k].append(_tensor(ctx, ref, f"state {k}"))
        per_batch.append(items)
    for k, refs in enumerate(final):
        out = ctx.output(k, [batch, *refs[0].shape], refs[0].elem)
        stack_into(ctx, out, refs, 0, range(batch))
    for j in range(n_scan_out):
        produced = [items[j] for items in per_batch if items[j]]
        if not produced:
            ctx.output(n_states + j, [batch, length], body.outputs[n_states + j].type.elem)
            continue
        first = produced[0][0]
        out = ctx.output(n_states + j, [batch, length, *first.shape], first.elem)
        if min(lengths) < length:
            fill(ctx, out, 0)
        strides = contiguous_strides(out.shape)
        for b, items in enumerate(per_batch):
            for t, item in enumerate(items[j]):
                base = b * strides[0] + t * strides[1]
                copy_region(ctx, item, out, item.shape, contiguous_strides(item.shape),
                            strides[2:], 0, base)  # fmt: skip


def _iterate(
    ctx: OpContext,
    body: Any,
    states: list[Ref],
    scanned: Sequence[TensorRef],
    axes: Sequence[int],
    directions: Sequence[int],
    length: int,
    n_scan_out: int,
) -> tuple[list[Ref], list[list[TensorRef]]]:
    """Run the body `length` times; the final states and each scan output's items."""
    items: list[list[TensorRef]] = [[] for _ in range(n_scan_out)]
    for t in range(length):
        slices = [
            take_slice(ctx, ref, axis, length - 1 - t if reverse else t)
            for ref, axis, reverse in zip(scanned, axes, directions, strict=True)
        ]
        results = ctx.run_graph(body, [*states, *slices])
        states = results[: len(states)]
        for j, ref in enumerate(results[len(states) :]):
            item = _tensor(ctx, ref, f"scan output {j}")
            if items[j] and (item.shape != items[j][0].shape or item.elem != items[j][0].elem):
                raise ctx.error(f"scan output {j} changes from {items[j][0]} to {item}")
            items[j].append(item)
    return states, items


def _per(ctx: OpContext, name: str, count: int) -> list[int]:
    values = ctx.attr(name, None)
    if values is None:
        return [0] * count
    if len(values) != count:
        raise ctx.error(f"{name} has {len(values)} entries, expected {count}")
    return [int(v) for v in values]


def _tensor(ctx: OpContext, ref: Ref, what: str) -> TensorRef:
    if not isinstance(ref, TensorRef):
        raise ctx.error(f"{what} of the body must be a tensor")
    return ref
