"""`hologram compile|run|inspect` and `hologram bench model`: compiled models from the shell.

    hologram compile model.onnx -o model.holo     compile, with a progress bar and a report
    hologram run model.holo --input x=x.npy       run, save the outputs as .npy files
    hologram inspect model.holo                   inputs, outputs, kernels, arena, weights
    hologram bench model.holo --vs onnxruntime --source model.onnx

`register_model_commands` adds them to the `hologram` app (`cli.py`); `hologram bench
model.holo` reaches `bench model` through `BenchGroup`. The benchmark itself is in
`cli_models_bench.py`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from hologram.errors import HologramError

if TYPE_CHECKING:
    import click
    import numpy as np

    from hologram.runtime.model import Model

DEFAULT_BENCH_COMMAND = "model"
HoloFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, metavar="MODEL", help="The .holo model.")
]
"""The model argument of `run`, `inspect` and `bench model`."""


class BenchGroup(TyperGroup):
    """The `bench` group: a first argument that names no command is a model to benchmark,
    so `hologram bench model.holo` means `hologram bench model model.holo`."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve as usual, routing an unknown first argument to `bench model`."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [DEFAULT_BENCH_COMMAND, *args]
        return super().resolve_command(ctx, args)


def register_model_commands(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add `compile`, `run` and `inspect` to `app`, and `model` to its `bench` group."""
    from hologram.cli_models_bench import bench_model

    app.command("compile")(compile_command)
    app.command("run")(run_command)
    app.command("inspect")(inspect_command)
    bench_app.command(DEFAULT_BENCH_COMMAND)(bench_model)


# ---------------------------------------------------------------- shared helpers
def human_bytes(count: int | None) -> str:
    """`1.5 MiB`-style text (`-` for None)."""
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def shape_text(shape: Any) -> str:
    """`[batch, 3]`, or `[...]` for an unknown rank."""
    if shape is None:
        return "[...]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def load_model_or_fail(path: Path, backend: str) -> Model:
    """`hologram.load(path, backend)`, ending the command with the error if it fails."""
    from hologram.cli import _fail
    from hologram.runtime.model import load

    try:
        return load(path, backend=backend)
    except HologramError as exc:
        raise _fail(str(exc)) from None


def parse_feeds(specs: list[str], model: Model) -> dict[str, np.ndarray]:
    """`name=file.npy` pairs (or one bare `file.npy` for a one-input model) as arrays."""
    import numpy as np

    feeds: dict[str, np.ndarray] = {}
    names = [info.name for info in model.inputs]
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep:
            if len(names) != 1:
                raise typer.BadParameter(
                    f"{spec!r}: write NAME=FILE.npy (the model's inputs: {', '.join(names)})",
                    param_hint="--input",
                )
            name, file = names[0], spec
        try:
            feeds[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(
                f"{file}: cannot read as .npy: {exc}", param_hint="--input"
            ) from None
    return feeds


# ---------------------------------------------------------------- compile
REPORT_ROWS = (
    ("nodes in", "nodes_in"),
    ("nodes out", "nodes_out"),
    ("static plan", "static_plan"),
    ("launches", "launches"),
)


def report_table(report: dict[str, Any], weights_bytes: int, file_bytes: int) -> Table:
    """The compile report as a two-column table."""
    table = Table(title="Compile report", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for label, key in REPORT_ROWS:
        table.add_row(label, str(report.get(key, "-")))
    arena, naive = report.get("arena_bytes"), report.get("naive_bytes")
    arena_text = human_bytes(arena)
    if arena is not None and naive:
        arena_text += f" (naive {human_bytes(naive)}, {arena / naive:.0%})"
    table.add_row("arena", arena_text)
    table.add_row("weights", human_bytes(weights_bytes))
    table.add_row("file", human_bytes(file_bytes))
    table.add_row("seconds", f"{report.get('seconds', 0):.3f}")
    for name, counts in (report.get("passes") or {}).items():
        done = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "no change"
        table.add_row(f"pass {name}", Text(done))
    return table


def compile_command(
    model: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, metavar="MODEL", help="The ONNX model."),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The .holo file to write. Default: MODEL.holo."),
    ] = None,
    optimize: Annotated[
        bool, typer.Option("--optimize/--no-optimize", help="Run the graph passes.")
    ] = True,
    holotensor: Annotated[
        str | None,
        typer.Option(
            "--holotensor",
            help="Store float weights as HoloTensor fragments (bitplane), loadable progressively.",
        ),
    ] = None,
    fragments: Annotated[
        int | None,
        typer.Option("--fragments", min=1, help="Fragments per tensor with --holotensor."),
    ] = None,
) -> None:
    """Compile an ONNX model to a .holo file, and print the compile report."""
    from hologram.artifact.container import Container
    from hologram.artifact.model import WEIGHTS_SECTION
    from hologram.cli import _fail, console, print_table, progress_bar
    from hologram.compiler.compile import compile_model
    from hologram.compiler.passes import PASSES

    target = output or model.with_suffix(".holo")
    stages = 3 + (len(PASSES) if optimize else 0)
    try:
        with progress_bar() as progress:
            task = progress.add_task("compiling", total=stages)
            started = [0]

            def stage(name: str) -> None:
                progress.update(task, completed=started[0], description=name)
                started[0] += 1

            compiled = compile_model(
                model, target, optimize=optimize, progress=stage, holotensor=holotensor,
                fragments=fragments,
            )  # fmt: skip
            progress.update(task, completed=stages)
        with Container.open(target) as written:
            weights_bytes = written.info(WEIGHTS_SECTION).length
        file_bytes = target.stat().st_size
    except (HologramError, OSError) as exc:
        raise _fail(f"{model}: {exc}") from None
    print_table(report_table(compiled.metadata.get("report", {}), weights_bytes, file_bytes))
    console.print(Text(f"wrote {target}"), soft_wrap=True)


# ---------------------------------------------------------------- run
def output_file_name(name: str, taken: set[str]) -> str:
    """A file name for output `name`: unsafe characters as `_`, unique among `taken`."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "output"
    candidate, number = stem, 1
    while candidate in taken:
        candidate, number = f"{stem}_{number}", number + 1
    taken.add(candidate)
    return candidate + ".npy"


def run_command(
    model: HoloFile,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input", "-i", help="NAME=FILE.npy for each input (a bare FILE.npy for one input)."
        ),
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-d", help="Where to save the outputs as .npy.")
    ] = Path("."),
    backend: Annotated[
        str, typer.Option("--backend", "-b", help="Backend to run on (auto: the best here).")
    ] = "auto",
) -> None:
    """Run a compiled model on .npy inputs; save each output as DIR/NAME.npy."""
    import numpy as np

    from hologram.cli import _fail, console, print_table

    loaded = load_model_or_fail(model, backend)
    feeds = parse_feeds(inputs or [], loaded)
    try:
        results = loaded.run(feeds)
    except HologramError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"Outputs of {model.name} ({loaded.backend})")
    for column in ("output", "dtype", "shape", "file"):
        table.add_column(column)
    taken: set[str] = set()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        for name, value in results.items():
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                label = f"{name}[{index}]" if isinstance(value, list) else name
                if item is None:
                    table.add_row(label, "-", "-", "(empty optional)")
                    continue
                path = output_dir / output_file_name(label, taken)
                np.save(path, np.asarray(item), allow_pickle=False)
                table.add_row(label, str(item.dtype), str(list(item.shape)), str(path))
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot save the outputs: {exc}") from None
    print_table(table)
    console.print(Text(f"saved {len(taken)} output(s) to {output_dir}"), soft_wrap=True)


