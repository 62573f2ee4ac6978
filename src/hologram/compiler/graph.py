"""The compiler's graph IR: ONNX graphs as plain Python objects that passes can rewrite.

`Graph.from_onnx` reads a `GraphProto` once: attributes become Python values (ints, floats,
strings, lists, NumPy arrays for tensors, `Graph`s for subgraphs), initializers become NumPy
arrays and value types become `ValueType`s. Passes edit `Graph.nodes` in place; `to_json`
and `from_json` give the form stored in a `.holo` manifest (tensors are written by the
caller, which stores them in weight sections and puts their index in the JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.errors import ModelError
from onnx import AttributeProto, GraphProto, TypeProto, numpy_helper

Dim = int | str | None
"""A dimension: a size, a symbolic name (`batch`), or None when nothing is known."""


@dataclass
class ValueType:
    """The type of a graph value: a tensor, a sequence or an optional of one."""

    kind: str = "tensor"
    """`tensor`, `sequence`, `optional` or `unknown`."""
    elem: int = 0
    """The ONNX element type of the tensor (or of the sequence's/optional's tensors); 0 if
    unknown."""
    shape: tuple[Dim, ...] | None = None
    """The dimensions; None when the rank is unknown."""
    inner: ValueType | None = None
    """The element type of a sequence or optional."""

    @staticmethod
    def from_onnx(proto: TypeProto) -> ValueType:
        """Read a `TypeProto`."""
        which = proto.WhichOneof("value")
        if which == "tensor_type":
            tensor = proto.tensor_type
            shape = None
            if tensor.HasField("shape"):
                shape = tuple(_dim(d) for d in tensor.shape.dim)
            return ValueType("tensor", tensor.elem_type, shape)
        if which == "sequence_type":
            inner = ValueType.from_onnx(proto.sequence_type.elem_type)
            return ValueType("sequence", inner.elem, None, inner)
        if which == "optional_type":
            inner = ValueType.from_onnx(proto.optional_type.elem_type)
            return ValueType("optional", inner.elem, None, inner)
        return ValueType("unknown")

    def to_json(self) -> dict[str, Any]:
        """The manifest form."""
        doc: dict[str, Any] = {"kind": self.kind, "elem": self.elem}
        if self.shape is not None:
            doc["shape"] = list(self.shape)
        if self.inner is not None:
            doc["inner"] = self.inner.to_json()
        return doc

    @staticmethod
    def from_json(doc: dict[str, Any]) -> ValueType:
        """Read `to_json`'s form."""
        shape = doc.get("shape")
        inner = doc.get("inner")
        return ValueType(
            doc.get("kind", "tensor"),
            int(doc.get("elem", 0)),
            None if shape is None else tuple(shape),
            None if inner is None else ValueType.from_json(inner),
        )

    def describe(self) -> str:
        """`float32[batch, 3]`-style text for messages and tables."""
        if self.kind in ("sequence", "optional") and self.inner is not None:
            return f"{self.kind}<{self.inner.describe()}>"
        name = types.elem_name(self.elem) if self.elem else "?"
        if self.shape is None:
            return f"{name}[...]"
        return f"{name}[{', '.join('?' if d is None else str(d) for d in self.shape)}]"


def _dim(proto: Any) -> Dim:
    if proto.HasField("dim_value"):
        # Shape inference writes -1 where it knows nothing (e.g. in If branches).
        return int(proto.dim_value) if proto.dim_value >= 0 else None
    if proto.HasField("dim_param") and proto.dim_param:
        return proto.dim_param
    return None


@dataclass
class ValueInfo:
    """A named graph input or output with its type."""

    name: str
    type: ValueType = field(default_factory=ValueType)


@dataclass
class Node:
    """One operator application."""

    op_type: str
    inputs: list[str]
    """Input value names; "" marks an omitted optional input."""
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""
    name: str = ""

    def where(self) -> str:
        """`node 'conv1' (Conv)`: how messages name this node."""
        label = f"node {self.name!r}" if self.name else f"node producing {self.outputs[:1]}"
        return f"{label} ({self.op_type})"


