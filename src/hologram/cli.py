"""The `hologram` command: what this machine can run, op benchmarks, ISA tools.

    hologram info                         versions, backends, devices, settings
    hologram bench ops --sizes 1e3,1e6    each op against NumPy, per backend
    hologram isa show kernel.json         a program's text form
    hologram kernels list|compile         kernel files → JSON IR and .holo bundles (cli_kernels.py)
    hologram compile|run|inspect          ONNX models → .holo files, run them (cli_models.py)
    hologram bench model.holo --vs onnxruntime   a model against a peer (cli_models_bench.py)
    hologram holotensor encode|info|decode|verify  progressive weight files (cli_holotensor.py)
    hologram stream in.f32 -o out.f32 --op relu  a file of any size through ops (cli_stream.py)

Heavy modules (NumPy, Numba, the backends) are imported inside the commands, so that
`hologram --help` stays instant.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hologram.cli_holotensor import holotensor_app
from hologram.cli_kernels import kernels_app
from hologram.cli_models import BenchGroup, register_model_commands
from hologram.cli_stream import register_stream_command
from hologram.errors import HologramError

if TYPE_CHECKING:
    from hologram.isa.program import Program

FUTURE_BACKENDS = ("cuda", "wgpu")
"""Backends that `info` always lists, so that it says why they cannot run here."""

app = typer.Typer(
    name="hologram",
    help="Compile a program once, ahead of time, and run it fast on any backend.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
bench_app = typer.Typer(
    help="Measure hologram against its peers.", no_args_is_help=True, cls=BenchGroup
)
isa_app = typer.Typer(help="Inspect Atlas ISA programs.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(isa_app, name="isa")
app.add_typer(kernels_app, name="kernels")
app.add_typer(holotensor_app, name="holotensor")

console = Console()


def print_table(table: Table) -> None:
    """Print `table`; into a pipe or file at its natural width rather than cut to 80 columns."""
    if console.is_terminal:
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update_width(1000), table).maximum
    wide = Console(file=console.file, width=max(console.width, natural), no_color=console.no_color)
    wide.print(table)


def progress_bar() -> Progress:
    """The progress bar of long commands: description, bar, done/total, elapsed; it clears
    itself when done, leaving the results table."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _fail(message: str) -> typer.Exit:
    """Print `message` as an error and return the exit to raise."""
    # soft_wrap: a long path or message stays on one line, whole, for logs and grep.
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=1)


