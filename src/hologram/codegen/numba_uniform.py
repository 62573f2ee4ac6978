"""Uniform loops of region mode: top-level loops that every lane of a block runs the same
number of times, rendered with the loop outside and the lanes inside, so that each pass is
one loop over the lanes that LLVM vectorises.

A block-per-row kernel has its lanes stride over a row: in pass k, lane l reads element
`k * width + l`. Run lane after lane (region mode's `loop` segments), each lane folds its
elements with scalar code; run pass after pass, the loop over the lanes reads consecutive
elements, one vector at a time. That order is only possible when the passes do not depend on
the lane, which three analyses establish:

- *uniform* registers hold the same value in every lane: block ids and sizes, scalar
  arguments, immediates, block reductions' results, and pure functions of these, written at
  the top level or straight in the body of a uniform loop;
- a *uniform loop* is a top-level LOOP whose body is straight code except `IF p; BREAK;
  ENDIF` with a uniform `p` (so that every lane leaves it at the same pass), in a program
  without EXIT;
- *lane-affine* registers are written once, at the top level, by a pure function of lane
  coordinates, block scalars (below), immediates and arguments (`first + lane`): every
  segment recomputes them from `lx` instead of reading them from a lane array, so that LLVM
  sees addresses that grow with the lane (a read of a lane array would make every access in
  a uniform loop a gather).

In a uniform loop, uniform instructions run once per pass as scalars of the block; the other
instructions run in loops over the lanes (one per stretch between uniform ones), with
registers kept in lane arrays where region mode keeps them there.

*Block scalars* are the uniform registers written once, at the top level, from immediates,
arguments and other block scalars (or by a block reduction), and read nowhere before that
write: region mode computes them once per block, ahead of the lanes, and keeps them in plain
variables instead of lane arrays (a row's length, the divisions that split it, its mean).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hologram.codegen.numba_exprs import Lines, Operands, memory_lines, value_expr
from hologram.isa.opcodes import SPECS, Group, Op
from hologram.isa.program import Arg, Instruction, Pred, Program, Reg

LaneReg = Reg | Pred

_VALUE_GROUPS = frozenset(
    {Group.ARITH, Group.LOGIC, Group.COMPARE, Group.TRANSCENDENTAL, Group.GEOMETRY}
)
_MEMORY = frozenset({Op.LDG, Op.STG, Op.LDS, Op.STS, Op.POOL_LD, Op.POOL_ST, Op.ATOM})
_BLOCK_WIDE = frozenset({"block_id", "block_dim", "grid_dim"})
_LANE_COORDS = frozenset({"lane_id", "global_id"})


@dataclass(frozen=True)
class UniformPlan:
    """What the uniform analyses found in one program."""

    uniform: frozenset[LaneReg]
    loops: frozenset[int]  # indices of the LOOPs that run as uniform loops
    affine: dict[LaneReg, int]  # lane-affine register -> its one writing instruction
    block: dict[LaneReg, int] = field(default_factory=dict)  # block scalar -> its writer


def is_value_op(inst: Instruction) -> bool:
    """True for instructions whose whole effect is the value they write to a register."""
    return inst.op in (Op.MOV, Op.CVT) or SPECS[inst.op].group in _VALUE_GROUPS


def plan_uniform(program: Program) -> UniformPlan:
    """The uniform registers, uniform loops and lane-affine registers of `program`."""
    instructions = program.instructions
    if any(inst.op is Op.EXIT for inst in instructions):
        return UniformPlan(frozenset(), frozenset(), {})
    where = _enclosing(instructions)
    candidates = {
        index
        for index, inst in enumerate(instructions)
        if inst.op is Op.LOOP and not where[index] and _straight_body(instructions, index)
    }
    writes: dict[LaneReg, list[int]] = {}
    for index, inst in enumerate(instructions):
        if isinstance(inst.dst, (Reg, Pred)):
            writes.setdefault(inst.dst, []).append(index)
    uniform = set(writes)
    loops = set(candidates)
    read_only = set(range(len(program.params))) - {
        inst.srcs[0].index for inst in instructions if inst.op in (Op.STG, Op.ATOM, Op.POOL_ST)
    }
    changed = True
    while changed:  # shrink both sets until every member's reasons hold
        changed = False
        for reg in list(uniform):
            if not all(
                _uniform_write(instructions, i, where, loops, uniform, read_only)
                for i in writes[reg]
            ):
                uniform.discard(reg)
                changed = True
        for loop in list(loops):
            if not _breaks_uniformly(instructions, loop, uniform):
                loops.discard(loop)
                changed = True
    first_read: dict[LaneReg, int] = {}
    reduced: set[LaneReg] = set()
    for index, inst in enumerate(instructions):
        for src in inst.srcs:
            if isinstance(src, (Reg, Pred)):
                first_read.setdefault(src, index)
                if inst.op is Op.REDUCE:
                    reduced.add(src)
    block = _block_scalars(instructions, uniform, where, writes, first_read)
    affine: dict[LaneReg, int] = {}
    for index, inst in enumerate(instructions):
        reg = inst.dst
        if not isinstance(reg, (Reg, Pred)) or reg in uniform or where[index] or reg in reduced:
            continue
        once = len(writes[reg]) == 1 and first_read.get(reg, len(instructions)) > index
        if once and _affine_write(inst, block, affine):
            affine[reg] = index
    return UniformPlan(frozenset(uniform), frozenset(loops), affine, block)


def _block_scalars(instructions, uniform, where, writes, first_read) -> dict[LaneReg, int]:
    """The block scalars (see the module docstring) and their writing instructions."""
    block = {
        reg: writes[reg][0]
        for reg in uniform
        if len(writes[reg]) == 1
        and not where[writes[reg][0]]
        and first_read.get(reg, len(instructions)) > writes[reg][0]
    }
    changed = True
    while changed:
        changed = False
        for reg, index in list(block.items()):
            inst = instructions[index]
            if inst.op is Op.REDUCE:
                continue
            if any(isinstance(s, (Reg, Pred)) and s not in block for s in inst.srcs):
                del block[reg]
                changed = True
    return block


def _enclosing(instructions) -> list[tuple[int, ...]]:
    """For each instruction, the indices of the IFs and LOOPs around it, outermost first."""
    stack: list[int] = []
    where = []
    for index, inst in enumerate(instructions):
        if inst.op in (Op.ENDIF, Op.ENDLOOP):
            stack.pop()
        where.append(tuple(stack))
        if inst.op in (Op.IF, Op.LOOP):
            stack.append(index)
    return where


def _straight_body(instructions, loop: int) -> bool:
    """True when the loop's body is straight code and `IF p; BREAK; ENDIF` exits."""
    index = loop + 1
    while instructions[index].op is not Op.ENDLOOP:
        op = instructions[index].op
        if op is Op.IF:
            tail = [inst.op for inst in instructions[index + 1 : index + 3]]
            if tail != [Op.BREAK, Op.ENDIF]:
                return False
            index += 3
            continue
        if op in (Op.ELSE, Op.ENDIF, Op.LOOP, Op.BREAK, Op.CONTINUE, Op.BAR, Op.REDUCE):
            return False
        if not (is_value_op(instructions[index]) or op in _MEMORY or op is Op.SREG):
            return False
        index += 1
    return True


