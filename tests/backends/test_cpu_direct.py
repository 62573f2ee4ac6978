"""The direct float32 products of the cpu backend against NumPy in float64, and through MATMUL."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba", reason="the direct products are compiled by Numba")

from tests.backends._products import batch_strides, check, matmul_program, operands  # noqa: E402

from hologram.backends._cpu_direct import (  # noqa: E402
    DOT_COLS,
    LANES,
    ROWS,
    WIDTH,
    direct_product,
)
from hologram.backends._cpu_gemm import sgemm_dims  # noqa: E402
from hologram.backends._cpu_intrinsics import _float32_kernel, _wide_vectors  # noqa: E402
from hologram.backends.cpu import CpuBackend  # noqa: E402
from hologram.backends.reference import ReferenceBackend  # noqa: E402
from hologram.errors import MemoryAccessError  # noqa: E402
from hologram.isa.dtypes import DType  # noqa: E402
from hologram.isa.program import LaunchConfig  # noqa: E402

ROW_COUNTS = [1, 2, 3, ROWS - 1, ROWS, ROWS + 1, 2 * ROWS + 1, 23]
WIDTHS = [1, LANES - 1, LANES + 1, DOT_COLS + 3, WIDTH, WIDTH + 5]
DEPTHS = [0, 1, LANES - 1, LANES, LANES + 1, 3 * LANES + 7]


@pytest.mark.parametrize("trans_b", [False, True], ids=["B", "B^T"])
@pytest.mark.parametrize("m", ROW_COUNTS)
def test_edge_sizes_match_numpy(rng, m, trans_b):
    for n in WIDTHS:
        for k in DEPTHS:
            a, b, a_at, b_at, expected = operands(rng, 1, m, n, k, (False, trans_b))
            c = np.full(m * n + 2, np.nan, np.float32)
            assert direct_product(a, b, c, sgemm_dims(1, m, n, k, a_at, b_at, (0, 0)))
            check(c, 0, 0, expected, k)
            assert np.isnan(c[-2:]).all(), (m, n, k)  # nothing written past C


@pytest.mark.parametrize(
    ("trans", "m", "pitch"),
    [
        ((True, False), 7, (5, 3)),
        ((True, False), 1, (5, 3)),
        ((True, True), 1, (0, 3)),  # one row of A^T, contiguous: the ISA's layout for m = 1
        ((False, False), 9, (5, 3)),
        ((False, True), 9, (5, 3)),
    ],
    ids=["A^T B", "a^T B", "a^T B^T", "B", "B^T"],
)
def test_transposes_and_row_pitches_match_numpy(rng, trans, m, pitch):
    n, k = 37, 70
    a, b, a_at, b_at, expected = operands(rng, 1, m, n, k, trans, pitch=pitch)
    c = np.zeros(m * n, np.float32)
    assert direct_product(a, b, c, sgemm_dims(1, m, n, k, a_at, b_at, (0, 0)))
    check(c, 0, 0, expected, k)


@pytest.mark.parametrize(
    ("layout", "offsets"),
    [("dense", (0, 0)), ("padded", (3, 5)), ("shared-a", (0, 2)), ("shared-b", (1, 0))],
)
@pytest.mark.parametrize("trans_b", [False, True], ids=["B", "B^T"])
def test_batched_products_match_numpy(rng, layout, offsets, trans_b):
    batch, m, n, k = 3, 5, WIDTH + 9, 45
    sa, sb = batch_strides(layout, m, n, k)
    trans = (False, trans_b)
    a, b, a_at, b_at, expected = operands(rng, batch, m, n, k, trans, (sa, sb), offsets)
    stride_c = m * n + 4
    c = np.zeros(2 + (batch - 1) * stride_c + m * n, np.float32)
    assert direct_product(a, b, c, sgemm_dims(batch, m, n, k, a_at, b_at, (2, stride_c)))
    check(c, 2, stride_c, expected, k)


@pytest.mark.parametrize("trans_b", [False, True], ids=["B", "B^T"])
def test_non_finite_values_propagate_like_numpy(rng, trans_b):
    m, n, k = 3, 21, 2 * LANES + 3
    a, b, a_at, b_at, _ = operands(rng, 1, m, n, k, (False, trans_b))
    a[k + 4], a[2 * k + 33], b[7] = np.inf, -np.inf, np.nan  # one inf in a masked last step
    c = np.zeros(m * n, np.float32)
    assert direct_product(a, b, c, sgemm_dims(1, m, n, k, a_at, b_at, (0, 0)))
    right = b[: k * n].astype(np.float64)
    right = right.reshape(n, k).T if trans_b else right.reshape(k, n)
    with np.errstate(all="ignore"):
        expected = a[: m * k].reshape(m, k).astype(np.float64) @ right
    got = c.reshape(m, n)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("trans_b", [False, True], ids=["B", "B^T"])
def test_it_refuses_what_it_cannot_run_and_writes_nothing(rng, trans_b):
    m, n, k = 4, 20, 24
    a, b, a_at, b_at, _ = operands(rng, 1, m, n, k, (False, trans_b))
    a, b = a[: m * k], b[: k * n]
    dims = sgemm_dims(1, m, n, k, a_at, b_at, (0, 0))
    c = np.full(m * n, 7.0, np.float32)
    assert not direct_product(a[:-1], b, c, dims)  # A too short
    assert not direct_product(a, b[:-1], c, dims)  # B too short
    assert not direct_product(a, b, c[:-1], dims)  # C too short
    assert not direct_product(a, np.repeat(b, 2)[::2], c, dims)  # B not contiguous
    shared = np.concatenate([a, np.zeros(m * n, np.float32)])
    assert not direct_product(shared, b, shared[m * k :], dims)  # C inside A's buffer
    assert not direct_product(a, b, c, sgemm_dims(1, m, n, k, (-1, 0, k, 1), b_at, (0, 0)))
    both = sgemm_dims(1, m, n, k, (0, 0, 1, m), (0, 0, 1, k), (0, 0))
    assert not direct_product(a, b, c, both)  # A^T B^T with several rows: no layout for it
    assert (c == 7.0).all()


@pytest.mark.parametrize("bound", [False, True], ids=["launch", "bound-launch"])
@pytest.mark.parametrize(
    ("batch", "m", "n", "k", "trans"),
    [(1, 1, 10, 64, (False, True)), (2, 5, 70, 33, (False, False)), (1, 7, 9, 40, (True, False))],
    ids=["vector-W^T", "batched-B", "A^T-B"],
)
def test_matmul_instructions_match_the_reference(rng, bound, batch, m, n, k, trans):
    strides = (m * k + 5, k * n, m * n + 2)
    program = matmul_program(f"direct_{bound}_{batch}_{m}", batch, m, n, k, *trans, strides)
    sizes = [(batch - 1) * s + size for s, size in zip(strides, (m * k, k * n, m * n), strict=True)]
    left, right = (rng.standard_normal(size).astype(np.float32) for size in sizes[:2])
    out, expected = np.zeros(sizes[2], np.float32), np.zeros(sizes[2], np.float32)
    backend = CpuBackend()
    if bound:
        launch = backend.bind_slotted_launch(program, LaunchConfig(), [None, right, None], [0, 2])
        launch(left, out)
        fresh = np.zeros_like(out)
        launch(left.copy(), fresh)  # fresh arrays in the same slots
        np.testing.assert_array_equal(fresh, out)
    else:
        backend.launch(program, LaunchConfig(), [left, right, out])
    ReferenceBackend().launch(program, LaunchConfig(), [left, right, expected])
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(MemoryAccessError, match="operand C needs"):
        backend.launch(program, LaunchConfig(), [left, right, out[:-1]])


@pytest.mark.skipif(not _wide_vectors(), reason="the compiled products run on AVX-512 hosts")
def test_products_take_the_kernel_that_wins_here():
    from hologram.backends._cpu_direct import direct
    from hologram.backends._cpu_gemm import sgemm_serial

    assert _float32_kernel(DType.F32, 1, 256, 64, False, True) is direct  # a vector times W^T
    assert _float32_kernel(DType.F32, 4096, 384, 384, False, False) is direct
    assert _float32_kernel(DType.F32, 4096, 384, 384, False, True) is sgemm_serial
    assert _float32_kernel(DType.F32, 8, 384, 384, True, True) is None  # no layout for it
    assert _float32_kernel(DType.F32, 1, 1536, 1536, False, False) is None  # memory-bound
    assert _float32_kernel(DType.F64, 8, 64, 64, False, False) is None
