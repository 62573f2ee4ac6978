"""ISA program -> CUDA C source, for the cuda backend. Pure text: imports no CUDA library.

The generated source defines one kernel,

    extern "C" __global__ void hg_kernel(<one argument per param>)

that runs one ISA lane per CUDA thread, with the launch's grid and block as CUDA's own.
Arguments: buffers and pools as pointers to `STORAGE_TYPES[dtype]` (float16 and bfloat16 as
their `unsigned short` bits, bool as bytes; `const` when never written), scalars by value as
`REGISTER_TYPES[dtype]` (float16 and bfloat16 as `float`).

Registers are C locals and ISA control flow is C control flow (`if`/`else`, `for (;;)` with
`break`/`continue`, `exit` as `return`). Shared arrays, and the scratch space of block
reductions, live in dynamic shared memory (`CudaSource.shared_bytes` per block), zeroed at the
start of each block as the ISA's shared arrays are. `bar` is `__syncthreads()`: threads that
have returned no longer hold a barrier up, which is the ISA's rule for exited lanes. Block
reductions are warp shuffles and one shared-memory step; in programs that also `exit`, lanes
mark themselves in a shared `dead` array on the way out and the live lanes' values are combined
in lane order instead. Atomics map to CUDA's atomics where their rounding is the ISA's, else to
compare-and-swap loops over the element's bits.

A loop whose body already issues `UNROLLED_LOADS` or more global loads (unrolled by hand, as
the reductions' folds are) is marked `#pragma unroll 1`: NVRTC unrolling it four times more
multiplied the values live per thread, and a column sum read memory at 0.60 of a copy's
bandwidth on an H200, against 0.93 as written.

Programs whose lanes need nothing of their block render with several ISA lanes per CUDA thread,
in lockstep (`codegen/cuda_lockstep.py`); `CudaSource.lanes_per_thread` tells the backend.

Intrinsic programs (MATMUL, CONV2D) have no per-lane code: the backend runs them on libraries.
"""

from __future__ import annotations

from dataclasses import dataclass

from hologram.codegen.cuda_exprs import (
    NARROW_FLOATS,
    STORAGE_TYPES,
    Operands,
    ctype,
    float_expr,
    int_expr,
    literal,
    param_name,
    round_into,
    value_expr,
)
from hologram.codegen.cuda_lockstep import (
    GRID_PARAM,
    LANES_PER_THREAD,
    LockstepBody,
    lockstep_lanes,
)
from hologram.codegen.cuda_prelude import PRELUDE
from hologram.errors import CompileError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import MAX_BLOCK_LANES, Instruction, ParamKind, Program, Shared

RENDERER_VERSION = 2
"""Bump when the generated code changes meaning: it is written into every source's header."""
ENTRY = "hg_kernel"
UNROLLED_LOADS = 4
"""Loops with this many global loads of their own are left as written (module doc)."""
SHARED_ALIGN = 16
REDUCE_SLOTS = 33
"""Values of block-reduction scratch: one per warp, and the result."""

_MEMORY_OPS = frozenset({Op.LDG, Op.STG, Op.LDS, Op.STS, Op.POOL_LD, Op.POOL_ST})
_REDUCE_COMBINE = {"add": Op.ADD, "mul": Op.MUL, "min": Op.MIN, "max": Op.MAX}


@dataclass(frozen=True)
class CudaSource:
    """A rendered kernel: its text, entry point and dynamic shared memory per block."""

    text: str
    shared_bytes: int
    entry: str = ENTRY
    lanes_per_thread: int = 1
    """ISA lanes per CUDA thread; above 1 the kernel takes `hg_grid` last (module doc)."""


@dataclass(frozen=True)
class _SharedLayout:
    """Byte offsets in the dynamic shared memory of one block."""

    arrays: tuple[int, ...]
    reduce: int  # scratch of block reductions (-1: none)
    dead: int  # one byte per lane, set by `exit` in programs that reduce (-1: none)
    total: int


