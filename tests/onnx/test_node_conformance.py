"""onnx's official backend node tests, run through hologram.

Each test compiles a one-node (or expanded-function) model, round-trips it through a `.holo`
image, runs it and compares with onnx's expected outputs. Cases that cannot pass are listed,
each with its reason, in `node_excludes.py`; the pass count is printed at the end of every
test run (see `conftest.py`).

The backend is `HOLOGRAM_NODE_BACKEND` (default `cpu`, which `make test` uses: every kernel is
compiled by Numba first, about 10 minutes for the whole suite from an empty cache on two cores;
`NODE_BACKEND=reference make conformance` runs them on the executable spec of the ISA). The cpu
backend is also checked against the reference backend on the same programs by every op's tests.
"""

from __future__ import annotations

import os
import warnings

import onnx.backend.test
from node_excludes import EXCLUDED

from hologram.onnx.backend import HologramBackend

with warnings.catch_warnings():
    # onnx computes some expected outputs with overflowing casts on import; not ours.
    warnings.simplefilter("ignore")
    _backend_test = onnx.backend.test.BackendTest(HologramBackend, __name__)

HologramBackend.cpu_backend = os.environ.get("HOLOGRAM_NODE_BACKEND", "cpu")

for _pattern in EXCLUDED:
    _backend_test.exclude(_pattern)

# The node tests only: the real-model tests download models, and the others are covered by
# the node tests of the same ops.
OnnxBackendNodeModelTest = _backend_test.test_cases["OnnxBackendNodeModelTest"]
