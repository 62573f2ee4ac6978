"""The Atlas ISA: the single definition of every operation hologram runs."""

from hologram.isa.builder import Builder
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import SPECS, Group, Op
from hologram.isa.program import (
    ISA_VERSION,
    MAX_PREDICATES,
    MAX_REGISTERS,
    Access,
    Arg,
    Imm,
    Instruction,
    LaunchConfig,
    Param,
    ParamKind,
    Pred,
    Program,
    Reg,
    Shared,
    SharedArray,
)

__all__ = [
    "ISA_VERSION",
    "MAX_PREDICATES",
    "MAX_REGISTERS",
    "SPECS",
    "Access",
    "Arg",
    "Builder",
    "DType",
    "Group",
    "Imm",
    "Instruction",
    "LaunchConfig",
    "Op",
    "Param",
    "ParamKind",
    "Pred",
    "Program",
    "Reg",
    "Shared",
    "SharedArray",
]