def _align(offset: int) -> int:
    return -(-offset // SHARED_ALIGN) * SHARED_ALIGN


def _layout(program: Program) -> _SharedLayout:
    offset, arrays = 0, []
    for array in program.shared:
        arrays.append(offset)
        offset = _align(offset + array.size * _register_size(array.dtype))
    ops = {inst.op for inst in program.instructions}
    reduce = dead = -1
    if Op.REDUCE in ops:
        reduce = offset
        slots = MAX_BLOCK_LANES if Op.EXIT in ops else REDUCE_SLOTS
        offset = _align(offset + slots * 8)
        if Op.EXIT in ops:
            dead = offset
            offset = _align(offset + MAX_BLOCK_LANES)
    return _SharedLayout(tuple(arrays), reduce, dead, offset)


def _unrolled_loops(program: Program) -> frozenset[int]:
    """The indices of the LOOP instructions whose own bodies (nested loops apart) hold at
    least `UNROLLED_LOADS` global loads."""
    loads: list[int] = []  # per open loop, its own loads so far
    starts: list[int] = []
    found = set()
    for index, inst in enumerate(program.instructions):
        if inst.op is Op.LOOP:
            loads.append(0)
            starts.append(index)
        elif inst.op is Op.ENDLOOP:
            start, count = starts.pop(), loads.pop()
            if count >= UNROLLED_LOADS:
                found.add(start)
        elif inst.op in (Op.LDG, Op.POOL_LD) and loads:
            loads[-1] += 1
    return frozenset(found)


def _register_size(dtype: DType) -> int:
    return 4 if dtype in NARROW_FLOATS else max(1, dtype.itemsize)


def render_cuda(
    program: Program, launch_bound: int | None = None, lanes_per_thread: int | None = None
) -> CudaSource:
    """Render `program` (verified, not intrinsic) as CUDA C.

    `launch_bound`: the most lanes a block of the launch will have, written as
    `__launch_bounds__` (None: let the compiler choose registers freely).
    `lanes_per_thread`: ISA lanes per CUDA thread (None: `lockstep_lanes(program)`); more than
    one only for programs that `lockstep_lanes` allows it.
    """
    if program.is_intrinsic:
        raise CompileError(f"program {program.name!r} is intrinsic: it has no per-lane code")
    lanes = lockstep_lanes(program) if lanes_per_thread is None else lanes_per_thread
    if lanes < 1 or (lanes > 1 and lockstep_lanes(program) == 1):
        raise CompileError(f"program {program.name!r} cannot run {lanes} lanes per thread")
    layout = _layout(program)
    lines = [
        f"// CUDA kernel for ISA program {program.name!r}, generated by hologram: do not edit.",
        f"// digest {program.digest}, renderer {RENDERER_VERSION}, {lanes} lanes per thread",
        PRELUDE,
    ]
    bounds = f"__launch_bounds__({launch_bound}) " if launch_bound else ""
    params = _params(program) + (f", unsigned int {GRID_PARAM}" if lanes > 1 else "")
    lines.append(f'extern "C" __global__ void {bounds}{ENTRY}({params}) {{')
    body = _Body(program, layout)
    if lanes == 1:
        body.run()
    else:
        LockstepBody(body, lanes).run()
    lines.extend(body.lines)
    lines.append("}")
    return CudaSource("\n".join(lines) + "\n", layout.total, ENTRY, lanes)


def _params(program: Program) -> str:
    params = []
    for index, param in enumerate(program.params):
        name = param_name(program, index)
        if param.kind is ParamKind.SCALAR:
            params.append(f"{ctype(param.dtype)} {name}")
            continue
        const = "const " if param.kind is ParamKind.BUFFER and not param.access.can_write else ""
        params.append(f"{const}{STORAGE_TYPES[param.dtype]}* {name}")
    return ", ".join(params)


# ---------------------------------------------------------------- memory
def _decode(dtype: DType, raw: str) -> str:
    """A value in global-memory representation as a register value."""
    if dtype is DType.BOOL:
        return f"({raw} != 0)"
    if dtype is DType.F16:
        return f"hg_h2f({raw})"
    if dtype is DType.BF16:
        return f"hg_b2f({raw})"
    return raw


def _encode(dtype: DType, value: str) -> str:
    """A register value in global-memory representation."""
    if dtype is DType.BOOL:
        return f"((unsigned char)({value}))"
    if dtype is DType.F16:
        return f"hg_f2h({value})"
    if dtype is DType.BF16:
        return f"hg_f2b({value})"
    return value


_BITS_DECODE = {
    DType.I8: "((signed char)({}))",
    DType.U8: "((unsigned char)({}))",
    DType.I16: "((short)({}))",
    DType.U16: "((unsigned short)({}))",
    DType.I32: "((int)({}))",
    DType.U32: "({})",
    DType.I64: "((long long)({}))",
    DType.U64: "({})",
    DType.F16: "hg_h2f((unsigned short)({}))",
    DType.BF16: "hg_b2f((unsigned short)({}))",
    DType.F32: "__uint_as_float({})",
    DType.F64: "__longlong_as_double((long long)({}))",
}
_BITS_ENCODE = {
    DType.I8: "((unsigned)(unsigned char)({}))",
    DType.U8: "((unsigned)(unsigned char)({}))",
    DType.I16: "((unsigned)(unsigned short)({}))",
    DType.U16: "((unsigned)(unsigned short)({}))",
    DType.I32: "((unsigned)({}))",
    DType.U32: "({})",
    DType.I64: "((unsigned long long)({}))",
    DType.U64: "({})",
    DType.F16: "((unsigned)hg_f2h({}))",
    DType.BF16: "((unsigned)hg_f2b({}))",
    DType.F32: "__float_as_uint({})",
    DType.F64: "((unsigned long long)__double_as_longlong({}))",
}
# (op, dtype) -> a CUDA atomic whose result is the ISA's: "{p}" the address, "{v}" the value.
_NATIVE_ATOMICS = {
    ("add", DType.I32): "atomicAdd((int*){p}, {v})",
    ("add", DType.U32): "atomicAdd({p}, {v})",
    ("add", DType.I64): "(long long)atomicAdd((unsigned long long*){p}, (unsigned long long){v})",
    ("add", DType.U64): "atomicAdd({p}, {v})",
    ("add", DType.F32): "atomicAdd({p}, {v})",
    ("add", DType.F64): "atomicAdd({p}, {v})",
    ("min", DType.I32): "atomicMin({p}, {v})",
    ("min", DType.U32): "atomicMin({p}, {v})",
    ("min", DType.I64): "atomicMin({p}, {v})",
    ("min", DType.U64): "atomicMin({p}, {v})",
    ("max", DType.I32): "atomicMax({p}, {v})",
    ("max", DType.U32): "atomicMax({p}, {v})",
    ("max", DType.I64): "atomicMax({p}, {v})",
    ("max", DType.U64): "atomicMax({p}, {v})",
    ("exch", DType.I32): "atomicExch({p}, {v})",
    ("exch", DType.U32): "atomicExch({p}, {v})",
    ("exch", DType.F32): "atomicExch({p}, {v})",
    ("exch", DType.I64): "(long long)atomicExch((unsigned long long*){p}, (unsigned long long){v})",
    ("exch", DType.U64): "atomicExch({p}, {v})",
}


def _combine(kind: str, dtype: DType, old: str, value: str, rounded: bool = True) -> str:
    """The new value of an atomic or a reduction step: `kind` of `old` and `value`."""
    if kind == "exch":
        return value
    op = _REDUCE_COMBINE[kind]
    if dtype.is_float:
        expr = float_expr(op, DType.F32 if dtype in NARROW_FLOATS else dtype, [old, value])
        return round_into(dtype, expr) if rounded else expr
    return int_expr(op, dtype, [old, value])


class _Body:
    """Emits the kernel body: declarations, then the instructions with C control flow."""

    def __init__(self, program: Program, layout: _SharedLayout):
        self.program = program
        self.layout = layout
        self.ops = Operands(program)
        self.lines: list[str] = []
        self.depth = 1
        self.unrolled = _unrolled_loops(program)

    def add(self, *lines: str) -> None:
        self.lines.extend("  " * self.depth + line for line in lines)

    def run(self) -> None:
        program, layout = self.program, self.layout
        if layout.total:
            self.add(
                "extern __shared__ __align__(16) unsigned char hg_smem[];",
                f"for (unsigned i = hg_lane_index(); i < {layout.total // 4}u;"
                " i += blockDim.x * blockDim.y * blockDim.z)",
                "  ((unsigned*)hg_smem)[i] = 0u;",
                "__syncthreads();",
            )
        for index, (array, offset) in enumerate(zip(program.shared, layout.arrays, strict=True)):
            self.add(
                f"{ctype(array.dtype)}* sh{index} = ({ctype(array.dtype)}*)(hg_smem + {offset});"
            )
        for index, dtype in enumerate(program.registers):
            self.add(f"{ctype(dtype)} r{index} = {literal(0, dtype)};")
        for index in range(program.predicates):
            self.add(f"bool p{index} = false;")
        for index, inst in enumerate(program.instructions):
            self.step(index, inst)

    def step(self, index: int, inst: Instruction) -> None:
        op = inst.op
        if op is Op.IF:
            self.add(f"if ({self.ops.value(inst.srcs[0])}) {{")
            self.depth += 1
        elif op is Op.ELSE:
            self.depth -= 1
            self.add("} else {")
            self.depth += 1
        elif op in (Op.ENDIF, Op.ENDLOOP):
            self.depth -= 1
            self.add("}")
        elif op is Op.LOOP:
            if index in self.unrolled:
                self.add("#pragma unroll 1")
            self.add("for (;;) {")
            self.depth += 1
        elif op is Op.BREAK:
            self.add("break;")
        elif op is Op.CONTINUE:
            self.add("continue;")
        elif op is Op.EXIT:
            if self.layout.dead >= 0:
                self.add(f"hg_smem[{self.layout.dead} + hg_lane_index()] = 1;")
            self.add("return;")
        elif op is Op.BAR:
            self.add("__syncthreads();")
        elif op is Op.FENCE:
            self.add("__threadfence();")
        elif op in _MEMORY_OPS or op is Op.ATOM:
            self.add(self.statement(inst, self.ops))
        elif op is Op.REDUCE:
            self.add(self.reduce(inst))
        elif op in (Op.MATMUL, Op.CONV2D):
            raise CompileError(
                f"{op.value} is an intrinsic: the backend runs it (instruction {index})"
            )
        else:
            self.add(self.statement(inst, self.ops))

    def statement(self, inst: Instruction, ops: Operands) -> str:
        """The C statement of a memory, atomic or value instruction, in `ops`' names."""
        if inst.op in _MEMORY_OPS:
            return self.memory(inst, ops)
        if inst.op is Op.ATOM:
            return self.atomic(inst, ops)
        return f"{ops.value(inst.dst)} = {value_expr(inst, ops)};"  # type: ignore[arg-type]

    def memory(self, inst: Instruction, ops: Operands) -> str:
        dtype, target = inst.dtype, inst.srcs[0]
        assert dtype is not None
        index = ops.value(inst.srcs[1])
        shared = isinstance(target, Shared)
        array = f"sh{target.index}" if shared else param_name(self.program, target.index)  # type: ignore[union-attr]
        element = f"{array}[{index}]"
        if inst.op in (Op.LDG, Op.LDS, Op.POOL_LD):
            value = element if shared else _decode(dtype, element)
            return f"{ops.value(inst.dst)} = {value};"  # type: ignore[arg-type]
        stored = ops.value(inst.srcs[2])
        return f"{element} = {stored if shared else _encode(dtype, stored)};"

    def atomic(self, inst: Instruction, ops: Operands) -> str:
        dtype, kind = inst.dtype, str(inst.attr("op"))
        assert dtype is not None
        pointer = f"({param_name(self.program, inst.srcs[0].index)} + {ops.value(inst.srcs[1])})"  # type: ignore[union-attr]
        value = ops.value(inst.srcs[2])
        native = _NATIVE_ATOMICS.get((kind, dtype))
        if native is not None:
            call = native.format(p=pointer, v=value)
        else:
            size = dtype.itemsize
            word = "unsigned long long" if size == 8 else "unsigned"
            new = _combine(kind, dtype, _BITS_DECODE[dtype].format("bits"), value)
            update = f"[&]({word} bits) -> {word} {{ return {_BITS_ENCODE[dtype].format(new)}; }}"
            if size < 4:
                loop = f"hg_atomic_small({pointer}, {size}u, {update})"
            else:
                loop = f"hg_atomic_{size * 8}({pointer}, {update})"
            call = _BITS_DECODE[dtype].format(loop)
        if inst.dst is None:
            return f"{call};"
        return f"{ops.value(inst.dst)} = {call};"

    def reduce(self, inst: Instruction) -> str:
        dtype, kind = inst.dtype, str(inst.attr("op"))
        assert dtype is not None
        reg = ctype(dtype)
        combine = (
            f"[]({reg} x, {reg} y) -> {reg} {{ return {_combine(kind, dtype, 'x', 'y', False)}; }}"
        )
        value = self.ops.value(inst.srcs[0])
        scratch = f"({reg}*)(hg_smem + {self.layout.reduce})"
        if self.layout.dead >= 0:
            dead = f"hg_smem + {self.layout.dead}"
            call = f"hg_block_reduce_live<{reg}>({value}, {combine}, {scratch}, {dead})"
        else:
            call = f"hg_block_reduce<{reg}>({value}, {combine}, {scratch})"
        return f"{self.ops.value(inst.dst)} = {round_into(dtype, call)};"  # type: ignore[arg-type]


__all__ = [
    "ENTRY",
    "GRID_PARAM",
    "LANES_PER_THREAD",
    "RENDERER_VERSION",
    "CudaSource",
    "lockstep_lanes",
    "render_cuda",
]
