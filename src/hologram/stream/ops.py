"""`StreamOp`s: what a `ComputePipeline` applies to each chunk, in place in the pool.

Every op runs through the pipeline's `Executor`, on its backend: the chunk is a Buffer over the
pool's memory (a zero-copy view on host backends, device memory elsewhere), so the data never
leaves the pool to be computed on.

- `ReLU()`, `ScalarMul(s)`, `AddConst(c)`, `MulConst(c)`, `Clip(lo, hi)`: elementwise; runs of
  them are fused into one kernel launch per chunk (`hologram.ops.chain`).
- `Cast(dtype)`: converts the chunk to another dtype (the stdlib `convert/cast` kernel).
- `OpsFunction(fn, *args)`: any `hologram.ops` function, e.g. `OpsFunction(hops.tanh)`.
- `KernelOp(kernel, *args)`: a user `@hg.kernel`; `ProgramOp(program, *args)`: an ISA program.

For the last three, placeholders in `args` stand for the chunk and its gauge: `CHUNK` (the
chunk's Buffer; prepended when absent), `OUT` (the output Buffer of an op that changes the
dtype), `COUNT` (elements in the chunk), `OFFSET` (the index of its first element in the
stream), `LEVEL`, `PERIOD` (elements per period) and `INDEX` (the chunk's position). That is how
a chunk's gauge travels to the backend: as launch arguments of the kernels that need it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import DTypeError, HologramError, ShapeError
from hologram.stream.errors import StreamError
from hologram.stream.gauge import Gauge

if TYPE_CHECKING:
    from hologram.isa.program import Program
    from hologram.memory.buffer import Buffer
    from hologram.runtime.executor import Executor

BLOCK = 256
"""Lanes per block of the launches made for kernels and programs."""


class Placeholder:
    """Stands in an op's arguments for a value known only per chunk."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return self.name  # pickles as the module-level constant of that name


CHUNK = Placeholder("CHUNK")
OUT = Placeholder("OUT")
COUNT = Placeholder("COUNT")
OFFSET = Placeholder("OFFSET")
LEVEL = Placeholder("LEVEL")
PERIOD = Placeholder("PERIOD")
INDEX = Placeholder("INDEX")


@dataclass
class ChunkCall:
    """What an op gets for one chunk: its Buffer, the output Buffer (the same one for an
    in-place op), the executor and the chunk's gauge."""

    x: Buffer
    out: Buffer
    executor: Executor
    gauge: Gauge

    def value(self, arg: Any) -> Any:
        """`arg`, with a placeholder replaced by this chunk's value."""
        if not isinstance(arg, Placeholder):
            return arg
        itemsize = self.x.dtype.itemsize
        values = {
            "CHUNK": self.x,
            "OUT": self.out,
            "COUNT": self.x.size,
            "OFFSET": self.gauge.offset // itemsize,
            "LEVEL": self.gauge.level,
            "PERIOD": max(1, self.gauge.period // itemsize),
            "INDEX": self.gauge.index,
        }
        return values[arg.name]


class StreamOp(ABC):
    """An operation applied to every chunk of a stream, keeping its element count."""

    name: str = "op"

    def out_dtype(self, dtype: np.dtype) -> np.dtype:
        """The dtype this op leaves the chunk in (the same one for in-place ops)."""
        return dtype

    @abstractmethod
    def apply(self, call: ChunkCall) -> None:
        """Compute the op on `call.x` into `call.out`."""

    def __repr__(self) -> str:
        return self.name


class ElementwiseOp(StreamOp):
    """An op that is one or more steps of `hologram.ops.chain`; runs of these are fused."""

    def steps(self) -> list[tuple[str, float | None]]:
        """(op name, constant operand or None) steps, as `chain` takes them."""
        raise NotImplementedError

    def out_dtype(self, dtype: np.dtype) -> np.dtype:
        for _, constant in self.steps():
            if constant is not None and np.result_type(dtype, constant) != dtype:
                raise DTypeError(
                    f"stream op {self.name}: a {type(constant).__name__} constant {constant!r} "
                    f"would change {dtype} data to {np.result_type(dtype, constant)}; "
                    "add a Cast first"
                )
        if dtype.kind not in "iuf":
            raise DTypeError(f"stream op {self.name} needs numbers, the stream holds {dtype}")
        return dtype

    def apply(self, call: ChunkCall) -> None:
        run_chain(self.steps(), call)


def run_chain(steps: Sequence[tuple[str, float | None]], call: ChunkCall) -> None:
    """Apply fused elementwise `steps` to the chunk, in one kernel launch."""
    from hologram.ops import chain

    constants = [c for _, c in steps if c is not None]
    indexed: list[tuple[str, int | None]] = []
    k = 0
    for name, constant in steps:
        if constant is None:
            indexed.append((name, None))
        else:
            k += 1
            indexed.append((name, k))
    chain(indexed, call.x, *constants, executor=call.executor, out=call.out)


class ReLU(ElementwiseOp):
    """max(x, 0)."""

    name = "relu"

    def steps(self) -> list[tuple[str, float | None]]:
        return [("relu", None)]


class ScalarMul(ElementwiseOp):
    """x * scale."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.name = f"scale={scale}"

    def steps(self) -> list[tuple[str, float | None]]:
        return [("mul", self.scale)]


class MulConst(ScalarMul):
    """x * value (the same as ScalarMul)."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.name = f"mul={value}"


class AddConst(ElementwiseOp):
    """x + value."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.name = f"add={value}"

    def steps(self) -> list[tuple[str, float | None]]:
        return [("add", self.value)]


class Clip(ElementwiseOp):
    """min(max(x, lo), hi), as NumPy's clip."""

    def __init__(self, lo: float, hi: float) -> None:
        if not lo <= hi:
            raise StreamError(f"Clip needs lo <= hi, got {lo} and {hi}")
        self.lo = lo
        self.hi = hi
        self.name = f"clip={lo}:{hi}"

    def steps(self) -> list[tuple[str, float | None]]:
        return [("maximum", self.lo), ("minimum", self.hi)]


class Cast(StreamOp):
    """Convert the chunk to `dtype` (with the ISA's conversion rules), into a new region."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.name = f"cast={self.dtype}"

    def out_dtype(self, dtype: np.dtype) -> np.dtype:
        _isa_dtype(dtype, self.name)
        _isa_dtype(self.dtype, self.name)
        return self.dtype

    def apply(self, call: ChunkCall) -> None:
        from hologram.ops._broadcast import broadcast_layout
        from hologram.ops._elementwise_kernels import cast_op, elementwise_launch

        shape = (call.x.size,)
        layout = broadcast_layout([shape], self.name, out_shape=shape)
        launch = elementwise_launch(
            call.executor, cast_op(), [call.x], [call.x.dtype], call.out, call.out.dtype, layout
        )
        call.executor.launch(launch.program, launch.config, args=launch.args)


def _isa_dtype(dtype: np.dtype, what: str) -> Any:
    from hologram.isa.dtypes import DType

    try:
        return DType.of(dtype)
    except (DTypeError, TypeError):
        raise DTypeError(f"stream op {what}: {dtype} is not an element type") from None


class OpsFunction(StreamOp):
    """Any `hologram.ops` function, called on the chunk's Buffer with `out=` the output.

    `OpsFunction(hops.tanh)`, `OpsFunction(hops.sub, 1.0, CHUNK)` (1 - x). The result must have
    the chunk's element count; its dtype is the chunk's unless `dtype=` says otherwise.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, dtype: Any = None, **kwargs: Any):
        self.fn = fn
        self.args = args if any(a is CHUNK for a in args) else (CHUNK, *args)
        self.kwargs = kwargs
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.name = getattr(fn, "__name__", "ops")

    def out_dtype(self, dtype: np.dtype) -> np.dtype:
        return self.dtype if self.dtype is not None else dtype

    def apply(self, call: ChunkCall) -> None:
        args = [call.value(a) for a in self.args]
        try:
            self.fn(*args, executor=call.executor, out=call.out, **self.kwargs)
        except ShapeError as exc:
            raise StreamError(
                f"stream op {self.name}: a stream op must keep the chunk's element count "
                f"({call.x.size} in chunk {call.gauge.index}): {exc}"
            ) from exc


