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
the middle of an inference.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, MutableMapping

import numpy as np

from hologram.holotensor.decoder import HoloTensorDecoder
from hologram.holotensor.errors import HoloTensorError


class HotReloadController:
    """Refines a model's weights in place; `apply(name, array)` may replace the copy (to write
    device memory, say)."""

    def __init__(
        self,
        weights: MutableMapping[str, np.ndarray],
        apply: Callable[[str, np.ndarray], None] | None = None,
    ) -> None:
        self.weights = weights
        self.apply = apply
        self.qualities: dict[str, float] = {}
        self.version = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)

    def update(self, name: str, decoder: HoloTensorDecoder) -> float:
        """Write the decoder's current reconstruction of `name` into the model; its quality."""
        if not decoder.can_reconstruct():
            return self.qualities.get(name, 0.0)
        values = decoder.reconstruct()
        quality = decoder.quality()
        with self._lock:
            if self.apply is not None:
                self.apply(name, values)
            else:
                if name not in self.weights:
                    raise HoloTensorError(f"hot reload: the model has no weight {name!r}")
                target = self.weights[name]
                if target.shape != values.shape:
                    raise HoloTensorError(
                        f"hot reload: {name!r} is {target.shape} in the model, {values.shape} "
                        "in the file"
                    )
                np.copyto(target, values, casting="unsafe")
            self.qualities[name] = quality
            self.version += 1
            self._changed.notify_all()
        return quality

    def on_fragment(self, name: str, decoder: HoloTensorDecoder) -> None:
        """The loader's callback: refine `name` now."""
        self.update(name, decoder)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the weights still (no update lands) for the duration."""
        with self._lock:
            yield

    def quality(self) -> float:
        """The lowest quality of the tensors loaded so far (0 when none is)."""
        with self._lock:
            if not self.qualities or set(self.qualities) < set(self.weights):
                return 0.0
            return min(self.qualities.values())

    def wait_for(self, quality: float, timeout: float | None = None) -> bool:
        """Block until every weight reaches `quality` (True) or `timeout` seconds pass."""
        with self._changed:
            return self._changed.wait_for(lambda: self.quality() >= quality, timeout)
