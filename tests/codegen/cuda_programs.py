"""Programs for the CUDA renderer's compile check: one per opcode and dtype, the corpus, the
standard library's and the examples' kernels (every declared signature)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hologram.isa.dtypes import ALL_TYPES, DType
from hologram.isa.opcodes import ATOM_OPS, CMP_OPS, REDUCE_OPS, SPECIAL_REGISTERS, SPECS, Group, Op
from hologram.isa.program import (
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
from hologram.isa.verifier import verify

REPO = Path(__file__).resolve().parents[2]
_I = Instruction.make
_LOOSE_VALUE = {DType.BOOL: True, DType.F16: 1.5, DType.BF16: 1.5, DType.F32: 1.5, DType.F64: 1.5}


def _imm(dtype: DType) -> Imm:
    return Imm(_LOOSE_VALUE.get(dtype, 3), dtype)


def _value_program(op: Op, dtype: DType, cmp: str = "lt") -> Program:
    """`out[i] = op(in[i], imm, ...)` for a value opcode, i = global_id.x."""
    spec = SPECS[op]
    params = (
        Param("x", ParamKind.BUFFER, dtype),
        Param("out", ParamKind.BUFFER, DType.BOOL if op is Op.SETP else dtype, Access.WRITE),
        Param("s", ParamKind.SCALAR, dtype),
    )
    pred_out = op is Op.SETP or dtype is DType.BOOL
    x = Pred(0) if dtype is DType.BOOL else Reg(1)
    dst = Pred(1) if pred_out else Reg(2)
    body = [_I(Op.SREG, DType.U32, Reg(0), attrs={"sreg": "global_id", "axis": 0})]
    body.append(_I(Op.LDG, dtype, x, (Arg(0), Reg(0))))
    srcs: list = [x, Arg(2), _imm(dtype)][: spec.n_srcs]
    attrs: dict = {}
    if op is Op.SETP:
        attrs["cmp"] = cmp
    if op is Op.SEL:
        srcs = [Pred(2), x, Arg(2)]
    if op is Op.NEIGHBOR:
        attrs["k"] = 1
    body.append(_I(op, dtype, dst, srcs, attrs))
    body.append(_I(Op.STG, DType.BOOL if op is Op.SETP else dtype, None, (Arg(1), Reg(0), dst)))
    registers = (DType.U32, dtype, dtype)
    return Program(f"{op.value}_{dtype}_{cmp}", params, registers, 3, (), tuple(body))


def _cvt_program(source: DType, target: DType) -> Program:
    params = (
        Param("x", ParamKind.BUFFER, source),
        Param("out", ParamKind.BUFFER, target, Access.WRITE),
    )
    x = Pred(0) if source is DType.BOOL else Reg(1)
    y = Pred(1) if target is DType.BOOL else Reg(2)
    body = (
        _I(Op.SREG, DType.U32, Reg(0), attrs={"sreg": "global_id", "axis": 0}),
        _I(Op.LDG, source, x, (Arg(0), Reg(0))),
        _I(Op.CVT, target, y, (x,)),
        _I(Op.STG, target, None, (Arg(1), Reg(0), y)),
    )
    return Program(f"cvt_{source}_{target}", params, (DType.U32, source, target), 2, (), body)


def _collective_program(op: Op, dtype: DType, kind: str, with_exit: bool) -> Program:
    """A block reduction or atomic of `kind`, with LDS/STS/BAR/FENCE around it."""
    params = (
        Param("x", ParamKind.BUFFER, dtype, Access.READWRITE),
        Param("pool", ParamKind.POOL, dtype, Access.READWRITE),
    )
    body = [_I(Op.SREG, DType.U32, Reg(0), attrs={"sreg": "lane_id", "axis": 0})]
    if with_exit:
        body += [
            _I(Op.SETP, DType.U32, Pred(0), (Reg(0), Imm(100, DType.U32)), {"cmp": "gt"}),
            _I(Op.IF, None, None, (Pred(0),)),
            _I(Op.EXIT),
            _I(Op.ENDIF),
        ]
    body += [
        _I(Op.POOL_LD, dtype, Reg(1), (Arg(1), Reg(0))),
        _I(Op.STS, dtype, None, (Shared(0), Reg(0), Reg(1))),
        _I(Op.BAR),
        _I(Op.LDS, dtype, Reg(1), (Shared(0), Reg(0))),
    ]
    if op is Op.REDUCE:
        body.append(_I(Op.REDUCE, dtype, Reg(2), (Reg(1),), {"op": kind}))
    else:
        body.append(_I(Op.ATOM, dtype, Reg(2), (Arg(0), Reg(0), Reg(1)), {"op": kind}))
        body.append(_I(Op.ATOM, dtype, None, (Arg(0), Reg(0), Reg(1)), {"op": kind}))
    body += [_I(Op.FENCE), _I(Op.POOL_ST, dtype, None, (Arg(1), Reg(0), Reg(2)))]
    name = f"{op.value}_{kind}_{dtype}{'_exit' if with_exit else ''}"
    shared = (SharedArray(dtype, 1024),)
    return Program(name, params, (DType.U32, dtype, dtype), 1, shared, tuple(body))


def _control_program() -> Program:
    """Every control-flow marker, and each special register on each axis."""
    params = (Param("out", ParamKind.BUFFER, DType.U32, Access.WRITE),)
    body = []
    for axis in range(3):
        for name in SPECIAL_REGISTERS:
            body.append(_I(Op.SREG, DType.U32, Reg(1), attrs={"sreg": name, "axis": axis}))
            body.append(_I(Op.ADD, DType.U32, Reg(0), (Reg(0), Reg(1))))
    body += [
        _I(Op.LOOP),
        _I(Op.ADD, DType.U32, Reg(0), (Reg(0), Imm(1, DType.U32))),
        _I(Op.SETP, DType.U32, Pred(0), (Reg(0), Imm(9, DType.U32)), {"cmp": "lt"}),
        _I(Op.IF, None, None, (Pred(0),)),
        _I(Op.CONTINUE),
        _I(Op.ELSE),
        _I(Op.SETP, DType.U32, Pred(1), (Reg(0), Imm(99, DType.U32)), {"cmp": "gt"}),
        _I(Op.IF, None, None, (Pred(1),)),
        _I(Op.EXIT),
        _I(Op.ENDIF),
        _I(Op.BREAK),
        _I(Op.ENDIF),
        _I(Op.ENDLOOP),
        _I(Op.STG, DType.U32, None, (Arg(0), Reg(1), Reg(0))),
    ]
    return Program("control", params, (DType.U32, DType.U32), 2, (), tuple(body))


def opcode_programs() -> Iterator[Program]:
    """At least one verified program per opcode (intrinsics aside), per dtype it allows."""
    programs: list[Program] = [_control_program()]
    for op, spec in SPECS.items():
        if spec.group in (Group.CONTROL, Group.SYNC, Group.INTRINSIC, Group.COLLECTIVE):
            continue
        if op in (Op.LDG, Op.STG, Op.LDS, Op.STS, Op.POOL_LD, Op.POOL_ST, Op.CVT, Op.SREG):
            continue  # in every program below
        for dtype in sorted(spec.types or (), key=lambda d: d.code):
            programs.append(_value_program(op, dtype))
    for cmp in CMP_OPS:
        programs.append(_value_program(Op.SETP, DType.I32, cmp))
    for source in sorted(ALL_TYPES, key=lambda d: d.code):
        for target in sorted(ALL_TYPES, key=lambda d: d.code):
            if source is not target:
                programs.append(_cvt_program(source, target))
    for dtype in sorted(SPECS[Op.REDUCE].types or (), key=lambda d: d.code):
        for kind in REDUCE_OPS:
            programs.append(_collective_program(Op.REDUCE, dtype, kind, False))
        programs.append(_collective_program(Op.REDUCE, dtype, "add", True))
        for kind in ATOM_OPS:
            programs.append(_collective_program(Op.ATOM, dtype, kind, False))
    for program in programs:
        verify(program)
        yield program


def kernel_programs(root: Path | None) -> Iterator[Program]:
    """Every declared signature of every kernel file under `root` (None: the stdlib)."""
    from hologram import kernels
    from hologram.artifact.bundle import plan_signatures

    for source in kernels.discover(root):
        kernel = source.load()
        for signature in plan_signatures(kernel).signatures:
            yield kernel.specialize(signature)


EXAMPLE_RUNS = {"saxpy": "1000", "sum_of_squares": "3000", "blur": "19x40", "histogram": "2000"}
"""The kernel-language examples and a small size for each."""


def example_programs() -> list[Program]:
    """The programs the kernel-language examples launch, recorded while they run on the
    reference backend (their kernels take their dtypes from the arguments)."""
    import contextlib
    import importlib.util
    import io

    from hologram.backends.base import Backend

    seen: dict[str, Program] = {}
    original = Backend.compile

    def recording(self: Backend, program: Program) -> object:
        seen.setdefault(program.digest, program)
        return original(self, program)

    Backend.compile = recording  # type: ignore[method-assign]
    try:
        for name, size in EXAMPLE_RUNS.items():
            path = REPO / "examples" / "kernels" / f"{name}.py"
            spec = importlib.util.spec_from_file_location(f"cuda_render_{name}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            with contextlib.redirect_stdout(io.StringIO()):
                assert module.main(["--backend", "reference", "--size", size]) == 0
    finally:
        Backend.compile = original  # type: ignore[method-assign]
    return list(seen.values())