def _uniform_source(operand, uniform) -> bool:
    return not isinstance(operand, (Reg, Pred)) or operand in uniform


def _uniform_write(instructions, index: int, where, loops, uniform, read_only) -> bool:
    """True when instruction `index` writes the same value in every lane."""
    around = where[index]
    if around and not (len(around) == 1 and around[0] in loops):
        return False  # under an IF, or in a loop that lanes may leave at different passes
    inst = instructions[index]
    if inst.op is Op.REDUCE:
        return True
    if inst.op is Op.LDG:
        # A buffer the program never writes (a scale, a table) read at a uniform index;
        # as in `numba_hoist`, such buffers are taken not to overlap the written ones.
        buffer, at = inst.srcs
        return isinstance(buffer, Arg) and buffer.index in read_only and at in uniform
    if inst.op is Op.SREG:
        return str(inst.attr("sreg")) in _BLOCK_WIDE
    return is_value_op(inst) and all(_uniform_source(s, uniform) for s in inst.srcs)


def _breaks_uniformly(instructions, loop: int, uniform) -> bool:
    index = loop + 1
    while instructions[index].op is not Op.ENDLOOP:
        inst = instructions[index]
        if inst.op is Op.IF and inst.srcs[0] not in uniform:
            return False
        index += 1
    return True


