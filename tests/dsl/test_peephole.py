"""The peephole pass drops copies and dead code, and never changes what a kernel computes."""

from __future__ import annotations

import numpy as np
import pytest

import hologram as hg
from hologram import kernels
from hologram.dsl import lower as lower_module
from hologram.dsl.peephole import simplify
from hologram.isa.opcodes import Op
from hologram.runtime.executor import Executor


@hg.func
def clamp(v, lo, hi):
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@hg.kernel
def busy(x: hg.Array, out: hg.Array, n: hg.uint32, k: hg.int32):
    i = hg.uint32(hg.global_id())
    if i >= n:
        return
    acc = 0.0
    j = i
    for step in range(k):
        t = x[(j + step) % n]
        if t > 0:
            acc += clamp(t, 0.25, 0.75)
        else:
            acc -= t * t
        j = j + 1
    tail = acc
    out[i] = tail if tail > 0 else -tail


def test_contiguous_elementwise_kernel_is_exactly_load_compute_store() -> None:
    program = kernels.load("vector/vector_mul").specialize(
        a="f32", b="f32", out="f32", compute="f32"
    )
    ops = [inst.op for inst in program.instructions]
    assert ops == [Op.SREG, Op.SETP, Op.IF, Op.LDG, Op.LDG, Op.MUL, Op.STG, Op.ENDIF]


def test_simplify_keeps_results(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(20261121)
    n = 300
    x = rng.standard_normal(n).astype(np.float32)
    ex = Executor("reference")
    simplified = busy.specialize(x="f32", out="f32")
    monkeypatch.setattr(lower_module, "simplify", lambda code, registers, params: code)
    plain = lower_module.lower(busy.ir, dict(x=hg.float32.dtype, out=hg.float32.dtype))
    assert len(simplified.instructions) < len(plain.instructions)
    results = []
    for program in (simplified, plain):
        out = np.zeros(n, np.float32)
        ex.launch(program, hg.blocks(n, 64), 64, args=[x, out, n, 5])
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])
    expected = np.zeros(n)
    for i in range(n):
        acc = 0.0
        for step in range(5):
            t = float(x[(i + 2 * step) % n])  # j advances with the step
            acc += min(max(t, 0.25), 0.75) if t > 0 else -t * t
        expected[i] = abs(acc)
    np.testing.assert_allclose(results[0], expected, rtol=1e-5, atol=1e-6)


def test_simplify_leaves_a_copy_used_outside_its_block() -> None:
    b = hg.Builder("outside")
    out = b.buffer("out", "i32", access="write")
    i = b.global_id()
    r = b.reg("u32")
    b.assign(r, 7)
    with b.if_(b.setp("lt", i, 1)):
        b.assign(r, i)
    b.stg(out, i, b.cvt(r, "i32"))
    program = b.build()
    code = simplify(list(program.instructions), list(program.registers), list(program.params))
    assert sum(inst.dst == r for inst in code) == 2  # both writes of the variable survive


@hg.func
def mode_limit(mode):
    if mode == 0:
        return hg.uint32(1)
    else:
        return hg.uint32(4)


@hg.kernel
def branchy(x: hg.Array, out: hg.Array, n: hg.uint32, mode: hg.Const[int] = 0):
    i = hg.uint32(hg.global_id())
    if i < n:
        if hg.uint32(2) < mode_limit(mode):
            out[i] = x[i] * 2.0
        else:
            out[i] = x[i] + 1.0


@pytest.mark.parametrize("mode", [0, 1])
def test_branches_on_inlined_constants_keep_only_the_branch_taken(
    mode: int, rng: np.random.Generator
) -> None:
    n = 200
    x = rng.standard_normal(n).astype(np.float32)
    program = branchy.specialize(x="f32", out="f32", mode=mode)
    ops = [inst.op for inst in program.instructions]
    assert ops.count(Op.IF) == 1 and Op.ELSE not in ops  # only the lane guard is left
    assert (Op.MUL in ops) == (mode == 1) and (Op.ADD in ops) == (mode == 0)
    out = np.zeros(n, np.float32)
    Executor("reference").launch(program, hg.blocks(n, 64), 64, args=[x, out, n])
    np.testing.assert_array_equal(out, x * 2.0 if mode == 1 else x + 1.0)
