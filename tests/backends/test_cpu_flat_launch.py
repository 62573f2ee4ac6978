"""1-D launches on the cpu backend run their blocks as one flat loop over global x: the same
results as the block loop and the reference backend, for every block range and guard."""

from __future__ import annotations

import numpy as np
import pytest

from hologram.backends import availability
from hologram.backends.reference import ReferenceBackend
from hologram.isa import Builder, LaunchConfig, Op

pytestmark = pytest.mark.skipif(not availability("cpu")[0], reason="numba is not installed")


@pytest.fixture(scope="module")
def backend():
    import hologram.backends.cpu as cpu

    return cpu.CpuBackend()


def scaled_tanh():
    """y[i] = tanh(x[i]) * 2 for i < n."""
    b = Builder("flat_tanh")
    x, y = b.buffer("x", "f32"), b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.mul(b.unary(Op.TANH, b.ldg(x, i)), 2.0))
    return b.build()


def numbered():
    """Each lane takes a ticket from one counter (atomic add) and stores it at its index."""
    b = Builder("flat_tickets")
    counter = b.buffer("counter", "u32", access="readwrite")
    y = b.buffer("y", "u32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.atom("add", counter, 0, 1, want_old=True))
    return b.build()


@pytest.mark.parametrize("size", [1, 31, 32, 33, 1000, 4096])
def test_a_guarded_1d_launch_matches_the_reference(backend, rng, size):
    program = scaled_tanh()
    config = LaunchConfig.for_elements(size, 32)
    x = rng.standard_normal(size + 5).astype(np.float32)  # lanes past n must not write
    got, want = np.full_like(x, -7.0), np.full_like(x, -7.0)
    backend.launch(program, config, [x, got, size])
    ReferenceBackend().launch(program, config, [x, want, size])
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)
    assert np.all(got[size:] == -7.0)
    oracle = 2.0 * np.tanh(x[:size].astype(np.float64))
    np.testing.assert_allclose(got[:size], oracle, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("first, last", [(0, 10), (3, 10), (3, 7), (9, 10), (10, 10)])
def test_any_block_range_of_the_kernel_covers_exactly_its_lanes(backend, rng, first, last):
    # The parallel entry hands each thread a block range; blocks at or past n take the block
    # loop, those before it the flat loop.
    program = scaled_tanh()
    kernel = backend.compile(program)
    size, lanes = 300, 32  # 10 blocks, the last one partial
    x = rng.standard_normal(size).astype(np.float32)
    got = np.full_like(x, -7.0)
    status = kernel.function(first, last, 10, 1, 1, lanes, 1, 1, x, got, np.uint32(size))
    assert status == 0
    inside = np.zeros(size, bool)
    inside[first * lanes : min(last * lanes, size)] = True
    want = 2.0 * np.tanh(x.astype(np.float64))
    np.testing.assert_allclose(got[inside], want[inside], rtol=1e-6, atol=1e-7)
    assert np.all(got[~inside] == -7.0)


def test_a_2d_launch_takes_the_block_loop_with_the_same_results(backend, rng):
    program = scaled_tanh()
    config = LaunchConfig((4, 3), (16, 2))  # global_id.x < 64 on every row of blocks
    x = rng.standard_normal(64).astype(np.float32)
    got, want = np.zeros_like(x), np.zeros_like(x)
    backend.launch(program, config, [x, got, 50])
    ReferenceBackend().launch(program, config, [x, want, 50])
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)


def test_atomics_hand_out_old_values_in_lane_order(backend):
    size = 1000
    config = LaunchConfig.for_elements(size, 64)
    counter, got = np.zeros(1, np.uint32), np.zeros(size, np.uint32)
    backend.launch(numbered(), config, [counter, got, size])
    assert counter[0] == size
    np.testing.assert_array_equal(got, np.arange(size, dtype=np.uint32))
