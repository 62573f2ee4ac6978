"""The op benchmark: each `hologram.ops` op against its NumPy equivalent, in one run.

For every op, size and backend it measures, as medians of `repeats` samples taken in turn
(see `_median_seconds`) after a warm-up:
- the op end to end as a user calls it (`hologram.ops.add(a, b)` on NumPy arrays, output
  allocation included);
- the raw launches on preallocated Buffers (`hologram.ops.prepare(...).run()`);
- the NumPy call producing a new array (`np.add(a, b)`; several calls where NumPy has no one
  function, e.g. softmax; erf and gelu use the Abramowitz-Stegun 7.1.26 polynomial, NumPy
  having no erf).
The ratio is NumPy time / hologram time (above 1: hologram is faster). GB/s counts the bytes
of the inputs and the output once. Targets (checked from 1e6 elements): single elementwise
ops >= 1.0x NumPy, the fused chain of four ops >= 2x, matmul and gemm within 1.1x.

    rows = run_ops_benchmark(["cpu"], [10**6], ["add", "chain"], repeats=5)
    rich.print(render_table(rows))
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.table import Table

from hologram.errors import HologramError

TARGET_FROM_SIZE = 10**6
"""Targets apply from this many elements on; smaller sizes measure call overhead."""
ROW_LENGTH = 1000
"""Reductions, softmax and layer_norm work on rows of this many elements."""
BIAS_LENGTH = 512
"""`add_bias` adds a vector of this many elements to each row."""
MAX_MATMUL_SIDE = 2048
"""Square matmul/gemm rows stop at this side (larger ones take seconds a call)."""
_MIN_SAMPLE_SECONDS = 2e-3
"""Each timing sample runs a call this long at least (several calls when one is shorter)."""
CHAIN_STEPS = (("add", 1), ("mul", 2), ("sub", 3), ("relu", None))
"""The fused chain: relu((a + b) * c - d), four elementwise ops in one program."""


@dataclass(frozen=True)
class BenchRow:
    """One measured op: medians in seconds, throughputs in GB/s, ratio = NumPy / hologram."""

    op: str
    backend: str
    size: int
    dtype: str
    seconds: float
    numpy_seconds: float
    gbps: float
    numpy_gbps: float
    ratio: float
    raw_seconds: float = math.nan
    raw_gbps: float = math.nan
    raw_ratio: float = math.nan
    target: float | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """Whether the end-to-end ratio meets the target (None where there is no target)."""
        if self.target is None or self.size < TARGET_FROM_SIZE:
            return None
        return self.ratio >= self.target


# ---------------------------------------------------------------- NumPy peers
def _np_erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): what a NumPy user writes without SciPy.
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.copysign(1.0 - poly * np.exp(-x * x), x)


def _np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_layer_norm(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)


_NUMPY: dict[str, Callable[..., np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "minimum": np.minimum,
    "maximum": np.maximum,
    "pow": np.power,
    "abs": np.abs,
    "neg": np.negative,
    "relu": lambda x: np.maximum(x, 0),
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "gelu": lambda x: 0.5 * x * (1 + _np_erf(x * np.float32(0.7071067811865476))),
    "erf": _np_erf,
    "sum": lambda x: np.sum(x, axis=-1),
    "min": lambda x: np.min(x, axis=-1),
    "max": lambda x: np.max(x, axis=-1),
    "mean": lambda x: np.mean(x, axis=-1),
    "softmax": _np_softmax,
    "layer_norm": _np_layer_norm,
    "chain": lambda a, b, c, d: np.maximum((a + b) * c - d, 0),
    "matmul": np.matmul,
    "gemm": lambda a, b, c: 0.5 * (a @ b) + 2.0 * c,
}


# ---------------------------------------------------------------- cases
@dataclass(frozen=True)
class _Case:
    op: str
    arity: int = 1
    domain: tuple[float, float] = (-3.0, 3.0)
    layout: str = "flat"  # flat | rows | square | bias
    target: float | None = None
    prefix: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def shapes(self, size: int) -> list[tuple[int, ...]]:
        if self.layout == "rows":
            return [(max(size // ROW_LENGTH, 1), min(size, ROW_LENGTH))] * self.arity
        if self.layout == "bias":  # [N, 512] + [512]: a broadcast read
            return [(max(size // BIAS_LENGTH, 1), BIAS_LENGTH), (BIAS_LENGTH,)]
        if self.layout == "square":
            side = max(int(round(math.sqrt(size))), 1)
            return [(side, side)] * self.arity
        return [(size,)] * self.arity


_ELEMENTWISE_TARGET = 1.0
_CASES: dict[str, _Case] = {
    **{
        op: _Case(op, 2, target=_ELEMENTWISE_TARGET)
        for op in ("add", "sub", "mul", "minimum", "maximum")
    },
    "add_bias": _Case("add", 2, layout="bias", target=_ELEMENTWISE_TARGET),
    "div": _Case("div", 2, (0.5, 3.0), target=_ELEMENTWISE_TARGET),
    "pow": _Case("pow", 2, (0.5, 2.0), target=_ELEMENTWISE_TARGET),
    **{
        op: _Case(op, target=_ELEMENTWISE_TARGET)
        for op in ("abs", "neg", "relu", "exp", "sigmoid", "tanh", "gelu", "erf")
    },
    "sqrt": _Case("sqrt", 1, (0.0, 4.0), target=_ELEMENTWISE_TARGET),
    "log": _Case("log", 1, (0.1, 4.0), target=_ELEMENTWISE_TARGET),
    **{op: _Case(op, layout="rows", kwargs={"axis": -1}) for op in ("sum", "min", "max", "mean")},
    "softmax": _Case("softmax", layout="rows"),
    "layer_norm": _Case("layer_norm", layout="rows"),
    "chain": _Case("chain", 4, target=2.0, prefix=(CHAIN_STEPS,)),
    "matmul": _Case("matmul", 2, layout="square", target=1 / 1.1),
    "gemm": _Case("gemm", 3, layout="square", target=1 / 1.1, kwargs={"alpha": 0.5, "beta": 2.0}),
}
OPS: tuple[str, ...] = tuple(_CASES)
"""Every op the benchmark knows, in table order."""


# ---------------------------------------------------------------- timing
def _median_seconds(calls: Sequence[Callable[[], Any]], repeats: int) -> list[float]:
    """The median time of one call of each of `calls`, sampled in turn `repeats` times.

    Samples alternate between the calls, so that a busy spell of the machine falls on all of
    them alike; each sample times just enough calls to be read reliably (`_MIN_SAMPLE_SECONDS`),
    so that a rare stalled call (a parallel launch waiting for a core another process holds)
    spoils one sample, which the median drops, rather than the mean of every sample.
    """
    inner = []
    for call in calls:
        call()  # warm-up: compiles, faults pages in
        start = time.perf_counter()
        call()
        once = time.perf_counter() - start
        inner.append(max(1, min(1000, int(_MIN_SAMPLE_SECONDS / max(once, 1e-9)))))
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(max(repeats, 1)):
        for call, count, taken in zip(calls, inner, samples, strict=True):
            start = time.perf_counter()
            for _ in range(count):
                call()
            taken.append((time.perf_counter() - start) / count)
    return [statistics.median(taken) for taken in samples]


def _measure(case: _Case, backend: str, size: int, repeats: int) -> BenchRow:
    import hologram.ops as hops
    from hologram.runtime.executor import Executor

    ex = Executor(backend)
    rng = np.random.default_rng(size)
    inputs = [rng.uniform(*case.domain, size=s).astype(np.float32) for s in case.shapes(size)]
    op = getattr(hops, case.op)
    peer = _NUMPY[case.op]

    def run_hologram() -> Any:
        return op(*case.prefix, *inputs, executor=ex, **case.kwargs)

    def run_numpy() -> Any:
        return peer(*inputs)

    result = np.asarray(run_hologram())
    moved = sum(x.nbytes for x in inputs) + result.nbytes
    buffers = [ex.from_numpy(x) for x in inputs]
    out = ex.allocate(result.shape, "f32")
    prepared = hops.prepare(case.op, *case.prefix, *buffers, executor=ex, out=out, **case.kwargs)
    seconds, raw_seconds, numpy_seconds = _median_seconds(
        [run_hologram, prepared.run, run_numpy], repeats
    )
    return BenchRow(
        op=case.op,
        backend=backend,
        size=size,
        dtype="f32",
        seconds=seconds,
        numpy_seconds=numpy_seconds,
        gbps=moved / seconds / 1e9,
        numpy_gbps=moved / numpy_seconds / 1e9,
        ratio=numpy_seconds / seconds,
        raw_seconds=raw_seconds,
        raw_gbps=moved / raw_seconds / 1e9,
        raw_ratio=numpy_seconds / raw_seconds,
        target=case.target,
        note="x".join(str(d) for d in inputs[0].shape) if case.layout != "flat" else "",
    )


def run_ops_benchmark(
    backends: Sequence[str],
    sizes: Sequence[int],
    ops: Sequence[str] | None = None,
    repeats: int = 5,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Measure `ops` (default: all of `OPS`) at each size (elements) on each backend, in f32.

    Square matmul and gemm rows take a side of round(sqrt(size)) and are skipped beyond
    `MAX_MATMUL_SIDE`. `progress`, if given, receives a line before each measurement.
    """
    chosen = list(ops) if ops else list(OPS)
    unknown = [op for op in chosen if op not in _CASES]
    if unknown:
        raise HologramError(f"unknown ops {', '.join(unknown)}; known: {', '.join(OPS)}")
    rows = []
    for op in chosen:
        case = _CASES[op]
        for size in sizes:
            if case.layout == "square" and case.shapes(size)[0][0] > MAX_MATMUL_SIDE:
                continue
            for backend in backends:
                if progress:
                    progress(f"{op} {size:.0e} on {backend}")
                rows.append(_measure(case, backend, int(size), repeats))
    return rows


