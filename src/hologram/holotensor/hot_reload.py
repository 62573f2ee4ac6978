"""`HotReloadController`: a model runs on the weights loaded so far, and they are refined in
place as more fragments arrive.

    weights = {name: np.zeros(h.shape, np.float32) for name, h in loader.headers.items()}
    controller = HotReloadController(weights)
    thread = loader.start(default_quality=1.0, on_fragment=controller.on_fragment)
    with controller.reading():                 # a consistent set of weights while it runs
        logits = run_model(weights, x)

Each update reconstructs the tensor from the decoder and copies it into the model's array
(`np.copyto`), so everything holding the array (a host `Buffer`, a compiled plan's constant)
sees the new values without a reload. `reading()` holds the lock so that no tensor changes in
the middle of an inference. `prepare` then `commit` refine several tensors at once: decoded
outside the lock, written under one hold of it (`hologram.Model.refine` works so).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping

import numpy as np

from hologram.holotensor.decoder import HoloTensorDecoder
from hologram.holotensor.errors import HoloTensorError


class HotReloadController:
    """Refines a model's weights in place; `apply(name, array)` may replace the copy (to write
    device memory, say).

    `lock` is held while weights change; a reader holds it (`reading()`) to see a consistent
    set. A writer first takes `gate`, which readers pass through before taking `lock`: new
    readers then wait, so that one reading back to back cannot starve a waiting writer."""

    def __init__(
        self,
        weights: MutableMapping[str, np.ndarray],
        apply: Callable[[str, np.ndarray], None] | None = None,
    ) -> None:
        self.weights = weights
        self.apply = apply
        self.qualities: dict[str, float] = {}
        self.version = 0
        self.lock = threading.RLock()
        self.gate = threading.RLock()
        self._changed = threading.Condition(self.lock)

    def update(self, name: str, decoder: HoloTensorDecoder) -> float:
        """Write the decoder's current reconstruction of `name` into the model; its quality."""
        if decoder.can_reconstruct():
            self.commit(self.prepare({name: decoder}))
        return self.qualities.get(name, 0.0)

    def prepare(
        self, decoders: Mapping[str, HoloTensorDecoder]
    ) -> dict[str, tuple[np.ndarray, float]]:
        """Each decoder's reconstruction and quality, for `commit` (the slow part, done
        without the lock, so that readers go on meanwhile); decoders that cannot
        reconstruct yet are left out."""
        return {
            name: (decoder.reconstruct(), decoder.quality())
            for name, decoder in decoders.items()
            if decoder.can_reconstruct()
        }

    def commit(self, prepared: Mapping[str, tuple[np.ndarray, float]]) -> None:
        """Write every prepared tensor into the model under one hold of the lock: a reader
        sees all of them updated or none."""
        if not prepared:
            return
        with self.writing():
            for name, (values, quality) in prepared.items():
                self._write(name, values)
                self.qualities[name] = quality
            self.version += 1
            self._changed.notify_all()

    def _write(self, name: str, values: np.ndarray) -> None:
        if self.apply is not None:
            self.apply(name, values)
            return
        if name not in self.weights:
            raise HoloTensorError(f"hot reload: the model has no weight {name!r}")
        target = self.weights[name]
        if target.shape != values.shape:
            raise HoloTensorError(
                f"hot reload: {name!r} is {target.shape} in the model, {values.shape} in the file"
            )
        np.copyto(target, values, casting="unsafe")

    def on_fragment(self, name: str, decoder: HoloTensorDecoder) -> None:
        """The loader's callback: refine `name` now."""
        self.update(name, decoder)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the weights still (no update lands) for the duration."""
        with self.gate:
            pass
        with self.lock:
            yield

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the weights for writing: wait for the reader in progress, keeping new ones
        out meanwhile."""
        with self.gate, self.lock:
            yield

    def quality(self) -> float:
        """The lowest quality of the tensors loaded so far (0 when none is)."""
        with self.lock:
            if not self.qualities or set(self.qualities) < set(self.weights):
                return 0.0
            return min(self.qualities.values())

    def wait_for(self, quality: float, timeout: float | None = None) -> bool:
        """Block until every weight reaches `quality` (True) or `timeout` seconds pass."""
        with self._changed:
            return self._changed.wait_for(lambda: self.quality() >= quality, timeout)
