"""Lane mode: the body of one lane as straight Python, for programs whose lanes never interact.

Registers are scalar locals, ISA control flow maps onto Python control flow (`if`/`else`,
`while True:` with `break`/`continue`), and the body is pasted into the kernel's innermost lane
loop rather than called, so that LLVM sees one loop it can vectorise. EXIT leaves a one-pass
`while True:` wrapped around the body; from inside ISA loops it sets `_exit` and every
enclosing loop re-breaks.

The common bounds check `if global_id.x < n` gets a block-level fast path: when the whole block
passes it (`block_guard`), the kernel runs a copy of the body with that IF taken as true, which
LLVM vectorises with plain loads and stores instead of masked ones.

A 1-D launch whose lanes see their x coordinate only as global_id.x runs the blocks that pass
that check as one loop over global x ahead of the block loop (`render_flat_lanes`): outside
any other loop, LLVM keeps the loop's constants in vector registers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hologram.codegen.numba_exprs import Lines, Operands, literal, memory_lines, value_expr
from hologram.codegen.numba_hoist import BLOCK, LEVELS, PLANE, ROW, plan_hoisting, render_hoisted
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import SPECS, Group, Op
from hologram.isa.program import Arg, Imm, Instruction, Pred, Program, Reg

U32_MAX = 2**32 - 1
I32_MAX = 2**31 - 1
_INDEX_TYPES = frozenset({DType.I32, DType.U32, DType.I64, DType.U64})

_MEMORY_OPS = frozenset({Op.LDG, Op.STG, Op.LDS, Op.STS, Op.POOL_LD, Op.POOL_ST, Op.ATOM})
_X_PARTS = frozenset({"block_id", "lane_id"})


@dataclass(frozen=True)
class BlockGuard:
    """A top-level IF that every lane of a block takes when `condition` (over bx, bdx) holds."""

    if_index: int
    condition: str


def block_guard(program: Program) -> BlockGuard | None:
    """The first top-level `if global_id.x <(=) uniform` of the program, if it has one.

    global_id.x grows with the lane's x, so the lane with the largest x decides for the whole
    block, provided no u32 wraparound happens inside the block. The compare's register inputs
    must be written exactly once, before the IF and outside any control flow.
    """
    writes: dict[object, list[int]] = {}
    for index, inst in enumerate(program.instructions):
        if inst.dst is not None:
            writes.setdefault(inst.dst, []).append(index)
    depth = 0
    ops = Operands(program)
    for index, inst in enumerate(program.instructions):
        if inst.op is Op.IF and depth == 0:
            condition = _guard_condition(program, inst.srcs[0], index, writes, ops)
            if condition is not None:
                return BlockGuard(index, condition)
        if inst.op in (Op.IF, Op.LOOP):
            depth += 1
        elif inst.op in (Op.ENDIF, Op.ENDLOOP):
            depth -= 1
    return None


def _single_top_level_write(
    program: Program, operand: object, before: int, writes: dict
) -> tuple[int, Instruction] | None:
    """(index, instruction) of the only write to `operand`, if it precedes `before` at depth 0."""
    sites = writes.get(operand, [])
    if len(sites) != 1 or sites[0] > before:
        return None
    depth = 0
    for inst in program.instructions[: sites[0]]:
        depth += inst.op in (Op.IF, Op.LOOP)
        depth -= inst.op in (Op.ENDIF, Op.ENDLOOP)
    return (sites[0], program.instructions[sites[0]]) if depth == 0 else None


def _guard_condition(
    program: Program, pred: object, if_index: int, writes: dict, ops: Operands
) -> str | None:
    if not isinstance(pred, Pred):
        return None
    found = _single_top_level_write(program, pred, if_index, writes)
    if found is None or found[1].op is not Op.SETP:
        return None
    setp_index, setp = found
    cmp = str(setp.attr("cmp"))
    if cmp in ("gt", "ge"):  # n > gid is gid < n
        lane_side, bound, cmp = setp.srcs[1], setp.srcs[0], {"gt": "lt", "ge": "le"}[cmp]
    elif cmp in ("lt", "le"):
        lane_side, bound = setp.srcs
    else:
        return None
    if setp.dtype not in _INDEX_TYPES:
        return None
    source = _bound_source(program, bound, setp_index, writes)
    limit = _lane_limit(program, lane_side, setp_index, writes)
    if limit is None or source is None:
        return None
    bound, cap = source
    if setp.dtype is DType.I32:
        limit = min(limit, I32_MAX)
    last = "(bx * bdx + bdx - 1)"
    op = "<" if cmp == "lt" else "<="
    value = f"np.int64({ops.value(bound)})"
    # A converted bound keeps its value only within every type it passed through.
    kept = f" and 0 <= {value} <= {cap}" if cap is not None else ""
    return f"{last} <= {limit}{kept} and {last} {op} {value}"


def _bound_source(
    program: Program, bound: object, before: int, writes: dict
) -> tuple[Imm | Arg, int | None] | None:
    """The argument or immediate a guard bound is, possibly through single top-level
    `mov`/`cvt` steps (the kernel language compares `i < n` as `i32` with `cvt.i32` of `n`),
    and the largest value those steps keep intact (None: no steps)."""
    cap: int | None = None
    while not isinstance(bound, (Imm, Arg)):
        if not isinstance(bound, Reg):
            return None
        found = _single_top_level_write(program, bound, before, writes)
        if found is None:
            return None
        before, inst = found
        if inst.op not in (Op.MOV, Op.CVT) or inst.dtype not in _INDEX_TYPES:
            return None
        type_max = 2 ** (inst.dtype.itemsize * 8 - (1 if inst.dtype.is_signed else 0)) - 1
        cap = type_max if cap is None else min(cap, type_max)
        bound = inst.srcs[0]
    return bound, cap


def _lane_limit(program: Program, value: object, before: int, writes: dict) -> int | None:
    """The largest global_id.x for which `value` equals it, if `value` is global_id.x itself or
    a chain of single top-level `mov`/`cvt` (to 32- or 64-bit integers) of it; else None.

    The kernel language writes `i = hg.uint32(hg.global_id())` as sreg, cvt.i32, cvt.u32, mov:
    every step keeps the value while it stays below 2**31."""
    limit = U32_MAX
    while True:
        if not isinstance(value, Reg):
            return None
        found = _single_top_level_write(program, value, before, writes)
        if found is None:
            return None
        before, inst = found
        if inst.op is Op.SREG:
            ok = inst.attr("sreg") == "global_id" and inst.attr("axis") == 0
            return limit if ok else None
        if inst.op not in (Op.MOV, Op.CVT) or inst.dtype not in _INDEX_TYPES:
            return None
        if inst.dtype is DType.I32:
            limit = min(limit, I32_MAX)
        value = inst.srcs[0]


def render_lane_loops(
    program: Program, out: Lines, taken_if: int | None = None, atomic: bool = False
) -> None:
    """The lane loops of one block (z, y, x) at `out.indent`, with lane-invariant code hoisted
    out of them (`numba_hoist`); arguments as for `render_lane_body`."""
    hoisting = plan_hoisting(program)
    render_hoisted(program, hoisting, BLOCK, out)
    out.add("for lz in range(bdz):")
    out.indent += 1
    render_hoisted(program, hoisting, PLANE, out)
    out.add("for ly in range(bdy):")
    out.indent += 1
    render_hoisted(program, hoisting, ROW, out)
    out.add("for lx in range(bdx):")
    out.indent += 1
    render_lane_body(program, out, taken_if, atomic, set(hoisting.levels))
    out.indent -= 3


def flat_launch_applies(program: Program) -> bool:
    """Whether a 1-D launch runs the lanes of many blocks as one loop (`render_flat_lanes`):
    a lane sees its block's and its own x coordinate only through global_id.x, and the lane
    body, free of loops, computes a transcendental function other than sqrt. The flat loop
    renders the body a second time, which costs compile time; it pays only where a short body
    has a math function's coefficients to keep in registers (plain arithmetic runs as fast in
    the block loop)."""
    instructions = program.instructions
    if any(inst.op is Op.LOOP for inst in instructions):
        return False  # a lane's loop dominates its time, and doubles the compile's
    if not any(
        SPECS[inst.op].group is Group.TRANSCENDENTAL and inst.op is not Op.SQRT
        for inst in instructions
    ):
        return False
    return not any(
        inst.op is Op.SREG and inst.attr("axis") == 0 and inst.attr("sreg") in _X_PARTS
        for inst in program.instructions
    )


def render_flat_lanes(
    program: Program, guard: BlockGuard | None, out: Lines, atomic: bool = False
) -> None:
    """For a 1-D launch, the leading blocks that pass `guard` (all blocks without one) as a
    single loop over global x, ahead of the block loop, which then starts after them.

    LLVM hoists a loop's constants (a math function's coefficients) into vector registers only
    out of an outermost loop: inside the block loop it reloads each one from memory at every
    iteration, which cost tanh 10% against a plain loop. Blocks run in the same order as in
    the block loop, so atomics return the same old values. The guard holds for a prefix of
    the blocks (the lane with the largest x decides), found by testing from the last.
    """
    hoisting = plan_hoisting(program)
    out.add("if gdy == 1 and gdz == 1 and bdy == 1 and bdz == 1:")
    out.indent += 1
    out.add("fast = last_block")
    if guard is not None:
        out.add("while fast > first_block:", "    bx = fast - 1")
        out.add(f"    if {guard.condition}:", "        break", "    fast -= 1")
    out.add("if fast > first_block:")
    out.indent += 1
    out.add("by = 0", "bz = 0", "ly = 0", "lz = 0")
    for level in LEVELS:
        render_hoisted(program, hoisting, level, out)
    out.add("for gx in range(first_block * bdx, fast * bdx):")
    out.indent += 1
    taken = guard.if_index if guard is not None else None
    render_lane_body(program, out, taken, atomic, set(hoisting.levels), global_x="gx")
    out.indent -= 2
    out.add("first_block = fast")
    out.indent -= 1


def render_lane_body(
    program: Program,
    out: Lines,
    taken_if: int | None = None,
    atomic: bool = False,
    hoisted: set[int] | frozenset[int] = frozenset(),
    global_x: str | None = None,
) -> None:
    """Append one lane's code (zeroed registers, then the instructions) at `out.indent`.

    `taken_if`: the index of an IF to render as always taken (see `block_guard`).
    `atomic`: render ATOM as a hardware compare-and-swap loop (blocks run on several threads).
    `hoisted`: instructions already run ahead of the lane loop (their registers are kept).
    `global_x`: the variable holding global_id.x, when the loop runs over global x itself.
    """
    ops = Operands(program, global_x=global_x)
    kept = {program.instructions[index].dst for index in hoisted}
    for index, dtype in enumerate(program.registers):
        if Reg(index) not in kept:
            out.add(f"r{index} = {literal(0, dtype)}")
    for index in range(program.predicates):
        if Pred(index) not in kept:
            out.add(f"p{index} = False")
    exits_from_loop = exits_from_a_loop(program.instructions)
    has_exit = any(inst.op is Op.EXIT for inst in program.instructions)
    if exits_from_loop:
        out.add("_exit = False")
    if has_exit:
        out.add("while True:")
        out.indent += 1
    LaneWalker(program, ops, out, exits_from_loop, taken_if, atomic, hoisted).run()
    if has_exit:
        out.add("break")
        out.indent -= 1


def exits_from_a_loop(instructions: Sequence[Instruction]) -> bool:
    """True when an EXIT among `instructions` sits inside one of their LOOPs."""
    depth = 0
    for inst in instructions:
        if inst.op is Op.LOOP:
            depth += 1
        elif inst.op is Op.ENDLOOP:
            depth -= 1
        elif inst.op is Op.EXIT and depth > 0:
            return True
    return False


class LaneWalker:
    """Emits instructions in order, opening and closing Python blocks at control markers.

    Region mode subclasses it: `exit_lines` and `break_lines` say what EXIT and BREAK become.
    """

    def __init__(
        self,
        program: Program,
        ops: Operands,
        out: Lines,
        exits_from_loop: bool,
        taken_if: int | None = None,
        atomic: bool = False,
        hoisted: set[int] | frozenset[int] = frozenset(),
    ):
        self.program = program
        self.hoisted = hoisted
        self.taken_if = taken_if
        self.ops = ops
        self.out = out
        self.exits_from_loop = exits_from_loop
        self.atomic = atomic
        self.open: list[list] = []  # [opener op, line count where the current block began]

    def run(self, first: int = 0, stop: int | None = None) -> None:
        """Emit instructions `first` up to (not including) `stop`, all by default."""
        instructions = self.program.instructions
        stop = len(instructions) if stop is None else stop
        for index in range(first, stop):
            self.step(index, instructions[index])

    def in_loop(self) -> bool:
        """True inside an ISA loop opened by this walker."""
        return any(entry[0] is Op.LOOP for entry in self.open)

    def exit_lines(self) -> list[str]:
        """What EXIT becomes: leave the one-pass wrapper, flagging enclosing loops to re-break."""
        return ["_exit = True", "break"] if self.in_loop() else ["break"]

    def break_lines(self) -> list[str]:
        """What BREAK becomes."""
        return ["break"]

    def begin_block(self, header: str, opener: Op) -> None:
        self.out.add(header)
        self.out.indent += 1
        self.open.append([opener, len(self.out.lines)])

    def end_block(self) -> None:
        # An ISA block may be empty; Python needs a statement.
        if len(self.out.lines) == self.open[-1][1]:
            self.out.add("pass")
        self.out.indent -= 1

    def step(self, index: int, inst) -> None:
        op, out = inst.op, self.out
        if index in self.hoisted:
            return
        if op is Op.IF:
            cond = "True" if index == self.taken_if else self.ops.value(inst.srcs[0])
            self.begin_block(f"if {cond}:", Op.IF)
        elif op is Op.ELSE:
            self.end_block()
            out.add("else:")
            out.indent += 1
            self.open[-1][1] = len(out.lines)
        elif op is Op.ENDIF:
            self.end_block()
            self.open.pop()
        elif op is Op.LOOP:
            self.begin_block("while True:", Op.LOOP)
        elif op is Op.ENDLOOP:
            self.end_block()
            self.open.pop()
            if self.exits_from_loop:
                out.add("if _exit:", "    break")
        elif op is Op.BREAK:
            out.add(*self.break_lines())
        elif op is Op.CONTINUE:
            out.add("continue")
        elif op is Op.EXIT:
            out.add(*self.exit_lines())
        elif op is Op.FENCE:
            pass  # one lane runs at a time, in program order: its writes are already ordered
        elif op in _MEMORY_OPS:
            out.add(*memory_lines(inst, self.ops, str(index), self.atomic))
        elif op in (Op.BAR, Op.REDUCE):
            raise ValueError(f"{op.value} needs lockstep or region mode (instruction {index})")
        else:
            out.add(f"{self.ops.register(inst.dst)} = {value_expr(inst, self.ops)}")
