"""`hologram holotensor …`: encode weights into progressive fragments, inspect, decode, verify.

    hologram holotensor encode model.safetensors -o model.htns [--encoding bitplane] [--fragments 9]
    hologram holotensor info model.htns [--plot curve.png]
    hologram holotensor decode model.htns -o weights.safetensors [--quality 0.99]
    hologram holotensor verify model.htns

`encode` reads safetensors, `.npy`/`.npz` or the initializers of an ONNX model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from hologram.errors import HologramError

holotensor_app = typer.Typer(
    help="Progressive, fault-tolerant tensor files (HoloTensor).", no_args_is_help=True
)


@holotensor_app.command("encode")
def encode_command(
    source: Annotated[Path, typer.Argument(help="weights: .safetensors, .npy, .npz or .onnx")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the .htns file to write")],
    encoding: Annotated[str, typer.Option(help="bitplane, spectral, low_rank, ...")] = "bitplane",
    fragments: Annotated[int | None, typer.Option(help="fragments per tensor")] = None,
    seed: Annotated[int, typer.Option(help="seed of random choices")] = 0,
    redundancy: Annotated[int, typer.Option(help="copies of essential fragments")] = 1,
) -> None:
    """Encode every tensor of SOURCE into a HoloTensor file."""
    from hologram.cli import _fail, console, progress_bar
    from hologram.holotensor.files import encode_tensors, write_holotensor
    from hologram.holotensor.model_io import read_tensors

    try:
        tensors = read_tensors(source)
        with progress_bar() as bar:
            task = bar.add_task("encoding", total=len(tensors))
            encoded = encode_tensors(
                tensors, encoding, fragments, seed, progress=lambda _: bar.advance(task)
            )
        write_holotensor(output, encoded, redundancy=redundancy)
    except HologramError as exc:
        raise _fail(str(exc)) from None
    raw = sum(e.header.nbytes for e in encoded.values())
    stored = output.stat().st_size
    console.print(
        Text(f"{output}: {len(encoded)} tensors, {raw:,} bytes -> {stored:,} bytes "
             f"({stored / max(raw, 1):.1%})"), soft_wrap=True,
    )  # fmt: skip


@holotensor_app.command("info")
def info_command(
    path: Annotated[Path, typer.Argument(help="a .htns file")],
    tensor: Annotated[str | None, typer.Option(help="only this tensor")] = None,
    plot: Annotated[Path | None, typer.Option(help="save the quality curves as a PNG")] = None,
) -> None:
    """Show each tensor's encoding and quality curve (bytes and error after each fragment)."""
    from hologram.cli import _fail, console, print_table
    from hologram.holotensor.files import open_holotensor

    try:
        with open_holotensor(path) as file:
            headers = [file.header(tensor)] if tensor is not None else list(file.headers.values())
    except HologramError as exc:
        raise _fail(str(exc)) from None
    for header in headers:
        table = Table(title=f"{header.name or '(unnamed)'}: {header.encoding} "
                      f"{header.dtype}{list(header.shape)}", title_justify="left")  # fmt: skip
        for column in ("fragments", "bytes", "% of tensor", "rel. error", "quality"):
            table.add_column(column, justify="right")
        curve = header.quality
        for k in range(1, header.fragments + 1):
            table.add_row(
                str(k), f"{curve.sizes[k]:,}", f"{curve.sizes[k] / max(header.nbytes, 1):.1%}",
                f"{curve.error(k):.2e}", f"{curve.quality(k):.6f}",
            )  # fmt: skip
        print_table(table)
    if plot is not None:
        try:
            _plot(headers, plot)
        except HologramError as exc:
            raise _fail(str(exc)) from None
        console.print(Text(f"saved {plot}"), soft_wrap=True)


def _plot(headers: list, path: Path) -> None:
    """Relative error against bytes (% of the tensor), one line per tensor, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise HologramError(
            "--plot needs matplotlib, which is not installed: pip install matplotlib"
        ) from None
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for header in headers:
        curve = header.quality
        share = [100 * s / max(header.nbytes, 1) for s in curve.sizes[1:]]
        errors = [max(e, 1e-12) for e in curve.errors[1:]]
        axes.plot(share, errors, marker="o", label=header.name or "(unnamed)")
    axes.set_yscale("log")
    axes.set_xlabel("bytes, % of the tensor")
    axes.set_ylabel("relative Frobenius error")
    if len(headers) <= 12:
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


@holotensor_app.command("decode")
def decode_command(
    path: Annotated[Path, typer.Argument(help="a .htns file")],
    output: Annotated[Path, typer.Option("-o", "--output", help=".safetensors, .npz or .npy")],
    quality: Annotated[float | None, typer.Option(help="stop at this quality")] = None,
) -> None:
    """Reconstruct the tensors (all fragments, or only what QUALITY needs) and save them."""
    from hologram.cli import _fail, console
    from hologram.holotensor.files import open_holotensor
    from hologram.holotensor.model_io import write_tensors

    try:
        with open_holotensor(path) as file:
            results = {name: file.decode(name, quality) for name in file.names}
            read = file.bytes_read
        for result in results.values():
            for problem in result.problems:
                console.print(Text(f"warning: {problem}"), soft_wrap=True)
        missing = [n for n, r in results.items() if r.array is None]
        if missing:
            raise HologramError(f"cannot reconstruct {', '.join(map(repr, missing))}")
        write_tensors(output, {n: r.array for n, r in results.items()})  # type: ignore[misc]
    except HologramError as exc:
        raise _fail(str(exc)) from None
    worst = min(r.quality for r in results.values())
    console.print(Text(f"{output}: {len(results)} tensors, lowest quality {worst:.6f}, "
                       f"{read:,} bytes read"), soft_wrap=True)  # fmt: skip


@holotensor_app.command("verify")
def verify_command(path: Annotated[Path, typer.Argument(help="a .htns file")]) -> None:
    """Check the header, index and every fragment's checksums; exit 1 if anything is wrong."""
    from hologram.cli import _fail, console
    from hologram.holotensor.files import open_holotensor

    try:
        with open_holotensor(path) as file:
            issues = file.verify()
            count = sum(h.fragments for h in file.headers.values())
    except HologramError as exc:
        raise _fail(str(exc)) from None
    for issue in issues:
        console.print(Text.assemble(("error: ", "red"), issue), soft_wrap=True)
    if issues:
        raise typer.Exit(code=1)
    console.print(Text(f"{path}: ok ({count} fragments checked)"), soft_wrap=True)
