"""A builder for ISA programs: allocates registers, infers dtypes, nests control flow.

For example, `y[i] = 2 * x[i]` for every `i < n`:

    b = Builder("scale")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.mul(b.ldg(x, i), 2.0))
    program = b.build()
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from hologram.errors import ProgramError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import (
    Access,
    Arg,
    AttrValue,
    Imm,
    Instruction,
    Operand,
    Param,
    ParamKind,
    Pred,
    Program,
    Reg,
    Shared,
    SharedArray,
)

Value = Operand | int | float | bool
DTypeLike = DType | str


class Builder:
    """Incrementally builds a `Program`. Value-producing methods return a fresh register."""

    def __init__(self, name: str):
        self.name = name
        self.params: list[Param] = []
        self.registers: list[DType] = []
        self.predicates = 0
        self.shared_arrays: list[SharedArray] = []
        self.instructions: list[Instruction] = []

    # ------------------------------------------------------------ declarations
    def buffer(self, name: str, dtype: DTypeLike, access: Access | str = "read") -> Arg:
        """Declare a buffer parameter and return a reference to it."""
        return self._param(name, ParamKind.BUFFER, dtype, Access(access))

    def scalar(self, name: str, dtype: DTypeLike) -> Arg:
        """Declare a scalar parameter; the returned operand reads its value."""
        return self._param(name, ParamKind.SCALAR, dtype, Access.READ)

    def pool(self, name: str, dtype: DTypeLike, access: Access | str = "readwrite") -> Arg:
        """Declare a pool parameter, viewed as an array of `dtype`."""
        return self._param(name, ParamKind.POOL, dtype, Access(access))

    def shared(self, dtype: DTypeLike, size: int) -> Shared:
        """Declare a per-block shared array of `size` elements."""
        self.shared_arrays.append(SharedArray(DType.of(dtype), int(size)))
        return Shared(len(self.shared_arrays) - 1)

    def reg(self, dtype: DTypeLike) -> Reg:
        """Allocate a fresh general register of `dtype`."""
        self.registers.append(DType.of(dtype))
        return Reg(len(self.registers) - 1)

    def pred(self) -> Pred:
        """Allocate a fresh predicate register."""
        self.predicates += 1
        return Pred(self.predicates - 1)

    def _param(self, name: str, kind: ParamKind, dtype: DTypeLike, access: Access) -> Arg:
        if any(p.name == name for p in self.params):
            raise ProgramError(f"parameter {name!r} declared twice", program=self.name)
        self.params.append(Param(name, kind, DType.of(dtype), access))
        return Arg(len(self.params) - 1)

    # ------------------------------------------------------------ typing helpers
    def dtype_of(self, value: Operand) -> DType | None:
        """The dtype of an operand, or None for a bare Python number."""
        if isinstance(value, Reg):
            return self.registers[value.index]
        if isinstance(value, Pred):
            return DType.BOOL
        if isinstance(value, Imm):
            return value.dtype
        if isinstance(value, Arg):
            return self.params[value.index].dtype
        if isinstance(value, Shared):
            return self.shared_arrays[value.index].dtype
        return None

    def imm(self, value: int | float | bool, dtype: DTypeLike) -> Imm:
        """An immediate of `dtype`."""
        dt = DType.of(dtype)
        if dt.is_bool:
            return Imm(bool(value), dt)
        return Imm(float(value) if dt.is_float else int(value), dt)

    def _operand(self, value: Value, dtype: DType) -> Operand:
        if isinstance(value, (Reg, Pred, Imm, Arg, Shared)):
            return value
        return self.imm(value, dtype)

    def _common(self, *values: Value) -> DType:
        for v in values:
            if not isinstance(v, (int, float, bool)):
                dt = self.dtype_of(v)
                if dt is not None:
                    return dt
        if any(isinstance(v, float) for v in values):
            return DType.F32
        return DType.I32

    # ------------------------------------------------------------ raw emission
    def emit(
        self,
        op: Op,
        dtype: DType | None = None,
        dst: Reg | Pred | None = None,
        srcs: tuple[Operand, ...] = (),
        attrs: Mapping[str, AttrValue] | None = None,
    ) -> Reg | Pred | None:
        """Append one instruction as given and return its destination."""
        self.instructions.append(Instruction.make(op, dtype, dst, srcs, attrs))
        return dst

    def _value(self, op: Op, dtype: DType, /, *srcs: Value, **attrs: AttrValue) -> Reg | Pred:
        dst: Reg | Pred = self.pred() if dtype.is_bool else self.reg(dtype)
        operands = tuple(self._operand(s, dtype) for s in srcs)
        self.emit(op, dtype, dst, operands, attrs)
        return dst

    def _arith(self, op: Op, *srcs: Value) -> Reg | Pred:
        return self._value(op, self._common(*srcs), *srcs)

    # ------------------------------------------------------------ data movement
    def ldg(self, buf: Arg, index: Value) -> Reg | Pred:
        """Load element `index` of buffer `buf`."""
        return self._index_load(Op.LDG, self.params[buf.index].dtype, buf, index)

    def stg(self, buf: Arg, index: Value, value: Value) -> None:
        """Store `value` at element `index` of buffer `buf`."""
        self._index_store(Op.STG, self.params[buf.index].dtype, buf, index, value)

    def lds(self, arr: Shared, index: Value) -> Reg | Pred:
        """Load element `index` of shared array `arr`."""
        return self._index_load(Op.LDS, self.shared_arrays[arr.index].dtype, arr, index)

    def sts(self, arr: Shared, index: Value, value: Value) -> None:
        """Store `value` at element `index` of shared array `arr`."""
        self._index_store(Op.STS, self.shared_arrays[arr.index].dtype, arr, index, value)

    def pool_ld(self, pool: Arg, index: Value) -> Reg | Pred:
        """Load element `index` of a pool viewed as an array of its dtype."""
        return self._index_load(Op.POOL_LD, self.params[pool.index].dtype, pool, index)

    def pool_st(self, pool: Arg, index: Value, value: Value) -> None:
        """Store `value` at element `index` of a pool."""
        self._index_store(Op.POOL_ST, self.params[pool.index].dtype, pool, index, value)

    def _index_load(self, op: Op, dtype: DType, ref: Operand, index: Value) -> Reg | Pred:
        dst: Reg | Pred = self.pred() if dtype.is_bool else self.reg(dtype)
        self.emit(op, dtype, dst, (ref, self._operand(index, DType.U32)))
        return dst

    def _index_store(self, op: Op, dtype: DType, ref: Operand, index: Value, value: Value) -> None:
        srcs = (ref, self._operand(index, DType.U32), self._operand(value, dtype))
        self.emit(op, dtype, None, srcs)

    def mov(self, value: Value, dtype: DTypeLike | None = None) -> Reg | Pred:
        """Copy `value` into a fresh register."""
        dt = DType.of(dtype) if dtype is not None else self._common(value)
        return self._value(Op.MOV, dt, value)

    def assign(self, dst: Reg | Pred, value: Value) -> None:
        """Overwrite an existing register (loop-carried variables)."""
        dt = DType.BOOL if isinstance(dst, Pred) else self.registers[dst.index]
        self.emit(Op.MOV, dt, dst, (self._operand(value, dt),))

    def cvt(self, value: Value, dtype: DTypeLike) -> Reg | Pred:
        """Convert `value` to `dtype` (see the ISA reference for rounding and saturation)."""
        dt = DType.of(dtype)
        src = self._operand(value, self._common(value))
        dst: Reg | Pred = self.pred() if dt.is_bool else self.reg(dt)
        self.emit(Op.CVT, dt, dst, (src,))
        return dst

    # ------------------------------------------------------------ arithmetic and logic
    def add(self, a: Value, b: Value) -> Reg:
        return self._arith(Op.ADD, a, b)  # type: ignore[return-value]

    def sub(self, a: Value, b: Value) -> Reg:
        return self._arith(Op.SUB, a, b)  # type: ignore[return-value]

    def mul(self, a: Value, b: Value) -> Reg:
        return self._arith(Op.MUL, a, b)  # type: ignore[return-value]

    def div(self, a: Value, b: Value) -> Reg:
        return self._arith(Op.DIV, a, b)  # type: ignore[return-value]

    def mod(self, a: Value, b: Value) -> Reg:
        return self._arith(Op.MOD, a, b)  # type: ignore[return-value]

    def mad(self, a: Value, b: Value, c: Value) -> Reg:
        return self._arith(Op.MAD, a, b, c)  # type: ignore[return-value]

    def fma(self, a: Value, b: Value, c: Value) -> Reg:
        return self._arith(Op.FMA, a, b, c)  # type: ignore[return-value]

    def min(self, a: Value, b: Value) -> Reg:
        return self._arith(Op.MIN, a, b)  # type: ignore[return-value]

    def max(self, a: Value, b: Value) -> Reg:
        return self._arith(Op.MAX, a, b)  # type: ignore[return-value]

    def unary(self, op: Op, a: Value) -> Reg | Pred:
        """Any one-source opcode (ABS, NEG, FLOOR, EXP, NOT, ...) on `a`."""
        return self._arith(op, a)

    def binary(self, op: Op, a: Value, b: Value) -> Reg | Pred:
        """Any two-source opcode (ADD, POW, AND, SHL, ...) on `a` and `b`."""
        return self._arith(op, a, b)

    def setp(self, cmp: str, a: Value, b: Value) -> Pred:
        """Compare `a` and `b` (eq, ne, lt, le, gt, ge) into a fresh predicate."""
        dt = self._common(a, b)
        dst = self.pred()
        self.emit(Op.SETP, dt, dst, (self._operand(a, dt), self._operand(b, dt)), {"cmp": cmp})
        return dst

    def sel(self, cond: Pred, a: Value, b: Value) -> Reg | Pred:
        """`a` where `cond` holds, else `b`."""
        dt = self._common(a, b)
        return self._value(Op.SEL, dt, cond, a, b)

    # ------------------------------------------------------------ special registers and geometry
    def sreg(self, name: str, axis: int = 0) -> Reg:
        """Read a special register: lane_id, block_id, block_dim, grid_dim or global_id."""
        return self._value(Op.SREG, DType.U32, sreg=name, axis=axis)  # type: ignore[return-value]

    def global_id(self, axis: int = 0) -> Reg:
        """block_id * block_dim + lane_id along `axis`."""
        return self.sreg("global_id", axis)

    def geometry(self, op: Op, *srcs: Value, **attrs: AttrValue) -> Reg:
        """A class-geometry instruction (CLASS_OF, PAGE_OF, MIRROR, NEIGHBOR, ADDR, ...)."""
        return self._value(op, DType.U32, *srcs, **attrs)  # type: ignore[return-value]

    # ------------------------------------------------------------ collectives
    def reduce(self, op: str, value: Value) -> Reg:
        """Block-level reduction (add, min, max, mul) of `value`; every lane gets the result."""
        return self._value(Op.REDUCE, self._common(value), value, op=op)  # type: ignore[return-value]

    def atom(self, op: str, buf: Arg, index: Value, value: Value, want_old: bool = False):
        """Atomic read-modify-write (add, min, max, exch); returns the old value if asked."""
        dt = self.params[buf.index].dtype
        dst = self.reg(dt) if want_old else None
        srcs = (buf, self._operand(index, DType.U32), self._operand(value, dt))
        self.emit(Op.ATOM, dt, dst, srcs, {"op": op})
        return dst

    def barrier(self) -> None:
        """Block barrier: every lane of the block waits here."""
        self.emit(Op.BAR)

    def fence(self) -> None:
        """Memory fence: earlier writes are visible before later ones."""
        self.emit(Op.FENCE)

    # ------------------------------------------------------------ structured control flow
    @contextmanager
    def if_(self, cond: Pred) -> Iterator[None]:
        """`with b.if_(p): ...` emits IF p ... ENDIF."""
        self.emit(Op.IF, srcs=(cond,))
        yield
        self.emit(Op.ENDIF)

    def else_(self) -> None:
        """Switch the innermost open IF to its ELSE arm."""
        self.emit(Op.ELSE)

    @contextmanager
    def loop(self) -> Iterator[None]:
        """`with b.loop(): ...` emits LOOP ... ENDLOOP; leave it with `break_()`."""
        self.emit(Op.LOOP)
        yield
        self.emit(Op.ENDLOOP)

    @contextmanager
    def range(self, start: Value, stop: Value, step: int = 1, dtype: DTypeLike = "i32"):
        """A counted loop yielding its counter register: for i in range(start, stop, step)."""
        dt = DType.of(dtype)
        # The counter steps at the top of the loop so that `continue_()` inside the body is safe.
        i = self.reg(dt)
        self.emit(Op.SUB, dt, i, (self._operand(start, dt), self.imm(step, dt)))
        with self.loop():
            self.emit(Op.ADD, dt, i, (i, self.imm(step, dt)))
            done = self.setp("ge" if step > 0 else "le", i, self._operand(stop, dt))
            with self.if_(done):
                self.break_()
            yield i

    def break_(self) -> None:
        self.emit(Op.BREAK)

    def continue_(self) -> None:
        self.emit(Op.CONTINUE)

    def exit(self) -> None:
        """End this lane's execution."""
        self.emit(Op.EXIT)

    # ------------------------------------------------------------ intrinsics
    def matmul(self, a: Arg, b: Arg, c: Arg, **attrs: AttrValue) -> None:
        """C[batch] = op(A[batch]) @ op(B[batch]); see the ISA reference for attributes."""
        defaults: dict[str, AttrValue] = {"batch": 1, "trans_a": False, "trans_b": False}
        defaults.update(attrs)
        m, n, k = int(defaults["m"]), int(defaults["n"]), int(defaults["k"])  # type: ignore[arg-type]
        defaults.setdefault("stride_a", m * k)
        defaults.setdefault("stride_b", k * n)
        defaults.setdefault("stride_c", m * n)
        self.emit(Op.MATMUL, self.params[c.index].dtype, None, (a, b, c), defaults)

    def conv2d(
        self, x: Arg, w: Arg, y: Arg, /, bias: Arg | None = None, **attrs: AttrValue
    ) -> None:
        """2-D convolution (NCHW input, KCRS weights); see the ISA reference for attributes."""
        defaults: dict[str, AttrValue] = {
            "stride": (1, 1),
            "pad": (0, 0, 0, 0),
            "dilation": (1, 1),
            "groups": 1,
        }
        defaults.update(attrs)
        srcs = (x, w, y) if bias is None else (x, w, y, bias)
        self.emit(Op.CONV2D, self.params[y.index].dtype, None, srcs, defaults)

    # ------------------------------------------------------------ result
    def build(self, verify: bool = True) -> Program:
        """The finished program, verified unless `verify` is False."""
        program = Program(
            name=self.name,
            params=tuple(self.params),
            registers=tuple(self.registers),
            predicates=self.predicates,
            shared=tuple(self.shared_arrays),
            instructions=tuple(self.instructions),
        )
        if verify:
            from hologram.isa.verifier import verify as run_verifier

            run_verifier(program)
        return program
