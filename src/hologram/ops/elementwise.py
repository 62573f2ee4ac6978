"""Elementwise ops: binary arithmetic, unary math and fused chains, broadcasting like NumPy.

Dtypes: inputs are promoted with NumPy's `result_type` (Python numbers are weak, as in NumPy 2);
bool inputs and combinations without a common ISA dtype raise DTypeError. `pow`, `sqrt`, `exp`,
`log`, `sigmoid`, `tanh`, `gelu` and `erf` need a floating-point result (f16, bf16, f32, f64);
the others take every numeric dtype. Integer `div` truncates toward zero and gives 0 on division
by zero (the ISA's rule, as in ONNX and C), unlike NumPy's `true_divide`; integers wrap on
overflow. f16 and bf16 are computed in f32 and rounded once into the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import ProgramError, ShapeError
from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, Program
from hologram.kernels._fuse import fuse_elementwise
from hologram.ops._broadcast import Access, broadcast_layout
from hologram.ops._elementwise_kernels import (
    BINARY,
    UNARY,
    ElementwiseOp,
    elementwise_launch,
    elementwise_op,
    elementwise_program,
)
from hologram.ops._launch import Prepared
from hologram.ops._operands import (
    Output,
    check_dtype,
    check_size,
    default_executor,
    is_buffer,
    promote,
    resolve_executor,
    to_operand,
)
from hologram.ops._plans import MAX_PLANS
from hologram.ops._results import RecycledResult

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor


def prepare_elementwise(
    fn: ElementwiseOp,
    inputs: Sequence[Any],
    executor: Executor | None = None,
    out: Any = None,
) -> Prepared:
    """Normalise `inputs`, allocate the output and plan the launch of `fn` over them."""
    ex = resolve_executor(inputs, executor, fn.name)
    dtype = promote(inputs, fn.name, fn.float_only)
    operands = [to_operand(v, ex, fn.name, dtype) for v in inputs]
    layout = broadcast_layout([o.shape for o in operands], fn.name)
    check_size(layout.shape, fn.name)
    output = Output(ex, layout.shape, dtype, any(is_buffer(v) for v in inputs), out, fn.name)
    prepared = Prepared(ex, finish=output.result, output=output)
    if layout.size:
        in_args = [o.arg for o in operands]
        in_dtypes = [o.dtype for o in operands]
        launch = elementwise_launch(ex, fn, in_args, in_dtypes, output.arg, dtype, layout)
        prepared.launches.append(launch)
    return prepared


def _run(name: str, inputs: Sequence[Any], executor: Executor | None, out: Any) -> Any:
    return apply_elementwise(elementwise_op(name), inputs, executor, out)


@dataclass(slots=True)
class _Plan:
    """What a call of an op decided from its inputs' kinds, dtypes and shapes alone: the
    result's shape and dtype, and the launch (None for an empty result) less its memory."""

    shape: tuple[int, ...]
    dtype: DType
    program: Program | None
    config: LaunchConfig | None
    fixed: tuple[Any, ...]
    """The arguments after the output: the element count, the layout table, scalars."""
    bound: Callable[..., None] | None = None
    """The launch bound but for the inputs and the result (`Executor.bind_open`), made on
    the first replay: it skips the checks and look-ups of the fixed arguments that
    `Executor.launch` repeats on every call (half of a small op's time)."""
    results: RecycledResult = field(default_factory=RecycledResult)
    """The last large result array, reused once the caller has let go of it."""


