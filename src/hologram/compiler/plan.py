"""A plan: the launches that run a graph for one set of concrete input shapes.

A plan is flat. Every tensor it touches has an id and a `TensorSpec` (element type, shape,
where its memory comes from), and its steps are kernel launches and guards, in order:

- `LaunchStep`: one ISA program over a grid, with tensor ids and scalars as arguments;
- `GuardStep`: the plan was made for a particular value of a small runtime tensor (a shape
  fed as an input, the trip count of a Loop); the runner checks it and plans again if it
  differs.

Tensors are graph inputs, constants (folded values and weights), temporaries (placed in one
arena by `memory.plan_arena`), outputs, or aliases (a view of another tensor's memory under
another shape: Reshape, Squeeze, Flatten cost nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.isa.dtypes import DType
from hologram.isa.program import Program

INPUT, CONST, TEMP, ALIAS = "input", "const", "temp", "alias"


@dataclass
class TensorSpec:
    """One tensor of a plan."""

    id: int
    elem: int
    shape: tuple[int, ...]
    kind: str
    """INPUT, CONST, TEMP or ALIAS."""
    name: str = ""
    source: int | None = None
    """For ALIAS: the id of the tensor whose memory this views (never itself an alias)."""
    const: int | None = None
    """For CONST: the index of its data in `Plan.constants`."""
    input: str | None = None
    """For INPUT: the graph input's name."""

    @property
    def dtype(self) -> DType:
        """The ISA dtype the tensor is stored as."""
        return types.storage_dtype(self.elem, self.name)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


@dataclass
class LaunchStep:
    """Launch `programs[program]` over `grid` x `block` with `args`."""

    program: int
    grid: tuple[int, ...]
    block: tuple[int, ...]
    args: list[tuple[bool, Any]]
    """Per program parameter: (True, tensor id) or (False, scalar value)."""
    node: str = ""
    """The node this launch computes, for profiles and messages."""


@dataclass
class GuardStep:
    """The plan holds while tensor `tensor` equals `expected` at this point."""

    tensor: int
    expected: np.ndarray
    node: str = ""


Step = LaunchStep | GuardStep


@dataclass
class Plan:
    """Everything needed to run a graph for one input signature."""

    tensors: dict[int, TensorSpec] = field(default_factory=dict)
    """Tensor id -> spec (ids need not be contiguous: folded constants that no launch reads
    take no spec)."""
    steps: list[Step] = field(default_factory=list)
    programs: list[Program] = field(default_factory=list)
    constants: list[np.ndarray] = field(default_factory=list)
    """Constant data as stored (storage dtype, C-contiguous)."""
    inputs: dict[str, int] = field(default_factory=dict)
    """Graph input name -> tensor id."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """Graph output name -> binding: {"tensor": id}, {"sequence": [bindings]} or
    {"none": True} (an empty optional)."""
    arena: dict[int, int] = field(default_factory=dict)
    """TEMP tensor id -> byte offset in the arena (filled by `memory.plan_arena`)."""
    arena_bytes: int = 0
    naive_bytes: int = 0
    """What the temporaries would take with one allocation each."""

    def signature(self) -> tuple[tuple[str, int, tuple[int, ...]], ...]:
        """(name, elem, shape) of each input, sorted: the key plans are cached under."""
        return tuple(
            sorted(
                (name, self.tensors[t].elem, self.tensors[t].shape)
                for name, t in self.inputs.items()
            )
        )

    def output_ids(self) -> list[int]:
        """Every tensor id that some output binding names."""
        found: list[int] = []

        def visit(binding: Any) -> None:
            if "tensor" in binding:
                found.append(binding["tensor"])
            for inner in binding.get("sequence", ()):
                visit(inner)

        for binding in self.outputs.values():
            visit(binding)
        return found

    def has_guards(self) -> bool:
        return any(isinstance(s, GuardStep) for s in self.steps)
