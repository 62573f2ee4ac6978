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


def test_plane_values_are_hoisted_once_per_plane_and_row_values_once_per_row():
    """A value of the lane's z alone is computed inside the loop over z, ahead of the loop
    over y; one that also needs y inside that loop, ahead of the loop over x."""
    from hologram.isa import Builder

    b = Builder("planes")
    x, y = b.buffer("x", "f32"), b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    gx, gy, gz = b.sreg("global_id", 0), b.sreg("global_id", 1), b.sreg("global_id", 2)
    plane = b.mul(gz, b.imm(1000, "u32"))
    row = b.add(plane, b.mul(gy, n))
    with b.if_(b.setp("lt", gx, n)):
        i = b.add(row, gx)
        b.stg(y, i, b.ldg(x, i))
    text = render_numba(b.build()).text
    kernel = text[text.index("for blk in range(") :]
    z_loop, y_loop = kernel.index("for lz in range(bdz):"), kernel.index("for ly in range(bdy):")
    x_loop = kernel.index("for lx in range(bdx):")
    plane_line = kernel.index("(bz * bdz + lz)")
    row_line = kernel.index("(by * bdy + ly)")
    assert z_loop < plane_line < y_loop < row_line < x_loop
