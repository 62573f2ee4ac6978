"""Well-formed ISA programs for the encoding and text tests: hand-written samples that together
use every opcode and every dtype, and a Hypothesis strategy for random well-formed programs."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import strategies as st

from hologram.isa import Builder, DType, Imm, Op, Program
from hologram.isa.dtypes import FLOAT_TYPES, INT_TYPES, NUMERIC_TYPES
from hologram.isa.opcodes import ATOM_OPS, CMP_OPS, REDUCE_OPS, SPECIAL_REGISTERS
from hologram.isa.program import Arg, Pred, Reg

SPECIAL_FLOATS = (
    0.0,
    -0.0,
    float("inf"),
    float("-inf"),
    float("nan"),
    -float("nan"),
    struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000001))[0],  # a signalling NaN
    5e-324,
    1.7976931348623157e308,
    0.1,
)
FLOAT_OPS_1 = (
    Op.ABS, Op.NEG, Op.FLOOR, Op.CEIL, Op.ROUND, Op.TRUNC, Op.EXP, Op.LOG, Op.SQRT,
    Op.RSQRT, Op.SIN, Op.COS, Op.TANH, Op.SIGMOID, Op.ERF,
)  # fmt: skip
NUMERIC_OPS_2 = (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MOD, Op.MIN, Op.MAX)
INT_OPS_2 = (Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR)


def _sorted_types(types: frozenset[DType]) -> list[DType]:
    return sorted(types, key=lambda d: d.code)


# ---------------------------------------------------------------- hand-written samples
def _all_dtypes() -> Program:
    """Every dtype through buffers, loads, stores, moves, immediates and conversions."""
    b = Builder("all_dtypes")
    i = b.global_id()
    for dt in DType:
        buf = b.buffer(f"buf_{dt.value}", dt, access="readwrite")
        value = b.ldg(buf, i)
        extreme = True if dt.is_bool else (-1.5 if dt.is_float else int(np.iinfo(dt.numpy).max))
        b.stg(buf, i, b.mov(b.imm(extreme, dt)))
        for target in DType:
            b.cvt(value, target)
    return b.build()


def _float_math() -> Program:
    """Every float-only and numeric opcode on each float type, with special immediates."""
    b = Builder("float_math")
    for dt in _sorted_types(FLOAT_TYPES):
        x = b.mov(b.imm(1.25, dt))
        for special in SPECIAL_FLOATS:
            x = b.add(x, Imm(special, dt))
        for op in FLOAT_OPS_1:
            b.unary(op, x)
        for op in (*NUMERIC_OPS_2, Op.POW):
            b.binary(op, x, b.imm(-2.5, dt))
        b.mad(x, x, x)
        b.fma(x, b.imm(3.0, dt), x)
    return b.build()


def _int_math() -> Program:
    """Arithmetic, logic and shifts on every integer type, with extreme immediates."""
    b = Builder("int_math")
    for dt in _sorted_types(INT_TYPES):
        info = np.iinfo(dt.numpy)
        x = b.mov(b.imm(int(info.min), dt))
        y = b.mov(b.imm(int(info.max), dt))
        for op in (*NUMERIC_OPS_2, *INT_OPS_2):
            b.binary(op, x, y)
        b.mad(x, y, x)
        for op in (Op.ABS, Op.NEG, Op.NOT):
            b.unary(op, x)
    return b.build()


def _control_flow() -> Program:
    """Nested if/else, loops with break and continue, exit, compares, select and bool logic."""
    b = Builder("control_flow")
    out = b.buffer("out", "i32", access="write")
    n = b.scalar("n", "i32")
    i = b.cvt(b.global_id(), "i32")
    acc = b.mov(0, "i32")
    for cmp in CMP_OPS:
        b.setp(cmp, i, n)
    with b.if_(b.setp("ge", i, n)):
        b.exit()
    with b.range(0, n) as j:
        odd = b.setp("ne", b.binary(Op.AND, j, 1), 0)
        with b.if_(odd):
            b.continue_()
            b.else_()
            b.assign(acc, b.add(acc, j))
            with b.loop():
                b.break_()
    with b.range(10, 0, step=-3) as k:
        b.assign(acc, b.sub(acc, k))
    p = b.setp("lt", acc, 100)
    q = b.binary(Op.XOR, b.binary(Op.AND, p, True), b.binary(Op.OR, p, False))
    b.stg(out, b.cvt(i, "u32"), b.sel(b.unary(Op.NOT, q), acc, -1))
    return b.build()


def _block_features() -> Program:
    """Shared memory, barriers, fences, block reductions and atomics."""
    b = Builder("block_features")
    data = b.buffer("data", "f32", access="readwrite")
    counts = b.buffer("counts", "u64", access="readwrite")
    tile = b.shared("f32", 256)
    flags = b.shared("bool", 8)
    lane = b.sreg("lane_id")
    b.sts(tile, lane, b.ldg(data, lane))
    b.sts(flags, b.imm(3, "u8"), True)
    b.barrier()
    b.fence()
    value = b.lds(tile, b.binary(Op.XOR, lane, 1))
    b.lds(flags, lane)
    with b.loop():
        for op in REDUCE_OPS:
            b.reduce(op, value)
        b.break_()
    for op in ATOM_OPS:
        b.atom(op, data, lane, value, want_old=op == "exch")
        b.atom(op, counts, b.imm(0, "i64"), b.imm(2**64 - 1, "u64"), want_old=True)
    return b.build()


def _pools_and_geometry() -> Program:
    """Pool loads and stores, every special register and every geometry instruction."""
    b = Builder("pools_and_geometry")
    pool = b.pool("boundary", "u8")
    rd = b.pool("window", "f16", access="read")
    regs = [b.sreg(name, axis) for name in SPECIAL_REGISTERS for axis in range(3)]
    address = regs[-3]
    cls = b.geometry(Op.CLASS_OF, address)
    page = b.geometry(Op.PAGE_OF, address)
    byte = b.geometry(Op.BYTE_OF, address)
    b.geometry(Op.NEIGHBOR, b.geometry(Op.MIRROR, cls), k=0)
    b.geometry(Op.NEIGHBOR, cls, k=1)
    target = b.geometry(Op.ADDR, cls, page, b.imm(255, "u32"))
    b.pool_st(pool, target, b.pool_ld(pool, byte))
    b.pool_ld(rd, b.imm(-1, "i8"))
    return b.build()


def _matmuls() -> Program:
    """Several matrix products (batched, transposed, broadcast) in one intrinsic program."""
    b = Builder("matmuls")
    a = b.buffer("a", "f32")
    w = b.buffer("w", "f32")
    c = b.buffer("c", "f32", access="write")
    b.matmul(a, w, c, m=4, n=5, k=6)
    b.matmul(a, w, c, batch=3, m=2, n=2, k=2, trans_a=True, trans_b=True, stride_b=0)
    return b.build()


def _int_matmul() -> Program:
    b = Builder("int_matmul")
    a = b.buffer("a", "i8")
    w = b.buffer("w", "i8")
    c = b.buffer("c", "i8", access="readwrite")
    b.matmul(a, w, c, m=3, n=3, k=3)
    return b.build()


def _convolutions() -> Program:
    """Convolutions with and without bias, strided, padded, dilated and grouped."""
    b = Builder("convolutions")
    x = b.buffer("x", "bf16")
    w = b.buffer("w", "bf16")
    bias = b.buffer("bias", "bf16")
    y = b.buffer("y", "bf16", access="write")
    b.conv2d(x, w, y, n=1, c=3, h=8, w=8, k=4, r=3, s=3)
    b.conv2d(
        x, w, y, bias, n=2, c=4, h=9, w=7, k=6, r=3, s=2,
        stride=(2, 1), pad=(1, 0, 1, 2), dilation=(2, 1), groups=2,
    )  # fmt: skip
    return b.build()


def _odd_name() -> Program:
    """A name that needs quoting in the text form, and an empty body."""
    b = Builder('weird "name"; with\ttabs, ünïcødé and\nnewline')
    b.scalar("ß", "f64")
    return b.build()


def sample_programs() -> dict[str, Program]:
    """The hand-written samples by name; together they use every opcode and dtype."""
    programs = [
        _all_dtypes(),
        _float_math(),
        _int_math(),
        _control_flow(),
        _block_features(),
        _pools_and_geometry(),
        _matmuls(),
        _int_matmul(),
        _convolutions(),
        _odd_name(),
        Program("empty"),
    ]
    return {p.name.split()[0]: p for p in programs}


# ---------------------------------------------------------------- random programs
def immediates(dtype: DType) -> st.SearchStrategy[Imm]:
    """Immediates of `dtype` over its whole range (floats: any float64, NaNs and signs too)."""
    if dtype.is_bool:
        values: st.SearchStrategy = st.booleans()
    elif dtype.is_int:
        info = np.iinfo(dtype.numpy)
        values = st.integers(int(info.min), int(info.max))
    else:
        values = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats())
    return values.map(lambda v: Imm(v, dtype))


class _RandomBody:
    """Draws a random structured body into a Builder, keeping every instruction well formed."""

    def __init__(self, draw: st.DrawFn, b: Builder, dtypes: list[DType]):
        self.draw = draw
        self.b = b
        self.dtypes = dtypes
        self.buffers = {dt: b.buffer(f"buf_{dt.value}", dt, "readwrite") for dt in dtypes}
        self.scalars = {dt: b.scalar(f"s_{dt.value}", dt) for dt in dtypes[:2]}
        self.pool = b.pool("pool", dtypes[0]) if draw(st.booleans()) else None
        self.shared = b.shared(dtypes[-1], draw(st.integers(1, 2**20))) if len(dtypes) > 1 else None
        self.values: dict[DType, list[Reg | Pred]] = {dt: [] for dt in DType}

    def value(self, dt: DType) -> Reg | Pred | Imm | Arg:
        choices: list = [("imm", None)]
        choices += [("reg", r) for r in self.values[dt][-4:]]
        if dt in self.scalars:
            choices.append(("arg", self.scalars[dt]))
        kind, operand = self.draw(st.sampled_from(choices))
        return self.draw(immediates(dt)) if kind == "imm" else operand

    def index(self) -> Reg | Imm | Arg:
        return self.value(self.draw(st.sampled_from(_sorted_types(INT_TYPES))))

    def dst(self, dt: DType) -> Reg | Pred:
        dst = self.b.pred() if dt.is_bool else self.b.reg(dt)
        self.values[dt].append(dst)
        return dst

    def emit(self, op: Op, dt: DType, /, *srcs, **attrs) -> None:
        self.b.emit(op, dt, self.dst(dt), srcs, attrs)

    def statements(self, depth: int, in_if: bool, in_loop: bool) -> None:
        for _ in range(self.draw(st.integers(0, 6 if depth else 12))):
            self.statement(depth, in_if, in_loop)

    def statement(self, depth: int, in_if: bool, in_loop: bool) -> None:
        kinds = ["math", "math", "compare", "convert", "memory", "geometry", "sync"]
        if depth < 3:
            kinds += ["if", "loop"]
        if in_loop:
            kinds.append("jump")
        kind = self.draw(st.sampled_from(kinds))
        if kind in ("if", "loop"):
            self.block(kind, depth, in_if, in_loop)
        elif kind == "jump":
            self.b.emit(self.draw(st.sampled_from([Op.BREAK, Op.CONTINUE])))
        else:
            getattr(self, kind)(in_if)

    def block(self, kind: str, depth: int, in_if: bool, in_loop: bool) -> None:
        b = self.b
        if kind == "loop":
            with b.loop():
                self.statements(depth + 1, in_if, True)
                b.break_()
            return
        with b.if_(self.predicate()):
            self.statements(depth + 1, True, in_loop)
            if self.draw(st.booleans()):
                b.else_()
                self.statements(depth + 1, True, in_loop)

    def predicate(self) -> Pred:
        if not self.values[DType.BOOL]:
            self.compare(False)
        return self.draw(st.sampled_from(self.values[DType.BOOL]))  # type: ignore[return-value]

    def math(self, in_if: bool) -> None:
        dt = self.draw(st.sampled_from(self.dtypes))
        ops: list[tuple[Op, int]] = [(Op.MOV, 1)]
        if dt in NUMERIC_TYPES:
            ops += [(op, 2) for op in NUMERIC_OPS_2] + [(Op.MAD, 3), (Op.ABS, 1), (Op.NEG, 1)]
        if dt in FLOAT_TYPES:
            ops += [(op, 1) for op in FLOAT_OPS_1] + [(Op.FMA, 3), (Op.POW, 2)]
        if dt.is_int or dt.is_bool:
            ops += [(Op.AND, 2), (Op.OR, 2), (Op.XOR, 2), (Op.NOT, 1)]
        if dt.is_int:
            ops += [(Op.SHL, 2), (Op.SHR, 2)]
        op, arity = self.draw(st.sampled_from(ops))
        self.emit(op, dt, *(self.value(dt) for _ in range(arity)))

    def compare(self, in_if: bool) -> None:
        dt = self.draw(st.sampled_from(self.dtypes))
        cmp = self.draw(st.sampled_from(CMP_OPS))
        self.b.emit(
            Op.SETP, dt, self.dst(DType.BOOL), (self.value(dt), self.value(dt)), {"cmp": cmp}
        )
        if self.draw(st.booleans()):
            self.emit(Op.SEL, dt, self.predicate(), self.value(dt), self.value(dt))

    def convert(self, in_if: bool) -> None:
        source, target = (self.draw(st.sampled_from(list(DType))) for _ in range(2))
        self.emit(Op.CVT, target, self.value(source))

    def memory(self, in_if: bool) -> None:
        dt = self.draw(st.sampled_from(self.dtypes))
        buf = self.buffers[dt]
        choice = self.draw(st.sampled_from(["ldg", "stg", "atom", "pool", "shared"]))
        if choice == "ldg":
            self.emit(Op.LDG, dt, buf, self.index())
        elif choice == "stg":
            self.b.emit(Op.STG, dt, None, (buf, self.index(), self.value(dt)))
        elif choice == "atom" and dt in NUMERIC_TYPES:
            dst = self.dst(dt) if self.draw(st.booleans()) else None
            op = self.draw(st.sampled_from(ATOM_OPS))
            self.b.emit(Op.ATOM, dt, dst, (buf, self.index(), self.value(dt)), {"op": op})
        elif choice == "pool" and self.pool is not None:
            pdt = self.dtypes[0]
            self.emit(Op.POOL_LD, pdt, self.pool, self.index())
            self.b.emit(Op.POOL_ST, pdt, None, (self.pool, self.index(), self.value(pdt)))
        elif choice == "shared" and self.shared is not None:
            sdt = self.dtypes[-1]
            self.emit(Op.LDS, sdt, self.shared, self.index())
            self.b.emit(Op.STS, sdt, None, (self.shared, self.index(), self.value(sdt)))

    def geometry(self, in_if: bool) -> None:
        u32 = DType.U32
        name = self.draw(st.sampled_from(SPECIAL_REGISTERS))
        self.emit(Op.SREG, u32, sreg=name, axis=self.draw(st.integers(0, 2)))
        op = self.draw(st.sampled_from([Op.CLASS_OF, Op.PAGE_OF, Op.BYTE_OF, Op.MIRROR, Op.ADDR]))
        self.emit(op, u32, *(self.value(u32) for _ in range(3 if op is Op.ADDR else 1)))
        self.emit(Op.NEIGHBOR, u32, self.value(u32), k=self.draw(st.integers(0, 1)))

    def sync(self, in_if: bool) -> None:
        choices = [Op.FENCE, Op.EXIT] + ([] if in_if else [Op.BAR, Op.REDUCE])
        op = self.draw(st.sampled_from(choices))
        if op is Op.REDUCE:
            dt = self.draw(st.sampled_from(_sorted_types(NUMERIC_TYPES)))
            reduce_op = self.draw(st.sampled_from(REDUCE_OPS))
            self.emit(Op.REDUCE, dt, self.value(dt), op=reduce_op)
        else:
            self.b.emit(op)


_NAMES = st.text(min_size=1, max_size=16)


@st.composite
def kernel_programs(draw: st.DrawFn) -> Program:
    """A random well-formed (non-intrinsic) program with structured control flow."""
    dtypes = draw(st.lists(st.sampled_from(list(DType)), min_size=1, max_size=4, unique=True))
    b = Builder(draw(_NAMES))
    _RandomBody(draw, b, dtypes).statements(0, False, False)
    return b.build()


@st.composite
def intrinsic_programs(draw: st.DrawFn) -> Program:
    """A random well-formed program of matmul and conv2d instructions."""
    b = Builder(draw(_NAMES))
    sizes = st.integers(1, 64)
    for number in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            dt = draw(st.sampled_from(_sorted_types(NUMERIC_TYPES)))
            a, w = b.buffer(f"a{number}", dt), b.buffer(f"b{number}", dt)
            c = b.buffer(f"c{number}", dt, "write")
            m, n, k = draw(sizes), draw(sizes), draw(sizes)
            b.matmul(a, w, c, m=m, n=n, k=k, batch=draw(sizes), trans_a=draw(st.booleans()))
        else:
            dt = draw(st.sampled_from(_sorted_types(FLOAT_TYPES)))
            x, w = b.buffer(f"x{number}", dt), b.buffer(f"w{number}", dt)
            y = b.buffer(f"y{number}", dt, "write")
            groups = draw(st.integers(1, 3))
            bias = b.buffer(f"bias{number}", dt) if draw(st.booleans()) else None
            r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
            b.conv2d(
                x, w, y, bias, n=draw(sizes), c=groups * draw(st.integers(1, 4)),
                h=draw(st.integers(3, 16)) + 2 * r, w=draw(st.integers(3, 16)) + 2 * s,
                k=groups * draw(st.integers(1, 4)), r=r, s=s, groups=groups, pad=pad,
                stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                dilation=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
            )  # fmt: skip
    return b.build()


def programs() -> st.SearchStrategy[Program]:
    """Random well-formed programs: mostly kernels, sometimes intrinsic programs."""
    return st.one_of(kernel_programs(), kernel_programs(), intrinsic_programs())
