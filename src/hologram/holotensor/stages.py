"""The optional stages of `BitPlane`: a Hadamard rotation of each group (for heavy-tailed
tensors) and a low-rank part (for tensors whose spectrum is concentrated).

The inverse of each stage is computed with elementwise NumPy operations in a fixed order, so
that every machine reconstructs the same bits: the exact residual is taken against it.
"""

from __future__ import annotations

import numpy as np

CREST_THRESHOLD = 3.2
"""Rotate when the mean group max / group rms exceeds this: a Gaussian group of 64 has about
2.4, so a larger value means outliers that set the group's scale and waste its levels."""
LOW_RANK_ENERGY = 0.9
LOW_RANK_MAX_SHARE = 0.05
"""A low-rank part pays when rank `r` holds `LOW_RANK_ENERGY` of the energy and its fp16
factors cost at most this share of the float32 tensor."""


def hadamard(groups: np.ndarray) -> np.ndarray:
    """Orthonormal Walsh-Hadamard transform of each row (length a power of two); it is its own
    inverse. Butterflies of adds and subtracts, so the result is the same on every machine."""
    rows, n = groups.shape
    # Transposed, each butterfly pairs whole contiguous rows of values (one per group): long
    # vector loops, between two buffers, rather than short strided ones and a stack per step.
    h = np.array(groups.T, np.float64, order="C")
    spare = np.empty_like(h)
    step = 1
    while step < n:
        src = h.reshape(n // (2 * step), 2, step, rows)
        dst = spare.reshape(n // (2 * step), 2, step, rows)
        np.add(src[:, 0], src[:, 1], out=dst[:, 0])
        np.subtract(src[:, 0], src[:, 1], out=dst[:, 1])
        h, spare = spare, h
        step *= 2
    return np.multiply(h.T, 1.0 / np.sqrt(n), out=np.empty((rows, n), np.float64))


def crest(groups: np.ndarray) -> float:
    """Mean over groups of max |x| / rms(x), ignoring all-zero groups."""
    peak = np.abs(groups).max(axis=1)
    rms = np.sqrt(np.mean(groups * groups, axis=1))
    live = rms > 0
    return float(np.mean(peak[live] / rms[live])) if live.any() else 0.0


def randomized_svd(
    matrix: np.ndarray, rank: int, seed: int, iterations: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leading `rank` singular triplets of `matrix` by randomized subspace iteration
    (Halko, Martinsson and Tropp): `(u, s, vt)`, exact when `rank` reaches the smaller side."""
    rows, cols = matrix.shape
    if rank >= min(rows, cols):
        u, s, vt = np.linalg.svd(matrix, full_matrices=False)
        return u[:, :rank], s[:rank], vt[:rank]
    sketch = min(min(rows, cols), rank + 10)
    q = np.random.default_rng(seed).standard_normal((cols, sketch))
    y = matrix @ q
    for _ in range(iterations):
        y, _ = np.linalg.qr(y)
        y = matrix @ (matrix.T @ y)
    q, _ = np.linalg.qr(y)
    u_small, s, vt = np.linalg.svd(q.T @ matrix, full_matrices=False)
    return (q @ u_small)[:, :rank], s[:rank], vt[:rank]


def choose_rank(matrix: np.ndarray, seed: int) -> int:
    """The rank of a low-rank part that pays for `matrix` (0 when none does)."""
    rows, cols = matrix.shape
    budget = int(LOW_RANK_MAX_SHARE * rows * cols * 4 / (2 * (rows + cols)))
    top = min(budget, 32, min(rows, cols) // 4)
    if top < 1:
        return 0
    total = float(np.sum(matrix * matrix))
    if total == 0:
        return 0
    _, s, _ = randomized_svd(matrix, top, seed)
    captured = np.cumsum(s * s) / total
    reach = np.flatnonzero(captured >= LOW_RANK_ENERGY)
    return int(reach[0]) + 1 if reach.size else 0


def low_rank_factors(matrix: np.ndarray, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """fp16 factors `(a, b)`, `rows x rank` and `cols x rank`, with `matrix ~ a @ b.T`."""
    u, s, vt = randomized_svd(matrix, rank, seed)
    root = np.sqrt(s)
    return (u * root).astype(np.float16), (vt.T * root).astype(np.float16)


def outer_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`a @ b.T` in float64 as a sum of outer products, in rank order: the same bits on every
    machine (a BLAS product may sum in another order)."""
    out = np.zeros((a.shape[0], b.shape[0]), np.float64)
    term = np.empty_like(out)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    for r in range(a.shape[1]):
        out += np.multiply.outer(a64[:, r], b64[:, r], out=term)
    return out
