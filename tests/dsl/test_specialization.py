"""Const parameters, generic dtypes, the program cache, launching and argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from dsl_helpers import BLOCK, draw, instructions, launch

import hologram as hg
from hologram.errors import KernelTypeError, LaunchError
from hologram.isa import DType, Imm


@hg.kernel
def scaled(x: hg.Array, out: hg.Array, n: hg.int32, T: hg.Const[hg.dtype] = hg.float32,
           factor: hg.Const[float] = 2.0, squared: hg.Const[bool] = False,
           repeat: hg.Const[int] = 1):  # fmt: skip
    i = hg.global_id()
    if i < n:
        v = T(x[i]) * factor
        if squared:
            v = v * v
        for _ in range(repeat - 1):
            v = v + T(x[i])
        out[i] = v


@pytest.mark.parametrize(
    ("consts", "oracle", "rtol"),
    [
        ((), lambda x: np.float32(x) * 2, 1e-6),  # every Const at its default
        ((hg.float64, 0.1), lambda x: x * 0.1, 1e-15),
        (("f64", 2.0, True, 3), lambda x: (x * 2) ** 2 + 2 * x, 1e-15),
    ],
    ids=["defaults", "dtype-and-float", "bool-and-int"],
)
def test_const_parameters_and_defaults(executor, rng, consts, oracle, rtol):
    x = draw(rng, 30, "f64")
    out = np.zeros_like(x)
    launch(executor, scaled, x.size, x, out, x.size, *consts)
    np.testing.assert_allclose(out, oracle(x), rtol=rtol)


def test_consts_are_compile_time_and_leave_the_isa_params():
    program = scaled.specialize(x="f64", out="f64", T="f64", squared=True, factor=0.1)
    assert [p.name for p in program.params] == ["x", "out", "n"]
    assert not instructions(program, "loop")  # range(repeat - 1) is empty: no loop at all
    assert len(instructions(program, "if")) == 1  # only `i < n`: `if squared` folded away
    # A Const float is a literal: exact in a float64 computation.
    factors = [s.value for ins in instructions(program, "mul") for s in ins.srcs if is_imm(s)]
    assert 0.1 in factors


def is_imm(operand: object) -> bool:
    return isinstance(operand, Imm)


def test_one_program_per_signature_cached(rng):
    x32, x64 = draw(rng, 4, "f32"), draw(rng, 4, "f64")
    first, runtime = scaled.program_for([x32, x32, 4])
    again, _ = scaled.program_for([x32, np.zeros(4, np.float32), 4])
    assert again is first
    assert len(runtime) == 3
    other, runtime = scaled.program_for([x64, x32, 4, hg.float64, 3.0])
    assert other is not first and len(runtime) == 3
    assert scaled.specialize(x="f32", out="f32") is first
    # Passing a Const's default is the same as leaving it out.
    assert scaled.specialize({"x": DType.F32, "out": np.float32, "T": "f32"}) is first
    # Equal in Python, different as Consts: 1, 1.0 and True each have their program.
    assert scaled.specialize(x="f32", out="f32", factor=2) is not first


def test_specialize_rejects_what_the_kernel_does_not_declare():
    with pytest.raises(KernelTypeError, match="no parameter 'y'"):
        scaled.specialize(x="f32", out="f32", y="f32")
    with pytest.raises(KernelTypeError, match="declared i32"):
        scaled.specialize(x="f32", out="f32", n="i64")
    with pytest.raises(KernelTypeError, match="must be an int"):
        scaled.specialize(x="f32", out="f32", repeat=1.5)
    with pytest.raises(KernelTypeError, match="must be dtype"):
        scaled.specialize(x="f32", out="f32", T=3)
    with pytest.raises(KernelTypeError, match="needs a dtype"):
        scaled.specialize(x="f32")


@hg.kernel(signatures=[{"x": hg.float32}, {"x": "f64"}])
def copy(x: hg.Array, out: hg.Array[hg.float64], n: hg.uint32):
    i = hg.global_id()
    if i < n:
        out[i] = x[i]


def test_signatures_are_listed_for_ahead_of_time_builds():
    assert copy.signatures == [{"x": hg.float32}, {"x": "f64"}]
    assert copy.specialize(copy.signatures[0]).params[0].dtype is DType.F32


def test_launch_forms_numpy_and_buffers(executor, rng):
    x = draw(rng, 70, "f32")
    expected = x.astype(np.float64)
    # kernel[grid, block](...) with NumPy arrays: outputs are written back.
    out = np.zeros(70)
    launch(executor, copy, 70, x, out, 70)
    np.testing.assert_array_equal(out, expected)
    # Executor.launch with a kernel: args include Consts; Buffers in and out.
    xb, ob = executor.from_numpy(x), executor.allocate(70, "f64")
    executor.launch(copy, 2, BLOCK, [xb, ob, 70])
    np.testing.assert_array_equal(ob.to_numpy(), expected)
    # Buffers alone pick their own executor.
    ob2 = executor.allocate(70, "f64")
    copy[hg.blocks(70, BLOCK), BLOCK](xb, ob2, 70)
    np.testing.assert_array_equal(ob2.to_numpy(), expected)
    # A LaunchConfig works as well.
    scaled_out = np.zeros(70, np.float32)
    scaled[hg.LaunchConfig.for_elements(70, BLOCK)](x, scaled_out, 70, executor=executor)
    np.testing.assert_array_equal(scaled_out, x * 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros(4, np.float32),), "takes \\(x, out, n\\), got 1"),
        ((np.zeros(4, np.float32), np.zeros(4), 4, 5), "got 4 arguments"),
        ((np.zeros(4, np.float32), np.zeros(4, np.float32), 4), "must be f64, got f32"),
        ((np.zeros(4, np.float32), np.zeros(4), np.zeros(1)), "expected a number"),
        ((3.0, np.zeros(4), 4), "must be an array or Buffer"),
    ],
    ids=["too-few", "too-many", "wrong-dtype", "array-as-scalar", "number-as-array"],
)
def test_argument_errors_raise_launch_error(args, message):
    with pytest.raises(LaunchError, match=message):
        copy[1, BLOCK](*args)


def test_calling_or_indexing_a_kernel_wrongly_raises_launch_error():
    with pytest.raises(LaunchError, match="launch kernel 'copy' as copy\\[grid, block\\]"):
        copy(np.zeros(1), np.zeros(1), 1)
    with pytest.raises(LaunchError, match="kernel\\[grid, block\\]"):
        copy[4]


@hg.kernel
def offsets(out: hg.Array[hg.float64], k: hg.Const[int] = -1, f: hg.Const[float] = -0.5):
    ...  # a body may start with `...`, as a placeholder does
    out[0] = k + f


def test_negative_const_defaults():
    assert [p.get("default") for p in offsets.params] == [None, -1, -0.5]
    out = np.zeros(1)
    offsets[1, 1](out, executor=hg.Executor(backend="reference"))
    assert out[0] == -1.5
