"""Compiled float32 products cut into parts on several threads: the same bits as on one thread,
NumPy's float64 products, and the back-off that keeps them on one thread while that wins."""

from __future__ import annotations

from time import perf_counter

import numpy as np
import pytest

pytest.importorskip("numba", reason="the products are compiled by Numba")

from tests.backends._products import check, matmul_program, operands  # noqa: E402

from hologram.backends._cpu_direct import WIDTH, direct  # noqa: E402
from hologram.backends._cpu_gemm import KC, MR, NR, sgemm_dims, sgemm_serial  # noqa: E402
from hologram.backends._cpu_intrinsics import (  # noqa: E402
    SPLIT_PRODUCT_FLOPS,
    _configured_threads,
    _split_product,
    _wide_vectors,
)
from hologram.backends._cpu_split import (  # noqa: E402
    RETIME_EVERY,
    SplitProduct,
    run_parts,
    split_dims,
)
from hologram.backends.cpu import PARALLEL_WARMUP, CpuBackend  # noqa: E402
from hologram.backends.reference import ReferenceBackend  # noqa: E402
from hologram.isa.program import LaunchConfig  # noqa: E402

KERNELS = {"direct": direct, "packed": sgemm_serial}


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize(
    ("kernel", "batch", "m", "n", "k", "trans", "layout"),
    [
        ("direct", 1, 37, 70, 33, (False, False), "dense"),  # bands of rows
        ("direct", 1, 30, WIDTH + 9, 45, (True, False), "dense"),  # A^T
        ("direct", 3, 29, 21, 17, (False, False), "padded"),  # 3 entries: bands of each
        ("direct", 4, 5, WIDTH + 9, 45, (False, False), "padded"),  # whole entries
        ("direct", 8, 7, 13, 40, (False, True), "shared-b"),  # dot kernel, entries
        ("direct", 1, 40, 37, 70, (False, True), "dense"),  # dot kernel, bands
        ("packed", 1, 3 * MR + 5, NR + 7, KC + 9, (True, True), "dense"),
        ("packed", 3, 2 * MR + 1, NR - 3, 50, (False, True), "padded"),
    ],
)
def test_parts_give_the_one_thread_bits(rng, kernel, batch, m, n, k, trans, layout, parts):
    sa, sb = m * k, k * n
    if layout == "padded":
        sa, sb = sa + 7, sb + 11
    elif layout == "shared-b":
        sb = 0
    a, b, a_at, b_at, expected = operands(rng, batch, m, n, k, trans, (sa, sb), (3, 5))
    stride_c = m * n + 4
    dims = sgemm_dims(batch, m, n, k, a_at, b_at, (2, stride_c))
    table = np.stack(split_dims(dims, parts))
    assert len(table) > 1
    size = 2 + (batch - 1) * stride_c + m * n + 2
    whole, split = np.full(size, np.nan, np.float32), np.full(size, np.nan, np.float32)
    assert KERNELS[kernel](a, b, whole, dims) == 0
    assert run_parts(KERNELS[kernel], a, b, split, table) == 0
    np.testing.assert_array_equal(split, whole)  # NaN where nothing is written, in both
    check(split, 2, stride_c, expected, k)


