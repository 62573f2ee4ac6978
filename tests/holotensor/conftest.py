"""Shared fixtures: a small MLP trained on the bundled digits data (once per test session)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn provides the digits data")


@pytest.fixture(scope="session")
def trained_mlp() -> dict[str, np.ndarray]:
    """Weights of the digits MLP (`w0`, `b0`, ...), trained with a fixed seed."""
    from digits_mlp import train

    return train(seed=0)
