"""The verifier's rule tables: what each source position of an opcode must hold, and the
valid values of each attribute. `hologram.isa.verifier` applies them."""

from __future__ import annotations

import enum
from collections.abc import Callable

from hologram.isa.opcodes import (
    ATOM_OPS,
    CMP_OPS,
    REDUCE_OPS,
    SPECIAL_REGISTERS,
    Op,
    OpSpec,
)
from hologram.isa.program import ParamKind

INT64_MAX = 2**63 - 1
"""The largest integer attribute value (attributes are stored as signed 64-bit integers)."""


class Role(enum.Enum):
    """What a source operand position of an opcode must hold."""

    VALUE = "value"  # a value of the instruction dtype
    ANY_VALUE = "any value"  # a value of any dtype (the CVT source)
    INDEX = "index"  # a value of an integer dtype
    PRED = "predicate"  # a predicate register
    READ_BUFFER = "readable buffer"
    WRITE_BUFFER = "writable buffer"
    RW_BUFFER = "read-write buffer"
    READ_POOL = "readable pool"
    WRITE_POOL = "writable pool"
    SHARED = "shared array"


_R = Role
_ROLES: dict[Op, tuple[Role, ...]] = {
    Op.LDG: (_R.READ_BUFFER, _R.INDEX),
    Op.STG: (_R.WRITE_BUFFER, _R.INDEX, _R.VALUE),
    Op.LDS: (_R.SHARED, _R.INDEX),
    Op.STS: (_R.SHARED, _R.INDEX, _R.VALUE),
    Op.POOL_LD: (_R.READ_POOL, _R.INDEX),
    Op.POOL_ST: (_R.WRITE_POOL, _R.INDEX, _R.VALUE),
    Op.CVT: (_R.ANY_VALUE,),
    Op.SEL: (_R.PRED, _R.VALUE, _R.VALUE),
    Op.IF: (_R.PRED,),
    Op.ATOM: (_R.RW_BUFFER, _R.INDEX, _R.VALUE),
    Op.MATMUL: (_R.READ_BUFFER, _R.READ_BUFFER, _R.WRITE_BUFFER),
    Op.CONV2D: (_R.READ_BUFFER, _R.READ_BUFFER, _R.WRITE_BUFFER, _R.READ_BUFFER),
}
"""Source roles of the opcodes whose sources are not all plain values."""

# (parameter kind, needs read access, needs write access) of each memory role
MEMORY_ROLES: dict[Role, tuple[ParamKind, bool, bool]] = {
    _R.READ_BUFFER: (ParamKind.BUFFER, True, False),
    _R.WRITE_BUFFER: (ParamKind.BUFFER, False, True),
    _R.RW_BUFFER: (ParamKind.BUFFER, True, True),
    _R.READ_POOL: (ParamKind.POOL, True, False),
    _R.WRITE_POOL: (ParamKind.POOL, False, True),
}


def source_roles(op: Op, spec: OpSpec) -> tuple[Role, ...]:
    """The role of each source position of `op`, optional ones included."""
    return _ROLES.get(op, (_R.VALUE,) * (spec.n_srcs + spec.optional_srcs))


# ---------------------------------------------------------------- attribute rules
AttrRule = Callable[[object], "str | None"]
"""Returns None when an attribute value is valid, else a phrase saying what is expected."""


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(options: tuple[str, ...]) -> AttrRule:
    def rule(value: object) -> str | None:
        return None if isinstance(value, str) and value in options else f"one of {options}"

    return rule


def _int_in(low: int, high: int = INT64_MAX) -> AttrRule:
    def rule(value: object) -> str | None:
        if is_int(value) and low <= value <= high:  # type: ignore[operator]
            return None
        return f"an int in [{low}, {high}]"

    return rule


def _boolean(value: object) -> str | None:
    return None if isinstance(value, bool) else "a bool"


def _int_tuple(length: int, low: int) -> AttrRule:
    def rule(value: object) -> str | None:
        if (
            isinstance(value, tuple)
            and len(value) == length
            and all(is_int(v) and low <= v <= INT64_MAX for v in value)
        ):
            return None
        return f"a tuple of {length} ints >= {low}"

    return rule


_POSITIVE = _int_in(1)
ATTR_RULES: dict[Op, dict[str, AttrRule]] = {
    Op.SETP: {"cmp": _one_of(CMP_OPS)},
    Op.REDUCE: {"op": _one_of(REDUCE_OPS)},
    Op.ATOM: {"op": _one_of(ATOM_OPS)},
    Op.SREG: {"sreg": _one_of(SPECIAL_REGISTERS), "axis": _int_in(0, 2)},
    Op.NEIGHBOR: {"k": _int_in(0, 1)},
    Op.MATMUL: {
        **{name: _POSITIVE for name in ("batch", "m", "n", "k")},
        **{name: _boolean for name in ("trans_a", "trans_b")},
        **{name: _int_in(0) for name in ("stride_a", "stride_b", "stride_c")},
    },
    Op.CONV2D: {
        **{name: _POSITIVE for name in ("n", "c", "h", "w", "k", "r", "s", "groups")},
        "stride": _int_tuple(2, 1),
        "pad": _int_tuple(4, 0),
        "dilation": _int_tuple(2, 1),
    },
}
