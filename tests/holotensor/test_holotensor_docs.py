"""The HoloTensor guide's Python blocks run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("scipy", reason="the guide's encodings table touches the spectral encoding")

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "holotensor.mdx"


def test_guide_python_blocks_run() -> None:
    namespace: dict[str, object] = {"__name__": "holotensor_guide"}
    blocks = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.S | re.M)
    assert blocks
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"holotensor.mdx block {number}", "exec"), namespace)
    assert namespace["one"].quality >= 0.95  # type: ignore[attr-defined]
