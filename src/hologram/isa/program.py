"""ISA programs: operands, instructions, parameters, launch configurations."""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hologram.errors import LaunchError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op

ISA_VERSION = (1, 0)
"""(major, minor). Encodings carry it; a reader refuses a newer major version."""

MAX_REGISTERS = 4096
"""General registers a program may declare (the ISA guarantees at least 256)."""
MAX_PREDICATES = 256
"""Predicate registers a program may declare (the ISA guarantees at least 16)."""
MAX_BLOCK_LANES = 1024
"""Lanes in one block, all three axes together."""
MAX_GRID_DIM = 2**31 - 1


# ---------------------------------------------------------------- operands
@dataclass(frozen=True)
class Reg:
    """A general register; its dtype is declared in `Program.registers`."""

    index: int

    def __str__(self) -> str:
        return f"r{self.index}"


@dataclass(frozen=True)
class Pred:
    """A predicate (bool) register."""

    index: int

    def __str__(self) -> str:
        return f"p{self.index}"


@dataclass(frozen=True)
class Imm:
    """An immediate constant of a given dtype."""

    value: int | float | bool
    dtype: DType

    def _key(self) -> tuple[object, DType]:
        # Floats compare by their bits, so that a NaN immediate equals its decoded copy and
        # -0.0 differs from 0.0: two immediates are equal exactly when their encodings are.
        if isinstance(self.value, float):
            return struct.pack("<d", self.value), self.dtype
        return self.value, self.dtype

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Imm):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return f"{self.value!r}:{self.dtype}"


@dataclass(frozen=True)
class Arg:
    """A reference to parameter `index`: a scalar's value, or a buffer or pool to index."""

    index: int

    def __str__(self) -> str:
        return f"${self.index}"


@dataclass(frozen=True)
class Shared:
    """A reference to the block's shared array `index`."""

    index: int

    def __str__(self) -> str:
        return f"@{self.index}"


Operand = Reg | Pred | Imm | Arg | Shared
AttrValue = int | bool | str | tuple[int, ...]


# ---------------------------------------------------------------- declarations
class ParamKind(enum.Enum):
    """What a parameter is bound to at launch."""

    BUFFER = "buffer"
    SCALAR = "scalar"
    POOL = "pool"


class Access(enum.Enum):
    """How a kernel may touch a buffer or pool parameter."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"

    @property
    def can_read(self) -> bool:
        return self is not Access.WRITE

    @property
    def can_write(self) -> bool:
        return self is not Access.READ


@dataclass(frozen=True)
class Param:
    """A kernel parameter: a typed buffer, a typed scalar, or a pool (element type `dtype`)."""

    name: str
    kind: ParamKind
    dtype: DType
    access: Access = Access.READ


@dataclass(frozen=True)
class SharedArray:
    """A per-block shared-memory array of `size` elements."""

    dtype: DType
    size: int


# ---------------------------------------------------------------- instructions
@dataclass(frozen=True)
class Instruction:
    """One ISA instruction: opcode, operation dtype, destination, sources and attributes."""

    op: Op
    dtype: DType | None = None
    dst: Reg | Pred | None = None
    srcs: tuple[Operand, ...] = ()
    attrs: tuple[tuple[str, AttrValue], ...] = ()

    @staticmethod
    def make(
        op: Op,
        dtype: DType | None = None,
        dst: Reg | Pred | None = None,
        srcs: Iterable[Operand] = (),
        attrs: Mapping[str, AttrValue] | None = None,
    ) -> Instruction:
        """Build an instruction, normalising attributes into a sorted tuple."""
        norm = tuple(
            sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in (attrs or {}).items())
        )
        return Instruction(op, dtype, dst, tuple(srcs), norm)

    def attr(self, name: str, default: AttrValue | None = None) -> AttrValue | None:
        """The value of attribute `name`, or `default`."""
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    @property
    def attr_dict(self) -> dict[str, AttrValue]:
        return dict(self.attrs)


# ---------------------------------------------------------------- programs
@dataclass(frozen=True)
class Program:
    """A kernel: parameters, register file, shared arrays and a flat list of instructions.

    Control flow is structured: IF/ELSE/ENDIF and LOOP/ENDLOOP markers nest properly,
    which the verifier checks.
    """

    name: str
    params: tuple[Param, ...] = ()
    registers: tuple[DType, ...] = ()
    predicates: int = 0
    shared: tuple[SharedArray, ...] = ()
    instructions: tuple[Instruction, ...] = ()
    version: tuple[int, int] = field(default=ISA_VERSION)

    @cached_property
    def digest(self) -> str:
        """A stable hex hash of the binary encoding: the key of every compile cache."""
        import xxhash

        from hologram.isa.encoding import to_bytes

        return xxhash.xxh3_128_hexdigest(to_bytes(self))

    @cached_property
    def is_intrinsic(self) -> bool:
        """True when the program consists of intrinsic tensor instructions only."""
        from hologram.isa.opcodes import SPECS, Group

        return bool(self.instructions) and all(
            SPECS[i.op].group is Group.INTRINSIC for i in self.instructions
        )

    @cached_property
    def uses_block_features(self) -> bool:
        """True when lanes of a block interact: barriers, shared memory or block reductions."""
        return bool(self.shared) or any(
            i.op in (Op.BAR, Op.REDUCE, Op.LDS, Op.STS) for i in self.instructions
        )

    def param_index(self, name: str) -> int:
        """The index of the parameter called `name`."""
        for i, p in enumerate(self.params):
            if p.name == name:
                return i
        raise KeyError(name)

    def __str__(self) -> str:
        from hologram.isa.text import to_text

        return to_text(self)


def _dim3(value: int | Iterable[int], what: str) -> tuple[int, int, int]:
    try:
        items = (value,) if isinstance(value, (int, np.integer)) else tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise LaunchError(f"{what} must be an int or 1 to 3 ints, got {value!r}") from None
    if not 1 <= len(items) <= 3 or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) for d in items
    ):
        raise LaunchError(f"{what} must be an int or 1 to 3 ints, got {value!r}")
    dims = tuple(int(d) for d in items)
    dims = dims + (1,) * (3 - len(dims))
    if any(d < 1 or d > MAX_GRID_DIM for d in dims):
        raise LaunchError(f"{what} dimensions must be in [1, {MAX_GRID_DIM}], got {value!r}")
    return dims  # type: ignore[return-value]


@dataclass(frozen=True, init=False)
class LaunchConfig:
    """A grid of blocks of lanes. `grid` and `block` are 1 to 3 ints (x, y, z)."""

    grid: tuple[int, int, int]
    block: tuple[int, int, int]

    def __init__(self, grid: int | Iterable[int] = 1, block: int | Iterable[int] = 1):
        g = _dim3(grid, "grid")
        b = _dim3(block, "block")
        lanes = b[0] * b[1] * b[2]
        if lanes > MAX_BLOCK_LANES:
            raise LaunchError(f"a block has at most {MAX_BLOCK_LANES} lanes, got {lanes} ({b})")
        object.__setattr__(self, "grid", g)
        object.__setattr__(self, "block", b)

    @property
    def lanes_per_block(self) -> int:
        return self.block[0] * self.block[1] * self.block[2]

    @property
    def num_blocks(self) -> int:
        return self.grid[0] * self.grid[1] * self.grid[2]

    @classmethod
    def for_elements(cls, n: int, block: int = 256) -> LaunchConfig:
        """A 1-D launch with one lane per element (at least one block)."""
        return cls(max(1, -(-n // block)), block)
