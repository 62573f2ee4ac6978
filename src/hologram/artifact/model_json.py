"""The manifest JSON of a compiled model: graphs, value types and weight references.

Tensors never appear in the JSON itself: `WeightIndex` stores each one in the weights
section and the JSON holds its index in the manifest's weight list. Decoding checks the type
and range of every field it reads and raises `ArtifactError` with the JSON path at fault.
The schema is specified in `SPEC.md`, *Compiled models*.
"""

from __future__ import annotations

import base64
import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from hologram.artifact import weights as weight_bytes
from hologram.compiler import types
from hologram.compiler.graph import Graph, Node, ValueInfo, ValueType
from hologram.errors import ArtifactError, HologramError

VALUE_KINDS = ("tensor", "sequence", "optional", "unknown")
ATTRIBUTE_TAGS = (
    "bool", "int", "float", "str", "tensor", "graph", "type",
    "ints", "floats", "strings", "tensors", "graphs", "types",
)  # fmt: skip
SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


# ---------------------------------------------------------------- field access
# A manifest has thousands of fields: the usual case (a value of exactly the type asked for)
# returns before any error path is formatted.
def field(doc: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """`doc[key]`, which must be of `kind` (an int is never a bool here)."""
    if type(doc) is dict and key in doc:
        value = doc[key]
        if type(value) is kind:
            return value
    if not isinstance(doc, dict):
        raise ArtifactError(f"{where}: expected an object, got {type(doc).__name__}")
    if key not in doc:
        raise ArtifactError(f"{where}: {key!r} is missing")
    return check(doc[key], kind, f"{where}.{key}")


def check(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    """`value`, which must be of `kind`; ArtifactError naming `where` otherwise."""
    if type(value) is kind:
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ArtifactError(f"{where}: expected {names}, got {value!r:.60}")
    return value


def count(value: Any, where: str) -> int:
    """A non-negative int."""
    if type(value) is int and value >= 0:
        return value
    if check(value, int, where) < 0:
        raise ArtifactError(f"{where}: {value} is negative")
    return value


def counts(value: Any, where: str) -> tuple[int, ...]:
    """A list of non-negative ints, as a tuple."""
    return tuple(
        v if type(v) is int and v >= 0 else count(v, f"{where}[{i}]")
        for i, v in enumerate(check(value, list, where))
    )


def strings(value: Any, where: str) -> list[str]:
    """A list of strings."""
    return [
        v if type(v) is str else check(v, str, f"{where}[{i}]")
        for i, v in enumerate(check(value, list, where))
    ]


def encode_float(value: float) -> float | str:
    """A float as strict JSON: NaN and the infinities as text."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def decode_float(value: Any, where: str) -> float:
    """Read `encode_float`'s form (an int is accepted as the float it equals)."""
    if isinstance(value, str) and value in SPECIAL_FLOATS:
        return SPECIAL_FLOATS[value]
    return float(check(value, (float, int), where))


# ---------------------------------------------------------------- weights
class WeightIndex:
    """Writing: the manifest's weight list, each array stored in a `WeightsBuilder`."""

    def __init__(
        self,
        builder: weight_bytes.WeightsBuilder,
        divert: Callable[[str, np.ndarray], str | None] | None = None,
    ) -> None:
        self.builder = builder
        self.divert = divert
        """`divert(key, array)`: the HoloTensor name storing `array` instead, or None."""
        self.entries: list[dict[str, Any]] = []

    def add(self, key: str, array: Any) -> int:
        """Store `array` (under `key` where it is new); its index in the weight list."""
        array = np.asarray(array)
        entry: dict[str, Any] = {"shape": list(array.shape)}
        if array.dtype.kind in "OUS":
            entry.update(_string_entry(array, key))
        else:
            name = weight_bytes.dtype_name(array.dtype, key)
            entry["dtype"] = name
            # Complex numbers have no ONNX storage type; their dtype says it all.
            with contextlib.suppress(HologramError):
                entry["onnx_type"] = types.elem_name(types.elem_of_numpy(array.dtype))
            held = self.divert(key, array) if self.divert is not None else None
            if held is not None:
                entry["holotensor"] = held
            else:
                entry["key"] = self.builder.add(key, array)
        self.entries.append(entry)
        return len(self.entries) - 1


def _string_entry(array: np.ndarray, where: str) -> dict[str, Any]:
    items = array.reshape(-1).tolist()
    if all(isinstance(item, str) for item in items):
        return {"dtype": "string", "text": items, "object": array.dtype.kind == "O"}
    if all(isinstance(item, bytes) for item in items):
        encoded = [base64.b64encode(item).decode("ascii") for item in items]
        return {"dtype": "bytes", "base64": encoded, "object": array.dtype.kind == "O"}
    raise ArtifactError(f"{where}: only str or bytes items can be stored, not {array.dtype}")


class WeightTable:
    """Reading: the manifest's weight list resolved against the weights section."""

    def __init__(
        self,
        entries: Any,
        stored: dict[str, memoryview],
        where: str,
        held: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.entries = check(entries, list, where)
        self.stored = stored
        self.held = held or {}
        """HoloTensor name -> decoded array, for entries stored as fragments."""
        self.where = where
        self._arrays: dict[int, np.ndarray] = {}

    def get(self, index: Any, where: str) -> np.ndarray:
        """The array of weight `index` (the same object each time it is asked for)."""
        index = count(index, where)
        if index >= len(self.entries):
            raise ArtifactError(f"{where}: weight {index} does not exist ({len(self.entries)})")
        if index not in self._arrays:
            self._arrays[index] = self._decode(index, f"{self.where}[{index}]")
        return self._arrays[index]

    def _decode(self, index: int, where: str) -> np.ndarray:
        entry = self.entries[index]
        shape = counts(field(entry, "shape", list, where), f"{where}.shape")
        kind = field(entry, "dtype", str, where)
        if kind in ("string", "bytes"):
            if kind == "string":
                items: list[Any] = strings(field(entry, "text", list, where), f"{where}.text")
            else:
                items = [
                    _base64(text, f"{where}.base64[{i}]")
                    for i, text in enumerate(strings(field(entry, "base64", list, where), where))
                ]
            if len(items) != math.prod(shape):
                raise ArtifactError(f"{where}: {len(items)} items for shape {list(shape)}")
            as_object = field(entry, "object", bool, where)
            array = np.array(items, dtype=object if as_object else None)
            return array.reshape(shape) if items else np.empty(shape, dtype=object)
        dtype = weight_bytes.dtype_of(kind, f"{where}.dtype")
        if "holotensor" in entry:
            return self._held(entry, dtype, shape, where)
        key = field(entry, "key", str, where)
        if key not in self.stored:
            raise ArtifactError(f"{where}: the weights section has no tensor {key!r}")
        return weight_bytes.view_array(self.stored[key], dtype, shape, where)

    def _held(
        self, entry: dict[str, Any], dtype: np.dtype, shape: tuple[int, ...], where: str
    ) -> np.ndarray:
        """A weight decoded from the HoloTensor section: a view of its tensor in this shape
        (so that refining the tensor in place updates every weight viewing it)."""
        name = field(entry, "holotensor", str, where)
        array = self.held.get(name)
        if array is None:
            raise ArtifactError(f"{where}: the holotensor section has no tensor {name!r}")
        if array.dtype != dtype or array.size != math.prod(shape):
            raise ArtifactError(
                f"{where}: holotensor tensor {name!r} is {array.dtype}{list(array.shape)}, "
                f"not {dtype}{list(shape)}"
            )
        return array.reshape(shape)


def _base64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ArtifactError(f"{where}: not base64") from None


# ---------------------------------------------------------------- value types
def value_type_from_json(doc: Any, where: str) -> ValueType:
    """Read `ValueType.to_json`'s form, checking every field."""
    kind = field(doc, "kind", str, where)
    if kind not in VALUE_KINDS:
        raise ArtifactError(f"{where}.kind: unknown value kind {kind!r}")
    elem = field(doc, "elem", int, where)
    if elem < 0:
        count(elem, f"{where}.elem")  # raises, naming it
    shape = None
    if "shape" in doc:
        dims = doc["shape"]
        if type(dims) is not list:
            check(dims, list, f"{where}.shape")
        shape = tuple(
            d if d is None or type(d) in (int, str) else _dim(d, f"{where}.shape[{i}]")
            for i, d in enumerate(dims)
        )
    inner = None
    if "inner" in doc:
        inner = value_type_from_json(doc["inner"], f"{where}.inner")
    return ValueType(kind, elem, shape, inner)


def _dim(value: Any, where: str) -> int | str | None:
    # Any integer: ONNX models do carry -1 for an unknown size in their value types, and a
    # value type is a description; the sizes a plan runs with are checked by `check_plan`.
    if value is None or isinstance(value, str):
        return value
    return check(value, int, where)


# ---------------------------------------------------------------- graphs
def graph_to_json(graph: Graph, weights: WeightIndex, path: str = "graph") -> dict[str, Any]:
    """The manifest form of `graph`; its tensors go to `weights` under keys below `path`."""
    return {
        "name": graph.name,
        "inputs": [{"name": v.name, "type": v.type.to_json()} for v in graph.inputs],
        "outputs": [{"name": v.name, "type": v.type.to_json()} for v in graph.outputs],
        "initializers": [
            {"name": name, "weight": weights.add(f"{path}/{name}", array)}
            | ({"elem": graph.initializer_elems[name]} if name in graph.initializer_elems else {})
            for name, array in graph.initializers.items()
        ],
        "value_types": {name: t.to_json() for name, t in graph.value_types.items()},
        "nodes": [
            _node_to_json(node, weights, f"{path}/{index}")
            for index, node in enumerate(graph.nodes)
        ],
    }


def _node_to_json(node: Node, weights: WeightIndex, path: str) -> dict[str, Any]:
    return {
        "op": node.op_type,
        "domain": node.domain,
        "name": node.name,
        "inputs": list(node.inputs),
        "outputs": list(node.outputs),
        "attrs": {
            name: _attr_to_json(value, weights, f"{path}/{name}", node)
            for name, value in node.attrs.items()
        },
    }


def _attr_to_json(value: Any, weights: WeightIndex, path: str, node: Node) -> dict[str, Any]:
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"float": encode_float(value)}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, np.ndarray):
        return {"tensor": weights.add(path, value)}
    if isinstance(value, Graph):
        return {"graph": graph_to_json(value, weights, path)}
    if isinstance(value, ValueType):
        return {"type": value.to_json()}
    if isinstance(value, (list, tuple)):
        items = [v.item() if isinstance(v, np.generic) else v for v in value]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return {"ints": items}
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            return {"floats": [encode_float(float(v)) for v in items]}
        if all(isinstance(v, str) for v in items):
            return {"strings": items}
        if all(isinstance(v, np.ndarray) for v in items):
            return {"tensors": [weights.add(f"{path}/{i}", v) for i, v in enumerate(items)]}
        if all(isinstance(v, Graph) for v in items):
            return {
                "graphs": [graph_to_json(g, weights, f"{path}/{i}") for i, g in enumerate(items)]
            }
        if all(isinstance(v, ValueType) for v in items):
            return {"types": [v.to_json() for v in items]}
    raise ArtifactError(
        f"{node.where()}: attribute {path.rsplit('/', 1)[-1]!r} holds "
        f"{type(value).__name__} {value!r:.60}, which a .holo file cannot store"
    )


def graph_from_json(doc: Any, weights: WeightTable, where: str) -> Graph:
    """Read `graph_to_json`'s form."""
    initializers: dict[str, np.ndarray] = {}
    elems: dict[str, int] = {}
    for index, entry in enumerate(field(doc, "initializers", list, where)):
        here = f"{where}.initializers[{index}]"
        name = field(entry, "name", str, here)
        initializers[name] = weights.get(field(entry, "weight", int, here), f"{here}.weight")
        if "elem" in entry:
            elems[name] = count(entry["elem"], f"{here}.elem")
    value_types = {
        check(name, str, f"{where}.value_types"): value_type_from_json(
            t, f"{where}.value_types.{name}"
        )
        for name, t in field(doc, "value_types", dict, where).items()
    }
    return Graph(
        field(doc, "name", str, where),
        [
            _node_from_json(node, weights, f"{where}.nodes[{i}]")
            for i, node in enumerate(field(doc, "nodes", list, where))
        ],
        value_infos(field(doc, "inputs", list, where), f"{where}.inputs"),
        value_infos(field(doc, "outputs", list, where), f"{where}.outputs"),
        initializers,
        elems,
        value_types,
    )


def value_infos(docs: list[Any], where: str) -> list[ValueInfo]:
    """Read a graph's `inputs` or `outputs` list."""
    infos = []
    for i, doc in enumerate(docs):
        here = f"{where}[{i}]"
        name = field(doc, "name", str, here)
        value_type = value_type_from_json(field(doc, "type", dict, here), f"{here}.type")
        infos.append(ValueInfo(name, value_type))
    return infos


def _node_from_json(doc: Any, weights: WeightTable, where: str) -> Node:
    attrs = {
        check(name, str, f"{where}.attrs"): _attr_from_json(value, weights, f"{where}.attrs.{name}")
        for name, value in field(doc, "attrs", dict, where).items()
    }
    return Node(
        field(doc, "op", str, where),
        strings(field(doc, "inputs", list, where), f"{where}.inputs"),
        strings(field(doc, "outputs", list, where), f"{where}.outputs"),
        attrs,
        field(doc, "domain", str, where),
        field(doc, "name", str, where),
    )


def _attr_from_json(doc: Any, weights: WeightTable, where: str) -> Any:
    if not isinstance(doc, dict) or len(doc) != 1:
        raise ArtifactError(f"{where}: expected an object with one type tag")
    ((tag, value),) = doc.items()
    if tag not in ATTRIBUTE_TAGS:
        raise ArtifactError(f"{where}: unknown attribute tag {tag!r}")
    if tag == "bool":
        return check(value, bool, where)
    if tag == "int":
        return check(value, int, where)
    if tag == "float":
        return decode_float(value, where)
    if tag == "str":
        return check(value, str, where)
    if tag == "tensor":
        return weights.get(value, where)
    if tag == "graph":
        return graph_from_json(value, weights, where)
    if tag == "type":
        return value_type_from_json(value, where)
    items = check(value, list, where)
    if tag == "ints":
        return [check(v, int, f"{where}[{i}]") for i, v in enumerate(items)]
    if tag == "floats":
        return [decode_float(v, f"{where}[{i}]") for i, v in enumerate(items)]
    if tag == "strings":
        return strings(items, where)
    if tag == "tensors":
        return [weights.get(v, f"{where}[{i}]") for i, v in enumerate(items)]
    if tag == "graphs":
        return [graph_from_json(v, weights, f"{where}[{i}]") for i, v in enumerate(items)]
    return [value_type_from_json(v, f"{where}[{i}]") for i, v in enumerate(items)]
