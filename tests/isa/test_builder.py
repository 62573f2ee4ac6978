"""The program builder: dtype inference, register allocation, control-flow shapes, errors."""

from __future__ import annotations

import pytest

from hologram.errors import DTypeError, ProgramError, VerificationError
from hologram.isa import Access, Arg, Builder, DType, Imm, Op, ParamKind, Pred, Reg


def test_declarations_return_operands_in_order() -> None:
    b = Builder("decl")
    assert b.buffer("x", "f32") == Arg(0)
    assert b.scalar("n", DType.U32) == Arg(1)
    assert b.pool("p", "u8") == Arg(2)
    assert b.shared("f16", 32).index == 0
    assert b.reg("i64") == Reg(0) and b.pred() == Pred(0) and b.reg("bf16") == Reg(1)
    program = b.build()
    assert [p.kind for p in program.params] == [ParamKind.BUFFER, ParamKind.SCALAR, ParamKind.POOL]
    assert program.params[2].access is Access.READWRITE
    assert program.registers == (DType.I64, DType.BF16)
    assert program.predicates == 1
    assert program.shared[0].size == 32


@pytest.mark.parametrize(
    ("operands", "dtype", "immediate"),
    [
        (("f32reg", 2), DType.F32, Imm(2.0, DType.F32)),
        ((3, "i8reg"), DType.I8, Imm(3, DType.I8)),
        (("u64arg", 7), DType.U64, Imm(7, DType.U64)),
        ((1, 2), DType.I32, Imm(1, DType.I32)),
        ((1.5, 2), DType.F32, Imm(1.5, DType.F32)),
    ],
)
def test_arithmetic_infers_the_dtype_from_typed_operands(operands, dtype, immediate) -> None:
    b = Builder("infer")
    named = {"f32reg": b.reg("f32"), "i8reg": b.reg("i8"), "u64arg": b.scalar("s", "u64")}
    values = [named.get(v, v) if isinstance(v, str) else v for v in operands]
    dst = b.add(*values)
    inst = b.instructions[-1]
    assert inst.op is Op.ADD and inst.dtype is dtype
    assert b.registers[dst.index] is dtype
    assert immediate in inst.srcs
    b.build()


def test_bool_values_go_to_predicates() -> None:
    b = Builder("preds")
    flags = b.buffer("flags", "bool", access="readwrite")
    i = b.global_id()
    loaded = b.ldg(flags, i)
    assert isinstance(loaded, Pred)
    both = b.binary(Op.AND, loaded, True)
    assert isinstance(both, Pred)
    assert b.instructions[-1].srcs[1] == Imm(True, DType.BOOL)
    as_bool = b.cvt(i, "bool")
    assert isinstance(as_bool, Pred)
    compared = b.setp("lt", i, 10)
    assert isinstance(compared, Pred)
    assert b.instructions[-1].srcs[1] == Imm(10, DType.U32)
    assert b.instructions[-1].attr("cmp") == "lt"
    b.stg(flags, i, b.unary(Op.NOT, both))
    b.build()


def test_indices_default_to_u32_and_values_to_the_buffer_dtype() -> None:
    b = Builder("store")
    out = b.buffer("out", "f64", access="write")
    b.stg(out, 3, 1)
    inst = b.instructions[-1]
    assert inst.srcs == (out, Imm(3, DType.U32), Imm(1.0, DType.F64))
    b.build()


def test_range_loop_shape() -> None:
    b = Builder("loop")
    n = b.scalar("n", "i32")
    with b.range(2, n, step=3) as i:
        b.continue_()
    ops = [inst.op for inst in b.instructions]
    assert ops == [
        Op.SUB, Op.LOOP, Op.ADD, Op.SETP, Op.IF, Op.BREAK, Op.ENDIF, Op.CONTINUE, Op.ENDLOOP,
    ]  # fmt: skip
    sub, _, add, setp = b.instructions[:4]
    # the counter starts one step early and steps at the top, so `continue` is safe
    assert sub.dst == i and sub.srcs == (Imm(2, DType.I32), Imm(3, DType.I32))
    assert add.dst == i and add.srcs == (i, Imm(3, DType.I32))
    assert setp.attr("cmp") == "ge" and setp.srcs == (i, n)
    b.build()


def test_descending_range_compares_with_le() -> None:
    b = Builder("down")
    with b.range(10, 0, step=-2, dtype="i64") as i:
        b.add(i, 1)
    setp = next(inst for inst in b.instructions if inst.op is Op.SETP)
    assert setp.attr("cmp") == "le" and setp.dtype is DType.I64
    b.build()


def test_if_else_and_loops_nest() -> None:
    b = Builder("nest")
    p = b.setp("eq", b.global_id(), 0)
    with b.if_(p):
        b.exit()
        b.else_()
        with b.loop():
            b.break_()
    ops = [inst.op for inst in b.instructions[2:]]
    assert ops == [Op.IF, Op.EXIT, Op.ELSE, Op.LOOP, Op.BREAK, Op.ENDLOOP, Op.ENDIF]
    b.build()


def test_collectives_and_atomics() -> None:
    b = Builder("collectives")
    data = b.buffer("data", "i32", access="readwrite")
    total = b.reduce("add", b.ldg(data, b.sreg("lane_id")))
    assert b.instructions[-1].op is Op.REDUCE and b.instructions[-1].attr("op") == "add"
    assert b.atom("add", data, 0, total) is None
    old = b.atom("exch", data, 1, total, want_old=True)
    assert isinstance(old, Reg) and b.instructions[-1].dst == old
    b.barrier()
    b.fence()
    b.build()


def test_intrinsic_defaults() -> None:
    b = Builder("intrinsics")
    a, w, bias = b.buffer("a", "f32"), b.buffer("w", "f32"), b.buffer("bias", "f32")
    c = b.buffer("c", "f32", access="write")
    b.matmul(a, w, c, m=2, n=3, k=4)
    assert b.instructions[-1].attr_dict == {
        "batch": 1, "m": 2, "n": 3, "k": 4, "trans_a": False, "trans_b": False,
        "stride_a": 8, "stride_b": 12, "stride_c": 6,
    }  # fmt: skip
    b.conv2d(a, w, c, bias=bias, n=1, c=2, h=5, w=5, k=2, r=3, s=3)
    conv = b.instructions[-1]
    assert conv.srcs == (a, w, c, bias)
    assert conv.attr("w") == 5 and conv.attr("pad") == (0, 0, 0, 0) and conv.attr("groups") == 1
    assert b.build().is_intrinsic


def test_duplicate_parameter_is_an_error() -> None:
    b = Builder("dup")
    b.buffer("x", "f32")
    with pytest.raises(ProgramError, match="parameter 'x' declared twice"):
        b.scalar("x", "i32")


def test_unknown_dtype_is_an_error() -> None:
    with pytest.raises(DTypeError, match="f128"):
        Builder("bad").reg("f128")


def test_build_verifies_unless_told_not_to() -> None:
    b = Builder("mixed")
    x, y = b.reg("f32"), b.reg("i32")
    b.add(x, y)  # the dtype comes from x; y is i32
    with pytest.raises(VerificationError, match="instruction 0: source 1 r1 is i32") as info:
        b.build()
    assert info.value.index == 0
    assert len(b.build(verify=False).instructions) == 1


def test_reduce_under_if_fails_at_build() -> None:
    b = Builder("divergent")
    i = b.global_id()
    with b.if_(b.setp("lt", i, 4)):
        b.reduce("max", i)
    with pytest.raises(VerificationError, match="reduce inside an if") as info:
        b.build()
    assert info.value.index == 3
