"""STFT (opset 17): Fourier transforms of overlapping windowed frames of a signal.

The signal is `(batch, length, 1 or 2)` (real or complex samples). Frame `f` starts at
sample `f * frame_step`, is `frame_length` long (the window's length, else the signal's) and
is weighted by the window (ones when none is given); there are
`1 + (length - frame_length) // frame_step` frames. The output is
`(batch, frames, bins, 2)`, with `frame_length // 2 + 1` bins when `onesided` (the default),
else `frame_length`.
"""

from __future__ import annotations

import math

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._signal_kernels import FORWARD, onnx_dft
from hologram.onnx.registry import onnx_op


@onnx_op("STFT", since=17)
def stft(ctx: OpContext) -> None:
    """Short-time Fourier transform (see the module docstring)."""
    signal = ctx.input(0)
    if signal.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"takes float tensors, got {types.elem_name(signal.elem)}")
    if signal.rank != 3 or signal.shape[2] not in (1, 2):
        raise ctx.error(f"signal must be (batch, length, 1 or 2), got shape {signal.shape}")
    batch, size, channels = signal.shape
    step = ctx.ints(1)[0]
    window = ctx.optional_input(2)
    if window is not None and window.rank != 1:
        raise ctx.error(f"window must be 1-D, got shape {window.shape}")
    frame = size if window is None else window.shape[0]
    if ctx.has_input(3):
        frame = ctx.ints(3)[0]
        if window is not None and window.shape[0] != frame:
            raise ctx.error(f"window of {window.shape[0]} samples for frames of {frame}")
    if step <= 0 or not 0 < frame <= size:
        raise ctx.error(f"frame_step {step} and frame_length {frame} do not fit {size} samples")
    frames = 1 + (size - frame) // step
    bins = frame // 2 + 1 if ctx.attr("onesided", 1) else frame
    out = ctx.output(0, (batch, frames, bins, 2), signal.elem)
    if out.size == 0:
        return
    weights = window if window is not None else ctx.constant(np.zeros(1, np.float32))
    ctx.launch(
        onnx_dft,
        math.ceil(out.size / 256),
        256,
        [
            signal,
            weights,
            out,
            out.size,
            bins,
            1,
            frames,
            size * channels,
            step * channels,
            0,
            channels,
            frame,
            frame,
            FORWARD,
            channels == 2,
            window is not None,
        ],
    )
