"""The ISA verifier: the static rules every program must satisfy before any backend sees it.

`verify(program)` raises `VerificationError` naming the program and, where one is to blame,
the instruction index. The rules are listed in `docs/isa.mdx` under *Verifier rules*.
"""

from __future__ import annotations

from typing import NoReturn

import numpy as np

from hologram.errors import VerificationError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import (
    CLOSERS,
    SPECS,
    Dst,
    Group,
    Op,
)
from hologram.isa.program import (
    ISA_VERSION,
    MAX_PREDICATES,
    MAX_REGISTERS,
    Access,
    Arg,
    Imm,
    Instruction,
    Param,
    ParamKind,
    Pred,
    Program,
    Reg,
    Shared,
    SharedArray,
)
from hologram.isa.verifier_rules import (
    ATTR_RULES,
    INT64_MAX,
    MEMORY_ROLES,
    Role,
    is_int,
    source_roles,
)


# ---------------------------------------------------------------- the verifier
def verify(program: Program) -> None:
    """Check every static rule of the ISA; raise `VerificationError` at the first violation."""
    _Verifier(program).run()


class _Verifier:
    """One verification pass over a program; `fail` raises with the program's name."""

    def __init__(self, program: Program):
        self.program = program
        name = getattr(program, "name", None)
        self.name = name if isinstance(name, str) else None

    def fail(self, message: str, index: int | None = None) -> NoReturn:
        raise VerificationError(message, index=index, program=self.name)

    def run(self) -> None:
        if not isinstance(self.program, Program):
            self.fail(f"expected a Program, got {type(self.program).__name__}")
        self.check_header()
        instructions = self.program.instructions
        if not isinstance(instructions, tuple):
            self.fail("instructions must be a tuple of Instruction")
        has_intrinsic = any(
            isinstance(inst, Instruction)
            and isinstance(inst.op, Op)
            and SPECS[inst.op].group is Group.INTRINSIC
            for inst in instructions
        )
        nesting = _Nesting(self)
        for index, inst in enumerate(instructions):
            if not isinstance(inst, Instruction):
                self.fail(f"not an Instruction: {type(inst).__name__}", index)
            if not isinstance(inst.op, Op):
                self.fail(f"unknown opcode {inst.op!r}", index)
            if has_intrinsic and SPECS[inst.op].group is not Group.INTRINSIC:
                self.fail(
                    f"{inst.op.value} in a program with intrinsics: a program containing an "
                    "intrinsic consists solely of intrinsics",
                    index,
                )
            _InstructionCheck(self, index, inst).run()
            nesting.step(index, inst.op)
        nesting.finish()

    # ------------------------------------------------------------ declarations
    def check_header(self) -> None:
        p = self.program
        if not isinstance(p.name, str) or not p.name:
            self.fail(f"program name must be a non-empty string, got {p.name!r}")
        version = p.version
        if not (
            isinstance(version, tuple) and len(version) == 2 and all(is_int(v) for v in version)
        ):
            self.fail(f"version must be a (major, minor) tuple of ints, got {version!r}")
        if version[0] != ISA_VERSION[0]:
            self.fail(
                f"ISA major version {version[0]} is not supported (this is ISA "
                f"{ISA_VERSION[0]}.{ISA_VERSION[1]})"
            )
        self.check_params()
        if not isinstance(p.registers, tuple) or not all(isinstance(d, DType) for d in p.registers):
            self.fail("registers must be a tuple of DType")
        if len(p.registers) > MAX_REGISTERS:
            self.fail(f"{len(p.registers)} registers declared, at most {MAX_REGISTERS} allowed")
        if not is_int(p.predicates) or not 0 <= p.predicates <= MAX_PREDICATES:
            self.fail(
                f"predicate count must be an int in [0, {MAX_PREDICATES}], got {p.predicates!r}"
            )
        if not isinstance(p.shared, tuple):
            self.fail("shared must be a tuple of SharedArray")
        for i, arr in enumerate(p.shared):
            if not isinstance(arr, SharedArray) or not isinstance(arr.dtype, DType):
                self.fail(f"shared array @{i} is not a SharedArray of a DType")
            if not is_int(arr.size) or not 1 <= arr.size <= INT64_MAX:
                self.fail(f"shared array @{i} must have at least 1 element, got {arr.size!r}")

    def check_params(self) -> None:
        params = self.program.params
        if not isinstance(params, tuple):
            self.fail("params must be a tuple of Param")
        seen: set[str] = set()
        for i, param in enumerate(params):
            if not isinstance(param, Param):
                self.fail(f"parameter ${i} is not a Param")
            if not isinstance(param.name, str) or not param.name.isidentifier():
                self.fail(f"parameter ${i} name {param.name!r} is not an identifier")
            if param.name in seen:
                self.fail(f"parameter name {param.name!r} is declared twice")
            seen.add(param.name)
            if not isinstance(param.kind, ParamKind):
                self.fail(f"parameter {param.name!r} has unknown kind {param.kind!r}")
            if not isinstance(param.dtype, DType):
                self.fail(f"parameter {param.name!r} has unknown dtype {param.dtype!r}")
            if not isinstance(param.access, Access):
                self.fail(f"parameter {param.name!r} has unknown access {param.access!r}")
            if param.kind is ParamKind.SCALAR and param.access is not Access.READ:
                self.fail(f"scalar parameter {param.name!r} must have read access")


