"""The 96-class allocator: class counts, bitmaps, first fit, reuse, fallback, statistics."""

from __future__ import annotations

import gc

import pytest

from hologram.errors import AllocationError
from hologram.isa.geometry import CLASS_BYTES, NUM_CLASSES, POOL_BYTES
from hologram.memory import ClassAllocator, classes_needed


@pytest.fixture
def allocator(executor) -> ClassAllocator:
    """A fresh allocator on each backend, with its boundary pool not yet allocated."""
    return ClassAllocator(executor.backend)


def bits(*classes: int) -> int:
    return sum(1 << c for c in classes)


def test_geometry_constants_match_the_spec() -> None:
    assert (NUM_CLASSES, CLASS_BYTES, POOL_BYTES) == (96, 12_288, 1_179_648)


@pytest.mark.parametrize(
    ("nbytes", "classes"),
    [(0, 0), (1, 1), (12_288, 1), (12_289, 2), (788_480, 65), (POOL_BYTES, 96)],
)
def test_classes_needed_rounds_up(nbytes: int, classes: int) -> None:
    assert classes_needed(nbytes) == classes


def test_large_buffer_of_65_classes_goes_class_free(allocator: ClassAllocator) -> None:
    big = allocator.allocate(788_480)
    assert big.classes is None and not big.owns_classes
    stats = allocator.stats()
    assert stats["class_free_bytes"] == 788_480
    assert stats["class_free_allocations"] == 1
    assert stats["fallback_allocations"] == 0
    assert stats["classes_used"] == 0
    # A class-free buffer does not need the boundary pool, which stays unallocated.
    assert allocator.pool_handle is None and not stats["pool_allocated"]
    assert allocator.backend.size_of(big.handle) >= 788_480
    big.free()
    assert allocator.stats()["class_free_bytes"] == 0


def test_half_the_pool_is_the_largest_class_block(allocator: ClassAllocator) -> None:
    half = allocator.allocate(48 * CLASS_BYTES)
    over = allocator.allocate(48 * CLASS_BYTES + 1)
    assert half.classes == range(0, 48)
    assert over.classes is None
    assert allocator.stats()["class_allocations"] == 1


def test_pool_is_one_lazy_backend_allocation(allocator: ClassAllocator) -> None:
    assert allocator.pool_handle is None
    a = allocator.allocate(100)
    b = allocator.allocate(20_000)
    pool = allocator.pool_handle
    assert pool is not None and allocator.backend.size_of(pool) == POOL_BYTES
    assert a.handle is pool and b.handle is pool
    assert (a.offset, b.offset) == (0, CLASS_BYTES)
    assert allocator.stats()["pool_allocated"]


def test_bitmap_first_fit_and_reuse(allocator: ClassAllocator) -> None:
    one = allocator.allocate(1)
    three = allocator.allocate(3 * CLASS_BYTES)
    two = allocator.allocate(CLASS_BYTES + 1)
    assert (one.classes, three.classes, two.classes) == (range(0, 1), range(1, 4), range(4, 6))
    assert allocator.bitmap == bits(0, 1, 2, 3, 4, 5)

    three.free()
    assert allocator.bitmap == bits(0, 4, 5)
    assert allocator.used_classes() == [0, 4, 5]

    # First fit: a two-class block takes the start of the hole, a four-class one skips it.
    reused = allocator.allocate(2 * CLASS_BYTES)
    four = allocator.allocate(4 * CLASS_BYTES)
    assert reused.classes == range(1, 3)
    assert four.classes == range(6, 10)
    assert allocator.bitmap == bits(0, 1, 2, 4, 5, 6, 7, 8, 9)