def _affine_write(inst: Instruction, block, affine) -> bool:
    """True when `inst` computes a lane-affine value from lane coordinates, block scalars
    and other lane-affine registers."""
    if inst.op is Op.SREG:
        return str(inst.attr("sreg")) in _LANE_COORDS
    if not is_value_op(inst):
        return False
    return all(
        not isinstance(src, (Reg, Pred)) or src in affine or src in block for src in inst.srcs
    )


# ---------------------------------------------------------------- rendering
@dataclass(frozen=True)
class LaneArrays:
    """How the region renderer names lane arrays and zeroes registers (passed in, to keep
    one definition of each)."""

    arrays: frozenset[LaneReg]
    array: object  # LaneReg -> name of its lane array
    zero: object  # LaneReg -> a zero literal of its type


def loop_reads(program: Program, plan: UniformPlan, loop: int, stop: int) -> set[LaneReg]:
    """Registers a uniform loop reads, counting the sources of the lane-affine registers it
    recomputes (they must reach it in lane arrays)."""
    reads: set[LaneReg] = set()
    for inst in program.instructions[loop + 1 : stop - 1]:
        reads.update(s for s in inst.srcs if isinstance(s, (Reg, Pred)))
    pending = [reg for reg in reads if reg in plan.affine]
    while pending:
        reg = pending.pop()
        for src in program.instructions[plan.affine[reg]].srcs:
            if isinstance(src, (Reg, Pred)) and src not in reads:
                reads.add(src)
                if src in plan.affine:
                    pending.append(src)
    return reads


def schedule(program: Program, plan: UniformPlan, loop: int, stop: int) -> list[int | list[int]]:
    """A uniform loop's body in the order it is rendered: uniform instructions and `IF`s (as
    indices) and stretches of lane instructions (as lists of indices).

    A uniform instruction moves ahead of the lane instructions before it (back to the last
    exit test) unless one of them reads the register it writes: the lane instructions then
    form one loop over the lanes instead of two with their values passed through arrays.
    """
    items: list[int | list[int]] = []
    run: list[int] = []
    index = loop + 1
    while index < stop - 1:
        inst = program.instructions[index]
        if inst.op is Op.IF:
            if run:
                items.append(run)
                run = []
            items.append(index)
            index += 3
            continue
        if inst.dst is None or inst.dst not in plan.uniform:
            run.append(index)
        elif run and any(_depends(inst, program.instructions[i]) for i in run):
            items.extend([run, index])
            run = []
        else:
            items.append(index)
        index += 1
    if run:
        items.append(run)
    return items


def _depends(later: Instruction, earlier: Instruction) -> bool:
    """True when `later` may not run before `earlier`: one writes what the other uses."""
    return (earlier.dst is not None and earlier.dst in later.srcs) or (
        later.dst is not None and later.dst in earlier.srcs
    )


def lane_runs(program: Program, plan: UniformPlan, loop: int, stop: int) -> list[list[int]]:
    """The stretches of lane instructions of a uniform loop (see `schedule`)."""
    return [item for item in schedule(program, plan, loop, stop) if isinstance(item, list)]


