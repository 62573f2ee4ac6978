"""examples/streaming.py runs and matches NumPy on every backend."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "streaming.py"


def test_streaming_example(backend_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = runpy.run_path(str(EXAMPLE))["main"](
        ["--backend", backend_name, "--size", "30000", "--pool", "32KiB"]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    checks = [line for line in out.splitlines() if "max error" in line]
    assert len(checks) == 2 and all(line.endswith("ok") for line in checks), out