# ---------------------------------------------------------------- inspect
def sections_table(container: Any) -> tuple[Table, list[str]]:
    """Every section with its checksum, each verified; the table and the failures."""
    table = Table(title=f"Sections of {container.source}")
    for column in ("section", "kind", "offset", "bytes", "xxh3-64", "checksum"):
        table.add_column(column, justify="right" if column in ("offset", "bytes") else "left")
    failures = []
    for section in container.sections:
        try:
            container.read(section.name).release()
            status = Text("ok", style="green")
        except HologramError as exc:
            failures.append(str(exc))
            status = Text("MISMATCH", style="red")
        table.add_row(
            section.name, section.kind, str(section.offset), str(section.length),
            f"{section.checksum:016x}", status,
        )  # fmt: skip
    return table, failures


def values_table(title: str, values: list[dict[str, Any]]) -> Table:
    """The manifest's inputs or outputs."""
    table = Table(title=title)
    for column in ("name", "kind", "dtype", "shape"):
        table.add_column(column)
    for value in values:
        dtype = value.get("dtype") or value.get("onnx_type") or "?"
        table.add_row(value.get("name", "?"), value.get("kind", "?"), dtype,
                      shape_text(value.get("shape")))  # fmt: skip
    return table


def summary_table(compiled: Any, manifest: dict[str, Any], container: Any) -> Table:
    """Kernels, plans and weights of a model that loaded."""
    from hologram.artifact.model import WEIGHTS_SECTION
    from hologram.compiler.plan import CONST, LaunchStep

    table = Table(title="Model", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    producer = manifest.get("producer", {})
    table.add_row("format", f"{manifest['schema']} {'.'.join(map(str, manifest['version']))}")
    table.add_row("producer", f"{producer.get('name', '?')} {producer.get('version', '')}")
    table.add_row("opsets", ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in compiled.opsets.items()))
    table.add_row("nodes", str(len(compiled.graph.nodes)))
    kernels = manifest.get("kernels", [])
    names = sorted({k.get("name", "?") for k in kernels})
    table.add_row("kernels", Text(f"{len(kernels)}: " + ", ".join(names) if names else "0"))
    for number, plan in enumerate(compiled.plans):
        launches = sum(isinstance(s, LaunchStep) for s in plan.steps)
        guards = len(plan.steps) - launches
        const_bytes = sum(s.nbytes for s in plan.tensors.values() if s.kind == CONST)
        signature = ", ".join(f"{name}{list(shape)}" for name, _, shape in plan.signature())
        table.add_row(
            f"plan {number}",
            Text(f"{signature}: {launches} launches, {guards} guards, arena "
                 f"{human_bytes(plan.arena_bytes)} (naive {human_bytes(plan.naive_bytes)}), "
                 f"constants {human_bytes(const_bytes)}"),
        )  # fmt: skip
    if not compiled.plans:
        table.add_row("plans", "none: planned at the first run for each input shape")
    tensors = manifest.get("weights", {}).get("tensors", [])
    table.add_row(
        "weights",
        f"{len(tensors)} tensors, {human_bytes(container.info(WEIGHTS_SECTION).length)} section",
    )
    return table


