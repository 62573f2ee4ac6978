"""Lockstep lanes: several ISA lanes per CUDA thread, for the CUDA renderer (`codegen/cuda`).

A program whose lanes need nothing of their block (no shared memory, barriers, block
reductions, loops or `exit`: elementwise kernels, say) renders with each CUDA thread running
`LANES_PER_THREAD` ISA lanes, instruction by instruction, so that every thread has that many
independent loads in flight, which a GPU needs to reach its memory bandwidth (an add of two
float32 arrays went from 0.82 to 1.0 of a device copy's bandwidth on an H200).

The kernel takes one more argument, `hg_grid`, the launch's blocks along x. CUDA block `b` of
a grid of `g` runs the ISA blocks `b + k * g` (`hg_b<k>`) for `k < LANES_PER_THREAD` that are
below `hg_grid`, so any grid of `ceil(hg_grid / lanes)` to `hg_grid` blocks runs every lane
exactly once and the backend picks the grid. Each lane has its own registers (`r3_<k>`); its
block along x, global id and grid size read `hg_b<k>` and `hg_grid` instead of CUDA's own.

Running a thread's lanes in lockstep is one of the orders in which the ISA lets lanes
interleave. Under `if`, each lane's statements run under its own condition (captured when the
`if` is reached, so that `else` takes the others even if the arm rewrote the predicate); at
the top level only memory is guarded, by whether the lane's block exists: a lane past the
grid may compute values that nothing reads, but must not touch memory.
"""

from __future__ import annotations

from typing import Protocol

from hologram.codegen.cuda_exprs import Operands, ctype, literal
from hologram.isa.opcodes import Op
from hologram.isa.program import Instruction, Program

LANES_PER_THREAD = 4
"""ISA lanes each CUDA thread runs in lockstep, where a program allows it (`lockstep_lanes`);
2, 4 and 8 measured alike on an add (1.00 to 1.02 of a copy), 4 a little ahead."""
GRID_PARAM = "hg_grid"
"""The extra argument of a lockstep kernel: the launch's ISA blocks along x (u32)."""
MAX_LOCKSTEP_INSTRUCTIONS = 400
"""Longer programs run one lane a thread: their code would grow `LANES_PER_THREAD` times."""

_BLOCK_BOUND = frozenset(
    {Op.LOOP, Op.ENDLOOP, Op.BREAK, Op.CONTINUE, Op.EXIT, Op.BAR, Op.FENCE, Op.REDUCE}
    | {Op.LDS, Op.STS, Op.MATMUL, Op.CONV2D}
)
"""Instructions that keep a program at one lane a thread: loops (lanes would leave them at
different times) and what a lane shares with its block."""
_TOUCHES_MEMORY = frozenset({Op.LDG, Op.STG, Op.POOL_LD, Op.POOL_ST, Op.ATOM})


def lockstep_lanes(program: Program) -> int:
    """The ISA lanes a CUDA thread may run of `program`: `LANES_PER_THREAD` when its lanes
    need nothing of their block, else 1."""
    if (
        program.is_intrinsic
        or program.shared
        or len(program.instructions) > MAX_LOCKSTEP_INSTRUCTIONS
        or any(inst.op in _BLOCK_BOUND for inst in program.instructions)
    ):
        return 1
    return LANES_PER_THREAD


class Body(Protocol):
    """What the lockstep body needs of the renderer's kernel body."""

    program: Program

    def add(self, *lines: str) -> None:
        """Append lines at the current indentation."""

    def statement(self, inst: Instruction, ops: Operands) -> str:
        """The C statement of a memory, atomic or value instruction, in `ops`' names."""


class LockstepBody:
    """Emits a lockstep kernel's body into `body`: each instruction once for each of the
    thread's `lanes`, guarded by that lane's condition where it matters (module doc)."""

    def __init__(self, body: Body, lanes: int):
        self.body = body
        self.lane_ops = [Operands(body.program, k) for k in range(lanes)]
        # Per lane, the condition under which statements here run ("": always). Lane 0's
        # block always exists; lane k's (`hg_v<k>`) only on grids of fewer than hg_grid blocks.
        self.guards = [["", *(f"hg_v{k}" for k in range(1, lanes))]]
        self.conditions = 0

    def run(self) -> None:
        """Emit the declarations, then every instruction."""
        program, lanes, add = self.body.program, range(len(self.lane_ops)), self.body.add
        for k in lanes:
            add(f"const unsigned int hg_b{k} = blockIdx.x + {k}u * gridDim.x;")
        for k in lanes[1:]:
            add(f"const bool hg_v{k} = blockIdx.x + {k}ull * gridDim.x < {GRID_PARAM};")
        for index, dtype in enumerate(program.registers):
            add(
                f"{ctype(dtype)} {', '.join(f'r{index}_{k} = {literal(0, dtype)}' for k in lanes)};"
            )
        for index in range(program.predicates):
            add(f"bool {', '.join(f'p{index}_{k} = false' for k in lanes)};")
        for inst in program.instructions:
            self.step(inst)

    def step(self, inst: Instruction) -> None:
        """Emit one instruction for every lane."""
        op = inst.op
        if op in (Op.IF, Op.ELSE):
            taken = self.guards.pop() if op is Op.ELSE else []
            outer, number = self.guards[-1], self.conditions
            self.conditions += 1
            conditions = []
            for k, ops in enumerate(self.lane_ops):
                own = ops.value(inst.srcs[0]) if op is Op.IF else f"!{taken[k]}"
                self.body.add(f"const bool hg_c{number}_{k} = {_both(outer[k], own)};")
                conditions.append(f"hg_c{number}_{k}")
            self.guards.append(conditions)
        elif op is Op.ENDIF:
            self.guards.pop()
        else:
            guarded = len(self.guards) > 1 or op in _TOUCHES_MEMORY
            for guard, ops in zip(self.guards[-1], self.lane_ops, strict=True):
                statement = self.body.statement(inst, ops)
                self.body.add(f"if ({guard}) {statement}" if guard and guarded else statement)


def _both(first: str, second: str) -> str:
    return f"{first} && {second}" if first else second
