"""Value semantics of ISA instructions as CUDA C expressions (see `codegen/cuda.py`).

Registers of float16 and bfloat16 are `float` holding a value of their type; each result is
rounded back with `hg_rh`/`hg_rb`. Integer results that may overflow are computed on an
unsigned type of the same width or wider and cast back, which makes them wrap as the ISA says.
"""

from __future__ import annotations

import math

from hologram.errors import CompileError
from hologram.isa import geometry as geo
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Arg, Imm, Instruction, Operand, ParamKind, Pred, Program, Reg

NARROW_FLOATS = frozenset({DType.F16, DType.BF16})

REGISTER_TYPES = {
    DType.BOOL: "bool",
    DType.I8: "signed char",
    DType.I16: "short",
    DType.I32: "int",
    DType.I64: "long long",
    DType.U8: "unsigned char",
    DType.U16: "unsigned short",
    DType.U32: "unsigned int",
    DType.U64: "unsigned long long",
    DType.F16: "float",
    DType.BF16: "float",
    DType.F32: "float",
    DType.F64: "double",
}
"""The C type of a register (and a scalar argument) of each dtype."""

STORAGE_TYPES = {
    **REGISTER_TYPES,
    DType.BOOL: "unsigned char",
    DType.F16: "unsigned short",
    DType.BF16: "unsigned short",
}
"""The C element type of global memory (buffers, pools) of each dtype."""

_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_BITWISE = {Op.AND: "&", Op.OR: "|", Op.XOR: "^"}
_ARITH = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*"}
_FLOAT_FUNCS = {
    Op.FLOOR: "floor",
    Op.CEIL: "ceil",
    Op.ROUND: "rint",  # half to even
    Op.TRUNC: "trunc",
    Op.EXP: "exp",
    Op.LOG: "log",
    Op.SQRT: "sqrt",
    Op.RSQRT: "rsqrt",
    Op.SIN: "sin",
    Op.COS: "cos",
    Op.TANH: "tanh",
    Op.ERF: "erf",
    Op.MOD: "fmod",
    Op.POW: "pow",
}
_SPECIAL = {
    "lane_id": "threadIdx.{a}",
    "block_id": "blockIdx.{a}",
    "block_dim": "blockDim.{a}",
    "grid_dim": "gridDim.{a}",
    "global_id": "(blockIdx.{a} * blockDim.{a} + threadIdx.{a})",
}
_LANE_SPECIAL = {
    "block_id": "hg_b{k}",
    "grid_dim": "hg_grid",
    "global_id": "(hg_b{k} * blockDim.x + threadIdx.x)",
}
"""Specials along x of lane `k` of a lockstep kernel (see `Operands`)."""


def ctype(dtype: DType) -> str:
    """The C type of a register of `dtype`."""
    return REGISTER_TYPES[dtype]


def wide_unsigned(dtype: DType) -> str:
    """The unsigned C type that integer arithmetic of `dtype` wraps in."""
    return "unsigned long long" if dtype.itemsize == 8 else "unsigned int"


def _float_value(value: float, dtype: DType) -> float:
    """`value` rounded into `dtype` as the reference rounds immediates."""
    from hologram.backends._reference_values import constant

    return float(constant(value, dtype))


def literal(value: int | float | bool, dtype: DType) -> str:
    """A C constant of `dtype`'s register type holding `value` (floats exact, as hex)."""
    if dtype is DType.BOOL:
        return "true" if value else "false"
    if dtype.is_int:
        bits = dtype.itemsize * 8
        wrapped = int(value) & ((1 << bits) - 1)
        if not dtype.is_signed:
            return f"(({ctype(dtype)}){wrapped}ull)"
        if wrapped >= 1 << (bits - 1):
            wrapped -= 1 << bits
        if wrapped == -(1 << 63):
            return "(-9223372036854775807ll - 1ll)"
        return f"(({ctype(dtype)}){wrapped}ll)"
    number = _float_value(float(value), dtype)
    double = dtype is DType.F64
    if math.isnan(number) or math.isinf(number):
        if double:
            bits = {math.inf: "0x7ff0000000000000", -math.inf: "0xfff0000000000000"}
            return f"__longlong_as_double({bits.get(number, '0x7ff8000000000000')}ll)"
        bits = {math.inf: "0x7f800000", -math.inf: "0xff800000"}
        return f"__uint_as_float({bits.get(number, '0x7fc00000')}u)"
    return f"({number.hex()}{'' if double else 'f'})"


def round_into(dtype: DType, expr: str) -> str:
    """`expr`, computed in float32 for narrow floats, rounded into `dtype`."""
    if dtype is DType.F16:
        return f"hg_rh({expr})"
    if dtype is DType.BF16:
        return f"hg_rb({expr})"
    return expr


def wrap(dtype: DType, expr: str) -> str:
    """`expr` (an integer expression, maybe wider) cast back into `dtype`."""
    return f"(({ctype(dtype)})({expr}))"


def param_name(program: Program, index: int) -> str:
    """The kernel argument name of parameter `index`: a{i} for memory, s{i} for scalars."""
    return f"s{index}" if program.params[index].kind is ParamKind.SCALAR else f"a{index}"


