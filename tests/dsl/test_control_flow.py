"""Control flow and funcs on every backend.

The oracle of most tests is the same source run by CPython: a `@hg.func` keeps its Python
function as `.fn`, so `lane.fn(i, ...)` computes what lane `i` must compute.
"""

from __future__ import annotations

import numpy as np
import pytest
from dsl_helpers import BLOCK, draw, instructions, launch

import hologram as hg

N = 40
M = 6


@hg.func
def counted(i, m):
    """for-range with positive, negative and unsigned steps, break and continue."""
    total = 0
    for k in range(i % 7):
        total += k
    for k in range(10, i % 5, -3):
        total += 2 * k
    for k in range(m - 1, -1, -1):  # m is unsigned: the counter still reaches 0
        if k == 3:
            continue
        total += k * 1000
    for a in range(3):
        for b in range(a, 4):
            if b == 2:
                break
            total += 10000 * (a + b)
    return total


@hg.func
def searched(i, x, n):
    """while loops with break and continue; early returns from inside nested loops."""
    j = 0
    hits = 0
    while True:
        j += 1
        if j > i % 4:
            break
        if j == 2:
            continue
        hits += 100
    k = 0
    while k < n and x[k] < 0.9:  # the load is guarded: k < n first
        k += 1
    for outer in range(3):
        for inner in range(n):
            if x[inner] > 0.5 + 0.1 * outer and inner >= i:
                return hits + inner * 10 + outer + k * 100000
    return hits - 1


@hg.func
def bumped(v):
    """Reassigns its parameter: the caller's variable must not change."""
    v = v + 1
    v *= 2
    return v


@hg.func
def nested(v):
    return bumped(v) + bumped(bumped(v))


@hg.func
def summed(x, n):
    """acc starts as a weak 0.0 and is widened to float64 by the adds."""
    acc = 0.0
    for k in range(n):
        acc += x[k]
    return acc


@hg.kernel
def control(x: hg.Array[hg.float64], ints: hg.Array[hg.int64], sums: hg.Array[hg.float64],
            n: hg.int32, m: hg.uint32):  # fmt: skip
    i = hg.global_id()
    if i >= n:
        return
    a = i
    b = bumped(a)
    ints[i] = counted(i, m)
    ints[n + i] = searched(i, x, n)
    ints[2 * n + i] = a * 1000 + b
    ints[3 * n + i] = nested(i)
    sums[i] = summed(x, i)


def test_loops_funcs_and_early_returns_match_python(executor, rng):
    x = draw(rng, N, "f64", 0, 1)
    ints = np.zeros(4 * N, np.int64)
    sums = np.zeros(N)
    launch(executor, control, BLOCK, x, ints, sums, N, M)
    for i in range(N):
        assert ints[i] == counted.fn(i, M), f"counted, lane {i}"
        assert ints[N + i] == searched.fn(i, x, N), f"searched, lane {i}"
        assert ints[2 * N + i] == i * 1000 + bumped.fn(i), f"bumped, lane {i}"
        assert ints[3 * N + i] == bumped.fn(i) + bumped.fn(bumped.fn(i)), f"nested, lane {i}"
        assert sums[i] == summed.fn(x, i), f"summed, lane {i}"  # the same f64 adds, in order


@hg.kernel
def accumulate(x: hg.Array, out: hg.Array, n: hg.int32):
    out[0] = summed(x, n)


@pytest.mark.parametrize(("dtype", "acc"), [("f64", "f64"), ("f16", "f16"), ("i32", "f32")])
def test_local_type_inference_unifies_the_accumulator(dtype, acc):
    # acc = 0.0 is a weak float: float64 adds widen it, an int32 one makes it float32.
    program = accumulate.specialize(x=dtype, out="f64")
    float_adds = {str(ins.dtype) for ins in instructions(program, "add")} - {"i32"}
    assert float_adds == {acc}


@hg.kernel
def early_exit(out: hg.Array[hg.int32], n: hg.int32):
    i = hg.global_id()
    out[i] = -2
    for k in range(n):
        if k == i:
            out[i] = k * 10
            return
    out[i] = -1


