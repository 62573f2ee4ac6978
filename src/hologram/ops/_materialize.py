"""Materialising an operand in a given shape and dtype: broadcast and convert, one copy.

Host arrays are converted with NumPy before any launch; Buffers with the `convert/cast`
kernel, so that device data never travels to the host for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hologram.isa.dtypes import DType
from hologram.ops._broadcast import broadcast_layout
from hologram.ops._elementwise_kernels import cast_op, elementwise_launch
from hologram.ops._launch import Launch
from hologram.ops._operands import Operand

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor


def materialize(
    executor: Executor, operand: Operand, shape: tuple[int, ...], dtype: DType
) -> tuple[Operand, Launch | None]:
    """`operand` broadcast to `shape` as `dtype`, and the launch that fills it, if one must.

    `shape` must be a broadcast of the operand's shape (the caller checks).
    """
    if operand.shape == shape and operand.dtype is dtype:
        return operand, None
    if operand.on_host:
        array = np.broadcast_to(operand.data, shape).astype(dtype.numpy, order="C")
        return Operand(array, shape, dtype), None
    target = executor.allocate(shape, dtype)
    layout = broadcast_layout([operand.shape], "materialize", out_shape=shape)
    if layout.size == 0:
        return Operand(target, shape, dtype), None
    launch = elementwise_launch(
        executor, cast_op(), [operand.arg], [operand.dtype], target, dtype, layout
    )
    return Operand(target, shape, dtype), launch