def test_fragmentation_figures(allocator: ClassAllocator) -> None:
    assert allocator.stats()["fragmentation"] == 0.0  # everything free
    blocks = [allocator.allocate(CLASS_BYTES) for _ in range(NUM_CLASSES)]
    full = allocator.stats()
    assert (full["classes_used"], full["classes_free"], full["largest_free_run"]) == (96, 0, 0)
    assert full["fragmentation"] == 0.0  # nothing free

    for block in blocks[::2]:
        block.free()
    checker = allocator.stats()
    assert checker["classes_free"] == 48 and checker["largest_free_run"] == 1
    assert checker["fragmentation"] == pytest.approx(1 - 1 / 48)

    blocks[1].free()  # classes 0, 1 and 2 now form one run
    stats = allocator.stats()
    assert stats["classes_free"] == 49 and stats["largest_free_run"] == 3
    assert stats["fragmentation"] == pytest.approx(1 - 3 / 49)
    assert allocator.largest_free_run() == 3


def test_no_free_run_falls_back_to_class_free(allocator: ClassAllocator) -> None:
    blocks = [allocator.allocate(CLASS_BYTES) for _ in range(NUM_CLASSES)]
    for block in blocks[::2]:
        block.free()
    # 48 classes are free, but no two of them are adjacent.
    fallback = allocator.allocate(2 * CLASS_BYTES)
    assert fallback.classes is None
    single = allocator.allocate(10)
    assert single.classes == range(0, 1)
    stats = allocator.stats()
    assert stats["fallback_allocations"] == 1
    assert stats["class_free_allocations"] == 1
    assert stats["class_free_bytes"] == 2 * CLASS_BYTES
    assert stats["class_allocations"] == NUM_CLASSES + 1


def test_exhausted_pool_falls_back_instead_of_failing(allocator: ClassAllocator) -> None:
    halves = [allocator.allocate(48 * CLASS_BYTES) for _ in range(2)]
    assert [h.classes for h in halves] == [range(0, 48), range(48, 96)]
    extra = allocator.allocate(1)
    assert extra.classes is None
    assert allocator.stats()["fallback_allocations"] == 1


def test_double_free_raises(allocator: ClassAllocator) -> None:
    block = allocator.allocate(5_000)
    class_free = allocator.allocate(POOL_BYTES)
    block.free()
    class_free.free()
    with pytest.raises(AllocationError, match="double free"):
        block.free()
    with pytest.raises(AllocationError, match="double free"):
        class_free.free()
    with pytest.raises(AllocationError, match="double free"):
        allocator.free(block)
    assert allocator.stats()["classes_used"] == 0


def test_free_through_the_wrong_allocator_raises(executor) -> None:
    first, second = ClassAllocator(executor.backend), ClassAllocator(executor.backend)
    block = first.allocate(64)
    with pytest.raises(AllocationError, match="does not belong"):
        second.free(block)


def test_zero_bytes_take_no_class(allocator: ClassAllocator) -> None:
    empty = allocator.allocate(0)
    assert empty.classes is None and empty.nbytes == 0
    stats = allocator.stats()
    assert stats["classes_used"] == 0 and stats["class_free_allocations"] == 0
    empty.free()


@pytest.mark.parametrize("nbytes", [-1, 2.5, "12"])
def test_bad_byte_counts_raise(allocator: ClassAllocator, nbytes: object) -> None:
    with pytest.raises(AllocationError):
        allocator.allocate(nbytes)  # type: ignore[arg-type]


def test_garbage_collected_allocations_return_their_classes(allocator: ClassAllocator) -> None:
    block = allocator.allocate(3 * CLASS_BYTES)
    big = allocator.allocate(POOL_BYTES)
    assert allocator.stats()["classes_used"] == 3
    del block, big
    gc.collect()
    stats = allocator.stats()
    assert stats["classes_used"] == 0
    assert stats["class_free_bytes"] == 0 and stats["live_class_free_allocations"] == 0


def test_bad_block_limit_raises(executor) -> None:
    with pytest.raises(AllocationError, match="max_block_classes"):
        ClassAllocator(executor.backend, max_block_classes=97)
