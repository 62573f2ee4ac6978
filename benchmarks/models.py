"""Models against onnxruntime, in one run: load time and latency, with medians.

    python benchmarks/models.py [--models mlp resnet ...] [--batches 1 32] [--runs 30]

For each model of the end-to-end set (`tests/models/data/*.onnx`, exported by
`tests/models/model_zoo.py`) and each batch size:
- **load**: `hologram.load` of the compiled `.holo` file against onnxruntime's
  `InferenceSession` creation for the `.onnx` file (medians of several). Loading reads the
  manifest only; the first run verifies the kernels and weights and decodes the rest;
- **first run**: load and one run of a fresh model (kernels already compiled in this
  process), against session creation and one run: what it costs to get a first result;
- **latency**: hologram's `Model.run` against onnxruntime's `run`, on the same inputs,
  interleaved in blocks of `BLOCK` runs (the first run of each block, which follows the other
  side's, not counted) so that both see the same machine noise; median and the
  interquartile range.
Both run with the same number of threads (onnxruntime's intra-op threads are set to
hologram's). Ratios are hologram / onnxruntime: below 1 is faster. Targets: load <= 0.1x,
latency <= 1.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import hologram

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "models" / "data"
MODELS = ["mlp", "resnet", "mobilenet", "unet", "bert", "gpt"]
LOAD_TARGET = 0.1
LATENCY_TARGET = 1.5


BLOCK = 5
"""Runs of one side in a row when measuring latency."""
SETTLE_SECONDS = 0.05
"""A pause before each block, for the other side's idle threads to stop spinning."""


def feeds_for(model: hologram.Model, batch: int, rng: np.random.Generator) -> dict:
    """Random inputs of `batch` rows (token ids below 1000 for integer inputs)."""
    feeds = {}
    for info in model.inputs:
        shape = tuple(batch if isinstance(d, str) else d for d in info.shape)
        if np.issubdtype(info.dtype, np.integer):
            feeds[info.name] = rng.integers(0, 1000, size=shape).astype(info.dtype)
        else:
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
    return feeds


def median_iqr(samples: list[float]) -> tuple[float, float]:
    """The median and the interquartile range of `samples`."""
    quartiles = statistics.quantiles(samples, n=4)
    return statistics.median(samples), quartiles[2] - quartiles[0]


def measure_load(onnx_path: Path, holo_path: Path, threads: int, repeats: int = 5) -> tuple:
    """Median seconds of hologram.load and of onnxruntime session creation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        hologram.load(holo_path, backend="cpu")
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        theirs.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


def measure_first_run(
    onnx_path: Path, holo_path: Path, threads: int, feeds: dict, repeats: int = 3
) -> tuple:
    """Median seconds of load plus one run, for hologram and for onnxruntime."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    hologram.load(holo_path, backend="cpu").run(feeds)  # compiles this shape's kernels
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        hologram.load(holo_path, backend="cpu").run(feeds)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        session.run(None, feeds)
        theirs.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


def measure_latency(name: str, batch: int, runs: int, threads: int, holo_path: Path) -> dict:
    """Interleaved latencies of hologram and onnxruntime for one model and batch."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(DATA / f"{name}.onnx"), options,
                                   providers=["CPUExecutionProvider"])  # fmt: skip
    model = hologram.load(holo_path, backend="cpu")
    feeds = feeds_for(model, batch, np.random.default_rng(batch))
    want = session.run(None, feeds)[0]
    got = model.run(feeds)["output"]  # plans and compiles for this shape
    error = float(np.linalg.norm(got.astype(np.float64) - want) / np.linalg.norm(want))
    for _ in range(3):
        model.run(feeds)
        session.run(None, feeds)
    ours: list[float] = []
    theirs: list[float] = []
    sides = [(lambda: model.run(feeds), ours), (lambda: session.run(None, feeds), theirs)]
    for round_ in range(-(-runs // BLOCK)):
        # Blocks of runs, alternating which side goes first: after one side's run its idle
        # threads keep spinning for a while (onnxruntime's by default) and take the cores
        # from the other's next run, so the first run of each block is not counted.
        for call, samples in sides if round_ % 2 == 0 else sides[::-1]:
            time.sleep(SETTLE_SECONDS)
            call()
            for _ in range(BLOCK):
                start = time.perf_counter()
                call()
                samples.append(time.perf_counter() - start)
    (ours_median, ours_iqr), (theirs_median, theirs_iqr) = median_iqr(ours), median_iqr(theirs)
    return {
        "ours": ours_median, "ours_iqr": ours_iqr, "theirs": theirs_median,
        "theirs_iqr": theirs_iqr, "ratio": ours_median / theirs_median, "error": error,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 32])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    from hologram.backends import get_backend

    threads = get_backend("cpu").threads
    console = Console()
    table = Table(title=f"hologram (cpu) vs onnxruntime, {threads} threads, medians")
    for column in ("model", "batch", "load ms", "ort session ms", "load ratio",
                   "first run ms (ort)", "hologram ms (IQR)", "ort ms (IQR)", "latency ratio",
                   "rel L2"):  # fmt: skip
        table.add_column(column, justify="right" if column != "model" else "left")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            onnx_path = DATA / f"{name}.onnx"
            if not onnx_path.exists():
                console.print(f"[yellow]{name}: {onnx_path.name} missing, skipped")
                continue
            holo_path = Path(tmp) / f"{name}.holo"
            hologram.compile(onnx_path, output=holo_path)
            load, session = measure_load(onnx_path, holo_path, threads)
            for batch in args.batches:
                row = measure_latency(name, batch, args.runs, threads, holo_path)
                feeds = feeds_for(hologram.load(holo_path), batch, np.random.default_rng(batch))
                first, ort_first = measure_first_run(onnx_path, holo_path, threads, feeds)
                table.add_row(
                    name, str(batch), f"{load * 1e3:.2f}", f"{session * 1e3:.2f}",
                    _mark(load / session, LOAD_TARGET),
                    f"{first * 1e3:.1f} ({ort_first * 1e3:.1f})",
                    f"{row['ours'] * 1e3:.3f} ({row['ours_iqr'] * 1e3:.3f})",
                    f"{row['theirs'] * 1e3:.3f} ({row['theirs_iqr'] * 1e3:.3f})",
                    _mark(row["ratio"], LATENCY_TARGET), f"{row['error']:.1e}",
                )  # fmt: skip
    console.print(table)
    console.print(f"targets: load ratio <= {LOAD_TARGET}, latency ratio <= {LATENCY_TARGET} "
                  "(ratios are hologram / onnxruntime)")  # fmt: skip
    return 0


def _mark(ratio: float, target: float) -> str:
    colour = "green" if ratio <= target else "red"
    return f"[{colour}]{ratio:.2f}x[/{colour}]"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
