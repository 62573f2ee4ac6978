"""Lane-invariant code hoisted out of lane mode's lane loops.

Numba arrays carry no `noalias`, so LLVM keeps a load inside the innermost lane loop whenever
the loop also stores to memory: a SCALAR read `b[0]` or a per-row bias stops the loop from
vectorising. Lane mode renders, ahead of the lane loops, the instructions whose value is the
same for every lane of the loop they would leave:

- level 0, once per block: values of immediates, scalar arguments, block ids and sizes, and
  loads of such indices from buffers the program never writes (the layout table, `b[0]`);
- level 1, once per plane (inside `for lz`): values that also depend on the lane's z
  coordinate, such as where a block of several small planes finds each plane's data;
- level 2, once per row (inside `for ly`): values that also depend on the lane's y
  coordinate, such as a 2-D launch's row and the row's offset into a broadcast input.

An instruction qualifies when it is pure (no division, which could trap on lanes that would
never run it), sits outside every ISA loop, writes a register that nothing else writes and that
is read only after it, within the IF branch that writes it. A load may run for a lane that
would not have reached it, so its hoisted copy is bounds-checked (an out-of-range index leaves
the register zero; no lane that reaches the load uses such an index). Buffers the program never
writes are assumed not to overlap the ones it writes, which holds for every launch that reads
inputs and writes a separate output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hologram.codegen.numba_exprs import (
    Lines,
    Operands,
    literal,
    memory_lines,
    param_name,
    value_expr,
)
from hologram.isa.opcodes import Op
from hologram.isa.program import Arg, Imm, Instruction, Pred, Program, Reg

_PURE = frozenset(
    {
        Op.MOV, Op.CVT, Op.ADD, Op.SUB, Op.MUL, Op.MAD, Op.FMA, Op.MIN, Op.MAX, Op.ABS,
        Op.NEG, Op.FLOOR, Op.CEIL, Op.ROUND, Op.TRUNC, Op.AND, Op.OR, Op.XOR, Op.NOT,
        Op.SHL, Op.SHR, Op.SETP, Op.SEL,
    }
)  # fmt: skip
_WRITES_MEMORY = frozenset({Op.STG, Op.ATOM, Op.POOL_ST})
_BLOCK_WIDE = frozenset({"block_id", "block_dim", "grid_dim"})
BLOCK, PLANE, ROW = 0, 1, 2
"""The hoisting levels: once per block, per value of the lane's z, per value of its y."""
LEVELS = (BLOCK, PLANE, ROW)


@dataclass
class Hoisting:
    """Which instructions run before the lane loops, and at which level (`LEVELS`)."""

    levels: dict[int, int] = field(default_factory=dict)
    """instruction index -> 0 (once per block), 1 (once per plane) or 2 (once per row)."""

    def registers(self, program: Program) -> set[object]:
        """The registers and predicates the hoisted instructions write."""
        return {program.instructions[index].dst for index in self.levels}

    def at(self, level: int) -> list[int]:
        """The hoisted instruction indices of `level`, in program order."""
        return sorted(index for index, lvl in self.levels.items() if lvl == level)


def plan_hoisting(program: Program) -> Hoisting:
    """The instructions of `program` that lane mode may hoist (see the module docstring)."""
    instructions = program.instructions
    written_buffers = {
        inst.srcs[0].index
        for inst in instructions
        if inst.op in _WRITES_MEMORY and isinstance(inst.srcs[0], Arg)
    }
    writes: dict[object, list[int]] = {}
    reads: dict[object, list[int]] = {}
    for index, inst in enumerate(instructions):
        if inst.dst is not None:
            writes.setdefault(inst.dst, []).append(index)
        for src in inst.srcs:
            if isinstance(src, (Reg, Pred)):
                reads.setdefault(src, []).append(index)
    paths = _branch_paths(instructions)
    hoisting = Hoisting()
    loops = 0
    for index, inst in enumerate(instructions):
        if inst.op is Op.LOOP:
            loops += 1
        elif inst.op is Op.ENDLOOP:
            loops -= 1
        if loops or inst.dst is None or len(writes[inst.dst]) != 1:
            continue
        path = paths[index]
        if not all(at > index and paths[at][: len(path)] == path for at in reads.get(inst.dst, [])):
            continue
        level = _level(inst, hoisting.levels, writes, written_buffers)
        if level is not None:
            hoisting.levels[index] = level
    return hoisting


def _level(
    inst: Instruction, levels: dict[int, int], writes: dict, written_buffers: set[int]
) -> int | None:
    """The level an instruction can be hoisted to, given the sources' levels; None: not."""
    if inst.op is Op.SREG:
        name, axis = str(inst.attr("sreg")), int(inst.attr("axis"))  # type: ignore[arg-type]
        if name in _BLOCK_WIDE:
            return 0
        return {0: None, 1: ROW, 2: PLANE}[axis]
    srcs = list(inst.srcs)
    if inst.op is Op.LDG:
        if not isinstance(srcs[0], Arg) or srcs[0].index in written_buffers:
            return None
        srcs = srcs[1:]
    elif inst.op not in _PURE:
        return None
    level = 0
    for src in srcs:
        if isinstance(src, (Reg, Pred)):
            source = levels.get(writes[src][0]) if src in writes else None
            if source is None:
                return None
            level = max(level, source)
        elif not isinstance(src, (Imm, Arg)):
            return None
    return level


def _branch_paths(instructions: list[Instruction]) -> list[tuple[int, ...]]:
    """Per instruction, the IF branches (and loops) enclosing it, outermost first; an ELSE
    opens a branch of its own."""
    paths: list[tuple[int, ...]] = []
    stack: list[int] = []
    for index, inst in enumerate(instructions):
        if inst.op in (Op.ENDIF, Op.ENDLOOP):
            stack.pop()
        elif inst.op is Op.ELSE:
            stack[-1] = index
        paths.append(tuple(stack))
        if inst.op in (Op.IF, Op.LOOP):
            stack.append(index)
    return paths


def render_hoisted(program: Program, hoisting: Hoisting, level: int, out: Lines) -> None:
    """The hoisted instructions of `level`, each register zeroed first (as in the lane)."""
    ops = Operands(program)
    for index in hoisting.at(level):
        inst = program.instructions[index]
        dst = inst.dst
        assert dst is not None
        name = ops.register(dst)
        if isinstance(dst, Reg):
            out.add(f"{name} = {literal(0, program.registers[dst.index])}")
        else:
            out.add(f"{name} = False")
        if inst.op is Op.LDG:
            array = param_name(program, inst.srcs[0].index)  # type: ignore[union-attr]
            out.add(f"if np.uint64({ops.value(inst.srcs[1])}) < np.uint64(len({array})):")
            out.add(*(f"    {line}" for line in memory_lines(inst, ops, str(index))))
        else:
            out.add(f"{name} = {value_expr(inst, ops)}")