def render_uniform_loop(
    program: Program,
    plan: UniformPlan,
    lanes: LaneArrays,
    loop: int,
    stop: int,
    out: Lines,
    atomic: bool,
) -> None:
    """A uniform loop (instructions `loop` to `stop - 1`, its ENDLOOP) as a `while` over its
    passes with loops over the lanes inside."""
    ops = Operands(program)
    body = range(loop + 1, stop - 1)
    scalars = sorted(
        {r for r in loop_reads(program, plan, loop, stop) if r in plan.uniform}
        | {
            program.instructions[i].dst for i in body if program.instructions[i].dst in plan.uniform
        },
        key=_order,
    )
    scalars = [reg for reg in scalars if reg not in plan.block]  # those are set already
    for reg in scalars:
        # Lane 0 ran every top-level write (no EXIT), so its copy is the block's value.
        source = f"{lanes.array(reg)}[0]" if reg in lanes.arrays else lanes.zero(reg)
        out.add(f"{ops.register(reg)} = {source}")
    out.add("while True:")
    out.indent += 1
    for item in schedule(program, plan, loop, stop):
        if isinstance(item, list):
            _render_run(program, plan, lanes, item, out, atomic)
            continue
        inst = program.instructions[item]
        if inst.op is Op.IF:
            out.add(f"if {ops.value(inst.srcs[0])}:", "    break")
        else:
            out.add(*uniform_lines(inst, ops, item))
    out.indent -= 1
    written = [reg for reg in scalars if reg in lanes.arrays and _written_in(program, reg, body)]
    if written:
        out.add(
            "for l in range(nl):",
            *(f"    {lanes.array(r)}[l] = {ops.register(r)}" for r in written),
        )


def uniform_lines(inst: Instruction, ops: Operands, index: int) -> list[str]:
    """The statements of a uniform instruction, run once for the block."""
    if inst.op is Op.LDG:
        return memory_lines(inst, ops, str(index))
    return [f"{ops.register(inst.dst)} = {value_expr(inst, ops)}"]  # type: ignore[arg-type]


def _render_run(program, plan, lanes: LaneArrays, run: list[int], out: Lines, atomic: bool):
    ops = Operands(program)
    instructions = [program.instructions[i] for i in run]
    reads: set[LaneReg] = set()
    written: set[LaneReg] = set()
    for inst in instructions:
        reads.update(s for s in inst.srcs if isinstance(s, (Reg, Pred)) and s not in written)
        if isinstance(inst.dst, (Reg, Pred)):
            written.add(inst.dst)
    out.add(
        "for lz in range(bdz):",
        "    for ly in range(bdy):",
        "        for lx in range(bdx):",
        "            l = (lz * bdy + ly) * bdx + lx",
    )
    out.indent += 3
    for index in affine_chain(program, plan, reads - plan.uniform.union(written)):
        inst = program.instructions[index]
        out.add(f"{ops.register(inst.dst)} = {value_expr(inst, ops)}")  # type: ignore[arg-type]
    for reg in sorted(reads - plan.uniform - set(plan.affine), key=_order):
        out.add(f"{ops.register(reg)} = {lanes.array(reg)}[l]")
    for reg in sorted(written - reads, key=_order):
        out.add(f"{ops.register(reg)} = {lanes.zero(reg)}")  # gives Numba one type per name
    for position, inst in zip(run, instructions, strict=True):
        if inst.op in _MEMORY:
            out.add(*memory_lines(inst, ops, str(position), atomic))
        else:
            out.add(f"{ops.register(inst.dst)} = {value_expr(inst, ops)}")  # type: ignore[arg-type]
    for reg in sorted(written & lanes.arrays, key=_order):
        out.add(f"{lanes.array(reg)}[l] = {ops.register(reg)}")
    out.indent -= 3


def affine_chain(program: Program, plan: UniformPlan, needed: set[LaneReg]) -> list[int]:
    """The writing instructions of the lane-affine registers in `needed` and of the
    lane-affine registers they read, in program order."""
    chain: set[int] = set()
    pending = [reg for reg in needed if reg in plan.affine]
    while pending:
        index = plan.affine[pending.pop()]
        if index in chain:
            continue
        chain.add(index)
        for src in program.instructions[index].srcs:
            if isinstance(src, (Reg, Pred)) and src in plan.affine:
                pending.append(src)
    return sorted(chain)


def _written_in(program: Program, reg: LaneReg, body: range) -> bool:
    return any(program.instructions[i].dst == reg for i in body)


def _order(reg: LaneReg) -> tuple[int, int]:
    return (isinstance(reg, Pred), reg.index)
