"""The standard-library kernels behind the elementwise ops, and their cached programs.

Each op is a kernel file of `hologram/kernels/` (`add` is `vector/vector_add.py`) with the
`@hg.func` computing one element (`add_value`), which fused chains compose (`kernels/_fuse.py`).
The kernels share one parameter convention (`kernels/_elementwise.py`):

    <inputs...>, out, n, layout, <scalars...>, compute, <input>_read..., rank

A launch specialises its kernel on the input and output dtypes, the compute dtype, each
input's read mode (`Access`) and the collapsed rank, never on sizes: the element count and the
layout table are arguments, so one program serves every size. The program of each
(op, dtypes, access, rank) is cached here and launched directly, without the kernel's
per-call signature inference.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from hologram import kernels
from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, Program
from hologram.ops._broadcast import Access, Layout
from hologram.ops._launch import Launch

if TYPE_CHECKING:
    from hologram.dsl.kernel import Func, Kernel
    from hologram.runtime.executor import Executor


@dataclass(frozen=True, eq=False)
class ElementwiseOp:
    """An elementwise op: its kernel, the func of one element, and its dtype rules.

    Ops are made once and compared by identity (they key the program cache).
    """

    name: str
    arity: int
    kernel: Kernel
    func: Func | None = None
    """The per-element `@hg.func` (None for a fused chain)."""
    float_only: bool = False
    widen_half: bool = True
    """Compute f16/bf16 in f32 and round once at the end (False: compute in the output type)."""


BINARY = ("add", "sub", "mul", "div", "minimum", "maximum", "pow")
"""The binary ops, by name."""
UNARY = ("abs", "neg", "relu", "sqrt", "exp", "log", "sigmoid", "tanh", "erf", "gelu")
"""The unary ops, by name."""

_KERNELS: dict[str, tuple[str, str, bool]] = {
    "add": ("vector/vector_add", "add_value", False),
    "sub": ("vector/vector_sub", "sub_value", False),
    "mul": ("vector/vector_mul", "mul_value", False),
    "div": ("vector/vector_div", "div_value", False),
    "minimum": ("vector/vector_minimum", "minimum_value", False),
    "maximum": ("vector/vector_maximum", "maximum_value", False),
    "pow": ("vector/vector_pow", "pow_value", True),
    "abs": ("math/abs", "abs_value", False),
    "neg": ("math/neg", "neg_value", False),
    "relu": ("activation/relu", "relu_value", False),
    "sqrt": ("math/sqrt", "sqrt_value", True),
    "exp": ("math/exp", "exp_value", True),
    "log": ("math/log", "log_value", True),
    "sigmoid": ("activation/sigmoid", "sigmoid_value", True),
    "tanh": ("activation/tanh", "tanh_value", True),
    "erf": ("math/erf", "erf_value", True),
    "gelu": ("activation/gelu", "gelu_value", True),
}
"""op name -> (stdlib kernel, per-element func, floating-point only)."""


@cache
def elementwise_op(name: str) -> ElementwiseOp:
    """The op called `name` (one of BINARY and UNARY), its kernel loaded on first use."""
    key, func_name, float_only = _KERNELS[name]
    kernel = kernels.load(key)
    func = getattr(sys.modules[kernel.fn.__module__], func_name)  # type: ignore[union-attr]
    arity = 2 if name in BINARY else 1
    return ElementwiseOp(name, arity, kernel, func, float_only)


@cache
def cast_op() -> ElementwiseOp:
    """Copy with dtype conversion and broadcasting: materialises an input in a new layout."""
    return ElementwiseOp("cast", 1, kernels.load("convert/cast"), widen_half=False)


@cache
def axpby_op() -> ElementwiseOp:
    """alpha * a + beta * b (the Gemm epilogue); scalars alpha and beta."""
    return ElementwiseOp("axpby", 2, kernels.load("linalg/axpby"))


@cache
def scale_op() -> ElementwiseOp:
    """alpha * x; scalar alpha."""
    return ElementwiseOp("scale", 1, kernels.load("linalg/scale"))


def compute_dtype(op: ElementwiseOp, out_dtype: DType) -> DType:
    """The dtype an op computes in for outputs of `out_dtype`."""
    if op.widen_half and out_dtype in (DType.F16, DType.BF16):
        return DType.F32
    return out_dtype


@dataclass(frozen=True)
class _Parameters:
    """The names an elementwise kernel's signature needs (see the module docstring)."""

    inputs: tuple[str, ...]
    scalars: tuple[str, ...]
    has_compute: bool


@cache
def _parameters(kernel: Kernel) -> _Parameters:
    params = kernel.params
    arrays = [p["name"] for p in params if p["kind"] == "array"]
    scalars = [p["name"] for p in params if p["kind"] == "scalar" and p.get("dtype") is None]
    consts = {p["name"] for p in params if p["kind"] == "const"}
    return _Parameters(tuple(arrays[: arrays.index("out")]), tuple(scalars), "compute" in consts)


@lru_cache(maxsize=4096)
def elementwise_program(
    op: ElementwiseOp,
    in_dtypes: tuple[DType, ...],
    out_dtype: DType,
    access: tuple[Access, ...],
    rank: int,
) -> Program:
    """The program computing `op` over inputs read as `access` with `rank` collapsed dims.

    Its scalar parameters (if any) take the compute dtype.
    """
    names = _parameters(op.kernel)
    compute = compute_dtype(op, out_dtype)
    signature: dict[str, Any] = dict(zip(names.inputs, in_dtypes, strict=True))
    signature["out"] = out_dtype
    if names.has_compute:
        signature["compute"] = compute
    signature.update({f"{name}_read": int(a) for name, a in zip(names.inputs, access, strict=True)})
    signature["rank"] = rank
    signature.update(dict.fromkeys(names.scalars, compute))
    return op.kernel.specialize(signature)


def elementwise_launch(
    executor: Executor,
    op: ElementwiseOp,
    in_args: Sequence[object],
    in_dtypes: Sequence[DType],
    out_arg: object,
    out_dtype: DType,
    layout: Layout,
    scalars: Sequence[int | float] = (),
) -> Launch:
    """The launch computing `op` for a non-empty `layout`; `scalars` are the op's own."""
    program = elementwise_program(op, tuple(in_dtypes), out_dtype, layout.access, layout.rank)
    table: Any = layout.table
    if not executor.backend.is_host:
        table = executor.constant(table)  # uploaded once per layout, not at every launch
    grid, block = layout.geometry
    args = (*in_args, out_arg, layout.row_length, table, *scalars)
    return Launch(program, _config(grid, block), args)


@lru_cache(maxsize=1024)
def _config(grid: tuple[int, ...], block: tuple[int, ...]) -> LaunchConfig:
    return LaunchConfig(grid, block)
