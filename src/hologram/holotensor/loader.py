"""`DistributedLoader`: fetch a HoloTensor file's fragments from several mirrors at once.

    loader = DistributedLoader(["https://a/model.htns", "https://b/model.htns", "local.htns"])
    result = loader.load(targets=[LayerQualityTarget("*attention*", 0.999)],
                         default_quality=0.99, memory_budget=200_000_000)
    weights = result.arrays()

Fragments are fetched by worker threads in priority order: every tensor's first fragment
before any tensor's second, so that the whole model becomes usable early and improves evenly.
Each fetch tries the mirrors in turn (starting at a different one per fragment, to spread the
load), retries failed reads, and falls over to the next mirror on an error or a checksum
mismatch. Fetching stops once each tensor reaches its target: later fragments are not read.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hologram.holotensor.decoder import FragmentProblem, HoloTensorDecoder
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.format import Layout, parse_layout, stored_fragment
from hologram.holotensor.header import Fragment, HoloTensorHeader
from hologram.holotensor.sources import FragmentSource, as_source
from hologram.holotensor.targets import LayerQualityTarget, plan_fragments

FragmentCallback = Callable[[str, HoloTensorDecoder], None]


@dataclass
class SourceStats:
    """What one mirror served."""

    requests: int = 0
    bytes: int = 0
    failures: int = 0


@dataclass
class LoadResult:
    """The decoders after loading, the problems met, and each source's figures."""

    decoders: dict[str, HoloTensorDecoder]
    problems: list[FragmentProblem] = field(default_factory=list)
    stats: dict[str, SourceStats] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every tensor that can be reconstructed, at the quality it reached."""
        return {n: d.reconstruct() for n, d in self.decoders.items() if d.can_reconstruct()}

    def qualities(self) -> dict[str, float]:
        """Each tensor's quality (0 when it cannot be reconstructed)."""
        return {n: d.quality() if d.can_reconstruct() else 0.0 for n, d in self.decoders.items()}


class DistributedLoader:
    """Loads fragments from mirrors of one file: paths, URLs, bytes or `FragmentSource`s."""

    def __init__(
        self, sources: Sequence[Any], workers: int = 4, retries: int = 2, backoff: float = 0.05
    ) -> None:
        if not sources:
            raise HoloTensorError("a DistributedLoader needs at least one source")
        self.sources: list[FragmentSource] = [as_source(s) for s in sources]
        self.workers, self.retries, self.backoff = max(1, workers), max(0, retries), backoff
        self.stats = {s.name: SourceStats() for s in self.sources}
        self.problems: list[str] = []
        self.layout = self._open()
        self.headers: dict[str, HoloTensorHeader] = {h.name: h for h in self.layout.headers}

    def _open(self) -> Layout:
        """The header and index, from the first mirror that gives a valid one."""
        for source in self.sources:
            try:
                return parse_layout(source.read, source.size(), source.name)
            except (HoloTensorError, OSError) as exc:
                self.stats[source.name].failures += 1
                self.problems.append(str(exc))
        raise HoloTensorError("no source holds a valid file: " + "; ".join(self.problems))

    def load(
        self,
        targets: Sequence[LayerQualityTarget] = (),
        default_quality: float = 1.0,
        memory_budget: int | None = None,
        names: Sequence[str] | None = None,
        on_fragment: FragmentCallback | None = None,
    ) -> LoadResult:
        """Fetch what the targets (within the budget) need; returns when done."""
        chosen = {n: self.headers[n] for n in (names or self.headers)}
        plan = plan_fragments(chosen, targets, default_quality, memory_budget)
        decoders = {n: HoloTensorDecoder(h) for n, h in chosen.items()}
        result = LoadResult(decoders, stats=self.stats)
        number = {h.name: i for i, h in enumerate(self.layout.headers)}
        tasks: queue.PriorityQueue = queue.PriorityQueue()
        order = list(chosen)
        for position, name in enumerate(order):
            for index in range(plan.counts[name]):
                tasks.put((index, position, name))
        lock = threading.Lock()

        def reached(name: str) -> bool:
            decoder = decoders[name]
            return decoder.can_reconstruct() and decoder.quality() >= plan.targets[name]

        def work() -> None:
            while True:
                try:
                    index, _, name = tasks.get_nowait()
                except queue.Empty:
                    return
                with lock:
                    if reached(name):
                        continue
                fragment = self._fetch(number[name], name, index, result, lock)
                if fragment is None:
                    continue
                with lock:
                    accepted = decoders[name].add_fragment(fragment)
                    if not accepted:
                        result.problems.append(decoders[name].problems[-1])
                    if accepted and on_fragment is not None:
                        on_fragment(name, decoders[name])

        # Rounds: a fragment lost on every mirror can leave a tensor short of its target;
        # encodings that use any subset of fragments then take the next ones.
        fetched = {n: plan.counts[n] for n in order}
        while True:
            threads = [threading.Thread(target=work, daemon=True) for _ in range(self.workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            more = False
            for position, name in enumerate(order):
                header = chosen[name]
                if not reached(name) and fetched[name] < header.fragments:
                    tasks.put((fetched[name], position, name))
                    fetched[name] += 1
                    more = True
            if not more:
                return result

    def start(self, **options: Any) -> BackgroundLoad:
        """Run `load(**options)` in a background thread (with `on_fragment`, for hot reload);
        `join()` it, then read its `result`."""
        thread = BackgroundLoad(self, options)
        thread.start()
        return thread

    def _fetch(
        self, tensor: int, name: str, index: int, result: LoadResult, lock: threading.Lock
    ) -> Fragment | None:
        """Fragment `index` of `name` from the first mirror (and copy) that serves it intact."""
        copies = self.layout.copies(tensor, index)
        if not copies:
            with lock:
                result.problems.append(FragmentProblem(name, index, "missing from the file"))
            return None
        count = len(self.sources)
        for turn in range(count):
            source = self.sources[(tensor + index + turn) % count]
            stats = self.stats[source.name]
            for entry in copies:
                for attempt in range(self.retries + 1):
                    try:
                        data = source.read(entry.offset, entry.length)
                    except (HoloTensorError, OSError) as exc:
                        with lock:
                            stats.failures += 1
                            if attempt == self.retries:
                                result.problems.append(
                                    FragmentProblem(name, index, f"read failed: {exc}", source.name)
                                )
                        time.sleep(self.backoff * (attempt + 1))
                        continue
                    with lock:
                        stats.requests += 1
                        stats.bytes += len(data)
                    found = stored_fragment(entry, data)
                    if isinstance(found, Fragment):
                        return found
                    with lock:
                        stats.failures += 1
                        result.problems.append(FragmentProblem(name, index, found, source.name))
                    break
        return None


class BackgroundLoad(threading.Thread):
    """A `DistributedLoader.load` running in the background; `result` once it has ended."""

    def __init__(self, loader: DistributedLoader, options: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.loader, self.options = loader, options
        self.result: LoadResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """Load, keeping the result (or the error) for whoever joins."""
        try:
            self.result = self.loader.load(**self.options)
        except BaseException as exc:  # handed to the joining thread, not lost in this one
            self.error = exc
