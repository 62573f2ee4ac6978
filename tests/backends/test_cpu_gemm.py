"""The packed float32 product of the cpu backend against NumPy in float64, and through MATMUL."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba", reason="the packed product is compiled by Numba")

from tests.backends._products import batch_strides, check, matmul_program, operands  # noqa: E402

from hologram.backends._cpu_gemm import KC, MR, NR, sgemm, sgemm_dims  # noqa: E402
from hologram.backends.cpu import CpuBackend  # noqa: E402
from hologram.backends.reference import ReferenceBackend  # noqa: E402
from hologram.errors import MemoryAccessError  # noqa: E402
from hologram.isa.builder import Builder  # noqa: E402
from hologram.isa.program import LaunchConfig  # noqa: E402

SHAPES = [
    (1, 1, 1),
    (MR, NR, 1),
    (MR, NR, KC),
    (MR + 1, NR + 1, KC + 1),
    (2 * MR - 1, NR - 1, 7),
    (5, 3, 2 * KC + 5),
    (37, 70, 33),
    (100, 33, 300),
]


@pytest.mark.parametrize("trans", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
def test_single_products_match_numpy(rng, m, n, k, trans):
    a, b, a_at, b_at, expected = operands(rng, 1, m, n, k, trans, (0, 0), (0, 0))
    c = np.full(m * n + 2, np.nan, np.float32)
    assert sgemm(a, b, c, sgemm_dims(1, m, n, k, a_at, b_at, (0, 0)))
    check(c, 0, 0, expected, k)
    assert np.isnan(c[-2:]).all()  # nothing written past C


@pytest.mark.parametrize(
    ("strides", "offsets"),
    [("dense", (0, 0)), ("padded", (3, 5)), ("shared-a", (0, 2)), ("shared-b", (1, 0))],
)
@pytest.mark.parametrize("trans_b", [False, True])
def test_batched_products_match_numpy(rng, strides, offsets, trans_b):
    batch, m, n, k = 3, 2 * MR + 5, NR + 9, 45
    sa, sb = batch_strides(strides, m, n, k)
    a, b, a_at, b_at, expected = operands(rng, batch, m, n, k, (False, trans_b), (sa, sb), offsets)
    stride_c = m * n + 4
    c = np.zeros(2 + (batch - 1) * stride_c + m * n, np.float32)
    assert sgemm(a, b, c, sgemm_dims(batch, m, n, k, a_at, b_at, (2, stride_c)))
    check(c, 2, stride_c, expected, k)


def test_non_finite_values_propagate_like_numpy(rng):
    m, n, k = MR + 3, NR + 5, 20
    a = rng.standard_normal(m * k).astype(np.float32)
    b = rng.standard_normal(k * n).astype(np.float32)
    a[5], b[7] = np.inf, np.nan
    c = np.zeros(m * n, np.float32)
    assert sgemm(a, b, c, sgemm_dims(1, m, n, k, (0, 0, k, 1), (0, 0, n, 1), (0, 0)))
    with np.errstate(all="ignore"):
        expected = a.reshape(m, k).astype(np.float64) @ b.reshape(k, n)
    np.testing.assert_array_equal(np.isnan(c.reshape(m, n)), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(c.reshape(m, n)), np.isinf(expected))


def test_it_refuses_what_it_cannot_run_and_writes_nothing(rng):
    m, n, k = MR, NR, 8
    dims = sgemm_dims(1, m, n, k, (0, 0, k, 1), (0, 0, n, 1), (0, 0))
    a = rng.standard_normal(m * k).astype(np.float32)
    b = rng.standard_normal(k * n).astype(np.float32)
    c = np.full(m * n, 7.0, np.float32)
    assert not sgemm(a[:-1], b, c, dims)  # A too short
    assert not sgemm(a, b, c[:-1], dims)  # C too short
    assert not sgemm(a, np.repeat(b, 2)[::2], c, dims)  # B not contiguous
    shared = np.concatenate([a, np.zeros(m * n, np.float32)])
    assert not sgemm(shared, b, shared[m * k :], dims)  # C inside A's buffer
    assert (c == 7.0).all()


@pytest.mark.parametrize("bound", [False, True], ids=["launch", "bound-launch"])
@pytest.mark.parametrize("trans", [(False, False), (True, True)])
def test_matmul_instructions_take_it_and_match_the_reference(rng, bound, trans):
    batch, m, n, k = 2, 3 * MR + 1, NR + 3, 50
    strides = (m * k + 5, k * n, m * n + 2)
    program = matmul_program(f"packed_{bound}_{trans}", batch, m, n, k, *trans, strides)
    sizes = [(batch - 1) * s + size for s, size in zip(strides, (m * k, k * n, m * n), strict=True)]
    left, right = (rng.standard_normal(size).astype(np.float32) for size in sizes[:2])
    out, expected = np.zeros(sizes[2], np.float32), np.zeros(sizes[2], np.float32)
    backend = CpuBackend()
    if bound:
        backend.bind_slotted_launch(program, LaunchConfig(), [None, right, None], [0, 2])(left, out)
    else:
        backend.launch(program, LaunchConfig(), [left, right, out])
    ReferenceBackend().launch(program, LaunchConfig(), [left, right, expected])
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(MemoryAccessError, match="operand C needs"):
        backend.launch(program, LaunchConfig(), [left, right, out[:-1]])


def test_a_product_into_its_own_operand_matches_the_reference(rng):
    # C is A's buffer: the packed product refuses, and NumPy's copy keeps the result right.
    m = n = k = 2 * NR
    program = matmul_program("packed_in_place", 1, m, n, k, False, False, (0, 0, 0))
    left = rng.standard_normal(m * k).astype(np.float32)
    right = rng.standard_normal(k * n).astype(np.float32)
    expected = left.copy()
    ReferenceBackend().launch(program, LaunchConfig(), [expected, right, expected])
    CpuBackend().launch(program, LaunchConfig(), [left, right, left])
    np.testing.assert_allclose(left, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("groups", [1, 2])
def test_convolutions_take_it_and_match_the_reference(rng, groups):
    n, c, h, w, k, r, s = 2, 4, 9, 7, 40, 3, 3
    b = Builder(f"packed_conv_{groups}")
    x, weight = b.buffer("x", "f32"), b.buffer("w", "f32")
    y, bias = b.buffer("y", "f32", access="readwrite"), b.buffer("bias", "f32")
    attrs = dict(n=n, c=c, h=h, w=w, k=k, r=r, s=s, groups=groups, pad=(1, 0, 1, 2))
    b.conv2d(x, weight, y, bias, **attrs)
    program = b.build()
    oh, ow = h + 2 - r + 1, w + 2 - s + 1
    inputs = [
        rng.standard_normal(n * c * h * w).astype(np.float32),
        rng.standard_normal(k * (c // groups) * r * s).astype(np.float32),
    ]
    bias_values = rng.standard_normal(k).astype(np.float32)
    out, expected = np.zeros(n * k * oh * ow, np.float32), np.zeros(n * k * oh * ow, np.float32)
    CpuBackend().launch(program, LaunchConfig(), [*inputs, out, bias_values])
    ReferenceBackend().launch(program, LaunchConfig(), [*inputs, expected, bias_values])
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