def test_kernel_return_inside_a_loop_ends_the_lane(executor):
    out = np.zeros(BLOCK, np.int32)
    launch(executor, early_exit, BLOCK, out, N)
    expected = np.where(np.arange(BLOCK) < N, np.arange(BLOCK) * 10, -1)
    np.testing.assert_array_equal(out, expected)


@hg.kernel
def branches(x: hg.Array, out: hg.Array, n: hg.int32):
    i = hg.global_id()
    if i < n:
        v = x[i]
        if v < -1:
            r = 0
        elif v < 0:
            r = 1
        elif v == 0:
            r = 2
        else:
            r = 3 if v < 1 else (4 if v < 2 else 5)
        out[i] = r + (x[i - 1] if i > 0 else 0.5) * 0


def test_if_elif_else_and_ternaries(executor, rng):
    x = draw(rng, N, "f32", -3, 3)
    x[:3] = [0.0, -0.0, -1.0]
    out = np.zeros(N, np.float32)
    launch(executor, branches, N, x, out, N)
    expected = np.select([x < -1, x < 0, x == 0, x < 1, x < 2], [0, 1, 2, 3, 4], 5)
    np.testing.assert_array_equal(out, expected)


@hg.kernel
def grid_ids(out: hg.Array[hg.int32], width: hg.int32, height: hg.int32):
    x = hg.global_id(0)
    y = hg.global_id(1)
    z = hg.global_id(2)
    if x < width and y < height:
        flat = (z * height + y) * width + x
        out[4 * flat] = hg.block_id(0) + 10 * hg.block_id(1) + 100 * hg.block_id(2)
        out[4 * flat + 1] = hg.lane_id(0) + 10 * hg.lane_id(1) + 100 * hg.lane_id(2)
        out[4 * flat + 2] = hg.block_dim(0) + 10 * hg.block_dim(1) + 100 * hg.block_dim(2)
        out[4 * flat + 3] = hg.grid_dim(0) + 10 * hg.grid_dim(1) + 100 * hg.grid_dim(2)


@pytest.mark.parametrize(
    ("grid", "block"), [((3, 2), (4, 4)), ((2, 2, 2), (4, 2, 2))], ids=["2d", "3d"]
)
def test_multi_dimensional_launches(executor, grid, block):
    grid3 = (*grid, 1, 1)[:3]
    block3 = (*block, 1, 1)[:3]
    width, height = grid3[0] * block3[0] - 1, grid3[1] * block3[1]
    depth = grid3[2] * block3[2]
    out = np.full(4 * width * height * depth, -1, np.int32)
    grid_ids[grid, block](out, width, height, executor=executor)
    got = out.reshape(depth, height, width, 4)
    zz, yy, xx = np.meshgrid(np.arange(depth), np.arange(height), np.arange(width), indexing="ij")

    def digits(a, b, c):
        return a + 10 * b + 100 * c

    np.testing.assert_array_equal(
        got[..., 0], digits(xx // block3[0], yy // block3[1], zz // block3[2])
    )
    np.testing.assert_array_equal(
        got[..., 1], digits(xx % block3[0], yy % block3[1], zz % block3[2])
    )
    np.testing.assert_array_equal(got[..., 2], digits(*block3))
    np.testing.assert_array_equal(got[..., 3], digits(*grid3))


@hg.func
def yes(v):
    return True


@hg.kernel
def logic_with_funcs(x: hg.Array, out: hg.Array[hg.int32], n: hg.int32):
    i = hg.global_id()
    if i < n:
        v = x[i]
        # The right operands call funcs (so they are evaluated only when needed) that
        # return constants.
        out[i] = (v > 0 and yes(v)) + 2 * (v > 0 or not yes(v)) + 4 * (v < 0 and not yes(v))


def test_short_circuit_operands_that_fold_to_constants(executor, rng):
    x = draw(rng, N, "f32")
    out = np.zeros(N, np.int32)
    launch(executor, logic_with_funcs, N, x, out, N)
    np.testing.assert_array_equal(out, (x > 0) * 1 + (x > 0) * 2)
