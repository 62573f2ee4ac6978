"""Region mode: programs whose barriers and block reductions all sit at the top level, run as
lane loops between them.

Every BAR and REDUCE at nesting depth 0 is reached by every lane that has not exited, so the
program splits there into *regions* in which lanes never wait for each other. Each region runs
as loops over the block's lanes with one lane's code inside, as in lane mode (so that LLVM can
vectorise them), and a barrier is just the end of one loop and the start of the next.

A region is cut further into *segments*, each one pass over the lanes:
- `lanes`: top-level code (IFs with whatever they nest, EXITs, straight code), the whole of it
  per lane;
- `loop`: one top-level LOOP, run in *rounds*: each lane still in the loop runs up to `ROUND`
  iterations, then the next lane takes its turn, until every lane has left the loop. A
  grid-stride loop over lanes in rounds reads memory in the order lockstep would, while each
  lane keeps its registers in machine registers for a few iterations. Running all iterations of
  a lane at once would stride through memory lane after lane (several times slower); one
  iteration per turn pays a register round trip per element;
- `uniform`: a top-level LOOP that every lane runs the same number of times
  (`numba_uniform`), run pass by pass with a vectorised loop over the lanes in each;
- `reduce`: a REDUCE, combining the values of the lanes that have not exited (with the rules
  of `numba_lockstep.reduction_terms`) and handing every lane the result.

Registers are scalar locals of one segment, except those that carry a value from one segment
into another or from one round to the next: those live in arrays over the block's lanes
(`ra3[l]`, `pa1[l]`), copied into the scalars when a lane's turn starts and back when it ends.
`ext[l]` marks lanes that exited; later segments skip them. Shared arrays are per block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hologram.codegen.numba_exprs import Lines, Operands, literal, register_type, value_expr
from hologram.codegen.numba_lane import LaneWalker, exits_from_a_loop
from hologram.codegen.numba_lockstep import reduction_terms
from hologram.codegen.numba_uniform import (
    LaneArrays,
    UniformPlan,
    affine_chain,
    lane_runs,
    loop_reads,
    plan_uniform,
    render_uniform_loop,
    uniform_lines,
)
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Instruction, Pred, Program, Reg

ROUND = 8
"""Iterations of a top-level loop that a lane runs per turn. One per turn pays a register round
trip per element (a grid-stride sum of squares ran 2.5x slower); many more stride through memory
lane by lane and, with power-of-two strides, overflow the L1 cache's associativity (16 ran 40%
slower than 8 on a 12-way L1; 4 to 12 were within 10%)."""

LaneReg = Reg | Pred


@dataclass(frozen=True)
class Segment:
    """One pass over the block's lanes: instructions `first` up to (not including) `stop`."""

    kind: str  # "lanes", "loop" or "uniform" (first is LOOP, stop - 1 its ENDLOOP), "reduce"
    first: int
    stop: int
    loads: tuple[LaneReg, ...] = ()  # array registers copied into scalars when a turn starts
    stores: tuple[LaneReg, ...] = ()  # array registers copied back when it ends
    scalars: tuple[LaneReg, ...] = ()  # registers that only this segment touches


@dataclass
class RegionPlan:
    """How a program runs in region mode: its segments and where each register lives."""

    program: Program
    segments: list[Segment] = field(default_factory=list)
    arrays: list[LaneReg] = field(default_factory=list)  # registers kept per lane in arrays
    zeroed: list[LaneReg] = field(default_factory=list)  # arrays zeroed at each block's start
    has_exit: bool = False
    uniform: UniformPlan = field(default_factory=lambda: UniformPlan(frozenset(), frozenset(), {}))


def region_mode_applies(program: Program) -> bool:
    """True for programs with block features whose BARs and REDUCEs are all at depth 0."""
    if not program.uses_block_features:
        return False
    depth = 0
    for inst in program.instructions:
        if inst.op in (Op.BAR, Op.REDUCE) and depth:
            return False
        depth += _depth_step(inst)
    return True


