"""Broadcasting on random shapes: the collapsed layouts against NumPy, and the ops end to end."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from ops_helpers import assert_close, f64

import hologram.ops as hops
from hologram.kernels._elementwise import MAGIC
from hologram.ops._broadcast import Access, broadcast_layout

SHAPES = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


def _gather(shape, layout, k):
    """Read input k at every output index as a kernel does: indexed ones through the table of
    the 2-D launch (x along the last collapsed dimension, y over the rows)."""
    index = np.arange(layout.size, dtype=np.uint64)
    if layout.access[k] is Access.FULL:
        return index
    if layout.access[k] is Access.SCALAR:
        return np.zeros_like(index)
    table, rank = layout.table.astype(np.uint64), layout.rank
    n = np.uint64(layout.row_length)
    row, col = index // n, index % n
    assert table[0] == layout.size // layout.row_length
    base = 1 + MAGIC * (rank - 1) + rank * k
    coefficients = table[base : base + rank]
    offset = np.zeros_like(index)
    if rank > 1:
        offset += row * coefficients[rank - 2]
    for d in range(rank - 2):
        low, high, shift = table[1 + MAGIC * d : 1 + MAGIC * (d + 1)]
        quotient = (((row * low) >> np.uint64(32)) + row * high) >> shift
        offset += quotient * coefficients[d]
    if layout.access[k] is Access.LINE:
        assert coefficients[-1] == 1
        offset += col
    elif layout.access[k] is Access.ROW:
        assert coefficients[-1] == 0
    else:
        offset += col * coefficients[-1]
    return offset % 2**32  # the kernels' u32 arithmetic


@settings(max_examples=200, deadline=None)
@given(SHAPES)
def test_layout_reads_what_numpy_broadcasting_reads(shapes):
    (shape_a, shape_b), out = shapes
    layout = broadcast_layout([shape_a, shape_b], "test")
    assert layout.shape == out
    for k, shape in enumerate((shape_a, shape_b)):
        values = np.arange(int(np.prod(shape))).reshape(shape)
        expected = np.broadcast_to(values, out).reshape(-1)
        np.testing.assert_array_equal(values.reshape(-1)[_gather(shape, layout, k)], expected)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(shapes=SHAPES, seed=st.integers(0, 2**32 - 1), transpose=st.booleans())
def test_binary_op_broadcasts_like_numpy(executor, shapes, seed, transpose):
    (shape_a, shape_b), out = shapes
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape_a)
    b = rng.standard_normal(shape_b[::-1]).T if transpose else rng.standard_normal(shape_b)
    assert_close(hops.maximum(a, b, executor=executor), np.maximum(f64(a), f64(b)), "f64")


def test_high_rank_strided_reads_take_the_loop(executor):
    # Alternating broadcast dims do not merge: collapsed ranks 5 and 6 (the unrolled part and
    # the loop of `strided_offset`), with prime sides so that no pitch is a power of two.
    rng = np.random.default_rng(5)
    for shape_a, shape_b in [
        ((2, 1, 3, 1, 5), (1, 7, 1, 3, 1)),
        ((3, 1, 5, 1, 7, 1), (1, 2, 1, 3, 1, 5)),
    ]:
        a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        assert broadcast_layout([shape_a, shape_b], "test").rank == len(shape_a)
        assert_close(hops.sub(a, b, executor=executor), f64(a) - f64(b), "f64")
