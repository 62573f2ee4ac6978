"""hologram: compile a program once, ahead of time, and run it fast on any backend.

    import numpy as np
    import hologram

    ex = hologram.Executor()                   # the best backend available here
    x = ex.from_numpy(np.ones(1024, np.float32))

Importing `hologram` is cheap: it initialises no device and imports no compiler. The names
below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hologram.errors import (
    AllocationError,
    BackendUnavailableError,
    CompileError,
    DTypeError,
    EncodingError,
    FeedError,
    HologramError,
    KernelError,
    KernelIRError,
    KernelSyntaxError,
    KernelTypeError,
    LaunchError,
    MemoryAccessError,
    ModelError,
    PoolExhaustedError,
    ProgramError,
    ShapeError,
    UnsupportedOpError,
    VerificationError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hologram import ops
    from hologram.isa import Builder, DType, LaunchConfig, Program
    from hologram.memory import Buffer, Pool
    from hologram.runtime import Executor
    from hologram.stream import ComputePipeline, Stream

# name -> the module that defines it, imported on first access.
_LAZY_NAMES = {
    "Executor": "hologram.runtime.executor",
    "Buffer": "hologram.memory.buffer",
    "Pool": "hologram.memory.pool",
    "LaunchConfig": "hologram.isa.program",
    "Program": "hologram.isa.program",
    "Builder": "hologram.isa.builder",
    "DType": "hologram.isa.dtypes",
    "compile": "hologram.compiler.compile",
    "load": "hologram.runtime.model",
    "Model": "hologram.runtime.model",
    "CompiledModel": "hologram.compiler.compile",
    "Stream": "hologram.stream.chunker",
    "ComputePipeline": "hologram.stream.pipeline",
}
_LAZY_SUBMODULES = ("ops",)


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    if name in _LAZY_SUBMODULES:
        try:
            return importlib.import_module(f"hologram.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hologram.{name}":
                raise
            raise AttributeError(f"hologram.{name} is not installed in this build") from exc
    if not name.startswith("__"):
        # The kernel language (`hg.kernel`, `hg.float32`, `hg.global_id`, ...), loaded on first use.
        dsl = importlib.import_module("hologram.dsl")
        if name in dsl.__all__:
            value = getattr(dsl, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'hologram' has no attribute {name!r}")


def __dir__() -> list[str]:
    from hologram.dsl import __all__ as dsl_names

    return sorted(set(globals()) | set(_LAZY_NAMES) | set(_LAZY_SUBMODULES) | set(dsl_names))


def available_backends() -> list[str]:
    """The backends that can run on this machine, best first."""
    from hologram.backends import available_backends as _available

    return _available()


def get_default_backend() -> str:
    """The backend an `Executor()` would use: `settings().backend`, with `auto` resolved."""
    from hologram.backends import resolve_name
    from hologram.config import settings

    return resolve_name(settings().backend)


def is_cuda_available() -> bool:
    """True when the CUDA backend can run here."""
    from hologram.backends import availability

    return availability("cuda")[0]


def is_wgpu_available() -> bool:
    """True when the WebGPU backend can run here."""
    from hologram.backends import availability

    return availability("wgpu")[0]


__all__ = [
    "AllocationError",
    "BackendUnavailableError",
    "Buffer",
    "Builder",
    "CompileError",
    "DTypeError",
    "DType",
    "CompiledModel",
    "ComputePipeline",
    "EncodingError",
    "Executor",
    "FeedError",
    "HologramError",
    "KernelError",
    "KernelIRError",
    "KernelSyntaxError",
    "KernelTypeError",
    "LaunchConfig",
    "LaunchError",
    "MemoryAccessError",
    "Model",
    "ModelError",
    "Pool",
    "PoolExhaustedError",
    "Program",
    "ProgramError",
    "ShapeError",
    "Stream",
    "UnsupportedOpError",
    "VerificationError",
    "__version__",
    "compile",
    "load",
    "available_backends",
    "get_default_backend",
    "is_cuda_available",
    "is_wgpu_available",
    "ops",
]
