"""Loop: the body planned inline once per iteration, its scan outputs stacked.

The trip count and the condition are read while planning (guarded when they are runtime
values), so the plan is the unrolled loop for those values; when a guarded condition or
trip count changes, the model plans again.
"""

from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext, Ref, TensorRef
from hologram.onnx.ops._sequence_utils import scalar_bool, scalar_int, stack_into
from hologram.onnx.registry import onnx_op

MAX_ITERATIONS = 100_000
"""Loops planned beyond this many iterations are refused (the plan unrolls every one)."""


@onnx_op("Loop", since=1)
def loop(ctx: OpContext) -> None:
    """Run `body(iteration, cond, carried...)` while `iteration < M` and `cond` hold.

    The body returns the next condition, the next loop-carried values and one value per
    scan output; the node returns the final carried values, then each scan output stacked
    along a new first axis.
    """
    body = ctx.attr("body")
    trip = scalar_int(ctx, ctx.input(0), "the trip count M") if ctx.has_input(0) else None
    if trip is None and not ctx.has_input(1):
        raise ctx.unsupported("a loop with neither a trip count nor a condition never ends")
    cond = scalar_bool(ctx, ctx.input(1), "the condition") if ctx.has_input(1) else True
    carried: list[Ref] = [ctx.input_ref(i) for i in range(2, ctx.n_inputs)]
    n_scans = len(body.outputs) - 1 - len(carried)
    if n_scans < 0 or len(body.inputs) != 2 + len(carried):
        raise ctx.error(f"the body's inputs and outputs do not match {len(carried)} "
                        "loop-carried values")  # fmt: skip
    scans: list[list[TensorRef]] = [[] for _ in range(n_scans)]
    iteration = 0
    while cond and (trip is None or iteration < trip):
        if iteration >= MAX_ITERATIONS:
            raise ctx.unsupported(f"loops of more than {MAX_ITERATIONS} iterations")
        counter = ctx.constant(np.array(iteration, np.int64), types.INT64)
        cond_in = ctx.constant(np.array(cond), types.BOOL)
        results = ctx.run_graph(body, [counter, cond_in, *carried])
        cond = scalar_bool(ctx, _tensor(ctx, results[0], "the condition"), "the condition")
        carried = results[1 : 1 + len(carried)]
        for j, ref in enumerate(results[1 + len(carried) :]):
            scans[j].append(_tensor(ctx, ref, f"scan output {j}"))
        iteration += 1
    for k, ref in enumerate(carried):
        ctx.set_output(k, ref)
    for j, items in enumerate(scans):
        index = len(carried) + j
        if not ctx.has_output(index):
            continue
        if not items:
            ctx.output(
                index,
                _empty_shape(body.outputs[1 + len(carried) + j].type),
                _elem(body.outputs[1 + len(carried) + j].type),
            )
            continue
        for k, item in enumerate(items):
            if item.shape != items[0].shape or item.elem != items[0].elem:
                raise ctx.error(f"scan output {j} is {item} at iteration {k} but "
                                f"{items[0]} at iteration 0")  # fmt: skip
        out = ctx.output(index, [len(items), *items[0].shape], items[0].elem)
        stack_into(ctx, out, items, 0, range(len(items)))


def _tensor(ctx: OpContext, ref: Ref, what: str) -> TensorRef:
    if not isinstance(ref, TensorRef):
        raise ctx.error(f"{what} of the body must be a tensor")
    return ref


def _empty_shape(value_type: Any) -> list[int]:
    """A scan output of no iterations: 0 along the new axis, then the body output's static
    dimensions (none when they are not all known)."""
    shape = value_type.shape
    if shape is not None and all(isinstance(d, int) for d in shape):
        return [0, *shape]
    return [0]


def _elem(value_type: Any) -> int:
    return value_type.elem or types.FLOAT
