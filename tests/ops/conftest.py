"""The ops are tested on the two backends that run anywhere: the reference and the CPU JIT."""

from __future__ import annotations

import pytest

from hologram.backends import availability, backend_names

OPS_BACKENDS = ("reference", "cpu")


@pytest.fixture(params=OPS_BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """Each ops backend in turn; skipped with the reason where it is unavailable."""
    name: str = request.param
    if name not in backend_names():
        pytest.skip(f"backend {name!r} is not available: no backends/{name}.py")
    ok, reason = availability(name)
    if not ok:
        pytest.skip(f"backend {name!r} is not available: {reason}")
    return name
