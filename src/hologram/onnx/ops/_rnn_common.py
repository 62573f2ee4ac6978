"""How RNN, GRU and LSTM are planned: inputs checked, projections, then one launch pair per
step (see `_rnn_kernels.py` for the kernels and their tables).

`X @ W^T` for every step and direction is one matrix product up front (`W` is read as one
`[directions * gates * hidden, input]` matrix); each step then multiplies the state of every
direction by its `R` in one batched product and runs the cell kernel. The state lives in
`[directions, batch, hidden]` tensors, a new one per step (the memory planner reuses them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.kernels.linalg.matmul import matmul
from hologram.onnx.ops._rnn_kernels import ACTIVATIONS, BLOCK, GEOMETRY
from hologram.onnx.ops._sequence_utils import contiguous_strides, copy_region, filled

FLOATS = (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16)

_ALPHA = {"affine": 1.0, "leakyrelu": 0.01, "thresholdedrelu": 1.0, "scaledtanh": 1.0,
          "hardsigmoid": 0.2, "elu": 1.0}  # fmt: skip
"""Activations that take `alpha`, with its default."""
_BETA = {"affine": 0.0, "scaledtanh": 1.0, "hardsigmoid": 0.5}
"""Activations that take `beta`, with its default."""


@dataclass
class Recurrence:
    """One recurrent node being planned: its inputs, sizes and shared tables."""

    ctx: OpContext
    x: TensorRef
    w: TensorRef
    r: TensorRef
    gates: int
    directions: int
    hidden: int
    batch: int
    steps: int
    layout: int
    compute: DType
    bias: TensorRef
    seq_lens: TensorRef
    params: TensorRef
    codes: list[int]
    reverse_codes: list[int]
    geometry: TensorRef
    xw: TensorRef
    y: TensorRef
    clip: float

    @property
    def state_shape(self) -> tuple[int, int, int]:
        """`[directions, batch, hidden]`."""
        return (self.directions, self.batch, self.hidden)

    @property
    def lanes(self) -> int:
        """Lanes of a cell kernel: one per state element."""
        return self.directions * self.batch * self.hidden

    @property
    def grid(self) -> int:
        return hg.blocks(self.lanes, BLOCK)

    def activations(self, count: int) -> list[int]:
        """The Const arguments naming the first `count` activations (f, g, h) of direction 0,
        then of direction 1 (-1 where they are the same)."""
        return [*self.codes[:count], *self.reverse_codes[:count]]

    def initial_state(self, index: int) -> TensorRef:
        """Input `index` (initial_h or initial_c) as `[directions, batch, hidden]`; zeros when
        it is omitted."""
        ctx = self.ctx
        if not ctx.has_input(index):
            return filled(ctx, self.state_shape, self.x.elem, 0)
        given = ctx.input(index)
        expected = self._state_layout_shape()
        if given.shape != expected or given.elem != self.x.elem:
            raise ctx.error(f"input {index} must be {types.elem_name(self.x.elem)}"
                            f"{list(expected)}, got {given}")  # fmt: skip
        if self.layout == 0:
            return given
        state = ctx.scratch(self.state_shape, self.x.elem)
        d, b, h = self.state_shape
        dst = contiguous_strides([d, b, h])
        copy_region(ctx, given, state, self.state_shape, [h, d * h, 1], dst)
        return state

    def recurrent_product(self, state: TensorRef, weights: TensorRef, rows: int) -> TensorRef:
        """`state[d] @ weights[d]^T` for each direction: `[directions, batch, rows]`."""
        out = self.ctx.scratch((self.directions, self.batch, rows), self.x.elem)
        self.ctx.launch(matmul, 1, 1, [state, weights, out, self.batch, rows, self.hidden,
                                       self.directions, False, True])  # fmt: skip
        return out

    def write_state(self, index: int, state: TensorRef) -> None:
        """Output `index` (Y_h or Y_c) from the final `[directions, batch, hidden]` state."""
        ctx = self.ctx
        if not ctx.has_output(index):
            return
        out = ctx.output(index, self._state_layout_shape(), self.x.elem)
        d, b, h = self.state_shape
        dst = contiguous_strides([d, b, h]) if self.layout == 0 else [h, d * h, 1]
        copy_region(ctx, state, out, self.state_shape, contiguous_strides([d, b, h]), dst)

    def _state_layout_shape(self) -> tuple[int, int, int]:
        d, b, h = self.state_shape
        return (d, b, h) if self.layout == 0 else (b, d, h)


def begin(ctx: OpContext, gates: int, default_acts: tuple[str, ...]) -> Recurrence:
    """Check a recurrent node's inputs and attributes, compute `X @ W^T`, declare `Y`."""
    x, w, r = ctx.input(0), ctx.input(1), ctx.input(2)
    if x.elem not in FLOATS:
        raise ctx.unsupported(f"takes floating-point tensors, got {types.elem_name(x.elem)}")
    direction = ctx.attr("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ctx.error(f"unknown direction {direction!r}")
    directions = 2 if direction == "bidirectional" else 1
    layout = int(ctx.attr("layout", 0)) if ctx.opset >= 14 else 0
    if x.rank != 3 or layout not in (0, 1):
        raise ctx.error(f"X must have rank 3 and layout 0 or 1, got {x} and layout {layout}")
    steps, batch = (x.shape[0], x.shape[1]) if layout == 0 else (x.shape[1], x.shape[0])
    size = x.shape[2]
    hidden = int(ctx.attr("hidden_size", r.shape[-1] if r.rank == 3 else 0))
    width = gates * hidden
    for name, ref, shape in (("W", w, (directions, width, size)),
                             ("R", r, (directions, width, hidden))):  # fmt: skip
        if ref.shape != shape or ref.elem != x.elem:
            raise ctx.error(f"{name} must be {types.elem_name(x.elem)}{list(shape)}, got {ref}")
    if steps == 0 or batch == 0 or hidden == 0 or size == 0:
        raise ctx.unsupported(f"empty sequences, batches or sizes (X {x}, hidden {hidden})")
    compute = DType.F64 if x.elem == types.DOUBLE else DType.F32
    if ctx.has_input(3):
        bias = ctx.input(3)
        if bias.shape != (directions, 2 * width) or bias.elem != x.elem:
            raise ctx.error(f"B must be [{directions}, {2 * width}], got {bias}")
    else:
        bias = filled(ctx, (directions, 2 * width), x.elem, 0)
    if ctx.has_input(4):
        seq_lens = ctx.input(4)
        if seq_lens.shape != (batch,) or seq_lens.elem != types.INT32:
            raise ctx.error(f"sequence_lens must be int32[{batch}], got {seq_lens}")
    else:
        seq_lens = filled(ctx, (batch,), types.INT32, steps)
    xw = ctx.scratch((steps * batch, directions * width), x.elem)
    ctx.launch(matmul, 1, 1, [x, w, xw, steps * batch, directions * width, size, 1, False, True])
    y_shape = ((steps, directions, batch, hidden) if layout == 0
               else (batch, steps, directions, hidden))  # fmt: skip
    y = ctx.output(0, y_shape, x.elem) if ctx.has_output(0) else ctx.scratch(y_shape, x.elem)
    if layout == 0:
        x_ts, x_bs = batch, 1
        y_ts, y_ds, y_bs = directions * batch * hidden, batch * hidden, hidden
    else:
        x_ts, x_bs = 1, steps
        y_ts, y_ds, y_bs = directions * hidden, hidden, steps * directions * hidden
    geometry = dict(hidden=hidden, batch=batch, steps=steps,
                    reverse_first=int(direction == "reverse"), x_ts=x_ts, x_bs=x_bs,
                    y_ts=y_ts, y_ds=y_ds, y_bs=y_bs, xw_width=directions * width)  # fmt: skip
    table = np.array([geometry[name] for name in GEOMETRY], np.int32)
    clip = ctx.attr("clip", None)
    params, codes, reverse_codes = _activations(ctx, default_acts, directions)
    return Recurrence(
        ctx, x, w, r, gates, directions, hidden, batch, steps, layout, compute, bias, seq_lens,
        ctx.constant(params, types.FLOAT), codes, reverse_codes,
        ctx.constant(table, types.INT32), xw, y, float(clip) if clip is not None else 0.0,
    )  # fmt: skip


def _activations(
    ctx: OpContext, defaults: tuple[str, ...], directions: int
) -> tuple[np.ndarray, list[int], list[int]]:
    """The `params` table (per direction three slots of alpha, beta), the activation codes
    of direction 0 and those of direction 1 (-1 where the same as direction 0)."""
    names = [str(n).lower() for n in ctx.attr("activations", [])] or list(defaults) * directions
    if len(names) == len(defaults) and directions == 2:
        names = names * 2
    if len(names) != len(defaults) * directions:
        raise ctx.error(f"activations {names} should name {len(defaults)} per direction")
    alphas = list(ctx.attr("activation_alpha", []))
    betas = list(ctx.attr("activation_beta", []))
    table = np.zeros((directions, 3, 2), np.float32)
    codes = np.full((2, 3), -1)
    for k, name in enumerate(names):
        if name not in ACTIVATIONS:
            raise ctx.unsupported(f"activation {name!r}")
        alpha = alphas.pop(0) if name in _ALPHA and alphas else _ALPHA.get(name, 0.0)
        beta = betas.pop(0) if name in _BETA and betas else _BETA.get(name, 0.0)
        d, slot = divmod(k, len(defaults))
        table[d, slot] = (alpha, beta)
        codes[d, slot] = ACTIVATIONS.index(name)
    forward = [int(c) for c in codes[0]]
    reverse = [int(c) if c != f else -1 for c, f in zip(codes[1], forward, strict=True)]
    return table.reshape(-1), forward, reverse
