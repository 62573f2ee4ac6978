"""The Atlas ISA opcode table: one enum, grouped, plus each opcode's operand signature.

The semantics of every opcode are specified in `docs/isa.mdx`; `backends/reference.py`
is the executable form of that specification.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hologram.isa.dtypes import ALL_TYPES, FLOAT_TYPES, INT_TYPES, NUMERIC_TYPES, DType


class Op(enum.Enum):
    """Every Atlas ISA opcode. The value is the mnemonic used by the text form."""

    # data movement: global memory by index, shared memory, moves and conversions
    LDG = "ldg"
    STG = "stg"
    LDS = "lds"
    STS = "sts"
    MOV = "mov"
    CVT = "cvt"
    # pool storage, for streaming through fixed-size pools
    POOL_LD = "pool_ld"
    POOL_ST = "pool_st"
    # arithmetic
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MOD = "mod"
    MAD = "mad"
    FMA = "fma"
    MIN = "min"
    MAX = "max"
    ABS = "abs"
    NEG = "neg"
    FLOOR = "floor"
    CEIL = "ceil"
    ROUND = "round"
    TRUNC = "trunc"
    # logic and bitwise (bool operands act on predicates)
    AND = "and"
    OR = "or"
    XOR = "xor"
    NOT = "not"
    SHL = "shl"
    SHR = "shr"
    # compares that set predicates, and select
    SETP = "setp"
    SEL = "sel"
    # structured control flow
    IF = "if"
    ELSE = "else"
    ENDIF = "endif"
    LOOP = "loop"
    ENDLOOP = "endloop"
    BREAK = "break"
    CONTINUE = "continue"
    EXIT = "exit"
    # synchronisation
    BAR = "bar"
    FENCE = "fence"
    # block-level reductions and atomics on global memory
    REDUCE = "reduce"
    ATOM = "atom"
    # transcendentals
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    RSQRT = "rsqrt"
    SIN = "sin"
    COS = "cos"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    ERF = "erf"
    POW = "pow"
    # special registers
    SREG = "sreg"
    # boundary-pool class geometry
    CLASS_OF = "class_of"
    PAGE_OF = "page_of"
    BYTE_OF = "byte_of"
    MIRROR = "mirror"
    NEIGHBOR = "neighbor"
    ADDR = "addr"
    # intrinsic tensor instructions, mapped by each backend to its best library
    MATMUL = "matmul"
    CONV2D = "conv2d"


class Group(enum.Enum):
    """The instruction groups of the ISA."""

    DATA = "data"
    POOL = "pool"
    ARITH = "arith"
    LOGIC = "logic"
    COMPARE = "compare"
    CONTROL = "control"
    SYNC = "sync"
    COLLECTIVE = "collective"
    TRANSCENDENTAL = "transcendental"
    SPECIAL = "special"
    GEOMETRY = "geometry"
    INTRINSIC = "intrinsic"


class Dst(enum.Enum):
    """What an opcode writes."""

    NONE = "none"
    REG = "reg"  # a general register
    PRED = "pred"  # a predicate register
    VALUE = "value"  # a general or predicate register, matching the instruction dtype
    OPTIONAL = "optional"  # a general register or nothing (atomics)


@dataclass(frozen=True)
class OpSpec:
    """The operand signature of an opcode, checked by the verifier."""

    group: Group
    dst: Dst
    n_srcs: int
    types: frozenset[DType] | None  # allowed instruction dtypes; None: the op has no dtype
    attrs: tuple[str, ...] = ()  # required attribute names
    optional_srcs: int = 0  # trailing sources that may be left out


_ARITH_TYPES = NUMERIC_TYPES
_LOGIC_TYPES = INT_TYPES | {DType.BOOL}
_INDEX_TYPES = INT_TYPES

SPECS: dict[Op, OpSpec] = {
    Op.LDG: OpSpec(Group.DATA, Dst.VALUE, 2, ALL_TYPES),
    Op.STG: OpSpec(Group.DATA, Dst.NONE, 3, ALL_TYPES),
    Op.LDS: OpSpec(Group.DATA, Dst.VALUE, 2, ALL_TYPES),
    Op.STS: OpSpec(Group.DATA, Dst.NONE, 3, ALL_TYPES),
    Op.MOV: OpSpec(Group.DATA, Dst.VALUE, 1, ALL_TYPES),
    Op.CVT: OpSpec(Group.DATA, Dst.VALUE, 1, ALL_TYPES),
    Op.POOL_LD: OpSpec(Group.POOL, Dst.VALUE, 2, ALL_TYPES),
    Op.POOL_ST: OpSpec(Group.POOL, Dst.NONE, 3, ALL_TYPES),
    Op.ADD: OpSpec(Group.ARITH, Dst.REG, 2, _ARITH_TYPES),
    Op.SUB: OpSpec(Group.ARITH, Dst.REG, 2, _ARITH_TYPES),
    Op.MUL: OpSpec(Group.ARITH, Dst.REG, 2, _ARITH_TYPES),
    Op.DIV: OpSpec(Group.ARITH, Dst.REG, 2, _ARITH_TYPES),
    Op.MOD: OpSpec(Group.ARITH, Dst.REG, 2, _ARITH_TYPES),
    Op.MAD: OpSpec(Group.ARITH, Dst.REG, 3, _ARITH_TYPES),
    Op.FMA: OpSpec(Group.ARITH, Dst.REG, 3, FLOAT_TYPES),
    Op.MIN: OpSpec(Group.ARITH, Dst.REG, 2, _ARITH_TYPES),
    Op.MAX: OpSpec(Group.ARITH, Dst.REG, 2, _ARITH_TYPES),
    Op.ABS: OpSpec(Group.ARITH, Dst.REG, 1, _ARITH_TYPES),
    Op.NEG: OpSpec(Group.ARITH, Dst.REG, 1, _ARITH_TYPES),
    Op.FLOOR: OpSpec(Group.ARITH, Dst.REG, 1, FLOAT_TYPES),
    Op.CEIL: OpSpec(Group.ARITH, Dst.REG, 1, FLOAT_TYPES),
    Op.ROUND: OpSpec(Group.ARITH, Dst.REG, 1, FLOAT_TYPES),
    Op.TRUNC: OpSpec(Group.ARITH, Dst.REG, 1, FLOAT_TYPES),
    Op.AND: OpSpec(Group.LOGIC, Dst.VALUE, 2, _LOGIC_TYPES),
    Op.OR: OpSpec(Group.LOGIC, Dst.VALUE, 2, _LOGIC_TYPES),
    Op.XOR: OpSpec(Group.LOGIC, Dst.VALUE, 2, _LOGIC_TYPES),
    Op.NOT: OpSpec(Group.LOGIC, Dst.VALUE, 1, _LOGIC_TYPES),
    Op.SHL: OpSpec(Group.LOGIC, Dst.REG, 2, INT_TYPES),
    Op.SHR: OpSpec(Group.LOGIC, Dst.REG, 2, INT_TYPES),
    Op.SETP: OpSpec(Group.COMPARE, Dst.PRED, 2, ALL_TYPES, ("cmp",)),
    Op.SEL: OpSpec(Group.COMPARE, Dst.VALUE, 3, ALL_TYPES),
    Op.IF: OpSpec(Group.CONTROL, Dst.NONE, 1, None),
    Op.ELSE: OpSpec(Group.CONTROL, Dst.NONE, 0, None),
    Op.ENDIF: OpSpec(Group.CONTROL, Dst.NONE, 0, None),
    Op.LOOP: OpSpec(Group.CONTROL, Dst.NONE, 0, None),
    Op.ENDLOOP: OpSpec(Group.CONTROL, Dst.NONE, 0, None),
    Op.BREAK: OpSpec(Group.CONTROL, Dst.NONE, 0, None),
    Op.CONTINUE: OpSpec(Group.CONTROL, Dst.NONE, 0, None),
    Op.EXIT: OpSpec(Group.CONTROL, Dst.NONE, 0, None),
    Op.BAR: OpSpec(Group.SYNC, Dst.NONE, 0, None),
    Op.FENCE: OpSpec(Group.SYNC, Dst.NONE, 0, None),
    Op.REDUCE: OpSpec(Group.COLLECTIVE, Dst.REG, 1, _ARITH_TYPES, ("op",)),
    Op.ATOM: OpSpec(Group.COLLECTIVE, Dst.OPTIONAL, 3, _ARITH_TYPES, ("op",)),
    Op.EXP: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.LOG: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.SQRT: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.RSQRT: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.SIN: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.COS: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.TANH: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.SIGMOID: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.ERF: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 1, FLOAT_TYPES),
    Op.POW: OpSpec(Group.TRANSCENDENTAL, Dst.REG, 2, FLOAT_TYPES),
    Op.SREG: OpSpec(Group.SPECIAL, Dst.REG, 0, frozenset({DType.U32}), ("sreg", "axis")),
    Op.CLASS_OF: OpSpec(Group.GEOMETRY, Dst.REG, 1, frozenset({DType.U32})),
    Op.PAGE_OF: OpSpec(Group.GEOMETRY, Dst.REG, 1, frozenset({DType.U32})),
    Op.BYTE_OF: OpSpec(Group.GEOMETRY, Dst.REG, 1, frozenset({DType.U32})),
    Op.MIRROR: OpSpec(Group.GEOMETRY, Dst.REG, 1, frozenset({DType.U32})),
    Op.NEIGHBOR: OpSpec(Group.GEOMETRY, Dst.REG, 1, frozenset({DType.U32}), ("k",)),
    Op.ADDR: OpSpec(Group.GEOMETRY, Dst.REG, 3, frozenset({DType.U32})),
    Op.MATMUL: OpSpec(
        Group.INTRINSIC,
        Dst.NONE,
        3,
        NUMERIC_TYPES,
        ("batch", "m", "n", "k", "trans_a", "trans_b", "stride_a", "stride_b", "stride_c"),
    ),
    Op.CONV2D: OpSpec(
        Group.INTRINSIC,
        Dst.NONE,
        3,
        FLOAT_TYPES,
        ("n", "c", "h", "w", "k", "r", "s", "stride", "pad", "dilation", "groups"),
        optional_srcs=1,
    ),
}

CMP_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
REDUCE_OPS = ("add", "min", "max", "mul")
ATOM_OPS = ("add", "min", "max", "exch")
SPECIAL_REGISTERS = ("lane_id", "block_id", "block_dim", "grid_dim", "global_id")

OPENERS = frozenset({Op.IF, Op.LOOP})
CLOSERS = {Op.ENDIF: Op.IF, Op.ENDLOOP: Op.LOOP}
