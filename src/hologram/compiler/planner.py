"""The planner: walks a graph for concrete input shapes and records a `Plan`.

It runs in one of two modes:
- **compile** (no executor): at `hologram compile` time, for models whose input shapes are
  all known. Nothing runs but constant folding; an op that needs the value of a runtime
  tensor raises `NeedsRuntimeValue` and the model is left to be planned at its first run.
- **trace** (an executor and the feeds): at the first run for a new input signature. Every
  launch runs as it is recorded, so any value can be read; reads of runtime values become
  guards, and the result of the run is the trace's own outputs.

In both modes a node whose inputs are all known is folded: its launches run on the
`reference` backend and its outputs become constants of the plan (shape arithmetic, weight
transposes, everything computed from initializers alone).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext, OptionalRef, Ref, SequenceRef, TensorRef
from hologram.compiler.plan import (
    ALIAS,
    CONST,
    INPUT,
    TEMP,
    GuardStep,
    LaunchStep,
    Plan,
    TensorSpec,
)
from hologram.errors import HologramError, ModelError
from hologram.isa.program import LaunchConfig, Program
from hologram.onnx import registry

if TYPE_CHECKING:
    from hologram.compiler.graph import Graph, Node
    from hologram.memory.buffer import Buffer
    from hologram.runtime.executor import Executor

Scope = MutableMapping[str, Ref]


class NeedsRuntimeValue(Exception):
    """Compile mode met an op that needs the value of a tensor known only at run time."""


_FOLD_EXECUTOR: Executor | None = None


def fold_executor() -> Executor:
    """The executor constant folding runs on (the reference backend, made once)."""
    global _FOLD_EXECUTOR
    if _FOLD_EXECUTOR is None:
        from hologram.runtime.executor import Executor

        _FOLD_EXECUTOR = Executor("reference")
    return _FOLD_EXECUTOR


class Planner:
    """Records the plan of one graph (see the module docstring)."""

    def __init__(
        self, opsets: dict[str, int], executor: Executor | None = None, fold: bool = True
    ) -> None:
        self.opsets = {("" if k == "ai.onnx" else k): v for k, v in opsets.items()}
        self.executor = executor
        self.fold = fold
        self.plan = Plan()
        self.buffers: dict[int, Buffer] = {}
        self._next_id = 0
        self._program_index: dict[int, int] = {}
        self._scopes: list[Scope] = []

    # ------------------------------------------------------------ entry point
    def plan_graph(
        self,
        graph: Graph,
        input_types: dict[str, Any],
        feeds: dict[str, np.ndarray] | None = None,
    ) -> Plan:
        """Plan `graph` for inputs of `input_types`; with `feeds`, run it as it is planned.

        `input_types` maps each graph input to `(elem, shape)` for a tensor, to
        `("sequence", elem, [(elem, shape), ...])` for a sequence, or to None for an absent
        optional. `feeds` holds the stored arrays by flat key (`flat_key`).
        """
        scope: Scope = {}
        for name, array in graph.initializers.items():
            scope[name] = self.constant_ref(array, graph.initializer_elems[name])
        for info in graph.inputs:
            spec = input_types.get(info.name)
            if spec is None:
                scope[info.name] = OptionalRef(info.type.elem, None, _optional_kind(info.type))
            elif spec[0] == "sequence":
                items = [
                    self._input(flat_key(info.name, k), elem, shape, feeds)
                    for k, (elem, shape) in enumerate(spec[2])
                ]
                ref: Ref = SequenceRef(spec[1], items)
                if info.type.kind == "optional":
                    ref = OptionalRef(spec[1], ref, "sequence")
                scope[info.name] = ref
            else:
                ref = self._input(info.name, spec[0], spec[1], feeds)
                if info.type.kind == "optional":
                    ref = OptionalRef(spec[0], ref, "tensor")
                scope[info.name] = ref
        self.run_nodes(graph.nodes, scope)
        for info in graph.outputs:
            if info.name not in scope:
                raise ModelError(f"graph output {info.name!r} is never produced")
            self.plan.outputs[info.name] = self.binding(scope[info.name])
        return self.plan

    def _input(
        self, key: str, elem: int, shape: tuple[int, ...], feeds: dict[str, np.ndarray] | None
    ) -> TensorRef:
        ref = self.new_tensor(elem, tuple(shape), None, kind=INPUT)
        self.plan.tensors[ref.id].input = key
        self.plan.tensors[ref.id].name = key
        self.plan.inputs[key] = ref.id
        if self.executor is not None and feeds is not None:
            self.buffers[ref.id] = self.executor.from_numpy(feeds[key].reshape(-1))
        return ref

    def binding(self, ref: Ref) -> dict[str, Any]:
        """The output binding of `ref` (see `Plan.outputs`); constants are materialised."""
        if isinstance(ref, TensorRef):
            self.materialize(ref)
            return {"tensor": ref.id}
        if isinstance(ref, SequenceRef):
            return {"sequence": [self.binding(item) for item in ref.items], "elem": ref.elem}
        if isinstance(ref, OptionalRef):
            if ref.value is None:
                return {"none": True, "kind": ref.kind, "elem": ref.elem}
            return {"optional": self.binding(ref.value)}
        return {"none": True, "kind": "tensor", "elem": 0}

    # ------------------------------------------------------------ nodes
    def run_nodes(self, nodes: list[Node], scope: Scope) -> None:
        """Lower `nodes` in order, binding their outputs in `scope`."""
        self._scopes.append(scope)
        try:
            self._run_nodes(nodes, scope)
        finally:
            self._scopes.pop()

    def _run_nodes(self, nodes: list[Node], scope: Scope) -> None:
        for node in nodes:
            inputs: list[Ref] = []
            for name in node.inputs:
                if name and name not in scope:
                    raise ModelError(f"{node.where()}: input {name!r} is not defined before it")
                inputs.append(scope[name] if name else None)
            outputs = self.run_node(node, inputs)
            for name, ref in zip(node.outputs, outputs, strict=True):
                if name:
                    scope[name] = ref

    def run_node(self, node: Node, inputs: list[Ref]) -> list[Ref]:
        """Lower one node; its output refs."""
        domain = node.domain
        opset = self.opsets.get(domain, self.opsets.get("", 1))
        entry = registry.lookup(node.op_type, domain, opset, node.where())
        if self.fold and entry.pure and _all_known(inputs) and not _has_subgraph(node):
            return self._fold(node, inputs, entry, opset)
        ctx = OpContext(self, node, inputs, opset)
        try:
            entry.function(ctx)
        except (HologramError, NeedsRuntimeValue):
            raise
        except Exception as exc:
            raise ModelError(
                f"{node.where()}: lowering failed: {type(exc).__name__}: {exc}"
            ) from exc
        ctx.check_declared()
        return ctx.outputs

    def fold_node(self, node: Node, inputs: list[Ref]) -> list[Ref]:
        """Compute `node` on known `inputs` now; its outputs as constants of this plan."""
        domain = node.domain
        opset = self.opsets.get(domain, self.opsets.get("", 1))
        entry = registry.lookup(node.op_type, domain, opset, node.where())
        return self._fold(node, inputs, entry, opset)

    def _fold(self, node: Node, inputs: list[Ref], entry: Any, opset: int) -> list[Ref]:
        sub = Planner(self.opsets, fold_executor(), fold=False)
        ctx = OpContext(sub, node, [sub.import_ref(ref) for ref in inputs], opset)
        try:
            entry.function(ctx)
        except HologramError:
            raise
        except Exception as exc:
            raise ModelError(
                f"{node.where()}: folding failed: {type(exc).__name__}: {exc}"
            ) from exc
        ctx.check_declared()
        return [self.import_ref(sub.export_ref(ref)) for ref in ctx.outputs]

    def import_ref(self, ref: Ref) -> Ref:
        """A copy of a known `ref` (from another planner) as constants of this one."""
        if isinstance(ref, TensorRef):
            assert ref.value is not None
            return self.constant_ref(ref.value, ref.elem)
        if isinstance(ref, SequenceRef):
            return SequenceRef(ref.elem, [self.import_ref(item) for item in ref.items])
        if isinstance(ref, OptionalRef):
            return OptionalRef(ref.elem, self.import_ref(ref.value), ref.kind)
        return None

    def export_ref(self, ref: Ref) -> Ref:
        """`ref` with every tensor's value read back (after a traced run)."""
        if isinstance(ref, TensorRef):
            if ref.value is None:
                ref.value = self.tensor_value(ref)
            return ref
        if isinstance(ref, SequenceRef):
            return SequenceRef(ref.elem, [self.export_ref(item) for item in ref.items])
        if isinstance(ref, OptionalRef):
            return OptionalRef(ref.elem, self.export_ref(ref.value), ref.kind)
        return None

    def run_subgraph(self, graph: Graph, inputs: list[Ref], node: Node) -> list[Ref]:
        """Plan `graph` inline (see `OpContext.run_graph`)."""
        if len(inputs) != len(graph.inputs):
            raise ModelError(f"{node.where()}: subgraph {graph.name!r} takes "
                             f"{len(graph.inputs)} inputs, got {len(inputs)}")  # fmt: skip
        scope: Scope = ChainMap({}, self._scopes[-1] if self._scopes else {})
        for name, array in graph.initializers.items():
            scope[name] = self.constant_ref(array, graph.initializer_elems[name])
        for info, ref in zip(graph.inputs, inputs, strict=True):
            scope[info.name] = ref
        self.run_nodes(graph.nodes, scope)
        missing = [v.name for v in graph.outputs if v.name not in scope]
        if missing:
            raise ModelError(f"{node.where()}: subgraph {graph.name!r} never produces {missing}")
        return [scope[v.name] for v in graph.outputs]

    # ------------------------------------------------------------ tensors
    def new_tensor(
        self, elem: int, shape: tuple[int, ...], node: Node | None, kind: str = TEMP
    ) -> TensorRef:
        """A new tensor of the plan (allocated now while tracing)."""
        ref = TensorRef(self._new_id(), elem, shape)
        name = node.where() if node is not None else ""
        self.plan.tensors[ref.id] = TensorSpec(ref.id, elem, shape, kind, name)
        if self.executor is not None and kind == TEMP:
            self.buffers[ref.id] = self.executor.allocate((ref.size,), types.storage_dtype(elem))
        return ref

    def constant_ref(self, array: np.ndarray, elem: int) -> TensorRef:
        """A constant tensor; it takes a plan entry only once a launch or an output uses it."""
        value = np.asarray(array)
        if elem != types.STRING and not types.is_byte_coded(elem):
            value = value.astype(types.numpy_dtype(elem), copy=False)
        return TensorRef(self._new_id(), elem, tuple(int(d) for d in value.shape), value)

    def alias(self, ref: TensorRef, shape: tuple[int, ...]) -> TensorRef:
        """A view of `ref`'s memory as `shape`."""
        if ref.value is not None:
            return self.constant_ref(ref.value.reshape(shape), ref.elem)
        spec = self.plan.tensors[ref.id]
        source = spec.source if spec.kind == ALIAS else ref.id
        alias = TensorRef(self._new_id(), ref.elem, shape)
        self.plan.tensors[alias.id] = TensorSpec(
            alias.id, ref.elem, shape, ALIAS, spec.name, source
        )
        if self.executor is not None:
            self.buffers[alias.id] = self.buffers[ref.id]
        return alias

    def materialize(self, ref: TensorRef) -> None:
        """Give a constant `ref` its plan entry and data (and a buffer while tracing)."""
        if ref.id in self.plan.tensors:
            return
        assert ref.value is not None
        if ref.elem == types.STRING:
            raise ModelError("string tensors cannot be computed with")
        stored = types.to_storage(ref.value, ref.elem).reshape(-1)
        spec = TensorSpec(ref.id, ref.elem, ref.shape, CONST, const=len(self.plan.constants))
        self.plan.constants.append(stored)
        self.plan.tensors[ref.id] = spec
        if self.executor is not None:
            self.buffers[ref.id] = self.executor.from_numpy(stored)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    # ------------------------------------------------------------ values
    def tensor_value(self, ref: TensorRef) -> np.ndarray:
        """The current value of a traced tensor, as its user-facing array."""
        buffer = self.buffers[ref.id]
        stored = buffer.to_numpy().reshape(-1)[: ref.size]
        return types.from_storage(stored, ref.elem).reshape(ref.shape).copy()

    def read_value(self, ref: TensorRef, node: Node) -> np.ndarray:
        """The host value of `ref`: free when known, else guarded (trace mode only)."""
        if ref.value is not None:
            return ref.value
        if self.executor is None or ref.id not in self.buffers:
            raise NeedsRuntimeValue(f"{node.where()} needs the value of a runtime tensor")
        value = self.tensor_value(ref)
        self.plan.steps.append(
            GuardStep(ref.id, types.to_storage(value, ref.elem).reshape(-1).copy(), node.name)
        )
        ref.value = value
        return value

    # ------------------------------------------------------------ launches
    def launch(self, kernel: Any, grid: Any, block: Any, args: list[Any], node: Node) -> None:
        """Record a launch (see `OpContext.launch`) and run it while tracing."""
        if isinstance(kernel, Program):
            program, runtime = kernel, args
        else:
            program, runtime = kernel.program_for(args)
        config = grid if isinstance(grid, LaunchConfig) else LaunchConfig(grid, block)
        specs: list[tuple[bool, Any]] = []
        for arg in runtime:
            if isinstance(arg, TensorRef):
                self.materialize(arg)
                specs.append((True, arg.id))
            elif isinstance(arg, np.generic):
                specs.append((False, arg.item()))
            else:
                specs.append((False, arg))
        index = self._program_index.get(id(program))
        if index is None or self.plan.programs[index] is not program:
            index = len(self.plan.programs)
            self.plan.programs.append(program)
            self._program_index[id(program)] = index
        self.plan.steps.append(
            LaunchStep(index, config.grid, config.block, specs, node.name or node.op_type)
        )
        if self.executor is not None:
            natives = [self.buffers[v] if is_tensor else v for is_tensor, v in specs]
            self.executor.launch(program, config, args=natives)


def _all_known(inputs: list[Ref]) -> bool:
    for ref in inputs:
        if ref is None:
            continue
        if isinstance(ref, TensorRef):
            if ref.value is None:
                return False
        elif isinstance(ref, SequenceRef):
            if not all(item.value is not None for item in ref.items):
                return False
        elif isinstance(ref, OptionalRef) and not _all_known([ref.value]):
            return False
    return True


def _has_subgraph(node: Node) -> bool:
    from hologram.compiler.graph import subgraphs

    return bool(subgraphs(node))


def flat_key(name: str, index: int) -> str:
    """The feed key of item `index` of sequence input `name`."""
    return f"{name}[{index}]"


def _optional_kind(value_type: Any) -> str:
    inner = getattr(value_type, "inner", None)
    return "sequence" if inner is not None and inner.kind == "sequence" else "tensor"
