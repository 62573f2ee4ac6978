"""Memory: zero-copy buffers, the 96-class boundary-pool allocator and fixed-size pools."""

from hologram.memory.buffer import Buffer
from hologram.memory.classes import Allocation, ClassAllocator, classes_needed
from hologram.memory.pool import Pool

__all__ = ["Allocation", "Buffer", "ClassAllocator", "Pool", "classes_needed"]
