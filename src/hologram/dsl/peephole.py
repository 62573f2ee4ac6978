"""Peephole clean-up of lowered kernels: drop the copies that assignments and inlining leave.

The lowering emits a `mov` for every assignment and every func argument and result, and a
`cvt` round trip for `hg.uint32(hg.global_id())` (u32 → i32 → u32). Backends would compile them
away, but they cost compile time, and they hide simple patterns (the lane guard
`global_id < n`) from the cpu backend. Three rewrites run to a fixpoint; each keeps the value
every remaining instruction reads:

- `cvt.A d, s` where `s` is `cvt.B s, x` with `x` of type A, and A and B integers of one width:
  a same-width integer cvt keeps the bits, so `d` is `x` (`mov.A d, x`).
- `op t, ...; mov d, t` where `t` has no other def or use: `op` writes `d` directly.
- `mov d, x` where `d` has no other def, every use of `d` follows in the mov's own block, and `x`
  is a scalar parameter or a register written once at the top level before it: the uses read `x`.
- An arithmetic, logic, compare, conversion or special-register instruction whose result nobody
  reads is dropped (loads stay: they may fault; atomics and reductions stay).
- An `if` on an integer compare of two constants (immediates, or registers whose one def is a
  `mov` of an immediate in an enclosing block: what inlined funcs return for a `Const` case)
  keeps only the branch that runs.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from hologram.dsl.fold import CMP
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Arg, Imm, Instruction, Operand, Param, ParamKind, Pred, Reg

_OPEN = (Op.IF, Op.LOOP)
_CLOSE = (Op.ENDIF, Op.ENDLOOP)
_MAX_ROUNDS = 8
_KEEP = frozenset({Op.LDG, Op.LDS, Op.POOL_LD, Op.ATOM, Op.REDUCE})


def simplify(
    instructions: list[Instruction], registers: list[DType], params: list[Param]
) -> list[Instruction]:
    """`instructions` without redundant copies (see the module docstring)."""
    code = list(instructions)
    for _ in range(_MAX_ROUNDS):
        changed = _fold_round_trips(code, registers, params)
        changed |= _forward_results(code)
        changed |= _propagate_copies(code, params)
        changed |= _fold_constant_branches(code)
        changed |= _remove_dead(code)
        if not changed:
            break
    return code


def _defs_and_uses(code: list[Instruction]) -> tuple[dict, dict]:
    defs: dict[Operand, list[int]] = defaultdict(list)
    uses: dict[Operand, list[int]] = defaultdict(list)
    for k, inst in enumerate(code):
        if isinstance(inst.dst, (Reg, Pred)):
            defs[inst.dst].append(k)
        for src in inst.srcs:
            if isinstance(src, (Reg, Pred)):
                uses[src].append(k)
    return defs, uses


def _depths(code: list[Instruction]) -> list[int]:
    depths, depth = [], 0
    for inst in code:
        if inst.op in _CLOSE:
            depth -= 1
        depths.append(depth)
        if inst.op in _OPEN:
            depth += 1
    return depths


def _type_of(operand: Operand, registers: list[DType], params: list[Param]) -> DType | None:
    if isinstance(operand, Reg):
        return registers[operand.index]
    if isinstance(operand, Arg) and params[operand.index].kind is ParamKind.SCALAR:
        return params[operand.index].dtype
    return None


def _fold_round_trips(code: list[Instruction], registers: list[DType], params: list[Param]) -> bool:
    defs, _ = _defs_and_uses(code)
    changed = False
    for k, inst in enumerate(code):
        if inst.op is not Op.CVT or not isinstance(inst.srcs[0], Reg):
            continue
        sites = defs.get(inst.srcs[0], [])
        if len(sites) != 1 or sites[0] >= k or code[sites[0]].op is not Op.CVT:
            continue
        inner = code[sites[0]]
        source = inner.srcs[0]
        outer_type, middle_type = inst.dtype, inner.dtype
        if (
            _type_of(source, registers, params) is outer_type
            and outer_type.is_int
            and middle_type.is_int
            and outer_type.itemsize == middle_type.itemsize
        ):
            code[k] = dataclasses.replace(inst, op=Op.MOV, srcs=(source,))
            changed = True
    return changed


def _forward_results(code: list[Instruction]) -> bool:
    defs, uses = _defs_and_uses(code)
    drop: set[int] = set()
    for k in range(1, len(code)):
        inst = code[k]
        temp = inst.srcs[0] if inst.op is Op.MOV else None
        if not isinstance(temp, (Reg, Pred)) or type(temp) is not type(inst.dst):
            continue
        if defs.get(temp) != [k - 1] or uses.get(temp) != [k] or (k - 1) in drop:
            continue
        producer = code[k - 1]
        if producer.dst != temp:
            continue
        code[k - 1] = dataclasses.replace(producer, dst=inst.dst)
        drop.add(k)
    for k in sorted(drop, reverse=True):
        del code[k]
    return bool(drop)


def _block_end(code: list[Instruction], start: int) -> int:
    """The index of the marker that closes the block the instruction at `start` is in."""
    depth = 0
    for k in range(start + 1, len(code)):
        op = code[k].op
        if op in _OPEN:
            depth += 1
        elif op in _CLOSE:
            if depth == 0:
                return k
            depth -= 1
        elif op is Op.ELSE and depth == 0:
            return k
    return len(code)


def _propagate_copies(code: list[Instruction], params: list[Param]) -> bool:
    changed = False
    while _propagate_one(code, params):
        changed = True
    return changed


def _propagate_one(code: list[Instruction], params: list[Param]) -> bool:
    defs, uses = _defs_and_uses(code)
    depths = _depths(code)
    for k, inst in enumerate(code):
        if inst.op is not Op.MOV or not isinstance(inst.dst, (Reg, Pred)):
            continue
        dst, source = inst.dst, inst.srcs[0]
        if defs.get(dst) != [k]:
            continue
        if isinstance(source, Arg):
            if params[source.index].kind is not ParamKind.SCALAR or isinstance(dst, Pred):
                continue
        elif isinstance(source, (Reg, Pred)):
            if type(source) is not type(dst):
                continue
            sites = defs.get(source, [])
            if len(sites) != 1 or sites[0] >= k or depths[sites[0]] != 0:
                continue
        else:
            continue
        end = _block_end(code, k)
        if not all(k < use < end for use in uses.get(dst, [])):
            continue
        for use in uses.get(dst, []):
            user = code[use]
            srcs = tuple(source if s == dst else s for s in user.srcs)
            code[use] = dataclasses.replace(user, srcs=srcs)
        del code[k]
        return True  # indices moved: recompute before the next rewrite
    return False


def _constant(code: list[Instruction], defs: dict, operand: Operand, at: int) -> int | None:
    """The integer value `operand` has at instruction `at`, if it is a constant there."""
    if isinstance(operand, Imm):
        return operand.value if operand.dtype.is_int else None  # type: ignore[return-value]
    sites = defs.get(operand, []) if isinstance(operand, Reg) else []
    if len(sites) != 1 or sites[0] >= at or _block_end(code, sites[0]) < at:
        return None
    source = code[sites[0]]
    if source.op is Op.MOV and isinstance(source.srcs[0], Imm):
        return _constant(code, defs, source.srcs[0], at)
    return None


def _fold_constant_branches(code: list[Instruction]) -> bool:
    defs, _ = _defs_and_uses(code)
    for k, inst in enumerate(code):
        if inst.op is not Op.IF or not isinstance(inst.srcs[0], Pred):
            continue
        sites = defs.get(inst.srcs[0], [])
        if len(sites) != 1 or sites[0] >= k or _block_end(code, sites[0]) < k:
            continue
        test = code[sites[0]]
        if test.op is not Op.SETP or test.dtype is None or not test.dtype.is_int:
            continue
        left, right = (_constant(code, defs, src, sites[0]) for src in test.srcs)
        if left is None or right is None:
            continue
        taken = CMP[str(test.attr("cmp"))](left, right)
        middle = _block_end(code, k)
        end = _block_end(code, middle) if code[middle].op is Op.ELSE else middle
        # Without an `else`, `middle == end` and the slice after it is empty.
        code[k : end + 1] = code[k + 1 : middle] if taken else code[middle + 1 : end]
        return True  # indices moved: the next round recomputes them
    return False


def _remove_dead(code: list[Instruction]) -> bool:
    changed = False
    while True:
        _, uses = _defs_and_uses(code)
        dead = [
            k
            for k, inst in enumerate(code)
            if isinstance(inst.dst, (Reg, Pred)) and inst.op not in _KEEP and not uses.get(inst.dst)
        ]
        if not dead:
            return changed
        for k in reversed(dead):
            del code[k]
        changed = True
