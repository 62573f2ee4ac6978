"""End-to-end models against onnxruntime: MLP, ResNet-, MobileNet-, BERT-, GPT- and UNet-style.

Each model is exported from PyTorch once (`model_zoo.py`) and the ONNX file cached in
`data/`; without torch and without the cached file the test skips. hologram compiles it,
runs it on the cpu backend, and its float32 output must be within relative L2 error 1e-4 of
onnxruntime's on the same inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hologram

DATA = Path(__file__).resolve().parent / "data"
NAMES = ["mlp", "resnet", "mobilenet", "unet", "bert", "gpt"]
TOLERANCE = 1e-4


def model_path(name: str) -> Path:
    """The cached ONNX export of model `name`, exporting it first where torch is installed."""
    path = DATA / f"{name}.onnx"
    if not path.exists():
        pytest.importorskip("torch", reason="exporting the test models needs torch")
        from model_zoo import export

        DATA.mkdir(exist_ok=True)
        export(name, str(path))
    return path


def random_feeds(model: hologram.Model, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded random inputs of `batch` rows for every input (token ids below 1000)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in model.inputs:
        shape = tuple(batch if isinstance(d, str) else d for d in info.shape)
        if np.issubdtype(info.dtype, np.integer):
            feeds[info.name] = rng.integers(0, 1000, size=shape).astype(info.dtype)
        else:
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
    return feeds


def relative_l2(got: np.ndarray, want: np.ndarray) -> float:
    """||got - want|| / ||want|| in float64."""
    want64 = want.astype(np.float64)
    return float(np.linalg.norm(got.astype(np.float64) - want64) / np.linalg.norm(want64))


@pytest.mark.parametrize("name", NAMES)
def test_model_matches_onnxruntime(name: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = model_path(name)
    artifact = tmp_path / f"{name}.holo"
    hologram.compile(path, output=artifact)
    model = hologram.load(artifact, backend="cpu")
    assert any(isinstance(d, str) for d in model.inputs[0].shape), "the batch stays symbolic"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, seed in ((1, 11), (3, 12)):
        feeds = random_feeds(model, batch, seed)
        want = session.run(None, feeds)[0]
        got = model.run(feeds)["output"]
        assert got.shape == want.shape
        assert relative_l2(got, want) < TOLERANCE, f"{name} batch {batch}"
        again = model.run(feeds)["output"]  # the cached plan, replayed
        np.testing.assert_array_equal(again, got)
