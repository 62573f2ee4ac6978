"""Lane mode's flat loop for 1-D launches (`numba_lane.render_flat_lanes`), checked as text."""

from __future__ import annotations

from hologram.codegen import render_numba
from hologram.codegen.numba_lane import flat_launch_applies
from hologram.isa import Builder
from hologram.isa.opcodes import Op


def bounded_copy(sreg: str = "global_id", math: bool = True) -> Builder:
    """y[i] = exp(x[i]) (x[i] without `math`) for i < n, i read as the special register `sreg`
    along x."""
    b = Builder(f"copy_{sreg}_{math}")
    x, y = b.buffer("x", "f32"), b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.sreg(sreg, 0)
    with b.if_(b.setp("lt", i, n)):
        value = b.ldg(x, i)
        b.stg(y, i, b.unary(Op.EXP, value) if math else value)
    return b


def test_a_lane_that_sees_x_only_through_global_id_gets_one_loop_over_global_x():
    program = bounded_copy().build()
    assert flat_launch_applies(program)
    text = render_numba(program).text
    flat = text.index("if gdy == 1 and gdz == 1 and bdy == 1 and bdz == 1:")
    loop = text.index("for gx in range(first_block * bdx, fast * bdx):")
    blocks = text.index("for blk in range(first_block, last_block):")
    assert flat < loop < blocks  # the flat loop runs first; the block loop takes the rest
    assert "r0 = np.uint32(gx)" in text
    assert text.index("first_block = fast") < blocks
    compile(text, "<copy>", "exec")


def test_the_flat_loop_starts_at_the_guard_of_the_last_block_that_passes():
    text = render_numba(bounded_copy().build()).text
    search = text[text.index("fast = last_block") : text.index("for gx in range(")]
    assert "while fast > first_block:" in search and "fast -= 1" in search
    assert "bx = fast - 1" in search


def test_lanes_that_read_their_block_or_lane_x_keep_the_block_loop_only():
    for sreg in ("block_id", "lane_id"):
        program = bounded_copy(sreg).build()
        assert not flat_launch_applies(program)
        text = render_numba(program).text
        assert "for gx in range(" not in text
        assert "for lx in range(bdx):" in text


def test_bodies_without_math_functions_keep_the_block_loop_only():
    # The flat loop renders the body twice (compile time); plain arithmetic gains nothing.
    program = bounded_copy(math=False).build()
    assert not flat_launch_applies(program)
    text = render_numba(program).text
    assert "for gx in range(" not in text
    assert "for blk in range(first_block, last_block):" in text
