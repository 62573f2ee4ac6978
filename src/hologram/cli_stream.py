"""`hologram stream`: stream a file of any size through ops, into a file, in O(1) memory.

    hologram stream data.f32 -o out.f32 --op relu --op scale=0.5 --dtype float32 --pool 64MiB

Ops: relu, scale=S, mul=S, add=C, clip=LO:HI, cast=DTYPE. The output is raw bytes, or an Arrow
IPC file when OUTPUT ends in .arrow or .feather. A progress bar shows bytes and throughput; a
summary table of the output's aggregates follows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hologram.errors import HologramError


def stream_command(
    input: Annotated[
        str,
        typer.Argument(metavar="INPUT", help="A file path or an fsspec URL (memory://, s3://)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where the output goes.")],
    op: Annotated[
        list[str] | None,
        typer.Option("--op", help="An op, in order: relu, scale=S, add=C, clip=LO:HI, cast=T."),
    ] = None,
    dtype: Annotated[str, typer.Option(help="The input's element type.")] = "float32",
    pool: Annotated[
        str | None, typer.Option(help="Pool size, e.g. 64MiB (default HOLOGRAM_STREAM_POOL).")
    ] = None,
    levels: Annotated[int, typer.Option(min=0, help="Primorial levels of chunk sizes.")] = 10,
    backend: Annotated[str | None, typer.Option(help="Backend (default: settings).")] = None,
) -> None:
    """Stream INPUT through ops into OUTPUT, chunk by chunk, through a fixed pool."""
    import numpy as np

    from hologram.cli import _fail, console, print_table
    from hologram.config import parse_bytes
    from hologram.stream import (
    AggregateDomainHead,
    ArrowSink,
    ComputePipeline,
    FileSink,
    Stream,
    parse_op,
)  # fmt: skip

    try:
        pool_bytes = parse_bytes(pool) if pool is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--pool") from None
    try:
        pipeline = ComputePipeline(backend, pool_bytes=pool_bytes)
        for spec in op or []:
            pipeline.add_op(parse_op(spec))
        stream = Stream(input, dtype=np.dtype(dtype))
        arrow = output.suffix in (".arrow", ".feather")
        sink = ArrowSink(output) if arrow else FileSink(output)
        aggregate = AggregateDomainHead()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        started = time.perf_counter()
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"streaming {input}", total=stream.nbytes)
            context = pipeline.execute(
                stream,
                levels,
                sink=sink,
                heads=[aggregate] if pipeline.out_dtype(stream.dtype).kind in "biuf" else [],
                progress=lambda done: progress.update(task, completed=done),
            )
        seconds = time.perf_counter() - started
    except (HologramError, TypeError, OSError) as exc:
        raise _fail(str(exc)) from None
    print_table(_summary(context, pipeline, seconds, output))


def _summary(context, pipeline, seconds: float, output: Path) -> Table:  # noqa: ANN001
    """The table printed after a stream: sizes, chunks, throughput and the aggregates."""
    table = Table(title=f"hologram stream -> {output}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    gauges = context.gauges
    top = max(gauges, key=lambda g: g.nbytes) if gauges else None
    table.add_row("ops", " -> ".join(map(repr, pipeline.ops)) or "none")
    table.add_row("backend", pipeline.executor.backend_name)
    table.add_row("read", f"{context.bytes_read:,} bytes")
    table.add_row("written", f"{context.total_bytes:,} bytes ({context.dtype})")
    table.add_row("period", f"{context.period} bytes ({context.period_from})")
    table.add_row("chunks", f"{len(gauges)}" + (f", largest {top.name}" if top else ""))
    rate = context.bytes_read / seconds / 1e9 if seconds > 0 else float("inf")
    table.add_row("throughput", f"{rate:.2f} GB/s ({seconds:.2f} s)")
    aggregate = context.modalities.get("aggregate")
    if aggregate is not None:
        for name in ("count", "min", "max", "sum", "mean"):
            if name in aggregate.stats:
                table.add_row(name, f"{aggregate.stats[name]}")
    return table


def register_stream_command(app: typer.Typer) -> None:
    """Add `stream` to the `hologram` app."""
    app.command("stream")(stream_command)