class Operands:
    """Names operands and knows their dtypes.

    `lane`: in a kernel whose threads each run several ISA lanes in lockstep (`codegen/cuda`),
    the lane these names belong to: its registers are suffixed `_<lane>`, and its block along
    x is `hg_b<lane>` of `hg_grid` blocks rather than CUDA's own.
    """

    def __init__(self, program: Program, lane: int | None = None):
        self.program = program
        self.lane = lane
        self._suffix = "" if lane is None else f"_{lane}"

    def value(self, operand: Operand) -> str:
        """The C expression of a value operand."""
        if isinstance(operand, Reg):
            return f"r{operand.index}{self._suffix}"
        if isinstance(operand, Pred):
            return f"p{operand.index}{self._suffix}"
        if isinstance(operand, Imm):
            return literal(operand.value, operand.dtype)
        if isinstance(operand, Arg):
            return param_name(self.program, operand.index)
        raise CompileError(f"operand {operand} is not a value")

    def dtype(self, operand: Operand) -> DType:
        """The ISA dtype of a value operand."""
        if isinstance(operand, Reg):
            return self.program.registers[operand.index]
        if isinstance(operand, Pred):
            return DType.BOOL
        if isinstance(operand, Imm):
            return operand.dtype
        if isinstance(operand, Arg):
            return self.program.params[operand.index].dtype
        raise CompileError(f"operand {operand} has no dtype")

    def special(self, name: str, axis: int) -> str:
        """The C expression of special register `name` (`SREG`) along `axis`."""
        if self.lane is not None and axis == 0 and name in _LANE_SPECIAL:
            return _LANE_SPECIAL[name].format(k=self.lane)
        return _SPECIAL[name].format(a="xyz"[axis])


def value_expr(inst: Instruction, ops: Operands) -> str:
    """The value an instruction writes to its register (not memory, control or collectives)."""
    op, dtype = inst.op, inst.dtype
    src = [ops.value(s) for s in inst.srcs]
    if op is Op.MOV:
        return src[0]
    if op is Op.CVT:
        return convert(ops.dtype(inst.srcs[0]), dtype, src[0])  # type: ignore[arg-type]
    if op is Op.SETP:
        return f"({src[0]} {_CMP[str(inst.attr('cmp'))]} {src[1]})"
    if op is Op.SEL:
        return f"({src[0]} ? {src[1]} : {src[2]})"
    if op is Op.SREG:
        special = ops.special(str(inst.attr("sreg")), int(inst.attr("axis")))  # type: ignore[arg-type]
        return f"((unsigned int){special})"
    if op in _GEOMETRY:
        return _GEOMETRY[op](inst, src)
    assert dtype is not None
    if dtype.is_bool:
        return _logic(op, src)
    if dtype.is_float:
        return float_expr(op, dtype, src)
    return int_expr(op, dtype, src)


def _logic(op: Op, src: list[str]) -> str:
    if op is Op.NOT:
        return f"(!{src[0]})"
    return f"({src[0]} {({Op.AND: '&&', Op.OR: '||', Op.XOR: '!='})[op]} {src[1]})"


def int_expr(op: Op, dtype: DType, src: list[str]) -> str:
    """An integer instruction's value; overflow wraps."""
    u = wide_unsigned(dtype)
    signed = dtype.is_signed
    if op in _ARITH:
        return wrap(dtype, f"({u}){src[0]} {_ARITH[op]} ({u}){src[1]}")
    if op is Op.MAD:
        return wrap(dtype, f"({u}){src[0]} * ({u}){src[1]} + ({u}){src[2]}")
    if op in (Op.DIV, Op.MOD):
        fn = ("hg_s" if signed else "hg_u") + ("div" if op is Op.DIV else "mod")
        return f"{fn}<{ctype(dtype)}>({src[0]}, {src[1]})"
    if op in (Op.MIN, Op.MAX):
        return f"hg_{op.value}<{ctype(dtype)}>({src[0]}, {src[1]})"
    if op is Op.ABS:
        if not signed:
            return src[0]
        return wrap(dtype, f"{src[0]} < 0 ? ({u})0 - ({u}){src[0]} : ({u}){src[0]}")
    if op is Op.NEG:
        return wrap(dtype, f"({u})0 - ({u}){src[0]}")
    if op is Op.NOT:
        return wrap(dtype, f"~{src[0]}")
    if op in _BITWISE:
        return wrap(dtype, f"{src[0]} {_BITWISE[op]} {src[1]}")
    if op in (Op.SHL, Op.SHR):
        amount = f"({src[1]} & {dtype.itemsize * 8 - 1})"
        if op is Op.SHL:
            return wrap(dtype, f"({u}){src[0]} << {amount}")
        return wrap(dtype, f"{src[0]} >> {amount}")
    raise CompileError(f"the CUDA renderer has no rule for {op.value} on {dtype}")