# ---------------------------------------------------------------- table
def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1e3:.3f}"


def _ratio(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{ratio:.2f}x"


def render_table(rows: Sequence[BenchRow]) -> Table:
    """The rows as a rich table: times (ms), GB/s, ratios and PASS/FAIL against the target."""
    table = Table(title="hologram.ops vs NumPy (ratio = NumPy time / hologram time)")
    for name, justify in [
        ("op", "left"), ("backend", "left"), ("size", "right"), ("shape", "left"),
        ("hologram ms", "right"), ("GB/s", "right"), ("raw ms", "right"), ("raw GB/s", "right"),
        ("numpy ms", "right"), ("numpy GB/s", "right"), ("ratio", "right"),
        ("raw ratio", "right"), ("target", "right"), ("result", "center"),
    ]:  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "-"}[row.passed]
        target = "-" if row.target is None else f">= {row.target:.2f}x"
        table.add_row(
            row.op,
            row.backend,
            f"{row.size:.0e}",
            row.note,
            _ms(row.seconds),
            f"{row.gbps:.2f}",
            _ms(row.raw_seconds),
            f"{row.raw_gbps:.2f}",
            _ms(row.numpy_seconds),
            f"{row.numpy_gbps:.2f}",
            _ratio(row.ratio),
            _ratio(row.raw_ratio),
            target,
            verdict,
        )
    return table
