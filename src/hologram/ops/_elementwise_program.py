"""Elementwise ISA programs: one lane per output element, built once per signature and cached.

A program is specialised on the computation, the input and output dtypes, how each input is
read (`Access`) and the number of collapsed dimensions, never on sizes: the element count,
dimensions and strides are u32 scalar parameters, so one compiled program serves every size.

Parameters, in order: `in0 … in{k-1}` (read buffers), `out` (write buffer), `n` (u32),
`dim0 … dim{r-1}` and, per STRIDED input `j`, `stride{j}_0 … stride{j}_{r-1}` (u32), then the
computation's own scalars (in the compute dtype). The fast case is exactly

    i = global_id; if i < n: out[i] = f(in0[i], in1[0], …)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from hologram.isa.builder import Builder, Value
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Arg, Program
from hologram.ops._broadcast import Access, Layout
from hologram.ops._launch import Launch, lanes

Emit = Callable[[Builder, Sequence[Value], Sequence[Arg]], Value]


@dataclass(frozen=True)
class Elementwise:
    """The per-element computation of an op, emitted into a program by `emit`.

    `emit(builder, inputs, scalars)` receives the inputs already converted to the compute
    dtype and the computation's scalar parameters, and returns the result register.
    """

    name: str
    arity: int
    emit: Emit
    float_only: bool = False
    scalars: tuple[str, ...] = ()
    widen_half: bool = True
    """Compute f16/bf16 in f32 and round once at the end (False: compute in the output type)."""


def compute_dtype(fn: Elementwise, out_dtype: DType) -> DType:
    """The dtype a computation runs in for outputs of `out_dtype`."""
    if fn.widen_half and out_dtype in (DType.F16, DType.BF16):
        return DType.F32
    return out_dtype


@cache
def elementwise_program(
    fn: Elementwise,
    in_dtypes: tuple[DType, ...],
    out_dtype: DType,
    access: tuple[Access, ...],
    rank: int,
) -> Program:
    """The program computing `fn` over inputs read as `access` with `rank` collapsed dims."""
    compute = compute_dtype(fn, out_dtype)
    tag = "_".join(str(d) for d in in_dtypes)
    b = Builder(f"{fn.name}_{tag}_to_{out_dtype}_r{rank}")
    inputs = [b.buffer(f"in{k}", dt) for k, dt in enumerate(in_dtypes)]
    out = b.buffer("out", out_dtype, access="write")
    n = b.scalar("n", "u32")
    dims = [b.scalar(f"dim{d}", "u32") for d in range(rank)]
    strides = {
        k: [b.scalar(f"stride{k}_{d}", "u32") for d in range(rank)]
        for k, a in enumerate(access)
        if a is Access.STRIDED
    }
    scalars = [b.scalar(name, compute) for name in fn.scalars]
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        offsets = _strided_offsets(b, i, dims, strides)
        values = []
        for k, buf in enumerate(inputs):
            if access[k] is Access.STRIDED:
                value = b.ldg(buf, offsets[k])
            else:
                value = b.ldg(buf, i if access[k] is Access.FULL else 0)
            values.append(value if in_dtypes[k] is compute else b.cvt(value, compute))
        result = fn.emit(b, values, scalars)
        if b.dtype_of(result) is not out_dtype:  # type: ignore[arg-type]
            result = b.cvt(result, out_dtype)
        b.stg(out, i, result)
    return b.build()


def _strided_offsets(
    b: Builder, i: Value, dims: list[Arg], strides: dict[int, list[Arg]]
) -> dict[int, Value]:
    """Element offsets of the STRIDED inputs for output index `i` (row-major dims)."""
    offsets: dict[int, Value] = {}
    rest = i
    for d in range(len(dims) - 1, -1, -1):
        if d > 0:
            quotient = b.div(rest, dims[d])
            coord = b.sub(rest, b.mul(quotient, dims[d]))
            rest = quotient
        else:
            coord = rest
        for k, per_dim in strides.items():
            term = b.mul(coord, per_dim[d])
            offsets[k] = term if k not in offsets else b.add(offsets[k], term)
    return offsets


def elementwise_launch(
    fn: Elementwise,
    in_args: Sequence[object],
    in_dtypes: Sequence[DType],
    out_arg: object,
    out_dtype: DType,
    layout: Layout,
    scalars: Sequence[int | float] = (),
) -> Launch:
    """The launch computing `fn` for a non-empty `layout` (see the module docstring)."""
    rank = layout.rank
    program = elementwise_program(fn, tuple(in_dtypes), out_dtype, layout.access, rank)
    args: list[object] = [*in_args, out_arg, layout.size]
    if rank:
        args.extend(layout.dims)
        for k, a in enumerate(layout.access):
            if a is Access.STRIDED:
                args.extend(layout.strides[k])
    args.extend(scalars)
    return lanes(program, layout.size, tuple(args))


# ---------------------------------------------------------------- computations
def _unary(op: Op) -> Emit:
    def emit(b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
        return b.unary(op, v[0])

    return emit


def _binary(op: Op) -> Emit:
    def emit(b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
        return b.binary(op, v[0], v[1])

    return emit


def _identity(b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
    return v[0]


def _relu(b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
    return b.max(v[0], 0)


def _gelu(b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
    # The exact form: 0.5 * x * (1 + erf(x / sqrt(2))).
    x = v[0]
    erf = b.unary(Op.ERF, b.mul(x, 0.7071067811865476))
    return b.mul(b.mul(x, 0.5), b.add(erf, 1.0))


def _axpby(b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
    # alpha * in0 + beta * in1 (the Gemm epilogue).
    return b.add(b.mul(v[0], s[0]), b.mul(v[1], s[1]))


def _scale(b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
    return b.mul(v[0], s[0])


BINARY: dict[str, Elementwise] = {
    "add": Elementwise("add", 2, _binary(Op.ADD)),
    "sub": Elementwise("sub", 2, _binary(Op.SUB)),
    "mul": Elementwise("mul", 2, _binary(Op.MUL)),
    "div": Elementwise("div", 2, _binary(Op.DIV)),
    "minimum": Elementwise("minimum", 2, _binary(Op.MIN)),
    "maximum": Elementwise("maximum", 2, _binary(Op.MAX)),
    "pow": Elementwise("pow", 2, _binary(Op.POW), float_only=True),
}
"""The binary computations, by op name."""

UNARY: dict[str, Elementwise] = {
    "abs": Elementwise("abs", 1, _unary(Op.ABS)),
    "neg": Elementwise("neg", 1, _unary(Op.NEG)),
    "relu": Elementwise("relu", 1, _relu),
    **{
        name: Elementwise(name, 1, _unary(op), float_only=True)
        for name, op in [
            ("sqrt", Op.SQRT),
            ("exp", Op.EXP),
            ("log", Op.LOG),
            ("sigmoid", Op.SIGMOID),
            ("tanh", Op.TANH),
            ("erf", Op.ERF),
        ]
    },
    "gelu": Elementwise("gelu", 1, _gelu, float_only=True),
}
"""The unary computations, by op name."""

CAST = Elementwise("cast", 1, _identity, widen_half=False)
"""Copy with dtype conversion (and broadcasting): materialises an input in a new layout."""
AXPBY = Elementwise("axpby", 2, _axpby, scalars=("alpha", "beta"))
SCALE = Elementwise("scale", 1, _scale, scalars=("alpha",))


@dataclass(frozen=True)
class ChainEmit:
    """Emits a chain of elementwise steps applied to input 0, fused into one program.

    Each step is `(op, k)`: a binary op applied as `value = op(value, input k)`, or a unary
    op with `k` None: `value = op(value)`.
    """

    steps: tuple[tuple[str, int | None], ...]

    def __call__(self, b: Builder, v: Sequence[Value], s: Sequence[Arg]) -> Value:
        value = v[0]
        for op, k in self.steps:
            if k is None:
                value = UNARY[op].emit(b, [value], ())
            else:
                value = BINARY[op].emit(b, [value, v[k]], ())
        return value
