"""The runtime: the `Executor` that owns a backend's memory and launches programs on it."""

from hologram.runtime.executor import Executor

__all__ = ["Executor"]
