"""The `.holo` artifact: one file of named, checksummed, aligned sections (see `SPEC.md`).

    from hologram.artifact import Container, ContainerWriter, read_bundle, write_bundle

`container.py` is the format (writer and mmap reader); `bundle.py` stores kernels (IR plus
precompiled ISA programs) in it. Compiled models use the same container.
"""

from __future__ import annotations

import importlib
from typing import Any

from hologram.artifact.container import (
    FORMAT_VERSION,
    Container,
    ContainerWriter,
    SectionInfo,
    open_container,
    write_container,
)

# The bundle layer needs the kernel language; it is imported on first use.
_BUNDLE_NAMES = ("load_bundle", "plan_signatures", "read_bundle", "write_bundle")


def __getattr__(name: str) -> Any:
    if name in _BUNDLE_NAMES:
        return getattr(importlib.import_module("hologram.artifact.bundle"), name)
    raise AttributeError(f"module 'hologram.artifact' has no attribute {name!r}")


__all__ = [
    "FORMAT_VERSION",
    "Container",
    "ContainerWriter",
    "SectionInfo",
    "open_container",
    "write_container",
    *_BUNDLE_NAMES,
]
