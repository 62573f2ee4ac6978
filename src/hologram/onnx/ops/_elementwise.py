"""Elementwise ONNX ops: one `@hg.func` per op, broadcast and launched as one kernel.

    @hg.func
    def onnx_leaky_relu(x, alpha):
        return x if x >= 0 else x * alpha

    alpha = lambda ctx: [ctx.attr("alpha", 0.01)]
    elementwise("LeakyRelu", onnx_leaky_relu, since=6, scalars=alpha)

registers LeakyRelu: its inputs (and the attribute scalars, passed as one-element constant
inputs read everywhere) are broadcast together NumPy-style, converted to the compute dtype,
and the func's result is stored in the output's dtype. The kernel is `kernels/_fuse.py`'s
fused kernel of one step, so the graph fusion pass can put many of these funcs in one kernel
(`LOWERINGS` is its table).

Func names must be unique across the project (prefix them `onnx_`), as fused kernels call
them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.isa.program import Program
from hologram.kernels._fuse import fuse_elementwise
from hologram.onnx.registry import onnx_op
from hologram.ops._broadcast import broadcast_layout

BLOCK = 256

ElemRule = Callable[[list[int]], int]
ComputeRule = Callable[[list[int], int], DType]


def same_as_first(elems: list[int]) -> int:
    """The output has the first input's element type."""
    return elems[0]


def boolean(elems: list[int]) -> int:
    """The output is bool (comparisons, IsNaN)."""
    return types.BOOL


def widened(dtype: DType) -> DType:
    """f16 and bf16 compute in f32 (rounded once at the store); other types as they are."""
    return DType.F32 if dtype in (DType.F16, DType.BF16) else dtype


def compute_of_output(elems: list[int], out: int) -> DType:
    """Compute in the output's dtype (widened)."""
    return widened(types.storage_dtype(out))


def compute_of_first(elems: list[int], out: int) -> DType:
    """Compute in the first input's dtype (widened): comparisons, IsNaN."""
    return widened(types.storage_dtype(elems[0]))


def compute_of_last(elems: list[int], out: int) -> DType:
    """Compute in the last input's dtype (widened): Where's values."""
    return widened(types.storage_dtype(elems[-1]))


def compute_in_float(elems: list[int], out: int) -> DType:
    """Compute in the first input's float dtype (widened), or in float64 for an integer one:
    ops with float attributes that also take integers (Shrink, Binarizer)."""
    dtype = types.storage_dtype(elems[0])
    return widened(dtype) if dtype.is_float else DType.F64


@dataclass(frozen=True)
class ElementwiseDef:
    """How one elementwise ONNX op computes (the fusion pass reads these)."""

    op_type: str
    func: Any
    out: ElemRule
    compute: ComputeRule
    scalars: Callable[[OpContext], Sequence[float | int]] | None
    check: Callable[[OpContext, list[TensorRef]], None] | None


LOWERINGS: dict[Any, ElementwiseDef] = {}
"""The registered lowering function of each definition -> the definition (the fusion pass
finds a node's definition for its opset through the registry)."""


def elementwise(
    op_type: str,
    func: Any,
    since: int = 1,
    until: int | None = None,
    out: ElemRule = same_as_first,
    compute: ComputeRule = compute_of_output,
    scalars: Callable[[OpContext], Sequence[float | int]] | None = None,
    check: Callable[[OpContext, list[TensorRef]], None] | None = None,
    domain: str = "",
) -> ElementwiseDef:
    """Register `op_type` as the elementwise op computing `func` (see the module docstring).

    `out` gives the output element type from the inputs', `compute` the dtype the func runs
    in, `scalars` the attribute values passed after the inputs, `check` validates the inputs
    (raise `ctx.unsupported(...)` for dtypes the op does not take); `domain` is the op's
    ONNX domain (the default one when empty).
    """
    definition = ElementwiseDef(op_type, func, out, compute, scalars, check)

    def lower(ctx: OpContext) -> None:
        inputs = [ctx.input(i) for i in range(ctx.n_inputs) if ctx.has_input(i)]
        if check is not None:
            check(ctx, inputs)
        elems = [ref.elem for ref in inputs]
        out_elem = out(elems)
        dtype = compute(elems, out_elem)
        extra = [] if scalars is None else list(scalars(ctx))
        constants = [ctx.constant(np.array([v], dtype.numpy)) for v in extra]
        apply(ctx, 0, func, [*inputs, *constants], out_elem, dtype)

    onnx_op(op_type, since=since, until=until, domain=domain)(lower)
    LOWERINGS[lower] = definition
    return definition


def apply(
    ctx: OpContext,
    output: int | None,
    func: Any,
    inputs: list[TensorRef],
    out_elem: int,
    compute: DType,
    name: str | None = None,
) -> TensorRef:
    """Compute `func` over broadcast `inputs` into output `output` of the node (or into a
    scratch tensor when `output` is None); the result."""
    layout = broadcast_layout([ref.shape for ref in inputs], ctx.op_type)
    result = (
        ctx.scratch(layout.shape, out_elem)
        if output is None
        else ctx.output(output, layout.shape, out_elem)
    )
    launch_map(ctx, [(func, tuple(range(len(inputs))))], inputs, result, compute, name)
    return result


