"""The top-level package: its exports, backend queries, and a cheap import."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import hologram
from hologram.backends import availability, resolve_name
from hologram.config import reload_settings, settings
from hologram.errors import HologramError


def test_version() -> None:
    assert hologram.__version__ == "0.1.0"


def test_exports_resolve() -> None:
    from hologram.isa import Builder, DType, LaunchConfig, Program
    from hologram.memory import Buffer, Pool
    from hologram.runtime import Executor

    assert hologram.Executor is Executor and hologram.Buffer is Buffer and hologram.Pool is Pool
    assert hologram.LaunchConfig is LaunchConfig and hologram.Program is Program
    assert hologram.Builder is Builder and hologram.DType is DType
    assert hologram.DType.of("float32") is DType.F32
    for name in hologram.__all__:
        if name != "ops":
            assert getattr(hologram, name) is not None, name
        assert name in dir(hologram)
    with pytest.raises(AttributeError):
        hologram.no_such_name  # noqa: B018


def test_errors_share_one_base() -> None:
    errors = [hologram.LaunchError, hologram.DTypeError, hologram.PoolExhaustedError]
    assert all(issubclass(e, HologramError) for e in errors)
    assert issubclass(hologram.PoolExhaustedError, hologram.AllocationError)


def test_ops_is_a_lazy_submodule() -> None:
    if importlib.util.find_spec("hologram.ops") is None:
        with pytest.raises(AttributeError, match="hologram.ops"):
            hologram.ops  # noqa: B018
    else:
        assert hologram.ops.__name__ == "hologram.ops"


def test_backend_queries() -> None:
    names = hologram.available_backends()
    assert all(availability(name)[0] for name in names)
    assert hologram.is_cuda_available() is availability("cuda")[0]
    assert hologram.is_wgpu_available() is availability("wgpu")[0]
    assert isinstance(hologram.is_cuda_available(), bool)


def test_unknown_backend_availability_does_not_raise() -> None:
    ok, reason = availability("no_such_backend")
    assert not ok and "unknown backend" in reason


def test_default_backend_follows_the_settings(monkeypatch) -> None:
    if not hologram.available_backends():
        pytest.skip("no backend is available")
    monkeypatch.setenv("HOLOGRAM_BACKEND", hologram.available_backends()[-1])
    try:
        reload_settings()
        assert hologram.get_default_backend() == hologram.available_backends()[-1]
        monkeypatch.setenv("HOLOGRAM_BACKEND", "auto")
        reload_settings()
        assert hologram.get_default_backend() == resolve_name("auto")
        assert settings().backend == "auto"
    finally:
        monkeypatch.undo()
        reload_settings()


def test_import_is_cheap() -> None:
    code = (
        "import json, sys, hologram\n"
        "hologram.Executor, hologram.Buffer, hologram.Pool\n"
        "heavy = ['numba', 'hologram.backends.cpu', 'hologram.ops']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []
