"""The boundary pool's class geometry: 96 classes x 48 pages x 256 bytes.

An address `a` in [0, POOL_BYTES) decomposes as

    class = a // CLASS_BYTES      (0..95)
    page  = (a % CLASS_BYTES) // PAGE_BYTES   (0..47), also called the phase
    byte  = a % PAGE_BYTES        (0..255)

and `address(class, page, byte) = class * CLASS_BYTES + page * PAGE_BYTES + byte`.
The mirror of class c is `NUM_CLASSES - 1 - c` (an involution without fixed points).
The neighbours of class c lie on the class ring: neighbour k of c is `(c - 1) mod 96` for
k = 0 and `(c + 1) mod 96` for k = 1.
The ISA's geometry instructions (CLASS_OF, PAGE_OF, BYTE_OF, MIRROR, NEIGHBOR, ADDR) compute
exactly these functions; inputs out of range are reduced modulo the range first.
"""

from __future__ import annotations

NUM_CLASSES = 96
PAGES_PER_CLASS = 48
PAGE_BYTES = 256
CLASS_BYTES = PAGES_PER_CLASS * PAGE_BYTES  # 12,288
POOL_BYTES = NUM_CLASSES * CLASS_BYTES  # 1,179,648
NUM_NEIGHBORS = 2


def class_of(address: int) -> int:
    """The class holding byte `address` of the boundary pool."""
    return (address % POOL_BYTES) // CLASS_BYTES


def page_of(address: int) -> int:
    """The page (phase) within its class of byte `address`."""
    return (address % CLASS_BYTES) // PAGE_BYTES


def byte_of(address: int) -> int:
    """The byte offset within its page of `address`."""
    return address % PAGE_BYTES


def mirror(cls: int) -> int:
    """The mirror class of `cls`."""
    return NUM_CLASSES - 1 - (cls % NUM_CLASSES)


def neighbor(cls: int, k: int) -> int:
    """Neighbour `k` (0: previous, 1: next) of `cls` on the class ring."""
    step = -1 if k % NUM_NEIGHBORS == 0 else 1
    return (cls + step) % NUM_CLASSES


def address(cls: int, page: int, byte: int) -> int:
    """The boundary-pool address of (class, page, byte)."""
    return (
        (cls % NUM_CLASSES) * CLASS_BYTES
        + (page % PAGES_PER_CLASS) * PAGE_BYTES
        + (byte % PAGE_BYTES)
    )
