"""Fusing elementwise computations into one kernel, by composing their IR.

Every elementwise kernel of the standard library computes one element with an `@hg.func`
(`add_value` in `vector/vector_add.py`, `relu_value` in `activation/relu.py`, ...). A fused
kernel calls several such funcs per element, in order, so that a chain of ops reads each input
once and writes the result once, in one launch:

    kernel = fuse_elementwise("chain", [(add_value, (0, 1)), (relu_value, (2,))], n_inputs=2)
    # out[i] = relu_value(add_value(in0[i], in1[i]))

Each step is `(func, args)`: `args` index the values computed so far, the inputs first
(0 .. n_inputs - 1), then the result of step j at `n_inputs + j`. The last step's result is
stored (input 0, converted to the compute dtype, when there are no steps). The kernel is built
directly as an IR document (`dsl/ir.py`) and made with `Kernel.from_ir`, so it needs no Python
source, and follows the elementwise parameter convention of `kernels/_elementwise.py`:

    in0 ... in{n-1}, out, n, layout, compute, in0_read ... in{n-1}_read, rank

with the lanes of `kernels/_elementwise.py` (1-D at rank 0, else one row per lane y), so
broadcasting, dtype promotion and the compute dtype work exactly as for a single op.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hologram.dsl import ir
from hologram.errors import KernelError
from hologram.kernels._elementwise import FULL, input_index, lane_row, lane_rows, output_index

if TYPE_CHECKING:
    from hologram.dsl.kernel import Func, Kernel

Step = tuple["Func", tuple[int, ...]]
"""`(func, args)`: call `func` on the values at `args` (inputs first, then step results)."""

_SOURCE = {"file": "hologram/kernels/_fuse.py", "line": 1}
_AT = {"line": 1, "col": 1}


def fuse_elementwise(name: str, steps: Sequence[Step], n_inputs: int) -> Kernel:
    """The kernel computing `steps` over `n_inputs` inputs element by element (cached)."""
    return _fused(name, tuple((func, tuple(args)) for func, args in steps), n_inputs)


@lru_cache(maxsize=256)
def _fused(name: str, steps: tuple[Step, ...], n_inputs: int) -> Kernel:
    from hologram.dsl.kernel import Kernel

    if not name.isidentifier():
        raise KernelError(f"fused kernel name {name!r} is not an identifier")
    if n_inputs < 1:
        raise KernelError(f"fused kernel {name!r} needs at least one input")
    doc = {
        "schema": ir.SCHEMA,
        "version": list(ir.VERSION),
        "name": name,
        "source": dict(_SOURCE),
        "params": _params(n_inputs),
        "body": _body(name, steps, n_inputs),
        "funcs": funcs_ir(
            [input_index, output_index, lane_row, lane_rows, *(func for func, _ in steps)]
        ),
    }
    return Kernel.from_ir(doc)


def _params(n_inputs: int) -> list[dict[str, Any]]:
    inputs = [f"in{k}" for k in range(n_inputs)]
    return [
        *({"name": name, "kind": "array", "dtype": None} for name in inputs),
        {"name": "out", "kind": "array", "dtype": None},
        {"name": "n", "kind": "scalar", "dtype": "u32"},
        {"name": "layout", "kind": "array", "dtype": "u32"},
        {"name": "compute", "kind": "const", "type": "dtype"},
        *(
            {"name": f"{name}_read", "kind": "const", "type": "int", "default": FULL}
            for name in inputs
        ),
        {"name": "rank", "kind": "const", "type": "int", "default": 0},
    ]


def _name(identifier: str) -> dict[str, Any]:
    return {"node": "name", "id": identifier}


def _const(value: int) -> dict[str, Any]:
    return {"node": "const", "value": value}


def _invoke(func: str, args: list[dict[str, Any]]) -> dict[str, Any]:
    return {"node": "invoke", "func": func, "args": args}


def _body(name: str, steps: tuple[Step, ...], n_inputs: int) -> list[dict[str, Any]]:
    """The lane guards of `kernels/_elementwise.py` (`col < n`, then `row < lane_rows`),
    then: find the inputs' elements, load them into the compute dtype, run the steps and store
    the last value."""
    last = n_inputs + len(steps) - 1 if steps else 0
    referenced = {k for _, args in steps for k in args} | {last}
    used = sorted(k for k in referenced if k < n_inputs)
    position = [_name("i"), _name("col"), _name("row"), _name("layout")]
    # Every index before any load, as the elementwise kernels do (see `input_index`).
    inner = [
        _assign("i", _invoke(output_index.name, [*position[1:3], _name("n"), _name("rank")])),
        *(
            _assign(
                f"j{k}",
                _invoke(
                    input_index.name,
                    [*position, _name(f"in{k}_read"), _name("rank"), _const(k)],
                ),
            )
            for k in used
        ),
    ]
    for k in used:
        load = {"node": "load", "array": f"in{k}", "index": [_name(f"j{k}")]}
        inner.append(_assign(f"v{k}", {"node": "cast", "type": _name("compute"), "value": load}))
    for j, (func, args) in enumerate(steps):
        value = n_inputs + j
        for k in args:
            if not 0 <= k < value:
                raise KernelError(f"fused kernel {name!r}: step {j} ({func.name}) reads value "
                                  f"{k}, which is not computed before it")  # fmt: skip
        inner.append(_assign(f"v{value}", _invoke(func.name, [_name(f"v{k}") for k in args])))
    result = _name(f"v{last}")
    inner.append({"node": "store", "array": "out", "index": [_name("i")], "value": result, **_AT})
    lane = {"node": "call", "builtin": "global_id", "args": []}
    u32 = {"node": "dtype", "dtype": "u32"}
    rows = _invoke(lane_rows.name, [_name("layout"), _name("rank")])
    return [
        _assign("col", {"node": "cast", "type": u32, "value": lane}),
        _if(
            _compare(_name("col"), _name("n")),
            [
                _assign("row", _invoke(lane_row.name, [_name("rank")])),
                _if(_compare(_name("row"), rows), inner),
            ],
        ),
    ]


def _assign(target: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"node": "assign", "target": target, "value": value, **_AT}


def _compare(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {"node": "compare", "op": "lt", "left": left, "right": right}


def _if(test: dict[str, Any], body: list[dict[str, Any]]) -> dict[str, Any]:
    return {"node": "if", "test": test, "body": body, "orelse": [], **_AT}


def funcs_ir(roots: list[Func]) -> dict[str, Any]:
    """The IR of `roots` and of every func they call, by name (names must be unique)."""
    found: dict[str, Any] = {}
    seen: dict[str, Func] = {}
    pending = list(roots)
    while pending:
        func = pending.pop()
        other = seen.get(func.name)
        if other is func:
            continue
        if other is not None:
            raise KernelError(f"two different funcs are named {func.name!r}; rename one")
        seen[func.name] = func
        part, callees = func.parts()
        found[func.name] = part
        pending.extend(callees)
    return dict(sorted(found.items()))
