"""`hologram kernels list|compile`, run in-process with typer's CliRunner."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hologram import kernels
from hologram.artifact.bundle import read_bundle
from hologram.cli import app
from hologram.dsl.kernel import Kernel
from hologram.isa.dtypes import DType

runner = CliRunner()

KERNEL_FILES = {
    "vec/scale.py": """
        import hologram as hg

        @hg.kernel
        def scale(x: hg.Array, out: hg.Array, a: hg.Scalar, n: hg.uint32, mode: hg.Const[int] = 0):
            i = hg.global_id()
            if i < n:
                out[i] = a * x[i] if mode == 0 else x[i]
        """,
    "vec/twice.py": """
        import hologram as hg
        from _helpers.double import double

        @hg.kernel(signatures=[{"x": hg.float32}, {"x": hg.float64}])
        def twice(x: hg.Array, n: hg.uint32):
            i = hg.global_id()
            if i < n:
                x[i] = double(x[i])
        """,
    "top.py": """
        import hologram as hg

        @hg.kernel
        def top(x: hg.Array[hg.int32], n: hg.uint32):
            i = hg.global_id()
            if i < n:
                x[i] = x[i] + 1
        """,
    "cast/convert.py": """
        import hologram as hg

        @hg.kernel
        def convert(x: hg.Array, out: hg.Array, n: hg.uint32, T: hg.Const[hg.dtype]):
            i = hg.global_id()
            if i < n:
                out[i] = T(x[i])
        """,
    "_helpers/double.py": """
        import hologram as hg

        @hg.func
        def double(v):
            return v + v
        """,
}
BROKEN_FILES = {
    "bad/broken.py": """
        import hologram as hg

        @hg.kernel
        def broken(x: hg.Array[hg.float32], n: hg.uint32):
            i = hg.global_id()
            with open("f") as f:
                x[i] = 1.0
        """,
    "bad/crash.py": """
        import hologram as hg

        value = 1 / 0
        """,
}


def invoke(*args: str):
    """Run `hologram *args` and return the result (a wide terminal: tables are not cut)."""
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def make_kernel_dir(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture
def kernel_dir(tmp_path: Path) -> Path:
    return make_kernel_dir(tmp_path / "src", KERNEL_FILES)


@pytest.mark.parametrize("command", [["kernels"], ["kernels", "compile"], ["kernels", "list"]])
def test_kernels_commands_have_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: hologram kernels" in result.output
    assert "kernels" in invoke("--help").output


def test_compile_writes_ir_and_bundles(kernel_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("kernels", "compile", str(kernel_dir), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "4 kernels: 3 compiled (4 programs), 1 IR only, 0 failed" in result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [
        "cast/convert.holo", "cast/convert.json", "top.holo", "top.json",
        "vec/scale.holo", "vec/scale.json", "vec/twice.holo", "vec/twice.json",
    ]  # fmt: skip
    assert Kernel.from_ir((out / "vec/twice.json").read_text()).name == "twice"
    bundled = read_bundle(out / "vec/twice.holo")["vec/twice"]
    assert bundled.signatures == [{"x": DType.F32}, {"x": DType.F64}]
    scale = read_bundle(out / "vec/scale.holo")["vec/scale"]
    assert scale.signatures == [{"x": DType.F32, "out": DType.F32, "a": DType.F32}]
    assert read_bundle(out / "top.holo")["top"].signatures == [{}]
    assert read_bundle(out / "cast/convert.holo")["cast/convert"].signatures == []


@pytest.mark.parametrize(("output_format", "suffix"), [("json", ".json"), ("holo", ".holo")])
def test_compile_one_format(
    kernel_dir: Path, tmp_path: Path, output_format: str, suffix: str
) -> None:
    out = tmp_path / "out"
    result = invoke(
        "kernels", "compile", str(kernel_dir), "-o", str(out), "--format", output_format
    )
    assert result.exit_code == 0, result.output
    assert {p.suffix for p in out.rglob("*.*")} == {suffix}


def test_check_writes_nothing(kernel_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("kernels", "compile", str(kernel_dir), "-o", str(out), "--check")
    assert result.exit_code == 0, result.output
    assert "3 checked (4 programs)" in result.output
    assert not out.exists()


def test_broken_files_fail_alone_with_their_location(kernel_dir: Path, tmp_path: Path) -> None:
    make_kernel_dir(kernel_dir, BROKEN_FILES)
    out = tmp_path / "out"
    result = invoke("kernels", "compile", str(kernel_dir), "-o", str(out))
    assert result.exit_code == 1, result.output
    assert "broken.py:6:5: With is not supported" in result.output
    assert "crash.py:3: importing failed: ZeroDivisionError" in result.output
    assert "6 kernels: 3 compiled (4 programs), 1 IR only, 2 failed" in result.output
    assert (out / "vec/scale.holo").is_file() and not (out / "bad").exists()
    check = invoke("kernels", "compile", str(kernel_dir), "--check")
    assert check.exit_code == 1 and "broken.py:6:5" in check.output


def test_a_signature_that_does_not_lower_is_reported(tmp_path: Path) -> None:
    root = make_kernel_dir(
        tmp_path / "src",
        {
            "half.py": """
                import hologram as hg

                @hg.kernel(signatures=[{"x": hg.float32}])
                def half(x: hg.Array, out: hg.Array, n: hg.uint32):
                    i = hg.global_id()
                    if i < n:
                        out[i] = x[i]
                """
        },
    )
    result = invoke("kernels", "compile", str(root), "--check")
    assert result.exit_code == 1, result.output
    assert "'out'" in result.output and "[signature x=f32]" in result.output


def test_list_shows_params_signatures_and_sources(kernel_dir: Path) -> None:
    result = invoke("kernels", "list", str(kernel_dir))
    assert result.exit_code == 0, result.output
    rows = {
        cells[2]: cells
        for line in result.output.splitlines()
        if len(cells := [c.strip() for c in line.split("│")]) == 7
    }
    assert set(rows) == {"scale", "twice", "top", "convert"}
    assert rows["scale"][1:] == [
        "vec", "scale", "x: Array, out: Array, a: Scalar, n: u32, mode: Const[int] = 0",
        "1 (generic dtypes as f32)", "vec/scale.py", "",
    ]  # fmt: skip
    assert rows["twice"][4] == "2 (declared)" and rows["top"][1] == "-"
    assert rows["convert"][4].startswith("IR only")


def test_list_reports_broken_files(kernel_dir: Path) -> None:
    make_kernel_dir(kernel_dir, BROKEN_FILES)
    result = invoke("kernels", "list", str(kernel_dir))
    assert result.exit_code == 1
    assert "broken.py:6:5" in result.output and "crash.py:3" in result.output


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("kernels", "compile", str(tmp_path / "nowhere"))
    assert result.exit_code == 2


def test_the_standard_library_compiles(tmp_path: Path) -> None:
    out = tmp_path / "stdlib"
    result = invoke("kernels", "compile", "-o", str(out))
    assert result.exit_code == 0, result.output
    for found in kernels.discover():
        family_dir = out / found.family if found.family else out
        assert Kernel.from_ir((family_dir / f"{found.name}.json").read_text()).name == found.name
        bundle = read_bundle(family_dir / f"{found.name}.holo")
        assert list(bundle) == [found.key]
    listing = invoke("kernels", "list")
    assert listing.exit_code == 0, listing.output
