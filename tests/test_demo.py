"""`python -m hologram.demo`: every op checks out against NumPy on every available backend."""

from __future__ import annotations

import io

from rich.console import Console

from hologram.backends import available_backends
from hologram.demo import DemoResult, main, results_table, run_demo

SMALL = 1024


def test_main_passes_every_check_and_prints_both_tables() -> None:
    out = io.StringIO()
    status = main(["--size", str(SMALL), "--repeats", "1"], Console(file=out, width=200))
    text = out.getvalue()
    assert status == 0, text
    assert "Results, checked against NumPy" in text and "Milliseconds per call" in text
    assert "FAIL" not in text
    assert f"all {5 * len(available_backends())} checks passed" in text


def test_every_op_runs_on_every_available_backend() -> None:
    results, numpy_times = run_demo(size=SMALL, repeats=1)
    ops = {"add", "gelu", "softmax", "matmul", "sum"}
    assert set(numpy_times) == ops
    assert {(r.op, r.backend) for r in results} == {
        (op, name) for op in ops for name in available_backends()
    }
    for r in results:
        assert r.passed, f"{r.op} on {r.backend}: error {r.max_error} > {r.tolerance}"
        assert r.first_call_s > 0 and r.median_s > 0


def test_an_error_beyond_the_tolerance_fails() -> None:
    result = DemoResult("add", "cpu", (4,), "[1, 2, 3, …]", 1e-3, 1e-6, 0.1, 0.01)
    assert not result.passed
    out = io.StringIO()
    Console(file=out, width=200).print(results_table([result]))
    assert "FAIL" in out.getvalue()


def test_an_unknown_backend_is_reported_not_raised() -> None:
    out = io.StringIO()
    status = main(["--backend", "no-such-backend"], Console(file=out, width=200))
    assert status == 2
    assert "no-such-backend" in out.getvalue()
