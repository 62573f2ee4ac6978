"""`hologram bench model`: a compiled model's load and run times, against onnxruntime on request.

    hologram bench model.holo --runs 50
    hologram bench model.holo --vs onnxruntime --source model.onnx

Runs are interleaved (hologram, then the peer, and again), so that a change in the machine's
state during the measurement touches both alike. The first run of each is timed on its own: it
compiles kernels (hologram) or finishes initialisation (onnxruntime). Inputs are the `--input`
files, or random arrays drawn from a seeded generator, symbolic dimensions taken from `--dim`
(1 when not given). onnxruntime is a peer for comparison only: it is imported here, inside the
command, and nowhere else in hologram.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from hologram.cli_models import HoloFile
from hologram.errors import HologramError

if TYPE_CHECKING:
    import numpy as np

    from hologram.runtime.model import Model

SEED = 0
"""Random inputs are drawn from `np.random.default_rng(SEED)`: each bench sees the same."""


class Peer(str, Enum):
    """What `--vs` compares against."""

    none = "none"
    onnxruntime = "onnxruntime"


@dataclass
class Timing:
    """One engine's measurements, in seconds."""

    engine: str
    load: float
    first: float
    runs: list[float] = field(default_factory=list)

    def median_ms(self) -> float:
        """The median run, in milliseconds."""
        import numpy as np

        return float(np.median(self.runs)) * 1e3

    def iqr_ms(self) -> float:
        """The interquartile range of the runs (the middle half's spread), in milliseconds."""
        import numpy as np

        low, high = np.percentile(self.runs, [25, 75])
        return float(high - low) * 1e3


def parse_dims(specs: list[str]) -> dict[str, int]:
    """`batch=4` pairs as a dict; typer.BadParameter for anything else."""
    dims = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise typer.BadParameter(f"{spec!r} is not NAME=SIZE", param_hint="--dim")
        dims[name.strip()] = int(value)
    return dims