def holotensor_table(container: Any) -> Table:
    """The HoloTensor weights: per tensor, fragments, bytes and the quality curve."""
    from hologram.artifact.model_holo import HOLOTENSOR_SECTION
    from hologram.holotensor.files import HoloTensorFile

    table = Table(title=f"HoloTensor weights ({HOLOTENSOR_SECTION!r} section)")
    for column in ("tensor", "shape", "encoding", "fragments", "bytes", "quality by fragments"):
        table.add_column(column)
    with HoloTensorFile(container.read(HOLOTENSOR_SECTION)) as file:
        for name, header in file.headers.items():
            curve = header.quality
            marks = sorted({1, curve.fragments // 2, curve.fragments} - {0})
            summary = ", ".join(f"{k}: {curve.quality(k):.4f}" for k in marks)
            table.add_row(
                Text(name), shape_text(list(header.shape)), header.encoding,
                str(header.fragments), human_bytes(curve.sizes[-1]), summary,
            )  # fmt: skip
    return table


def inspect_command(
    model: HoloFile,
    manifest_json: Annotated[
        bool, typer.Option("--manifest", help="Print the manifest JSON instead of tables.")
    ] = False,
) -> None:
    """Show a model's inputs, outputs, kernels, arena and weights; verify every checksum."""
    import json

    from hologram.artifact.container import Container
    from hologram.artifact.model import load_model, read_manifest
    from hologram.cli import _fail, console, print_table

    try:
        container = Container.open(model)
    except HologramError as exc:
        raise _fail(str(exc)) from None
    with container:
        table, failures = sections_table(container)
        if manifest_json and not failures:
            try:
                typer.echo(json.dumps(read_manifest(container), indent=2))
            except HologramError as exc:
                raise _fail(str(exc)) from None
            return
        print_table(table)
        if failures:
            for message in failures:
                console.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
            raise typer.Exit(code=1)
        try:
            manifest = read_manifest(container)
            compiled = load_model(container)
        except HologramError as exc:
            raise _fail(str(exc)) from None
        print_table(values_table("Inputs", manifest.get("inputs", [])))
        print_table(values_table("Outputs", manifest.get("outputs", [])))
        print_table(summary_table(compiled, manifest, container))
        if compiled.weight_quality is not None:
            print_table(holotensor_table(container))
    console.print(Text(f"{model}: every checksum matches; the model loads"), soft_wrap=True)
