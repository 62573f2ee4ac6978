"""Shared memory, barriers, block reductions and atomics on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from dsl_helpers import BLOCK, assert_close, draw, launch

import hologram as hg

TILE = 8


@hg.kernel
def reverse_blocks(x: hg.Array, out: hg.Array):
    tile = hg.shared(BLOCK, x.dtype)
    lane = hg.lane_id()
    i = hg.global_id()
    tile[lane] = x[i]
    hg.barrier()
    out[i] = tile[BLOCK - 1 - lane]


def test_shared_1d_reverses_each_block(executor, rng):
    x = draw(rng, 3 * BLOCK, "f32")
    out = np.zeros_like(x)
    launch(executor, reverse_blocks, x.size, x, out)
    np.testing.assert_array_equal(out, x.reshape(3, BLOCK)[:, ::-1].ravel())


@hg.kernel
def transpose(x: hg.Array, out: hg.Array, rows: hg.int32, cols: hg.int32):
    tile = hg.shared((TILE, TILE + 1), x.dtype)  # one column of padding, as on a GPU
    tx = hg.lane_id(0)
    ty = hg.lane_id(1)
    c = hg.block_id(0) * TILE + tx
    r = hg.block_id(1) * TILE + ty
    if r < rows and c < cols:
        tile[ty, tx] = x[r * cols + c]
    hg.barrier()
    c = hg.block_id(1) * TILE + tx
    r = hg.block_id(0) * TILE + ty
    if r < cols and c < rows:
        out[r * rows + c] = tile[tx, ty]


def test_shared_2d_transposes_through_tiles(executor, rng):
    rows, cols = 13, 20
    x = draw(rng, rows * cols, "i32", -100, 100)
    out = np.zeros_like(x)
    grid = (-(-cols // TILE), -(-rows // TILE))
    transpose[grid, (TILE, TILE)](x, out, rows, cols, executor=executor)
    np.testing.assert_array_equal(out.reshape(cols, rows), x.reshape(rows, cols).T)


@hg.kernel
def reductions(x: hg.Array, out: hg.Array, n: hg.int32):
    i = hg.global_id()
    inside = i < n
    v = x[min(i, n - 1)]  # every lane loads; lanes past the end contribute neutral values
    first = x[hg.block_id() * hg.block_dim()]  # in range for every block: neutral for min/max
    total = hg.block_sum(hg.select(inside, v, 0))
    product = hg.block_prod(hg.select(inside, v, 1))
    low = hg.block_min(hg.select(inside, v, first))
    high = hg.block_max(v if inside else first)
    active = hg.block_sum(inside)
    if hg.lane_id() == 0:
        b = hg.block_id()
        out[5 * b] = total
        out[5 * b + 1] = product
        out[5 * b + 2] = low
        out[5 * b + 3] = high
        out[5 * b + 4] = active


@pytest.mark.parametrize("dtype", ["f32", pytest.param("i32", marks=pytest.mark.slow)])
def test_every_block_reduction(executor, rng, dtype):
    n = 2 * BLOCK + 22
    if dtype == "i32":
        x = rng.choice(np.array([-1, 1], np.int32), size=n)
        x[rng.choice(n, 6, replace=False)] = 3
    else:
        x = draw(rng, n, dtype, 0.9, 1.1)
    out = np.zeros(15, x.dtype)
    launch(executor, reductions, n, x, out, n)
    got = out.reshape(3, 5)
    for b in range(3):
        part = x[b * BLOCK : (b + 1) * BLOCK].astype(np.float64)
        expected = [part.sum(), part.prod(), part.min(), part.max(), part.size]
        assert_close(got[b], np.array(expected), dtype)


@hg.kernel
def atomics(x: hg.Array, counter: hg.Array[hg.int32], olds: hg.Array[hg.int32],
            extremes: hg.Array, total: hg.Array, slot: hg.Array[hg.int32],
            swapped: hg.Array[hg.int32], n: hg.int32):  # fmt: skip
    i = hg.global_id()
    if i < n:
        olds[i] = hg.atomic_add(counter, 0, 1)
        hg.atomic_min(extremes, 0, x[i])
        hg.atomic_max(extremes, 1, x[i])
        hg.atomic_add(total, 0, x[i])
        swapped[i] = hg.atomic_exch(slot, 0, i)


@pytest.mark.parametrize("dtype", ["f32", "i32"])
def test_atomics_update_and_return_the_old_value(executor, rng, dtype):
    n = 3 * BLOCK - 5
    x = draw(rng, n, dtype, -1000, 1000)
    counter, olds = np.zeros(1, np.int32), np.full(n, -1, np.int32)
    extremes = np.array([1e6, -1e6], x.dtype)
    total = np.zeros(1, x.dtype)
    slot, swapped = np.full(1, -1, np.int32), np.zeros(n, np.int32)
    launch(executor, atomics, n, x, counter, olds, extremes, total, slot, swapped, n)
    assert counter[0] == n
    np.testing.assert_array_equal(np.sort(olds), np.arange(n))  # each old value seen once
    np.testing.assert_array_equal(extremes, [x.min(), x.max()])
    tolerance = 1e-3 if dtype == "f32" else 0  # the order of the float adds is free
    np.testing.assert_allclose(total[0], x.astype(np.float64).sum(), rtol=tolerance)
    chain = np.sort(np.concatenate([swapped, slot]))
    np.testing.assert_array_equal(chain, np.arange(-1, n))  # exchanges form one chain


def test_discarded_atomic_results_allocate_no_register():
    program = atomics.specialize(x="f32", extremes="f32", total="f32")
    atoms = [ins for ins in program.instructions if ins.op.value == "atom"]
    assert [ins.dst is not None for ins in atoms] == [True, False, False, False, True]