def plan_regions(program: Program) -> RegionPlan:
    """Cut `program` into segments and decide which registers need per-lane arrays."""
    uniform = plan_uniform(program)
    cuts = [
        Segment("uniform", s.first, s.stop) if s.kind == "loop" and s.first in uniform.loops else s
        for s in _cut_segments(program)
    ]
    touched: dict[LaneReg, set[int]] = {}
    for number, segment in enumerate(cuts):
        regs = [
            reg
            for inst in program.instructions[segment.first : segment.stop]
            for reg in (*_reads(inst), *_writes(inst))
        ]
        if segment.kind == "uniform":
            regs += loop_reads(program, uniform, segment.first, segment.stop)
        for reg in regs:
            # Block scalars are plain variables and lane-affine registers are recomputed
            # where they are read: neither needs a lane array.
            if reg not in uniform.block and reg not in uniform.affine:
                touched.setdefault(reg, set()).add(number)
    arrays = {reg for reg, where in touched.items() if len(where) > 1}
    for number, segment in enumerate(cuts):
        if segment.kind == "uniform":
            arrays.update(_carried_lane_registers(program, uniform, segment))
        elif segment.kind == "reduce":
            arrays.update(_reads(program.instructions[segment.first]))
            arrays.update(_writes(program.instructions[segment.first]))
        elif segment.kind == "loop":
            body = program.instructions[segment.first + 1 : segment.stop - 1]
            carried = {reg for reg, where in touched.items() if where == {number}}
            arrays.update(reg for reg in carried if not _written_first_at_top(body, reg))
    plan = RegionPlan(program, has_exit=any(i.op is Op.EXIT for i in program.instructions))
    plan.uniform = uniform
    plan.arrays = sorted(arrays, key=_order)
    plan.zeroed = [
        reg for reg in plan.arrays if not _written_first_at_top(program.instructions, reg)
    ]
    for segment in cuts:
        used: set[LaneReg] = set()
        written: set[LaneReg] = set()
        for inst in program.instructions[segment.first : segment.stop]:
            used.update(_reads(inst), _writes(inst))
            written.update(_writes(inst))
        used.difference_update(uniform.block, uniform.affine)
        written.difference_update(uniform.block, uniform.affine)
        plan.segments.append(
            Segment(
                segment.kind,
                segment.first,
                segment.stop,
                loads=tuple(sorted(used & arrays, key=_order)),
                stores=tuple(sorted(written & arrays, key=_order)),
                scalars=tuple(sorted(used - arrays, key=_order)),
            )
        )
    return plan


# ---------------------------------------------------------------- rendering
def render_region_setup(plan: RegionPlan, out: Lines) -> None:
    """Allocations made once per kernel call (per thread): lane arrays and shared memory."""
    out.add("nl = bdx * bdy * bdz")
    if plan.has_exit:
        out.add("ext = np.zeros(nl, np.bool_)")
    if any(segment.kind == "loop" for segment in plan.segments):
        out.add("live = np.empty(nl, np.bool_)")
    for reg in plan.arrays:
        out.add(f"{_array(reg)} = np.zeros(nl, {_type(plan.program, reg)})")
    for index, arr in enumerate(plan.program.shared):
        out.add(f"sh{index} = np.zeros({arr.size}, {register_type(arr.dtype)})")


def render_region_block(plan: RegionPlan, out: Lines, atomic: bool) -> None:
    """One block's code, inside the kernel's loop over blocks (bx, by, bz are set)."""
    resets = [f"{_array(reg)}[l] = {_zero(plan.program, reg)}" for reg in plan.zeroed]
    if plan.has_exit:
        resets.insert(0, "ext[l] = False")
    if resets:
        out.add("for l in range(nl):", *(f"    {line}" for line in resets))
    for index in range(len(plan.program.shared)):
        out.add(f"sh{index}[:] = 0")
    for segment in plan.segments:
        if segment.kind == "reduce":
            _render_reduce(plan, segment, out)
        elif segment.kind == "loop":
            _render_loop(plan, segment, out, atomic)
        elif segment.kind == "uniform":
            lanes = LaneArrays(frozenset(plan.arrays), _array, lambda reg: _zero(plan.program, reg))
            render_uniform_loop(
                plan.program, plan.uniform, lanes, segment.first, segment.stop, out, atomic
            )
        else:
            _render_lanes(plan, segment, out, atomic)


def _lane_loops(out: Lines) -> None:
    """Open the loops over the block's lanes (x fastest) and name the lane's index `l`."""
    out.add(
        "for lz in range(bdz):",
        "    for ly in range(bdy):",
        "        for lx in range(bdx):",
        "            l = (lz * bdy + ly) * bdx + lx",
    )
    out.indent += 3


