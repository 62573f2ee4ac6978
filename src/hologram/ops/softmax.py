"""softmax(x, axis=-1): exp(x - max) / sum(exp(x - max)) along one axis.

Floating-point inputs only (f16, bf16, f32, f64; integers raise DTypeError); f16 and bf16 are
computed in f32. Subtracting the row maximum keeps exp from overflowing.

Kernel: `kernels/normalization/softmax.py`. The input is viewed as `(outer, r, inner)` around
`axis` and one lane handles one `(outer, inner)` row: the maximum; the exponentials (stored in
the output when it has the compute dtype, and summed from there; summed as computed and
recomputed in the last sweep otherwise, so that f16 and bf16 are rounded once); the
normalisation.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from hologram import kernels
from hologram.errors import ShapeError
from hologram.isa.dtypes import DType
from hologram.isa.program import Program
from hologram.ops._launch import Prepared, lanes
from hologram.ops._operands import (
    Output,
    check_size,
    is_buffer,
    promote,
    resolve_executor,
    to_operand,
)
from hologram.ops._plans import apply, static_key
from hologram.ops._rows import normalize_axes, split, widened

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor


@cache
def softmax_program(dtype: DType) -> Program:
    """The `normalization/softmax` kernel for `dtype`.

    Parameters: `x`, `out`, `n` (rows: outer * inner), `r`, `inner`, all u32 but the buffers.
    """
    compute = widened(dtype)
    signature = {"x": dtype, "out": dtype, "compute": compute, "stash": compute is dtype}
    return kernels.load("normalization/softmax").specialize(signature)


def prepare_softmax(
    x: Any, axis: int = -1, executor: Executor | None = None, out: Any = None
) -> Prepared:
    """Plan the launch of softmax along `axis`."""
    ex = resolve_executor([x], executor, "softmax")
    dtype = promote([x], "softmax", float_only=True)
    operand = to_operand(x, ex, "softmax", dtype)
    shape = operand.shape
    check_size(shape, "softmax")
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ShapeError(f"softmax: axis must be an int, got {axis!r}")
    (a,) = normalize_axes(axis, max(len(shape), 1), "softmax")
    output = Output(ex, shape, dtype, is_buffer(x), out, "softmax")
    prepared = Prepared(ex, finish=output.result, output=output)
    prepared.mark_input(0, operand, x)
    outer, r, inner = split(shape, a, a) if shape else (1, 1, 1)
    if outer * r * inner:
        args = (operand.arg, output.arg, outer * inner, r, inner)
        prepared.launches.append(lanes(softmax_program(dtype), outer * inner, args))
    return prepared


def softmax(x: Any, axis: int = -1, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The softmax of `x` along `axis`."""
    static = static_key("softmax", axis) if out is None else None
    return apply(static, (x,), executor, lambda ex: prepare_softmax(x, axis, ex, out))
