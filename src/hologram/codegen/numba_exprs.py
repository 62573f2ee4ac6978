"""Value semantics of ISA instructions as Numba-compatible Python expressions.

Both rendering strategies (per-lane and lockstep) share these rules; they differ only in how an
operand is named, which `Operands` abstracts. Every integer result is cast back to its ISA type
(`np.int32(...)`), because Numba widens small-integer arithmetic to 64 bits: the cast is what
makes results wrap. float16 and bfloat16 values are float32 in registers and uint16 in memory;
each of their results is rounded with a runtime helper.

The helpers named `_xxx` here are imported by the generated module (see `RUNTIME_IMPORTS`).
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from hologram.errors import CompileError
from hologram.isa import geometry as geo
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Arg, Imm, Instruction, Operand, ParamKind, Pred, Program, Reg

RUNTIME_IMPORTS: dict[str, dict[str, str]] = {
    "hologram.backends._cpu_runtime": {
        "_f16_to_f32": "f16_to_f32",
        "_f64_to_f16": "f64_to_f16",
        "_bf16_to_f32": "bf16_to_f32",
        "_f64_to_bf16": "f64_to_bf16",
        "_i2f": "int_to_f64",
        "_rf16": "round_f16",
        "_rbf16": "round_bf16",
        "_sdiv": "sdiv",
        "_smod": "smod",
        "_udiv": "udiv",
        "_umod": "umod",
        "_f2s": "float_to_signed",
        "_f2u": "float_to_unsigned",
        "_fma32": "fma32",
        "_fma64": "fma64",
        "_cas": "compare_and_swap",
    },
    "hologram.backends._cpu_math": {
        "_exp32": "exp_f32",
        "_sigmoid32": "sigmoid_f32",
        "_tanh32": "tanh_f32",
        "_log32": "log_f32",
        "_pow32": "pow_f32",
        "_erf32": "erf_f32",
    },
}
"""Runtime module -> {local name in the generated module: its helper there}."""

NARROW_FLOATS = frozenset({DType.F16, DType.BF16})

_NUMPY_NAMES = {
    DType.BOOL: "np.bool_",
    DType.I8: "np.int8",
    DType.I16: "np.int16",
    DType.I32: "np.int32",
    DType.I64: "np.int64",
    DType.U8: "np.uint8",
    DType.U16: "np.uint16",
    DType.U32: "np.uint32",
    DType.U64: "np.uint64",
    DType.F16: "np.float32",
    DType.BF16: "np.float32",
    DType.F32: "np.float32",
    DType.F64: "np.float64",
}
_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_BINARY = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*", Op.AND: "&", Op.OR: "|", Op.XOR: "^"}
_FLOAT_UNARY = {
    Op.FLOOR: "np.floor",
    Op.CEIL: "np.ceil",
    Op.ROUND: "np.rint",
    Op.TRUNC: "np.trunc",
    Op.EXP: "np.exp",
    Op.LOG: "np.log",
    Op.SQRT: "np.sqrt",
    Op.SIN: "np.sin",
    Op.COS: "np.cos",
    Op.TANH: "np.tanh",
    Op.ERF: "math.erf",
}


_VECTOR_MATH = {
    Op.EXP: "_exp32",
    Op.LOG: "_log32",
    Op.SIGMOID: "_sigmoid32",
    Op.TANH: "_tanh32",
    Op.ERF: "_erf32",
}
"""float32 versions that vectorise (see `backends/_cpu_math.py`)."""


def register_type(dtype: DType) -> str:
    """The NumPy scalar type (as source) that holds a register of `dtype`."""
    return _NUMPY_NAMES[dtype]


def register_dtype(dtype: DType) -> np.dtype:
    """The NumPy dtype of a register (and of a scalar argument) of `dtype`."""
    return np.dtype(np.float32) if dtype in NARROW_FLOATS else dtype.numpy


def memory_dtype(dtype: DType) -> np.dtype:
    """The NumPy dtype of the arrays the generated kernel receives for `dtype` memory."""
    return np.dtype(np.uint16) if dtype in NARROW_FLOATS else dtype.numpy


def narrow_value(value: float, dtype: DType) -> float:
    """`value` rounded into `dtype` (exactly as NumPy / ml_dtypes round), as a Python float."""
    if dtype is DType.F16:
        return float(np.float16(value))
    if dtype is DType.BF16:
        return _round_bf16(value)
    if dtype is DType.F32:
        return float(np.float32(value))
    return float(value)


def _round_bf16(value: float) -> float:
    """`value` rounded once, half to even, to bfloat16 (ml_dtypes would round twice)."""
    nearest = np.float32(value)
    # Round to odd at float32 first: then the rounding to 8 bits is the only one that counts.
    inexact = math.isfinite(float(nearest)) and float(nearest) != value
    if inexact and not int(np.array(nearest).view(np.uint32)) & 1:
        nearest = np.nextafter(
            nearest, np.float32(math.inf if value > float(nearest) else -math.inf)
        )
    return float(np.array(nearest).astype(ml_dtypes.bfloat16))


def literal(value: int | float | bool, dtype: DType) -> str:
    """A typed constant of `dtype` holding `value`."""
    if dtype is DType.BOOL:
        return "True" if value else "False"
    name = _NUMPY_NAMES[dtype]
    if dtype.is_int:
        bits = dtype.itemsize * 8
        wrapped = int(value) & ((1 << bits) - 1)
        if dtype.is_signed and wrapped >= 1 << (bits - 1):
            wrapped -= 1 << bits
        return f"{name}({wrapped})"
    number = narrow_value(float(value), dtype)
    if math.isnan(number):
        return f"{name}(np.nan)"
    if math.isinf(number):
        return f"{name}({'-' if number < 0 else ''}np.inf)"
    return f"{name}({number!r})"


def wrap(dtype: DType, expr: str) -> str:
    """`expr` (computed in a wider or equal type) brought back into `dtype`."""
    if dtype is DType.BOOL:
        return expr
    if dtype is DType.F16:
        return f"_rf16({expr})"
    if dtype is DType.BF16:
        return f"_rbf16({expr})"
    return f"{_NUMPY_NAMES[dtype]}({expr})"


def decode(dtype: DType, raw: str) -> str:
    """A value in the memory representation of `dtype` as a register value."""
    if dtype is DType.F16:
        return f"_f16_to_f32({raw})"
    if dtype is DType.BF16:
        return f"_bf16_to_f32({raw})"
    return raw


def load(dtype: DType, array: str, index: str) -> str:
    """Element `index` of a global buffer or pool as a register value."""
    return decode(dtype, f"{array}[{index}]")


def encode(dtype: DType, value: str) -> str:
    """A register value in the memory representation of `dtype`."""
    if dtype is DType.F16:
        return f"_f64_to_f16({value})"
    if dtype is DType.BF16:
        return f"_f64_to_bf16({value})"
    return value


class Operands:
    """Names operands for one rendering strategy.

    `lane` is the lane-index variable when registers are arrays over the block's lanes
    (lockstep), or None when they are scalars (one lane at a time). `global_x`, if given, is
    the variable that holds global_id.x itself (a loop over the lanes of many blocks).
    """

    def __init__(self, program: Program, lane: str | None = None, global_x: str | None = None):
        self.program = program
        self.lane = lane
        self.global_x = global_x

    def register(self, operand: Reg | Pred) -> str:
        """The source name of a register or predicate (an element access in lockstep)."""
        name = f"r{operand.index}" if isinstance(operand, Reg) else f"p{operand.index}"
        return f"{name}[{self.lane}]" if self.lane else name

    def value(self, operand: Operand) -> str:
        """The source expression of a value operand."""
        if isinstance(operand, (Reg, Pred)):
            return self.register(operand)
        if isinstance(operand, Imm):
            return literal(operand.value, operand.dtype)
        if isinstance(operand, Arg):
            return param_name(self.program, operand.index)
        raise TypeError(f"operand {operand} is not a value")

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
        raise TypeError(f"operand {operand} has no dtype")

    def special(self, name: str, axis: int) -> str:
        """A special register along `axis` as an int64 expression."""
        xyz = "xyz"[axis]
        if name == "lane_id":
            return self.lane_coord(axis)
        if name == "block_id":
            return f"b{xyz}"
        if name == "block_dim":
            return f"bd{xyz}"
        if name == "grid_dim":
            return f"gd{xyz}"
        if axis == 0 and self.global_x is not None:
            return self.global_x
        return f"(b{xyz} * bd{xyz} + {self.lane_coord(axis)})"

    def lane_coord(self, axis: int) -> str:
        """The lane's coordinate along `axis` within its block."""
        if self.lane is None:
            return f"l{'xyz'[axis]}"
        lane = self.lane
        return (f"({lane} % bdx)", f"(({lane} // bdx) % bdy)", f"({lane} // (bdx * bdy))")[axis]


