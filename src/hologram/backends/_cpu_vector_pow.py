"""float32 pow for 16 lanes at once in AVX-512, called from the cpu backend's lane loops.

A Numba lane loop is scalar code that LLVM's loop vectoriser widens, and a scalar loop cannot
say "look this up in a 32-entry table held in two registers" (AVX-512's vpermt2ps): a table
in memory becomes a gather, which costs more than a longer series. So pow is written here
directly as a function of two `<16 x float>` vectors in LLVM IR, and the scalar function that
kernels call carries LLVM's `vector-function-abi-variant` attribute naming it: the vectoriser
then calls the vector function once per 16 lanes (the scalar function, used by a loop's
remainder, calls it on one lane). Both are defined, once, in each module that calls pow.

Method, in float32 double words (hi + lo), after the Intel SVML's (NumPy's float32 pow on
AVX-512), with the extra words that keep the error within 1 ulp (NumPy's errs by 2 ulp over
the sampled pairs of tests/backends/test_cpu_math.py, and is off by one in 3 times as many):
|x| = 2**k * m with m in [3/4, 3/2) (vgetmantps, vgetexpps); c = 1/m rounded to a multiple of
1/32 (vrcp14ps, vrndscaleps), so that r = m * c - 1 is exact in one FMA and |r| <= 0.0235;
log2|x| = k - log2 c + log2(1 + r), with -log2 c from a 32-entry table (hi to 2**-15, so that
k + hi is exact, and lo); log2(1 + r) = K (r - r**2 / 2) + r T(r), the first term a double
word. t = y * log2|x| as a double word; 2**t = 2**round(t) * 2**f with f = t - round(t)
(vreduceps), 2**f a polynomial and the scaling exact (vscalefps). Lanes that are not a finite
positive base with |t| <= 150 (zeros, infinities, NaN, negative bases, overflow, underflow) are
finished by C's rules in a second block, which runs only when some lane of the 16 needs it.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir
from llvmlite.ir.values import FunctionAttributes
from numba import types
from numba.extending import intrinsic

_F32, _I32, _I16 = ir.FloatType(), ir.IntType(32), ir.IntType(16)
_VF = ir.VectorType(_F32, 16)
_VI = ir.VectorType(_I32, 16)
_VB = ir.VectorType(ir.IntType(1), 16)
_VECTOR_NAME = "hologram_pow_f32x16"
_SCALAR_NAME = "hologram_pow_f32"

_K_HI = float(np.float32(1 / np.log(2.0)))
# log2(1 + r) - _K_HI (r - r**2 / 2) = r T(r) on |r| <= 0.0236, T to 2**-33 absolute (minimax,
# Lawson's iteration), lowest first. T(0) is 1/ln 2 - _K_HI.
_T = (1.926185788647672e-08, 1.3692729616820998e-08, 0.48089829087257385)
_T += (-0.3608412444591522, 0.28874000906944275)
# 2**f on [-1/2, 1/2] to 2**-29 relative, lowest first (as `_cpu_math`'s scalar pow).
_X = (1.0, 0.6931471824645996, 0.24022646248340607, 0.05550328642129898)
_X += (0.009618489071726799, 0.0013399930903688073, 0.00015345810970757157)
_SCALE_LIMIT = 150.0  # 2**150 and 2**-150 are beyond float32: such t take the second block
# Immediate operands of the AVX-512 instructions.
_MANTISSA_3_4_TO_3_2 = 0b0111  # vgetmantps: interval [3/4, 3/2), sign cleared
_ROUND_TO_32NDS = 0x58  # vrndscaleps: 5 fraction bits, nearest, no precision exception
_ROUND_DOWN = 0x09  # vrndscaleps: integral, toward -inf, no precision exception
_FRACTION = 0x08  # vreduceps: x - round(x), nearest, no precision exception
_NOT_POSITIVE_FINITE = 0xDF  # vfpclassps: NaN, zero, infinity or negative (not subnormal)
_CURRENT_ROUNDING = 4


def _log2_table() -> tuple[np.ndarray, np.ndarray]:
    """-log2 c as (hi, lo) for c = n/32, n = 21..43 (every c that 1/m rounds to), at n % 32."""
    hi, lo = np.zeros(32, np.float32), np.zeros(32, np.float32)
    for n in range(21, 44):
        exact = -np.log2(n / 32)
        hi[n % 32] = np.round(exact * 2**15) / 2**15
        lo[n % 32] = exact - float(hi[n % 32])
    return hi, lo


_L_HI, _L_LO = _log2_table()


@functools.cache
def available() -> bool:
    """Whether the code Numba makes here runs on a host with AVX-512 F and DQ."""
    from llvmlite import binding
    from numba.core import config

    if config.CPU_NAME not in (None, "host"):  # a named target: code for other machines
        return False
    features = binding.get_host_cpu_features()
    return bool(features.get("avx512f", False)) and bool(features.get("avx512dq", False))


class _Lanes:
    """Shorthands for building `<16 x float>` arithmetic at an IR builder's position."""

    def __init__(self, builder: ir.IRBuilder) -> None:
        self.b = builder

    def const(self, value: float) -> ir.Constant:
        return ir.Constant(_VF, [ir.Constant(_F32, float(np.float32(value)))] * 16)

    def call(self, name: str, result: ir.Type, args: list[ir.Value]) -> ir.Value:
        fnty = ir.FunctionType(result, [a.type for a in args])
        return self.b.call(self.b.module.declare_intrinsic(name, (), fnty), args)

    def unmasked(self, name: str, value: ir.Value, imm: int) -> ir.Value:
        """An `llvm.x86.avx512.mask.*` intrinsic taking an immediate, on every lane."""
        args = [value, ir.Constant(_I32, imm), value, ir.Constant(_I16, -1)]
        return self.call(name, _VF, [*args, ir.Constant(_I32, _CURRENT_ROUNDING)])

    def fma(self, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
        return self.call("llvm.fma.v16f32", _VF, [a, b, c])

    def abs(self, a: ir.Value) -> ir.Value:
        return self.call("llvm.fabs.v16f32", _VF, [a])

    def cmp(self, op: str, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered(op, a, b)

    def table(self, values: np.ndarray, index: ir.Value) -> ir.Value:
        """values[index % 32] in every lane (vpermt2ps)."""
        halves = [
            ir.Constant(_VF, [ir.Constant(_F32, float(v)) for v in part])
            for part in values.reshape(2, 16)
        ]
        return self.call("llvm.x86.avx512.vpermi2var.ps.512", _VF, [halves[0], index, halves[1]])

    def poly(self, coefficients: tuple[float, ...], x: ir.Value) -> ir.Value:
        """The polynomial with `coefficients` (lowest first) at `x`, by Horner's rule."""
        acc = self.const(coefficients[-1])
        for c in coefficients[-2::-1]:
            acc = self.fma(acc, x, self.const(c))
        return acc


def _log2(v: _Lanes, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """log2|x| as (hi, lo) for finite nonzero lanes of `x`."""
    b = v.b
    m = v.unmasked("llvm.x86.avx512.mask.getmant.ps.512", x, _MANTISSA_3_4_TO_3_2)
    e = v.call(
        "llvm.x86.avx512.mask.getexp.ps.512",
        _VF,
        [x, x, ir.Constant(_I16, -1), ir.Constant(_I32, _CURRENT_ROUNDING)],
    )
    k = b.select(v.cmp("<", m, v.const(1.0)), b.fadd(e, v.const(1.0)), e)  # getexp is floor
    estimate = v.call("llvm.x86.avx512.rcp14.ps.512", _VF, [m, m, ir.Constant(_I16, -1)])
    c = v.unmasked("llvm.x86.avx512.mask.rndscale.ps.512", estimate, _ROUND_TO_32NDS)
    # Adding 2**18 leaves 32 c in the low mantissa bits: the table index, modulo 32.
    index = b.bitcast(b.fadd(c, v.const(2.0**18)), _VI)
    r = v.fma(m, c, v.const(-1.0))  # exact: c has 5 fraction bits and |r| < 1/32
    # s = r - r**2 / 2 as a double word; K s (K = 1/ln 2) rounded and its error.
    r2 = b.fmul(r, r)
    s = v.fma(r2, v.const(-0.5), r)
    s_lo = v.fma(r2, v.const(-0.5), b.fsub(r, s))
    s_lo = v.fma(v.fma(r, r, b.fneg(r2)), v.const(-0.5), s_lo)
    p = b.fmul(s, v.const(_K_HI))
    p_lo = v.fma(s_lo, v.const(_K_HI), v.fma(s, v.const(_K_HI), b.fneg(p)))
    p_lo = v.fma(v.poly(_T, r), r, p_lo)
    # k + hi is exact (hi has 15 fraction bits, |k| < 256) and outweighs p unless it is 0.
    a = b.fadd(k, v.table(_L_HI, index))
    hi = b.fadd(a, p)
    lo = b.fadd(b.fadd(b.fsub(a, hi), p), b.fadd(p_lo, v.table(_L_LO, index)))
    return hi, lo


def _c_rules(v: _Lanes, x: ir.Value, y: ir.Value, log2_x: ir.Value, fast: ir.Value) -> ir.Value:
    """C's pow for every lane, given log2|x| and the fast result, valid where |t| <= 150."""
    b = v.b
    ax, inf = v.abs(x), v.const(np.inf)
    log2_x = b.select(v.cmp("==", ax, inf), inf, log2_x)
    log2_x = b.select(v.cmp("==", ax, v.const(0.0)), v.const(-np.inf), log2_x)
    t = b.fmul(y, log2_x)  # NaN for a NaN operand
    beyond = b.select(v.cmp(">", t, v.const(0.0)), inf, v.const(0.0))
    beyond = b.select(b.fcmp_unordered("uno", t, t), t, beyond)
    magnitude = b.select(v.cmp("<=", v.abs(t), v.const(_SCALE_LIMIT)), fast, beyond)
    integral = v.cmp("==", v.unmasked("llvm.x86.avx512.mask.rndscale.ps.512", y, _ROUND_DOWN), y)
    half = b.fmul(y, v.const(0.5))
    floor_half = v.unmasked("llvm.x86.avx512.mask.rndscale.ps.512", half, _ROUND_DOWN)
    odd = b.and_(integral, v.cmp("!=", floor_half, half))
    negative = b.icmp_signed("<", b.bitcast(x, _VI), ir.Constant(_VI, [ir.Constant(_I32, 0)] * 16))
    result = b.select(b.and_(negative, odd), b.fneg(magnitude), magnitude)
    # A negative finite base with a non-integral exponent has no real power.
    finite_negative = b.and_(v.cmp("<", x, v.const(0.0)), v.cmp(">", x, v.const(-np.inf)))
    result = b.select(b.and_(finite_negative, b.not_(integral)), v.const(np.nan), result)
    # y = 0, x = 1, and x = -1 with an infinite y give 1 whatever the other operand is.
    unit = b.or_(v.cmp("==", y, v.const(0.0)), v.cmp("==", x, v.const(1.0)))
    unit = b.or_(unit, b.and_(v.cmp("==", x, v.const(-1.0)), v.cmp("==", v.abs(y), inf)))
    return b.select(unit, v.const(1.0), result)


def _vector_function(module: ir.Module) -> ir.Function:
    """The module's `<16 x float>` pow, defined on first use."""
    fn = module.globals.get(_VECTOR_NAME)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(_VF, [_VF, _VF]), _VECTOR_NAME)
    fn.linkage = "internal"
    for attr in ("noinline", "nounwind", "readnone"):  # noinline: the vectoriser needs it
        fn.attributes.add(attr)
    x, y = fn.args
    v = _Lanes(ir.IRBuilder(fn.append_basic_block("entry")))
    b = v.b
    hi, lo = _log2(v, x)
    t = b.fmul(y, hi)
    t_lo = v.fma(y, lo, v.fma(y, hi, b.fneg(t)))
    f = v.unmasked("llvm.x86.avx512.mask.reduce.ps.512", t, _FRACTION)
    n = b.fsub(t, f)
    q = v.poly(_X, b.fadd(f, t_lo))
    args = [q, n, q, ir.Constant(_I16, -1), ir.Constant(_I32, _CURRENT_ROUNDING)]
    fast = v.call("llvm.x86.avx512.mask.scalef.ps.512", _VF, args)
    special = v.call(
        "llvm.x86.avx512.fpclass.ps.512", _VB, [x, ir.Constant(_I32, _NOT_POSITIVE_FINITE)]
    )
    ok = b.and_(b.not_(special), v.cmp("<=", v.abs(t), v.const(_SCALE_LIMIT)))
    done, rules = fn.append_basic_block("done"), fn.append_basic_block("rules")
    b.cbranch(b.icmp_signed("==", b.bitcast(ok, _I16), ir.Constant(_I16, -1)), done, rules)
    b.position_at_end(done)
    b.ret(fast)
    b.position_at_end(rules)
    b.ret(_c_rules(v, x, y, hi, fast))
    return fn


class _WithVariant(FunctionAttributes):
    """Function attributes plus LLVM's `vector-function-abi-variant` (a key=value attribute,
    which llvmlite's attribute set does not take)."""

    def __init__(self, variant: str) -> None:
        super().__init__()
        self._variant = variant

    def _to_list(self, ret_type: ir.Type) -> list[str]:
        return [*super()._to_list(ret_type), f'"vector-function-abi-variant"="{self._variant}"']


def _scalar_function(module: ir.Module) -> ir.Function:
    """The module's scalar pow: the vector function on one lane, named as its 16-lane form."""
    fn = module.globals.get(_SCALAR_NAME)
    if fn is not None:
        return fn
    vector = _vector_function(module)
    fn = ir.Function(module, ir.FunctionType(_F32, [_F32, _F32]), _SCALAR_NAME)
    fn.linkage = "internal"
    fn.attributes = _WithVariant(f"_ZGV_LLVM_N16vv_{_SCALAR_NAME}({_VECTOR_NAME})")
    for attr in ("noinline", "nounwind", "readnone"):  # inlined, it would lose the variant
        fn.attributes.add(attr)
    b = ir.IRBuilder(fn.append_basic_block())
    undef, lane0 = ir.Constant(_VF, ir.Undefined), ir.Constant(_I32, 0)
    zeros = ir.Constant(_VI, [lane0] * 16)
    splats = [b.shuffle_vector(b.insert_element(undef, a, lane0), undef, zeros) for a in fn.args]
    b.ret(b.extract_element(b.call(vector, splats), lane0))
    return fn


@intrinsic
def pow_f32x16(typingctx, x, y):  # noqa: ARG001 - the signature Numba expects
    """x**y for float32 `x` and `y`, with C's rules; in a lane loop, 16 lanes per call."""
    if x != types.float32 or y != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.call(_scalar_function(builder.module), args)

    return types.float32(types.float32, types.float32), codegen
