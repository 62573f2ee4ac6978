"""The kernel-language examples (examples/kernels/) against their NumPy peers, in one run.

    python benchmarks/kernels.py [--backend cpu] [--sizes 1e6,1e7] [--kernels saxpy,blur]
                                 [--repeats 11] [--grids 16,64,256]

For each kernel, size and backend it measures, as medians of `--repeats` samples after a
warm-up (the cpu backend's first launches also compile and decide on threads):
- raw: the kernel's launches on Buffers made once with `ex.from_numpy` before timing (outputs
  that accumulate are zeroed inside the timed call: that is part of the work);
- end to end: the example's `run()`, NumPy arrays in and out, output allocation included;
- the NumPy peer: `a * x + y`, `np.sum(x * x)`, a slicing blur, `np.bincount`.
The ratio is hologram time / NumPy time (below 1: hologram is faster). Targets, on the cpu
backend from 1e6 elements: saxpy raw <= 1.2x NumPy, sum of squares raw <= 1.5x. Every raw
result is also checked against the peer's. Exit status 1 when a target or a check fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import hologram

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "kernels"
TARGET_BACKENDS = ("cpu",)
"""The backends the targets are set for (the issue's: NumPy runs on the same cores)."""
TARGET_FROM_SIZE = 10**6
"""Targets apply from this many elements on; smaller sizes measure launch overhead."""
WARMUP_CALLS = 3
"""The cpu backend runs a kernel's first two launches on one thread to time it."""
WARMUP_SECONDS = 1.0
"""...and then settles on threads: where parallel launches lose (busy cores), it backs off
for 1, 2, 4, ... 1024 launches, so short kernels need a few thousand calls to settle."""
MIN_SAMPLE_SECONDS = 0.02
"""Short calls are repeated within one sample until it lasts about this long."""
HISTOGRAM_BINS = 256


@cache
def example(name: str) -> ModuleType:
    """The example script examples/kernels/`name`.py as a module."""
    spec = importlib.util.spec_from_file_location(f"kernel_example_{name}", EXAMPLES / f"{name}.py")
    if spec is None or spec.loader is None:
        raise hologram.HologramError(f"cannot load the example {EXAMPLES / name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Workload:
    """One kernel at one size, ready to time: three calls and a check of the raw result."""

    shape: str
    config: hologram.LaunchConfig
    raw: Callable[[], Any]
    end_to_end: Callable[[], Any]
    peer: Callable[[], Any]
    raw_matches_peer: Callable[[], bool]


@dataclass(frozen=True)
class Case:
    """A benchmarked kernel: its NumPy peer, default sizes, target and how to set it up."""

    name: str
    peer: str
    sizes: tuple[int, ...]
    target: float | None  # the largest hologram / NumPy time ratio allowed
    setup: Callable[[hologram.Executor, int, int], Workload]


@dataclass(frozen=True)
class Row:
    """One measurement: medians in seconds; ratios are hologram time / peer time."""

    case: Case
    backend: str
    size: int
    workload: Workload
    raw_seconds: float
    end_to_end_seconds: float
    peer_seconds: float
    correct: bool

    @property
    def ratio(self) -> float:
        """Raw launch time / peer time."""
        return self.raw_seconds / self.peer_seconds

    @property
    def end_to_end_ratio(self) -> float:
        """End-to-end time / peer time."""
        return self.end_to_end_seconds / self.peer_seconds

    @property
    def target(self) -> float | None:
        """The target that applies to this row, or None."""
        applies = self.backend in TARGET_BACKENDS and self.size >= TARGET_FROM_SIZE
        return self.case.target if applies else None

    @property
    def passed(self) -> bool | None:
        """Whether the raw ratio meets the target (None where no target applies)."""
        return None if self.target is None else self.ratio <= self.target


# ---------------------------------------------------------------- workloads
def _launcher(
    ex: hologram.Executor, kernel: Any, config: hologram.LaunchConfig, args: list[Any]
) -> Callable[[], None]:
    """A raw launch: the program of `args`' signature, looked up once."""
    program, runtime = kernel.program_for(args)
    return lambda: ex.launch(program, config, args=runtime)


def _saxpy(ex: hologram.Executor, size: int, seed: int) -> Workload:
    m = example("saxpy")
    rng = np.random.default_rng(seed)
    a = 2.5  # a Python float: float32 in the kernel and under NumPy's promotion rules
    x = rng.standard_normal(size, dtype=np.float32)
    y = rng.standard_normal(size, dtype=np.float32)
    xb, yb, out = ex.from_numpy(x), ex.from_numpy(y), ex.allocate(size, "f32")
    config = m.launch_config(size)
    return Workload(
        shape=str(size),
        config=config,
        raw=_launcher(ex, m.saxpy, config, [a, xb, yb, out, size]),
        end_to_end=lambda: m.run(ex, a, x, y),
        peer=lambda: a * x + y,
        raw_matches_peer=lambda: np.allclose(out.to_numpy(), a * x + y, rtol=1e-6, atol=1e-6),
    )


def _sum_of_squares(grid: int) -> Callable[[hologram.Executor, int, int], Workload]:
    def setup(ex: hologram.Executor, size: int, seed: int) -> Workload:
        m = example("sum_of_squares")
        x = np.random.default_rng(seed).standard_normal(size, dtype=np.float32)
        xb, out = ex.from_numpy(x), ex.allocate(1, "f32")
        config = m.launch_config(size, grid)
        launch = _launcher(ex, m.sum_of_squares, config, [xb, out, size])

        def raw() -> None:
            out.fill(0)
            launch()

        return Workload(
            shape=str(size),
            config=config,
            raw=raw,
            end_to_end=lambda: m.run(ex, x, grid),
            peer=lambda: np.sum(x * x),
            raw_matches_peer=lambda: math.isclose(
                float(out.to_numpy()[0]), float(np.sum(x * x, dtype=np.float64)), rel_tol=1e-5
            ),
        )

    return setup


def _blur(tiled: bool) -> Callable[[hologram.Executor, int, int], Workload]:
    def setup(ex: hologram.Executor, size: int, seed: int) -> Workload:
        m = example("blur")
        side = max(1, round(math.sqrt(size)))
        image = np.random.default_rng(seed).random((side, side), dtype=np.float32)
        ib, out = ex.from_numpy(image), ex.allocate((side, side), "f32")
        config = m.launch_config(side, side)
        kernel = m.blur_tiled if tiled else m.blur
        return Workload(
            shape=f"{side}x{side}",
            config=config,
            raw=_launcher(ex, kernel, config, [ib, out, side, side, 1]),
            end_to_end=lambda: m.run(ex, image, 1, tiled),
            peer=lambda: m.numpy_blur(image),
            raw_matches_peer=lambda: np.allclose(
                out.to_numpy(), m.numpy_blur(image), rtol=0, atol=1e-5
            ),
        )

    return setup


def _histogram(ex: hologram.Executor, size: int, seed: int) -> Workload:
    m = example("histogram")
    bins = HISTOGRAM_BINS
    values = np.random.default_rng(seed).integers(0, bins, size, dtype=np.int32)
    vb, hist = ex.from_numpy(values), ex.allocate(bins, "i32")
    config = m.launch_config(size)
    launch = _launcher(ex, m.histogram, config, [vb, hist, size, bins])

    def raw() -> None:
        hist.fill(0)
        launch()

    return Workload(
        shape=f"{size} into {bins}",
        config=config,
        raw=raw,
        end_to_end=lambda: m.run(ex, values, bins),
        peer=lambda: np.bincount(values, minlength=bins),
        raw_matches_peer=lambda: np.array_equal(
            hist.to_numpy(), np.bincount(values, minlength=bins)
        ),
    )


def cases(grids: Sequence[int]) -> list[Case]:
    """Every benchmarked kernel, in table order; sum of squares once per grid in `grids`."""
    return [
        Case("saxpy", "a*x+y", (10**6, 10**7), 1.2, _saxpy),
        *(
            Case("sum_of_squares", "np.sum(x*x)", (10**6, 10**7), 1.5, _sum_of_squares(grid))
            for grid in grids
        ),
        Case("blur", "numpy slices", (2048 * 2048,), None, _blur(tiled=False)),
        # Shared memory and barriers run in the cpu backend's slower lockstep mode: a smaller
        # default image keeps the run short.
        Case("blur_tiled", "numpy slices", (1024 * 1024,), None, _blur(tiled=True)),
        Case("histogram", "np.bincount", (10**7,), None, _histogram),
    ]


# ---------------------------------------------------------------- timing
def median_seconds(call: Callable[[], Any], repeats: int) -> float:
    """The median time of one call over `repeats` samples, after a warm-up.

    The warm-up makes at least `WARMUP_CALLS` calls and lasts at least `WARMUP_SECONDS`.
    """
    calls, warmup_end = 0, time.perf_counter() + WARMUP_SECONDS
    while calls < WARMUP_CALLS or time.perf_counter() < warmup_end:
        call()
        calls += 1
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    inner = max(1, min(1000, int(MIN_SAMPLE_SECONDS / max(once, 1e-9))))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            call()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def measure(case: Case, backend: str, size: int, repeats: int) -> Row:
    """Time one case at one size on one backend."""
    ex = hologram.Executor(backend)
    work = case.setup(ex, size, size)
    raw_seconds = median_seconds(work.raw, repeats)
    correct = work.raw_matches_peer()
    return Row(
        case=case,
        backend=ex.backend_name,
        size=size,
        workload=work,
        raw_seconds=raw_seconds,
        end_to_end_seconds=median_seconds(work.end_to_end, repeats),
        peer_seconds=median_seconds(work.peer, repeats),
        correct=correct,
    )


# ---------------------------------------------------------------- table
def _launch_text(config: hologram.LaunchConfig) -> str:
    grid = "x".join(str(d) for d in config.grid if d > 1) or "1"
    block = "x".join(str(d) for d in config.block if d > 1) or "1"
    return f"{grid} of {block}"


def render_table(rows: Sequence[Row]) -> Table:
    """The rows as a rich table: times (ms), ratios and PASS/FAIL against the targets."""
    table = Table(title="kernel examples vs NumPy (ratio = hologram time / NumPy time)")
    for name, justify in [
        ("kernel", "left"), ("backend", "left"), ("size", "right"), ("launch", "left"),
        ("hologram ms", "right"), ("end-to-end ms", "right"), ("peer", "left"),
        ("peer ms", "right"), ("ratio", "right"), ("e2e ratio", "right"), ("target", "right"),
        ("result", "center"),
    ]:  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "-"}[row.passed]
        if not row.correct:
            verdict = "[red]WRONG[/]"
        table.add_row(
            row.case.name,
            row.backend,
            row.workload.shape,
            _launch_text(row.workload.config),
            f"{row.raw_seconds * 1e3:.3f}",
            f"{row.end_to_end_seconds * 1e3:.3f}",
            row.case.peer,
            f"{row.peer_seconds * 1e3:.3f}",
            f"{row.ratio:.2f}x",
            f"{row.end_to_end_ratio:.2f}x",
            "-" if row.target is None else f"<= {row.target:.1f}x",
            verdict,
        )
    return table


def _ints(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, run the benchmark and print its table; 1 if a target or check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu", help="the backend to measure (default cpu)")
    parser.add_argument(
        "--sizes", type=_ints, default=None,
        help="comma-separated element counts for every kernel (default: each kernel's own; "
        "blur takes a square of about that many pixels)",
    )  # fmt: skip
    parser.add_argument(
        "--kernels", type=_names, default=None, help="comma-separated kernels (default all)"
    )
    parser.add_argument("--repeats", type=int, default=11, help="samples per median (default 11)")
    parser.add_argument(
        "--grids", type=_ints, default=None,
        help="comma-separated block counts for sum_of_squares (default: the example's)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.repeats < 1 or any(n < 1 for n in (args.sizes or []) + (args.grids or [])):
        parser.error("--repeats, --sizes and --grids must be at least 1")
    chosen = cases(args.grids or [example("sum_of_squares").GRID])
    if args.kernels:
        unknown = sorted(set(args.kernels) - {case.name for case in chosen})
        if unknown:
            parser.error(f"unknown kernels {', '.join(unknown)}")
        chosen = [case for case in chosen if case.name in args.kernels]
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a pipe or a log file: never squeeze the table
    rows = []
    with console.status("measuring") as status:
        for case in chosen:
            for size in args.sizes or case.sizes:
                status.update(f"measuring {case.name} {size:.0e} on {args.backend}")
                rows.append(measure(case, args.backend, size, args.repeats))
    console.print(render_table(rows))
    failed = [row for row in rows if row.passed is False or not row.correct]
    passed = [row for row in rows if row.passed and row.correct]
    console.print(f"targets: {len(passed)} PASS, {len(failed)} FAIL or WRONG")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