def param_name(program: Program, index: int) -> str:
    """The kernel argument name of parameter `index`: a{i} for memory, s{i} for scalars."""
    return f"s{index}" if program.params[index].kind is ParamKind.SCALAR else f"a{index}"


def minmax(dtype: DType, a: str, b: str, smaller: bool) -> str:
    """min or max of two values of `dtype`; a NaN in either float operand gives NaN."""
    cmp = "<" if smaller else ">"
    if dtype.is_float:
        return f"({a} if ({a} {cmp} {b} or {a} != {a}) else {b})"
    return f"({a} if {a} {cmp} {b} else {b})"


def value_expr(inst: Instruction, ops: Operands) -> str:
    """The value an instruction writes to its register (not memory, control or collectives)."""
    op, dtype = inst.op, inst.dtype
    src = [ops.value(s) for s in inst.srcs]
    if op is Op.MOV:
        return src[0]
    if op is Op.CVT:
        return convert(ops.dtype(inst.srcs[0]), dtype, src[0])  # type: ignore[arg-type]
    if op is Op.SETP:
        cmp = _CMP[str(inst.attr("cmp"))]
        return f"({src[0]} {cmp} {src[1]})"
    if op is Op.SEL:
        return f"({src[1]} if {src[0]} else {src[2]})"
    if op is Op.SREG:
        return wrap(DType.U32, ops.special(str(inst.attr("sreg")), int(inst.attr("axis"))))  # type: ignore[arg-type]
    if op in _GEOMETRY:
        return _GEOMETRY[op](inst, src)
    assert dtype is not None
    if dtype.is_bool:
        return _logic(op, src)
    if dtype.is_float:
        return _float(op, dtype, src)
    return _integer(op, dtype, src)


