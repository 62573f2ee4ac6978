"""ai.hologram.FusedElementwise: a tree of elementwise ops computed in one kernel.

Made by the fusion pass (`compiler/passes/fuse_elementwise.py`). Each step calls the
`@hg.func` of its op at the model's opset (`_elementwise.LOWERINGS`) on fused inputs and
earlier results; the attribute scalars of a step (LeakyRelu's alpha) are extra one-element
inputs. The kernel is `kernels/_fuse.py`'s fused kernel, so broadcasting works as for a
single op.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._elementwise import LOWERINGS, launch_map
from hologram.onnx.registry import HOLOGRAM_DOMAIN, lookup, onnx_op
from hologram.ops._broadcast import broadcast_shapes

_MISSING = object()


class StepView:
    """What an elementwise definition's `scalars` and `check` read of one fused step."""

    def __init__(self, ctx: OpContext, op_type: str, attrs: dict[str, Any], opset: int) -> None:
        self._ctx = ctx
        self.op_type = op_type
        self.opset = opset
        self._attrs = attrs

    def attr(self, name: str, default: Any = _MISSING) -> Any:
        if name in self._attrs:
            return self._attrs[name]
        if default is _MISSING:
            raise self._ctx.error(f"fused step {self.op_type}: attribute {name!r} is required")
        return default

    def error(self, message: str) -> Exception:
        return self._ctx.error(f"fused step {self.op_type}: {message}")

    def unsupported(self, message: str) -> Exception:
        return self._ctx.unsupported(f"fused step {self.op_type}: {message}")

    def where(self) -> str:
        return f"{self._ctx.where()} step {self.op_type}"


@onnx_op("FusedElementwise", since=1, domain=HOLOGRAM_DOMAIN)
def fused_elementwise(ctx: OpContext) -> None:
    """Run the fused steps (attribute `steps`, JSON) over the node's inputs."""
    steps = json.loads(ctx.attr("steps"))
    opset = int(ctx.attr("opset", 1))
    inputs: list[TensorRef] = [ctx.input(i) for i in range(ctx.n_inputs)]
    elems = [ref.elem for ref in inputs]
    shapes = [ref.shape for ref in inputs]
    kernel_steps: list[tuple[Any, tuple[int, ...]]] = []
    # Scalars become extra inputs after the node's own; step results are numbered after all
    # inputs, so the step arguments are renumbered once every scalar is known.
    scalar_inputs: list[TensorRef] = []
    plans = []
    compute = None
    for step in steps:
        # The definition registered for the model's opset, as the fusion pass chose it (an op
        # whose semantics changed between opsets has one definition per range).
        definition = LOWERINGS[lookup(step["op"], "", opset, ctx.where()).function]
        view = StepView(ctx, step["op"], step.get("attrs", {}), opset)
        arg_elems = [elems[a] for a in step["args"]]
        out_elem = definition.out(arg_elems)
        step_compute = definition.compute(arg_elems, out_elem)
        if compute is None:
            compute = step_compute
        elif step_compute is not compute:
            raise ctx.error(f"fused steps compute in {compute} and {step_compute}")
        if definition.check is not None:
            definition.check(view, [TypedElem(e) for e in arg_elems])
        extra = [] if definition.scalars is None else list(definition.scalars(view))
        scalars = []
        for value in extra:
            scalar_inputs.append(ctx.constant(np.array([value], compute.numpy)))
            scalars.append(("scalar", len(scalar_inputs) - 1))
        plans.append((definition.func, step["args"], scalars))
        elems.append(out_elem)
        shapes.append(broadcast_shapes([shapes[a] for a in step["args"]], ctx.op_type))
    n_inputs = len(inputs)
    n_all = n_inputs + len(scalar_inputs)
    for func, args, scalars in plans:
        renumbered = tuple(a if a < n_inputs else a - n_inputs + n_all for a in args)
        extra_args = tuple(n_inputs + k for _, k in scalars)
        kernel_steps.append((func, renumbered + extra_args))
    result = ctx.output(0, shapes[-1], elems[-1])
    label = ctx.attr("label", "fused")
    digest = hashlib.sha1(ctx.attr("steps").encode()).hexdigest()[:8]
    launch_map(
        ctx,
        kernel_steps,
        [*inputs, *scalar_inputs],
        result,
        compute,
        name=f"onnx_fused_{_identifier(label)}_{digest}",
    )


class TypedElem:
    """An element type standing in for a TensorRef in a definition's `check`."""

    def __init__(self, elem: int) -> None:
        self.elem = elem


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[:40]
