"""Ops planned once per signature: a repeat call allocates its result and launches.

What an op decides from its inputs' kinds, dtypes and shapes and its static arguments (axes,
flags, coefficients) alone is the same for every call with the same of those: the result's
shape and dtype, the programs, their launch configs and scalar arguments. `apply` prepares
the first call of a signature in full (every check runs), turns the `Prepared` into a `Plan`
that names which launch arguments are the inputs, the result and the op's own scratch
memory, and replays that plan for later calls of the signature. A call that fails a check
records nothing, so it fails again on every call.

Plans serve calls without `out=` whose inputs are all C-contiguous, native-order NumPy arrays
(host backends) or all Buffers of the executor's backend. Scratch memory (the partial results
of a multi-pass reduction, operands converted on a device) is reused across the calls of a
plan when small (`MAX_KEPT_SCRATCH`), in memory outside the class system (whose classes serve
short-lived buffers); the result is new memory, or a large result of an earlier call that
its caller no longer refers to (`_results`). Reuse is safe on host backends, whose
launches finish before the call returns, and on device backends in the order of their stream,
as the class allocator's reuse of freed memory already is. A call that finds the kept scratch
in use by another thread allocates its own. Elementwise ops plan the same way, with a plan of
their own (`elementwise.apply_elementwise`), in the same `Executor.plans`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, Program
from hologram.ops._launch import Prepared
from hologram.ops._operands import default_executor, is_buffer
from hologram.ops._results import RecycledResult

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor

MAX_PLANS = 4096
"""The most plans an executor keeps (all are dropped when it is full)."""
MAX_KEPT_SCRATCH = 1 << 20
"""A plan keeps its scratch memory for the next call up to this many bytes; larger scratch
(converted operands, say) is allocated each call, which costs little beside its work."""

_NOT_PLANNED = object()
"""Stored for a signature whose calls cannot be replayed: they are prepared in full."""


@dataclass(frozen=True, slots=True)
class _Step:
    program: Program
    config: LaunchConfig
    fixed: tuple[Any, ...]
    """The arguments that every call shares; None where `slots` puts a call's memory."""
    slots: tuple[tuple[int, int], ...]
    """(argument position, index into the call's sources: inputs, result, scratch)."""


@dataclass(slots=True)
class Plan:
    """One signature's launches, less the memory of a call."""

    shape: tuple[int, ...]
    dtype: DType
    steps: tuple[_Step, ...]
    scratch: tuple[tuple[tuple[int, ...], DType], ...]
    """The shape and dtype of each scratch buffer, in `("scratch", j)` order."""
    kept: list[Any] | None
    """The scratch buffers reused by the next call, when small enough to keep."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    bound: tuple[Callable[..., None], ...] | None = None
    """Each step's launch bound but for a call's memory (`Executor.bind_open`), made on
    the first replay: an op called once per signature pays nothing for binding."""
    results: RecycledResult = field(default_factory=RecycledResult)
    """The last large result array, reused once the caller has let go of it."""

    def replay(self, ex: Executor, inputs: Sequence[Any], buffers: bool) -> Any:
        """Allocate the result (a Buffer if `buffers`, else an array), launch, return it."""
        if buffers:
            result: Any = ex.allocate(self.shape, self.dtype)
        else:
            result = self.results.array(self.shape, self.dtype.numpy)
        if not self.steps:
            return result
        kept = self.kept
        locked = kept is not None and self.lock.acquire(False)
        try:
            scratch = kept if locked else [ex.allocate(s, d) for s, d in self.scratch]
            sources = (*inputs, result, *scratch)  # type: ignore[misc]
            bound = self.bound
            if bound is None:
                self.bound = bound = tuple(_bind(ex, step, sources) for step in self.steps)
            for step, launch in zip(self.steps, bound, strict=True):
                launch(*[sources[source] for _, source in step.slots])
        finally:
            if locked:
                self.lock.release()
        return result


def _bind(ex: Executor, step: _Step, sources: Sequence[Any]) -> Callable[..., None]:
    args = list(step.fixed)
    for position, source in step.slots:
        args[position] = sources[source]
    return ex.bind_open(step.program, step.config, args, [p for p, _ in step.slots])


def plan_of(prepared: Prepared, n_inputs: int) -> Plan | None:
    """The plan replaying `prepared` for other memory, or None where it cannot be replayed.

    Every memory argument must be an input, the result or scratch memory that `prepared`
    recorded (`Prepared.roles`), or a constant: a read-only table or an executor constant.
    Anything else (a copy made on the host from an input, say) would go stale.
    """
    output = prepared.output
    if output is None or not prepared.replayable:
        return None
    ex = prepared.executor
    sources: dict[int, int] = {id(output.arg): n_inputs}
    scratch: list[Any] = []
    for arg, (role, index) in prepared.roles:
        if role == "input":
            sources[id(arg)] = index
        else:
            sources[id(arg)] = n_inputs + 1 + index
            scratch.append(arg)
    steps = []
    for launch in prepared.launches:
        fixed = list(launch.args)
        slots = []
        for position, arg in enumerate(launch.args):
            source = sources.get(id(arg))
            if source is not None:
                fixed[position] = None
                slots.append((position, source))
            elif not _is_constant(ex, arg):
                return None
        steps.append(_Step(launch.program, launch.config, tuple(fixed), tuple(slots)))
    specs = tuple((tuple(b.shape), b.dtype) for b in scratch)
    if not all(is_buffer(b) for b in scratch):
        return None
    nbytes = sum(math.prod(s) * d.itemsize for s, d in specs)
    kept = [ex.allocate_kept(s, d) for s, d in specs] if nbytes <= MAX_KEPT_SCRATCH else None
    return Plan(output.shape, output.dtype, tuple(steps), specs, kept)


def _is_constant(ex: Executor, arg: Any) -> bool:
    """Whether a launch argument that is no call's memory may be kept by a plan."""
    if isinstance(arg, np.ndarray):
        return not arg.flags.writeable
    if is_buffer(arg):
        return ex.is_constant(arg)
    return isinstance(arg, (int, float, np.generic))