def float_expr(op: Op, dtype: DType, src: list[str]) -> str:
    """A float instruction's value, computed in float32 (float64) and rounded into `dtype`."""
    double = dtype is DType.F64
    suffix = "" if double else "f"
    one = "1.0" if double else "1.0f"
    if op in _ARITH:
        return round_into(dtype, f"{src[0]} {_ARITH[op]} {src[1]}")
    if op is Op.DIV:
        return round_into(dtype, f"{src[0]} / {src[1]}")
    if op is Op.MAD:
        # The ISA lets MAD fuse. Products of two narrow floats are exact in float32, so fusing
        # them gives the unfused result too.
        return round_into(dtype, f"fma{suffix}({src[0]}, {src[1]}, {src[2]})")
    if op is Op.FMA:
        if dtype in NARROW_FLOATS:
            fused = f"hg_fma_odd((double){src[0]}, (double){src[1]}, (double){src[2]})"
            return f"hg_d2{'hf' if dtype is DType.F16 else 'bf'}({fused})"
        return f"fma{suffix}({src[0]}, {src[1]}, {src[2]})"
    if op in (Op.MIN, Op.MAX):
        return f"hg_{op.value}({src[0]}, {src[1]})"
    if op is Op.ABS:
        return f"fabs{suffix}({src[0]})"
    if op is Op.NEG:
        return f"(-{src[0]})"
    if op is Op.SIGMOID:
        return round_into(dtype, f"{one} / ({one} + exp{suffix}(-{src[0]}))")
    if op in _FLOAT_FUNCS:
        return round_into(dtype, f"{_FLOAT_FUNCS[op]}{suffix}({', '.join(src)})")
    raise CompileError(f"the CUDA renderer has no rule for {op.value} on {dtype}")


def convert(source: DType, target: DType, value: str) -> str:
    """`value` of dtype `source` converted to `target` with the ISA's `cvt` rules."""
    if source is target:
        return value
    if target is DType.BOOL:
        return f"({value} != {literal(0, source)})"
    if source is DType.BOOL:
        return f"({value} ? {literal(1, target)} : {literal(0, target)})"
    if target.is_int:
        if source.is_float:
            info_min, info_max = _int_range(target)
            if target.is_signed:
                return wrap(target, f"hg_f2s((double){value}, {info_min}, {info_max})")
            return wrap(target, f"hg_f2u((double){value}, {info_max})")
        return wrap(target, value)
    # To a float type.
    if target in (DType.F64, DType.F32):
        return f"(({ctype(target)}){value})"  # one rounding, to nearest-even
    if source in NARROW_FLOATS or source is DType.F32:
        return round_into(target, value)
    if target is DType.F16:
        return f"hg_d2hf((double){value})"
    if source is DType.F64 or source.itemsize < 8:
        return f"hg_d2bf((double){value})"
    return f"hg_rb(hg_odd_{'ll' if source.is_signed else 'ull'}({value}))"


def _int_range(dtype: DType) -> tuple[str, str]:
    """C literals of the smallest and largest value of integer `dtype` (as 64-bit types)."""
    bits = dtype.itemsize * 8
    if not dtype.is_signed:
        return "0ull", f"{(1 << bits) - 1}ull"
    low = "(-9223372036854775807ll - 1ll)" if bits == 64 else f"({-(1 << (bits - 1))}ll)"
    return low, f"{(1 << (bits - 1)) - 1}ll"


# ---------------------------------------------------------------- boundary-pool geometry
def _u64(value: str) -> str:
    return f"((unsigned long long){value})"


def _geometry_expr(inst: Instruction, src: list[str]) -> str:
    op = inst.op
    if op is Op.CLASS_OF:
        value = f"{_u64(src[0])} % {geo.POOL_BYTES}ull / {geo.CLASS_BYTES}ull"
    elif op is Op.PAGE_OF:
        value = f"{_u64(src[0])} % {geo.CLASS_BYTES}ull / {geo.PAGE_BYTES}ull"
    elif op is Op.BYTE_OF:
        value = f"{_u64(src[0])} % {geo.PAGE_BYTES}ull"
    elif op is Op.MIRROR:
        value = f"{geo.NUM_CLASSES - 1}ull - {_u64(src[0])} % {geo.NUM_CLASSES}ull"
    elif op is Op.NEIGHBOR:
        step = geo.NUM_CLASSES - 1 if int(inst.attr("k")) % geo.NUM_NEIGHBORS == 0 else 1  # type: ignore[arg-type]
        value = f"({_u64(src[0])} % {geo.NUM_CLASSES}ull + {step}ull) % {geo.NUM_CLASSES}ull"
    else:
        value = (
            f"{_u64(src[0])} % {geo.NUM_CLASSES}ull * {geo.CLASS_BYTES}ull"
            f" + {_u64(src[1])} % {geo.PAGES_PER_CLASS}ull * {geo.PAGE_BYTES}ull"
            f" + {_u64(src[2])} % {geo.PAGE_BYTES}ull"
        )
    return f"((unsigned int)({value}))"


_GEOMETRY = {
    op: _geometry_expr
    for op in (Op.CLASS_OF, Op.PAGE_OF, Op.BYTE_OF, Op.MIRROR, Op.NEIGHBOR, Op.ADDR)
}