def _logic(op: Op, src: list[str]) -> str:
    if op is Op.NOT:
        return f"(not {src[0]})"
    return f"({src[0]} {_BINARY[op]} {src[1]})"


def _integer(op: Op, dtype: DType, src: list[str]) -> str:
    signed = dtype.is_signed
    if op in _BINARY:
        return wrap(dtype, f"{src[0]} {_BINARY[op]} {src[1]}")
    if op in (Op.DIV, Op.MOD):
        wide, fn = ("np.int64", "_s") if signed else ("np.uint64", "_u")
        fn += "div" if op is Op.DIV else "mod"
        return wrap(dtype, f"{fn}({wide}({src[0]}), {wide}({src[1]}))")
    if op is Op.MAD:
        return wrap(dtype, f"{src[0]} * {src[1]} + {src[2]}")
    if op in (Op.MIN, Op.MAX):
        return minmax(dtype, src[0], src[1], op is Op.MIN)
    if op is Op.ABS:
        return wrap(dtype, f"-{src[0]} if {src[0]} < 0 else {src[0]}") if signed else src[0]
    if op is Op.NEG:
        return wrap(dtype, f"-{src[0]}")
    if op is Op.NOT:
        return wrap(dtype, f"~{src[0]}")
    if op in (Op.SHL, Op.SHR):
        mask = literal(dtype.itemsize * 8 - 1, dtype)
        shift = "<<" if op is Op.SHL else ">>"
        return wrap(dtype, f"{src[0]} {shift} ({src[1]} & {mask})")
    raise CompileError(f"the cpu renderer has no rule for {op.value} on {dtype}")


