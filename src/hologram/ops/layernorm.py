"""layer_norm(x, weight=None, bias=None, axis=-1, eps=1e-5), as ONNX LayerNormalization.

Normalises over the trailing dimensions from `axis`: `(x - mean) / sqrt(var + eps) * weight +
bias`, with the biased variance. `weight` and `bias` broadcast to `x.shape[axis:]` and are
converted to x's dtype. Floating-point inputs only (integers raise DTypeError); f16 and bf16
are computed in f32.

Kernel: `kernels/normalization/layer_norm.py`. One lane per row of `r = prod(x.shape[axis:])`
contiguous elements sweeps it three times: the mean, the variance around it (two passes, for
accuracy), the normalised output.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram import kernels
from hologram.errors import ShapeError
from hologram.isa.dtypes import DType
from hologram.isa.program import Program
from hologram.ops._broadcast import broadcast_shapes
from hologram.ops._launch import Prepared, lanes
from hologram.ops._materialize import materialize
from hologram.ops._operands import (
    Operand,
    Output,
    check_size,
    is_buffer,
    promote,
    resolve_executor,
    to_operand,
)
from hologram.ops._plans import apply, static_key
from hologram.ops._rows import widened

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor


@cache
def layer_norm_program(dtype: DType, has_weight: bool, has_bias: bool) -> Program:
    """The `normalization/layer_norm` kernel for `dtype`.

    Parameters: `x`, `weight`, `bias` (x's dtype; when absent, never read: any buffer will
    do), `out`, `n` (rows), `r` (u32) and `eps` in the compute dtype.
    """
    compute = widened(dtype)
    signature = {
        "x": dtype,
        "weight": dtype,
        "bias": dtype,
        "out": dtype,
        "eps": compute,
        "compute": compute,
        "has_weight": has_weight,
        "has_bias": has_bias,
    }
    return kernels.load("normalization/layer_norm").specialize(signature)


def prepare_layer_norm(
    x: Any,
    weight: Any = None,
    bias: Any = None,
    axis: int = -1,
    eps: float = 1e-5,
    executor: Executor | None = None,
    out: Any = None,
) -> Prepared:
    """Plan the launches of layer_norm (and of any weight or bias conversion)."""
    op = "layer_norm"
    given = [v for v in (x, weight, bias) if v is not None]
    ex = resolve_executor(given, executor, op)
    dtype = promote([x], op, float_only=True)
    operand = to_operand(x, ex, op, dtype)
    shape = operand.shape
    check_size(shape, op)
    if not isinstance(axis, int) or isinstance(axis, bool) or not -len(shape) <= axis < len(shape):
        raise ShapeError(f"{op}: axis {axis!r} is out of range for {len(shape)} dimensions")
    a = axis % len(shape)
    rows, r = int(np.prod(shape[:a])), int(np.prod(shape[a:]))
    output = Output(ex, shape, dtype, any(is_buffer(v) for v in given), out, op)
    prepared = Prepared(ex, finish=output.result, output=output)
    prepared.mark_input(0, operand, x)
    if rows * r == 0:
        return prepared
    params: list[Operand] = []
    for index, name, value in ((1, "weight", weight), (2, "bias", bias)):
        if value is None:
            params.append(operand)  # a stand-in the kernel never reads
            continue
        promote([value], f"{op} {name}")
        param = to_operand(value, ex, f"{op} {name}", dtype)
        prepared.mark_input(index, param, value)
        target = shape[a:]
        if broadcast_shapes([param.shape, target], f"{op} {name}") != target:
            raise ShapeError(f"{op}: {name} of shape {param.shape} does not fit {target}")
        converted, launch = materialize(ex, param, target, dtype)
        if launch is not None:
            prepared.launches.append(launch)
            prepared.mark_scratch(converted)
        params.append(converted)
    program = layer_norm_program(dtype, weight is not None, bias is not None)
    args = (operand.arg, *(p.arg for p in params), output.arg, rows, r, eps)
    prepared.launches.append(lanes(program, rows, args))
    return prepared


def layer_norm(
    x: Any,
    weight: Any = None,
    bias: Any = None,
    axis: int = -1,
    eps: float = 1e-5,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """Layer normalisation of `x` over its dimensions from `axis` on."""
    static = static_key("layer_norm", axis, eps) if out is None else None
    return apply(
        static,
        (x, weight, bias),
        executor,
        lambda ex: prepare_layer_norm(x, weight, bias, axis, eps, ex, out),
    )
