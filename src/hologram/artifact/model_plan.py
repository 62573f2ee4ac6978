"""The manifest JSON of a plan, both ways (see `model_json.py` for graphs and weights).

Launch arguments keep their Python type through a tag (`{"int": 3}`, `{"float": "nan"}`,
`{"tensor": 5}`), because a kernel's scalar parameter is typed; guard values and constants
are weights. `check_plan` (in `model_check.py`) then checks that what was read is consistent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hologram.artifact.model_json import (
    WeightIndex,
    WeightTable,
    check,
    count,
    counts,
    decode_float,
    encode_float,
    field,
)
from hologram.compiler.plan import GuardStep, LaunchStep, Plan, Step, TensorSpec
from hologram.errors import ArtifactError
from hologram.isa.program import Program


def plan_to_json(plan: Plan, weights: WeightIndex, kernels: list[int], path: str) -> dict[str, Any]:
    """The manifest form of `plan`; `kernels[i]` is the kernel index of `plan.programs[i]`."""
    return {
        "signature": [[name, elem, list(shape)] for name, elem, shape in plan.signature()],
        "programs": kernels,
        "tensors": [_spec_to_json(spec) for spec in plan.tensors.values()],
        "steps": [
            _step_to_json(step, weights, f"{path}/guard{i}") for i, step in enumerate(plan.steps)
        ],
        "constants": [weights.add(f"{path}/const{i}", c) for i, c in enumerate(plan.constants)],
        "inputs": dict(plan.inputs),
        "outputs": dict(plan.outputs),
        "arena": [[tensor, offset] for tensor, offset in plan.arena.items()],
        "arena_bytes": plan.arena_bytes,
        "naive_bytes": plan.naive_bytes,
    }


def _spec_to_json(spec: TensorSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": spec.id,
        "elem": spec.elem,
        "shape": list(spec.shape),
        "kind": spec.kind,
        "name": spec.name,
    }
    for key in ("source", "const", "input"):
        if getattr(spec, key) is not None:
            doc[key] = getattr(spec, key)
    return doc


def _step_to_json(step: Step, weights: WeightIndex, path: str) -> dict[str, Any]:
    if isinstance(step, GuardStep):
        return {
            "op": "guard",
            "tensor": step.tensor,
            "expected": weights.add(path, step.expected),
            "node": step.node,
        }
    return {
        "op": "launch",
        "program": step.program,
        "grid": list(step.grid),
        "block": list(step.block),
        "args": [_arg_to_json(is_tensor, value, step) for is_tensor, value in step.args],
        "node": step.node,
    }


def _arg_to_json(is_tensor: bool, value: Any, step: LaunchStep) -> dict[str, Any]:
    if is_tensor:
        return {"tensor": value}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"float": encode_float(value)}
    raise ArtifactError(
        f"launch of {step.node!r}: scalar argument {value!r:.60} of type "
        f"{type(value).__name__} cannot be stored"
    )


def plan_from_json(doc: Any, weights: WeightTable, programs: list[Program], where: str) -> Plan:
    """Read `plan_to_json`'s form; `programs` are the model's decoded kernels."""
    plan = Plan()
    for index in field(doc, "programs", list, where):
        index = count(index, f"{where}.programs")
        if index >= len(programs):
            raise ArtifactError(f"{where}.programs: kernel {index} does not exist")
        plan.programs.append(programs[index])
    for i, spec_doc in enumerate(field(doc, "tensors", list, where)):
        spec = _spec_from_json(spec_doc, f"{where}.tensors[{i}]")
        if spec.id in plan.tensors:
            raise ArtifactError(f"{where}.tensors[{i}]: tensor id {spec.id} appears twice")
        plan.tensors[spec.id] = spec
    plan.steps = [
        _step_from_json(step, weights, f"{where}.steps[{i}]")
        for i, step in enumerate(field(doc, "steps", list, where))
    ]
    plan.constants = [
        weights.get(c, f"{where}.constants[{i}]")
        for i, c in enumerate(field(doc, "constants", list, where))
    ]
    plan.inputs = {
        name: count(tensor, f"{where}.inputs.{name}")
        for name, tensor in field(doc, "inputs", dict, where).items()
    }
    plan.outputs = field(doc, "outputs", dict, where)
    for i, pair in enumerate(field(doc, "arena", list, where)):
        entry = counts(pair, f"{where}.arena[{i}]")
        if len(entry) != 2:
            raise ArtifactError(f"{where}.arena[{i}]: {list(entry)} is not [tensor, offset]")
        plan.arena[entry[0]] = entry[1]
    plan.arena_bytes = count(field(doc, "arena_bytes", int, where), f"{where}.arena_bytes")
    plan.naive_bytes = count(field(doc, "naive_bytes", int, where), f"{where}.naive_bytes")
    return plan


def _spec_from_json(doc: Any, where: str) -> TensorSpec:
    spec = TensorSpec(
        count(field(doc, "id", int, where), f"{where}.id"),
        count(field(doc, "elem", int, where), f"{where}.elem"),
        counts(field(doc, "shape", list, where), f"{where}.shape"),
        field(doc, "kind", str, where),
        field(doc, "name", str, where),
    )
    if "source" in doc:
        spec.source = count(doc["source"], f"{where}.source")
    if "const" in doc:
        spec.const = count(doc["const"], f"{where}.const")
    if "input" in doc:
        spec.input = check(doc["input"], str, f"{where}.input")
    return spec


def _step_from_json(doc: Any, weights: WeightTable, where: str) -> Step:
    op = field(doc, "op", str, where)
    node = field(doc, "node", str, where)
    if op == "guard":
        return GuardStep(
            count(field(doc, "tensor", int, where), f"{where}.tensor"),
            weights.get(field(doc, "expected", int, where), f"{where}.expected"),
            node,
        )
    if op != "launch":
        raise ArtifactError(f"{where}.op: unknown step {op!r}")
    args = [
        _arg_from_json(arg, f"{where}.args[{i}]")
        for i, arg in enumerate(field(doc, "args", list, where))
    ]
    return LaunchStep(
        count(field(doc, "program", int, where), f"{where}.program"),
        counts(field(doc, "grid", list, where), f"{where}.grid"),
        counts(field(doc, "block", list, where), f"{where}.block"),
        args,
        node,
    )


def _arg_from_json(doc: Any, where: str) -> tuple[bool, Any]:
    if not isinstance(doc, dict) or len(doc) != 1:
        raise ArtifactError(f"{where}: expected an object with one type tag")
    ((tag, value),) = doc.items()
    if tag == "tensor":
        return True, count(value, where)
    if tag == "bool":
        return False, check(value, bool, where)
    if tag == "int":
        return False, check(value, int, where)
    if tag == "float":
        return False, decode_float(value, where)
    raise ArtifactError(f"{where}: unknown argument tag {tag!r}")