def apply_elementwise(
    fn: ElementwiseOp, inputs: Sequence[Any], executor: Executor | None = None, out: Any = None
) -> Any:
    """`fn` over `inputs`: what `prepare_elementwise(...)()` returns, planned once per shape.

    Calls whose inputs are all C-contiguous NumPy arrays (host backends) or all Buffers of
    the executor's backend, without `out=`, are planned once per (op, executor, dtypes,
    shapes): a later call with the same signature allocates the result and launches. Every
    check of the first call (dtypes, broadcasting, sizes) holds for the same signature.
    """
    if out is None:
        ex, key = _signature(fn, inputs, executor)
        if key is not None:
            plans = ex.plans  # type: ignore[union-attr]
            plan = plans.get(key)
            if plan is None:
                prepared = prepare_elementwise(fn, inputs, ex, None)
                if len(plans) >= MAX_PLANS:
                    plans.clear()
                plans[key] = _plan_of(prepared, len(inputs))
                return prepared()
            return _replay(plan, ex, inputs, key[1] is not np.ndarray)  # type: ignore[arg-type]
    return prepare_elementwise(fn, inputs, executor, out)()


def _signature(
    fn: ElementwiseOp, inputs: Sequence[Any], executor: Executor | None
) -> tuple[Executor | None, tuple | None]:
    """(executor, plan key) of a call a plan may serve; the key is None for other calls."""
    first = inputs[0]
    if type(first) is np.ndarray:
        ex = executor if executor is not None else default_executor()
        if not ex.backend.is_host:
            return ex, None
        key: list[Any] = [fn, np.ndarray]
        for v in inputs:
            if type(v) is not np.ndarray or not v.flags.c_contiguous:
                return ex, None
            key += (v.dtype, v.shape)
        return ex, tuple(key)
    if not is_buffer(first):
        return executor, None
    ex = executor if executor is not None else first.executor
    backend = ex.backend
    key = [fn, None]
    for v in inputs:
        if not is_buffer(v) or v.backend is not backend:
            return ex, None
        key += (v.dtype, v.shape)
    return ex, tuple(key)


def _plan_of(prepared: Prepared, n_inputs: int) -> _Plan:
    output = prepared.output
    if not prepared.launches:
        return _Plan(output.shape, output.dtype, None, None, ())
    (launch,) = prepared.launches
    fixed = launch.args[n_inputs + 1 :]
    return _Plan(output.shape, output.dtype, launch.program, launch.config, fixed)


def _replay(plan: _Plan, ex: Executor, inputs: Sequence[Any], buffers: bool) -> Any:
    if buffers:
        result: Any = ex.allocate(plan.shape, plan.dtype)
    else:
        result = plan.results.array(plan.shape, plan.dtype.numpy)
    if plan.program is not None:
        bound = plan.bound
        if bound is None:
            args = (*inputs, result, *plan.fixed)
            slots = range(len(inputs) + 1)
            plan.bound = bound = ex.bind_open(plan.program, plan.config, args, slots)
        bound(*inputs, result)
    return result


