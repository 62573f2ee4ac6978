"""`make demo`: the ONNX classifier compiles, runs and checks out."""

from __future__ import annotations

import numpy as np

from hologram.demo_onnx import build_model, main, numpy_reference


def test_demo_passes_its_checks(capsys) -> None:
    assert main(["--batch", "2", "--runs", "2", "--backend", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "pass" in printed and "FAIL" not in printed
    assert "top class" in printed


def test_numpy_reference_is_a_probability_distribution() -> None:
    _, weights = build_model()
    image = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
    probabilities = numpy_reference(image, weights)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