def _float(op: Op, dtype: DType, src: list[str]) -> str:
    compute = DType.F64 if dtype is DType.F64 else DType.F32
    one = literal(1.0, compute)
    if op in (Op.ADD, Op.SUB, Op.MUL):
        return wrap(dtype, f"{src[0]} {_BINARY[op]} {src[1]}")
    if op is Op.DIV:
        return wrap(dtype, f"{src[0]} / {src[1]}")
    if op is Op.MOD:
        return wrap(dtype, f"np.fmod({src[0]}, {src[1]})")
    if op is Op.MAD:
        return wrap(dtype, f"{src[0]} * {src[1]} + {src[2]}")
    if op is Op.FMA:
        fused = "_fma64" if compute is DType.F64 else "_fma32"
        return wrap(dtype, f"{fused}({src[0]}, {src[1]}, {src[2]})")
    if op in (Op.MIN, Op.MAX):
        return minmax(dtype, src[0], src[1], op is Op.MIN)
    if op is Op.ABS:
        return wrap(dtype, f"abs({src[0]})")
    if op is Op.NEG:
        return wrap(dtype, f"-{src[0]}")
    if op in _VECTOR_MATH and compute is DType.F32:
        return wrap(dtype, f"{_VECTOR_MATH[op]}({src[0]})")
    if op in _FLOAT_UNARY:
        return wrap(dtype, f"{_FLOAT_UNARY[op]}({src[0]})")
    if op is Op.RSQRT:
        return wrap(dtype, f"{one} / np.sqrt({src[0]})")
    if op is Op.SIGMOID:
        return wrap(dtype, f"{one} / ({one} + np.exp(-{src[0]}))")
    if op is Op.POW:
        power = "_pow32" if compute is DType.F32 else "np.power"
        return wrap(dtype, f"{power}({src[0]}, {src[1]})")
    raise CompileError(f"the cpu renderer has no rule for {op.value} on {dtype}")


def convert(source: DType, target: DType, value: str) -> str:
    """`value` of dtype `source` converted to `target` with the ISA's `cvt` rules."""
    if source is target:
        return value
    if target is DType.BOOL:
        return f"({value} != {literal(0, source)})"
    if source is DType.BOOL:
        return f"({literal(1, target)} if {value} else {literal(0, target)})"
    if target.is_int and source.is_float:
        info = np.iinfo(target.numpy)
        if target.is_signed:
            bounds = f"np.int64({int(info.min)}), np.int64({int(info.max)})"
            return wrap(target, f"_f2s(np.float64({value}), {bounds})")
        return wrap(target, f"_f2u(np.float64({value}), np.uint64({int(info.max)}))")
    if target in NARROW_FLOATS and source.is_int:
        # Through float64: exact below 2**53, and with a sticky bit above (one rounding).
        wide = f"_i2f({value})" if source.itemsize == 8 else f"np.float64({value})"
        return wrap(target, wide)
    return wrap(target, value)


def _geometry_class_of(inst: Instruction, src: list[str]) -> str:
    return f"np.uint32((np.uint64({src[0]}) % np.uint64({geo.POOL_BYTES})) // np.uint64({geo.CLASS_BYTES}))"  # noqa: E501


def _geometry_page_of(inst: Instruction, src: list[str]) -> str:
    return f"np.uint32((np.uint64({src[0]}) % np.uint64({geo.CLASS_BYTES})) // np.uint64({geo.PAGE_BYTES}))"  # noqa: E501


def _geometry_byte_of(inst: Instruction, src: list[str]) -> str:
    return f"np.uint32(np.uint64({src[0]}) % np.uint64({geo.PAGE_BYTES}))"


def _class_mod(value: str) -> str:
    return f"(np.uint64({value}) % np.uint64({geo.NUM_CLASSES}))"


def _geometry_mirror(inst: Instruction, src: list[str]) -> str:
    return f"np.uint32(np.uint64({geo.NUM_CLASSES - 1}) - {_class_mod(src[0])})"


def _geometry_neighbor(inst: Instruction, src: list[str]) -> str:
    step = geo.NUM_CLASSES - 1 if int(inst.attr("k")) % geo.NUM_NEIGHBORS == 0 else 1  # type: ignore[arg-type]
    return f"np.uint32(({_class_mod(src[0])} + np.uint64({step})) % np.uint64({geo.NUM_CLASSES}))"