@dataclass
class Graph:
    """A graph: nodes in topological order, typed inputs and outputs, initializers."""

    name: str
    nodes: list[Node]
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    """Constant tensors by name, as their user-facing arrays."""
    initializer_elems: dict[str, int] = field(default_factory=dict)
    """The ONNX element type of each initializer."""
    value_types: dict[str, ValueType] = field(default_factory=dict)
    """Types of intermediate values that shape inference found."""

    @staticmethod
    def from_onnx(proto: GraphProto, base_dir: str | None = None) -> Graph:
        """Read a `GraphProto` (external data is resolved relative to `base_dir`)."""
        initializers: dict[str, np.ndarray] = {}
        elems: dict[str, int] = {}
        for tensor in proto.initializer:
            initializers[tensor.name] = tensor_to_array(tensor, base_dir)
            elems[tensor.name] = tensor.data_type
        for sparse in proto.sparse_initializer:
            name = sparse.values.name
            initializers[name] = _sparse_to_array(sparse, base_dir)
            elems[name] = sparse.values.data_type
        # Graph inputs that are also initializers are constants with a default: the
        # compiler treats them as constants (ONNX IR >= 4 lets them be overridden; we do not).
        inputs = [
            ValueInfo(v.name, ValueType.from_onnx(v.type))
            for v in proto.input
            if v.name not in initializers
        ]
        outputs = [ValueInfo(v.name, ValueType.from_onnx(v.type)) for v in proto.output]
        value_types = {v.name: ValueType.from_onnx(v.type) for v in proto.value_info}
        nodes = [
            Node(
                n.op_type,
                list(n.input),
                list(n.output),
                {a.name: attribute_value(a, base_dir) for a in n.attribute},
                n.domain if n.domain != "ai.onnx" else "",
                n.name,
            )
            for n in proto.node
        ]
        return Graph(proto.name, nodes, inputs, outputs, initializers, elems, value_types)

    def type_of(self, name: str) -> ValueType | None:
        """The type of value `name`: inferred, or declared as a graph input or output."""
        known = self.value_types.get(name)
        if known is not None:
            return known
        for info in (*self.inputs, *self.outputs):
            if info.name == name:
                return info.type
        return None

    def elem_of(self, name: str) -> int:
        """The ONNX element type of tensor `name` (an initializer's too); 0 when unknown."""
        value_type = self.type_of(name)
        if value_type is not None and value_type.kind == "tensor":
            return value_type.elem
        return self.initializer_elems.get(name, 0)

    def static_shape(self, name: str) -> tuple[Any, ...] | None:
        """The shape of `name` (an initializer's first; dimensions may be symbolic), or None
        when its rank or any dimension is unknown."""
        if name in self.initializers:
            return tuple(np.shape(self.initializers[name]))
        value_type = self.type_of(name)
        if value_type is None or value_type.shape is None or None in value_type.shape:
            return None
        return tuple(value_type.shape)

    def producers(self) -> dict[str, Node]:
        """Each value name -> the node that produces it."""
        return {out: node for node in self.nodes for out in node.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        """Each value name -> the nodes that read it (subgraph reads count for their node)."""
        found: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in {*node.inputs, *outer_names(node)}:
                if name:
                    found.setdefault(name, []).append(node)
        return found

    def walk(self, visit: Callable[[Graph], None]) -> None:
        """Call `visit` on this graph and every subgraph inside it."""
        visit(self)
        for node in self.nodes:
            for sub in subgraphs(node):
                sub.walk(visit)


def subgraphs(node: Node) -> list[Graph]:
    """The subgraphs among `node`'s attributes (If branches, Loop and Scan bodies)."""
    found: list[Graph] = []
    for value in node.attrs.values():
        if isinstance(value, Graph):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, Graph))
    return found


def outer_names(node: Node) -> set[str]:
    """Names that `node`'s subgraphs read from enclosing scopes."""
    names: set[str] = set()
    for sub in subgraphs(node):
        defined = {v.name for v in sub.inputs} | set(sub.initializers)
        for inner in sub.nodes:
            names.update(n for n in inner.inputs if n and n not in defined)
            names.update(n for n in outer_names(inner) if n not in defined)
            defined.update(inner.outputs)
        names.update(v.name for v in sub.outputs if v.name not in defined)
    return names


def tensor_to_array(tensor: Any, base_dir: str | None = None) -> np.ndarray:
    """A `TensorProto` as a NumPy array (ml_dtypes for float8/4-bit, object for strings)."""
    try:
        return numpy_helper.to_array(tensor, base_dir or "")
    except Exception as exc:  # onnx raises ValueError, TypeError, OSError, ...
        raise ModelError(f"tensor {tensor.name!r} cannot be read: {exc}") from exc


def _sparse_to_array(sparse: Any, base_dir: str | None) -> np.ndarray:
    values = tensor_to_array(sparse.values, base_dir)
    indices = tensor_to_array(sparse.indices, base_dir).astype(np.int64)
    dims = tuple(sparse.dims)
    dense = np.zeros(dims, dtype=values.dtype)
    flat = dense.reshape(-1)
    if indices.ndim == 2:
        indices = np.ravel_multi_index(tuple(indices.T), dims)
    flat[indices] = values
    return dense


def attribute_value(attr: AttributeProto, base_dir: str | None = None) -> Any:
    """An attribute's value as a Python object."""
    kind = attr.type
    if kind == AttributeProto.FLOAT:
        return float(attr.f)
    if kind == AttributeProto.INT:
        return int(attr.i)
    if kind == AttributeProto.STRING:
        return attr.s.decode("utf-8", errors="surrogateescape")
    if kind == AttributeProto.TENSOR:
        return tensor_to_array(attr.t, base_dir)
    if kind == AttributeProto.SPARSE_TENSOR:
        return _sparse_to_array(attr.sparse_tensor, base_dir)
    if kind == AttributeProto.GRAPH:
        return Graph.from_onnx(attr.g, base_dir)
    if kind == AttributeProto.FLOATS:
        return [float(v) for v in attr.floats]
    if kind == AttributeProto.INTS:
        return [int(v) for v in attr.ints]
    if kind == AttributeProto.STRINGS:
        return [s.decode("utf-8", errors="surrogateescape") for s in attr.strings]
    if kind == AttributeProto.TENSORS:
        return [tensor_to_array(t, base_dir) for t in attr.tensors]
    if kind == AttributeProto.GRAPHS:
        return [Graph.from_onnx(g, base_dir) for g in attr.graphs]
    if kind == AttributeProto.TYPE_PROTO:
        return ValueType.from_onnx(attr.tp)
    if kind == AttributeProto.TYPE_PROTOS:
        return [ValueType.from_onnx(t) for t in attr.type_protos]
    raise ModelError(f"attribute {attr.name!r} has an unknown type {kind}")
