"""The `hologram` command, run in-process with typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hologram.cli import app, parse_sizes
from hologram.isa import Builder
from hologram.isa.encoding import from_json, to_bytes, to_json
from hologram.isa.text import from_text, to_text

runner = CliRunner()


def invoke(*args: str):
    """Run `hologram *args` and return the result (a wide terminal: tables are not cut)."""
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def scale_program():
    """A small verified program: y[i] = 2 * x[i] for i < n."""
    b = Builder("scale")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.mul(b.ldg(x, i), 2.0))
    return b.build()


@pytest.mark.parametrize(
    "command",
    [[], ["info"], ["bench"], ["bench", "ops"], ["isa"], ["isa", "show"]],
    ids=lambda c: " ".join(c) or "hologram",
)
def test_every_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: hologram" in result.output


def test_no_arguments_prints_the_commands() -> None:
    result = invoke()
    for name in ("info", "bench", "isa"):
        assert name in result.output


def test_info_lists_backends_and_why_not() -> None:
    result = invoke("info")
    assert result.exit_code == 0, result.output
    for expected in ("ISA version", "reference", "cpu", "cuda", "wgpu", "HOLOGRAM_BACKEND"):
        assert expected in result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "yes" in rows["reference"] and "yes" in rows["cpu"]
    assert "no" in rows["cuda"].split("│")[2]


def test_bench_ops_prints_a_table() -> None:
    result = invoke("bench", "ops", "--backend", "cpu", "--sizes", "1e3", "--ops", "add")
    assert result.exit_code == 0, result.output
    assert "hologram.ops vs NumPy" in result.output
    row = next(line for line in result.output.splitlines() if "│ add" in line)
    assert "cpu" in row and "1e+03" in row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "1e3,big"], "'big' is not a number"),
        (["--sizes", "0.5"], "not a positive whole number"),
        (["--ops", "nope"], "unknown op(s) nope"),
        (["--backend", "cuda"], "cannot run here"),
    ],
)
def test_bench_ops_rejects_bad_options(args: list[str], message: str) -> None:
    result = invoke("bench", "ops", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_parse_sizes_reads_scientific_notation() -> None:
    assert parse_sizes("1e3, 1e6,42") == [1000, 1_000_000, 42]
    with pytest.raises(typer.BadParameter):
        parse_sizes(" , ")


@pytest.mark.parametrize("form", ["bin", "json", "text"])
def test_isa_show_prints_the_text_form(tmp_path: Path, form: str) -> None:
    program = scale_program()
    path = tmp_path / f"scale.{form}"
    if form == "bin":
        path.write_bytes(to_bytes(program))
    else:
        path.write_text(to_json(program) if form == "json" else to_text(program))
    result = invoke("isa", "show", str(path))
    assert result.exit_code == 0, result.output
    assert from_text(result.output) == program
    as_json = invoke("isa", "show", "--json", str(path))
    assert from_json(as_json.output) == program


def test_isa_show_reports_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.bin"
    path.write_bytes(to_bytes(scale_program())[:-3])
    result = invoke("isa", "show", str(path))
    assert result.exit_code == 1
    assert "error:" in result.output and "broken.bin" in result.output
