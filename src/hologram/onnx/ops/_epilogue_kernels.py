"""Epilogues: elementwise steps applied to a matrix product in place, one row at a time.

A fused `MatMul -> Add(bias) -> Gelu` writes the product into its output and then runs the
elementwise steps over it (`op_fused_mat_mul.py`). The steps are the same per-op funcs as
`FusedElementwise` (attribute `steps`: per step the op, the values it reads, its attributes),
planned by `plan_steps`. The kernel (`epilogue_kernel`) is built as an IR document, like
`kernels/_fuse.py`'s, but launched as a 2-D grid over `(column blocks, rows)` of the product
viewed as `rows x cols`, so that it finds each input's element without dividing:

    FULL    the input has the output's shape:        element row * cols + col
    ROW     it varies along the last axis only (a bias): element col
    SCALAR  it is one value:                           element 0

An input broadcast any other way makes the lowering fall back to the broadcasting kernel of
`launch_map`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef
from hologram.dsl import ir
from hologram.errors import KernelError
from hologram.isa.dtypes import DType
from hologram.isa.program import Program
from hologram.kernels._fuse import funcs_ir
from hologram.onnx.ops._elementwise import LOWERINGS
from hologram.onnx.ops.op_fused_elementwise import StepView, TypedElem
from hologram.onnx.registry import lookup

FULL = 0
ROW = 1
SCALAR = 2

BLOCK = 256
"""The most lanes (columns) per block."""

Step = tuple[Any, tuple[int, ...]]


@hg.func
def onnx_epilogue_index(row, col, cols, mode):
    """The element an input read in `mode` (FULL, ROW or SCALAR) holds for `(row, col)`."""
    if mode == ROW:
        return hg.int64(col)
    elif mode == SCALAR:
        return hg.int64(0)
    return hg.int64(row) * cols + col


def plan_steps(
    ctx: OpContext, steps: list[dict[str, Any]], opset: int, elems: list[int]
) -> tuple[list[Step], list[TensorRef], DType, int]:
    """The kernel steps of `steps` over inputs of element types `elems`, the one-element
    constant inputs their attribute scalars add (numbered after the inputs), the compute
    dtype and the result's element type. Step results are numbered after every input,
    scalars included."""
    elems = list(elems)
    n_inputs = len(elems)
    scalar_inputs: list[TensorRef] = []
    plans = []
    compute = None
    for step in steps:
        definition = LOWERINGS[lookup(step["op"], "", opset, ctx.where()).function]
        view = StepView(ctx, step["op"], step.get("attrs", {}), opset)
        arg_elems = [elems[a] for a in step["args"]]
        out_elem = definition.out(arg_elems)
        step_compute = definition.compute(arg_elems, out_elem)
        if compute is None:
            compute = step_compute
        elif step_compute is not compute:
            raise ctx.error(f"fused steps compute in {compute} and {step_compute}")
        if definition.check is not None:
            definition.check(view, [TypedElem(e) for e in arg_elems])
        extra = [] if definition.scalars is None else list(definition.scalars(view))
        first_scalar = len(scalar_inputs)
        for value in extra:
            scalar_inputs.append(ctx.constant(np.array([value], step_compute.numpy)))
        plans.append((definition.func, step["args"], range(first_scalar, len(scalar_inputs))))
        elems.append(out_elem)
    if compute is None:
        raise ctx.error("an epilogue needs at least one step")
    n_all = n_inputs + len(scalar_inputs)
    kernel_steps: list[Step] = []
    for func, args, scalars in plans:
        renumbered = tuple(a if a < n_inputs else a - n_inputs + n_all for a in args)
        kernel_steps.append((func, renumbered + tuple(n_inputs + k for k in scalars)))
    return kernel_steps, scalar_inputs, compute, elems[-1]


def read_mode(shape: Sequence[int], out_shape: Sequence[int]) -> int | None:
    """How an input of `shape` is read for an output of `out_shape` (None: none of the
    three ways)."""
    if math.prod(shape) == 1:
        return SCALAR
    if tuple(shape) == tuple(out_shape):
        return FULL
    row = bool(shape) and shape[-1] == out_shape[-1] and math.prod(shape[:-1]) == 1
    return ROW if row and len(shape) <= len(out_shape) else None


def launch_epilogue(
    ctx: OpContext,
    steps: list[Step],
    inputs: list[TensorRef],
    modes: list[int],
    out: TensorRef,
    compute: DType,
    name: str,
) -> None:
    """Run `steps` over `inputs` (read as `modes` say) into `out`, viewed as rows of its last
    dimension. `inputs[0]` may be `out` itself (each lane reads its element first): the kernel
    then reads it through `out`, so that the compiler sees one array read and written at the
    same index and keeps the loop vectorised (two names for one buffer make its overlap
    check fail at run time, which falls back to scalar code)."""
    if out.size == 0:
        return
    cols = out.shape[-1] if out.rank else 1
    rows = out.size // cols
    block = min(BLOCK, cols)
    program = _program(
        name,
        tuple((f, tuple(a)) for f, a in steps),
        tuple(ref.dtype for ref in inputs),
        out.dtype,
        compute,
        tuple(modes),
        inputs[0] is out,
    )
    ctx.launch(program, (hg.blocks(cols, block), rows), block, [*inputs, out, cols])


@lru_cache(maxsize=1024)
def _program(
    name: str,
    steps: tuple[Step, ...],
    in_dtypes: tuple[DType, ...],
    out_dtype: DType,
    compute: DType,
    modes: tuple[int, ...],
    in_place: bool,
) -> Program:
    kernel = epilogue_kernel(name, steps, len(in_dtypes), in_place)
    signature: dict[str, Any] = {f"in{k}": dt for k, dt in enumerate(in_dtypes)}
    signature["out"] = out_dtype
    signature["compute"] = compute
    signature.update({f"in{k}_mode": m for k, m in enumerate(modes)})
    return kernel.specialize(signature)


_SOURCE = {"file": "hologram/onnx/ops/_epilogue_kernels.py", "line": 1}
_AT = {"line": 1, "col": 1}


@lru_cache(maxsize=256)
def epilogue_kernel(
    name: str, steps: tuple[Step, ...], n_inputs: int, in_place: bool = False
) -> Any:
    """The kernel of `steps` over `n_inputs` inputs, with parameters

        in0 ... in{n-1}, out, cols, compute, in0_mode ... in{n-1}_mode

    launched on a grid `(ceil(cols / block), rows)`: lane `col` of block row `row` computes
    output element `row * cols + col`. With `in_place`, input 0 is read from `out`."""
    from hologram.dsl.kernel import Kernel

    if not name.isidentifier():
        raise KernelError(f"epilogue kernel name {name!r} is not an identifier")
    params = [
        *({"name": f"in{k}", "kind": "array", "dtype": None} for k in range(n_inputs)),
        {"name": "out", "kind": "array", "dtype": None},
        {"name": "cols", "kind": "scalar", "dtype": "u32"},
        {"name": "compute", "kind": "const", "type": "dtype"},
        *(
            {"name": f"in{k}_mode", "kind": "const", "type": "int", "default": FULL}
            for k in range(n_inputs)
        ),
    ]
    doc = {
        "schema": ir.SCHEMA,
        "version": list(ir.VERSION),
        "name": name,
        "source": dict(_SOURCE),
        "params": params,
        "body": _body(name, steps, n_inputs, in_place),
        "funcs": funcs_ir([onnx_epilogue_index, *(func for func, _ in steps)]),
    }
    return Kernel.from_ir(doc)


def _name(identifier: str) -> dict[str, Any]:
    return {"node": "name", "id": identifier}


def _u32(value: dict[str, Any]) -> dict[str, Any]:
    return {"node": "cast", "type": {"node": "dtype", "dtype": "u32"}, "value": value}


def _assign(target: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"node": "assign", "target": target, "value": value, **_AT}


def _index(mode: dict[str, Any]) -> dict[str, Any]:
    args = [_name("row"), _name("col"), _name("cols"), mode]
    return {"node": "invoke", "func": onnx_epilogue_index.name, "args": args}


def _body(
    name: str, steps: tuple[Step, ...], n_inputs: int, in_place: bool
) -> list[dict[str, Any]]:
    last = n_inputs + len(steps) - 1
    used = sorted({k for _, args in steps for k in args if k < n_inputs})
    inner = [_assign("i", _index({"node": "const", "value": FULL}))]
    for k in used:
        inner.append(_assign(f"j{k}", _index(_name(f"in{k}_mode"))))
    for k in used:
        array = "out" if k == 0 and in_place else f"in{k}"
        load = {"node": "load", "array": array, "index": [_name(f"j{k}")]}
        inner.append(_assign(f"v{k}", {"node": "cast", "type": _name("compute"), "value": load}))
    for j, (func, args) in enumerate(steps):
        value = n_inputs + j
        if any(not 0 <= k < value for k in args):
            raise KernelError(f"epilogue {name!r}: step {j} reads a value not computed before it")
        call = {"node": "invoke", "func": func.name, "args": [_name(f"v{k}") for k in args]}
        inner.append(_assign(f"v{value}", call))
    inner.append(
        {"node": "store", "array": "out", "index": [_name("i")], "value": _name(f"v{last}"), **_AT}
    )
    block_row = {"node": "call", "builtin": "block_id", "args": [{"node": "const", "value": 1}]}
    return [
        _assign("col", _u32({"node": "call", "builtin": "global_id", "args": []})),
        _assign("row", _u32(block_row)),
        {
            "node": "if",
            "test": {"node": "compare", "op": "lt", "left": _name("col"), "right": _name("cols")},
            "body": inner,
            "orelse": [],
            **_AT,
        },
    ]
