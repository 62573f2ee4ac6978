"""What an op's lowering sees: `OpContext`, and the references to values it works with.

An op function (`hologram.onnx.registry.onnx_op`) lowers one node for concrete shapes:

    @onnx_op("Relu", since=6)
    def relu(ctx: OpContext) -> None:
        x = ctx.input(0)                                  # a TensorRef: elem, dtype, shape
        out = ctx.output(0, x.shape, x.elem)              # declare output 0
        ctx.launch(kernel, hg.blocks(out.size), 256, [x, out, out.size, ...])

- `TensorRef` is a tensor of the plan: its ONNX element type, ISA storage dtype and concrete
  shape, and its `value` when it is known while planning (initializers, folded constants,
  shapes). Pass TensorRefs to `launch` where the kernel takes arrays.
- `ctx.value(i)` is the host value of input `i`: free for constants; for a runtime tensor
  the plan records a guard (it is valid only while that tensor has this value). Ask only for
  small tensors that decide shapes (Reshape's shape, Slice's starts, TopK's k).
- `ctx.alias(i, ref, shape)` makes output `i` a view of `ref`'s memory under `shape`.
- `ctx.set_output(i, ref)` passes a value through (Identity, sequences, optionals).
- `ctx.constant(array)` is a plan constant (a lookup table, a layout) to pass to a kernel.
- `ctx.output_value(i, array, elem)` makes output `i` a constant computed from what is known
  while planning: only for results of shapes and attributes (Shape, Size, Constant).
- `ctx.run_graph(graph, refs)` plans a subgraph inline (If, Loop, Scan) and returns its
  outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.compiler import types
from hologram.errors import ModelError, UnsupportedOpError
from hologram.isa.dtypes import DType

if TYPE_CHECKING:
    from hologram.compiler.graph import Graph, Node
    from hologram.compiler.planner import Planner


@dataclass(eq=False)
class TensorRef:
    """A tensor of the plan being made."""

    id: int
    elem: int
    shape: tuple[int, ...]
    value: np.ndarray | None = None
    """The user-facing value when known while planning (None otherwise)."""

    @property
    def dtype(self) -> DType:
        """The ISA dtype the tensor is stored as (what kernels see)."""
        return types.storage_dtype(self.elem)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_constant(self) -> bool:
        return self.value is not None

    def __repr__(self) -> str:
        return f"TensorRef(#{self.id}, {types.elem_name(self.elem)}{list(self.shape)})"


@dataclass(eq=False)
class SequenceRef:
    """A sequence of tensors (ONNX `seq(tensor)`), resolved while planning."""

    elem: int
    items: list[TensorRef] = field(default_factory=list)


@dataclass(eq=False)
class OptionalRef:
    """An ONNX optional: `value` is a TensorRef, a SequenceRef, or None (empty)."""

    elem: int
    value: TensorRef | SequenceRef | None = None
    kind: str = "tensor"
    """What the optional holds when present: `tensor` or `sequence`."""


Ref = TensorRef | SequenceRef | OptionalRef | None
_REQUIRED = object()


class OpContext:
    """One node being lowered (see the module docstring)."""

    def __init__(self, planner: Planner, node: Node, inputs: list[Ref], opset: int) -> None:
        self.planner = planner
        self.node = node
        self.opset = opset
        self._inputs = inputs
        self.outputs: list[Ref] = [None] * len(node.outputs)
        self._declared = [False] * len(node.outputs)

    # ------------------------------------------------------------ the node
    @property
    def op_type(self) -> str:
        return self.node.op_type

    def where(self) -> str:
        """How messages name this node."""
        return self.node.where()

    def error(self, message: str) -> ModelError:
        """A ModelError naming this node (raise it)."""
        return ModelError(f"{self.where()}: {message}")

    def unsupported(self, message: str) -> UnsupportedOpError:
        """An UnsupportedOpError naming this node (raise it)."""
        return UnsupportedOpError(f"{self.where()}: {message}")

    def attr(self, name: str, default: Any = _REQUIRED) -> Any:
        """Attribute `name`, or `default`; a missing required attribute is a ModelError."""
        if name in self.node.attrs:
            return self.node.attrs[name]
        if default is _REQUIRED:
            raise self.error(f"attribute {name!r} is required")
        return default

    # ------------------------------------------------------------ inputs
    @property
    def n_inputs(self) -> int:
        return len(self._inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.node.outputs)

    def has_input(self, i: int) -> bool:
        """True when input `i` is given (not omitted and not past the end)."""
        return i < len(self._inputs) and self.node.inputs[i] != ""

    def has_output(self, i: int) -> bool:
        """True when output `i` is wanted (not omitted and not past the end)."""
        return i < len(self.node.outputs) and self.node.outputs[i] != ""

    def input_ref(self, i: int) -> Ref:
        """Input `i` as it is (tensor, sequence, optional, or None when omitted)."""
        return self._inputs[i] if self.has_input(i) else None

    def input(self, i: int) -> TensorRef:
        """Input `i`, which must be a tensor."""
        ref = self.input_ref(i)
        if isinstance(ref, OptionalRef):
            ref = ref.value
        if not isinstance(ref, TensorRef):
            got = "nothing" if ref is None else type(ref).__name__
            raise self.error(f"input {i} must be a tensor, got {got}")
        return ref

    def optional_input(self, i: int) -> TensorRef | None:
        """Input `i` when given, else None."""
        return self.input(i) if self.has_input(i) else None

    def value(self, i: int | TensorRef) -> np.ndarray:
        """The host value of input `i` (or of a TensorRef); see the module docstring."""
        ref = self.input(i) if isinstance(i, int) else i
        return self.planner.read_value(ref, self.node)

    def ints(self, i: int) -> list[int]:
        """The host value of input `i` as a list of Python ints (shapes, axes, pads)."""
        return [int(v) for v in np.asarray(self.value(i)).reshape(-1)]

    # ------------------------------------------------------------ outputs
    def output(self, i: int, shape: Sequence[int], elem: int) -> TensorRef:
        """Declare output `i`: a new tensor the op's launches must fill."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise self.error(f"output {i} would have a negative dimension {shape}")
        ref = self.planner.new_tensor(elem, shape, self.node)
        return self._set(i, ref)

    def scratch(self, shape: Sequence[int], elem: int) -> TensorRef:
        """A temporary tensor for intermediate results, not an output of the node."""
        return self.planner.new_tensor(elem, tuple(int(d) for d in shape), self.node)

    def alias(self, i: int, ref: TensorRef, shape: Sequence[int]) -> TensorRef:
        """Output `i` is `ref`'s memory viewed as `shape` (same element count)."""
        shape = tuple(int(d) for d in shape)
        if math.prod(shape) != ref.size:
            raise self.error(f"cannot view {ref.size} elements as shape {shape}")
        return self._set(i, self.planner.alias(ref, shape))

    def set_output(self, i: int, ref: Ref) -> Ref:
        """Output `i` is `ref` itself (a pass-through)."""
        return self._set(i, ref)

    def output_value(self, i: int, value: Any, elem: int | None = None) -> TensorRef:
        """Output `i` is a constant known while planning."""
        array = np.asarray(value)
        if elem is None:
            elem = types.elem_of_numpy(array.dtype)
        ref = self.planner.constant_ref(array, elem)
        return self._set(i, ref)

    def _set(self, i: int, ref: Any) -> Any:
        if i >= len(self.outputs):
            raise self.error(f"declares output {i}, but the node has {len(self.outputs)}")
        self.outputs[i] = ref
        self._declared[i] = True
        return ref

    def constant(self, array: Any, elem: int | None = None) -> TensorRef:
        """A constant tensor (a table, a layout) to pass to a kernel."""
        array = np.asarray(array)
        if elem is None:
            elem = types.elem_of_numpy(array.dtype)
        return self.planner.constant_ref(array, elem)

    # ------------------------------------------------------------ work
    def launch(self, kernel: Any, grid: Any, block: Any, args: Sequence[Any]) -> None:
        """Record (and, while tracing, run) a launch of a `@hg.kernel` or an ISA Program.

        Array arguments are TensorRefs; Const arguments of a kernel select its
        specialisation and are not passed at run time.
        """
        self.planner.launch(kernel, grid, block, list(args), self.node)

    def run_graph(self, graph: Graph, inputs: Sequence[Ref]) -> list[Ref]:
        """Plan `graph` inline with `inputs` bound to its inputs; its output refs."""
        return self.planner.run_subgraph(graph, list(inputs), self.node)

    def check_declared(self) -> None:
        """Every wanted output was declared (called by the planner after the op ran)."""
        for i, done in enumerate(self._declared):
            if not done and self.node.outputs[i]:
                raise self.error(f"the lowering of {self.op_type} did not produce output {i}")