class _InstructionCheck:
    """The per-instruction rules: dtype, attributes, destination and sources."""

    def __init__(self, verifier: _Verifier, index: int, inst: Instruction):
        self.v = verifier
        self.program = verifier.program
        self.index = index
        self.inst = inst
        self.op: Op = inst.op
        self.spec = SPECS[inst.op]
        self.dtype: DType = inst.dtype  # type: ignore[assignment]  # checked in run()

    def fail(self, message: str) -> NoReturn:
        self.v.fail(message, self.index)

    def run(self) -> None:
        self.check_dtype()
        self.check_attrs()
        self.check_dst()
        self.check_srcs()

    def check_dtype(self) -> None:
        op, dtype, types = self.op.value, self.inst.dtype, self.spec.types
        if types is None:
            if dtype is not None:
                self.fail(f"{op} takes no dtype, got {dtype!r}")
            return
        if dtype is None:
            self.fail(f"{op} needs a dtype")
        if not isinstance(dtype, DType):
            self.fail(f"{op} has unknown dtype {dtype!r}")
        if dtype not in types:
            allowed = ", ".join(sorted(t.value for t in types))
            self.fail(f"{op} is not defined for dtype {dtype} (allowed: {allowed})")

    def check_attrs(self) -> None:
        attrs = self.inst.attrs
        if not isinstance(attrs, tuple) or not all(
            isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str) for a in attrs
        ):
            self.fail("attrs must be a tuple of (name, value) pairs")
        names = [name for name, _ in attrs]
        if len(set(names)) != len(names):
            self.fail(f"attribute given twice in {names}")
        if names != sorted(names):
            self.fail(f"attributes must be sorted by name (use Instruction.make), got {names}")
        rules = ATTR_RULES.get(self.op, {})
        for name in self.spec.attrs:
            if name not in names:
                self.fail(f"{self.op.value} needs attribute {name!r}")
        for name, value in attrs:
            rule = rules.get(name)
            if rule is None:
                self.fail(f"{self.op.value} has no attribute {name!r}")
            expected = rule(value)
            if expected is not None:
                self.fail(f"attribute {name}={value!r} must be {expected}")
        if self.op is Op.CONV2D:
            self.check_conv2d_shape()

    def check_conv2d_shape(self) -> None:
        a = self.inst.attr_dict
        groups = a["groups"]
        if a["c"] % groups or a["k"] % groups:  # type: ignore[operator]
            self.fail(f"conv2d groups={groups} must divide c={a['c']} and k={a['k']}")
        top, left, bottom, right = a["pad"]  # type: ignore[misc]
        dh, dw = a["dilation"]  # type: ignore[misc]
        padded_h = a["h"] + top + bottom  # type: ignore[operator]
        padded_w = a["w"] + left + right  # type: ignore[operator]
        if padded_h < dh * (a["r"] - 1) + 1 or padded_w < dw * (a["s"] - 1) + 1:  # type: ignore[operator]
            self.fail("conv2d kernel window is larger than the padded input")

    # ------------------------------------------------------------ destination
    def check_dst(self) -> None:
        dst, kind = self.inst.dst, self.spec.dst
        op = self.op.value
        if kind is Dst.NONE:
            if dst is not None:
                self.fail(f"{op} has no destination, got {dst}")
            return
        if kind is Dst.OPTIONAL and dst is None:
            return
        want_pred = kind is Dst.PRED or (kind is Dst.VALUE and self.dtype is DType.BOOL)
        if want_pred:
            if not isinstance(dst, Pred):
                self.fail(f"{op} needs a predicate destination, got {dst!r}")
            self.check_pred_index(dst, "destination")
            return
        if not isinstance(dst, Reg):
            self.fail(f"{op} needs a general-register destination, got {dst!r}")
        self.check_reg_index(dst, "destination")
        reg_dtype = self.program.registers[dst.index]
        if reg_dtype is not self.dtype:
            self.fail(f"destination {dst} is {reg_dtype}, but {op} writes {self.dtype}")

    def check_reg_index(self, reg: Reg, what: str) -> None:
        count = len(self.program.registers)
        if not is_int(reg.index) or not 0 <= reg.index < count:
            self.fail(f"{what} register r{reg.index} out of range ({count} registers)")

    def check_pred_index(self, pred: Pred, what: str) -> None:
        count = self.program.predicates
        if not is_int(pred.index) or not 0 <= pred.index < count:
            self.fail(f"{what} predicate p{pred.index} out of range ({count} predicates)")

    # ------------------------------------------------------------ sources
    def check_srcs(self) -> None:
        srcs, spec, op = self.inst.srcs, self.spec, self.op.value
        if not isinstance(srcs, tuple):
            self.fail("srcs must be a tuple of operands")
        low, high = spec.n_srcs, spec.n_srcs + spec.optional_srcs
        if not low <= len(srcs) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            self.fail(f"{op} takes {wanted} sources, got {len(srcs)}")
        roles = source_roles(self.op, spec)
        for position, (role, operand) in enumerate(zip(roles, srcs, strict=False)):
            self.check_src(position, role, operand)

    def check_src(self, position: int, role: Role, operand: object) -> None:
        what = f"source {position}"
        if role in MEMORY_ROLES:
            self.check_memory_operand(what, role, operand)
        elif role is Role.SHARED:
            self.check_shared_operand(what, operand)
        elif role is Role.PRED:
            if not isinstance(operand, Pred):
                self.fail(f"{what} of {self.op.value} must be a predicate register, got {operand}")
            self.check_pred_index(operand, what)
        else:
            dtype = self.value_dtype(what, operand)
            if role is Role.INDEX and not dtype.is_int:
                self.fail(f"{what} is an index and must be of an integer dtype, got {dtype}")
            if role is Role.VALUE and dtype is not self.dtype:
                self.fail(f"{what} {operand} is {dtype}, but {self.op.value} works on {self.dtype}")

    def value_dtype(self, what: str, operand: object) -> DType:
        """The dtype of a value operand (register, predicate, immediate or scalar parameter)."""
        if isinstance(operand, Reg):
            self.check_reg_index(operand, what)
            return self.program.registers[operand.index]
        if isinstance(operand, Pred):
            self.check_pred_index(operand, what)
            return DType.BOOL
        if isinstance(operand, Imm):
            return self.check_immediate(what, operand)
        if isinstance(operand, Arg):
            param = self.param_of(what, operand)
            if param.kind is not ParamKind.SCALAR:
                self.fail(f"{what} ${operand.index} is a {param.kind.value}, not a value")
            return param.dtype
        if isinstance(operand, Shared):
            self.fail(f"{what} shared array @{operand.index} cannot be used as a value")
        self.fail(f"{what} is not an operand: {operand!r}")

    def check_immediate(self, what: str, imm: Imm) -> DType:
        dtype, value = imm.dtype, imm.value
        if not isinstance(dtype, DType):
            self.fail(f"{what} immediate has unknown dtype {dtype!r}")
        if dtype.is_bool:
            if not isinstance(value, bool):
                self.fail(f"{what} immediate {value!r} of dtype bool must be True or False")
        elif dtype.is_int:
            if not is_int(value):
                self.fail(f"{what} immediate {value!r} of dtype {dtype} must be an int")
            info = np.iinfo(dtype.numpy)
            if not int(info.min) <= value <= int(info.max):  # type: ignore[operator]
                self.fail(f"{what} immediate {value} does not fit in {dtype}")
        elif not isinstance(value, float):
            self.fail(f"{what} immediate {value!r} of dtype {dtype} must be a float")
        return dtype

    def param_of(self, what: str, arg: Arg) -> Param:
        count = len(self.program.params)
        if not is_int(arg.index) or not 0 <= arg.index < count:
            self.fail(f"{what} parameter ${arg.index} out of range ({count} parameters)")
        return self.program.params[arg.index]

    def check_memory_operand(self, what: str, role: Role, operand: object) -> None:
        kind, needs_read, needs_write = MEMORY_ROLES[role]
        op = self.op.value
        if not isinstance(operand, Arg):
            self.fail(f"{what} of {op} must be a {kind.value} parameter, got {operand}")
        param = self.param_of(what, operand)
        if param.kind is not kind:
            if param.kind is ParamKind.SCALAR:
                self.fail(f"{what}: scalar parameter {param.name!r} cannot be indexed")
            self.fail(
                f"{what} of {op} must be a {kind.value}, {param.name!r} is a {param.kind.value}"
            )
        if needs_read and not param.access.can_read:
            self.fail(f"{what}: {op} reads {param.name!r}, whose access is {param.access.value}")
        if needs_write and not param.access.can_write:
            self.fail(f"{what}: {op} writes {param.name!r}, whose access is {param.access.value}")
        if param.dtype is not self.dtype:
            self.fail(f"{what}: {param.name!r} holds {param.dtype}, but {op} works on {self.dtype}")

    def check_shared_operand(self, what: str, operand: object) -> None:
        op = self.op.value
        if not isinstance(operand, Shared):
            self.fail(f"{what} of {op} must be a shared array @i, got {operand}")
        count = len(self.program.shared)
        if not is_int(operand.index) or not 0 <= operand.index < count:
            self.fail(f"{what} shared array @{operand.index} out of range ({count} declared)")
        arr_dtype = self.program.shared[operand.index].dtype
        if arr_dtype is not self.dtype:
            self.fail(f"{what}: shared array @{operand.index} holds {arr_dtype}, not {self.dtype}")


