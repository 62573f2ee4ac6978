"""`hologram.onnx.backend`: the onnx.backend.base.Backend interface, node by node and whole."""

from __future__ import annotations

import numpy as np

import hologram.onnx.backend as backend
from onnx import helper


def test_run_node_computes_one_node() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    node = helper.make_node("Add", ["a", "b"], ["c"])
    (c,) = backend.run_node(node, [a, b])
    np.testing.assert_allclose(c, a + b)


def test_run_node_takes_output_types() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    node = helper.make_node("Transpose", ["x"], ["y"])
    (y,) = backend.run_node(node, [x], outputs_info=[(np.float32, (3, 2))])
    np.testing.assert_array_equal(y, x.T)


def test_supports_cpu() -> None:
    assert backend.supports_device("CPU")
