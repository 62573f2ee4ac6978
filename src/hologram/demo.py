"""The demo: a few standard ops on every available backend, checked against NumPy.

    python -m hologram.demo [--size N] [--backend NAME ...] [--repeats R]

For each backend it runs add, gelu, softmax, matmul and sum on the same random float32 inputs,
compares every result with NumPy computing in float64, and times the calls. The exit status is
0 when every check passes.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from hologram.runtime.executor import Executor

DEFAULT_SIZE = 1 << 16
"""Elements per input: a 256 x 256 matmul and softmax over 256 rows of 256."""
_ERF = np.frompyfunc(math.erf, 1, 1)

Inputs = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class DemoOp:
    """One op of the demo: its inputs, how hologram runs it, and what NumPy says it gives."""

    name: str
    make_inputs: Callable[[np.random.Generator, int], Inputs]
    run: Callable[[Executor, Inputs], object]
    numpy: Callable[[Inputs], np.ndarray]
    """NumPy's float64 result: the oracle (and, on float32 inputs, the timing baseline)."""
    rtol: float
    """Allowed error relative to the largest magnitude of the expected result."""


def _square(size: int) -> int:
    return max(1, math.isqrt(size))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)).astype(x.dtype))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _ops() -> tuple[DemoOp, ...]:
    import hologram.ops as hops

    def normal(*shape_of: Callable[[int], tuple[int, ...]]):
        def make(rng: np.random.Generator, size: int) -> Inputs:
            return tuple(rng.standard_normal(s(size), dtype=np.float32) for s in shape_of)

        return make

    def flat(size: int) -> tuple[int, ...]:
        return (size,)

    def rows(size: int) -> tuple[int, ...]:
        n = _square(size)
        return (max(1, size // n), n)

    def square(size: int) -> tuple[int, ...]:
        return (_square(size), _square(size))

    def uniform(rng: np.random.Generator, size: int) -> Inputs:
        return (rng.random(size, dtype=np.float32),)

    return (
        DemoOp(
            "add",
            normal(flat, flat),
            lambda ex, x: hops.add(*x, executor=ex),
            lambda x: x[0] + x[1],
            1e-6,
        ),
        DemoOp(
            "gelu",
            normal(flat),
            lambda ex, x: hops.gelu(x[0], executor=ex),
            lambda x: _gelu(x[0]),
            1e-5,
        ),
        DemoOp(
            "softmax",
            normal(rows),
            lambda ex, x: hops.softmax(x[0], axis=-1, executor=ex),
            lambda x: _softmax(x[0]),
            1e-5,
        ),
        DemoOp(
            "matmul",
            normal(square, square),
            lambda ex, x: hops.matmul(*x, executor=ex),
            lambda x: x[0] @ x[1],
            1e-5,
        ),
        DemoOp(
            "sum",
            uniform,
            lambda ex, x: hops.sum(x[0], executor=ex),
            lambda x: np.sum(x[0]),
            1e-5,
        ),
    )


@dataclass(frozen=True)
class DemoResult:
    """The outcome of one op on one backend."""

    op: str
    backend: str
    shape: tuple[int, ...]
    preview: str
    max_error: float
    tolerance: float
    first_call_s: float
    median_s: float

    @property
    def passed(self) -> bool:
        return bool(self.max_error <= self.tolerance)


def _preview(values: np.ndarray, count: int = 3) -> str:
    flat = np.asarray(values).reshape(-1)
    shown = ", ".join(f"{v:.4g}" for v in flat[:count])
    return f"[{shown}{', …' if flat.size > count else ''}]"


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_demo(
    size: int = DEFAULT_SIZE,
    backends: Sequence[str] | None = None,
    repeats: int = 5,
    seed: int = 0,
) -> tuple[list[DemoResult], dict[str, float]]:
    """Run every demo op on `backends` (default: all available here) at about `size` elements.

    Returns the results, and NumPy's median time per op on the same float32 inputs.
    """
    from hologram.backends import available_backends

    names = list(backends) if backends is not None else available_backends()
    executors = [Executor(name) for name in names]
    rng = np.random.default_rng(seed)
    results: list[DemoResult] = []
    numpy_times: dict[str, float] = {}
    for op in _ops():
        inputs = op.make_inputs(rng, size)
        expected = np.asarray(op.numpy(tuple(x.astype(np.float64) for x in inputs)))
        numpy_times[op.name] = _median_seconds(lambda op=op, x=inputs: op.numpy(x), repeats)
        tolerance = op.rtol * max(1.0, float(np.max(np.abs(expected))))
        for ex in executors:
            start = time.perf_counter()
            got = np.asarray(op.run(ex, inputs), dtype=np.float64)
            first = time.perf_counter() - start
            median = _median_seconds(lambda op=op, ex=ex, x=inputs: op.run(ex, x), repeats)
            error = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else np.inf
            results.append(
                DemoResult(
                    op.name,
                    ex.backend_name,
                    tuple(expected.shape),
                    _preview(got),
                    error,
                    tolerance,
                    first,
                    median,
                )
            )
    return results, numpy_times


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f}"


def results_table(results: Sequence[DemoResult]) -> Table:
    """One row per op and backend: result preview, error against NumPy, PASS or FAIL."""
    table = Table(title="Results, checked against NumPy (float64)")
    table.add_column("op", no_wrap=True)
    table.add_column("backend", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("error", justify="right", no_wrap=True, min_width=7)
    table.add_column("check", no_wrap=True)
    table.add_column("result", overflow="ellipsis", no_wrap=True, max_width=26)
    for r in results:
        check = "[green]PASS[/]" if r.passed else f"[red]FAIL[/] > {r.tolerance:.1e}"
        table.add_row(
            r.op,
            r.backend,
            "x".join(map(str, r.shape)) or "()",
            f"{r.max_error:.1e}",
            check,
            r.preview,
        )
    return table


def timings_table(results: Sequence[DemoResult], numpy_times: dict[str, float]) -> Table:
    """Milliseconds per call: NumPy, then each backend's first call (compiles) and median."""
    backends = list(dict.fromkeys(r.backend for r in results))
    table = Table(
        title="Milliseconds per call",
        caption="first: the first call, which compiles (or loads from the cache); "
        "median: of the later calls. NumPy has no vectorised erf: its gelu calls math.erf "
        "per element.",
    )
    table.add_column("op", no_wrap=True)
    table.add_column("numpy", justify="right")
    for name in backends:
        table.add_column(f"{name} first", justify="right")
        table.add_column(f"{name} median", justify="right")
    for op, numpy_s in numpy_times.items():
        row = [op, _ms(numpy_s)]
        by_backend = {r.backend: r for r in results if r.op == op}
        for name in backends:
            r = by_backend.get(name)
            row += [_ms(r.first_call_s), _ms(r.median_s)] if r else ["-", "-"]
        table.add_row(*row)
    return table


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Run the demo and print its tables; 0 when every check passes, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m hologram.demo", description=__doc__)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="elements per input")
    parser.add_argument("--backend", action="append", help="a backend to run (repeatable)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per op")
    args = parser.parse_args(argv)
    if args.size < 1 or args.repeats < 1:
        parser.error("--size and --repeats must be positive")
    console = console or Console()

    from hologram import __version__
    from hologram.backends import availability, backend_names
    from hologram.errors import HologramError

    console.print(f"[bold]hologram {__version__}[/] demo: {args.size:,} elements per input")
    for name in backend_names():
        ok, reason = availability(name)
        if not ok:
            console.print(f"[dim]backend {name} skipped: {reason}[/]")
    try:
        results, numpy_times = run_demo(args.size, args.backend, args.repeats)
    except HologramError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    console.print(results_table(results))
    console.print(timings_table(results, numpy_times))
    failed = [r for r in results if not r.passed]
    if failed:
        console.print(f"[red]{len(failed)} of {len(results)} checks failed[/]")
        return 1
    console.print(f"[green]all {len(results)} checks passed[/]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
