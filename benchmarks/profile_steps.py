"""Where a compiled model's time goes: each plan step timed on its own, summed per kernel and
per ONNX node, next to the whole run and onnxruntime's.

    python benchmarks/profile_steps.py resnet --batch 32 [--backend cpu|cuda] [--repeats 5]

The model is one of the end-to-end set (`tests/models/data/*.onnx`). It is compiled, loaded on
the backend and run a few times; then every launch step of the plan made for this batch is
called alone, `--repeats` times, with a device synchronisation after each on GPU backends, and
the medians are added up by kernel and by node. The per-step sum exceeds a run's time (each
step pays its own synchronisation and call), but the ranking is what this is for.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import hologram
from hologram.compiler.plan import LaunchStep

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import DATA, feeds_for  # noqa: E402


def _synchronise(backend: str) -> None:
    if backend == "cuda":
        import cupy

        cupy.cuda.Device().synchronize()


def _median_ms(call, backend: str, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        _synchronise(backend)
        start = time.perf_counter()
        call()
        _synchronise(backend)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def profile(name: str, batch: int, backend: str, repeats: int, top: int) -> None:
    """Print the run time against onnxruntime, then the top kernels and nodes by step time."""
    console = Console()
    source = DATA / f"{name}.onnx"
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.holo"
        hologram.compile(str(source), output=str(path))
        model = hologram.load(str(path), backend=backend)
        feeds = feeds_for(model, batch, rng)
        for _ in range(3):
            model.run(feeds)
        run_ms = _median_ms(lambda: model.run(feeds), backend, max(repeats, 10))
        try:
            import onnxruntime as ort

            session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
            session.run(None, feeds)
            ort_ms = _median_ms(lambda: session.run(None, feeds), "cpu", max(repeats, 10))
        except ImportError:
            ort_ms = float("nan")
        runner = next(iter(model._runners.values()))  # the plan made for this batch
        flat = {k: np.ascontiguousarray(v).reshape(-1) for k, v in feeds.items()}
        natives = runner.run(flat)
        kernels: collections.Counter[str] = collections.Counter()
        nodes: collections.Counter[str] = collections.Counter()
        for (launch, tensors), step in zip(runner._steps, runner.plan.steps, strict=True):
            if not isinstance(step, LaunchStep):
                continue
            args = [natives[t] for t in tensors]
            ms = _median_ms(lambda launch=launch, args=args: launch(*args), backend, repeats)
            program = runner.plan.programs[step.program].name.split("__")[0]
            kernels[program] += ms
            nodes[f"{step.node} ({program})"] += ms
    console.print(
        f"{name} batch {batch} on {backend}: run {run_ms:.3f} ms, onnxruntime (cpu) "
        f"{ort_ms:.3f} ms, sum of steps {sum(kernels.values()):.3f} ms"
    )
    for title, counter in (("kernel", kernels), ("node", nodes)):
        table = Table(title=f"top {top} by {title}")
        table.add_column(title)
        table.add_column("ms", justify="right")
        table.add_column("share", justify="right")
        total = sum(counter.values()) or 1.0
        for key, ms in counter.most_common(top):
            table.add_row(key, f"{ms:.3f}", f"{ms / total:.0%}")
        console.print(table)


def main() -> None:
    """Parse the command line and profile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="one of tests/models/data/*.onnx, without .onnx")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    profile(args.model, args.batch, args.backend, args.repeats, args.top)


if __name__ == "__main__":
    main()
