"""Loading from mirrors (failover, retries, corrupt copies, stopping at the target), per-layer
targets under a budget, hot reload of a running model, and reconstruction on the device."""

from __future__ import annotations

import numpy as np
import pytest
from digits_mlp import accuracy, digits

import hologram as hg
from hologram.backends import availability
from hologram.holotensor import (
    DistributedLoader,
    FragmentSource,
    HoloTensorDecoder,
    HoloTensorEncoder,
    HoloTensorError,
    HotReloadController,
    LayerQualityTarget,
    MemorySource,
    encode_tensors,
    plan_fragments,
    write_holotensor,
)
from hologram.holotensor.device import reconstruct_on


class FlakySource(FragmentSource):
    """A mirror whose reads fail the first `failures` times, then serve `data`."""

    def __init__(self, data: bytes, failures: int, name: str) -> None:
        self.inner, self.failures, self.name = MemorySource(data), failures, name

    def size(self) -> int:
        return self.inner.size()

    def read(self, offset: int, length: int) -> bytes:
        if self.failures > 0 and offset > 0:
            self.failures -= 1
            raise OSError("connection reset")
        return self.inner.read(offset, length)


@pytest.fixture(scope="module")
def model_file(trained_mlp) -> tuple[bytes, dict]:
    encoded = encode_tensors(trained_mlp, "bitplane")
    return write_holotensor(None, encoded), {n: e.header for n, e in encoded.items()}  # type: ignore


def test_failover_between_mirrors_and_retries(trained_mlp, model_file) -> None:
    data, _ = model_file
    corrupt = bytearray(data)
    corrupt[len(data) // 2 :] = bytes(len(data) - len(data) // 2)  # second half zeroed
    sources = [MemorySource(bytes(corrupt), "corrupt"), FlakySource(data, 3, "flaky")]
    result = DistributedLoader(sources, workers=3, retries=3, backoff=0).load()
    arrays = result.arrays()
    for name, w in trained_mlp.items():
        assert arrays[name].tobytes() == w.tobytes()
    assert any(p.source == "corrupt" for p in result.problems)
    assert result.stats["flaky"].failures >= 3 and result.stats["flaky"].bytes > 0


def test_fsspec_urls_and_stopping_at_the_target(trained_mlp, model_file) -> None:
    fsspec = pytest.importorskip("fsspec", reason="URL sources use fsspec")
    data, headers = model_file
    with fsspec.open("memory://holotensor/model.htns", "wb") as out:
        out.write(data)
    loader = DistributedLoader(["memory://holotensor/model.htns"])
    result = loader.load(default_quality=0.97)
    fetched = loader.stats["memory://holotensor/model.htns"].bytes
    assert all(q >= 0.97 for q in result.qualities().values())
    assert fetched < 0.3 * sum(len(b) for b in [data])  # later planes and residuals unread
    _, _, x, y = digits()
    assert accuracy(result.arrays(), x, y) >= accuracy(trained_mlp, x, y) - 0.02


def test_layer_targets_and_budgets(model_file) -> None:
    _, headers = model_file
    targets = [LayerQualityTarget("w1", 0.999), LayerQualityTarget("w*", 0.95)]
    plan = plan_fragments(headers, targets, default_quality=1.0)
    assert plan.meets_targets() and plan.targets["w0"] == 0.95 and plan.targets["b0"] == 1.0
    budget = plan.bytes // 2
    tight = plan_fragments(headers, targets, memory_budget=budget)
    assert tight.bytes <= budget and not tight.meets_targets()
    assert all(tight.counts[n] <= plan.counts[n] for n in headers)
    with pytest.raises(HoloTensorError, match="essential"):
        plan_fragments(headers, memory_budget=10)


def test_hot_reload_refines_a_running_model(trained_mlp, model_file) -> None:
    data, headers = model_file
    _, _, x, y = digits()
    weights = {n: np.zeros(h.shape, np.float32) for n, h in headers.items()}
    seen = []
    controller = HotReloadController(weights)

    def on_fragment(name, decoder) -> None:
        controller.on_fragment(name, decoder)
        with controller.reading():
            seen.append((controller.version, accuracy(weights, x, y)))

    thread = DistributedLoader([data], workers=2).start(on_fragment=on_fragment)
    assert controller.wait_for(1.0, timeout=60)
    thread.join()
    assert thread.error is None and thread.result is not None
    assert all(weights[n].tobytes() == w.tobytes() for n, w in trained_mlp.items())
    assert seen[-1][1] == accuracy(trained_mlp, x, y) and min(a for _, a in seen) < seen[-1][1]


@pytest.mark.parametrize("backend", ["reference", "cpu", "cuda"])
def test_reconstruction_kernels_match_the_numpy_decoder(
    backend: str, rng: np.random.Generator
) -> None:
    ok, reason = availability(backend)
    if not ok:
        pytest.skip(f"backend {backend!r} is not available: {reason}")
    w = (rng.standard_normal((40, 72)) * 0.1).astype(np.float32)
    ex = hg.Executor(backend)
    cases = [("bitplane", {"rotation": None, "low_rank": None}, 0.0),
             ("bitplane", {"rotation": None, "low_rank": 3}, 1e-6),
             ("low_rank", {}, 1e-5), ("spectral", {}, 1e-5)]  # fmt: skip
    for encoding, options, tolerance in cases:
        encoded = HoloTensorEncoder(encoding, **options).with_fragments(5).encode(w)
        decoder = HoloTensorDecoder(encoded.header)
        for fragment in encoded.fragments[: int(rng.integers(1, 5))]:
            decoder.add_fragment(fragment)
        host = decoder.reconstruct()
        device = reconstruct_on(ex, decoder).to_numpy().reshape(w.shape)
        if tolerance == 0.0:
            assert device.tobytes() == host.tobytes(), encoding
        else:
            np.testing.assert_allclose(device, host, atol=tolerance * np.abs(w).max(), rtol=0)
