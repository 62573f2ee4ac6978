"""Lockstep mode: one function runs a whole block, its lanes in step, for programs whose lanes
interact (barriers, shared memory, block reductions).

Registers are arrays over the block's lanes and `act[l]` says whether lane l executes the current
instruction. Control flow moves masks the way `backends/reference.py` does:

- IF saves the active mask and splits it by the predicate; ELSE switches to the other half;
  ENDIF restores the saved mask minus lanes that since exited, broke or continued;
- LOOP repeats while any lane is left: at the top of each pass the active mask is the loop-entry
  mask minus lanes that broke out or exited; BREAK, CONTINUE and EXIT move lanes into the
  innermost loop's break mask, its continue mask, or the exited mask;
- BAR and REDUCE need every lane that has not exited to be active, unless none is (the
  reference skips regions that no lane reaches); otherwise the function returns the
  instruction's index + 1, which the backend reports as a divergent barrier.

Consecutive register-only instructions and loads share one loop over the lanes; each store,
atomic and collective has its own, so memory effects happen in the same order as when every
instruction runs over all lanes before the next begins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hologram.codegen.numba_exprs import (
    Lines,
    Operands,
    literal,
    memory_lines,
    minmax,
    register_type,
    value_expr,
    wrap,
)
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Instruction, Program

LANE = "l"
BLOCK_ARGS = "bx, by, bz, bdx, bdy, bdz, gdx, gdy, gdz"
"""The block function's leading arguments, before the program's parameters."""

_LOADS = frozenset({Op.LDG, Op.LDS, Op.POOL_LD})
_STORES = frozenset({Op.STG, Op.STS, Op.POOL_ST, Op.ATOM})
_CONTROL = frozenset(
    {Op.IF, Op.ELSE, Op.ENDIF, Op.LOOP, Op.ENDLOOP, Op.BREAK, Op.CONTINUE, Op.EXIT, Op.BAR}
)


def render_block_function(
    program: Program, name: str, params: str, out: Lines, atomic: bool = False
) -> None:
    """Append `def name(<BLOCK_ARGS>, params)` that runs one block and returns its status.

    `atomic`: atomics are compare-and-swap loops, for blocks that run on several threads.
    """
    out.add(f"def {name}({BLOCK_ARGS}{', ' if params else ''}{params}):")
    out.indent += 1
    out.add(
        "nl = bdx * bdy * bdz",
        "act = np.ones(nl, np.bool_)",
        "ext = np.zeros(nl, np.bool_)",
    )
    for index, dtype in enumerate(program.registers):
        out.add(f"r{index} = np.zeros(nl, {register_type(dtype)})")
    for index in range(program.predicates):
        out.add(f"p{index} = np.zeros(nl, np.bool_)")
    for index, arr in enumerate(program.shared):
        out.add(f"sh{index} = np.zeros({arr.size}, {register_type(arr.dtype)})")
    for index, inst in enumerate(program.instructions):
        if inst.op is Op.IF:
            out.add(f"sv{index} = np.empty(nl, np.bool_)", f"el{index} = np.empty(nl, np.bool_)")
        elif inst.op is Op.LOOP:
            out.add(*(f"{m}{index} = np.empty(nl, np.bool_)" for m in ("ent", "brk", "cnt")))
    _LockstepWalker(program, out, atomic).run()
    out.add("return np.int64(0)")
    out.indent -= 1


class _LockstepWalker:
    """Emits mask bookkeeping at control markers and fused lane loops for everything else."""

    def __init__(self, program: Program, out: Lines, atomic: bool):
        self.program = program
        self.atomic = atomic
        self.out = out
        self.ops = Operands(program, LANE)
        self.pending: list[str] = []  # lane statements of the current fused loop
        self.open: list[tuple[Op, int]] = []  # (opener, its instruction index)

    def run(self) -> None:
        for index, inst in enumerate(self.program.instructions):
            self.step(index, inst)
        self.flush()

    # ------------------------------------------------------------ lane loops
    def lane_loop(self, *body: str, masked: bool = True) -> None:
        self.out.add(f"for {LANE} in range(nl):")
        if masked:
            self.out.add(f"    if act[{LANE}]:")
            self.out.add(*("        " + line for line in body))
        else:
            self.out.add(*("    " + line for line in body))

    def flush(self) -> None:
        if self.pending:
            self.lane_loop(*self.pending)
            self.pending = []

    def innermost_loop(self) -> int | None:
        for opener, index in reversed(self.open):
            if opener is Op.LOOP:
                return index
        return None

    # ------------------------------------------------------------ instructions
    def step(self, index: int, inst: Instruction) -> None:
        op = inst.op
        if op is Op.FENCE:
            return  # lanes run in lockstep: earlier writes are complete before later reads
        if op in _LOADS:
            self.pending.extend(memory_lines(inst, self.ops, str(index)))
            return
        if op not in _CONTROL and op not in _STORES and op is not Op.REDUCE:
            self.pending.append(f"{self.ops.register(inst.dst)} = {value_expr(inst, self.ops)}")  # type: ignore[arg-type]
            return
        self.flush()
        if op in _STORES:
            self.lane_loop(*memory_lines(inst, self.ops, str(index), self.atomic))
        elif op is Op.REDUCE:
            self.reduce(index, inst)
        else:
            self.control(index, inst)

    def control(self, index: int, inst: Instruction) -> None:
        op, out, lane = inst.op, self.out, LANE
        if op is Op.IF:
            cond = self.ops.value(inst.srcs[0])
            self.open.append((Op.IF, index))
            self.lane_loop(
                f"a_ = act[{lane}]",
                f"c_ = {cond}",
                f"sv{index}[{lane}] = a_",
                f"el{index}[{lane}] = a_ and not c_",
                f"act[{lane}] = a_ and c_",
                masked=False,
            )
        elif op is Op.ELSE:
            opened = self.open[-1][1]
            self.lane_loop(f"act[{lane}] = el{opened}[{lane}]", masked=False)
        elif op is Op.ENDIF:
            opened = self.open.pop()[1]
            self.lane_loop(f"act[{lane}] = sv{opened}[{lane}] and {self.alive()}", masked=False)
        elif op is Op.LOOP:
            self.open.append((Op.LOOP, index))
            self.lane_loop(
                f"ent{index}[{lane}] = act[{lane}]", f"brk{index}[{lane}] = False", masked=False
            )
            out.add("while True:")
            out.indent += 1
            out.add("any_ = False")
            self.lane_loop(
                f"a_ = ent{index}[{lane}] and not brk{index}[{lane}] and not ext[{lane}]",
                f"act[{lane}] = a_",
                f"cnt{index}[{lane}] = False",
                "any_ = any_ or a_",
                masked=False,
            )
            out.add("if not any_:", "    break")
        elif op is Op.ENDLOOP:
            opened = self.open.pop()[1]
            out.indent -= 1
            self.lane_loop(f"act[{lane}] = ent{opened}[{lane}] and not ext[{lane}]", masked=False)
        elif op in (Op.BREAK, Op.CONTINUE, Op.EXIT):
            loop = self.innermost_loop()
            target = "ext" if op is Op.EXIT else f"{'brk' if op is Op.BREAK else 'cnt'}{loop}"
            self.lane_loop(f"{target}[{lane}] = True", f"act[{lane}] = False")
        elif op is Op.BAR:
            self.check_converged(index)

    def alive(self) -> str:
        """Lanes that neither exited nor left the innermost loop's current pass."""
        lane, loop = LANE, self.innermost_loop()
        terms = [f"not ext[{lane}]"]
        if loop is not None:
            terms += [f"not brk{loop}[{lane}]", f"not cnt{loop}[{lane}]"]
        return " and ".join(terms)

    def check_converged(self, index: int) -> None:
        # A region that no lane reached is skipped, as in the reference: no lane, no barrier.
        self.out.add("any_ = False", "idle_ = False")
        self.lane_loop(
            f"if act[{LANE}]:",
            "    any_ = True",
            f"elif not ext[{LANE}]:",
            "    idle_ = True",
            masked=False,
        )
        self.out.add("if any_ and idle_:", f"    return np.int64({index + 1})")

    def reduce(self, index: int, inst: Instruction) -> None:
        dtype: DType = inst.dtype  # type: ignore[assignment]
        acc = f"acc{index}"
        terms = reduction_terms(dtype, str(inst.attr("op")), acc, self.ops.value(inst.srcs[0]))
        self.check_converged(index)
        self.out.add(f"{acc} = {terms.start}")
        self.lane_loop(f"{acc} = {terms.combine}")
        self.lane_loop(f"{self.ops.register(inst.dst)} = {terms.result}")  # type: ignore[arg-type]


