"""The kernel docs cannot rot: the Python blocks of docs/kernels.mdx and kernel-ir.mdx run."""

from __future__ import annotations

import linecache
import re
from pathlib import Path

import pytest

from hologram.config import reload_settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize(("page", "count"), [("kernels", 10), ("kernel-ir", 1)])
def test_python_blocks_run_on_the_reference_backend(monkeypatch, page, count):
    blocks = PYTHON_BLOCK.findall((DOCS / f"{page}.mdx").read_text())
    assert len(blocks) >= count
    monkeypatch.setenv("HOLOGRAM_BACKEND", "reference")
    reload_settings()
    namespace: dict[str, object] = {"__name__": page.replace("-", "_")}
    try:
        for number, block in enumerate(blocks, 1):
            name = f"{page}.mdx block {number}"
            # Registered like an interactive cell, so that the kernels defined here have a source.
            linecache.cache[name] = (len(block), None, block.splitlines(True), name)
            exec(compile(block, name, "exec"), namespace)
    finally:
        monkeypatch.undo()
        reload_settings()
    if "ex" in namespace:
        assert namespace["ex"].backend_name == "reference"  # type: ignore[attr-defined]
