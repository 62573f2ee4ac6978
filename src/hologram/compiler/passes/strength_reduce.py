"""Strength reduction: `Pow` by a small constant exponent becomes multiplications.

A float `Pow(x, c)` whose exponent `c` is a one-element constant is rewritten:

- `c == 1`: readers read `x` (the node is removed);
- `c == 2`: `Mul(x, x)`;
- `c == 3`: `Mul(Mul(x, x), x)`;
- `c == 4`: `Mul(t, t)` with `t = Mul(x, x)`;
- `c == -1`: `Reciprocal(x)`.

`x * x` and `1 / x` are single correctly rounded operations, so exponents 1, 2 and -1 give
the same bits as a correctly rounded `pow`. Exponents 3 and 4 round twice (within two units
in the last place of `pow`, as onnxruntime's own cube and square paths). The general `pow`
costs a logarithm and an exponential per element; the products then join their neighbours
in `fuse_elementwise` (the tanh-GELU of GPT-2 reads `x ** 3`).

`c == 0.5` is left alone: `Sqrt` differs from `pow` at -0 (sign of the zero) and at -inf
(NaN against +inf). Integer bases are left alone too (integer `Pow` is already exact by
repeated squaring), as are exponents with more than one element or that are computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hologram.compiler import types
from hologram.compiler.graph import Graph, Node, ValueType, outer_names

_FLOAT_ELEMS = frozenset({types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16})


def strength_reduce(graph: Graph, opsets: dict[str, int]) -> dict[str, Any]:
    """Rewrite `Pow` by constant exponents in `graph` and its subgraphs; counts."""
    stats = {"pow_reduced": 0}

    def visit(g: Graph) -> None:
        stats["pow_reduced"] += _reduce_graph(g)

    graph.walk(visit)
    return stats


def _exponent(graph: Graph, node: Node) -> float | None:
    """The exponent of `node` (a `Pow` with a float base) if it is a reducible constant."""
    if node.op_type != "Pow" or node.domain not in ("", "ai.onnx") or len(node.inputs) != 2:
        return None
    base, exponent = node.inputs
    if graph.elem_of(base) not in _FLOAT_ELEMS:
        return None
    value = graph.initializers.get(exponent)
    if value is None or value.size != 1:
        return None
    if value.ndim > 0:
        # A [1]-shaped exponent broadcasts the base up to its rank: only safe when the base
        # is known to have at least that rank.
        shape = _shape_of(graph, base)
        if shape is None or len(shape) < value.ndim:
            return None
    if value.dtype.kind not in "fiu":
        return None
    c = float(value.reshape(-1)[0])
    return c if c in (1.0, 2.0, 3.0, 4.0, -1.0) else None


def _reduce_graph(graph: Graph) -> int:
    protected = {v.name for v in graph.outputs}
    for node in graph.nodes:
        protected.update(outer_names(node))
    rename: dict[str, str] = {}
    kept: list[Node] = []
    reduced = 0
    for node in graph.nodes:
        node.inputs = [rename.get(name, name) for name in node.inputs]
        c = _exponent(graph, node)
        if c is None:
            kept.append(node)
            continue
        x, out = node.inputs[0], node.outputs[0]
        if c == 1.0:
            if out in protected:
                kept.append(node)
                continue
            rename[out] = x
        elif c == -1.0:
            kept.append(_node("Reciprocal", [x], out, node))
        elif c == 2.0:
            kept.append(_node("Mul", [x, x], out, node))
        else:
            square = _fresh(graph, f"{out}_square", out)
            kept.append(_node("Mul", [x, x], square, node))
            kept.append(_node("Mul", [square, x if c == 3.0 else square], out, node))
        reduced += 1
    graph.nodes[:] = kept
    return reduced


def _node(op_type: str, inputs: list[str], out: str, pow_node: Node) -> Node:
    suffix = f"_{op_type.lower()}_{out}"
    return Node(op_type, inputs, [out], {}, "", (pow_node.name or "pow") + suffix)


def _fresh(graph: Graph, hint: str, like: str) -> str:
    """A value name unused in `graph`, typed as `like` (the fusion pass reads types)."""
    taken = {name for node in graph.nodes for name in node.outputs}
    taken.update(graph.initializers)
    taken.update(graph.value_types)
    taken.update(v.name for v in (*graph.inputs, *graph.outputs))
    name, k = hint, 0
    while name in taken:
        k += 1
        name = f"{hint}_{k}"
    known = graph.value_types.get(like)
    if known is None:
        for info in graph.outputs:
            if info.name == like:
                known = info.type
    if known is not None:
        graph.value_types[name] = ValueType(known.kind, known.elem, known.shape, known.inner)
    return name


def _shape_of(graph: Graph, name: str) -> tuple[Any, ...] | None:
    info = graph.type_of(name)
    if info is not None and info.kind == "tensor":
        return info.shape
    value = graph.initializers.get(name)
    return None if value is None else tuple(np.shape(value))
