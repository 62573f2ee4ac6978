"""What the training optimizers (Momentum, Adagrad, Adam) share.

Each of them takes a learning rate `R` and a step count `T` (scalars), then `n` tensors to
optimize followed by `n` gradients and `n` of each state tensor, grouped by role:
`R, T, X1..Xn, G1..Gn, V1..Vn[, H1..Hn]`. Its outputs are grouped by role the same way:
`X1_new..Xn_new, V1_new..Vn_new[, H1_new..Hn_new]`. One launch updates one tensor and its
states elementwise, computing in float64; `R` and `T` are read inside the kernel, so they
may change at run time.
"""

from __future__ import annotations

from collections.abc import Callable

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef

BLOCK = 256
"""Lanes per block of the optimizer launches."""

_FLOATS = (types.FLOAT, types.DOUBLE)

UpdateLauncher = Callable[[OpContext, TensorRef, TensorRef, list[TensorRef], list[TensorRef]], None]
"""Launches one tensor's update: `(ctx, rate, steps, [x, g, *states], [x_new, *states_new])`."""


def optimizer_update(ctx: OpContext, n_states: int, launch_one: UpdateLauncher) -> None:
    """Lower an optimizer node with `n_states` state tensors per optimized tensor: check the
    inputs, declare the outputs and call `launch_one` for each tensor that is not empty."""
    roles = 2 + n_states
    count, extra = divmod(ctx.n_inputs - 2, roles)
    if count < 1 or extra:
        raise ctx.error(
            f"takes R, T and {roles} groups of tensors of one size, got {ctx.n_inputs} inputs"
        )
    if ctx.n_outputs != count * (1 + n_states):
        raise ctx.error(f"has {count} tensors to optimize, so {count * (1 + n_states)} outputs, "
                        f"got {ctx.n_outputs}")  # fmt: skip
    rate, steps = ctx.input(0), ctx.input(1)
    if rate.elem not in _FLOATS or rate.size != 1:
        raise ctx.error("the learning rate R must be one float or double")
    if steps.elem != types.INT64 or steps.size != 1:
        raise ctx.error("the step count T must be one int64")
    for k in range(count):
        group = [ctx.input(2 + role * count + k) for role in range(roles)]
        x = group[0]
        if x.elem not in _FLOATS:
            raise ctx.unsupported(f"tensors of type {types.elem_name(x.elem)} (float or double)")
        for ref in group[1:]:
            if ref.shape != x.shape or ref.elem not in _FLOATS:
                raise ctx.error(
                    f"tensor {k}'s gradient and states must be floats of shape {list(x.shape)}"
                )
        outputs = []
        for role, ref in enumerate([x, *group[2:]]):
            index = role * count + k
            wanted = ctx.has_output(index)
            outputs.append(
                ctx.output(index, ref.shape, ref.elem)
                if wanted
                else ctx.scratch(ref.shape, ref.elem)
            )
        if x.size:
            launch_one(ctx, rate, steps, group, outputs)
