"""Helpers shared by the float32 product tests: operands with their float64 products, the check
against them, and a one-instruction MATMUL program."""

from __future__ import annotations

import numpy as np

from hologram.isa.builder import Builder
from hologram.isa.program import Program


def operands(rng, batch, m, n, k, trans, strides=None, offsets=(0, 0), pitch=(0, 0)):  # type: ignore[no-untyped-def]
    """Flat A and B (random, with slack around and between rows), their `sgemm_dims` places
    and the float64 products they hold. `pitch` widens A's and B's rows (the step between
    rows of a row-major matrix, or between columns of a transposed one)."""
    trans_a, trans_b = trans
    lead_a = (m if trans_a else k) + pitch[0]
    lead_b = (k if trans_b else n) + pitch[1]
    size_a = (k if trans_a else m) * lead_a
    size_b = (n if trans_b else k) * lead_b
    sa, sb = strides if strides is not None else (size_a, size_b)
    oa, ob = offsets
    a = rng.standard_normal(oa + (batch - 1) * sa + size_a + 3).astype(np.float32)
    b = rng.standard_normal(ob + (batch - 1) * sb + size_b + 3).astype(np.float32)
    expected = []
    for i in range(batch):
        left = a[oa + i * sa : oa + i * sa + size_a].astype(np.float64)
        right = b[ob + i * sb : ob + i * sb + size_b].astype(np.float64)
        left = left.reshape(k, lead_a)[:, :m].T if trans_a else left.reshape(m, lead_a)[:, :k]
        right = right.reshape(n, lead_b)[:, :k].T if trans_b else right.reshape(k, lead_b)[:, :n]
        expected.append(left @ right)
    a_at = (oa, sa, 1, lead_a) if trans_a else (oa, sa, lead_a, 1)
    b_at = (ob, sb, 1, lead_b) if trans_b else (ob, sb, lead_b, 1)
    return a, b, a_at, b_at, expected


def check(c, offset, stride, expected, k):  # type: ignore[no-untyped-def]
    """C's matrices (row-major, `stride` apart from `offset`) against the float64 products."""
    m, n = expected[0].shape
    for i, product in enumerate(expected):
        got = c[offset + i * stride : offset + i * stride + m * n].reshape(m, n)
        np.testing.assert_allclose(got, product, rtol=1e-4, atol=1e-5 * max(1.0, np.sqrt(k)))


def matmul_program(name, batch, m, n, k, trans_a, trans_b, strides) -> Program:  # type: ignore[no-untyped-def]
    """A program of one float32 MATMUL instruction: C = op(A) @ op(W), buffers a, w, c."""
    b = Builder(name)
    a, w = b.buffer("a", "f32"), b.buffer("w", "f32")
    c = b.buffer("c", "f32", access="readwrite")
    stride_a, stride_b, stride_c = strides
    b.matmul(a, w, c, batch=batch, m=m, n=n, k=k, trans_a=trans_a, trans_b=trans_b,
             stride_a=stride_a, stride_b=stride_b, stride_c=stride_c)  # fmt: skip
    return b.build()


def batch_strides(layout: str, m: int, n: int, k: int) -> tuple[int, int]:
    """A's and B's batch strides for a layout of the batched-product tests: "dense", "padded"
    (gaps between entries), "shared-a" or "shared-b" (one matrix for every entry: stride 0)."""
    sa, sb = m * k, k * n
    if layout == "padded":
        sa, sb = sa + 7, sb + 11
    elif layout == "shared-a":
        sa = 0
    elif layout == "shared-b":
        sb = 0
    return sa, sb
