"""Running a plan again and again: memory bound once, then launches only.

`PlanRunner` binds a `Plan` to an executor: constants become buffers once (zero-copy views of
the mapped artifact on host backends), the temporaries get one arena allocation with a
native view per tensor at its planned offset, and every launch is bound once
(`Backend.bind_slotted_launch`), leaving open only the arguments that are this run's inputs
or outputs. A run then allocates the outputs and calls each bound launch with this run's
arrays: no allocation beyond the outputs, no argument checking beyond theirs, no graph work.
On host backends the outputs are allocated in the shape users get, and where the inputs are
plain arrays (1-D, C-contiguous, aligned, of their dtype) the launches skip even those checks
(`bind_slotted_launch`'s `unchecked` launches, where the backend has them).

On backends that can capture graphs (`capture_graph`: cuda), a plan without guard steps runs
as one graph instead: the inputs and outputs get fixed device buffers, the first run launches
every step as above (compiling everything, creating library handles) and then captures the
same launches into a graph; each later run copies the feeds into the input buffers, replays
the graph and reads the outputs from theirs. Guards read device values on the host between
steps, which a graph cannot, so guarded plans keep launching step by step; so does every plan
where the `cuda_graphs` setting is off, and one whose capture fails (logged once).

On device backends a feed may be a Buffer of the executor's backend (device memory the caller
keeps): a step-by-step run binds it as it is, and a graph run copies it into its input buffer
on the device, in order with the replay (`Backend.copy_device`). `output_buffer` gives an
output in device memory without a trip through the host.
"""

from __future__ import annotations

import functools
import logging
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.plan import ALIAS, CONST, INPUT, TEMP, GuardStep, LaunchStep, Plan
from hologram.config import settings
from hologram.isa.program import LaunchConfig

if TYPE_CHECKING:
    from hologram.memory.buffer import Buffer
    from hologram.runtime.executor import Executor

_log = logging.getLogger(__name__)


class GuardFailed(Exception):
    """A guarded value differs from the one the plan was made for: plan again."""


