"""`hologram kernels …`: list kernel files, and compile them to IR and `.holo` kernel bundles.

    hologram kernels list [DIR]
    hologram kernels compile [DIR] [-o OUT] [--format both|json|holo] [--check]

DIR defaults to the standard library (`hologram.kernels`). Kernel files follow the library's
rules: `family/name.py` defines one `@hg.kernel` named `name`; files and folders starting with
`_` are helpers. Each file is loaded on its own, so one broken file is reported and the others
still compile.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from hologram.errors import ArtifactError, HologramError, KernelError

if TYPE_CHECKING:
    from hologram.dsl.kernel import Kernel
    from hologram.kernels import KernelFile

DEFAULT_OUT = Path("build/kernels")
"""Where `compile` writes unless told (relative to the working directory; git ignores it)."""
MAX_SIGNATURES_SHOWN = 3

kernels_app = typer.Typer(
    help="List and compile kernel files (default: the standard library).", no_args_is_help=True
)


class OutputFormat(str, Enum):
    """What `compile` writes per kernel."""

    both = "both"
    json = "json"
    holo = "holo"


# ---------------------------------------------------------------- finding and loading
def find_kernel_sources(root: Path | None) -> tuple[Path, list[KernelFile]]:
    """The root directory (default: the standard library) and its kernel files, by path;
    a missing directory, or one without kernel files, ends the command with a message."""
    from hologram import kernels
    from hologram.cli import _fail, console

    base = kernels.ROOT if root is None else root.resolve()
    try:
        sources = kernels.discover(root)
    except HologramError as exc:
        raise _fail(str(exc)) from None
    if not sources:
        console.print(Text(f"no kernel files under {base}"), soft_wrap=True)
        raise typer.Exit(0)
    return base, sources


@contextmanager
def importable(root: Path, stdlib: bool) -> Iterator[None]:
    """While loading the files of a user directory, let them import helpers from it
    (`from _helpers.common import f`), as pytest does for its root."""
    if stdlib or str(root) in sys.path:
        yield
        return
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(str(root))


def located(exc: BaseException, source: KernelFile) -> str:
    """An error message that starts with the file (and line) at fault."""
    if isinstance(exc, KernelError) and exc.file:
        return str(exc)
    if isinstance(exc, HologramError):
        return f"{source.path}: {exc}"
    # Not a reported error but a fault in hologram itself: say so, keep the batch going.
    return f"{source.path}: internal error: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- compiling
@dataclass
class CompileResult:
    """What compiling one kernel file gave: a status, its signatures, files or the error."""

    source: KernelFile
    status: str = "ok"
    signatures: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""
    outputs: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when the kernel did not compile."""
        return self.status == "failed"


def compile_source(
    source: KernelFile, out: Path | None, output_format: OutputFormat
) -> CompileResult:
    """Translate, lower and verify every signature of one kernel file, and (unless `out`
    is None: a check) write its IR and bundle under `out/<family>/`."""
    from hologram.artifact.bundle import plan_signatures, signature_text
    from hologram.isa.encoding import to_bytes

    result = CompileResult(source)
    current = ""
    try:
        kernel = source.load()
        plan = plan_signatures(kernel)
        for signature in plan.signatures:
            current = signature_text(signature)
            to_bytes(kernel.specialize(signature))
        current = ""
        result.signatures = plan.signatures
        if plan.ir_only:
            result.status, result.detail = "IR only", plan.how
        else:
            shown = [signature_text(s) for s in plan.signatures[:MAX_SIGNATURES_SHOWN]]
            more = len(plan.signatures) - len(shown)
            result.detail = "; ".join(shown) + (f"; … {more} more" if more > 0 else "")
        if out is not None:
            result.outputs = write_outputs(source, kernel, plan.signatures, out, output_format)
    except Exception as exc:
        result.status = "failed"
        result.detail = located(exc, source) + (f" [signature {current}]" if current else "")
    return result


def write_outputs(
    source: KernelFile,
    kernel: Kernel,
    signatures: list[dict[str, Any]],
    out: Path,
    output_format: OutputFormat,
) -> list[Path]:
    """Write `out/<family>/<name>.json` (the IR) and/or `.holo` (the bundle); the paths."""
    from hologram.artifact.bundle import write_bundle

    target = out / source.family if source.family else out
    written = []
    if output_format in (OutputFormat.both, OutputFormat.json):
        json_path = target / f"{source.name}.json"
        try:
            target.mkdir(parents=True, exist_ok=True)
            json_path.write_text(kernel.to_json(), encoding="utf-8")
        except OSError as exc:
            raise ArtifactError(f"{json_path}: cannot write: {exc}") from None
        written.append(json_path)
    if output_format in (OutputFormat.both, OutputFormat.holo):
        written.append(
            write_bundle(target / f"{source.name}.holo", [(source.key, kernel, signatures)])
        )
    return written


