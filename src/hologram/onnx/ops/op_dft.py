"""DFT (opsets 17 and 20): the discrete Fourier transform along one axis.

The input's last dimension holds a real sample (1) or a complex one (2: real, imaginary);
the output's holds a complex value, except the inverse of a one-sided transform, whose
output is real. `dft_length` pads the signal with zeros or truncates it (default: the
axis's length, or `2 * (length - 1)` for a one-sided inverse); `onesided` keeps the first
`length // 2 + 1` frequencies of a forward transform, and makes an inverse read such a
half spectrum. Opset 17 takes the axis as an attribute (default 1), opset 20 as input 2
(default -2, counting the complex dimension).
"""

from __future__ import annotations

import math

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._signal_kernels import FORWARD, INVERSE, INVERSE_REAL, onnx_dft
from hologram.onnx.registry import onnx_op


def _lower(ctx: OpContext, axis: int) -> None:
    x = ctx.input(0)
    if x.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"takes float tensors, got {types.elem_name(x.elem)}")
    if x.rank < 2 or x.shape[-1] not in (1, 2):
        raise ctx.error(f"input must end in a dimension of 1 or 2, got shape {x.shape}")
    if not -x.rank <= axis < x.rank:
        raise ctx.error(f"axis {axis} is out of range for rank {x.rank}")
    axis %= x.rank
    if axis == x.rank - 1:
        raise ctx.error("axis cannot be the last (complex) dimension")
    inverse = bool(ctx.attr("inverse", 0))
    onesided = bool(ctx.attr("onesided", 0))
    size = x.shape[axis]
    length = 2 * (size - 1) if inverse and onesided else size
    if ctx.has_input(1) and ctx.input(1).size:
        length = ctx.ints(1)[0]
    if length <= 0:
        raise ctx.error(f"dft_length must be positive, got {length}")
    mode = (INVERSE_REAL if onesided else INVERSE) if inverse else FORWARD
    bins = length // 2 + 1 if onesided and not inverse else length
    parts = 1 if mode == INVERSE_REAL else 2
    shape = list(x.shape)
    shape[axis] = bins
    shape[-1] = parts
    out = ctx.output(0, shape, x.elem)
    if out.size == 0:
        return
    channels = x.shape[-1]
    inner = math.prod(x.shape[axis + 1 : -1])
    count = min(size, length // 2 + 1 if mode == INVERSE_REAL else length)
    ctx.launch(
        onnx_dft,
        math.ceil(out.size / 256),
        256,
        [
            x,
            ctx.constant(np.zeros(1, np.float32)),
            out,
            out.size,
            bins,
            inner,
            1,
            size * inner * channels,
            0,
            channels,
            inner * channels,
            count,
            length,
            mode,
            channels == 2,
            False,
        ],
    )


@onnx_op("DFT", since=17, until=19)
def dft_17(ctx: OpContext) -> None:
    """DFT along the `axis` attribute (see the module docstring)."""
    _lower(ctx, ctx.attr("axis", 1))


@onnx_op("DFT", since=20)
def dft_20(ctx: OpContext) -> None:
    """DFT along the axis input 2 gives (see the module docstring)."""
    axis = ctx.ints(2)[0] if ctx.has_input(2) else -2
    _lower(ctx, axis)
