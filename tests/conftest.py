"""Shared fixtures: the backends to test on, an executor per backend, a seeded generator.

Compiled kernels are cached under the repository's `.cache/` (unless `HOLOGRAM_CACHE_DIR`
is already set), so that every pytest-xdist worker and every later run reuses them.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hologram.backends import availability, backend_names
from hologram.config import reload_settings
from hologram.errors import HologramError

REPO_ROOT = Path(__file__).resolve().parent.parent

# Set before anything reads the settings: hologram.config reads the environment lazily.
os.environ.setdefault("HOLOGRAM_CACHE_DIR", str(REPO_ROOT / ".cache" / "hologram"))
reload_settings()

# Every backend file is tested; the two that run anywhere come first and are always listed,
# so a missing or broken one shows up as a skip with its reason rather than vanishing.
REQUIRED_BACKENDS = ("reference", "cpu")
TESTED_BACKENDS = REQUIRED_BACKENDS + tuple(
    name for name in backend_names() if name not in REQUIRED_BACKENDS
)


def backend_skip_reason(name: str) -> str | None:
    """Why backend `name` cannot run here, or None when it can."""
    try:
        ok, reason = availability(name)
    except HologramError as exc:
        return str(exc)
    return None if ok else reason


@pytest.fixture(params=TESTED_BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """The name of each backend in turn; skipped with the reason where it is unavailable."""
    name: str = request.param
    reason = backend_skip_reason(name)
    if reason is not None:
        pytest.skip(f"backend {name!r} is not available: {reason}")
    return name


@pytest.fixture
def executor(backend_name: str) -> Iterator[object]:
    """An `Executor` on each available backend in turn."""
    from hologram import Executor

    ex = Executor(backend=backend_name)
    yield ex
    ex.synchronize()


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test's id: fresh draws, reproducible per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(autouse=True, scope="session")
def every_compiled_program_round_trips() -> Iterator[None]:
    """Every program the suite compiles on any backend must round-trip all three encodings.

    `Backend.compile` caches by digest, so each distinct program is checked once per backend.
    """
    from hologram.backends.base import Backend
    from hologram.isa.encoding import roundtrip_check

    original = Backend.compile

    def checked_compile(self: Backend, program):  # type: ignore[no-untyped-def]
        if program.digest not in self._kernels:
            roundtrip_check(program)
        return original(self, program)

    Backend.compile = checked_compile  # type: ignore[method-assign]
    yield
    Backend.compile = original  # type: ignore[method-assign]


# ---------------------------------------------------------------- ONNX conformance count
# Here, not in tests/onnx/: under pytest-xdist only the root conftest runs in the controller.
NODE_TESTS = "OnnxBackendNodeModelTest"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with the cpu node tests passed, failed and excluded."""
    counts = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        counts[outcome] = sum(
            1
            for report in terminalreporter.stats.get(outcome, [])
            if NODE_TESTS in getattr(report, "nodeid", "") and report.nodeid.endswith("_cpu")
        )
    total = sum(counts.values())
    if total:
        backend = os.environ.get("HOLOGRAM_NODE_BACKEND", "cpu")
        terminalreporter.write_line(
            f"ONNX backend node tests ({backend} backend): {counts['passed']} passed of {total} "
            f"({counts['skipped']} excluded, {counts['failed'] + counts['error']} failed)",
            bold=True,
        )