def compile_all(
    sources: list[KernelFile], out: Path | None, output_format: OutputFormat
) -> list[CompileResult]:
    """`compile_source` for each file, with a progress bar."""
    from hologram.cli import progress_bar

    results = []
    with progress_bar() as progress:
        task = progress.add_task("compiling", total=len(sources))
        for source in sources:
            progress.update(task, description=source.key)
            results.append(compile_source(source, out, output_format))
            progress.advance(task)
    return results


STATUS_STYLE = {"ok": "green", "IR only": "yellow", "failed": "red"}


def results_table(results: list[CompileResult], title: str) -> Table:
    """The summary: one row per kernel file."""
    table = Table(title=title)
    for column in ("kernel", "signatures", "status", "detail"):
        table.add_column(column)
    for result in results:
        count = "-" if result.failed else str(len(result.signatures))
        status = Text(result.status, style=STATUS_STYLE[result.status])
        table.add_row(result.source.key, count, status, Text(result.detail))
    return table


@kernels_app.command("compile")
def compile_command(
    directory: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            file_okay=False,
            metavar="DIR",
            help="Kernel files to compile. Default: the stdlib.",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory (subfolders per family).")
    ] = DEFAULT_OUT,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="both: IR (.json) and bundle (.holo); or only one."),
    ] = OutputFormat.both,
    check: Annotated[
        bool, typer.Option("--check", help="Translate, lower and verify only; write nothing.")
    ] = False,
) -> None:
    """Compile every kernel file to JSON IR and a .holo bundle of its precompiled signatures."""
    from hologram.cli import console, print_table

    root, sources = find_kernel_sources(directory)
    with importable(root, directory is None):
        results = compile_all(sources, None if check else out, output_format)
    verb = "checked" if check else "compiled"
    print_table(results_table(results, f"Kernels {verb} under {root}"))
    failed = [r for r in results if r.failed]
    for result in failed:
        console.print(Text.assemble(("error: ", "red"), result.detail), soft_wrap=True)
    compiled = [r for r in results if r.status == "ok"]
    programs = sum(len(r.signatures) for r in compiled)
    ir_only = sum(1 for r in results if r.status == "IR only")
    summary = (
        f"{len(results)} kernels: {len(compiled)} {verb} ({programs} programs), "
        f"{ir_only} IR only, {len(failed)} failed"
    )
    if not check and results:
        summary += f"; written to {out}"
    console.print(Text(summary), soft_wrap=True)
    if failed:
        raise typer.Exit(code=1)


# ---------------------------------------------------------------- listing
def params_text(params: list[dict[str, Any]]) -> str:
    """`x: Array[f32], a: Scalar, mode: Const[int] = 0`: a kernel's parameters."""
    from hologram.artifact.bundle import decode_signature
    from hologram.isa.dtypes import DType

    parts = []
    for param in params:
        name, kind, dtype = param["name"], param["kind"], param.get("dtype")
        if kind == "array":
            parts.append(f"{name}: Array[{dtype}]" if dtype else f"{name}: Array")
        elif kind == "scalar":
            parts.append(f"{name}: {dtype or 'Scalar'}")
        else:
            text = f"{name}: Const[{param.get('type') or 'any'}]"
            if "default" in param:
                default = decode_signature({name: param["default"]}, name)[name]
                text += f" = {default.value if isinstance(default, DType) else default}"
            parts.append(text)
    return ", ".join(parts)


def list_row(source: KernelFile) -> tuple[Text, Text, str | None]:
    """The params and signatures cells of one kernel file, and its error if it fails."""
    from hologram.artifact.bundle import plan_signatures

    try:
        kernel = source.load()
        params = params_text(kernel.params)
        plan = plan_signatures(kernel)
    except Exception as exc:
        return Text("-"), Text("error", style="red"), located(exc, source)
    count = len(plan.signatures)
    how = f"IR only ({plan.how})" if plan.ir_only else f"{count} ({plan.how})"
    return Text(params), Text(how), None


@kernels_app.command("list")
def list_command(
    directory: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            file_okay=False,
            metavar="DIR",
            help="Kernel files to list. Default: the stdlib.",
        ),
    ] = None,
) -> None:
    """List every kernel file: family, name, parameters, signatures to compile, source file."""
    from hologram.cli import console, print_table

    root, sources = find_kernel_sources(directory)
    table = Table(title=f"Kernels under {root}")
    for column in ("family", "name", "params", "signatures", "source"):
        table.add_column(column)
    errors = []
    with importable(root, directory is None):
        for source in sources:
            params, count, error = list_row(source)
            if error:
                errors.append(error)
            table.add_row(source.family or "-", source.name, params, count, source.relative)
    print_table(table)
    for message in errors:
        console.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
    if errors:
        raise typer.Exit(code=1)
