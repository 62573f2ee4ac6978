"""onnx's official backend node tests, run through hologram on the cpu backend.

Each test compiles a one-node (or expanded-function) model, round-trips it through a `.holo`
image, runs it on the cpu backend and compares with onnx's expected outputs. Cases that
cannot pass are listed, each with its reason, in `node_excludes.py`; the pass count is
printed at the end of every test run (see `conftest.py`).
"""

from __future__ import annotations

import warnings

import onnx.backend.test
from node_excludes import EXCLUDED

from hologram.onnx.backend import HologramBackend

with warnings.catch_warnings():
    # onnx computes some expected outputs with overflowing casts on import; not ours.
    warnings.simplefilter("ignore")
    _backend_test = onnx.backend.test.BackendTest(HologramBackend, __name__)

for _pattern in EXCLUDED:
    _backend_test.exclude(_pattern)

# The node tests only: the real-model tests download models, and the others are covered by
# the node tests of the same ops.
OnnxBackendNodeModelTest = _backend_test.test_cases["OnnxBackendNodeModelTest"]