def test_parts_cover_c_once(rng):
    # Every element of C belongs to exactly one part, for odd shapes and many part counts.
    for _ in range(40):
        batch, m, n = (int(x) for x in rng.integers(1, 40, 3))
        dims = sgemm_dims(batch, m, n, 3, (0, m * 3, 3, 1), (0, 3 * n, n, 1), (0, m * n + 1))
        owners = np.zeros(batch * (m * n + 1), np.int64)
        for record in split_dims(dims, int(rng.integers(1, 5))):
            for entry in range(int(record[0])):
                start = int(record[12] + entry * record[13])
                owners[start : start + int(record[1]) * n] += 1
                # A moves with C: the part's first row of A is the row of its first row of C.
                row = (start % (m * n + 1)) // n
                assert record[4] + entry * record[5] == (start // (m * n + 1)) * m * 3 + row * 3
        layout = owners.reshape(batch, m * n + 1)
        assert (layout[:, : m * n] == 1).all() and (layout[:, m * n] == 0).all()


def test_a_split_product_learns_from_its_launches(rng):
    m, n, k = 2 * MR + 7, 40, 30
    a, b, a_at, b_at, expected = operands(rng, 1, m, n, k, (False, False))
    product = SplitProduct(direct, sgemm_dims(1, m, n, k, a_at, b_at, (0, 0)), 2)
    if product.parts < 2:
        pytest.skip("Numba's pool has one thread")
    results = []
    for _ in range(2 + PARALLEL_WARMUP):  # two timed on one thread, then split, not judged
        c = np.zeros(m * n, np.float32)
        assert product(a, b, c) == 0
        results.append(c)
    timing = product.timing
    assert (timing.serial_runs, timing.parallel_runs, timing.held()) == (2, PARALLEL_WARMUP, False)
    for c in results[1:]:
        np.testing.assert_array_equal(c, results[0])
    check(results[0], 0, 0, expected, k)
    timing.held_until = perf_counter() + 3600.0  # as after a lost split launch: one thread
    for _ in range(3):
        product(a, b, np.zeros(m * n, np.float32))
    assert (timing.serial_runs, timing.parallel_runs) == (5, PARALLEL_WARMUP)
    timing.held_until = 0.0  # the hold has passed
    product(a, b, np.zeros(m * n, np.float32))
    assert timing.parallel_runs == PARALLEL_WARMUP + 1
    timing.held_until = 0.0  # whatever that judged launch taught (a busy machine holds it)
    product.since_serial = RETIME_EVERY  # then one on one thread, to retime it
    product(a, b, np.zeros(m * n, np.float32))
    assert (timing.serial_runs, timing.parallel_runs) == (6, PARALLEL_WARMUP + 1)
    assert product.since_serial == 0


def test_no_split_while_blas_workers_may_spin(rng):
    m, n, k = 2 * MR + 7, 40, 30
    a, b, a_at, b_at, _ = operands(rng, 1, m, n, k, (False, False))
    product = SplitProduct(direct, sgemm_dims(1, m, n, k, a_at, b_at, (0, 0)), 2, lambda: True)
    for _ in range(4):
        product(a, b, np.zeros(m * n, np.float32))
    assert (product.timing.serial_runs, product.timing.parallel_runs) == (4, 0)


@pytest.mark.skipif(not _wide_vectors(), reason="the compiled products run on AVX-512 hosts")
@pytest.mark.skipif(_configured_threads() < 2, reason="one thread configured")
def test_large_matmuls_run_split_and_start_no_quiet_time(rng):
    # Large enough to be cut: 2 * side^3 >= SPLIT_PRODUCT_FLOPS. Launches 3 and 4 are split.
    side = int(round((SPLIT_PRODUCT_FLOPS / 2) ** (1 / 3))) + 1
    at = ((0, 0, side, 1), (0, 0, side, 1), (0, 0))
    assert isinstance(_split_product(direct, sgemm_dims(1, side, side, side, *at)), SplitProduct)
    assert _split_product(direct, sgemm_dims(1, side // 2, side, side, *at)) is None  # small
    assert _split_product(direct, sgemm_dims(1, 1, side**2, side, *at)) is None  # one row
    program = matmul_program("split_product", 1, side, side, side, False, False, (0, 0, 0))
    left, right = (rng.standard_normal(side * side).astype(np.float32) for _ in range(2))
    expected = np.zeros(side * side, np.float32)
    ReferenceBackend().launch(program, LaunchConfig(), [left, right, expected])
    backend = CpuBackend()
    backend._intrinsic_finished = float("-inf")
    outputs = []
    for _ in range(4):
        out = np.zeros(side * side, np.float32)
        backend.launch(program, LaunchConfig(), [left, right, out])
        outputs.append(out)
    assert backend._intrinsic_finished == float("-inf")  # no BLAS workers left spinning
    for out in outputs[1:]:
        np.testing.assert_array_equal(out, outputs[0])
    np.testing.assert_allclose(outputs[0], expected, rtol=1e-4, atol=1e-3)