def _turn_start(plan: RegionPlan, segment: Segment, out: Lines) -> None:
    ops = Operands(plan.program)
    instructions = plan.program.instructions[segment.first : segment.stop]
    read = {reg for inst in instructions for reg in _reads(inst)}
    written = {reg for inst in instructions for reg in _writes(inst)}
    for index in affine_chain(plan.program, plan.uniform, read - written):
        inst = plan.program.instructions[index]
        out.add(f"{ops.register(inst.dst)} = {value_expr(inst, ops)}")  # type: ignore[arg-type]
    for reg in segment.loads:
        out.add(f"{_scalar(reg)} = {_array(reg)}[l]")
    for reg in segment.scalars:
        out.add(f"{_scalar(reg)} = {_zero(plan.program, reg)}")


def _turn_end(segment: Segment, out: Lines) -> None:
    for reg in segment.stores:
        out.add(f"{_array(reg)}[l] = {_scalar(reg)}")


def _render_lanes(plan: RegionPlan, segment: Segment, out: Lines, atomic: bool) -> None:
    instructions = plan.program.instructions[segment.first : segment.stop]
    exits = any(inst.op is Op.EXIT for inst in instructions)
    ops = Operands(plan.program)
    hoisted = {i for i in plan.uniform.block.values() if segment.first <= i < segment.stop}
    for index in sorted(hoisted):  # block scalars: once per block, ahead of the lanes
        out.add(*uniform_lines(plan.program.instructions[index], ops, index))
    _lane_loops(out)
    if plan.has_exit:
        out.add("if not ext[l]:")
        out.indent += 1
    _turn_start(plan, segment, out)
    walker = _RegionWalker(
        plan.program, out, exits_from_a_loop(instructions), atomic, hoisted=hoisted
    )
    if exits:
        # A one-pass loop that EXIT leaves; `_exit` tells the lane's exit from the pass's end.
        out.add("_exit = False", "while True:")
        out.indent += 1
        walker.run(segment.first, segment.stop)
        out.add("break")
        out.indent -= 1
        out.add("if _exit:", "    ext[l] = True")
    else:
        walker.run(segment.first, segment.stop)
    _turn_end(segment, out)
    out.indent -= 4 if plan.has_exit else 3


def _render_loop(plan: RegionPlan, segment: Segment, out: Lines, atomic: bool) -> None:
    body = plan.program.instructions[segment.first + 1 : segment.stop - 1]
    exits = any(inst.op is Op.EXIT for inst in body)
    entered = "not ext[l]" if plan.has_exit else "True"
    out.add("for l in range(nl):", f"    live[l] = {entered}", "while True:")
    out.indent += 1
    out.add("more = False")
    _lane_loops(out)
    out.add("if live[l]:")
    out.indent += 1
    _turn_start(plan, segment, out)
    out.add("_live = True")
    if exits:
        out.add("_exit = False")
    out.add(f"for _k in range({ROUND}):")
    out.indent += 1
    start = len(out.lines)
    walker = _RegionWalker(plan.program, out, exits_from_a_loop(body), atomic, in_round=True)
    walker.run(segment.first + 1, segment.stop - 1)
    if len(out.lines) == start:
        out.add("pass")
    out.indent -= 1
    if exits:
        out.add("if _exit:", "    ext[l] = True", "    _live = False")
    _turn_end(segment, out)
    out.add("live[l] = _live", "more = more or _live")
    out.indent -= 4
    out.add("if not more:", "    break")
    out.indent -= 1


def _render_reduce(plan: RegionPlan, segment: Segment, out: Lines) -> None:
    inst = plan.program.instructions[segment.first]
    dtype: DType = inst.dtype  # type: ignore[assignment]
    acc = f"acc{segment.first}"
    value = _LaneArrays(plan.program, plan.uniform.block).value(inst.srcs[0])
    terms = reduction_terms(dtype, str(inst.attr("op")), acc, value)
    out.add(f"{acc} = {terms.start}", "for l in range(nl):")
    if plan.has_exit:
        out.add("    if not ext[l]:", f"        {acc} = {terms.combine}")
    else:
        out.add(f"    {acc} = {terms.combine}")
    out.add(f"{acc} = {terms.result}")
    if inst.dst in plan.uniform.block:
        out.add(f"{_scalar(inst.dst)} = {acc}")  # type: ignore[arg-type]
    else:
        out.add("for l in range(nl):", f"    {_array(inst.dst)}[l] = {acc}")  # type: ignore[arg-type]