class PlanRunner:
    """A plan bound to an executor's memory (see the module docstring)."""

    def __init__(self, plan: Plan, executor: Executor, graphs: bool | None = None) -> None:
        """`graphs`: whether to capture the plan into a graph where the backend can (None:
        the `cuda_graphs` setting)."""
        self.plan = plan
        self.executor = executor
        self.backend = executor.backend
        self._keep: list[Buffer] = []
        self._natives: dict[int, Any] = {}
        outputs = {self._source(t) for t in plan.output_ids()}
        self._outputs = sorted(t for t in outputs if plan.tensors[t].kind == TEMP)
        self._output_specs = [
            (t, max(plan.tensors[t].size, 1), plan.tensors[t].dtype) for t in self._outputs
        ]
        self._host_outputs = [(t, size, dtype.numpy, _final_shape(plan.tensors[t]))
                              for t, size, dtype in self._output_specs]  # fmt: skip
        """Each output's size, NumPy dtype and the shape a host run allocates it in (None: flat,
        for outputs whose stored form is not what users get)."""
        self._inputs = list(plan.inputs.items())
        self._readers: dict[int, tuple[int, int, int, tuple[int, ...], bool]] = {}
        self.output_buffers: dict[int, Buffer] = {}
        """On device backends, the buffers of the last run's outputs."""
        self._outputs_fresh = False
        """Whether `output_buffers` are the last run's own (a step-by-step run allocates
        them), rather than a graph's fixed buffers that its next replay overwrites."""
        wanted = settings().cuda_graphs if graphs is None else graphs
        self.uses_graph = bool(wanted) and graphs_supported(self.backend, plan)
        """Whether runs replay a captured graph (see the module docstring)."""
        self.graph: Any = None
        """The captured graph, once the first run has made it."""
        self._fixed: dict[int, Any] = {}
        self._fixed_outputs: dict[int, Buffer] = {}
        self.constant_buffers: dict[int, Buffer] = {}
        """Each constant tensor's buffer (`Model.refine` writes those that copy a weight)."""
        arena = None
        if plan.arena_bytes:
            arena = executor.allocate((plan.arena_bytes,), "u8")
            self._keep.append(arena)
        for tensor, spec in plan.tensors.items():
            if spec.kind == CONST:
                data = plan.constants[spec.const]
                buffer = executor.from_numpy(data)
                self._keep.append(buffer)
                self.constant_buffers[tensor] = buffer
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
        # Every step is bound once; the tensors it takes per run (inputs and outputs, which
        # change from run to run) are listed beside it. The outputs a host run allocates are
        # what a launch's fast path takes, and so are inputs that `_host_calls` finds plain:
        # such runs take `_unchecked`, where the backend offers launches skipping the checks.
        self._steps: list[tuple[Callable[..., None], tuple[int, ...]]] = []
        self._unchecked: list[tuple[Callable[..., None], tuple[int, ...]]] = []
        for step in plan.steps:
            if isinstance(step, LaunchStep):
                bound, unchecked = self._bind(step)
                self._steps.append(bound)
                self._unchecked.append(unchecked)
            else:
                source = self._source(step.tensor)
                if source in self._natives:
                    check = functools.partial(self._check, step, self._natives[source])
                    self._steps.append((check, ()))
                else:
                    self._steps.append((functools.partial(self._check, step), (source,)))
                self._unchecked.append(self._steps[-1])
        self._calls = _calls(self._steps)
        self._unchecked_calls = (
            self._calls if self._unchecked == self._steps else _calls(self._unchecked)
        )
        self._input_dtypes = [(name, tensor, plan.tensors[tensor].dtype.numpy)
                              for name, tensor in self._inputs]  # fmt: skip

    def _bind(self, step: LaunchStep) -> tuple[tuple[Callable[..., None], tuple[int, ...]], ...]:
        """The step's launch and the tensors it takes per run, then the same with the launch
        that skips their checks where the backend offers one (and no input is written)."""
        program = self.plan.programs[step.program]
        config = LaunchConfig(step.grid, step.block)
        args: list[Any] = []
        slots: list[int] = []
        tensors: list[int] = []
        for position, (is_tensor, value) in enumerate(step.args):
            if not is_tensor:
                args.append(value)
                continue
            source = self._source(value)
            if source in self._natives:
                args.append(self._natives[source])
            else:
                args.append(None)
                slots.append(position)
                tensors.append(source)
        launch = self.backend.bind_slotted_launch(program, config, args, slots)
        unchecked = getattr(launch, "unchecked", None)
        writes_input = any(
            program.params[position].access.can_write and self.plan.tensors[t].kind == INPUT
            for position, t in zip(slots, tensors, strict=True)
        )
        if unchecked is None or writes_input:
            unchecked = launch
        return (launch, tuple(tensors)), (unchecked, tuple(tensors))

    def _source(self, tensor: int) -> int:
        spec = self.plan.tensors[tensor]
        return spec.source if spec.kind == ALIAS and spec.source is not None else tensor

    def run(self, feeds: dict[str, Any]) -> dict[int, Any]:
        """Run every step with `feeds` (name -> stored 1-D array; on device backends also
        a Buffer of the executor's backend); this run's natives (inputs and outputs) by
        tensor id, for `output_array` and `output_buffer`."""
        if self.uses_graph:
            return self._run_graph(feeds)
        natives: dict[int, Any] = {}
        if self.backend.is_host:
            for name, tensor in self._inputs:
                natives[tensor] = feeds[name]
            for tensor, size, dtype, _ in self._host_outputs:
                natives[tensor] = np.empty(size, dtype)
            self._launch_all(natives, self._host_calls(feeds))
            return natives
        fed: list[Buffer] = []  # kept alive until the launches are done
        for name, tensor in self._inputs:
            value = feeds[name]
            if isinstance(value, np.ndarray):
                value = self.executor.from_numpy(value)
                fed.append(value)
            natives[tensor] = value.native()  # a caller's Buffer is bound as it is
        self._outputs_fresh = True
        self.output_buffers = {}
        for tensor, size, dtype in self._output_specs:
            buffer = self.executor.allocate((size,), dtype)
            self.output_buffers[tensor] = buffer
            natives[tensor] = buffer.native()
        self._launch_all(natives)
        return natives

    def run_outputs(self, feeds: dict[str, Any], tensors: Sequence[int]) -> list[Any]:
        """`run(feeds)`, then `output_array` of each of `tensors`. On host backends outputs
        are allocated in the shape users get and returned as they are: a run of a small model
        is mostly such per-run steps."""
        if self.uses_graph or not self.backend.is_host:
            natives = self.run(feeds)
            return [self.output_array(natives, tensor) for tensor in tensors]
        natives = {tensor: feeds[name] for name, tensor in self._inputs}
        shaped = {}
        for tensor, size, dtype, shape in self._host_outputs:
            if shape is None:
                natives[tensor] = np.empty(size, dtype)
            else:
                array = shaped[tensor] = np.empty(shape, dtype)
                natives[tensor] = array.reshape(-1)
        self._launch_all(natives, self._host_calls(feeds))
        return [
            shaped[tensor] if tensor in shaped else self.output_array(natives, tensor)
            for tensor in tensors
        ]

    def _host_calls(self, feeds: dict[str, Any]) -> list[_Call]:
        """The launches a host run with `feeds` makes: those without checks where every input
        is a 1-D, C-contiguous, aligned array of its tensor's dtype."""
        if self._unchecked_calls is self._calls:
            return self._calls
        for name, _, dtype in self._input_dtypes:
            value = feeds[name]
            if type(value) is not np.ndarray or value.dtype != dtype or value.ndim != 1:
                return self._calls
            flags = value.flags
            if not (flags.c_contiguous and flags.aligned):
                return self._calls
        return self._unchecked_calls

    def _launch_all(self, natives: dict[int, Any], calls: list[_Call] | None = None) -> None:
        for launch, fetch, many in self._calls if calls is None else calls:
            if fetch is None:
                launch()
            elif many:
                launch(*fetch(natives))
            else:
                launch(fetch(natives))

    def _run_graph(self, feeds: dict[str, Any]) -> dict[int, Any]:
        if not self._fixed:
            for _, tensor in self._inputs:
                spec = self.plan.tensors[tensor]
                buffer = self.executor.allocate((max(spec.size, 1),), spec.dtype)
                self._keep.append(buffer)
                self._fixed[tensor] = buffer.native()
            for tensor, size, dtype in self._output_specs:
                buffer = self.executor.allocate((size,), dtype)
                self._fixed_outputs[tensor] = buffer
                self._fixed[tensor] = buffer.native()
        copy_in, copy_device = self.backend.copy_in, self.backend.copy_device
        for name, tensor in self._inputs:
            value = feeds[name]
            if isinstance(value, np.ndarray):
                copy_in(self._fixed[tensor], value)
            else:  # a Buffer: on the device, queued ahead of the replay on the same stream
                copy_device(self._fixed[tensor], value.native(), value.nbytes)
        # The graph writes the same output buffers on every run; readers copy them out.
        self._outputs_fresh = False
        self.output_buffers = self._fixed_outputs
        if self.graph is not None:
            self.graph.replay()
            return self._fixed
        self._launch_all(self._fixed)  # this run's results, and everything compiled
        try:
            self.graph = self.backend.capture_graph(  # type: ignore[attr-defined]
                functools.partial(self._launch_all, self._fixed)
            )
        except Exception as exc:  # a step the capture cannot record: launch step by step
            _log.warning("plan %s runs step by step: graph capture failed: %s", id(self), exc)
            self.uses_graph = False
        return self._fixed

    def _check(self, guard: GuardStep, native: Any) -> None:
        spec = self.plan.tensors[guard.tensor]
        if self.backend.is_host:
            current = np.asarray(native).reshape(-1)[: spec.size]
        else:
            current = self.backend.copy_out(native, spec.nbytes).view(spec.dtype.numpy)
        if not np.array_equal(current, guard.expected):
            raise GuardFailed(f"{guard.node}: a guarded value changed")

    def output_array(self, natives: dict[int, Any], tensor: int) -> np.ndarray:
        """The user-facing array of output `tensor` after `run` (a copy for device memory,
        and for outputs that are inputs or constants, whose memory is not the run's own)."""
        source, size, elem, shape, owned = self._reader(tensor)
        native = natives[source] if source in natives else self._natives[source]
        if self.backend.is_host:
            flat = np.asarray(native).reshape(-1)[:size]
            if not owned:
                flat = flat.copy()
        elif source in self.output_buffers:
            flat = self.output_buffers[source].to_numpy().reshape(-1)[:size]
        else:
            spec = self.plan.tensors[tensor]
            source_spec = self.plan.tensors[source]
            raw = self.backend.copy_out(native, source_spec.nbytes)
            flat = raw.view(spec.dtype.numpy)[:size]
        return types.from_storage(flat, elem).reshape(shape)

    def output_buffer(self, natives: dict[int, Any], tensor: int) -> Buffer | None:
        """On device backends, output `tensor` of the last `run` as a Buffer of the executor
        in the shape users get, without a trip through the host: the run's own output buffer
        where it has one, else a device copy (of a graph's fixed output, which the next
        replay overwrites, or of an input or constant). None on host backends and for outputs
        whose users get another form (empty, byte-coded, without a plain NumPy dtype):
        `output_array` gives those."""
        if self.backend.is_host:
            return None
        source, size, elem, shape, owned = self._reader(tensor)
        if size < 1 or types.numpy_dtype(elem).kind in "OV":
            return None
        buffer = self.output_buffers.get(source) if owned and self._outputs_fresh else None
        if buffer is not None:
            return buffer if buffer.shape == shape else buffer.reshape(shape)
        native = natives[source] if source in natives else self._natives[source]
        copy = self.executor.allocate(shape, self.plan.tensors[tensor].dtype)
        self.backend.copy_device(copy.native(), native, copy.nbytes)
        return copy

    def _reader(self, tensor: int) -> tuple[int, int, int, tuple[int, ...], bool]:
        """Output `tensor`'s source tensor, size, element type, shape and whether the run
        owns the source's memory (a temporary, not an input or constant)."""
        reader = self._readers.get(tensor)
        if reader is None:
            spec = self.plan.tensors[tensor]
            source = self._source(tensor)
            owned = self.plan.tensors[source].kind == TEMP
            reader = self._readers[tensor] = (source, spec.size, spec.elem, tuple(spec.shape),
                                              owned)  # fmt: skip
        return reader


_Call = tuple[Callable[..., None], Callable[[dict], Any] | None, bool]
"""A step as `_launch_all` makes it: the launch, what fetches its run tensors from the run's
natives (None: it takes none) and whether that is several (a tuple) or one."""


def _calls(steps: list[tuple[Callable[..., None], tuple[int, ...]]]) -> list[_Call]:
    return [
        (launch, operator.itemgetter(*tensors) if tensors else None, len(tensors) > 1)
        for launch, tensors in steps
    ]


def _final_shape(spec: Any) -> tuple[int, ...] | None:
    """The shape a host run allocates an output in: its own where its storage is what users
    get (not byte-coded) and it has elements; None (a flat array) otherwise."""
    if spec.size < 1 or types.is_byte_coded(spec.elem):
        return None
    return tuple(spec.shape)


def graphs_supported(backend: Any, plan: Plan) -> bool:
    """Whether `plan` can run as a captured graph on `backend`: the backend captures graphs
    and no step of the plan reads device values on the host (guards)."""
    return callable(getattr(backend, "capture_graph", None)) and not plan.has_guards()
