"""The boundary pool's class geometry: 96 classes x 48 pages x 256 bytes."""

from __future__ import annotations

import numpy as np
import pytest

from hologram.isa import geometry as g


def test_sizes() -> None:
    assert g.CLASS_BYTES == 12_288
    assert g.POOL_BYTES == 1_179_648
    assert g.NUM_CLASSES * g.PAGES_PER_CLASS * g.PAGE_BYTES == g.POOL_BYTES


@pytest.mark.parametrize("cls", range(g.NUM_CLASSES))
def test_class_page_byte_round_trip(cls: int) -> None:
    rng = np.random.default_rng(cls)
    pages = {0, g.PAGES_PER_CLASS - 1, *rng.integers(0, g.PAGES_PER_CLASS, 4).tolist()}
    for page in pages:
        for byte in {0, g.PAGE_BYTES - 1, int(rng.integers(0, g.PAGE_BYTES))}:
            a = g.address(cls, page, byte)
            assert 0 <= a < g.POOL_BYTES
            assert (g.class_of(a), g.page_of(a), g.byte_of(a)) == (cls, page, byte)
            assert a == cls * 12_288 + page * 256 + byte


def test_every_address_round_trips() -> None:
    # the geometry functions are plain integer arithmetic, so they also work on whole arrays
    addresses = np.arange(g.POOL_BYTES, dtype=np.int64)
    classes, pages, offsets = g.class_of(addresses), g.page_of(addresses), g.byte_of(addresses)
    assert (classes.min(), classes.max()) == (0, 95)
    assert (pages.min(), pages.max()) == (0, 47)
    assert np.bincount(classes).tolist() == [g.CLASS_BYTES] * g.NUM_CLASSES
    np.testing.assert_array_equal(g.address(classes, pages, offsets), addresses)


def test_out_of_range_inputs_are_reduced() -> None:
    assert g.class_of(g.POOL_BYTES + 5) == 0
    assert g.class_of(g.POOL_BYTES - 1) == 95
    assert g.address(96, 48, 256) == 0
    assert g.address(97, 49, 257) == g.address(1, 1, 1)
    assert g.mirror(96 + 3) == g.mirror(3)


def test_mirror_is_an_involution_without_fixed_points() -> None:
    for cls in range(g.NUM_CLASSES):
        assert g.mirror(g.mirror(cls)) == cls
        assert g.mirror(cls) != cls
    assert g.mirror(0) == 95 and g.mirror(47) == 48


def test_neighbours_form_a_ring() -> None:
    assert g.neighbor(0, 0) == 95 and g.neighbor(95, 1) == 0
    for cls in range(g.NUM_CLASSES):
        previous, following = g.neighbor(cls, 0), g.neighbor(cls, 1)
        assert g.neighbor(previous, 1) == cls and g.neighbor(following, 0) == cls
        assert previous != following
    # walking forwards visits every class once
    seen, cls = [], 0
    for _ in range(g.NUM_CLASSES):
        seen.append(cls)
        cls = g.neighbor(cls, 1)
    assert sorted(seen) == list(range(g.NUM_CLASSES)) and cls == 0