@dataclass(frozen=True)
class ReductionTerms:
    """A block reduction as source: `acc = start`, `acc = combine` per lane, then `result`."""

    start: str
    combine: str
    result: str


def reduction_terms(dtype: DType, kind: str, acc: str, value: str) -> ReductionTerms:
    """The terms of REDUCE `kind` (add, mul, min, max) of `value` over lanes into `acc`.

    Float sums and products accumulate in float64 and round once at the end; integers wrap
    after every step, so the result is the exact sum modulo 2**bits in any lane order.
    """
    wide = DType.F64 if dtype.is_float and kind in ("add", "mul") else dtype
    if kind in ("add", "mul"):
        start = literal(0 if kind == "add" else 1, wide)
        sign = "+" if kind == "add" else "*"
        operand = f"np.float64({value})" if wide is not dtype else value
        combine = f"{acc} {sign} {operand}"
        combine = combine if wide is DType.F64 else wrap(dtype, combine)
        result = wrap(dtype, acc) if wide is not dtype else acc
    else:
        start = _extreme(dtype, largest=kind == "min")
        combine = minmax(dtype, acc, value, kind == "min")
        result = acc
    return ReductionTerms(start, combine, result)


def _extreme(dtype: DType, largest: bool) -> str:
    """The identity of min (the largest value) or max (the smallest) for `dtype`."""
    if dtype.is_float:
        return literal(float("inf") if largest else float("-inf"), dtype)
    info = np.iinfo(dtype.numpy)
    return literal(int(info.max) if largest else int(info.min), dtype)