class KernelOp(StreamOp):
    """A user `@hg.kernel`, launched with one lane per element of the chunk.

    `args` are the kernel's arguments with placeholders: `KernelOp(affine, CHUNK, 2.0, COUNT)`.
    An op that changes the dtype names its output `OUT` and gives `dtype=`.
    """

    def __init__(self, kernel: Any, *args: Any, dtype: Any = None, block: int = BLOCK) -> None:
        self.kernel = kernel
        self.args = args
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.block = block
        self.name = getattr(kernel, "name", "kernel")

    def out_dtype(self, dtype: np.dtype) -> np.dtype:
        return self.dtype if self.dtype is not None else dtype

    def apply(self, call: ChunkCall) -> None:
        from hologram.isa.program import LaunchConfig

        args = [call.value(a) for a in self.args]
        config = LaunchConfig.for_elements(call.x.size, self.block)
        self._launch(call, config, args)

    def _launch(self, call: ChunkCall, config: Any, args: list[Any]) -> None:
        self.kernel.launch(call.executor, config, args)


class ProgramOp(KernelOp):
    """An ISA `Program`, launched with one lane per element (see KernelOp for `args`)."""

    def __init__(self, program: Program, *args: Any, dtype: Any = None, block: int = BLOCK):
        super().__init__(program, *args, dtype=dtype, block=block)

    def _launch(self, call: ChunkCall, config: Any, args: list[Any]) -> None:
        call.executor.launch(self.kernel, config, args=args)


def parse_op(spec: str) -> StreamOp:
    """An op from its command-line form: `relu`, `scale=0.5`, `add=1`, `mul=2`,
    `clip=LO:HI`, `cast=float64`."""
    name, _, value = spec.partition("=")
    name = name.strip().lower()
    try:
        if name == "relu" and not value:
            return ReLU()
        if name in ("scale", "mul"):
            return ScalarMul(float(value)) if name == "scale" else MulConst(float(value))
        if name == "add":
            return AddConst(float(value))
        if name == "clip":
            lo, _, hi = value.partition(":")
            return Clip(float(lo), float(hi))
        if name == "cast":
            return Cast(value)
    except (ValueError, TypeError, HologramError) as exc:
        raise StreamError(f"bad op {spec!r}: {exc}") from None
    raise StreamError(
        f"unknown op {spec!r}; known: relu, scale=S, mul=S, add=C, clip=LO:HI, cast=DTYPE"
    )
