"""Lane mode hoists loads of never-written buffers at lane-invariant indices out of the lane
loop, and the hoisted kernels still compute what NumPy does."""

from __future__ import annotations

import numpy as np
import pytest

import hologram.ops as hops
from hologram.codegen.numba_source import render_numba
from hologram.isa.dtypes import DType
from hologram.ops._broadcast import Access, broadcast_layout
from hologram.ops._elementwise_kernels import elementwise_op, elementwise_program


def _lines_before_lane_loop(text: str) -> str:
    kernel = text[text.index("def kernel(") :]
    return kernel[: kernel.index("for lx in range(bdx):")]


def test_scalar_and_per_row_loads_leave_the_lane_loop():
    scalar = elementwise_program(
        elementwise_op("mul"), (DType.F32,) * 2, DType.F32, (Access.FULL, Access.SCALAR), 0
    )
    assert "= a1[" in _lines_before_lane_loop(render_numba(scalar).text)
    layout = broadcast_layout([(64, 32), (64, 1)], "test")
    assert layout.access == (Access.FULL, Access.ROW)
    row = elementwise_program(
        elementwise_op("add"), (DType.F32,) * 2, DType.F32, layout.access, layout.rank
    )
    head = _lines_before_lane_loop(render_numba(row).text)
    assert "= a1[" in head and "= a4[" in head  # the bias and the layout table


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((37, 300), (300,)), ((37, 300), (37, 1)), ((5, 7, 3), (7, 1)), ((9, 1, 4), (9, 6, 1))],
)
def test_two_d_launches_match_numpy(shape_a, shape_b, rng: np.random.Generator):
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    got = np.asarray(hops.sub(a, b))
    np.testing.assert_array_equal(got, (a.astype(np.float64) - b).astype(np.float32))
    got = np.asarray(hops.mul(b, np.float32(2.5) * a))
    np.testing.assert_array_equal(got, b * (np.float32(2.5) * a))