def launch_map(
    ctx: OpContext,
    steps: Sequence[tuple[Any, tuple[int, ...]]],
    inputs: list[TensorRef],
    result: TensorRef,
    compute: DType,
    name: str | None = None,
) -> None:
    """Launch the fused kernel of `steps` (see `kernels/_fuse.py`) writing `result`."""
    if result.size == 0:
        return
    layout = broadcast_layout([ref.shape for ref in inputs], ctx.op_type, result.shape)
    kernel_name = name or f"onnx_{ctx.op_type.lower()}"
    program = _program(
        kernel_name,
        tuple((f, tuple(a)) for f, a in steps),
        tuple(ref.dtype for ref in inputs),
        result.dtype,
        compute,
        tuple(int(a) for a in layout.access),
        layout.rank,
    )
    table = ctx.constant(layout.table, types.UINT32)
    grid, block = layout.geometry
    ctx.launch(program, grid, block, [*inputs, result, layout.row_length, table])


@lru_cache(maxsize=4096)
def _program(
    name: str,
    steps: tuple[tuple[Any, tuple[int, ...]], ...],
    in_dtypes: tuple[DType, ...],
    out_dtype: DType,
    compute: DType,
    access: tuple[int, ...],
    rank: int,
) -> Program:
    kernel = fuse_elementwise(name, steps, len(in_dtypes))
    signature: dict[str, Any] = {f"in{k}": dt for k, dt in enumerate(in_dtypes)}
    signature["out"] = out_dtype
    signature["compute"] = compute
    signature.update({f"in{k}_read": a for k, a in enumerate(access)})
    signature["rank"] = rank
    return kernel.specialize(signature)


FLOATS = frozenset({types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16})


def floats_only(ctx: OpContext, inputs: list[TensorRef]) -> None:
    """`check` for ops defined on floating-point tensors only."""
    for ref in inputs:
        if ref.elem not in FLOATS:
            raise ctx.unsupported(f"takes floating-point tensors, got {types.elem_name(ref.elem)}")


INTEGERS = frozenset(
    {
        types.INT8,
        types.INT16,
        types.INT32,
        types.INT64,
        types.UINT8,
        types.UINT16,
        types.UINT32,
        types.UINT64,
    }
)
NUMBERS = FLOATS | INTEGERS


def _only(allowed: frozenset[int], what: str) -> Callable[[OpContext, list[TensorRef]], None]:
    def check(ctx: OpContext, inputs: list[TensorRef]) -> None:
        for ref in inputs:
            if ref.elem not in allowed:
                raise ctx.unsupported(f"takes {what} tensors, got {types.elem_name(ref.elem)}")

    return check


integers_only = _only(INTEGERS, "integer")
"""`check` for bitwise ops (integer tensors only)."""
numbers_only = _only(NUMBERS, "numeric")
"""`check` for arithmetic ops: integers and floats, not bool, float8 or strings."""
bools_only = _only(frozenset({types.BOOL}), "bool")
"""`check` for logical ops (bool tensors only)."""
numbers_or_bools = _only(NUMBERS | {types.BOOL}, "numeric or bool")
"""`check` for comparisons that also take bools (Equal)."""


def variadic(
    op_type: str,
    func: Any,
    since: int = 1,
    until: int | None = None,
    finish: Any = None,
    check: Callable[[OpContext, list[TensorRef]], None] | None = None,
) -> None:
    """Register `op_type` as `func` folded over any number of broadcast inputs (Sum, Max).

    The output has the inputs' element type; `func(acc, x)` combines two values and
    `finish(acc, count)`, when given, turns the folded value into the result (Mean). One
    input is copied (through `finish`).
    """

    def lower(ctx: OpContext) -> None:
        inputs = [ctx.input(i) for i in range(ctx.n_inputs) if ctx.has_input(i)]
        if not inputs:
            raise ctx.error("needs at least one input")
        if check is not None:
            check(ctx, inputs)
        elem = inputs[0].elem
        for ref in inputs[1:]:
            if ref.elem != elem:
                names = f"{types.elem_name(elem)} and {types.elem_name(ref.elem)}"
                raise ctx.error(f"inputs are {names}; they must have one type")
        dtype = widened(inputs[0].dtype)
        shape = broadcast_layout([ref.shape for ref in inputs], ctx.op_type).shape
        args = list(inputs)
        if finish is not None:
            args.append(ctx.constant(np.array([len(inputs)], dtype.numpy)))
        steps: list[tuple[Any, tuple[int, ...]]] = []
        acc = 0
        for k in range(1, len(inputs)):
            steps.append((func, (acc, k)))
            acc = len(args) + len(steps) - 1
        if finish is not None:
            steps.append((finish, (acc, len(inputs))))
        launch_map(ctx, steps, args, ctx.output(0, shape, elem), dtype)

    onnx_op(op_type, since=since, until=until)(lower)
