"""Device-pool blocks, O(1) memory through a fixed pool, and reading overlapped with compute."""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from hologram.backends import availability, backend_class, backend_names
from hologram.backends.reference import ReferenceBackend
from hologram.runtime.executor import Executor
from hologram.stream import (
    AggregateDomainHead,
    Cast,
    ComputePipeline,
    DevicePool,
    NullSink,
    OpsFunction,
    ReLU,
    ScalarMul,
    Stream,
)


class DeviceLikeBackend(ReferenceBackend):
    """The reference backend declared not to be host memory, so that every path a device
    backend takes (copies in and out, device-pool blocks) runs on any machine."""

    name = "reference"
    is_host = False


def device_backends() -> list[str]:
    """The reference backend posing as a device, then every device backend file (cuda), which
    the fixture skips with the reason where it cannot run."""
    names = ["device-like"]
    for name in backend_names():
        try:
            if backend_class(name).is_host:
                continue
        except ImportError:
            pass  # kept: the fixture reports why it is not available
        names.append(name)
    return names


@pytest.fixture(params=device_backends(), ids=lambda name: f"device-{name}")
def executor(request: pytest.FixtureRequest) -> Executor:
    """An executor on each device backend in turn; skipped with the reason where absent."""
    if request.param == "device-like":
        return Executor(DeviceLikeBackend())
    ok, reason = availability(request.param)
    if not ok:
        pytest.skip(f"backend {request.param!r} is not available: {reason}")
    return Executor(request.param)


def test_device_pool_blocks_stay_on_the_device(
    executor: Executor, rng: np.random.Generator
) -> None:
    x = rng.standard_normal(20_000).astype(np.float32)
    pipeline = ComputePipeline(executor, pool_bytes=1 << 14).add_op(ReLU()).add_op(ScalarMul(0.5))
    context = pipeline.execute(x, 9)
    assert len(context.blocks) > 3
    for block in context.blocks:
        assert isinstance(block.storage, DevicePool) and block.as_slice() is None
        assert block.data is None
    expected = np.maximum(x, 0) * np.float32(0.5)
    np.testing.assert_array_equal(context.to_numpy(), expected)
    stats = AggregateDomainHead().extract(context.pool).stats
    assert stats["max"] == expected.max() and stats["count"] == x.size
    # Through the ring of working slots, with a dtype change, into a sink.
    head = AggregateDomainHead()
    ComputePipeline(executor, pool_bytes=1 << 14, ops=[Cast("float64"), ReLU()]).execute(
        x, sink=NullSink(), heads=[head]
    )
    assert head.sum == pytest.approx(np.maximum(x, 0).astype(np.float64).sum(), rel=1e-12)


def peak_traced(nbytes: int, pool: int) -> int:
    """Peak traced memory of streaming `nbytes` of float32 (made chunk by chunk) to a null sink."""

    def pieces() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(0)
        for _ in range(nbytes // (1 << 16)):
            yield rng.standard_normal(1 << 14).astype(np.float32)

    pipeline = ComputePipeline("cpu", pool_bytes=pool).add_op(ReLU()).add_op(ScalarMul(0.5))
    pipeline.execute(np.zeros(64, np.float32))  # compile outside the measurement
    tracemalloc.start()
    try:
        pipeline.execute(pieces(), sink=NullSink(), heads=[AggregateDomainHead()])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_input() -> None:
    pool = 1 << 20
    small, large = peak_traced(4 << 20, pool), peak_traced(32 << 20, pool)
    assert large < 2 * pool + (1 << 20)
    assert large < 1.1 * small  # eight times the input, no more memory


def test_the_next_chunk_is_read_while_this_one_is_computed(rng: np.random.Generator) -> None:
    x = rng.standard_normal(4096).astype(np.float32)
    first_computing = threading.Event()
    second_read = threading.Event()

    def pieces() -> Iterator[np.ndarray]:
        yield x[:2048]
        # Only reached once the reader asks for the second chunk: it must do so while the
        # first chunk is being computed, which waits for this.
        assert first_computing.wait(10), "the first chunk was never computed"
        second_read.set()
        yield x[2048:]

    def blocking_abs(chunk: object, *, executor: object, out: object) -> None:
        if not first_computing.is_set():
            first_computing.set()
            assert second_read.wait(10), "the second chunk was not read during the first's compute"
        import hologram.ops as hops

        hops.abs(chunk, executor=executor, out=out)

    pipeline = ComputePipeline("cpu", pool_bytes=2 * 2048 * 4).add_op(OpsFunction(blocking_abs))
    got = pipeline.execute(Stream(pieces(), period=2048 * 4), 0).to_numpy()  # 1 piece a chunk
    np.testing.assert_array_equal(got, np.abs(x))
