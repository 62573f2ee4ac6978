"""The `.holo` artifact: one file of named, checksummed, aligned sections (see `SPEC.md`).

    from hologram.artifact import Container, ContainerWriter, read_bundle, write_bundle
    from hologram.artifact import read_model, write_model, model_to_bytes

`container.py` is the format (writer and mmap reader); `bundle.py` stores kernels (IR plus
precompiled ISA programs) in it; `model.py` stores compiled models (manifest, ISA programs and
a safetensors-compatible weights section: `weights.py`).
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

# The bundle layer needs the kernel language, the model layer the compiler: each is imported
# on first use.
_BUNDLE_NAMES = ("load_bundle", "plan_signatures", "read_bundle", "write_bundle")
_MODEL_NAMES = ("model_to_bytes", "read_model", "write_model")


def __getattr__(name: str) -> Any:
    if name in _BUNDLE_NAMES:
        return getattr(importlib.import_module("hologram.artifact.bundle"), name)
    if name in _MODEL_NAMES:
        return getattr(importlib.import_module("hologram.artifact.model"), name)
    raise AttributeError(f"module 'hologram.artifact' has no attribute {name!r}")


__all__ = [
    "FORMAT_VERSION",
    "Container",
    "ContainerWriter",
    "SectionInfo",
    "open_container",
    "write_container",
    *_BUNDLE_NAMES,
    *_MODEL_NAMES,
]
