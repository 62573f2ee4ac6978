"""matmul (NumPy semantics) and gemm (ONNX Gemm semantics) on the MATMUL intrinsic.

matmul: 1-D operands are promoted to a row (left) or a column (right) that is removed from the
result; leading batch dimensions broadcast. gemm: `alpha * op(A) @ op(B) + beta * C` with 2-D
A and B, `op` transposing when `trans_a`/`trans_b`, and C broadcasting to the result (skipped,
with its elementwise launch, when there is no C and alpha is 1). Both take every numeric dtype
(integers wrap; f16 and bf16 accumulate in f32); inputs are promoted with NumPy's result_type.
For integer gemm, alpha and beta must be whole numbers.

Kernels: `linalg/matmul` (the MATMUL intrinsic, whose sizes are compile-time constants, so
one program is built and cached per shape), `linalg/axpby` and `linalg/scale` for gemm's
epilogue, `convert/cast` to materialise operands. A batch of left operands against one right
matrix is a single product of the stacked rows ((batch * m) x k times k x n); any other batch
operand that broadcasts is first materialised at the full batch shape.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hologram import kernels
from hologram.errors import DTypeError, ShapeError
from hologram.isa.dtypes import DType
from hologram.isa.program import Program
from hologram.ops._broadcast import broadcast_layout, broadcast_shapes
from hologram.ops._elementwise_kernels import axpby_op, elementwise_launch, scale_op
from hologram.ops._launch import Prepared, once
from hologram.ops._materialize import materialize
from hologram.ops._operands import (
    Operand,
    Output,
    check_size,
    is_buffer,
    promote,
    resolve_executor,
    to_operand,
)
from hologram.ops._plans import apply, static_key

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor


@lru_cache(maxsize=256)
def matmul_program(
    dtype: DType,
    batch: int,
    m: int,
    n: int,
    k: int,
    trans_a: bool = False,
    trans_b: bool = False,
) -> Program:
    """The `linalg/matmul` program `c[i] = op(a[i]) @ op(b[i])` for `i < batch` (a, b, c)."""
    signature = {"a": dtype, "b": dtype, "c": dtype, "m": m, "n": n, "k": k, "batch": batch}
    return kernels.load("linalg/matmul").specialize(
        signature, trans_a=bool(trans_a), trans_b=bool(trans_b)
    )


def _packed_shape(operand: Operand, batch_shape: tuple[int, ...], batch: int) -> tuple[int, ...]:
    """The shape in which `operand` holds `batch` packed matrices: its own when it has them
    all (or `batch` is 1), else the full batch (a materialised copy)."""
    if batch == 1 or math.prod(operand.shape[:-2]) == batch:
        return operand.shape
    matrix = operand.shape[-2:] if len(operand.shape) >= 2 else operand.shape
    return (*batch_shape, *matrix)


def prepare_matmul(a: Any, b: Any, executor: Executor | None = None, out: Any = None) -> Prepared:
    """Plan the launches of `a @ b`."""
    op = "matmul"
    ex = resolve_executor([a, b], executor, op)
    dtype = promote([a, b], op)
    oa, ob = (to_operand(v, ex, op, dtype) for v in (a, b))
    if not oa.shape or not ob.shape:
        raise ShapeError(f"{op}: operands must have at least one dimension")
    m, k = (1, oa.shape[0]) if len(oa.shape) == 1 else oa.shape[-2:]
    k_b, n = (ob.shape[0], 1) if len(ob.shape) == 1 else ob.shape[-2:]
    if k != k_b:
        raise ShapeError(f"{op}: shapes {oa.shape} and {ob.shape} do not align ({k} != {k_b})")
    batch_shape = broadcast_shapes([oa.shape[:-2], ob.shape[:-2]], op)
    out_shape = (
        *batch_shape,
        *(() if len(oa.shape) == 1 else (m,)),
        *(() if len(ob.shape) == 1 else (n,)),
    )
    check_size(out_shape, op)
    output = Output(ex, out_shape, dtype, is_buffer(a) or is_buffer(b), out, op)
    if math.prod(out_shape) == 0:
        return Prepared(ex, finish=output.result)
    if k == 0:
        return Prepared(ex, finish=lambda: _zeros(output))
    prepared = Prepared(ex, finish=output.result, output=output)
    prepared.mark_input(0, oa, a)
    prepared.mark_input(1, ob, b)
    batch = math.prod(batch_shape)
    if batch > 1 and math.prod(oa.shape[:-2]) == batch and math.prod(ob.shape[:-2]) == 1:
        # A stack of left matrices against one right matrix: one product of all their rows.
        batch, m = 1, batch * m
    oa = _materialized(prepared, oa, _packed_shape(oa, batch_shape, batch), dtype)
    ob = _materialized(prepared, ob, _packed_shape(ob, batch_shape, batch), dtype)
    program = matmul_program(dtype, batch, m, n, k)
    prepared.launches.append(once(program, (oa.arg, ob.arg, output.arg)))
    return prepared


def _materialized(
    prepared: Prepared, operand: Operand, shape: tuple[int, ...], dtype: DType
) -> Operand:
    """`operand` in `shape` and `dtype`, its conversion (if any) added to `prepared`."""
    converted, launch = materialize(prepared.executor, operand, shape, dtype)
    if launch is not None:
        prepared.launches.append(launch)
        prepared.mark_scratch(converted)
    return converted


def _zeros(output: Output) -> Any:
    output.data.fill(0)
    return output.result()


def prepare_gemm(
    a: Any,
    b: Any,
    c: Any = None,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: bool = False,
    trans_b: bool = False,
    executor: Executor | None = None,
    out: Any = None,
) -> Prepared:
    """Plan the launches of `alpha * op(a) @ op(b) + beta * c`."""
    op = "gemm"
    given = [v for v in (a, b, c) if v is not None]
    ex = resolve_executor(given, executor, op)
    dtype = promote(given, op)
    oa, ob = (to_operand(v, ex, op, dtype) for v in (a, b))
    if len(oa.shape) != 2 or len(ob.shape) != 2:
        raise ShapeError(f"{op}: A and B must be 2-D, got {oa.shape} and {ob.shape}")
    m, k = oa.shape[::-1] if trans_a else oa.shape
    k_b, n = ob.shape[::-1] if trans_b else ob.shape
    if k != k_b:
        raise ShapeError(f"{op}: op(A) is {m}x{k} and op(B) is {k_b}x{n}; inner dimensions differ")
    alpha, beta = _coefficient(alpha, dtype, "alpha"), _coefficient(beta, dtype, "beta")
    output = Output(ex, (m, n), dtype, any(is_buffer(v) for v in given), out, op)
    prepared = Prepared(ex, finish=output.result, output=output)
    prepared.mark_input(0, oa, a)
    prepared.mark_input(1, ob, b)
    if m * n == 0:
        return prepared
    oc = None if c is None else to_operand(c, ex, op, dtype)
    if oc is not None:
        prepared.mark_input(2, oc, c)
    if k == 0:
        # The product is all zeros: the result is beta * C, or zeros.
        if oc is None:
            return Prepared(ex, finish=lambda: _zeros(output))
        layout = broadcast_layout([oc.shape], op, out_shape=(m, n))
        launch = elementwise_launch(
            ex, scale_op(), [oc.arg], [oc.dtype], output.arg, dtype, layout, (beta,)
        )
        prepared.launches.append(launch)
        return prepared
    oa = _materialized(prepared, oa, oa.shape, dtype)
    ob = _materialized(prepared, ob, ob.shape, dtype)
    program = matmul_program(dtype, 1, m, n, k, bool(trans_a), bool(trans_b))
    prepared.launches.append(once(program, (oa.arg, ob.arg, output.arg)))
    if oc is not None:
        layout = broadcast_layout([(m, n), oc.shape], op, out_shape=(m, n))
        in_args, in_dtypes = [output.arg, oc.arg], [dtype, oc.dtype]
        launch = elementwise_launch(
            ex, axpby_op(), in_args, in_dtypes, output.arg, dtype, layout, (alpha, beta)
        )
        prepared.launches.append(launch)
    elif alpha != 1:
        layout = broadcast_layout([(m, n)], op)
        launch = elementwise_launch(
            ex, scale_op(), [output.arg], [dtype], output.arg, dtype, layout, (alpha,)
        )
        prepared.launches.append(launch)
    return prepared


def _coefficient(value: float, dtype: DType, name: str) -> float | int:
    value = float(value)
    if dtype.is_int:
        if not value.is_integer():
            raise DTypeError(f"gemm: {name}={value} must be a whole number for {dtype} inputs")
        return int(value)
    return value


def matmul(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The matrix product of `a` and `b` with NumPy's matmul semantics."""
    static = static_key("matmul") if out is None else None
    return apply(static, (a, b), executor, lambda ex: prepare_matmul(a, b, ex, out))


def gemm(
    a: Any,
    b: Any,
    c: Any = None,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: bool = False,
    trans_b: bool = False,
    *,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """ONNX Gemm: `alpha * op(a) @ op(b) + beta * c` (op transposes when asked)."""
    static = static_key("gemm", alpha, beta, bool(trans_a), bool(trans_b))
    return apply(
        static if out is None else None,
        (a, b, c),
        executor,
        lambda ex: prepare_gemm(a, b, c, alpha, beta, trans_a, trans_b, ex, out),
    )
