"""The scripts in examples/ run and check themselves against NumPy on every backend."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def test_quickstart_matches_numpy(backend_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(QUICKSTART))
    status = module["main"](["--backend", backend_name])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"backend: {backend_name}" in out
    checks = [line for line in out.splitlines() if "max error" in line]
    assert len(checks) == 5 and all(line.endswith("ok") for line in checks)