class _Nesting:
    """Structured control flow: a stack of open IF/LOOP markers."""

    def __init__(self, verifier: _Verifier):
        self.v = verifier
        self.stack: list[list] = []  # [opener op, its index, whether an ELSE was seen]

    def step(self, index: int, op: Op) -> None:
        if op in (Op.IF, Op.LOOP):
            self.stack.append([op, index, False])
        elif op is Op.ELSE:
            if not self.stack or self.stack[-1][0] is not Op.IF:
                self.v.fail("else without an open if", index)
            if self.stack[-1][2]:
                self.v.fail(f"second else for the if at instruction {self.stack[-1][1]}", index)
            self.stack[-1][2] = True
        elif op in CLOSERS:
            opener = CLOSERS[op]
            if not self.stack or self.stack[-1][0] is not opener:
                open_what = f"{self.stack[-1][0].value} is open" if self.stack else "nothing open"
                self.v.fail(f"{op.value} without a matching {opener.value} ({open_what})", index)
            self.stack.pop()
        elif op in (Op.BREAK, Op.CONTINUE) and not self.inside(Op.LOOP):
            self.v.fail(f"{op.value} outside a loop", index)
        elif op in (Op.BAR, Op.REDUCE) and self.inside(Op.IF):
            self.v.fail(
                f"{op.value} inside an if: it must be reached in uniform control flow", index
            )

    def inside(self, opener: Op) -> bool:
        """Whether any open marker is `opener`."""
        return any(entry[0] is opener for entry in self.stack)

    def finish(self) -> None:
        if self.stack:
            op, index, _ = self.stack[-1]
            closer = "endif" if op is Op.IF else "endloop"
            self.v.fail(f"{op.value} is never closed (missing {closer})", index)