def random_inputs(model: Model, dims: dict[str, int]) -> dict[str, np.ndarray]:
    """A random array for each tensor input: normal floats, small ints, random booleans."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    feeds = {}
    for info in model.inputs:
        if info.kind != "tensor" or info.dtype is None or info.shape is None:
            raise typer.BadParameter(
                f"input {info.name!r} ({info.kind}) cannot be drawn at random: give it a file",
                param_hint="--input",
            )
        shape = tuple(d if isinstance(d, int) else dims.get(str(d), 1) for d in info.shape)
        if info.dtype.kind == "f" or info.dtype.name == "bfloat16":
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype.kind in "iu":
            feeds[info.name] = rng.integers(0, 10, shape).astype(info.dtype)
        elif info.dtype.kind == "b":
            feeds[info.name] = rng.random(shape) < 0.5
        else:
            raise typer.BadParameter(
                f"input {info.name!r} of {info.dtype} cannot be drawn at random: give it a file",
                param_hint="--input",
            )
    return feeds


def _seconds(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def onnxruntime_session(source: Path) -> tuple[float, Callable[[dict[str, Any]], Any]]:
    """(session creation seconds, run function) for the ONNX model at `source`."""
    from hologram.cli import _fail

    try:
        import onnxruntime
    except ImportError:
        raise _fail("--vs onnxruntime needs onnxruntime: pip install onnxruntime") from None
    try:
        seconds, session = _seconds(
            lambda: onnxruntime.InferenceSession(str(source), providers=["CPUExecutionProvider"])
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise _fail(f"{source}: onnxruntime cannot load it: {exc}") from None
    names = [o.name for o in session.get_outputs()]
    return seconds, lambda feeds: dict(zip(names, session.run(names, feeds), strict=True))


def timing_table(timings: list[Timing], runs: int) -> Table:
    """One row per engine, then the ratios hologram / peer (below 1: hologram is faster)."""
    table = Table(title=f"Model benchmark ({runs} interleaved runs; ms)")
    for column in ("engine", "load", "first run", "median run", "IQR"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for timing in timings:
        table.add_row(
            timing.engine, f"{timing.load * 1e3:.2f}", f"{timing.first * 1e3:.2f}",
            f"{timing.median_ms():.3f}", f"{timing.iqr_ms():.3f}",
        )  # fmt: skip
    if len(timings) == 2:
        ours, peer = timings
        table.add_row(
            Text(f"{ours.engine} / {peer.engine}", style="bold"),
            f"{ours.load / peer.load:.2f}x" if peer.load else "-",
            f"{ours.first / peer.first:.2f}x" if peer.first else "-",
            f"{ours.median_ms() / peer.median_ms():.2f}x" if peer.median_ms() else "-",
            "",
        )
    return table


def largest_difference(ours: dict[str, Any], theirs: dict[str, Any]) -> float | None:
    """The largest absolute difference between numeric outputs of both (None if none)."""
    import numpy as np

    worst = None
    for name, value in ours.items():
        other = theirs.get(name)
        if not isinstance(value, np.ndarray) or not isinstance(other, np.ndarray):
            continue
        if value.shape != other.shape or value.dtype.kind not in "biuf":
            continue
        diff = np.abs(value.astype(np.float64) - np.asarray(other, np.float64))
        current = float(np.nanmax(diff)) if diff.size else 0.0
        worst = current if worst is None else max(worst, current)
    return worst


def bench_model(
    model: HoloFile,
    vs: Annotated[Peer, typer.Option("--vs", help="A peer to compare with.")] = Peer.none,
    source: Annotated[
        Path | None,
        typer.Option(
            "--source", exists=True, dir_okay=False, help="The .onnx the model was compiled from."
        ),
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Timed runs of each engine.")] = 20,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="NAME=FILE.npy; default: random inputs."),
    ] = None,
    dims: Annotated[
        list[str] | None,
        typer.Option("--dim", help="NAME=SIZE for a symbolic dimension of random inputs."),
    ] = None,
    backend: Annotated[str, typer.Option("--backend", "-b", help="hologram's backend.")] = "auto",
) -> None:
    """Time loading and running a .holo model (median and IQR), against onnxruntime with --vs."""
    from hologram.cli import _fail, console, print_table
    from hologram.cli_models import load_model_or_fail, parse_feeds
    from hologram.runtime.model import load

    if vs is Peer.onnxruntime and source is None:
        raise typer.BadParameter(
            "onnxruntime runs the original model: pass it with --source model.onnx",
            param_hint="--vs onnxruntime",
        )
    loaded = load_model_or_fail(model, backend)
    feeds = parse_feeds(inputs, loaded) if inputs else random_inputs(loaded, parse_dims(dims or []))
    peer = onnxruntime_session(source) if vs is Peer.onnxruntime and source is not None else None
    engines: list[tuple[Timing, Callable[[], Any]]] = []
    theirs = None
    try:
        load_seconds, loaded = _seconds(lambda: load(model, backend=backend))
        first, ours = _seconds(lambda: loaded.run(feeds))
        engines.append((Timing(f"hologram ({loaded.backend})", load_seconds, first),
                        lambda: loaded.run(feeds)))  # fmt: skip
        if peer is not None:
            session_seconds, run_peer = peer
            peer_first, theirs = _seconds(lambda: run_peer(feeds))
            engines.append((Timing("onnxruntime", session_seconds, peer_first),
                            lambda: run_peer(feeds)))  # fmt: skip
        for _ in range(runs):
            for timing, call in engines:
                timing.runs.append(_seconds(call)[0])
    except HologramError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # the peer's own errors, e.g. an input it rejects
        raise _fail(f"{type(exc).__name__}: {exc}") from None
    print_table(timing_table([timing for timing, _ in engines], runs))
    if theirs is not None:
        worst = largest_difference(ours, theirs)
        if worst is not None:
            console.print(Text(f"largest |hologram - onnxruntime| over the outputs: {worst:.3g}"))
