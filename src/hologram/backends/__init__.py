"""Backends, one file each, found by file name. `auto` picks the best available one."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from hologram.backends.base import Backend
from hologram.errors import BackendUnavailableError

AUTO_ORDER = ("cuda", "wgpu", "cpu", "reference")
_NOT_BACKENDS = {"base"}


def backend_names() -> list[str]:
    """Every backend file in this package, available here or not."""
    return list(_backend_files())


@cache
def _backend_files() -> tuple[str, ...]:
    # Listed once per process: scanning the package directory cost more than the rest of a
    # model's load.
    names = [
        m.name
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in _NOT_BACKENDS
    ]
    return tuple(sorted(names, key=lambda n: (AUTO_ORDER.index(n) if n in AUTO_ORDER else 99, n)))


def backend_class(name: str) -> type[Backend]:
    """The Backend subclass defined in `hologram/backends/<name>.py`."""
    if name not in backend_names():
        raise BackendUnavailableError(
            f"unknown backend {name!r}; known backends: {', '.join(backend_names())}"
        )
    module = importlib.import_module(f"hologram.backends.{name}")
    return module.BACKEND


@cache
def availability(name: str) -> tuple[bool, str]:
    """(available, reason) for backend `name`; never raises, even for an unknown name."""
    if name not in backend_names():
        return False, f"unknown backend {name!r}; known backends: {', '.join(backend_names())}"
    try:
        return backend_class(name).availability()
    except ImportError as exc:
        return False, f"import failed: {exc}"


def available_backends() -> list[str]:
    """The backends that can run on this machine, best first."""
    return [n for n in backend_names() if availability(n)[0]]


def resolve_name(name: str) -> str:
    """Turn `auto` into the best available backend and check that `name` can run here."""
    if name == "auto":
        for candidate in AUTO_ORDER:
            if candidate in backend_names() and availability(candidate)[0]:
                return candidate
        raise BackendUnavailableError("no backend is available")
    ok, reason = availability(name) if name in backend_names() else (False, "unknown")
    if not ok:
        raise BackendUnavailableError(f"backend {name!r} is not available: {reason}")
    return name


_instances: dict[str, Backend] = {}


def get_backend(name: str = "auto") -> Backend:
    """The shared instance of backend `name` (created on first use)."""
    instance = _instances.get(name)
    if instance is not None:
        return instance  # resolved and found available when it was created
    resolved = resolve_name(name)
    if resolved not in _instances:
        _instances[resolved] = backend_class(resolved)()
    return _instances[resolved]


__all__ = [
    "AUTO_ORDER",
    "Backend",
    "available_backends",
    "availability",
    "backend_class",
    "backend_names",
    "get_backend",
    "resolve_name",
]
