"""The consistency rules of a plan read from a `.holo` file, checked before anything runs it.

A plan that decodes is not yet safe to run: its ids, indices and offsets must agree with each
other, so that the runtime never meets a missing tensor, a constant of the wrong size, an
argument of the wrong kind or a temporary outside the arena. `check_plan` states those rules;
each failure is an `ArtifactError` naming the plan and the entry at fault.
"""

from __future__ import annotations

from typing import Any

from hologram.compiler import types
from hologram.compiler.plan import ALIAS, CONST, INPUT, TEMP, GuardStep, Plan
from hologram.errors import ArtifactError, HologramError
from hologram.isa.program import LaunchConfig, ParamKind

TENSOR_KINDS = (INPUT, CONST, TEMP, ALIAS)


def check_plan(plan: Plan, where: str) -> None:
    """Raise ArtifactError unless `plan` is internally consistent (see the module docstring)."""
    for tensor in plan.tensors:
        _check_spec(plan, tensor, f"{where}: tensor {tensor}")
    for index, step in enumerate(plan.steps):
        here = f"{where}: step {index}"
        if isinstance(step, GuardStep):
            spec = _tensor(plan, step.tensor, here)
            expected = step.expected
            if expected.dtype != spec.dtype.numpy or expected.shape != (spec.size,):
                raise ArtifactError(
                    f"{here}: guard value {expected.dtype}{list(expected.shape)} does not match "
                    f"tensor {step.tensor} ({spec.dtype.value}[{spec.size}])"
                )
            continue
        if step.program >= len(plan.programs):
            raise ArtifactError(f"{here}: program {step.program} does not exist")
        program = plan.programs[step.program]
        try:
            LaunchConfig(step.grid, step.block)
        except HologramError as exc:
            raise ArtifactError(f"{here}: {exc}") from None
        if len(step.args) != len(program.params):
            raise ArtifactError(
                f"{here}: {len(step.args)} arguments for program {program.name!r}, which takes "
                f"{len(program.params)}"
            )
        for param, (is_tensor, value) in zip(program.params, step.args, strict=True):
            if is_tensor != (param.kind is not ParamKind.SCALAR):
                wanted = "a scalar" if param.kind is ParamKind.SCALAR else "a tensor"
                raise ArtifactError(f"{here}: parameter {param.name!r} takes {wanted}")
            if is_tensor:
                _tensor(plan, value, f"{here}: parameter {param.name!r}")
    for name, tensor in plan.inputs.items():
        spec = _tensor(plan, tensor, f"{where}: input {name!r}")
        if spec.kind != INPUT:
            raise ArtifactError(f"{where}: input {name!r} is bound to a {spec.kind} tensor")
    for name, binding in plan.outputs.items():
        _check_binding(plan, binding, f"{where}: output {name!r}", 0)
    for tensor, offset in plan.arena.items():
        spec = _tensor(plan, tensor, f"{where}: arena entry {tensor}")
        if spec.kind != TEMP:
            raise ArtifactError(f"{where}: arena entry {tensor} is a {spec.kind} tensor")
        if offset + spec.nbytes > plan.arena_bytes:
            raise ArtifactError(
                f"{where}: tensor {tensor} at arena offset {offset} ({spec.nbytes} bytes) runs "
                f"past the arena's {plan.arena_bytes} bytes"
            )


def _check_spec(plan: Plan, tensor: int, where: str) -> None:
    spec = plan.tensors[tensor]
    if spec.id != tensor:
        raise ArtifactError(f"{where}: filed under id {tensor} but names itself {spec.id}")
    if spec.kind not in TENSOR_KINDS:
        raise ArtifactError(f"{where}: unknown tensor kind {spec.kind!r}")
    try:
        dtype = types.storage_dtype(spec.elem, where)
    except HologramError as exc:
        raise ArtifactError(f"{where}: {exc}") from None
    if spec.kind == CONST:
        if spec.const is None or spec.const >= len(plan.constants):
            raise ArtifactError(f"{where}: constant {spec.const} does not exist")
        data = plan.constants[spec.const]
        if data.dtype != dtype.numpy or data.shape != (spec.size,):
            raise ArtifactError(
                f"{where}: constant {spec.const} is {data.dtype}{list(data.shape)}, the tensor "
                f"needs {dtype.value}[{spec.size}]"
            )
    elif spec.kind == ALIAS:
        source = _tensor(plan, spec.source, where)
        if source.kind == ALIAS:
            raise ArtifactError(f"{where}: aliases alias {spec.source}, itself an alias")
        if spec.nbytes > source.nbytes:
            raise ArtifactError(f"{where}: does not fit the tensor {spec.source} it views")
    elif spec.kind == INPUT and plan.inputs.get(spec.input or "") != tensor:
        raise ArtifactError(f"{where}: input {spec.input!r} is not bound to it")


def _tensor(plan: Plan, tensor: Any, where: str) -> Any:
    known = isinstance(tensor, int) and not isinstance(tensor, bool)
    spec = plan.tensors.get(tensor) if known else None
    if spec is None:
        raise ArtifactError(f"{where}: tensor {tensor!r} does not exist")
    return spec


def _check_binding(plan: Plan, binding: Any, where: str, depth: int) -> None:
    if not isinstance(binding, dict) or depth > 64:
        raise ArtifactError(f"{where}: malformed output binding")
    if "tensor" in binding:
        _tensor(plan, binding["tensor"], where)
    elif "sequence" in binding:
        items = binding["sequence"]
        if not isinstance(items, list):
            raise ArtifactError(f"{where}: 'sequence' is not a list")
        for index, item in enumerate(items):
            _check_binding(plan, item, f"{where}[{index}]", depth + 1)
    elif "optional" in binding:
        _check_binding(plan, binding["optional"], where, depth + 1)
    elif binding.get("none") is not True:
        raise ArtifactError(f"{where}: binding names no tensor, sequence, optional or none")
