"""The standard library's `softmax_rows` on every backend: rows of every length around its
eight-way loops, and rows holding NaN, infinities and the extremes of float32, against a NumPy
float64 oracle (a NaN or +inf anywhere in a row makes the whole row NaN, as in NumPy). The
tolerance is float32 rounding of `x - max`: 2**-24 relative to terms up to about 20 apart."""

from __future__ import annotations

import numpy as np
import pytest

import hologram as hg
from hologram.kernels.normalization.softmax_rows import softmax_rows

_BIG = 3.4e38


def oracle(rows: np.ndarray) -> np.ndarray:
    """The softmax of each row in float64, NaN wherever NumPy's formula gives NaN."""
    wide = rows.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(wide - wide.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def run_rows(executor, rows: np.ndarray) -> np.ndarray:
    """`softmax_rows` of each row of the float32 `rows`, out of place."""
    count, cols = rows.shape
    x = executor.from_numpy(rows.ravel())
    out = executor.zeros(rows.size, "f32")
    table = executor.from_numpy(np.zeros(1, np.int64))
    softmax_rows[hg.blocks(count, 64), 64](x, out, x, table, count, cols, 1.0)
    return out.to_numpy().reshape(count, cols)


@pytest.mark.parametrize("cols", [1, 7, 8, 33])
def test_softmax_rows_matches_float64(executor, rng, cols):
    rows = (rng.standard_normal((70, cols)) * 4).astype(np.float32)
    np.testing.assert_allclose(run_rows(executor, rows), oracle(rows), rtol=1e-5, atol=1e-30)


def test_softmax_rows_special_values(executor, rng):
    cols = 19  # two groups of eight and a tail
    rows = rng.uniform(-5, 5, (10, cols)).astype(np.float32)
    rows[0, 3] = np.nan  # in a group
    rows[1, 17] = np.nan  # in the tail
    rows[2, 0] = np.nan  # the first element, where the maximum starts
    rows[3, 9] = np.inf
    rows[4, :] = -np.inf
    rows[5, ::2] = -np.inf  # -inf terms are exact zeros
    rows[6, :] = _BIG  # equal extremes: a uniform row
    rows[7, :4] = [_BIG, -_BIG, _BIG, 0.0]
    rows[8, :] = -_BIG
    rows[9, 11] = 1e30  # one term takes it all
    got, want = run_rows(executor, rows), oracle(rows)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-30)
    assert np.array_equal(got[5, ::2], np.zeros(10, np.float32))
