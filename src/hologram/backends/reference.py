"""The reference backend: the executable specification of the Atlas ISA, in NumPy.

It is slow and obviously right; every other backend is tested against it.

Execution model. Each instruction runs over all lanes of a block at once: a general register is
a NumPy array with one element per lane (of the register's dtype), a predicate a bool array.
Divergent control flow keeps an *active mask*; only active lanes write registers or memory.

- `if p` narrows the mask to the lanes where `p` holds; `else` switches to the other lanes of
  the mask the `if` started from; `endif` restores that mask.
- `loop` repeats its body while any lane that entered it is still in it. `break` removes the
  active lanes until the loop ends; `continue` removes them until the next iteration; `exit`
  removes them for the rest of the program. A region with no active lane is skipped.
- `bar` and `reduce` must be reached with every lane of the block that has not exited active;
  otherwise the launch fails with `LaunchError` (a divergent barrier).
- Memory accesses are checked: an index outside the buffer, pool or shared array on any active
  lane raises `MemoryAccessError` naming the instruction, the lane and the bound.
- When several active lanes store to one address in one instruction, the highest-numbered lane
  wins. Atomics apply lane by lane in ascending lane order.
- Lanes are numbered x-fastest within a block (`lane = x + bx * (y + by * z)`), blocks likewise.

Programs without block features (shared memory, barriers, reductions) and without atomics run
many blocks as one batch of lanes; the others run block by block with fresh shared arrays.
Intrinsic programs (MATMUL, CONV2D) run once per launch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hologram.backends import _reference_values as values
from hologram.backends._reference_tensor import run_intrinsic
from hologram.backends.base import HostBackend
from hologram.errors import LaunchError, MemoryAccessError, ProgramError
from hologram.isa import geometry as geo
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import (
    Arg,
    Imm,
    Instruction,
    LaunchConfig,
    Operand,
    ParamKind,
    Pred,
    Program,
    Reg,
    Shared,
)

CHUNK_LANES = 1 << 20
"""The most lanes executed together when a program runs many blocks as one batch."""


@dataclass(frozen=True)
class ReferenceKernel:
    """A decoded program: structured-control-flow tables and converted immediates."""

    program: Program
    partner: dict[int, int]
    """IF -> its ELSE or ENDIF; ELSE -> ENDIF; LOOP -> ENDLOOP; ENDLOOP -> LOOP."""
    region_end: tuple[int, ...]
    """For each instruction, the marker closing the innermost region around it (or the end)."""
    constants: dict[Imm, np.generic]
    batched: bool
    """True when blocks do not interact, so many blocks may run as one batch of lanes."""


def decode(program: Program) -> ReferenceKernel:
    """Match the control-flow markers of `program` and convert its immediates."""
    instructions = program.instructions
    end = len(instructions)
    partner: dict[int, int] = {}
    openers: list[list[int]] = []  # [opener index, else index or -1]
    for pc, ins in enumerate(instructions):
        if ins.op in (Op.IF, Op.LOOP):
            openers.append([pc, -1])
        elif ins.op in (Op.ELSE, Op.ENDIF, Op.ENDLOOP):
            expected = Op.LOOP if ins.op is Op.ENDLOOP else Op.IF
            if not openers or instructions[openers[-1][0]].op is not expected:
                raise ProgramError(f"unmatched {ins.op.value}", pc, program.name)
            if ins.op is Op.ELSE:
                openers[-1][1] = pc
                continue
            opener, else_pc = openers.pop()
            if ins.op is Op.ENDLOOP:
                partner[opener], partner[pc] = pc, opener
            elif else_pc >= 0:
                partner[opener], partner[else_pc] = else_pc, pc
            else:
                partner[opener] = pc
    if openers:
        raise ProgramError("unclosed control-flow region", openers[-1][0], program.name)

    region_end = [end] * end
    closers = [end]
    for pc, ins in enumerate(instructions):
        if ins.op in (Op.ELSE, Op.ENDIF, Op.ENDLOOP):
            closers.pop()
        region_end[pc] = closers[-1]
        if ins.op in (Op.IF, Op.ELSE, Op.LOOP):
            closers.append(partner[pc])
            region_end[pc] = closers[-2]

    constants = {}
    for ins in instructions:
        for src in ins.srcs:
            if isinstance(src, Imm):
                constants[src] = values.constant(src.value, src.dtype)
    batched = not program.uses_block_features and all(i.op is not Op.ATOM for i in instructions)
    return ReferenceKernel(program, partner, tuple(region_end), constants, batched)


class ReferenceBackend(HostBackend):
    """Runs ISA programs with NumPy, all lanes of a block at once: the executable spec."""

    name: ClassVar[str] = "reference"

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """Always available: it needs NumPy only."""
        return True, "NumPy is always available"

    def device_name(self) -> str:
        """The reference interpreter runs on the host CPU."""
        return "host CPU (NumPy reference interpreter)"

    def _compile(self, program: Program) -> ReferenceKernel:
        return decode(program)

    def _launch(
        self, kernel: ReferenceKernel, program: Program, config: LaunchConfig, args: list
    ) -> None:
        if program.is_intrinsic:
            for index, instruction in enumerate(program.instructions):
                run_intrinsic(program, index, instruction, args)
            return
        memory = _bind_memory(program, args)
        per_block = config.lanes_per_block
        blocks_per_run = max(1, CHUNK_LANES // per_block) if kernel.batched else 1
        for first_block in range(0, config.num_blocks, blocks_per_run):
            count = min(blocks_per_run, config.num_blocks - first_block)
            shared = [np.zeros(a.size, a.dtype.numpy) for a in program.shared]
            run = _LaneGroup(kernel, config, args, memory, shared, first_block * per_block)
            run.execute(count * per_block)


def _bind_memory(program: Program, args: list) -> dict[int, np.ndarray]:
    """Typed arrays for buffer and pool parameters (a pool is viewed as an array of its dtype)."""
    memory = {}
    for index, (param, arg) in enumerate(zip(program.params, args, strict=True)):
        if param.kind is ParamKind.BUFFER:
            memory[index] = arg
        elif param.kind is ParamKind.POOL:
            raw = arg.view(np.uint8)
            usable = raw.size - raw.size % param.dtype.itemsize
            memory[index] = raw[:usable].view(param.dtype.numpy)
    return memory


@dataclass
class _Frame:
    """An open IF (cond set) or LOOP (broken set) with the mask it started from."""

    is_loop: bool
    entry: np.ndarray
    cond: np.ndarray | None = None
    broken: np.ndarray | None = None
    start: int = 0


Handler = Callable[["_LaneGroup", int, Instruction], None]
_HANDLERS: dict[Op, Handler] = {}


def _handles(*ops: Op) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for op in ops:
            _HANDLERS[op] = fn
        return fn

    return register


class _LaneGroup:
    """The register file and control state of a run of consecutive lanes (whole blocks)."""

    def __init__(
        self,
        kernel: ReferenceKernel,
        config: LaunchConfig,
        args: list,
        memory: dict[int, np.ndarray],
        shared: list[np.ndarray],
        first_lane: int,
    ):
        self.kernel = kernel
        self.program = kernel.program
        self.config = config
        self.args = args
        self.memory = memory
        self.shared = shared
        self.first_lane = first_lane
        self._special: dict[tuple[str, int], np.ndarray] = {}

    # ------------------------------------------------------------ the interpreter loop
    def execute(self, lanes: int) -> None:
        """Run the whole program over `lanes` lanes."""
        self.lanes = lanes
        self.regs = [np.zeros(lanes, dt.numpy) for dt in self.program.registers]
        self.preds = [np.zeros(lanes, bool) for _ in range(self.program.predicates)]
        self.exited = np.zeros(lanes, bool)
        self.frames: list[_Frame] = []
        self.set_mask(np.ones(lanes, bool))
        instructions = self.program.instructions
        partner, region_end = self.kernel.partner, self.kernel.region_end
        pc = 0
        while pc < len(instructions):
            ins = instructions[pc]
            op = ins.op
            if op is Op.IF:
                cond = self.preds[ins.srcs[0].index] & self.mask  # type: ignore[union-attr]
                self.frames.append(_Frame(False, self.mask, cond=cond))
                self.set_mask(cond)
                pc = pc + 1 if self.any_active else partner[pc]
            elif op is Op.ELSE:
                frame = self.frames[-1]
                self.set_mask(frame.entry & ~frame.cond)  # type: ignore[operator]
                pc = pc + 1 if self.any_active else partner[pc]
            elif op is Op.LOOP:
                self.frames.append(_Frame(True, self.mask, broken=np.zeros(lanes, bool), start=pc))
                pc += 1
            elif op is Op.ENDLOOP:
                frame = self.frames[-1]
                again = frame.entry & ~frame.broken  # type: ignore[operator]
                if again.any():
                    self.set_mask(again)
                    pc = frame.start + 1
                else:
                    self.frames.pop()
                    self.set_mask(frame.entry)
                    pc = pc + 1 if self.any_active else region_end[pc]
            elif op is Op.ENDIF:
                self.set_mask(self.frames.pop().entry)
                pc = pc + 1 if self.any_active else region_end[pc]
            else:
                _HANDLERS[op](self, pc, ins)
                pc = pc + 1 if self.any_active else region_end[pc]

    def set_mask(self, mask: np.ndarray) -> None:
        self.mask = mask
        self.any_active = bool(mask.any())
        self.all_active = bool(mask.all())

    def remove_lanes(self, removed: np.ndarray, from_frame: int) -> None:
        """Drop `removed` from the masks of frames[from_frame:] and from the active mask."""
        keep = ~removed
        for frame in self.frames[from_frame:]:
            frame.entry = frame.entry & keep
            if frame.cond is not None:
                frame.cond = frame.cond & keep
        self.set_mask(self.mask & keep)

    def innermost_loop(self, pc: int) -> int:
        for depth in range(len(self.frames) - 1, -1, -1):
            if self.frames[depth].is_loop:
                return depth
        raise ProgramError("break or continue outside a loop", pc, self.program.name)

    # ------------------------------------------------------------ operands
    def read(self, operand: Operand) -> np.ndarray:
        """The per-lane value of a register, predicate, immediate or scalar parameter."""
        if isinstance(operand, Reg):
            return self.regs[operand.index]
        if isinstance(operand, Pred):
            return self.preds[operand.index]
        if isinstance(operand, Imm):
            return np.broadcast_to(self.kernel.constants[operand], (self.lanes,))
        if isinstance(operand, Arg) and self.program.params[operand.index].kind is ParamKind.SCALAR:
            return np.broadcast_to(self.args[operand.index], (self.lanes,))
        raise ProgramError(f"operand {operand} is not a value", None, self.program.name)

    def dtype_of(self, operand: Operand) -> DType:
        if isinstance(operand, Reg):
            return self.program.registers[operand.index]
        if isinstance(operand, Pred):
            return DType.BOOL
        if isinstance(operand, Imm):
            return operand.dtype
        if isinstance(operand, Arg):
            return self.program.params[operand.index].dtype
        return self.program.shared[operand.index].dtype

    def write(self, dst: Reg | Pred | None, value: np.ndarray | np.generic) -> None:
        """Store `value` into `dst` on the active lanes only."""
        if dst is None:
            return
        if isinstance(dst, Pred):
            table, dtype = self.preds, np.dtype(bool)
        else:
            table, dtype = self.regs, self.program.registers[dst.index].numpy
        value = np.broadcast_to(np.asarray(value).astype(dtype, copy=False), (self.lanes,))
        if self.all_active:
            table[dst.index] = np.ascontiguousarray(value)
        else:
            table[dst.index] = np.where(self.mask, value, table[dst.index])

    def active(self, value: np.ndarray) -> np.ndarray:
        """The elements of a per-lane array that belong to active lanes, in lane order."""
        return value if self.all_active else value[self.mask]

    # ------------------------------------------------------------ memory
    def target(self, operand: Operand) -> np.ndarray:
        if isinstance(operand, Shared):
            return self.shared[operand.index]
        return self.memory[operand.index]  # type: ignore[union-attr]

    def indices(self, pc: int, ins: Instruction, target: np.ndarray) -> np.ndarray:
        """The active lanes' indices as int64, after checking them against `target`'s bound."""
        raw = self.active(self.read(ins.srcs[1]))
        bad = (raw < 0) | (raw >= target.size)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            lane = int(np.flatnonzero(self.mask)[first])
            raise MemoryAccessError(
                f"program {self.program.name!r}, instruction {pc} ({ins.op.value} on "
                f"{self.describe_target(ins.srcs[0])}): {self.describe_lane(lane)} used index "
                f"{int(raw[first])}, outside [0, {target.size})"
            )
        return raw.astype(np.int64)

    def describe_target(self, operand: Operand) -> str:
        if isinstance(operand, Shared):
            return f"shared array @{operand.index}"
        param = self.program.params[operand.index]  # type: ignore[union-attr]
        return f"{param.kind.value} {param.name!r}"

    def describe_lane(self, lane: int) -> str:
        g = self.first_lane + lane
        bx, by, bz = self.config.block
        gx, gy, _ = self.config.grid
        block, local = divmod(g, self.config.lanes_per_block)
        lane_xyz = (local % bx, local // bx % by, local // (bx * by))
        block_xyz = (block % gx, block // gx % gy, block // (gx * gy))
        global_xyz = tuple(
            b * d + t for b, d, t in zip(block_xyz, (bx, by, bz), lane_xyz, strict=True)
        )
        return f"lane {lane_xyz} of block {block_xyz} (global id {global_xyz})"

    def special(self, name: str, axis: int) -> np.ndarray:
        """A special register for every lane (u32)."""
        key = (name, axis)
        if key not in self._special:
            g = np.arange(self.first_lane, self.first_lane + self.lanes, dtype=np.int64)
            block, local = np.divmod(g, self.config.lanes_per_block)
            dims, grid = self.config.block, self.config.grid
            lane = local // int(np.prod(dims[:axis])) % dims[axis]
            block_id = block // int(np.prod(grid[:axis])) % grid[axis]
            table = {
                "lane_id": lane,
                "block_id": block_id,
                "block_dim": np.full(self.lanes, dims[axis]),
                "grid_dim": np.full(self.lanes, grid[axis]),
                "global_id": block_id * dims[axis] + lane,
            }
            if name not in table or axis not in (0, 1, 2):
                raise ProgramError(
                    f"unknown special register {name}.{axis}", None, self.program.name
                )
            self._special[key] = table[name].astype(np.uint32)
        return self._special[key]

    def check_converged(self, pc: int, ins: Instruction) -> None:
        """BAR and REDUCE need every lane of the block that has not exited."""
        if not np.array_equal(self.mask, ~self.exited):
            waiting = int(np.count_nonzero(self.mask))
            expected = int(np.count_nonzero(~self.exited))
            raise LaunchError(
                f"program {self.program.name!r}, instruction {pc} ({ins.op.value}): divergent "
                f"barrier in block starting at {self.describe_lane(0)}: {waiting} of "
                f"{expected} live lanes reached it"
            )


# ---------------------------------------------------------------- control and synchronisation
@_handles(Op.BREAK, Op.CONTINUE)
def _break_continue(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    depth = group.innermost_loop(pc)
    if ins.op is Op.BREAK:
        loop = group.frames[depth]
        loop.broken = loop.broken | group.mask  # type: ignore[operator]
    # A continuing lane stays in the loop's entry mask, so ENDLOOP brings it back.
    group.remove_lanes(group.mask, depth + 1)


@_handles(Op.EXIT)
def _exit(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    group.exited = group.exited | group.mask
    group.remove_lanes(group.mask, 0)


@_handles(Op.BAR)
def _barrier(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    group.check_converged(pc, ins)


@_handles(Op.FENCE)
def _fence(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    """Every write is visible at once in the reference, so a fence orders nothing further."""


# ---------------------------------------------------------------- data movement
@_handles(Op.LDG, Op.LDS, Op.POOL_LD)
def _load(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    target = group.target(ins.srcs[0])
    index = group.indices(pc, ins, target)
    if group.all_active:
        group.write(ins.dst, target[index])
        return
    loaded = np.zeros(group.lanes, target.dtype)
    loaded[group.mask] = target[index]
    group.write(ins.dst, loaded)


@_handles(Op.STG, Op.STS, Op.POOL_ST)
def _store(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    target = group.target(ins.srcs[0])
    index = group.indices(pc, ins, target)
    stored = group.active(group.read(ins.srcs[2]))
    # Keep the last (highest-numbered) lane of each address, explicitly.
    unique, first_from_end = np.unique(index[::-1], return_index=True)
    if unique.size != index.size:
        keep = index.size - 1 - first_from_end
        index, stored = index[keep], stored[keep]
    target[index] = stored


@_handles(Op.MOV)
def _mov(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    group.write(ins.dst, group.read(ins.srcs[0]))


@_handles(Op.CVT)
def _cvt(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    source = ins.srcs[0]
    converted = values.convert(group.read(source), group.dtype_of(source), ins.dtype)
    group.write(ins.dst, converted)


# ---------------------------------------------------------------- values
_UNARY = (Op.ABS, Op.NEG, Op.FLOOR, Op.CEIL, Op.ROUND, Op.TRUNC, Op.NOT, Op.EXP, Op.LOG)
_UNARY += (Op.SQRT, Op.RSQRT, Op.SIN, Op.COS, Op.TANH, Op.SIGMOID, Op.ERF)
_BINARY = (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MOD, Op.MIN, Op.MAX, Op.POW)
_BINARY += (Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR)


@_handles(*_UNARY)
def _unary(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    group.write(ins.dst, values.unary(ins.op, group.read(ins.srcs[0]), ins.dtype))


@_handles(*_BINARY)
def _binary(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    a, b = (group.read(s) for s in ins.srcs)
    group.write(ins.dst, values.binary(ins.op, a, b, ins.dtype))


@_handles(Op.MAD, Op.FMA)
def _ternary(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    a, b, c = (group.read(s) for s in ins.srcs)
    group.write(ins.dst, values.ternary(ins.op, a, b, c, ins.dtype))


@_handles(Op.SETP)
def _setp(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    a, b = (group.read(s) for s in ins.srcs)
    group.write(ins.dst, values.compare(str(ins.attr("cmp")), a, b, ins.dtype))


@_handles(Op.SEL)
def _sel(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    cond, a, b = (group.read(s) for s in ins.srcs)
    group.write(ins.dst, np.where(cond, a, b))


@_handles(Op.SREG)
def _sreg(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    axis = ins.attr("axis", 0)
    axis = _AXES.get(axis, axis) if isinstance(axis, str) else axis
    group.write(ins.dst, group.special(str(ins.attr("sreg")), int(axis)))  # type: ignore[arg-type]


_AXES = {"x": 0, "y": 1, "z": 2}


_GEOMETRY: dict[Op, Callable[..., np.ndarray]] = {
    Op.CLASS_OF: lambda a: a % geo.POOL_BYTES // geo.CLASS_BYTES,
    Op.PAGE_OF: lambda a: a % geo.CLASS_BYTES // geo.PAGE_BYTES,
    Op.BYTE_OF: lambda a: a % geo.PAGE_BYTES,
    Op.MIRROR: lambda c: geo.NUM_CLASSES - 1 - c % geo.NUM_CLASSES,
    Op.ADDR: lambda c, p, b: (
        c % geo.NUM_CLASSES * geo.CLASS_BYTES
        + p % geo.PAGES_PER_CLASS * geo.PAGE_BYTES
        + b % geo.PAGE_BYTES
    ),
}


@_handles(*_GEOMETRY, Op.NEIGHBOR)
def _geometry(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    wide = [group.read(s).astype(np.int64) for s in ins.srcs]
    if ins.op is Op.NEIGHBOR:
        step = -1 if int(ins.attr("k", 0)) % geo.NUM_NEIGHBORS == 0 else 1
        result = (wide[0] + step) % geo.NUM_CLASSES
    else:
        result = _GEOMETRY[ins.op](*wide)
    group.write(ins.dst, result.astype(np.uint32))


# ---------------------------------------------------------------- collectives
@_handles(Op.REDUCE)
def _reduce(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    group.check_converged(pc, ins)
    contributed = group.active(group.read(ins.srcs[0]))
    group.write(ins.dst, values.reduce(str(ins.attr("op")), contributed, ins.dtype))


@_handles(Op.ATOM)
def _atom(group: _LaneGroup, pc: int, ins: Instruction) -> None:
    target = group.target(ins.srcs[0])
    index = group.indices(pc, ins, target)
    operand = group.active(group.read(ins.srcs[2]))
    op = str(ins.attr("op"))
    old = np.empty(index.size, target.dtype)
    # Lanes apply one after another in lane order. Lanes with distinct addresses do not
    # interact, so each round applies the r-th lane of every address at once.
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if ordered.size else np.zeros(0, bool)
    positions = np.arange(ordered.size)
    rank = np.empty(ordered.size, np.int64)
    rank[order] = positions - np.maximum.accumulate(np.where(starts, positions, 0))
    for r in range(int(rank.max()) + 1 if rank.size else 0):
        lanes = np.flatnonzero(rank == r)
        where = index[lanes]
        current = target[where]
        old[lanes] = current
        target[where] = values.atomic_combine(op, current, operand[lanes], ins.dtype)
    if ins.dst is not None:
        full = np.zeros(group.lanes, target.dtype)
        full[group.mask] = old
        group.write(ins.dst, full)


BACKEND = ReferenceBackend

__all__ = ["BACKEND", "CHUNK_LANES", "ReferenceBackend", "ReferenceKernel", "decode"]
