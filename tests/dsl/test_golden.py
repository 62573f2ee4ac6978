"""Golden JSON IR: the IR of the kernels in golden_kernels.py, byte for byte.

The IR is the stable interchange format, so any change to it must be deliberate. After an
intended change, regenerate the files and review the diff:

    HOLOGRAM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/dsl/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import golden_kernels
import pytest

import hologram as hg
from hologram.dsl import ir

GOLDEN = Path(__file__).parent / "golden"
KERNELS = {
    "saxpy": (golden_kernels.saxpy, {"y": "f32", "out": "f32"}),
    "clamp_shift": (golden_kernels.clamp_shift, {"x": "f32", "out": "f64"}),
    "block_sums": (golden_kernels.block_sums, {"x": "f64", "partial": "f64"}),
    "cast_scale": (golden_kernels.cast_scale, {"x": "i32", "out": "f16", "T": "f16"}),
}
UPDATE = os.environ.get("HOLOGRAM_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_ir_matches_the_golden_file(name):
    kernel, _ = KERNELS[name]
    path = GOLDEN / f"{name}.json"
    text = kernel.to_json()
    if UPDATE:
        path.write_text(text)
    assert path.is_file(), f"{path} is missing: run with HOLOGRAM_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"the IR of {name} changed; see this file's docstring"


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_golden_file_compiles_without_the_python_source(name):
    kernel, signature = KERNELS[name]
    stored = hg.Kernel.from_ir((GOLDEN / f"{name}.json").read_text())
    assert stored.fn is None
    assert stored.specialize(signature).digest == kernel.specialize(signature).digest


def test_golden_files_are_readable_and_versioned():
    for path in sorted(GOLDEN.glob("*.json")):
        doc = json.loads(path.read_text())
        assert doc["schema"] == ir.SCHEMA and doc["version"] == list(ir.VERSION)
        assert doc["source"]["file"] == "tests/dsl/golden_kernels.py"
        assert max(len(line) for line in path.read_text().splitlines()) <= 100
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(KERNELS)
