"""Running a plan again and again: memory bound once, then launches only.

`PlanRunner` binds a `Plan` to an executor: constants become buffers once (zero-copy views of
the mapped artifact on host backends), the temporaries get one arena allocation with a
native view per tensor at its planned offset, and every launch's argument list is prepared
with slots for the inputs and outputs that change from run to run. A run then fills those
slots and calls the backend's launch for each step: no allocation, no graph work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.plan import ALIAS, CONST, TEMP, GuardStep, LaunchStep, Plan
from hologram.isa.program import LaunchConfig

if TYPE_CHECKING:
    from hologram.memory.buffer import Buffer
    from hologram.runtime.executor import Executor


class GuardFailed(Exception):
    """A guarded value differs from the one the plan was made for: plan again."""


class PlanRunner:
    """A plan bound to an executor's memory (see the module docstring)."""

    def __init__(self, plan: Plan, executor: Executor) -> None:
        self.plan = plan
        self.executor = executor
        self.backend = executor.backend
        self._keep: list[Buffer] = []
        self._natives: dict[int, Any] = {}
        outputs = {self._source(t) for t in plan.output_ids()}
        self._outputs = sorted(t for t in outputs if plan.tensors[t].kind == TEMP)
        self.output_buffers: dict[int, Buffer] = {}
        """On device backends, the buffers of the last run's outputs."""
        arena = None
        if plan.arena_bytes:
            arena = executor.allocate((plan.arena_bytes,), "u8")
            self._keep.append(arena)
        for tensor, spec in plan.tensors.items():
            if spec.kind == CONST:
                data = plan.constants[spec.const]
                buffer = executor.from_numpy(data)
                self._keep.append(buffer)
                self._natives[tensor] = buffer.native()
            elif spec.kind == TEMP and tensor not in outputs:
                offset = plan.arena.get(tensor)
                if offset is None or arena is None:
                    buffer = executor.allocate((max(spec.size, 1),), spec.dtype)
                    self._keep.append(buffer)
                    self._natives[tensor] = buffer.native()
                else:
                    handle = arena.handle
                    self._natives[tensor] = self.backend.view(
                        handle, arena.byte_offset + offset, spec.size, spec.dtype
                    )
        # Launches whose arguments are all constants and arena tensors are bound once; those
        # that read an input or write an output take this run's arrays.
        self._steps: list[tuple[Any, ...]] = []
        for step in plan.steps:
            if isinstance(step, LaunchStep):
                program = plan.programs[step.program]
                config = LaunchConfig(step.grid, step.block)
                if all(not t or self._source(v) in self._natives for t, v in step.args):
                    natives = [self._natives[self._source(v)] if t else v for t, v in step.args]
                    self._steps.append((self.backend.bind_launch(program, config, natives),))
                else:
                    self.backend.compile(program)
                    self._steps.append((program, config, step.args))
            else:
                self._steps.append((None, step, None))

    def _source(self, tensor: int) -> int:
        spec = self.plan.tensors[tensor]
        return spec.source if spec.kind == ALIAS and spec.source is not None else tensor

    def run(self, feeds: dict[str, np.ndarray]) -> dict[int, Any]:
        """Run every step with `feeds` (name -> stored array); the outputs' natives by id."""
        natives = dict(self._natives)
        plan = self.plan
        host = self.backend.is_host
        fed: list[Buffer] = []
        for name, tensor in plan.inputs.items():
            if host:
                natives[tensor] = feeds[name]
            else:
                buffer = self.executor.from_numpy(feeds[name])
                fed.append(buffer)
                natives[tensor] = buffer.native()
        self.output_buffers = {}
        for tensor in self._outputs:
            spec = plan.tensors[tensor]
            if host:
                natives[tensor] = np.empty(spec.size, spec.dtype.numpy)
            else:
                buffer = self.executor.allocate((max(spec.size, 1),), spec.dtype)
                self.output_buffers[tensor] = buffer
                natives[tensor] = buffer.native()
        for tensor, spec in plan.tensors.items():
            if spec.kind == ALIAS and spec.source is not None:
                natives[tensor] = natives[spec.source]
        launch = self.backend.launch
        for step in self._steps:
            if len(step) == 1:
                step[0]()
                continue
            program, config, args = step
            if program is None:
                self._check(config, natives)
                continue
            launch(program, config, [natives[v] if t else v for t, v in args])
        return natives

    def _check(self, guard: GuardStep, natives: dict[int, Any]) -> None:
        spec = self.plan.tensors[guard.tensor]
        native = natives[guard.tensor]
        if self.backend.is_host:
            current = np.asarray(native).reshape(-1)[: spec.size]
        else:
            current = self.backend.copy_out(native, spec.nbytes).view(spec.dtype.numpy)
        if not np.array_equal(current, guard.expected):
            raise GuardFailed(f"{guard.node}: a guarded value changed")

    def output_array(self, natives: dict[int, Any], tensor: int) -> np.ndarray:
        """The user-facing array of output `tensor` after `run` (a copy for device memory,
        and for outputs that are inputs or constants, whose memory is not the run's own)."""
        spec = self.plan.tensors[tensor]
        source = self._source(tensor)
        if self.backend.is_host:
            flat = np.asarray(natives[tensor]).reshape(-1)[: spec.size]
            if self.plan.tensors[source].kind != TEMP:
                flat = flat.copy()
        elif source in self.output_buffers:
            flat = self.output_buffers[source].to_numpy().reshape(-1)[: spec.size]
        else:
            source_spec = self.plan.tensors[source]
            raw = self.backend.copy_out(natives[source], source_spec.nbytes)
            flat = raw.view(spec.dtype.numpy)[: spec.size]
        return types.from_storage(flat, spec.elem).reshape(spec.shape)