# ---------------------------------------------------------------- info
def backend_status(name: str) -> tuple[bool, str]:
    """(available, why) for backend `name`, including backends not part of this build."""
    from hologram.backends import availability, backend_names

    if name not in backend_names():
        return False, f"not in this build: no backends/{name}.py"
    try:
        return availability(name)
    except HologramError as exc:
        return False, str(exc)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _versions_table() -> Table:
    import numpy as np

    from hologram import __version__
    from hologram.isa.program import ISA_VERSION

    table = Table(title="hologram", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("version", __version__)
    table.add_row("ISA version", ".".join(map(str, ISA_VERSION)))
    table.add_row("Python", f"{platform.python_version()} ({platform.python_implementation()})")
    table.add_row("NumPy", np.__version__)
    try:
        import numba

        table.add_row("Numba", numba.__version__)
    except ImportError as exc:
        table.add_row("Numba", f"[red]not importable[/] ({exc})")
    table.add_row("platform", platform.platform())
    return table


def _backends_table() -> Table:
    from hologram.backends import AUTO_ORDER, backend_names, get_backend, resolve_name
    from hologram.config import settings

    names = list(dict.fromkeys([*backend_names(), *FUTURE_BACKENDS]))
    names.sort(key=lambda n: (AUTO_ORDER.index(n) if n in AUTO_ORDER else len(AUTO_ORDER), n))
    try:
        default = resolve_name(settings().backend)
    except HologramError as exc:
        default = f"none ({exc})"
    table = Table(title=f"Backends (default: {default}; auto order: {', '.join(AUTO_ORDER)})")
    for column in ("backend", "available", "why", "device"):
        table.add_column(column)
    for name in names:
        ok, why = backend_status(name)
        device = "-"
        if ok:
            try:
                device = get_backend(name).device_name()
            except HologramError as exc:
                ok, why = False, str(exc)
        table.add_row(name, "[green]yes[/]" if ok else "[red]no[/]", why, device)
    return table


def _devices_table() -> Table:
    from hologram.config import settings

    table = Table(title="Devices")
    for column in ("device", "detail"):
        table.add_column(column)
    table.add_row("CPU model", _cpu_model())
    table.add_row("CPU cores", str(os.cpu_count()))
    try:
        import numba

        threads = settings().threads or numba.config.NUMBA_NUM_THREADS
        origin = "HOLOGRAM_THREADS" if settings().threads else "one per core"
        table.add_row("cpu backend threads", f"{threads} ({origin})")
    except ImportError:
        table.add_row("cpu backend threads", "- (Numba not importable)")
    return table


def _settings_table() -> Table:
    from hologram.config import Settings, settings

    current = settings()
    table = Table(title="Settings (HOLOGRAM_* environment variables or .env)")
    for column in ("variable", "value", "from", "meaning"):
        table.add_column(column)
    for name, field in Settings.model_fields.items():
        variable = f"HOLOGRAM_{name.upper()}"
        value = getattr(current, name)
        if variable in os.environ:
            origin = "environment"
        elif value != field.get_default(call_default_factory=True):
            origin = ".env"
        else:
            origin = "default"
        table.add_row(variable, str(value), origin, field.description or "")
    return table


@app.command()
def info() -> None:
    """Show versions, every backend (available or not, and why), devices and settings."""
    try:
        for table in (_versions_table(), _backends_table(), _devices_table(), _settings_table()):
            print_table(table)
    except HologramError as exc:
        raise _fail(str(exc)) from None


# ---------------------------------------------------------------- bench
def parse_sizes(text: str) -> list[int]:
    """`"1e3,1e6"` -> [1000, 1000000]; raises typer.BadParameter for anything else."""
    sizes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            value = float(part)
        except ValueError:
            raise typer.BadParameter(f"{part!r} is not a number") from None
        if value < 1 or not value.is_integer():
            raise typer.BadParameter(f"{part!r} is not a positive whole number of elements")
        sizes.append(int(value))
    if not sizes:
        raise typer.BadParameter("give at least one size")
    return sizes


def _split_names(values: list[str] | None) -> list[str]:
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def _bench_backends(requested: list[str]) -> list[str]:
    from hologram.backends import available_backends

    if not requested:
        # The reference backend is the executable spec, not a fast path: only on request.
        chosen = [n for n in available_backends() if n != "reference"]
        return chosen or available_backends()
    for name in requested:
        ok, why = backend_status(name)
        if not ok:
            raise typer.BadParameter(
                f"backend {name!r} cannot run here: {why}", param_hint="--backend"
            )
    return requested


@bench_app.command("ops")
def bench_ops(
    backend: Annotated[
        list[str] | None,
        typer.Option(
            "--backend",
            "-b",
            help="Backend to measure; repeat or comma-separate. Default: every available "
            "backend but the reference.",
        ),
    ] = None,
    sizes: Annotated[
        str, typer.Option(help="Comma-separated element counts, e.g. 1e3,1e6.")
    ] = "1e3,1e6",
    ops: Annotated[
        str | None,
        typer.Option(help="Comma-separated ops, e.g. add,mul. Default: every op."),
    ] = None,
    repeats: Annotated[
        int, typer.Option(min=1, help="Timed samples per measurement (the median is shown).")
    ] = 5,
) -> None:
    """Time each op per backend against NumPy, and print the ratios as a table."""
    from hologram.bench import OPS, run_ops_benchmark

    size_list = parse_sizes(sizes)
    op_list = _split_names([ops]) if ops else list(OPS)
    unknown = [op for op in op_list if op not in OPS]
    if unknown:
        raise typer.BadParameter(
            f"unknown op(s) {', '.join(unknown)}; known: {', '.join(OPS)}", param_hint="--ops"
        )
    backends = _bench_backends(_split_names(backend))
    total = len(op_list) * len(size_list) * len(backends)
    rows = []
    try:
        with progress_bar() as progress:
            task = progress.add_task("starting", total=total)
            started = [0]

            def advance(line: str) -> None:
                # Called before each measurement: the one before it has finished.
                progress.update(task, completed=started[0], description=line)
                started[0] += 1

            rows = run_ops_benchmark(backends, size_list, op_list, repeats, progress=advance)
            progress.update(task, completed=total)
    except HologramError as exc:
        raise _fail(str(exc)) from None
    from hologram.bench import render_table

    print_table(render_table(rows))


# ---------------------------------------------------------------- isa
def load_program(path: Path) -> Program:
    """Read a program from its binary (`ATLS…`), JSON or text form, whichever `path` holds."""
    from hologram.isa.encoding import from_bytes, from_json
    from hologram.isa.text import from_text

    data = path.read_bytes()
    if data.startswith(b"ATLS"):
        return from_bytes(data)
    if data.lstrip().startswith(b"{"):
        return from_json(data)
    return from_text(data.decode("utf-8", errors="replace"))


@isa_app.command("show")
def isa_show(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="A program: .bin, .json or text form."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON form instead.")] = False,
) -> None:
    """Decode and verify a program, and print its text (or JSON) form."""
    from hologram.isa.encoding import to_json
    from hologram.isa.text import to_text

    try:
        program = load_program(file)
    except (HologramError, OSError) as exc:
        raise _fail(f"{file}: {exc}") from None
    text = to_json(program) if as_json else to_text(program)
    # Plain output, never wrapped or styled: what is printed parses back.
    typer.echo(text.rstrip("\n"))


# After `info`, so that `hologram --help` lists it first.
register_model_commands(app, bench_app)
register_stream_command(app)

if __name__ == "__main__":
    app()
