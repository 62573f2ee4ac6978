"""The kernel-language examples (examples/kernels/) run and match NumPy on every backend."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import hologram

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "kernels"


@cache
def example(name: str) -> ModuleType:
    """The example script `name`.py, imported once per test session."""
    spec = importlib.util.spec_from_file_location(f"kernel_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "size", "lines"),
    [("saxpy", "1000", 1), ("sum_of_squares", "3000", 1), ("blur", "19x40", 2),
     ("histogram", "2000", 1)],
)  # fmt: skip
def test_example_main_reports_ok(
    name: str, size: str, lines: int, backend_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = example(name).main(["--backend", backend_name, "--size", size])
    out = capsys.readouterr().out
    assert status == 0, out
    checks = [line for line in out.splitlines() if "max error" in line]
    assert len(checks) == lines, out
    assert all(line.startswith(backend_name) and line.endswith("  ok") for line in checks), out


@pytest.mark.parametrize("name", ["saxpy", "sum_of_squares", "blur", "histogram"])
def test_example_rejects_a_bad_size(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        example(name).main(["--backend", "cpu", "--size", "0"])
    assert excinfo.value.code == 2
    assert "size" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saxpy_matches_numpy_in_each_float_dtype(
    executor: hologram.Executor, rng: np.random.Generator, dtype: type
) -> None:
    n = 1000  # not a multiple of the block: the last block's extra lanes must write nothing
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    got = example("saxpy").run(executor, -0.75, x, y)
    assert got.dtype == dtype
    expected = -0.75 * x.astype(np.float64) + y.astype(np.float64)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("grid", [1, 3, 16])
def test_sum_of_squares_matches_numpy_for_any_grid(
    executor: hologram.Executor, rng: np.random.Generator, grid: int
) -> None:
    n = 5003  # leaves every grid with a ragged last stride
    x = rng.uniform(-2.0, 2.0, n).astype(np.float32)
    got = example("sum_of_squares").run(executor, x, grid)
    x64 = x.astype(np.float64)
    assert got == pytest.approx(float(np.dot(x64, x64)), rel=1e-5)


@pytest.mark.parametrize(
    ("tiled", "radius"),
    [(False, 1), (True, 1), (False, 2)],
    ids=["global-3x3", "tiled-3x3", "global-5x5"],
)
def test_blur_matches_numpy_with_clamped_edges(
    executor: hologram.Executor, rng: np.random.Generator, radius: int, tiled: bool
) -> None:
    blur = example("blur")
    image = rng.random((21, 35), dtype=np.float32)  # partial tiles on both axes
    got = blur.run(executor, image, radius, tiled)
    expected = blur.numpy_blur(image.astype(np.float64), radius)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    # An edge pixel with r = 1 averages the corner pixel four times (it is clamped twice).
    if radius == 1:
        corner = (4 * image[0, 0] + 2 * image[0, 1] + 2 * image[1, 0] + image[1, 1]) / 9
        assert got[0, 0] == pytest.approx(float(corner), abs=1e-6)


def test_blur_numpy_peer_matches_the_float64_oracle(rng: np.random.Generator) -> None:
    blur = example("blur")
    image = rng.random((9, 13), dtype=np.float32)
    padded = np.pad(image.astype(np.float64), 1, mode="edge")
    expected = np.array(
        [[padded[y : y + 3, x : x + 3].mean() for x in range(13)] for y in range(9)]
    )
    np.testing.assert_allclose(blur.numpy_blur(image), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64])
def test_histogram_counts_exactly(
    executor: hologram.Executor, rng: np.random.Generator, dtype: type
) -> None:
    bins = 50
    info = np.iinfo(dtype)
    low, high = max(int(info.min), -10), min(int(info.max), 300)
    values = rng.integers(low, high, 4000).astype(dtype)
    got = example("histogram").run(executor, values, bins)
    assert got.dtype == np.int32
    in_range = values[(values >= 0) & (values < bins)].astype(np.int64)
    np.testing.assert_array_equal(got, np.bincount(in_range, minlength=bins))
    assert int(got.sum()) == in_range.size
