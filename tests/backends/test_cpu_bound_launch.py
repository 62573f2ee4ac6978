"""Bound launches on the cpu backend (`bind_launch`, `bind_slotted_launch`): the arguments
checked once, open slots checked on every call, the native entry point and the settled
one-thread path, and the same results as a plain launch (and as the reference backend)."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import pytest

import hologram as hg
import hologram.backends.cpu as cpu
from hologram.backends import availability
from hologram.backends.reference import ReferenceBackend
from hologram.errors import DTypeError, LaunchError, MemoryAccessError
from hologram.isa import Builder, LaunchConfig

pytestmark = pytest.mark.skipif(not availability("cpu")[0], reason="numba is not installed")


@pytest.fixture(scope="module")
def backend() -> cpu.CpuBackend:
    return cpu.CpuBackend()


def axpy(dtype: str = "f32"):
    """y[i] = a * x[i] + z[i] for i < n."""
    b = Builder(f"bound_axpy_{dtype}")
    x, z = b.buffer("x", dtype), b.buffer("z", dtype)
    y = b.buffer("y", dtype, access="write")
    a, n = b.scalar("a", dtype), b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.mad(a, b.ldg(x, i), b.ldg(z, i)))
    return b.build()


def test_bound_launch_with_open_slots_matches_a_plain_launch(backend, rng):
    program, config = axpy(), LaunchConfig.for_elements(100, 32)
    assert backend.compile(program).entry is not None, "the compiled entry point was found"
    z = rng.standard_normal(100).astype(np.float32)
    # x and y open, z and the scalars fixed: what a plan binds for a layer on its input.
    launch = backend.bind_slotted_launch(program, config, [None, z, None, 1.5, 100], [0, 2])
    for _ in range(6):  # past the timed launches: later ones take the settled path
        x = rng.standard_normal(100).astype(np.float32)
        y = np.zeros(100, np.float32)
        launch(x, y)
        expected = np.zeros(100, np.float32)
        backend.launch(program, config, [x, z, expected, 1.5, 100])
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_allclose(y, 1.5 * x.astype(np.float64) + z, rtol=1e-6, atol=1e-6)


def test_open_slots_are_checked_on_every_call(backend, rng):
    program, config = axpy(), LaunchConfig.for_elements(16, 16)
    z = np.ones(16, np.float32)
    launch = backend.bind_slotted_launch(program, config, [None, z, None, 2.0, 16], [0, 2])
    for _ in range(4):
        launch(np.ones(16, np.float32), np.zeros(16, np.float32))
    with pytest.raises(DTypeError, match="'x' is f32, got an array of float64"):
        launch(np.ones(16, np.float64), np.zeros(16, np.float32))
    read_only = np.zeros(16, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(LaunchError, match="'y' is read-only"):
        launch(np.ones(16, np.float32), read_only)
    with pytest.raises(LaunchError, match="2 open arguments, got 1"):
        launch(np.ones(16, np.float32))
    with pytest.raises(LaunchError, match="needs a 1-D contiguous view"):
        launch(np.ones((4, 4), np.float32), np.zeros(16, np.float32))
    assert read_only.tolist() == [0.0] * 16


def test_fixed_arguments_are_checked_when_bound(backend):
    program, config = axpy(), LaunchConfig.for_elements(16, 16)
    with pytest.raises(DTypeError, match="'z' is f32"):
        backend.bind_slotted_launch(
            program, config, [None, np.ones(16, np.int32), None, 2.0, 16], [0, 2]
        )
    with pytest.raises(LaunchError, match="takes 5 arguments"):
        backend.bind_slotted_launch(program, config, [None, None], [0])
    with pytest.raises(LaunchError, match="open positions"):
        backend.bind_slotted_launch(program, config, [None] * 5, [0, 9])


def test_an_unaligned_view_in_an_open_slot_is_still_computed_right(backend, rng):
    program, config = axpy(), LaunchConfig.for_elements(32, 32)
    z = rng.standard_normal(32).astype(np.float32)
    launch = backend.bind_slotted_launch(program, config, [None, z, None, -1.0, 32], [0, 2])
    raw = np.zeros(32 * 4 + 1, np.uint8)
    x = raw[1:].view(np.float32)  # one byte off: not aligned for float32
    assert not x.flags.aligned
    x[:] = rng.standard_normal(32).astype(np.float32)
    for _ in range(4):
        y = np.zeros(32, np.float32)
        launch(x, y)
        np.testing.assert_allclose(y, z - x, rtol=1e-6, atol=1e-6)


def test_narrow_float_slots_take_their_bits(backend, rng):
    program, config = axpy("bf16"), LaunchConfig.for_elements(64, 32)
    bf16 = ml_dtypes.bfloat16
    z = rng.standard_normal(64).astype(bf16)
    launch = backend.bind_slotted_launch(program, config, [None, z, None, 0.5, 64], [0, 2])
    reference = ReferenceBackend()
    for _ in range(4):
        x = rng.standard_normal(64).astype(bf16)
        y, expected = np.zeros(64, bf16), np.zeros(64, bf16)
        launch(x, y)
        reference.launch(program, config, [x, z, expected, 0.5, 64])
        np.testing.assert_array_equal(y.view(np.uint16), expected.view(np.uint16))


def test_a_divergent_bound_launch_raises_on_every_call(backend):
    b = Builder("bound_divergent_bar")
    with b.loop():
        with b.if_(b.setp("lt", b.sreg("lane_id"), 2)):
            b.break_()
        b.barrier()
        b.break_()
    launch = backend.bind_launch(b.build(), LaunchConfig(1, 4), [])
    for _ in range(5):  # the first ones are timed; the later ones take the settled path
        with pytest.raises(LaunchError, match="bar at instruction"):
            launch()


def test_a_settled_launch_goes_parallel_when_the_threshold_changes(rng):
    backend = cpu.CpuBackend()
    if backend.threads < 2:
        pytest.skip("one thread: no launch goes parallel")
    program, config = axpy(), LaunchConfig.for_elements(4096, 64)
    x, z = (rng.standard_normal(4096).astype(np.float32) for _ in range(2))
    y = np.zeros(4096, np.float32)
    backend.min_parallel_seconds = 1e9  # never worth the pool: the launch settles on one thread
    launch = backend.bind_launch(program, config, [x, z, y, 3.0, 4096])
    for _ in range(4):
        launch()
    assert backend.stats.parallel_launches == 0
    backend.min_parallel_seconds = 0.0  # now every launch of two blocks or more is
    launch()
    assert backend.stats.parallel_launches == 1
    np.testing.assert_allclose(y, 3.0 * x.astype(np.float64) + z, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("trans_a", "trans_b"), [(False, False), (True, False), (False, True)])
def test_bound_matmul_with_open_slots_matches_numpy(backend, rng, trans_a, trans_b):
    m, n, k = 5, 7, 3
    b = Builder(f"bound_matmul_{trans_a}_{trans_b}")
    a, w = b.buffer("a", "f32"), b.buffer("w", "f32")
    c = b.buffer("c", "f32", access="write")
    b.matmul(a, w, c, m=m, n=n, k=k, trans_a=trans_a, trans_b=trans_b)
    program = b.build()
    weight = rng.standard_normal(k * n).astype(np.float32)
    launch = backend.bind_slotted_launch(program, LaunchConfig(), [None, weight, None], [0, 2])
    right = weight.reshape(n, k).T if trans_b else weight.reshape(k, n)
    for _ in range(3):
        left = rng.standard_normal(m * k + 2).astype(np.float32)  # longer than needed
        out = np.full(m * n + 1, 9.0, np.float32)
        launch(left, out)
        first = left[: m * k].reshape(k, m).T if trans_a else left[: m * k].reshape(m, k)
        np.testing.assert_allclose(out[:-1].reshape(m, n), first @ right, rtol=1e-5, atol=1e-5)
        assert out[-1] == 9.0
    with pytest.raises(MemoryAccessError, match="operand C needs 35 elements"):
        launch(left, np.zeros(34, np.float32))
    with pytest.raises(DTypeError, match="'a' is f32"):
        launch(left.astype(np.float64), out)


def test_the_generic_slotted_launch_checks_every_call(rng):
    reference = ReferenceBackend()
    program, config = axpy(), LaunchConfig.for_elements(8, 8)
    z = rng.standard_normal(8).astype(np.float32)
    launch = reference.bind_slotted_launch(program, config, [None, z, None, 2.0, 8], [0, 2])
    x, y = rng.standard_normal(8).astype(np.float32), np.zeros(8, np.float32)
    launch(x, y)
    np.testing.assert_allclose(y, 2.0 * x.astype(np.float64) + z, rtol=1e-6, atol=1e-6)
    with pytest.raises(DTypeError, match="'x' is f32"):
        launch(x.astype(np.float64), y)


@pytest.mark.parametrize(
    ("strides", "trans_b"),
    [((6, 12, 8), False), ((0, 12, 8), True), ((7, 0, 9), False), ((6, 12, 4), False)],
    ids=["dense", "shared-a", "padded", "overlapping-c"],
)
def test_batched_matmul_matches_the_reference(backend, rng, strides, trans_b):
    m, n, k, batch = 2, 4, 3, 3
    stride_a, stride_b, stride_c = strides
    b = Builder(f"bound_batched_{stride_a}_{stride_b}_{stride_c}_{trans_b}")
    a, w = b.buffer("a", "f32"), b.buffer("w", "f32")
    c = b.buffer("c", "f32", access="readwrite")
    b.matmul(a, w, c, batch=batch, m=m, n=n, k=k, trans_b=trans_b,
             stride_a=stride_a, stride_b=stride_b, stride_c=stride_c)  # fmt: skip
    program, config = b.build(), LaunchConfig()
    reference = ReferenceBackend()
    sizes = [(batch - 1) * s + size for s, size in zip(strides, (m * k, k * n, m * n), strict=True)]
    launch = backend.bind_slotted_launch(program, config, [None, None, None], [0, 1, 2])
    for _ in range(3):
        left, right = (rng.standard_normal(size).astype(np.float32) for size in sizes[:2])
        out, expected = np.zeros(sizes[2], np.float32), np.zeros(sizes[2], np.float32)
        launch(left, right, out)
        reference.launch(program, config, [left, right, expected])
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_small_products_run_on_one_blas_thread(rng: np.random.Generator) -> None:
    # float64: float32 products large enough run on the packed product, not on BLAS.
    pytest.importorskip("numba", reason="the cpu backend needs Numba")
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="BLAS thread control")
    from hologram.backends._cpu_intrinsics import SMALL_PRODUCT_FLOPS, _configured_threads

    small = [rng.standard_normal((16, 16)).astype(np.float64) for _ in range(2)]
    out = hg.ops.matmul(*small, executor=hg.Executor("cpu"))
    np.testing.assert_allclose(out, small[0] @ small[1], rtol=1e-5, atol=1e-5)
    blas = _controlled_blas_pools(threadpoolctl)
    if not blas:
        pytest.skip("NumPy's BLAS is not one threadpoolctl can see")
    assert all(pool["num_threads"] == 1 for pool in blas)
    side = int(round((SMALL_PRODUCT_FLOPS / 2) ** (1 / 3))) + 8
    large = [rng.standard_normal((side, side)).astype(np.float64) for _ in range(2)]
    out = hg.ops.matmul(*large, executor=hg.Executor("cpu"))
    np.testing.assert_allclose(out, large[0] @ large[1], rtol=1e-3, atol=1e-2)
    pools = _controlled_blas_pools(threadpoolctl)
    assert all(pool["num_threads"] == _configured_threads() for pool in pools)


def _controlled_blas_pools(threadpoolctl: Any) -> list[dict[str, Any]]:
    """The BLAS pools the backend sizes: those loaded when it first sized one (a library
    loaded later, such as one that torch brings when an earlier test imported it, is not
    NumPy's and is left alone)."""
    from hologram.backends._cpu_intrinsics import blas_threads

    controlled = {controller.filepath for controller in blas_threads._libraries()}
    return [
        pool
        for pool in threadpoolctl.threadpool_info()
        if pool["user_api"] == "blas" and pool["filepath"] in controlled
    ]


def test_only_products_on_several_blas_threads_quiet_the_kernels(rng: np.random.Generator) -> None:
    pytest.importorskip("numba", reason="the cpu backend needs Numba")
    pytest.importorskip("threadpoolctl", reason="BLAS thread control")
    from hologram.backends._cpu_intrinsics import SMALL_PRODUCT_FLOPS, _configured_threads

    executor = hg.Executor("cpu")
    backend = executor.backend
    backend._intrinsic_finished = float("-inf")
    small = [rng.standard_normal((16, 16)).astype(np.float64) for _ in range(2)]
    np.testing.assert_allclose(
        hg.ops.matmul(*small, executor=executor), small[0] @ small[1], rtol=1e-5, atol=1e-5
    )
    assert backend._intrinsic_finished == float("-inf")
    if _configured_threads() < 2:
        return
    side = int(round((SMALL_PRODUCT_FLOPS / 2) ** (1 / 3))) + 8
    large = [rng.standard_normal((side, side)).astype(np.float64) for _ in range(2)]
    out = hg.ops.matmul(*large, executor=executor)
    np.testing.assert_allclose(out, large[0] @ large[1], rtol=1e-3, atol=1e-2)
    assert backend._intrinsic_finished > float("-inf")