def signature(
    inputs: Sequence[Any], executor: Executor | None
) -> tuple[Executor | None, tuple | None]:
    """(executor, the inputs' part of a plan key); the key is None for calls no plan serves.

    Absent optional inputs are None. Inputs passed more than once add the pattern of their
    repeats, since a plan made for `f(a, a)` would pass one buffer twice to `f(a, b)`.
    """
    first = inputs[0]
    if type(first) is np.ndarray:
        ex = executor if executor is not None else default_executor()
        if not ex.backend.is_host:
            return ex, None
        key: list[Any] = [np.ndarray]
        for v in inputs:
            if v is None:
                key.append(None)
            elif type(v) is np.ndarray and v.ndim and v.flags.c_contiguous and v.dtype.isnative:
                key += (v.dtype, v.shape)
            else:
                return ex, None
    elif is_buffer(first):
        ex = executor if executor is not None else first.executor
        backend = ex.backend
        key = [None]
        for v in inputs:
            if v is None:
                key.append(None)
            elif is_buffer(v) and v.backend is backend:
                key += (v.dtype, v.shape)
            else:
                return ex, None
    else:
        return executor, None
    ids = [id(v) for v in inputs if v is not None]
    if len(set(ids)) < len(ids):
        key.append(tuple(ids.index(i) for i in ids))
    return ex, tuple(key)


def apply(
    static: tuple | None,
    inputs: Sequence[Any],
    executor: Executor | None,
    prepare: Callable[[Executor | None], Prepared],
) -> Any:
    """Run an op: `prepare(executor)()` for its first call of a signature, a plan after.

    `static` (from `static_key`) holds the op's name and whatever else decides its launches
    beside the inputs; None plans nothing.
    """
    if static is None:
        return prepare(executor)()
    ex, key = signature(inputs, executor)
    if key is None:
        return prepare(executor)()
    key = (static, key)
    plans = ex.plans  # type: ignore[union-attr]
    plan = plans.get(key)
    if plan is None:
        prepared = prepare(ex)
        if len(plans) >= MAX_PLANS:
            plans.clear()
        plans[key] = plan_of(prepared, len(inputs)) or _NOT_PLANNED
        return prepared()
    if plan is _NOT_PLANNED:
        return prepare(ex)()
    return plan.replay(ex, inputs, is_buffer(inputs[0]))  # type: ignore[union-attr]


def static_key(*values: Any) -> tuple | None:
    """`values` as the static part of a plan key, told apart where they compare equal
    (`1 == 1.0 == True`): None, bools, ints, floats, strings and tuples of them. None when
    a value is of another type (a list of axes, a NumPy number): such calls plan nothing."""
    key = []
    for value in values:
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is str:
            key.append((kind, value))
        elif kind is float:
            key.append((kind, value.hex()))  # NaN equals itself, -0.0 differs from 0.0
        elif kind is tuple:
            inner = static_key(*value)
            if inner is None:
                return None
            key.append((kind, inner))
        else:
            return None
    return tuple(key)