def _geometry_addr(inst: Instruction, src: list[str]) -> str:
    cls = f"{_class_mod(src[0])} * np.uint64({geo.CLASS_BYTES})"
    page = f"(np.uint64({src[1]}) % np.uint64({geo.PAGES_PER_CLASS})) * np.uint64({geo.PAGE_BYTES})"
    byte = f"(np.uint64({src[2]}) % np.uint64({geo.PAGE_BYTES}))"
    return f"np.uint32({cls} + {page} + {byte})"


_GEOMETRY = {
    Op.CLASS_OF: _geometry_class_of,
    Op.PAGE_OF: _geometry_page_of,
    Op.BYTE_OF: _geometry_byte_of,
    Op.MIRROR: _geometry_mirror,
    Op.NEIGHBOR: _geometry_neighbor,
    Op.ADDR: _geometry_addr,
}


# ---------------------------------------------------------------- memory instructions
def memory_lines(inst: Instruction, ops: Operands, tag: str, atomic: bool = False) -> list[str]:
    """Statements for one lane of LDG/STG/LDS/STS/POOL_LD/POOL_ST/ATOM.

    `tag` makes temporaries unique to this instruction, so that Numba types each one once.
    `atomic`: ATOM becomes a compare-and-swap loop that is atomic across threads; otherwise a
    plain read-modify-write, atomic only while one thread runs the launch's blocks.
    """
    op, dtype = inst.op, inst.dtype
    assert dtype is not None
    ref = inst.srcs[0]
    array = f"sh{ref.index}" if op in (Op.LDS, Op.STS) else param_name(ops.program, ref.index)  # type: ignore[union-attr]
    index = ops.value(inst.srcs[1])
    if ops.dtype(inst.srcs[1]).is_signed:
        # Numba wraps negative signed indices Python-style, a branch that stops vectorisation;
        # a negative index is out of bounds anyway, so index through the unsigned bits.
        index = f"np.uint64({index})"
    shared = op in (Op.LDS, Op.STS)
    if op in (Op.LDG, Op.LDS, Op.POOL_LD):
        value = f"{array}[{index}]" if shared else load(dtype, array, index)
        return [f"{ops.register(inst.dst)} = {value}"]  # type: ignore[arg-type]
    stored = ops.value(inst.srcs[2])
    if op in (Op.STG, Op.STS, Op.POOL_ST):
        return [f"{array}[{index}] = {stored if shared else encode(dtype, stored)}"]
    at, old, raw = f"_at{tag}", f"_old{tag}", f"_raw{tag}"
    kind = str(inst.attr("op"))
    if kind == "add":
        new = wrap(dtype, f"{old} + {stored}")
    elif kind in ("min", "max"):
        new = minmax(dtype, old, stored, kind == "min")
    else:
        new = stored
    if atomic:
        # Retry with the value the swap found until no other thread wrote in between; the
        # swap compares bits, so a NaN in memory does not loop forever.
        lines = [
            f"{at} = {index}",
            f"{raw} = {array}[{at}]",
            "while True:",
            f"    {old} = {decode(dtype, raw)}",
            f"    _ok{tag}, _seen{tag} = _cas({array}, {at}, {raw}, {encode(dtype, new)})",
            f"    if _ok{tag}:",
            "        break",
            f"    {raw} = _seen{tag}",
        ]
    else:
        lines = [f"{at} = {index}", f"{old} = {load(dtype, array, at)}"]
        lines.append(f"{array}[{at}] = {encode(dtype, new)}")
    if inst.dst is not None:
        lines.append(f"{ops.register(inst.dst)} = {old}")
    return lines


# ---------------------------------------------------------------- source assembly
class Lines:
    """Indented source lines; `indent` is the current nesting depth."""

    def __init__(self, indent: int = 0):
        self.lines: list[str] = []
        self.indent = indent

    def add(self, *lines: str) -> None:
        """Append lines at the current depth."""
        self.lines.extend("    " * self.indent + line for line in lines)

    def text(self) -> str:
        """The lines joined, ending with a newline."""
        return "\n".join(self.lines) + "\n"
