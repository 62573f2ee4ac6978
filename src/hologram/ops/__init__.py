"""The standard ops, each dispatching to kernels of the standard library (`hologram.kernels`).

    import hologram.ops as hops
    y = hops.add(a, b)                    # NumPy in, NumPy out
    z = hops.softmax(ex.from_numpy(x))    # Buffer in, Buffer out

Every op accepts Buffers, NumPy arrays, array-likes and Python numbers, broadcasts like NumPy,
and takes the keywords `executor=` (default: a process-wide executor on `settings().backend`,
made on first use; Buffer inputs bring their own) and `out=` (a Buffer, or a C-contiguous
writeable array, of the result's exact shape and dtype, which is returned).

Decisions that hold for every op:
- Return type: all-NumPy inputs give a NumPy array (on host backends the kernel writes into it
  directly); any Buffer input gives a Buffer.
- Dtypes: inputs are promoted with NumPy's `result_type` (Python numbers are weak); bool
  inputs and combinations without a common ISA dtype raise DTypeError. Floating-point ops
  (sqrt, exp, log, sigmoid, tanh, gelu, erf, pow, mean, softmax, layer_norm) take f16, bf16,
  f32 and f64 and raise DTypeError for integers; add, sub, mul, div, minimum, maximum, abs,
  neg, relu, sum, min, max, matmul and gemm take every numeric dtype. Integer `div` truncates
  toward zero (the ISA's rule, as in ONNX and C), unlike NumPy's true_divide; integers wrap.
  f16 and bf16 reductions, softmax, layer_norm and elementwise math run in f32.
- Names: elementwise `minimum`/`maximum` and reductions `min`/`max`, as in NumPy.
- Memory: non-contiguous NumPy inputs are copied once to be contiguous; on device backends
  NumPy inputs are uploaded once per call. Empty results return without a launch.
- Programs are cached per (op, dtypes, broadcast pattern), not per size: sizes, shapes and
  strides are launch arguments, so one compiled program serves every size. Only the matmul
  intrinsic, whose sizes are attributes, is built per shape.
- Calls are planned once per signature (op, static arguments, input dtypes and shapes; all
  NumPy or all Buffer inputs, no `out=`): a repeat call allocates its result and launches
  (`ops/_plans.py`; elementwise ops in `elementwise.apply_elementwise`).

`prepare(op, *args, **kwargs)` plans a call without running it; the `Prepared` result can be
run again and again on the same memory (what a benchmark of the raw launch measures).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hologram.errors import ProgramError
from hologram.ops._elementwise_kernels import BINARY, UNARY, elementwise_op
from hologram.ops._launch import Prepared
from hologram.ops._operands import default_executor
from hologram.ops.elementwise import (
    abs,
    add,
    chain,
    chain_elementwise,
    chain_program,
    div,
    erf,
    exp,
    gelu,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    prepare_elementwise,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
)
from hologram.ops.layernorm import layer_norm, prepare_layer_norm
from hologram.ops.matmul import gemm, matmul, prepare_gemm, prepare_matmul
from hologram.ops.reduce import prepare_reduce, reduce_max, reduce_mean, reduce_min, reduce_sum
from hologram.ops.softmax import prepare_softmax, softmax

sum = reduce_sum  # noqa: A001
min = reduce_min  # noqa: A001
max = reduce_max  # noqa: A001
mean = reduce_mean


def _elementwise_preparer(name: str) -> Callable[..., Prepared]:
    def prepare_op(*inputs: Any, executor: Any = None, out: Any = None) -> Prepared:
        return prepare_elementwise(elementwise_op(name), inputs, executor, out)

    return prepare_op


def _reduce_preparer(kind: str) -> Callable[..., Prepared]:
    def prepare_op(x: Any, axis: Any = None, keepdims: bool = False, **kw: Any) -> Prepared:
        return prepare_reduce(kind, x, axis, keepdims, **kw)

    return prepare_op


def _chain_preparer(steps: Any, *inputs: Any, executor: Any = None, out: Any = None) -> Prepared:
    return prepare_elementwise(chain_elementwise(steps, len(inputs)), inputs, executor, out)


PREPARERS: dict[str, Callable[..., Prepared]] = {
    **{name: _elementwise_preparer(name) for name in (*BINARY, *UNARY)},
    **{kind: _reduce_preparer(kind) for kind in ("sum", "min", "max", "mean")},
    "softmax": prepare_softmax,
    "layer_norm": prepare_layer_norm,
    "matmul": prepare_matmul,
    "gemm": prepare_gemm,
    "chain": _chain_preparer,
}
"""How to plan each op without running it, by name."""


def prepare(op: str, *args: Any, **kwargs: Any) -> Prepared:
    """Plan `op(*args, **kwargs)`: normalise inputs, allocate the output, bind the launches."""
    try:
        preparer = PREPARERS[op]
    except KeyError:
        raise ProgramError(f"unknown op {op!r}; known: {', '.join(PREPARERS)}") from None
    return preparer(*args, **kwargs)


__all__ = [
    "PREPARERS",
    "Prepared",
    "abs",
    "add",
    "chain",
    "chain_elementwise",
    "chain_program",
    "default_executor",
    "div",
    "erf",
    "exp",
    "gelu",
    "gemm",
    "layer_norm",
    "log",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "neg",
    "pow",
    "prepare",
    "relu",
    "sigmoid",
    "softmax",
    "sqrt",
    "sub",
    "sum",
    "tanh",
]