# ---------------------------------------------------------------- binary
def add(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """a + b, elementwise."""
    return _run("add", (a, b), executor, out)


def sub(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """a - b, elementwise."""
    return _run("sub", (a, b), executor, out)


def mul(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """a * b, elementwise."""
    return _run("mul", (a, b), executor, out)


def div(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """a / b, elementwise; integer division truncates toward zero (x / 0 gives 0)."""
    return _run("div", (a, b), executor, out)


def minimum(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The elementwise minimum; NaN if either input is NaN."""
    return _run("minimum", (a, b), executor, out)


def maximum(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The elementwise maximum; NaN if either input is NaN."""
    return _run("maximum", (a, b), executor, out)


def pow(a: Any, b: Any, *, executor: Executor | None = None, out: Any = None) -> Any:  # noqa: A001
    """a ** b, elementwise, on floating-point inputs."""
    return _run("pow", (a, b), executor, out)


# ---------------------------------------------------------------- unary
def abs(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:  # noqa: A001
    """|x|, elementwise (the most negative integer wraps to itself)."""
    return _run("abs", (x,), executor, out)


def neg(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """-x, elementwise (unsigned integers wrap)."""
    return _run("neg", (x,), executor, out)


def relu(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """max(x, 0), elementwise."""
    return _run("relu", (x,), executor, out)


def sqrt(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The square root, elementwise."""
    return _run("sqrt", (x,), executor, out)


def exp(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """e ** x, elementwise."""
    return _run("exp", (x,), executor, out)


def log(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The natural logarithm, elementwise."""
    return _run("log", (x,), executor, out)


def sigmoid(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """1 / (1 + exp(-x)), elementwise."""
    return _run("sigmoid", (x,), executor, out)


def tanh(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The hyperbolic tangent, elementwise."""
    return _run("tanh", (x,), executor, out)


def gelu(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """GELU in its exact form, 0.5 * x * (1 + erf(x / sqrt(2))), elementwise."""
    return _run("gelu", (x,), executor, out)


def erf(x: Any, *, executor: Executor | None = None, out: Any = None) -> Any:
    """The error function, elementwise."""
    return _run("erf", (x,), executor, out)


# ---------------------------------------------------------------- fused chains
def chain_elementwise(steps: Sequence[tuple[str, int | None]], n_inputs: int) -> ElementwiseOp:
    """The op applying `steps` to input 0, fused into one kernel.

    Each step is `(op, k)`: a binary op name applied as `value = op(value, inputs[k])`, or a
    unary op name with `k` None. `relu((a + b) * c - d)` is
    `[("add", 1), ("mul", 2), ("sub", 3), ("relu", None)]` over inputs `(a, b, c, d)`.
    """
    normalised: list[tuple[str, int | None]] = []
    for op, k in steps:
        if k is None and op not in UNARY:
            raise ProgramError(f"chain: {op!r} is not a unary op ({', '.join(UNARY)})")
        if k is not None and (op not in BINARY or not 0 <= k < n_inputs):
            raise ProgramError(
                f"chain: step ({op!r}, {k!r}) needs a binary op ({', '.join(BINARY)}) "
                f"and an input index below {n_inputs}"
            )
        normalised.append((op, None if k is None else int(k)))
    return _chain_op(tuple(normalised), n_inputs)


@lru_cache(maxsize=256)
def _chain_op(steps: tuple[tuple[str, int | None], ...], n_inputs: int) -> ElementwiseOp:
    """The fused op of validated `steps`, made once per step list."""
    fused = []
    value = 0  # input 0, then each step's result
    for j, (name, k) in enumerate(steps):
        op = elementwise_op(name)
        fused.append((op.func, (value,) if k is None else (value, k)))
        value = n_inputs + j
    name = "chain_" + "_".join(op for op, _ in steps)
    kernel = fuse_elementwise(name, fused, n_inputs)
    float_only = any(elementwise_op(op).float_only for op, _ in steps)
    return ElementwiseOp(name, n_inputs, kernel, float_only=float_only)


def chain_program(
    steps: Sequence[tuple[str, int | None]], dtype: DType | str, n_inputs: int
) -> Program:
    """The fused program of a chain over `n_inputs` same-shape contiguous inputs of `dtype`.

    Parameters: `in0 … in{n-1}`, `out`, `n` (u32), `layout` (u32, unread: pass any u32
    array); launch one lane per element.
    """
    dt = DType.of(dtype)
    fn = chain_elementwise(steps, n_inputs)
    check_dtype(dt, fn.name, fn.float_only)
    return elementwise_program(fn, (dt,) * n_inputs, dt, (Access.FULL,) * n_inputs, 0)


def chain(
    steps: Sequence[tuple[str, int | None]],
    *inputs: Any,
    executor: Executor | None = None,
    out: Any = None,
) -> Any:
    """Apply a chain of elementwise steps (see `chain_elementwise`) in ONE fused kernel.

    `chain([("mul", 1), ("add", 2), ("tanh", None), ("mul", 3)], a, b, c, d)` computes
    `tanh(a * b + c) * d` reading each input and writing the result once.
    """
    if not inputs:
        raise ShapeError("chain needs at least one input")
    fn = chain_elementwise(steps, len(inputs))
    return apply_elementwise(fn, inputs, executor, out)