class _RegionWalker(LaneWalker):
    """Lane code of one segment. EXIT always sets `_exit`; in a loop segment, a BREAK of the
    segment's own loop ends the lane's part in it (`_live = False`)."""

    def __init__(
        self,
        program: Program,
        out: Lines,
        exits_from_loop: bool,
        atomic: bool,
        in_round: bool = False,
        hoisted: set[int] | frozenset[int] = frozenset(),
    ):
        super().__init__(
            program, Operands(program), out, exits_from_loop, atomic=atomic, hoisted=hoisted
        )
        self.in_round = in_round

    def exit_lines(self) -> list[str]:
        return ["_exit = True", "break"]

    def break_lines(self) -> list[str]:
        if self.in_round and not self.in_loop():
            return ["_live = False", "break"]
        return ["break"]


class _LaneArrays(Operands):
    """Operands with registers read from their lane arrays at lane `l` (block scalars from
    their variables)."""

    def __init__(self, program: Program, block: dict[LaneReg, int]):
        super().__init__(program)
        self.block = block

    def register(self, operand: Reg | Pred) -> str:
        return _scalar(operand) if operand in self.block else f"{_array(operand)}[l]"


# ---------------------------------------------------------------- analysis helpers
def _carried_lane_registers(
    program: Program, uniform: UniformPlan, segment: Segment
) -> set[LaneReg]:
    """Lane registers that a uniform loop's loops over the lanes read before writing: they
    come from another loop over the lanes (or pass) and so live in lane arrays."""
    carried: set[LaneReg] = set()
    for run in lane_runs(program, uniform, segment.first, segment.stop):
        written: set[LaneReg] = set()
        for index in run:
            inst = program.instructions[index]
            for reg in _reads(inst):
                if reg not in written and reg not in uniform.uniform and reg not in uniform.affine:
                    carried.add(reg)
            written.update(_writes(inst))
    return carried


def _depth_step(inst: Instruction) -> int:
    return 1 if inst.op in (Op.IF, Op.LOOP) else -1 if inst.op in (Op.ENDIF, Op.ENDLOOP) else 0


def _reads(inst: Instruction) -> list[LaneReg]:
    return [s for s in inst.srcs if isinstance(s, (Reg, Pred))]


def _writes(inst: Instruction) -> list[LaneReg]:
    return [inst.dst] if isinstance(inst.dst, (Reg, Pred)) else []


def _written_first_at_top(instructions, reg: LaneReg) -> bool:
    """True when the first instruction touching `reg` writes it (without reading it) at the
    outermost level of `instructions`: every later access then sees that write."""
    depth = 0
    for inst in instructions:
        if reg in _reads(inst):
            return False
        if inst.dst == reg:
            return depth == 0
        depth += _depth_step(inst)
    return False


def _cut_segments(program: Program) -> list[Segment]:
    """The segments of `program`, without their register lists."""
    instructions = program.instructions
    segments: list[Segment] = []
    start: int | None = None
    depth, index = 0, 0
    while index < len(instructions):
        op = instructions[index].op
        if depth == 0 and op in (Op.BAR, Op.REDUCE, Op.LOOP):
            if start is not None:
                segments.append(Segment("lanes", start, index))
                start = None
            if op is Op.LOOP:
                end = _matching_end(instructions, index)
                segments.append(Segment("loop", index, end + 1))
                index = end + 1
                continue
            if op is Op.REDUCE:
                segments.append(Segment("reduce", index, index + 1))
        else:
            start = index if start is None else start
            depth += _depth_step(instructions[index])
        index += 1
    if start is not None:
        segments.append(Segment("lanes", start, len(instructions)))
    return segments


def _matching_end(instructions, opener: int) -> int:
    depth = 0
    for index in range(opener, len(instructions)):
        depth += _depth_step(instructions[index])
        if depth == 0:
            return index
    raise ValueError(f"LOOP at instruction {opener} is never closed")


def _order(reg: LaneReg) -> tuple[int, int]:
    return (isinstance(reg, Pred), reg.index)


def _scalar(reg: LaneReg) -> str:
    return f"r{reg.index}" if isinstance(reg, Reg) else f"p{reg.index}"


def _array(reg: LaneReg) -> str:
    return f"ra{reg.index}" if isinstance(reg, Reg) else f"pa{reg.index}"


def _type(program: Program, reg: LaneReg) -> str:
    return register_type(program.registers[reg.index]) if isinstance(reg, Reg) else "np.bool_"


def _zero(program: Program, reg: LaneReg) -> str:
    return literal(0, program.registers[reg.index]) if isinstance(reg, Reg) else "False"
