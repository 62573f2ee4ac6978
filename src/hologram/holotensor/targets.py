"""Per-layer quality targets, and the fragments to fetch for them under a budget.

    targets = [LayerQualityTarget("attention.*", 0.999), LayerQualityTarget("*mlp*", 0.99)]
    plan = plan_fragments(headers, targets, default_quality=0.95, memory_budget=50_000_000)

The first target whose pattern (shell wildcards, `fnmatch`) matches a tensor's name sets its
quality. Without a budget each tensor gets the fewest leading fragments that reach its target.
With one (bytes, or seconds at a bandwidth), fragments are added where they remove the most
squared error per byte (error is weighted by each tensor's norm, so that large layers count as
much as they weigh) until the budget or every target is reached.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import HoloTensorHeader


@dataclass(frozen=True)
class LayerQualityTarget:
    """The quality wanted for tensors whose name matches `pattern` (`*`, `?`, `[...]`)."""

    pattern: str
    quality: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.quality <= 1.0:
            raise HoloTensorError(f"target {self.pattern!r}: quality {self.quality} not in [0, 1]")

    def matches(self, name: str) -> bool:
        """Whether this target applies to tensor `name`."""
        return fnmatch.fnmatchcase(name, self.pattern)


def resolve_targets(
    names: Sequence[str], targets: Sequence[LayerQualityTarget], default_quality: float = 1.0
) -> dict[str, float]:
    """Each name's target quality: the first matching target's, else `default_quality`."""
    out = {}
    for name in names:
        match = next((t for t in targets if t.matches(name)), None)
        out[name] = match.quality if match else default_quality
    return out


@dataclass(frozen=True)
class FragmentPlan:
    """How many leading fragments of each tensor to fetch, what they cost and give."""

    counts: dict[str, int]
    targets: dict[str, float]
    bytes: int
    qualities: dict[str, float]

    def meets_targets(self) -> bool:
        """Whether every tensor reaches its target with the planned fragments."""
        return all(self.qualities[n] >= self.targets[n] for n in self.counts)


def plan_fragments(
    headers: Mapping[str, HoloTensorHeader],
    targets: Sequence[LayerQualityTarget] = (),
    default_quality: float = 1.0,
    memory_budget: int | None = None,
    latency_budget: float | None = None,
    bandwidth: float | None = None,
) -> FragmentPlan:
    """The fragments to fetch: enough for each target, within the budget if one is given.

    `latency_budget` (seconds) with `bandwidth` (bytes a second) is a budget of their product.
    Raises `HoloTensorError` when the budget cannot hold even the essential fragments."""
    if latency_budget is not None:
        if not bandwidth:
            raise HoloTensorError("a latency budget needs the bandwidth, in bytes a second")
        budget = int(latency_budget * bandwidth)
        memory_budget = budget if memory_budget is None else min(memory_budget, budget)
    wanted = resolve_targets(list(headers), targets, default_quality)
    need = {n: max(h.quality.fragments_for(wanted[n]), h.essential, 1) for n, h in headers.items()}
    counts = dict(need)

    def cost(plan: Mapping[str, int]) -> int:
        return sum(headers[n].quality.sizes[k] for n, k in plan.items())

    if memory_budget is not None and cost(counts) > memory_budget:
        counts = {n: max(h.essential, 1) for n, h in headers.items()}
        if cost(counts) > memory_budget:
            raise HoloTensorError(
                f"memory budget {memory_budget} bytes cannot hold the essential fragments "
                f"({cost(counts)} bytes)"
            )
        spent = cost(counts)
        while True:
            best, best_rate = None, -1.0
            for name, header in headers.items():
                k = counts[name]
                if k >= need[name]:
                    continue
                curve = header.quality
                extra = curve.sizes[k + 1] - curve.sizes[k]
                if spent + extra > memory_budget:
                    continue
                gain = header.norm**2 * (curve.error(k) ** 2 - curve.error(k + 1) ** 2)
                rate = gain / max(extra, 1)
                if rate > best_rate:
                    best, best_rate = name, rate
            if best is None:
                break
            k = counts[best]
            spent += headers[best].quality.sizes[k + 1] - headers[best].quality.sizes[k]
            counts[best] = k + 1
    qualities = {n: headers[n].quality.quality(k) for n, k in counts.items()}
    return FragmentPlan(counts, wanted, cost(counts), qualities)
